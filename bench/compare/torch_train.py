#!/usr/bin/env python3
"""The peer figure for clnn-bench's train suite: clnn-fashion's large model in PyTorch eager fp32
(TF32 off; --tf32 turns it on; --amp fp16 or bf16: automatic mixed precision, with GradScaler in
fp16), batch 128 (--batch), Adam, one Fashion-MNIST epoch; each batch is normalized on the host and
copied to the GPU, as clnn's trainer does. Prints and writes (--json) images per second."""
import argparse
import gzip
import json
import time

import numpy as np
import torch
import torch.nn as nn


def read_idx(path):
    data = gzip.open(path, "rb").read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def default_model():
    """clnn-fashion's default model (samples/fashion_mnist/models.cpp)."""
    return nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(32 * 7 * 7, 10))


def large_model():
    """clnn-fashion's large model (samples/fashion_mnist/models.cpp)."""
    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
    return nn.Sequential(*block(1, 32), *block(32, 32), nn.MaxPool2d(2),
                         *block(32, 64), *block(64, 64), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(64 * 7 * 7, 256), nn.ReLU(), nn.Dropout(0.3), nn.Linear(256, 10))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--json", required=True)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--tf32", action="store_true",
                        help="TF32 on (convolutions and products): the peer of --precision tf32")
    parser.add_argument("--amp", choices=["fp16", "bf16"],
                        help="autocast to this type, the peer of --precision fp16 or bf16")
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cudnn.benchmark = True
    images = read_idx(f"{args.data}/train-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    labels = read_idx(f"{args.data}/train-labels-idx1-ubyte.gz").astype(np.int64)
    images = (images - images.mean()) / images.std()
    model = large_model().cuda()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    batch = args.batch
    order = np.random.default_rng(1).permutation(len(images))
    amp_type = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(args.amp)
    scaler = torch.amp.GradScaler("cuda", enabled=args.amp == "fp16")

    def step(idx):
        x = torch.from_numpy(images[idx][:, None]).cuda()
        y = torch.from_numpy(labels[idx]).cuda()
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=amp_type or torch.float32, enabled=amp_type is not None):
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    for i in range(2):  # warm-up
        step(order[i * batch:(i + 1) * batch])
    torch.cuda.synchronize()
    steps = len(images) // batch
    start = time.perf_counter()
    for i in range(steps):
        step(order[i * batch:(i + 1) * batch])
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    record = {"model": "large", "batch": batch, "steps": steps, "torch_seconds": seconds,
              "precision": args.amp or ("tf32" if args.tf32 else "fp32"),
              "torch_images_per_second": steps * batch / seconds}
    print(f"torch large model, batch {batch}, {steps} steps: {record['torch_images_per_second']:.0f} images/s ({seconds:.1f} s)")
    with open(args.json, "w") as out:
        json.dump([record], out, indent=2)


if __name__ == "__main__":
    main()
