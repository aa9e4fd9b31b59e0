"""Table of bench/kernels.sh: our kernels (google-benchmark JSON) vs ONNX Runtime.

usage: /usr/bin/python3 bench/kernels_report.py SHAPES.json OURS_1.json ORT_1.jsonl \
           [OURS_2.json ORT_2.jsonl ...]

kernels.sh runs our benchmark and ONNX Runtime's alternately, one pair of files per
round, so that both see the same machine conditions. Each number below is the median
over rounds of each round's median. Per conv shape: our wall time, ORT's, the ratio
ORT/ours (> 1: we are faster), our GFLOP/s and % of the FMA peak measured in the same
run at the same thread count. Totals weight each shape by how often it occurs in one
RTMO-s forward pass (MAC-weighted); the per-round totals show how noisy the machine was.
"""
import json
import re
import statistics
import sys

UNIT_MS = {"ms": 1.0, "us": 1e-3, "ns": 1e-6, "s": 1e3}


def base_name(n):
    return re.sub(r"_(median|mean|stddev|cv)$", "", n)


def round_medians(bench):
    """{benchmark base name: (median ms, the benchmark record)} of one google-benchmark run."""
    out = {}
    for b in bench["benchmarks"]:
        name = base_name(b["name"])
        if b["name"].endswith("_median") or (b.get("run_type") == "iteration" and name not in out):
            out[name] = (b["real_time"] * UNIT_MS[b["time_unit"]], b)
    return out


def gflops(b):
    v = b["GFLOP/s"]
    return v / 1e9 if v > 1e6 else v


def main():
    if len(sys.argv) < 4 or (len(sys.argv) - 2) % 2:
        sys.exit(__doc__)
    shapes = json.load(open(sys.argv[1]))
    rounds = []  # [(ours {name: (ms, rec)}, ort {index: rec})]
    for i in range(2, len(sys.argv), 2):
        ours = round_medians(json.load(open(sys.argv[i])))
        ort = {}
        for line in open(sys.argv[i + 1]):
            if line.strip():
                r = json.loads(line)
                ort[r["index"]] = r
        rounds.append((ours, ort, json.load(open(sys.argv[i]))["context"]))
    names = list(rounds[0][0])

    def ours_ms(name):
        return statistics.median(r[0][name][0] for r in rounds)

    def ours_rec(name):
        return rounds[0][0][name][1]

    def ort_ms(i):
        vals = [r[1][i]["median_ms"] for r in rounds if i in r[1]]
        return statistics.median(vals) if vals else float("nan")

    def find(prefix):
        return next((n for n in names if n.startswith(prefix)), None)

    peak_all = find("peak/fma/all")
    peak_1 = find("peak/fma/1thread")
    peak = statistics.median(gflops(r[0][peak_all][1]) for r in rounds)
    peak1 = statistics.median(gflops(r[0][peak_1][1]) for r in rounds)
    rec = ours_rec(peak_all)
    threads = int(rec["threads"])
    ctx = rounds[0][2]
    print(f"context: {ctx.get('host_name', '')}, {ctx.get('num_cpus')} cpus, target "
          f"{rec.get('label', '')}, threads {threads}, {len(rounds)} interleaved rounds "
          f"(ours, then ORT, per round)")
    print(f"FMA peak probe: {peak1:.1f} GFLOP/s on 1 thread, {peak:.1f} GFLOP/s on {threads}")
    print()
    print("| benchmark | median ms | GFLOP/s | % peak |")
    print("|---|---:|---:|---:|")
    for n in names:
        if not (n.startswith("gemm") or n.startswith("attention")):
            continue
        ms = ours_ms(n)
        flop = gflops(ours_rec(n)) * rounds[0][0][n][0]  # GFLOP/s x ms of round 0 = work
        g = flop / ms
        print(f"| {n} | {ms:.3f} | {g:.1f} | {100 * g / peak:.0f}% |")
    print()
    print("| # | conv (RTMO-s @640) | Cin x H x W -> Cout, k/s/g | count | MMAC | ours ms | ORT ms "
          "| ORT/ours | ours GFLOP/s | % peak |")
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
    tot_ours = tot_ort = tot_macs = 0.0
    per_round = [[0.0, 0.0] for _ in rounds]
    for i, s in enumerate(shapes):
        name = find(f"conv/{i}/")
        ms, o_ms = ours_ms(name), ort_ms(i)
        macs = ours_rec(name)["macs"]
        g = 2 * macs / (ms * 1e6)
        tot_ours += ms * s["count"]
        tot_ort += o_ms * s["count"]
        tot_macs += macs * s["count"]
        for r, acc in zip(rounds, per_round):
            acc[0] += r[0][name][0] * s["count"]
            acc[1] += r[1].get(i, {"median_ms": float("nan")})["median_ms"] * s["count"]
        print(f"| {i} | {s['name']} | {s['in_c']}x{s['h']}x{s['w']} -> {s['out_c']}, "
              f"{s['k']}/{s['stride']}/{s['groups']} | {s['count']} | {macs / 1e6:.1f} | {ms:.3f} | "
              f"{o_ms:.3f} | {o_ms / ms:.2f} | {g:.0f} | {100 * g / peak:.0f}% |")
    g_ours = 2 * tot_macs / (tot_ours * 1e6)
    g_ort = 2 * tot_macs / (tot_ort * 1e6)
    print()
    print(f"**All {sum(s['count'] for s in shapes)} convs of one RTMO-s forward pass "
          f"({tot_macs / 1e9:.3f} GMAC), summed by occurrence:** ours {tot_ours:.2f} ms "
          f"= {g_ours:.0f} GFLOP/s = {100 * g_ours / peak:.0f}% of the measured peak; "
          f"ONNX Runtime {tot_ort:.2f} ms = {g_ort:.0f} GFLOP/s; ratio ORT/ours "
          f"{tot_ort / tot_ours:.2f}")
    print()
    print("Per-round totals (ms, ours / ORT): " +
          ", ".join(f"{a:.1f} / {b:.1f}" for a, b in per_round))
    # ORT runs the Focus stem's 12-channel conv through a slow path when it is a model of
    # its own (tens of ms), which would dominate the total: show the sum without it too.
    stem = next((i for i, s in enumerate(shapes) if s["name"].startswith("stem")), None)
    if stem is not None:
        s = shapes[stem]
        a = tot_ours - ours_ms(find(f"conv/{stem}/")) * s["count"]
        b = tot_ort - ort_ms(stem) * s["count"]
        print(f"Without the stem conv: ours {a:.2f} ms, ORT {b:.2f} ms, ratio ORT/ours {b / a:.2f}")


if __name__ == "__main__":
    main()
