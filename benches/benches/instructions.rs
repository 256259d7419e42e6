//! The decide benchmarks' requests as fixed loops in `#[inline(never)]` functions, for
//! instruction counting under callgrind (`benches/callgrind.sh`, which collects only inside
//! the `*_loop` functions and dumps after each call): a loop's instruction count divided by
//! its number of calls is the cost of one call, which does not vary with the machine's load
//! as wall-clock time does. Run natively, it prints the wall time
//! per call of each loop (one pass, no statistics: use the `decide` benchmark for times).
//!
//! Every case of `decide.rs` is here, `decide` and the hand-written router alike, on the
//! same pre-built requests; `random_host` cycles through the same 1 024 random requests.

#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::Instant;

use benches::{
    GEN_RULES, Req, bookinfo_baseline, bookinfo_cases, bookinfo_table, criterion_test_mode,
    gateway_baseline, gateway_cases, gateway_table, gen_request, generated_baseline,
    generated_table, random_gen_requests,
};
use mesh_match::RequestView;
use mesh_route::RouteTable;

/// Calls per case (a power of two, a multiple of the 1 024 random requests).
const ITERATIONS: usize = 1 << 14;

/// Requests the `random_host` loops cycle through (as in `decide.rs`).
const RANDOM: usize = 1024;

/// Runs `f` once as a warm-up (lazily built per-thread state such as the regex engine's
/// caches is then in place, as after criterion's warm-up), then measured, and prints a line
/// for each pass; `callgrind.sh` pairs the lines with its dumps and skips the warm-ups.
fn run(name: &str, f: impl Fn(&[RequestView<'_>], usize), views: &[RequestView<'_>], n: usize) {
    assert!(views.len().is_power_of_two());
    if !selected(name) {
        return;
    }
    for pass in ["(warm-up)", name] {
        let start = Instant::now();
        f(views, n);
        let per = start.elapsed().as_secs_f64() * 1e9 / n as f64;
        println!("{pass:<52} {per:>8.1} ns/call ({n} calls)");
    }
}

/// Whether the case is selected: every case, or those containing the first argument that
/// is not an option (as criterion filters), e.g. `instructions --bench random_host`.
fn selected(name: &str) -> bool {
    match std::env::args().skip(1).find(|a| !a.starts_with('-')) {
        Some(filter) => name.contains(&filter),
        None => true,
    }
}

fn main() {
    // `MESH_BENCH_ITERATIONS` makes the loops longer, for a profiler.
    let n = match std::env::var("MESH_BENCH_ITERATIONS") {
        Ok(n) => n.parse().expect("a power of two"),
        Err(_) if criterion_test_mode() => 64,
        Err(_) => ITERATIONS,
    };
    let hosts = if criterion_test_mode() { 100 } else { 10_000 };
    let group = format!("generated_{hosts}_hosts_x{GEN_RULES}_rules");
    let generated_cases = ["first_rule", "last_rule", "random_host"];

    // Every table is built before the first loop (see `pause_for_profiler`).
    let sidecar = bookinfo_table();
    let gateway = gateway_table();
    let generated = generated_cases
        .iter()
        .any(|c| {
            ["decide", "hand"]
                .iter()
                .any(|k| selected(&format!("{group}/{k}/{c}")))
        })
        .then(|| generated_table(hosts, GEN_RULES));
    let first = gen_request(hosts / 2, 0);
    let last = gen_request(hosts / 2, GEN_RULES - 1);
    let random = random_gen_requests(hosts, GEN_RULES, RANDOM, 42);
    pause_for_profiler();

    for (name, req, s) in bookinfo_cases().iter().map(|c| (c.name, &c.req, c.sample)) {
        let views = vec![req.view()];
        run(
            &format!("bookinfo/decide/{name}"),
            |v, n| decide_loop(&sidecar, v, n, s),
            &views,
            n,
        );
        run(
            &format!("bookinfo/hand/{name}"),
            |v, n| bookinfo_hand_loop(v, n, s),
            &views,
            n,
        );
    }
    for (name, req, s) in gateway_cases().iter().map(|c| (c.name, &c.req, c.sample)) {
        let views = vec![req.view()];
        run(
            &format!("bookinfo/decide/{name}"),
            |v, n| decide_loop(&gateway, v, n, s),
            &views,
            n,
        );
        run(
            &format!("bookinfo/hand/{name}"),
            gateway_hand_loop,
            &views,
            n,
        );
    }
    let Some(generated) = generated else { return };
    let random: Vec<RequestView<'_>> = random.iter().map(Req::view).collect();
    for (name, views) in [
        ("first_rule", vec![first.view()]),
        ("last_rule", vec![last.view()]),
        ("random_host", random),
    ] {
        run(
            &format!("{group}/decide/{name}"),
            |v, n| decide_loop(&generated, v, n, 0),
            &views,
            n,
        );
        run(
            &format!("{group}/hand/{name}"),
            |v, n| generated_hand_loop(v, n, hosts),
            &views,
            n,
        );
    }
}

/// With `MESH_BENCH_PAUSE` set: says `ready` and waits for a line on standard input, so that
/// `callgrind.sh` can run the table building uninstrumented (`--instr-atstart=no`, many
/// times faster under valgrind) and switch instrumentation on for the loops only.
fn pause_for_profiler() {
    if std::env::var_os("MESH_BENCH_PAUSE").is_some() {
        println!("ready");
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    }
}

/// `decide` on every view in turn, `n` calls.
#[inline(never)]
fn decide_loop(table: &RouteTable, views: &[RequestView<'_>], n: usize, sample: u64) {
    let mask = views.len() - 1;
    for i in 0..n {
        let v = black_box(&views[i & mask]);
        black_box(table.decide(v, black_box(sample)));
    }
}

#[inline(never)]
fn bookinfo_hand_loop(views: &[RequestView<'_>], n: usize, sample: u64) {
    let mask = views.len() - 1;
    for i in 0..n {
        let v = black_box(&views[i & mask]);
        black_box(bookinfo_baseline(v, black_box(sample)));
    }
}

#[inline(never)]
fn gateway_hand_loop(views: &[RequestView<'_>], n: usize) {
    let mask = views.len() - 1;
    for i in 0..n {
        let v = black_box(&views[i & mask]);
        black_box(gateway_baseline(v));
    }
}

#[inline(never)]
fn generated_hand_loop(views: &[RequestView<'_>], n: usize, hosts: usize) {
    let mask = views.len() - 1;
    for i in 0..n {
        let v = black_box(&views[i & mask]);
        black_box(generated_baseline(v, hosts));
    }
}
