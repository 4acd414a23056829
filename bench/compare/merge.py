#!/usr/bin/env python3
"""Joins clnn-bench's JSON with a peer's JSON on shared keys, prints one table with the ratios
(clnn / peer) and writes the joined records beside CLNN.json as CLNN_merged.json.
usage: merge.py CLNN.json PEER.json KEY [KEY...]  (e.g. KEY = n)"""
import json
import sys


def main():
    clnn_path, peer_path, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
    clnn = json.load(open(clnn_path))
    peer = {tuple(r[k] for k in keys): r for r in json.load(open(peer_path))}
    rows = []
    for r in clnn:
        p = peer.get(tuple(r[k] for k in keys))
        if p is None:
            continue
        merged = {**r, **p}
        for name in [k for k in p if k.endswith("gflops")]:
            merged[name.replace("gflops", "ratio")] = r["gflops"] / p[name]
        rows.append(merged)
    cols = keys + [c for c in rows[0] if c.endswith(("gflops", "ratio")) and c not in keys] if rows else []
    print("  ".join(f"{c:>16}" for c in cols))
    for m in rows:
        print("  ".join(f"{m[c]:>16.2f}" if isinstance(m[c], float) else f"{m[c]:>16}" for c in cols))
    with open(clnn_path.replace(".json", "_merged.json"), "w") as out:
        json.dump(rows, out, indent=2)


if __name__ == "__main__":
    main()
