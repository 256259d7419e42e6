//! `RouteTable::decide` against a hand-written router on the same pre-built requests, in the
//! same run: the bookinfo sidecar and gateway tables, and a generated table of 10 000 hosts
//! with 10 rules each; host lookup alone at 100, 1 000 and 10 000 hosts; and
//! `normalize_target` on its own. See README.md.

#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::Duration;

use benches::{
    GEN_RULES, Req, bookinfo_baseline, bookinfo_cases, bookinfo_table, criterion_test_mode,
    gateway_baseline, gateway_cases, gateway_table, gen_request, generated_baseline,
    generated_table, random_gen_requests,
};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, criterion_group, criterion_main};
use mesh_match::{PathNormalization, RequestView, normalize_target};
use mesh_route::RouteTable;

/// How many pre-built requests the `random_host` benchmarks cycle through (a power of two).
const RANDOM: usize = 1024;

/// Short runs: the whole `cargo bench -p benches` must stay within a few minutes.
fn quick(g: &mut BenchmarkGroup<'_, WallTime>) {
    g.sample_size(40)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500));
}

fn bookinfo(c: &mut Criterion) {
    let sidecar = bookinfo_table();
    let gateway = gateway_table();
    let mut g = c.benchmark_group("bookinfo");
    quick(&mut g);
    for case in bookinfo_cases() {
        let view = case.req.view();
        g.bench_with_input(BenchmarkId::new("decide", case.name), &view, |b, v| {
            b.iter(|| black_box(sidecar.decide(black_box(v), black_box(case.sample))));
        });
        g.bench_with_input(BenchmarkId::new("hand", case.name), &view, |b, v| {
            b.iter(|| black_box(bookinfo_baseline(black_box(v), black_box(case.sample))));
        });
    }
    for case in gateway_cases() {
        let view = case.req.view();
        g.bench_with_input(BenchmarkId::new("decide", case.name), &view, |b, v| {
            b.iter(|| black_box(gateway.decide(black_box(v), black_box(case.sample))));
        });
        g.bench_with_input(BenchmarkId::new("hand", case.name), &view, |b, v| {
            b.iter(|| black_box(gateway_baseline(black_box(v))));
        });
    }
    g.finish();
}

/// Benchmarks `f` over `views`, one request per iteration, cycling through them.
fn cycle<'v, R>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    id: BenchmarkId,
    views: &'v [RequestView<'v>],
    f: impl Fn(&'v RequestView<'v>) -> R,
) {
    assert!(views.len().is_power_of_two());
    let mask = views.len() - 1;
    g.bench_function(id, |b| {
        let mut k = 0usize;
        b.iter(|| {
            let v = &views[k & mask];
            k = k.wrapping_add(1);
            black_box(f(black_box(v)))
        });
    });
}

fn generated_group(c: &mut Criterion, table: &RouteTable, hosts: usize) {
    let first = gen_request(hosts / 2, 0);
    let last = gen_request(hosts / 2, GEN_RULES - 1);
    let random: Vec<Req> = random_gen_requests(hosts, GEN_RULES, RANDOM, 42);
    let random: Vec<RequestView<'_>> = random.iter().map(Req::view).collect();
    let mut g = c.benchmark_group(format!("generated_{hosts}_hosts_x{GEN_RULES}_rules"));
    quick(&mut g);
    for (name, req) in [("first_rule", &first), ("last_rule", &last)] {
        let view = req.view();
        g.bench_with_input(BenchmarkId::new("decide", name), &view, |b, v| {
            b.iter(|| black_box(table.decide(black_box(v), 0)));
        });
        g.bench_with_input(BenchmarkId::new("hand", name), &view, |b, v| {
            b.iter(|| black_box(generated_baseline(black_box(v), hosts)));
        });
    }
    cycle(
        &mut g,
        BenchmarkId::new("decide", "random_host"),
        &random,
        |v| table.decide(v, 0),
    );
    cycle(
        &mut g,
        BenchmarkId::new("hand", "random_host"),
        &random,
        |v| generated_baseline(v, hosts),
    );
    g.finish();
}

fn lookup_bench(g: &mut BenchmarkGroup<'_, WallTime>, table: &RouteTable, hosts: usize) {
    let one = gen_request(hosts / 2, 0);
    let one = one.view();
    g.bench_with_input(BenchmarkId::new("same_host", hosts), &one, |b, v| {
        b.iter(|| black_box(table.virtual_host(black_box(v))));
    });
    let random = random_gen_requests(hosts, GEN_RULES, RANDOM, 7);
    let random: Vec<RequestView<'_>> = random.iter().map(Req::view).collect();
    cycle(g, BenchmarkId::new("random_host", hosts), &random, |v| {
        table.virtual_host(v)
    });
}

/// The generated 10 000-host table is built once (a few seconds) for both the decide and
/// the lookup groups. In criterion's test mode (each benchmark runs once, often unoptimised),
/// the tables are small.
fn generated_and_lookup(c: &mut Criterion) {
    let sizes = if criterion_test_mode() {
        [10, 30, 100]
    } else {
        [100, 1_000, 10_000]
    };
    let tables: Vec<(usize, RouteTable)> = sizes
        .iter()
        .map(|&n| (n, generated_table(n, GEN_RULES)))
        .collect();
    let (largest, big) = tables.last().expect("tables");
    generated_group(c, big, *largest);
    let mut g = c.benchmark_group("host_lookup");
    quick(&mut g);
    for (n, table) in &tables {
        lookup_bench(&mut g, table, *n);
    }
    g.finish();
}

fn normalize(c: &mut Criterion) {
    let mut g = c.benchmark_group("normalize_target");
    quick(&mut g);
    for (name, path) in [
        ("clean", "/reviews/0?user=jason&x=1"),
        ("dot_segments", "/static/../api/v1/products/./0?x=1"),
        ("escapes", "/api/v1/%70roducts/%7E0/reviews?x=1"),
    ] {
        g.bench_with_input(BenchmarkId::from_parameter(name), path, |b, p| {
            b.iter(|| black_box(normalize_target(black_box(p), PathNormalization::Base)));
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    // Fewer bootstrap resamples and no plots: analysis, not measurement, dominated the run.
    config = Criterion::default().nresamples(20_000).without_plots();
    targets = bookinfo, generated_and_lookup, normalize
}
criterion_main!(benches);
