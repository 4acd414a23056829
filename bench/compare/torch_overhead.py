#!/usr/bin/env python3
"""The peer figures for clnn-bench's overhead suite: a chain of 1,000 relu ops on a small tensor
in PyTorch eager, per op: host microseconds (the Python loop issuing them, the device not waited
for), wall microseconds (the chain and the wait for it) and device microseconds (the chain
captured in a CUDA graph and replayed, timed with CUDA events: what the GPU takes when nothing
waits for the host). --device cpu runs it on the CPU (host and wall only)."""
import argparse
import json
import statistics
import time

import torch

NODES = 1000


def chain(x):
    for _ in range(NODES):
        x = torch.relu(x)
    return x


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1024")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--json", required=True)
    args = parser.parse_args()
    cuda = args.device == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    records = []
    for n in [int(s) for s in args.sizes.split(",")]:
        x = torch.rand(n, device=args.device) - 0.5
        chain(x)
        sync()
        host, wall = [], []
        for _ in range(11):
            t0 = time.perf_counter()
            chain(x)
            t1 = time.perf_counter()
            sync()
            t2 = time.perf_counter()
            host.append((t1 - t0) / NODES * 1e6)
            wall.append((t2 - t0) / NODES * 1e6)
        r = {"n": n, "nodes": NODES, "torch_device": args.device,
             "torch_host_us_per_op": statistics.median(host),
             "torch_wall_us_per_op": statistics.median(wall)}
        if cuda:
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                chain(x)
            graph.replay()
            sync()
            device = []
            for _ in range(11):
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                start.record()
                graph.replay()
                end.record()
                end.synchronize()
                device.append(start.elapsed_time(end) * 1e3 / NODES)
            r["torch_device_us_per_op"] = statistics.median(device)
        records.append(r)
        print(f"{n:>10} torch eager ({args.device}): host {r['torch_host_us_per_op']:.2f} us/op, "
              f"wall {r['torch_wall_us_per_op']:.2f} us/op"
              + (f", device {r['torch_device_us_per_op']:.2f} us/op" if cuda else ""))
    with open(args.json, "w") as f:
        json.dump(records, f, indent=2)


if __name__ == "__main__":
    main()
