#!/usr/bin/env python3
"""The peer figures for clnn-bench's conv suite: the same layers through PyTorch (cuDNN) in fp32
with TF32 off, forward and forward + backward (sum(y) as the loss, gradients of input and
weights), timed with CUDA events after a warm-up; median of several runs. Writes JSON records
keyed by `layer` like clnn-bench's, with torch_ms, torch_tflops, torch_train_ms, torch_train_tflops."""
import argparse
import json
import statistics

import torch
import torch.nn.functional as F

LAYERS = [
    ("N128 C1 28x28 K32 5x5 pad 2", (128, 1, 28, 28), (32, 1, 5, 5), 2),
    ("N128 C32 14x14 K64 5x5 pad 2", (128, 32, 14, 14), (64, 32, 5, 5), 2),
    ("N32 C64 56x56 K64 3x3 pad 1", (32, 64, 56, 56), (64, 64, 3, 3), 1),
    ("N32 C256 14x14 K256 3x3 pad 1", (32, 256, 14, 14), (256, 256, 3, 3), 1),
    ("N8 C16 32x32x32 K32 3x3x3 pad 1", (8, 16, 32, 32, 32), (32, 16, 3, 3, 3), 1),
]


def median_ms(fn, runs=5):
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    end.synchronize()
    repeat = max(1, min(1000, int(50.0 / max(start.elapsed_time(end), 1e-4))))
    times = []
    for _ in range(runs):
        start.record()
        for _ in range(repeat):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / repeat)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", required=True)
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    records = []
    for name, xs, ws, pad in LAYERS:
        conv = F.conv3d if len(xs) == 5 else F.conv2d
        x = (torch.rand(xs, device="cuda") * 2 - 1).requires_grad_()
        w = (torch.rand(ws, device="cuda") - 0.5).requires_grad_()
        with torch.no_grad():
            fwd = median_ms(lambda: conv(x, w, padding=pad))

        def train():
            x.grad = None
            w.grad = None
            conv(x, w, padding=pad).sum().backward()

        both = median_ms(train)
        y_numel = conv(x, w, padding=pad).numel()
        flops = 2.0 * y_numel * w[0].numel()
        records.append({"layer": name, "torch_ms": fwd, "torch_tflops": flops / fwd * 1e-9,
                        "torch_train_ms": both, "torch_train_tflops": 3 * flops / both * 1e-9})
        print(f"{name:<34} torch fwd {fwd:8.3f} ms  fwd+bwd {both:8.3f} ms")
    with open(args.json, "w") as out:
        json.dump(records, out, indent=2)


if __name__ == "__main__":
    main()
