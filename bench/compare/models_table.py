#!/usr/bin/env python3
"""Joins clnn-bench's models-suite records with torch_models.py's on (model, kind, batch) and
prints one table per kind with clnn's speedup over each peer: peer ms / clnn ms for inference,
clnn images/s / peer images/s for training; above 1, clnn is faster. Missing values print as —.

usage: models_table.py CLNN.json PEERS.json [--cpu] [--device TEXT] [--markdown]
  CLNN.json    clnn-bench models --json: {"model", "kind": "infer", "batch", "ms", "device"} and
               {"model", "kind": "train", "batch", "images_per_second", "device"} records (records
               of other suites are ignored)
  PEERS.json   torch_models.py --json
  --cpu        clnn ran on the CPU (PoCL): its "infer" records join the peers' "cpu-infer" ones
               (ONNX Runtime and PyTorch on the CPU), its "train" records the "cpu-train" ones
               (PyTorch on the CPU)
  --device     only clnn's records whose device contains TEXT (case-insensitive), for a file that
               holds several runs
  --markdown   Markdown tables, ready for docs/PERFORMANCE.md
e.g.  python3 bench/compare/models_table.py clnn_models.json torch_models.json --markdown"""
import argparse
import json
import sys

# kind of table: (clnn's kind, the peers' kind, clnn's key, unit, [(peer key, peer title)], higher
# is better)
TABLES = {
    "gpu-infer": ("infer", "infer", "ms", "ms",
                  [("torch_eager_ms", "PyTorch eager"), ("torch_compile_ms", "torch.compile")], False),
    "cpu-infer": ("infer", "cpu-infer", "ms", "ms",
                  [("ort_cpu_ms", "ONNX Runtime"), ("torch_cpu_ms", "PyTorch CPU")], False),
    "train": ("train", "train", "images_per_second", "images/s",
              [("torch_eager_images_per_second", "PyTorch eager"),
               ("torch_compile_images_per_second", "torch.compile")], True),
    "cpu-train": ("train", "cpu-train", "images_per_second", "images/s",
                  [("torch_cpu_images_per_second", "PyTorch CPU")], True),
}
TITLES = {"gpu-infer": "Inference, GPU (fp32, TF32 off)", "cpu-infer": "Inference, CPU",
          "train": "Training on Fashion-MNIST, Adam", "cpu-train": "Training on Fashion-MNIST, Adam, CPU"}


def number(value):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
        return None
    return float(value)


def fmt(value):
    if value is None:
        return "—"
    if value >= 1000:
        return f"{value:.0f}"
    return f"{value:.3g}" if value < 1 else f"{value:.4g}"


def ratio(clnn, peer, higher_is_better):
    if clnn is None or peer is None or clnn <= 0 or peer <= 0:
        return "—"
    return f"{clnn / peer if higher_is_better else peer / clnn:.2f}x"


def load(path):
    with open(path) as f:
        records = json.load(f)
    if not isinstance(records, list):
        sys.exit(f"models_table.py: {path} holds no JSON list of records")
    return [r for r in records if isinstance(r, dict) and "model" in r and "kind" in r
            and "batch" in r]


def index(records, kind, source):
    """(model, batch) -> record of this kind, in file order; the first of duplicates wins."""
    out = {}
    for r in records:
        if r["kind"] != kind:
            continue
        key = (r["model"], r["batch"])
        if key in out:
            print(f"models_table.py: {source} has {r['model']} {kind} batch {r['batch']} twice; "
                  "the first is used (--device picks one run)", file=sys.stderr)
            continue
        out[key] = r
    return out


def devices(records):
    names = []
    for r in records.values():
        if r.get("device") and r["device"] not in names:
            names.append(r["device"])
    return "; ".join(names) or "device not given"


def render(title, header, rows, notes, markdown):
    if markdown:
        print(f"**{title}**\n")
        print("| " + " | ".join(header) + " |")
        print("| " + " | ".join("---" for _ in header) + " |")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        if notes:
            print()
            for note in notes:
                print(f"- {note}")
        print()
        return
    print(title)
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    print("  ".join(h.rjust(w) if i > 0 else h.ljust(w) for i, (h, w) in enumerate(zip(header, widths))))
    for row in rows:
        print("  ".join(c.rjust(w) if i > 0 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
    for note in notes:
        print(f"  {note}")
    print()


def table(name, clnn_records, peer_records, markdown):
    clnn_kind, peer_kind, clnn_key, unit, peer_cols, higher = TABLES[name]
    clnn = index(clnn_records, clnn_kind, "CLNN.json")
    peers = index(peer_records, peer_kind, "PEERS.json")
    if not clnn and not peers:
        return
    keys = list(peers) + [k for k in clnn if k not in peers]
    header = ["model", "batch", f"clnn {unit}"] + [f"{t} {unit}" for _, t in peer_cols] + \
             [f"clnn vs {t}" for _, t in peer_cols]
    rows, notes = [], []
    for model, batch in keys:
        c, p = clnn.get((model, batch), {}), peers.get((model, batch), {})
        mine = number(c.get(clnn_key))
        theirs = [number(p.get(k)) for k, _ in peer_cols]
        rows.append([model, str(batch), fmt(mine)] + [fmt(v) for v in theirs]
                    + [ratio(mine, v, higher) for v in theirs])
        for who, r in (("clnn", c), ("peer", p)):
            for key in ("error", "skipped"):
                if r.get(key):
                    notes.append(f"{model} batch {batch}, {who} {key}: {r[key]}")
    title = f"{TITLES[name]}: clnn on {devices(clnn)}; peers on {devices(peers)}"
    modes = sorted({str(r["torch_compile_mode"]) for r in peers.values()
                    if r.get("torch_compile_mode")})
    if modes:
        title += f"; torch.compile mode {', '.join(modes)}"
    render(title, header, rows, notes, markdown)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clnn", metavar="CLNN.json")
    parser.add_argument("peers", metavar="PEERS.json")
    parser.add_argument("--cpu", action="store_true",
                        help="clnn ran on the CPU: join it with the peers' cpu-infer and cpu-train")
    parser.add_argument("--device", metavar="TEXT", help="only clnn records whose device has TEXT")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = parser.parse_args()
    clnn = [r for r in load(args.clnn) if r.get("suite", "models") == "models"]
    if args.device:
        clnn = [r for r in clnn if args.device.lower() in str(r.get("device", "")).lower()]
    peers = load(args.peers)
    if not clnn:
        print(f"models_table.py: no models-suite records in {args.clnn}"
              + (f" on a device with '{args.device}'" if args.device else ""), file=sys.stderr)
    infer_devices = {str(r.get("device", "")).lower() for r in clnn if r["kind"] == "infer"}
    if not args.cpu and infer_devices and all("pocl" in d or "cpu" in d for d in infer_devices):
        print("models_table.py: clnn's inference ran on a CPU device; --cpu compares it with the "
              "peers on the CPU", file=sys.stderr)
    table("cpu-infer" if args.cpu else "gpu-infer", clnn, peers, args.markdown)
    table("cpu-train" if args.cpu else "train", clnn, peers, args.markdown)


if __name__ == "__main__":
    main()
