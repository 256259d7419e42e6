//! The file system half of loading: folders, ConfigMap volumes, files given twice, the same
//! resource in two files, and the bounds on files (moved here from mesh-model's loader
//! tests, with the code they test).

use std::path::PathBuf;
use std::time::Instant;

use mesh_model::{LoadError, Loaded, Loader};

use super::LoadFiles as _;

const VS: &str = r#"
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v1
"#;

/// A fresh directory under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "mesh-load-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A ConfigMap volume as the kubelet lays it out: the data in a `..<timestamp>` folder,
/// `..data` pointing at it, and each key a symlink through `..data`. Each key is read once,
/// through its symlink: the `..` entries are the kubelet's (they were read too, so every
/// resource came three times).
#[cfg(unix)]
#[test]
fn a_configmap_volume_is_read_once_per_key() {
    use std::os::unix::fs::symlink;
    let dir = TempDir::new("configmap");
    let data = "..2024_05_01_10_00_00.123456789";
    dir.write(&format!("{data}/reviews.yaml"), VS);
    dir.write(&format!("{data}/notes.txt"), "not yaml");
    symlink(data, dir.0.join("..data")).unwrap();
    symlink("..data/reviews.yaml", dir.0.join("reviews.yaml")).unwrap();
    symlink("..data/notes.txt", dir.0.join("notes.txt")).unwrap();
    let loader = Loader::new();
    assert_eq!(loader.files(&[&dir.0]).0, [dir.0.join("reviews.yaml")]);
    let loaded = loader.load_paths(&[&dir.0]);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(loaded.resources.len(), 1);
    let origin = &loaded.resources.virtual_services[0].origin;
    assert_eq!(origin.file.as_deref(), Some(&dir.0.join("reviews.yaml")));
}

/// A file reached twice (given twice, or as a directory and as a file in it) is read once.
#[test]
fn a_file_given_twice_is_read_once() {
    let dir = TempDir::new("twice");
    let file = dir.write("reviews.yaml", VS);
    let loaded = Loader::new().load_paths(&[&dir.0, &file, &file]);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(loaded.resources.len(), 1);
}

/// The same resource (kind, namespace, name) in two files is an error naming both places;
/// the first is kept, so nothing else reports the pair. Two `kubectl apply`s of them would
/// leave only the last. (Within one text: mesh-model's
/// `the_same_resource_twice_in_one_text_is_an_error`.)
#[test]
fn the_same_resource_in_two_files_is_an_error_naming_both() {
    let dir = TempDir::new("duplicate");
    let a = dir.write("a.yaml", VS);
    let b = dir.write("b.yaml", &format!("# again\n---{VS}"));
    let loaded = Loader::new().load_paths(&[&dir.0]);
    assert_eq!(loaded.resources.len(), 1);
    assert_eq!(loaded.errors.len(), 1, "{:?}", loaded.errors);
    assert_eq!(
        loaded.errors[0].to_string(),
        format!(
            "{}:3: VirtualService default/reviews: given twice, first at {}:2 (kubectl apply would keep only the last)",
            b.display(),
            a.display()
        )
    );
}

/// The message of the first `LoadError::Limit`, failing the test if there is none.
fn limit_message(loaded: &Loaded) -> String {
    match loaded
        .errors
        .iter()
        .find(|e| matches!(e, LoadError::Limit { .. }))
    {
        Some(e) => e.to_string(),
        None => panic!("expected a limit error, got {:?}", loaded.errors),
    }
}

/// A file over the size limit is refused from its size, before it is read, naming the
/// file (the text and bytes half is mesh-model's
/// `input_just_over_the_size_limit_is_rejected_whole`).
#[test]
fn a_file_over_the_size_limit_is_refused_before_reading() {
    const MIB: usize = 1 << 20;
    let dir = TempDir::new("size");
    let over = format!("#{}\n", "x".repeat(16 * MIB - 1));
    assert_eq!(over.len(), 16 * MIB + 1);
    let path = dir.write("big.yaml", &over);
    let loaded = Loader::new().load_file(&path);
    let message = limit_message(&loaded);
    assert!(message.contains("big.yaml"), "names the file: {message}");
    assert!(message.contains("more than the limit"), "{message}");
    assert!(
        message.contains("input is 16777217 bytes, more than the limit of 16777216 bytes"),
        "{message}"
    );
    assert!(loaded.resources.is_empty());
}

/// More files than [`mesh_model::Limits::max_files`] under the folders given are refused;
/// files of other extensions are not counted, and exactly the limit loads.
#[test]
fn more_files_than_the_limit_are_refused() {
    let dir = TempDir::new("files");
    for i in 0..10_001 {
        std::fs::write(dir.0.join(format!("f{i:05}.yaml")), "").unwrap();
    }
    // Other extensions are not counted.
    std::fs::write(dir.0.join("notes.txt"), "x").unwrap();
    let started = Instant::now();
    let loaded = Loader::new().load_paths(&[&dir.0]);
    let took = started.elapsed();
    let message = limit_message(&loaded);
    println!("10 001 files: {took:?}: {message}");
    assert!(message.contains("more than 10000 files"), "{message}");
    assert!(loaded.resources.is_empty());
    // Exactly at the limit (one file removed) is fine.
    std::fs::remove_file(dir.0.join("f00000.yaml")).unwrap();
    let loaded = Loader::new().load_paths(&[&dir.0]);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
}
