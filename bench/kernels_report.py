"""Table of bench/kernels.sh: our kernels (google-benchmark JSON) vs ONNX Runtime.

usage: /usr/bin/python3 bench/kernels_report.py OURS.json ORT.jsonl SHAPES.json

Per conv shape: our median wall time, ORT's median, the ratio ORT/ours (> 1: we are
faster), our GFLOP/s and % of the measured FMA peak at the same thread count. Totals
weight each shape by how often it occurs in one RTMO-s forward pass (MAC-weighted).
"""
import json
import re
import sys


def median_ms(bench, name):
    for b in bench["benchmarks"]:
        if b["name"] == name + "_median" or (b["name"] == name and b.get("run_type") == "iteration"):
            unit = {"ms": 1.0, "us": 1e-3, "ns": 1e-6, "s": 1e3}[b["time_unit"]]
            return b["real_time"] * unit, b
    return None, None


def main():
    ours = json.load(open(sys.argv[1]))
    ort = {}
    for line in open(sys.argv[2]):
        if line.strip():
            r = json.loads(line)
            ort[r["index"]] = r
    shapes = json.load(open(sys.argv[3]))
    names = [b["name"] for b in ours["benchmarks"]]

    def find(prefix):
        for n in names:
            base = re.sub(r"_(median|mean|stddev|cv)$", "", n)
            if base.startswith(prefix):
                return base
        return None

    peak_all_name = find("peak/fma/all")
    peak1_name = find("peak/fma/1thread")
    _, pk = median_ms(ours, peak_all_name)
    _, pk1 = median_ms(ours, peak1_name)
    peak = pk["GFLOP/s"] / 1e9 if pk["GFLOP/s"] > 1e6 else pk["GFLOP/s"]
    peak1 = pk1["GFLOP/s"] / 1e9 if pk1["GFLOP/s"] > 1e6 else pk1["GFLOP/s"]
    threads = int(pk["threads"])
    print(f"context: {ours['context'].get('host_name', '')}, {ours['context'].get('num_cpus')} cpus, "
          f"target {pk.get('label', '')}, threads {threads}")
    print(f"FMA peak probe: {peak1:.1f} GFLOP/s on 1 thread, {peak:.1f} GFLOP/s on {threads} "
          f"(busy {pk['busy']:.2f})")
    print()

    def gf(b):
        v = b["GFLOP/s"]
        return v / 1e9 if v > 1e6 else v

    print("| benchmark | median ms | GFLOP/s | % peak | busy |")
    print("|---|---:|---:|---:|---:|")
    for n in names:
        base = re.sub(r"_(median|mean|stddev|cv)$", "", n)
        if not (base.startswith("gemm") or base.startswith("attention")) or not n.endswith("_median"):
            continue
        ms, b = median_ms(ours, base)
        print(f"| {base} | {ms:.3f} | {gf(b):.1f} | {100 * gf(b) / peak:.0f}% | {b['busy']:.2f} |")
    print()
    print("| # | conv (RTMO-s @640) | Cin x H x W -> Cout, k/s/g | count | MMAC | ours ms | ORT ms "
          "| ORT/ours | ours GFLOP/s | % peak |")
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
    tot_ours = tot_ort = tot_macs = 0.0
    for i, s in enumerate(shapes):
        base = find(f"conv/{i}/")
        ms, b = median_ms(ours, base)
        o = ort.get(i)
        macs = b["macs"]
        g = 2 * macs / (ms * 1e6)
        ort_ms = o["median_ms"] if o else float("nan")
        tot_ours += ms * s["count"]
        tot_ort += ort_ms * s["count"]
        tot_macs += macs * s["count"]
        print(f"| {i} | {s['name']} | {s['in_c']}x{s['h']}x{s['w']} -> {s['out_c']}, "
              f"{s['k']}/{s['stride']}/{s['groups']} | {s['count']} | {macs / 1e6:.1f} | {ms:.3f} | "
              f"{ort_ms:.3f} | {ort_ms / ms:.2f} | {g:.0f} | {100 * g / peak:.0f}% |")
    g_ours = 2 * tot_macs / (tot_ours * 1e6)
    g_ort = 2 * tot_macs / (tot_ort * 1e6)
    print()
    print(f"**All {sum(s['count'] for s in shapes)} convs of one RTMO-s forward pass "
          f"({tot_macs / 1e9:.3f} GMAC), summed by occurrence:** ours {tot_ours:.2f} ms "
          f"= {g_ours:.0f} GFLOP/s = {100 * g_ours / peak:.0f}% of the measured peak; "
          f"ONNX Runtime {tot_ort:.2f} ms = {g_ort:.0f} GFLOP/s; ratio ORT/ours "
          f"{tot_ort / tot_ours:.2f}")


if __name__ == "__main__":
    main()
