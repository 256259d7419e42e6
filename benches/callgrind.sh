#!/usr/bin/env bash
# Instructions and simulated cache misses per call of `decide` and of the hand-written
# routers, under callgrind: figures that do not move with the machine's load, next to
# criterion's times. Builds `benches/benches/instructions.rs` (release) and runs it once under
# `valgrind --tool=callgrind --cache-sim=yes`: the tables are built uninstrumented, then
# instrumentation is switched on (`callgrind_control -i on`), events are collected only inside
# the `*_loop` functions and dumped after each loop. Prints one row per case:
#   case  Ir/call  D1 misses/call  L2 misses/call  (and the decide/hand ratio of Ir)
# The simulated caches are this machine's: L1d 48 KiB, 12-way; as last level its L2 (4 MiB
# per core, 16-way), since its L3 (480 MiB) would hold every table and show no miss at all.
#
#   bash benches/callgrind.sh               # every case, a few minutes
#   bash benches/callgrind.sh random_host   # the cases whose name contains the filter
#   INSTRUCTIONS=path/to/binary bash benches/callgrind.sh   # another build (e.g. before a change)
#   CALLGRIND_KEEP=dir bash benches/callgrind.sh random_host  # keep the profiles (dir/cg.<pid>.<n>,
#                                           one per loop) for callgrind_annotate --inclusive=yes
#
# Needs valgrind (Debian: apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }
exe=${INSTRUCTIONS:-$(cargo bench -p benches --bench instructions --no-run --message-format=json 2>/dev/null |
  python3 -c 'import sys, json
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "instructions" and m.get("executable"):
        print(m["executable"])')}
[ -n "$exe" ] || { echo "could not build the instructions benchmark" >&2; exit 2; }

if [ -n "${CALLGRIND_KEEP:-}" ]; then
  out=$CALLGRIND_KEEP
  mkdir -p "$out"
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
python3 - "$out" "$exe" "$@" <<'EOF'
import glob, os, re, subprocess, sys
out, exe, args = sys.argv[1], sys.argv[2], sys.argv[3:]
cmd = ["valgrind", "--tool=callgrind", "--cache-sim=yes",
       "--D1=49152,12,64", "--LL=4194304,16,64",
       "--instr-atstart=no", "--collect-atstart=no",
       "--toggle-collect=*_loop", "--dump-after=*_loop",
       f"--callgrind-out-file={out}/cg.%p", exe, "--bench", *args]
env = dict(os.environ, MESH_BENCH_PAUSE="1")
log = open(os.path.join(out, "log"), "w")
p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
names = []
for line in p.stdout:
    if line.strip() == "ready":
        subprocess.run(["callgrind_control", "-i", "on", str(p.pid)], check=True,
                       stdout=subprocess.DEVNULL)
        p.stdin.write("\n")
        p.stdin.flush()
        continue
    m = re.match(r"(\S+|\(warm-up\))\s+[\d.]+ ns/call \((\d+) calls\)", line)
    if m:
        names.append((m.group(1), int(m.group(2))))
if p.wait() != 0:
    sys.stderr.write(open(os.path.join(out, "log")).read())
    sys.exit(1)
def part(f):
    m = re.search(r"\.(\d+)$", f)
    return int(m.group(1)) if m else 0
rows = []
for f in sorted(glob.glob(os.path.join(out, "cg.*")), key=part):
    events, totals = None, None
    for line in open(f):
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("totals:") or line.startswith("summary:"):
            totals = [int(x) for x in line.split()[1:]]
    if events and totals and totals[0] > 0:
        rows.append(dict(zip(events, totals)))
if len(rows) != len(names):
    sys.exit(f"{len(rows)} dumps with costs for {len(names)} loops")
by = {}
for (name, calls), r in zip(names, rows):
    if name == "(warm-up)":
        continue
    d1 = (r.get("D1mr", 0) + r.get("D1mw", 0)) / calls
    ll = (r.get("DLmr", 0) + r.get("DLmw", 0)) / calls
    by[name] = (r["Ir"] / calls, d1, ll)
print(f"{'case':<52} {'Ir/call':>9} {'D1 miss':>8} {'L2 miss':>8} {'Ir ratio':>9}")
for name, (ir, d1, ll) in by.items():
    ratio = ""
    if "/decide/" in name:
        hand = by.get(name.replace("/decide/", "/hand/"))
        if hand:
            ratio = f"{ir / hand[0]:.2f}x"
    print(f"{name:<52} {ir:>9.1f} {d1:>8.2f} {ll:>8.2f} {ratio:>9}")
EOF
