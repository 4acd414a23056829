#!/usr/bin/env python3
"""The peer figure for clnn-bench's matmul suite: square fp32 GEMM through PyTorch (cuBLAS) with
TF32 off (with --tf32, on: the peer of clnn-bench matmul --precision tf32), timed with CUDA
events after a warm-up; median of several runs. With --device cpu,
PyTorch on the CPU (one thread per core it may use), timed on the host clock. Writes JSON like
clnn-bench's records (n, torch_gflops, torch_ms) to the path given by --json."""
import argparse
import json
import os
import statistics
import time

import torch


def cpu_ms(n):
    a, b = torch.rand(n, n) - 0.5, torch.rand(n, n) - 0.5
    c = torch.empty(n, n)
    torch.matmul(a, b, out=c)
    start = time.perf_counter()
    torch.matmul(a, b, out=c)
    repeat = max(1, min(1000, int(0.2 / max(time.perf_counter() - start, 1e-6))))
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            torch.matmul(a, b, out=c)
        times.append((time.perf_counter() - start) * 1e3 / repeat)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="128,256,512,1024,2048,4096,8192")
    parser.add_argument("--json", required=True)
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--tf32", action="store_true", help="cuBLAS on tensor cores in TF32")
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    records = []
    if args.device == "cpu":
        torch.set_num_threads(len(os.sched_getaffinity(0)))
    for n in [int(s) for s in args.sizes.split(",")]:
        if args.device == "cpu":
            ms = cpu_ms(n)
            records.append({"n": n, "torch_ms": ms, "torch_gflops": 2.0 * n**3 / (ms * 1e-3) * 1e-9,
                            "device": "cpu", "threads": torch.get_num_threads()})
            print(f"{n:>6}  torch (CPU) {records[-1]['torch_gflops']:10.1f} GFLOP/s")
            continue
        a = torch.rand(n, n, device="cuda") - 0.5
        b = torch.rand(n, n, device="cuda") - 0.5
        c = torch.empty(n, n, device="cuda")
        torch.matmul(a, b, out=c)
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        torch.matmul(a, b, out=c)
        end.record()
        end.synchronize()
        repeat = max(1, min(1000, int(50.0 / max(start.elapsed_time(end), 1e-4))))
        times = []
        for _ in range(5):
            start.record()
            for _ in range(repeat):
                torch.matmul(a, b, out=c)
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / repeat)
        ms = statistics.median(times)
        records.append({"n": n, "torch_ms": ms, "torch_gflops": 2.0 * n**3 / (ms * 1e-3) * 1e-9,
                        "precision": "tf32" if args.tf32 else "fp32"})
        print(f"{n:>6}  torch {records[-1]['torch_gflops']:10.1f} GFLOP/s")
    with open(args.json, "w") as out:
        json.dump(records, out, indent=2)


if __name__ == "__main__":
    main()
