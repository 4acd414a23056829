#!/usr/bin/env python3
"""Writes the models of issue 19's zoo as ONNX (opset 17, or 18 with --dynamo; random weights,
seed 0) with their inputs and PyTorch's float64 output for them, so that clnn can be checked
against them:

  python3 bench/compare/check_models.py DIR [--models a,b]
  clnn-run DIR/<m>.onnx --input input=DIR/<m>_input.pb --expect output=DIR/<m>_output.pb
  (token_encoder: --input ids=DIR/token_encoder_ids.pb --input mask=DIR/token_encoder_mask.pb)

Models: torchvision's mobilenet_v3_large, densenet121, shufflenet_v2_x1_0, convnext_tiny,
vit_b_16 and swin_t (1x3x224x224), a torch.nn.TransformerEncoder (6 layers, d 512, 8 heads,
sequence 128, batch 1, eval), and token_encoder: a BERT-like classifier of int64 token ids and an
int64 padding mask ([2, 64] each; inputs ids and mask, written as <m>_ids.pb and <m>_mask.pb). The reference runs the same model in float64 on the CPU; the ONNX
file is exported from the float32 model (the TorchScript exporter). A model that fails to export
prints FAILED and the others go on."""
import argparse
import inspect
import os
import sys
import warnings

import torch

MODELS = ["mobilenet_v3_large", "densenet121", "shufflenet_v2_x1_0", "convnext_tiny", "vit_b_16",
          "swin_t", "transformer_encoder", "token_encoder"]


class TokenEncoder(torch.nn.Module):
    """Token and learned position embeddings, 2 post-norm encoder layers (d 256, 4 heads) that
    skip padded tokens (mask 0), the mean of the tokens, a linear classifier."""

    def __init__(self, vocabulary=1000, d=256, length=64):
        super().__init__()
        self.tokens = torch.nn.Embedding(vocabulary, d)
        self.positions = torch.nn.Parameter(torch.randn(1, length, d) * 0.02)
        layer = torch.nn.TransformerEncoderLayer(d_model=d, nhead=4, batch_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.head = torch.nn.Linear(d, 10)

    def forward(self, ids, mask):
        x = self.tokens(ids) + self.positions[:, : ids.shape[1]]
        x = self.encoder(x, src_key_padding_mask=mask == 0)
        return self.head(x.mean(dim=1))


def make(name):
    """The model in eval mode and its inputs by name."""
    torch.manual_seed(0)
    if name == "transformer_encoder":
        layer = torch.nn.TransformerEncoderLayer(d_model=512, nhead=8, batch_first=True)
        model = torch.nn.TransformerEncoder(layer, num_layers=6, enable_nested_tensor=False)
        return model.eval(), {"input": torch.randn(1, 128, 512)}
    if name == "token_encoder":
        ids = torch.randint(0, 1000, (2, 64))
        mask = torch.ones(2, 64, dtype=torch.int64)
        mask[1, 40:] = 0  # the second sequence is padded
        return TokenEncoder().eval(), {"ids": ids, "mask": mask}
    import torchvision
    model = getattr(torchvision.models, name)(weights=None).eval()
    # ViT's classifier starts at zero, which would make every output 0 whatever came before it.
    for p in model.heads.parameters() if name.startswith("vit_") else []:
        torch.nn.init.normal_(p, std=0.02)
    return model, {"input": torch.randn(1, 3, 224, 224)}


def save_tensor(t, path):
    from onnx import numpy_helper
    t = t.detach()
    array = t.float().numpy() if t.is_floating_point() else t.numpy()
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(array).SerializeToString())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--dynamo", action="store_true",
                        help="export with torch.export (PyTorch's default exporter since 2.9; "
                        "opset 18) instead of TorchScript (opset 17)")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    kwargs = {"opset_version": 18 if args.dynamo else 17}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = args.dynamo
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export")
    # The fused attention fast paths have no ONNX export: the plain modules export.
    if hasattr(torch.backends, "mha"):
        torch.backends.mha.set_fastpath_enabled(False)
    failed = 0
    for name in args.models.split(","):
        try:
            model, inputs = make(name)
            path = os.path.join(args.dir, name + ".onnx")
            args_in = tuple(inputs.values())
            with torch.no_grad():
                torch.onnx.export(model, args_in, path, do_constant_folding=True,
                                  input_names=list(inputs), output_names=["output"], **kwargs)
                want = model.double()(*(t.double() if t.is_floating_point() else t
                                        for t in args_in))
            for input_name, t in inputs.items():
                save_tensor(t, os.path.join(args.dir, f"{name}_{input_name}.pb"))
            save_tensor(want, os.path.join(args.dir, name + "_output.pb"))
            print(f"{name}: exported, output {tuple(want.shape)}", flush=True)
        except Exception as e:  # noqa: BLE001
            failed += 1
            print(f"{name}: FAILED: {type(e).__name__}: {e}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
