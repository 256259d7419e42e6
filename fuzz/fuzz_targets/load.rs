//! Arbitrary bytes through the loader, then Istio validation of whatever loaded.
//!
//! Properties: no panic (errors are errors, and every one can be displayed); whatever
//! loaded validates without panicking, and every finding can be displayed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_model::Loader;
use mesh_model::validate::validate;

fuzz_target!(|data: &[u8]| {
    let loaded = Loader::new().load_bytes(data, None);
    // Every error can be displayed (the CLI prints them all).
    for e in &loaded.errors {
        let _ = e.to_string();
        let _ = e.position();
    }
    let report = validate(&loaded.resources);
    for f in report.errors().chain(report.warnings()) {
        let _ = f.to_string();
    }
});
