#!/usr/bin/env python3
"""Writes the models of issue 19's zoo as ONNX (opset 17, random weights, seed 0) with one input
and PyTorch's float64 output for it, so that clnn can be checked against them:

  python3 bench/compare/check_models.py DIR [--models a,b]
  clnn-run DIR/<m>.onnx --input input=DIR/<m>_input.pb --expect output=DIR/<m>_output.pb

Models: torchvision's mobilenet_v3_large, densenet121, shufflenet_v2_x1_0, convnext_tiny,
vit_b_16 and swin_t (1x3x224x224), and a torch.nn.TransformerEncoder (6 layers, d 512, 8 heads,
sequence 128, batch 1, eval). The reference runs the same model in float64 on the CPU; the ONNX
file is exported from the float32 model (the TorchScript exporter). A model that fails to export
prints FAILED and the others go on."""
import argparse
import inspect
import os
import sys
import warnings

import torch

MODELS = ["mobilenet_v3_large", "densenet121", "shufflenet_v2_x1_0", "convnext_tiny", "vit_b_16",
          "swin_t", "transformer_encoder"]


def make(name):
    torch.manual_seed(0)
    if name == "transformer_encoder":
        layer = torch.nn.TransformerEncoderLayer(d_model=512, nhead=8, batch_first=True)
        model = torch.nn.TransformerEncoder(layer, num_layers=6, enable_nested_tensor=False)
        return model.eval(), torch.randn(1, 128, 512)
    import torchvision
    model = getattr(torchvision.models, name)(weights=None).eval()
    # ViT's classifier starts at zero, which would make every output 0 whatever came before it.
    for p in model.heads.parameters() if name == "vit_b_16" else []:
        torch.nn.init.normal_(p, std=0.02)
    return model, torch.randn(1, 3, 224, 224)


def save_tensor(t, path):
    from onnx import numpy_helper
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(t.detach().float().numpy()).SerializeToString())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir")
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    kwargs = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export")
    # The fused attention fast paths have no ONNX export: the plain modules export.
    if hasattr(torch.backends, "mha"):
        torch.backends.mha.set_fastpath_enabled(False)
    failed = 0
    for name in args.models.split(","):
        try:
            model, x = make(name)
            path = os.path.join(args.dir, name + ".onnx")
            with torch.no_grad():
                torch.onnx.export(model, (x,), path, opset_version=17, do_constant_folding=True,
                                  input_names=["input"], output_names=["output"], **kwargs)
                want = model.double()(x.double())
            save_tensor(x, os.path.join(args.dir, name + "_input.pb"))
            save_tensor(want, os.path.join(args.dir, name + "_output.pb"))
            print(f"{name}: exported, output {tuple(want.shape)}", flush=True)
        except Exception as e:  # noqa: BLE001
            failed += 1
            print(f"{name}: FAILED: {type(e).__name__}: {e}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
