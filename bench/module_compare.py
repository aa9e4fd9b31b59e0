#!/usr/bin/env python3
"""Ours against ONNX Runtime, module by module, on one model and image.

    bench/module_compare.py --e2e build/bench/e2e_bench --model M.rtmo --onnx M.onnx \
        --input M.f32 --size 416 --image IMG --threads 1 --rounds 8 [--nodes SUBSTR ...]

Alternates `e2e_bench profile` (our observer's per-module laps) and bench/ort_profile.mjs
(ORT's per-node trace) `--rounds` times, each session `--iters` runs, pinned to the first
`--threads` CPUs. ORT's nodes are summed into our module names by their ONNX scope
(/net/backbone/stage1/... -> backbone.stage1; neck lateral_convs/fpn_blocks -> neck.fpn,
downsample_convs/pan_blocks -> neck.pan; the head -> head); nodes outside any module
(ORT's layout reorders, the encoder's fused LayerNorm) are listed by name. Each module's
figure is the minimum over sessions of its per-session median: on a noisy host both
engines get their quiet windows. `--nodes` also lists ORT's nodes whose name contains one
of the strings (minimum over sessions of the per-session median, ms).
The input .f32 is what bench/run.sh writes (e2e_bench input MODEL IMAGE OUT.f32).
"""
import argparse
import collections
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def ort_module(parts):
    """Our module name for an ONNX node scope (list of path parts without 'net')."""
    if len(parts) > 2 and parts[0] == "backbone":
        return "backbone." + parts[1]
    if parts and parts[0] == "head_module":
        return "head"
    if len(parts) > 2 and parts[0] == "neck":
        for prefix, name in (("input_proj", "neck.input_proj"), ("encoder", "neck.encoder"),
                             ("lateral", "neck.fpn"), ("fpn", "neck.fpn"),
                             ("downsample", "neck.pan"), ("pan", "neck.pan"),
                             ("projector", "neck.projector")):
            if parts[1].startswith(prefix):
                return name
    return "(ort) " + "/".join(parts[:2])


def read_ort_trace(path, warmup):
    """Per-run sums by module and per-run node times, runs after `warmup`."""
    prof = json.load(open(path))
    runs = [e for e in prof if e.get("cat") == "Session" and e["name"] == "model_run"][warmup:]
    if not runs:
        sys.exit(f"module_compare: no timed runs in {path}")
    bounds = [(e["ts"], e["ts"] + e["dur"]) for e in runs]
    modules = [collections.defaultdict(float) for _ in runs]
    nodes = [collections.defaultdict(float) for _ in runs]
    for e in prof:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
            continue
        run = next((i for i, (a, b) in enumerate(bounds) if a <= e["ts"] <= b), None)
        if run is None:
            continue
        name = e["name"][: -len("_kernel_time")]
        parts = [p for p in name.split("/") if p and p != "net"]
        modules[run][ort_module(parts)] += e["dur"] / 1000.0
        nodes[run][name] += e["dur"] / 1000.0
    total = statistics.median(e["dur"] / 1000.0 for e in runs)
    return total, modules, nodes


def medians(per_run):
    keys = set(k for r in per_run for k in r)
    return {k: statistics.median(r.get(k, 0.0) for r in per_run) for k in keys}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--e2e", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--onnx", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--nodes", nargs="*", default=[])
    a = ap.parse_args()
    cpus = ",".join(str(i) for i in range(a.threads))
    ours, ort, ort_nodes, ours_tot, ort_tot = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            out = subprocess.run(["taskset", "-c", cpus, a.e2e, "profile", a.model, a.image,
                                  str(a.threads), str(a.iters)], check=True, capture_output=True,
                                 text=True).stdout
            d = json.loads(out)
            ours.append({m["name"]: m["median_ms"] for m in d["modules"]})
            ours_tot.append(d["total_ms"]["median"])
            prefix = os.path.join(tmp, f"ort{r}")
            subprocess.run(["taskset", "-c", cpus, "node", os.path.join(HERE, "ort_profile.mjs"),
                            a.onnx, str(a.threads), a.input, str(a.size), prefix,
                            str(a.iters + 5)], check=True, cwd=HERE)
            trace = glob.glob(prefix + "_*.json")[0]
            total, modules, nodes = read_ort_trace(trace, warmup=5)
            ort.append(medians(modules))
            ort_nodes.append(medians(nodes))
            ort_tot.append(total)
    print(f"sessions: {a.rounds} x {a.iters} runs, {a.threads} thread(s); per-session medians: "
          f"ours total {', '.join('%.1f' % t for t in ours_tot)} ms; "
          f"ORT model_run {', '.join('%.1f' % t for t in ort_tot)} ms\n")
    print("| module | ours ms | ORT ms | ours / ORT |")
    print("|---|---:|---:|---:|")
    names = list(ours[0]) + sorted(set(k for m in ort for k in m) - set(ours[0]))
    sum_ours = sum_ort = 0.0
    for n in names:
        x = min(m.get(n, 0.0) for m in ours)
        y = min(m.get(n, 0.0) for m in ort)
        if x < 0.05 and y < 0.05:
            continue
        if not n.startswith(("pre", "post")):
            sum_ours += x
            sum_ort += y
        print(f"| {n} | {x:.2f} | {y:.2f} | {'%.2f' % (x / y) if x and y else '-'} |")
    print(f"| network (sum of the rows above but pre/post) | {sum_ours:.2f} | {sum_ort:.2f} | "
          f"{sum_ours / sum_ort:.2f} |")
    if a.nodes:
        print("\n| ORT node | ms |")
        print("|---|---:|")
        keys = sorted(set(k for m in ort_nodes for k in m))
        for k in keys:
            if any(s in k for s in a.nodes):
                print(f"| {k} | {min(m.get(k, 0.0) for m in ort_nodes):.3f} |")


if __name__ == "__main__":
    main()
