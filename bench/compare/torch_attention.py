#!/usr/bin/env python3
"""The peer figure for clnn-bench's attention suite: torch.nn.functional.scaled_dot_product_attention
in fp32 (TF32 off) at [32, 8, length, 64], plain and causal, forward alone and forward + backward
from a given output gradient, timed with CUDA events after a warm-up; median of several runs.
Writes JSON records (length, causal, torch_forward_ms, torch_step_ms, the backend PyTorch picked)
to the path given by --json."""
import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_conv import median_ms  # noqa: E402  (5 samples of ~50 ms, CUDA events)


def backend(q, k, v, causal):
    """The fused backend PyTorch takes for these operands (the first that accepts them)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    for name, b in [("flash", SDPBackend.FLASH_ATTENTION),
                    ("efficient", SDPBackend.EFFICIENT_ATTENTION),
                    ("math", SDPBackend.MATH)]:
        try:
            with sdpa_kernel(b):
                F.scaled_dot_product_attention(q, k, v, is_causal=causal)
            return name
        except RuntimeError:
            continue
    return "unknown"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="512")
    parser.add_argument("--json", required=True)
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    records = []
    for length in [int(s) for s in args.sizes.split(",")]:
        for causal in (False, True):
            shape = (32, 8, length, 64)
            q, k, v = (torch.rand(shape, device="cuda") - 0.5 for _ in range(3))
            for t in (q, k, v):
                t.requires_grad_(True)
            r = torch.rand(shape, device="cuda") - 0.5

            def forward():
                with torch.no_grad():
                    F.scaled_dot_product_attention(q, k, v, is_causal=causal)

            def step():
                out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
                out.backward(r)

            records.append({"length": length, "causal": causal,
                            "torch_forward_ms": median_ms(forward),
                            "torch_step_ms": median_ms(step),
                            "torch_backend": backend(q, k, v, causal)})
            rec = records[-1]
            print(f"{length:>5} {'causal' if causal else 'plain ':6} torch forward "
                  f"{rec['torch_forward_ms']:.3f} ms, step {rec['torch_step_ms']:.3f} ms "
                  f"({rec['torch_backend']})")
    with open(args.json, "w") as out:
        json.dump(records, out, indent=2)


if __name__ == "__main__":
    main()
