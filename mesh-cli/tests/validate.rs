//! `meshctl validate`: one line per finding, a summary, exit codes 0 / 1 / 2, and JSON.

use std::path::PathBuf;
use std::process::Command;

fn meshctl(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_meshctl"))
        .args(args)
        .output()
        .expect("meshctl runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn workspace(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
        .display()
        .to_string()
}

/// Istio accepts every file of its own samples: `meshctl validate` exits 0 on each (the
/// corpus lives in the shared folder; the test says so and skips when it is absent).
#[test]
fn every_corpus_file_validates() {
    let Some(dir) = envoy_harness::shared_dir("corpus/istio", "every_corpus_file_validates") else {
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus readable")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for f in files {
        let (code, out, err) = meshctl(&["validate", &f.display().to_string()]);
        assert_eq!(code, 0, "{}:\n{out}\n{err}", f.display());
        let summary = out.lines().last().unwrap_or_default();
        assert!(summary.starts_with("0 errors"), "{out}");
    }
}

/// The two configurations that Istio rejects, from the seed scenarios: a 2018-era rule
/// (`destination.name`) and a mistyped apiVersion. Each gets the error at the field, with
/// file and line, and exit status 1.
#[test]
fn rejected_configurations_exit_1_with_the_field() {
    let (code, out, _) = meshctl(&["validate", &workspace("scenarios/seed-legacy-api.yaml")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(
        "error    VirtualService default/reviews  spec.http[0].route[0].destination.name: unknown field \"name\" (known fields: host, subset, port)"
    ), "{out}");
    assert!(out.contains("seed-legacy-api.yaml:11)"), "{out}");
    assert!(out.contains("2 errors, 0 warnings"), "{out}");
    let (code, out, _) = meshctl(&["validate", &workspace("scenarios/seed-bad-apiversion.yaml")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("apiVersion: no matches for kind \"VirtualService\" in version \"networking.istio.io/v1b\""), "{out}");
}

/// Unreadable input exits 2.
#[test]
fn unreadable_input_exits_2() {
    let (code, _, err) = meshctl(&["validate", "/nonexistent/mesh.yaml"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/mesh.yaml"), "{err}");
}

/// `--output json` gives an array of findings with the documented fields.
#[test]
fn json_findings_have_the_documented_fields() {
    let (code, out, _) = meshctl(&[
        "validate",
        "--output",
        "json",
        &workspace("scenarios/seed-legacy-api.yaml"),
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let first = &v.as_array().expect("array")[0];
    for field in [
        "severity",
        "kind",
        "namespace",
        "name",
        "path",
        "message",
        "file",
        "line",
    ] {
        assert!(first.get(field).is_some(), "missing {field}: {first}");
    }
    assert_eq!(first["severity"], "error");
    assert_eq!(first["path"], "spec.http[0].route[0].destination.name");
    assert_eq!(first["line"], 11);
}

/// Warnings (Istio's deprecation warning) do not fail the run; analyzer findings carry
/// their code.
#[test]
fn warnings_and_analyzer_codes() {
    let dir = std::env::temp_dir().join(format!("meshctl-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("vs.yaml");
    std::fs::write(
        &file,
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
    mirror: {host: reviews, subset: v2}
    mirrorPercent: 50
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
",
    )
    .expect("write");
    let (code, out, _) = meshctl(&["validate", &file.display().to_string()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        code, 1,
        "the missing mirror subset is an IST0101 error:\n{out}"
    );
    assert!(
        out.contains("warning  VirtualService default/reviews  spec.http[0]"),
        "{out}"
    );
    assert!(
        out.contains(
            "using deprecated setting \"mirrorPercent\", use \"mirrorPercentage\" instead"
        ),
        "{out}"
    );
    assert!(
        out.contains("[IST0101] Referenced mirror+subset in destinationrule not found"),
        "{out}"
    );
}

/// The same resource in two files is an error naming both places (file:line each), and exit
/// status 1: two `kubectl apply`s of them would leave only the last. It is reported once,
/// not as the analyzers' conflicts of the resource with itself (IST0109).
#[test]
fn the_same_resource_in_two_files_exits_1_naming_both() {
    let dir = std::env::temp_dir().join(format!("meshctl-duplicate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let vs = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: demo}
spec:
  hosts: [shop]
  http:
  - route:
    - destination: {host: shop}
";
    let a = dir.join("a.yaml");
    let b = dir.join("b.yaml");
    std::fs::write(&a, vs).expect("write");
    std::fs::write(&b, format!("# the same, again\n---\n{vs}")).expect("write");
    let (code, out, _) = meshctl(&["validate", &dir.display().to_string()]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        out,
        format!(
            "error    VirtualService demo/shop  metadata.name: given twice, first at {}:1 (kubectl apply would keep only the last)  ({}:3)\n\
             1 error, 0 warnings in 1 resource\n",
            a.display(),
            b.display()
        )
    );
    // `--allow-duplicates last-wins` keeps the last, as `kubectl apply` of both would, and
    // warns for the one replaced (for files of alternatives, as Istio's own CRD test files
    // that repeat a name in every document).
    let dir_arg = dir.display().to_string();
    let (code, out, _) = meshctl(&["validate", "--allow-duplicates", "last-wins", &dir_arg]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out,
        format!(
            "warning  VirtualService demo/shop  metadata.name: replaced by the one at {}:3 (--allow-duplicates last-wins, as kubectl apply would)  ({}:1)\n\
             0 errors, 1 warning in 1 resource\n",
            b.display(),
            a.display()
        )
    );
}
