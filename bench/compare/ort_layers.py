#!/usr/bin/env python3
"""Layer by layer on the CPU: each Conv node of an ONNX model with its shape and MFLOP, clnn's
time (CLNN_PROFILE=nodes clnn-run) beside ONNX Runtime's (its profile's kernel time of the node,
the activation it fused included), and each one's GFLOP/s. clnn's figure is the device time of
the node's launches from their events (the profiler waits for each launch, which a model's
unprofiled run does not). PoCL's worker threads are pinned (POCL_AFFINITY=1) unless the environment says otherwise:
unpinned, short runs on a small VM came in two speeds.

usage: ort_layers.py MODEL.onnx [--clnn-run PATH] [--runs N] [--sorted]
  --clnn-run   the clnn-run program (default: build-release/runtime/clnn-run)
  --runs       timed runs of each (default 30)
  --sorted     largest gap (clnn ms - ONNX Runtime ms) first
e.g.  python3 bench/compare/ort_layers.py zoo/resnet50_b1.onnx --sorted"""
import argparse
import json
import os
import re
import subprocess
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import shape_inference


def clnn_node_ms(clnn_run, model, runs):
    env = dict(os.environ, CLNN_PROFILE="nodes")
    env.setdefault("POCL_AFFINITY", "1")
    out = subprocess.run([clnn_run, "--device", "cpu", "--runs", str(runs), model], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         check=True).stdout  # the profile goes to stderr
    # "conv forward 'conv_3'   1.234   31   31": total ms, launches, entries (runs + warm-up)
    ms = {}
    for m in re.finditer(r"^conv forward '(\S+)'\s+([\d.]+)\s+\d+\s+(\d+)", out, re.M):
        ms[m.group(1)] = float(m.group(2)) / int(m.group(3))
    return ms


def ort_node_ms(model, runs):
    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tmp, "ort")
        s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        feed = {i.name: np.random.rand(*i.shape).astype(np.float32) for i in s.get_inputs()}
        for _ in range(runs + 2):
            s.run(None, feed)
        events = json.load(open(s.end_profiling()))
    total = {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            # a node's name (or its output's); NCHWc nodes add "_nchwc"
            name = e["name"][: -len("_kernel_time")].replace("_nchwc", "")
            total[name] = total.get(name, 0.0) + e["dur"] / 1000.0
    return {name: t / (runs + 2) for name, t in total.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--clnn-run", default="build-release/runtime/clnn-run")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--sorted", action="store_true")
    a = ap.parse_args()
    graph = shape_inference.infer_shapes(onnx.load(a.model)).graph
    values = list(graph.value_info) + list(graph.input) + list(graph.output)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in values}
    weights = {i.name: list(i.dims) for i in graph.initializer}
    consumers = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    clnn = clnn_node_ms(a.clnn_run, a.model, a.runs)
    peer = ort_node_ms(a.model, a.runs)
    rows, clnn_total, peer_total = [], 0.0, 0.0
    # clnn names convolutions conv_1, conv_2, ... in the graph's order
    for i, n in enumerate(node for node in graph.node if node.op_type == "Conv"):
        out = n.output[0]
        # ONNX Runtime's profile names a node by its name, or by its output where it has none
        o = peer.get(n.name) if n.name else None
        o = peer.get(out) if o is None else o
        for c in consumers.get(out, []):  # the activation ONNX Runtime fused names the node
            if o is None and c.op_type in ("Relu", "Clip"):
                o = peer.get(c.name) or peer.get(c.output[0])
        x, y, w = shapes.get(n.input[0]), shapes.get(out), weights.get(n.input[1])
        attrs = {at.name: (list(at.ints) or at.i) for at in n.attribute}
        if not (x and y and w and len(w) >= 3):
            continue
        mflop = 2.0 * float(np.prod(y)) * float(np.prod(w[1:])) / 1e6  # 1-, 2- or 3-D
        c = clnn.get(f"conv_{i + 1}")
        if c is None or o is None:
            continue
        stride = attrs.get("strides", [1])[0]
        extent = "x".join(str(e) for e in x[2:])
        rows.append((c - o, f"conv_{i + 1:<4} C{x[1]:<5} K{y[1]:<5} {extent:<10} "
                            f"k{w[2]} s{stride} g{attrs.get('group', 1):<4} {mflop:8.1f} "
                            f"{c:8.3f} {o:8.3f} {mflop / c:7.0f} {mflop / o:7.0f}"))
        clnn_total, peer_total = clnn_total + c, peer_total + o
    if a.sorted:
        rows.sort(reverse=True)
    print(f"{'node':10} {'C':6} {'K':6} {'extent':10} {'':3} {'':2} {'':5} {'MFLOP':>8} "
          f"{'clnn ms':>8} {'ORT ms':>8} {'GFLOP/s':>7} {'ORT':>7}")
    for _, r in rows:
        print(r)
    print(f"sum: clnn {clnn_total:.3f} ms, ONNX Runtime {peer_total:.3f} ms over {len(rows)} Conv nodes")


if __name__ == "__main__":
    main()
