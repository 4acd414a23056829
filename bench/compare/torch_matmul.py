#!/usr/bin/env python3
"""The peer figure for clnn-bench's matmul suite: square fp32 GEMM through PyTorch (cuBLAS) with
TF32 off (with --precision tf32 or --tf32, on: the peer of clnn-bench matmul --precision tf32;
with --precision fp16 or bf16, cuBLAS on 16-bit matrices, fp32 sums), timed with CUDA
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
    parser.add_argument("--precision", choices=["fp32", "tf32", "fp16", "bf16"], default="fp32")
    parser.add_argument("--tf32", action="store_true", help="as --precision tf32")
    args = parser.parse_args()
    if args.tf32:
        args.precision = "tf32"
    torch.backends.cuda.matmul.allow_tf32 = args.precision == "tf32"
    torch.backends.cudnn.allow_tf32 = args.precision == "tf32"
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(args.precision, torch.float32)
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
        a = (torch.rand(n, n, device="cuda") - 0.5).to(dtype)
        b = (torch.rand(n, n, device="cuda") - 0.5).to(dtype)
        c = torch.empty(n, n, device="cuda", dtype=dtype)
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
                        "precision": args.precision})
        print(f"{n:>6}  torch {records[-1]['torch_gflops']:10.1f} GFLOP/s")
    with open(args.json, "w") as out:
        json.dump(records, out, indent=2)


if __name__ == "__main__":
    main()
