//! Istio's own sample YAML (`../shared/corpus/istio/`) must load, and validate the way Istio
//! validates it. The corpus lives outside the workspace; when it is absent (as on a user's
//! machine) the test says so and skips, and in CI it fails (`envoy_harness::shared_dir`).

use std::path::PathBuf;

use mesh_load::LoadFiles as _;
use mesh_model::Loader;
use mesh_model::validate::{Severity, validate};

fn corpus() -> Option<PathBuf> {
    envoy_harness::shared_dir("corpus/istio", "mesh-model corpus")
}

/// Every file of the corpus loads without an error, and the Kubernetes-only bookinfo.yaml
/// reports its objects as skipped.
#[test]
fn every_corpus_file_loads() {
    let Some(dir) = corpus() else { return };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 40, "corpus has {} files", files.len());
    for f in &files {
        let loaded = Loader::new().load_file(f);
        assert!(
            loaded.errors.is_empty(),
            "{}: {:?}",
            f.display(),
            loaded.errors
        );
        let name = f.file_name().unwrap().to_str().unwrap();
        if name == "bookinfo.yaml" {
            assert!(loaded.resources.is_empty());
            assert!(loaded.skipped.iter().any(|s| s.kind == "Deployment"));
            assert!(loaded.skipped.iter().any(|s| s.kind == "Service"));
        } else {
            assert!(
                !loaded.resources.is_empty(),
                "{name} has no Istio resources"
            );
        }
    }
}

/// Istio accepts every file of the corpus: validation reports no error on any of them (each
/// file alone, as `istioctl validate -f` checks it). Warnings are allowed, and the one file
/// that uses the deprecated `mirrorPercent` gets Istio's deprecation warning.
#[test]
fn corpus_validates_as_istio_does() {
    let Some(dir) = corpus() else { return };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for f in &files {
        let resources = Loader::new().load_file(f).into_result().unwrap();
        let report = validate(&resources);
        let schema_errors: Vec<_> = report
            .findings
            .iter()
            .filter(|x| x.severity == Severity::Error && x.code.is_none())
            .collect();
        assert!(
            schema_errors.is_empty(),
            "{}: {schema_errors:#?}",
            f.display()
        );
    }
    let legacy = dir.join("istioio-mirroring-mirror-v2-legacy-mirrorPercent.yaml");
    let report = validate(&Loader::new().load_file(&legacy).into_result().unwrap());
    assert!(
        report.warnings().any(|w| w.message
            == "using deprecated setting \"mirrorPercent\", use \"mirrorPercentage\" instead"),
        "{report:#?}"
    );
}
