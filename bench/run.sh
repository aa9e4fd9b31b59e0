#!/usr/bin/env bash
# The end-to-end benchmark in one command: ours vs ONNX Runtime vs PyTorch eager on the same
# seeded weights, interleaved run by run, plus the per-module profile of rtmo-s, the
# people-count scaling of the post-processing, and the peak memory of the `rtmo` CLI.
# Writes bench/results.json and bench/RESULTS.md (see bench/README.md for the method).
#
#   bench/run.sh                 rtmo-t/s/m/l, 1 and 2 threads, 20 timed rounds
#   bench/run.sh --quick         rtmo-s only
#   bench/run.sh --smoke         rtmo-t only, 2 rounds, no profile/people/memory (a check that
#                                the harness works; writes into the work dir only)
#   bench/run.sh --contention    rtmo-s, ours and ORT, 1 and 2 threads, interleaved while one
#                                competing single-threaded busy loop runs; writes
#                                WORK/contention.json and WORK/CONTENTION.md (medians, p90)
#                                and appends the section to bench/contention.md (which
#                                bench/report.py carries into bench/RESULTS.md)
# Options: --variants t,s  --threads 1,2  --iters N  --warmup N  --work DIR (default
# /tmp/rtmo-bench)  --build DIR (default build-bench)  --no-setup  --note TEXT
#          --baseline BIN (with --contention: another e2e_bench build, e.g. from before a
#          change, as a fourth engine "baseline" in the same interleaved rounds)
#
# Speed is reported, never asserted. The machine should be otherwise idle: other processes
# slow all engines alike (that is why they are interleaved) but widen the spread.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY=/usr/bin/python3  # Debian's python3 with torch/numpy/opencv, never a pyenv shim

VARIANTS="t,s,m,l"; THREADS="1,2"; ITERS=20; WARMUP=3
WORK=/tmp/rtmo-bench; BUILD="$ROOT/build-bench"; SETUP=1; MODE=full; NOTE=""
ENGINES="ours,ort,torch"; BASELINE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) VARIANTS="s"; MODE=quick ;;
    --smoke) VARIANTS="t"; ITERS=2; WARMUP=1; MODE=smoke ;;
    --contention) VARIANTS="s"; ENGINES="ours,ort"; MODE=contention ;;
    --variants) VARIANTS="$2"; shift ;;
    --threads) THREADS="$2"; shift ;;
    --iters) ITERS="$2"; shift ;;
    --warmup) WARMUP="$2"; shift ;;
    --work) WORK="$2"; shift ;;
    --build) BUILD="$2"; shift ;;
    --no-setup) SETUP=0 ;;
    --note) NOTE="$2"; shift ;;
    --baseline) BASELINE="$2"; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$BASELINE" ] && ENGINES="$ENGINES,baseline"
mkdir -p "$WORK"
IMAGE="$ROOT/tests/data/coco/000000000785.png"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$SETUP" = 1 ]; then
  echo "== setup (Debian packages + onnxruntime-node)"
  bash tools/setup.sh --bench
fi

# PyTorch's BLAS and allocator. Debian's python3-torch links libblas.so.3, which on a plain
# system is the netlib reference BLAS (~3 GFLOP/s: the encoder's linear layers would dominate
# and misrepresent PyTorch), and allocates every intermediate tensor with glibc malloc, whose
# fresh pages cost up to ~80 ms per 6 MB map on this VM under load. As PyTorch's CPU
# deployment guides do, we give it OpenBLAS (Debian libopenblas0-openmp) and jemalloc (Debian
# libjemalloc2): unpacked into the work dir (apt-get download, no system change) and used by
# the PyTorch worker only (LD_LIBRARY_PATH, LD_PRELOAD). ORT and ours reuse their memory.
DEB_ROOT="$WORK/debs"
BLAS_DIR="$DEB_ROOT/usr/lib/x86_64-linux-gnu/openblas-openmp"
JEMALLOC="$DEB_ROOT/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
for pkg in libopenblas0-openmp libjemalloc2; do
  [ "$MODE" = contention ] && break  # no PyTorch worker
  if [ ! -f "$WORK/$pkg.unpacked" ]; then
    echo "== PyTorch worker: Debian $pkg into $DEB_ROOT"
    (cd "$WORK" && rm -f "${pkg}"_*.deb &&
      { apt-get download "$pkg" >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get download "$pkg" >/dev/null 2>&1; }; } &&
      dpkg-deb -x "${pkg}"_*.deb "$DEB_ROOT" && touch "$WORK/$pkg.unpacked")
  fi
done
[ "$MODE" = contention ] || { [ -f "$BLAS_DIR/libblas.so.3" ] && [ -f "$JEMALLOC" ]; } \
  || { echo "run.sh: could not unpack OpenBLAS / jemalloc into $DEB_ROOT" >&2; exit 1; }

echo "== build ($BUILD)"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRTMO_BUILD_BENCH=ON \
  >"$WORK/cmake.log"
TARGETS="e2e_bench rtmo kernels_bench"
[ "$MODE" = contention ] && TARGETS="e2e_bench"
# shellcheck disable=SC2086  # a list of target names
cmake --build "$BUILD" -j 2 --target $TARGETS >"$WORK/build.log" \
  || { tail -30 "$WORK/build.log"; exit 1; }
E2E="$BUILD/bench/e2e_bench"

echo "== models: seeded checkpoints, .rtmo, ONNX, network input ($WORK)"
IFS=, read -ra VLIST <<<"$VARIANTS"
for v in "${VLIST[@]}"; do
  base="$WORK/rtmo-$v"
  # Regenerated when the tools changed since (the seed makes them reproducible).
  if [ ! -f "$base.pth" ] || [ "$base.pth" -ot tools/reference/make_checkpoint.py ] ||
     [ "$base.pth" -ot tools/reference/model.py ]; then
    $PY tools/reference/make_checkpoint.py "$v" "$base.pth" >"$WORK/make-$v.log"
  fi
  if [ ! -f "$base.rtmo" ] || [ "$base.rtmo" -ot "$base.pth" ] ||
     [ "$base.rtmo" -ot tools/convert_checkpoint.py ]; then
    $PY tools/convert_checkpoint.py "$base.pth" "$base.rtmo" >"$WORK/convert-$v.log"
  fi
  if [ ! -f "$base.onnx" ] || [ "$base.onnx" -ot "$base.pth" ] ||
     [ "$base.onnx" -ot tools/reference/model.py ]; then
    $PY tools/reference/export_onnx.py "$base.pth" "$base.onnx" >"$WORK/export-$v.log" 2>&1 \
      || { tail -20 "$WORK/export-$v.log"; exit 1; }
  fi
  # The letterboxed network input that ORT and PyTorch get (ours computes it per run).
  "$E2E" input "$base.rtmo" "$IMAGE" "$WORK/input-$v.f32"
done

if [ "$MODE" = contention ]; then
  # One competing single-threaded process that never sleeps (another user's job on a shared
  # machine): on 2 cores it takes one core away from whichever engine runs. Not pinned, so
  # the kernel scheduler moves it around as it would any other process. Ended by its pid.
  echo "== latency under contention: ours / ONNX Runtime, interleaved, one busy loop running"
  sh -c 'while :; do :; done' &
  BUSY_PID=$!
  trap 'kill "$BUSY_PID" 2>/dev/null || true' EXIT
  LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
  $PY bench/driver.py --work "$WORK" --ours "$E2E" --image "$IMAGE" --variants "$VARIANTS" \
    --threads "$THREADS" --iters "$ITERS" --warmup "$WARMUP" --engines "$ENGINES" \
    --baseline "$BASELINE" --out "$WORK/contention-latency.json"
  LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"
  kill "$BUSY_PID" 2>/dev/null || true
  trap - EXIT
  $PY bench/contention_report.py --latency "$WORK/contention-latency.json" \
    --load "$LOAD_BEFORE / $LOAD_AFTER" --note "$NOTE" --json "$WORK/contention.json" \
    --md "$WORK/CONTENTION.md" --append bench/contention.md
  echo "== wrote $WORK/CONTENTION.md and $WORK/contention.json; appended to bench/contention.md"
  exit 0
fi

echo "== fp32 FMA peak (the kernels issue's probe: bench/kernels_bench peak/fma/*)"
OMP_NUM_THREADS=2 "$BUILD/bench/kernels_bench" --benchmark_filter='^peak/' \
  --benchmark_repetitions=5 --benchmark_format=json >"$WORK/peak-raw.json" 2>"$WORK/peak.log"
$PY - "$WORK/peak-raw.json" "$WORK/peak.json" <<'EOF2'
import json, sys
raw = json.load(open(sys.argv[1]))
# Peak = FLOPs per second of CPU time actually received (GFLOP/s / busy, busy <= 1): a pure
# register-FMA loop scales with the CPU share it gets, so this stays right on a shared
# machine; `measured` keeps the raw wall-clock figures.
best, measured, busy, target = {}, {}, {}, ''
for b in raw['benchmarks']:
    if b.get('run_type') != 'iteration':
        continue
    t = str(int(b['threads']))
    g, u = b['GFLOP/s'], min(1.0, max(b.get('busy', 1.0), 1e-3))
    if g / u > best.get(t, 0.0):
        best[t], measured[t], busy[t] = g / u, g, u
    target = b.get('label', target)
best.update(measured=measured, busy=busy, source=(
    'bench/kernels_bench peak/fma/{1thread,all}, 12 independent FMA chains per thread, %s, '
    'best of 5 repetitions, GFLOP/s per CPU-second received (wall-clock GFLOP/s / busy)' % target))
json.dump(best, open(sys.argv[2], 'w'))
print(best)
EOF2

echo "== MACs (PyTorch reference, per module)"
$PY bench/macs.py --work "$WORK" --variants "$VARIANTS" --out "$WORK/macs.json"

echo "== latency: ours / ONNX Runtime / PyTorch, interleaved"
$PY bench/driver.py --work "$WORK" --ours "$E2E" --image "$IMAGE" --variants "$VARIANTS" \
  --threads "$THREADS" --iters "$ITERS" --warmup "$WARMUP" --torch-blas "$BLAS_DIR" --torch-preload "$JEMALLOC" \
  --out "$WORK/latency.json"

if [ "$MODE" != smoke ] && [[ ",$VARIANTS," == *",s,"* ]]; then
  echo "== per-module profile of rtmo-s (ours, 2 threads)"
  OMP_NUM_THREADS=2 "$E2E" profile "$WORK/rtmo-s.rtmo" "$IMAGE" 2 "$ITERS" >"$WORK/profile-s.json"
  echo "== people-count scaling (rtmo-s, 2 threads)"
  OMP_NUM_THREADS=2 "$E2E" people "$WORK/rtmo-s.rtmo" "$IMAGE" 2 "$ITERS" >"$WORK/people-s.json"
  echo "== peak memory of the rtmo CLI (rtmo-s, one image)"
  /usr/bin/time -v "$BUILD/rtmo/rtmo" --quiet --threads 2 --model "$WORK/rtmo-s.rtmo" \
    --json "$WORK/cli-out.json" "$IMAGE" >"$WORK/cli.log" 2>"$WORK/time.txt" \
    || { cat "$WORK/cli.log" "$WORK/time.txt"; exit 1; }
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
  $PY - "$rss" "$WORK/rtmo-s.rtmo" "$WORK/memory.json" <<'EOF'
import json, os, sys
rss, model, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
json.dump({'max_rss_kb': rss,
           'cmd': 'rtmo --quiet --threads 2 --model rtmo-s.rtmo --json out.json 000000000785.png',
           'note': 'whole process: weights, packed weights, feature maps, image',
           'weights_bytes': os.path.getsize(model)}, open(out, 'w'))
EOF
else
  rm -f "$WORK/profile-s.json" "$WORK/people-s.json" "$WORK/memory.json"
fi

echo "== machine"
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"
$PY - "$WORK/machine.json" "$BUILD" "$LOAD_BEFORE" "$LOAD_AFTER" "$E2E" <<'EOF'
import json, os, platform, re, subprocess, sys, datetime
out, build, lb, la, e2e = sys.argv[1:6]
def sh(*c):
    try: return subprocess.run(c, capture_output=True, text=True, timeout=60).stdout.strip()
    except Exception as e: return 'unknown (%s)' % e
cpu = open('/proc/cpuinfo').read()
name = re.search(r'model name\s*:\s*(.*)', cpu).group(1)
fam = re.search(r'cpu family\s*:\s*(\d+)', cpu).group(1)
mod = re.search(r'\nmodel\s*:\s*(\d+)', cpu).group(1)
flags = re.search(r'flags\s*:\s*(.*)', cpu).group(1).split()
simd = ' '.join(f for f in ('avx2', 'fma', 'avx512f', 'avx512_bf16', 'avx512_vnni') if f in flags)
cache = open(os.path.join(build, 'CMakeCache.txt')).read()
cxx = re.search(r'CMAKE_CXX_COMPILER:\w+=(.*)', cache).group(1)
bt = re.search(r'CMAKE_BUILD_TYPE:\w+=(.*)', cache).group(1)
flags_bt = re.search(r'CMAKE_CXX_FLAGS_%s:\w+=(.*)' % bt.upper(), cache)
mem = int(re.search(r'MemTotal:\s*(\d+)', open('/proc/meminfo').read()).group(1)) / 2**20
head = sh('git', 'rev-parse', '--short=12', 'HEAD')
# The bench's own result files (this run rewrites them) do not make the code dirty.
dirty = sh('git', 'status', '--porcelain', '--untracked-files=no', '--', 'bench', 'kernels',
           'rtmo', ':!bench/*.md', ':!bench/results.json')
info = json.loads(sh(e2e, 'info') or '{}')
ort = json.load(open('bench/node_modules/onnxruntime-node/package.json'))['version']
json.dump({
    'date': datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M UTC'),
    'commit': head + (' (+ uncommitted changes in bench/kernels/rtmo)' if dirty else ''),
    'cpu': '%s (family %s model %s; %s)' % (name, fam, mod, simd),
    'cores': '%d / %d' % (2, os.cpu_count()),
    'mem': '%.0f GiB' % mem, 'kernel': platform.release(),
    'compiler': sh(cxx, '--version').splitlines()[0],
    'build_type': '%s (%s)' % (bt, flags_bt.group(1) if flags_bt else ''),
    'hwy_target': info.get('target', 'unknown'),
    'ort': 'onnxruntime-node ' + ort, 'node': sh('node', '--version'),
    'torch': sh('/usr/bin/python3', '-c', 'import torch; print(torch.__version__)') +
             ' (Debian python3-torch; convolutions: its oneDNN; BLAS: Debian libopenblas0-openmp,'
             ' allocator: Debian libjemalloc2, both for the PyTorch worker only)',
    'load': '%s / %s' % (lb, la),
}, open(out, 'w'), indent=1)
EOF

if [ "$MODE" = smoke ]; then
  $PY bench/report.py --work "$WORK" --json "$WORK/results.json" --md "$WORK/RESULTS.md" \
    --note "smoke run: $ITERS rounds only, not a measurement" >/dev/null
  echo "== smoke run done: $WORK/RESULTS.md"
else
  $PY bench/report.py --work "$WORK" --json bench/results.json --md bench/RESULTS.md \
    --note "$NOTE"
  echo "== wrote bench/RESULTS.md and bench/results.json"
fi
