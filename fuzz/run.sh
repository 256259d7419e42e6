#!/usr/bin/env bash
# Builds and runs every fuzz target for a bounded time, one after another.
#
#   fuzz/run.sh [SECONDS_PER_TARGET]      (default 60)
#
# Environment:
#   FUZZ_TARGETS    targets to run, space-separated (default: load compile decide normalize)
#   FUZZ_RUNS       stop each target after this many executions instead of after a time
#                   (SECONDS_PER_TARGET then still bounds it, unless it is 0)
#   FUZZ_SANITIZER  none (default) or address: the crates forbid unsafe code, so the
#                   sanitizer mainly covers dependencies, at a third of the speed
#   FUZZ_SHARED     the shared/ directory with corpus/istio (default: ../shared beside the
#                   repository)
#
# Prints per target the executions, libFuzzer's coverage (cov: edges, ft: features) and
# whether a crash was found. Exits 1 when a target crashed (the input is in
# fuzz/artifacts/TARGET/), 2 when fuzzing cannot run here at all.
set -u
cd "$(dirname "$0")"
FUZZ_DIR=$(pwd)
ROOT=$(cd .. && pwd)
SECONDS_PER_TARGET=${1:-60}
TARGETS=${FUZZ_TARGETS:-load compile decide normalize}
SANITIZER=${FUZZ_SANITIZER:-none}
LOGS="$FUZZ_DIR/target/logs"
mkdir -p "$LOGS"

cannot_run() {
    echo "FUZZING CANNOT RUN: $*" >&2
    exit 2
}

# cargo-fuzz needs -Z flags (sanitizer coverage): a nightly compiler, or the stable one with
# RUSTC_BOOTSTRAP=1. libFuzzer itself is C++ and needs a C++ compiler.
export RUSTC_BOOTSTRAP=1
command -v cargo >/dev/null || cannot_run "cargo is not installed"
cargo fuzz --version >/dev/null 2>&1 ||
    cannot_run "cargo-fuzz is not installed (cargo install cargo-fuzz --locked)"
command -v c++ >/dev/null || command -v g++ >/dev/null || command -v clang++ >/dev/null ||
    cannot_run "no C++ compiler for libFuzzer (apt-get install g++)"
if ! echo 'fn main(){}' | rustc -Zunstable-options --crate-type bin -o /dev/null - >/dev/null 2>&1; then
    cannot_run "rustc refuses -Z options even with RUSTC_BOOTSTRAP=1 ($(rustc --version))"
fi

shared=${FUZZ_SHARED:-}
if [ -z "$shared" ]; then
    [ -d "$ROOT/../shared/corpus/istio" ] && shared=$ROOT/../shared
fi

# Seed corpora (ignored by git: /fuzz/corpus).
seed_yaml() {
    local dir="corpus/$1"
    mkdir -p "$dir"
    if [ -n "$shared" ] && [ -d "$shared/corpus/istio" ]; then
        cp -f "$shared"/corpus/istio/*.yaml "$dir"/ 2>/dev/null
    else
        echo "note: no shared/corpus/istio found; seeding $1 from scenarios only"
    fi
    cp -f "$ROOT"/scenarios/*.yaml "$dir"/
    cp -f tables/*.yaml "$dir"/
}
seed_paths() {
    local dir="corpus/normalize" i=0
    mkdir -p "$dir"
    # First byte selects whether a `/` is put in front (bit 7 clear); the rest is the path.
    for p in 'a/../b' 'a/./b/' '/admin' 'a//b///c' 'a%2fb' 'a%2F/b' 'some\data' '%61dmin' \
        'Admin' 'some%2fdata/%61%62%63' 'x/y/..' '..' '../../etc/passwd' '%2e%2e/admin' \
        'a/%2E/b' 'a/.../b' '%7e' 'a%00' 'a%zz' 'x#frag' 'a b' '"q"' '%5c%5C..%2f'; do
        printf '\0%s' "$p" >"$dir/seed-$i"
        i=$((i + 1))
    done
}

max_len() {
    case $1 in
    load | compile) echo 65536 ;;
    *) echo 4096 ;;
    esac
}

echo "== building fuzz targets (sanitizer: $SANITIZER)"
if ! build_log=$(cargo fuzz build -s "$SANITIZER" 2>&1); then
    echo "$build_log" | tail -30
    if echo "$build_log" | grep -q 'only accepted on the nightly'; then
        cannot_run "the compiler refuses the nightly options cargo-fuzz needs"
    fi
    cannot_run "the fuzz targets do not build (see above)"
fi

crashed=0
summary=()
for t in $TARGETS; do
    case $t in
    load | compile) seed_yaml "$t" ;;
    normalize) seed_paths ;;
    decide) mkdir -p corpus/decide ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
    esac
    args=(-max_len="$(max_len "$t")" -timeout=10 -print_final_stats=1)
    [ "$SECONDS_PER_TARGET" != 0 ] && args+=(-max_total_time="$SECONDS_PER_TARGET")
    [ -n "${FUZZ_RUNS:-}" ] && args+=(-runs="$FUZZ_RUNS")
    case $t in
    load | compile) args+=(-dict="$FUZZ_DIR/dict/istio.dict") ;;
    esac
    log="$LOGS/$t.log"
    echo "== $t: ${args[*]}"
    before=$(ls "artifacts/$t" 2>/dev/null | wc -l)
    cargo fuzz run -s "$SANITIZER" "$t" "corpus/$t" -- "${args[@]}" >"$log" 2>&1
    rc=$?
    after=$(ls "artifacts/$t" 2>/dev/null | wc -l)
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    [ -z "$execs" ] && execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
    if [ $rc -ne 0 ] || [ "$after" -gt "$before" ]; then
        crashed=1
        result="CRASH (exit $rc): $(grep -E '^(==[0-9]+== ?ERROR|thread .* panicked|.*Test unit written to)' "$log" | head -3 | tr '\n' ' ')"
        grep -A12 -E 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | head -40
    else
        result="no crash"
    fi
    line="$t: executions ${execs:-?}, ${cov:-cov: ?}, $result"
    echo "$line"
    summary+=("$line")
done

echo "== summary ($(date -u +%Y-%m-%dT%H:%M:%SZ), $SECONDS_PER_TARGET s per target${FUZZ_RUNS:+, at most $FUZZ_RUNS runs}, sanitizer $SANITIZER)"
printf '%s\n' "${summary[@]}"
echo "logs: $LOGS"
exit $crashed
