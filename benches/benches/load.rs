//! Configuration-time costs: loading the bookinfo YAML, validating it, compiling the route
//! tables, and compiling a generated table of 1 000 hosts with 10 rules each.

#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::Duration;

use benches::{
    BOOKINFO_YAML, GATEWAY_YAML, GEN_RULES, bookinfo_identity, criterion_test_mode,
    gateway_identity, gen_identity, generated_yaml, load,
};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use mesh_route::{CompileOptions, RouteTable};

fn bookinfo(c: &mut Criterion) {
    let resources = load(BOOKINFO_YAML);
    let gateway = load(GATEWAY_YAML);
    let sidecar_id = bookinfo_identity();
    let gateway_id = gateway_identity();
    let options = CompileOptions::default();
    let mut g = c.benchmark_group("load_bookinfo");
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500));
    g.bench_function("load_str", |b| {
        b.iter(|| mesh_model::load_str(black_box(BOOKINFO_YAML)).expect("loads"));
    });
    g.bench_function("validate", |b| {
        b.iter(|| mesh_model::validate::validate(black_box(&resources)));
    });
    g.bench_function("compile_sidecar", |b| {
        b.iter(|| RouteTable::compile(black_box(&resources), &sidecar_id, &options));
    });
    g.bench_function("compile_gateway", |b| {
        b.iter(|| RouteTable::compile(black_box(&gateway), &gateway_id, &options));
    });
    g.bench_function("load_validate_compile", |b| {
        b.iter(|| {
            let r = mesh_model::load_str(black_box(BOOKINFO_YAML)).expect("loads");
            let report = mesh_model::validate::validate(&r);
            assert!(!report.has_errors());
            RouteTable::compile(&r, &sidecar_id, &options)
        });
    });
    g.finish();
}

fn generated(c: &mut Criterion) {
    // In criterion's test mode (`cargo test --benches`), a tenth of the size.
    let hosts = if criterion_test_mode() { 100 } else { 1_000 };
    let yaml = generated_yaml(hosts, GEN_RULES);
    let resources = load(&yaml);
    let id = gen_identity();
    let options = CompileOptions::default();
    let mut g = c.benchmark_group(format!("load_generated_{hosts}_hosts_x{GEN_RULES}_rules"));
    // Hundreds of milliseconds per iteration: one iteration per sample.
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("load_str", |b| {
        b.iter(|| mesh_model::load_str(black_box(&yaml)).expect("loads"));
    });
    g.bench_function("compile", |b| {
        b.iter(|| RouteTable::compile(black_box(&resources), &id, &options));
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().nresamples(20_000).without_plots();
    targets = bookinfo, generated
}
criterion_main!(benches);
