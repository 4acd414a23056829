#!/usr/bin/env python3
"""The peer figures for clnn-bench's elementwise suite: copy, y = a x + y and relu through
PyTorch on the GPU, in GB/s (bytes read and written), timed with CUDA events; median of runs."""
import argparse
import json
import statistics

import torch


def gbps(fn, nbytes, runs=5):
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(runs):
        start.record()
        for _ in range(10):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 10)
    return nbytes / (statistics.median(times) * 1e-3) * 1e-9


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default=f"{1 << 20},{1 << 24},{1 << 28}")
    parser.add_argument("--json", required=True)
    args = parser.parse_args()
    records = []
    for n in [int(s) for s in args.sizes.split(",")]:
        x = torch.zeros(n, device="cuda")
        y = torch.zeros(n, device="cuda")
        out = torch.empty(n, device="cuda")
        r = {"n": n,
             "torch_copy_gbps": gbps(lambda: y.copy_(x), 8 * n),
             "torch_axpy_gbps": gbps(lambda: y.add_(x, alpha=2.0), 12 * n),
             "torch_relu_gbps": gbps(lambda: torch.clamp_min(x, 0, out=out), 8 * n)}
        records.append(r)
        print(f"{n:>12} torch copy {r['torch_copy_gbps']:8.1f} axpy {r['torch_axpy_gbps']:8.1f} relu {r['torch_relu_gbps']:8.1f} GB/s")
    with open(args.json, "w") as f:
        json.dump(records, f, indent=2)


if __name__ == "__main__":
    main()
