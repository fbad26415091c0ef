#!/usr/bin/env python3
"""Logit error of each KV storage type against f32 KV, short and long context.

Runs `herd logits --all` on fixture models from ../shared/testdata/models with every --kv-type and
reports the max and mean absolute logit difference against the f32-KV run, and the share of
positions whose argmax changes. Standard library only.

usage: python3 bench/kv_type_error.py [--herd build/herd] [--shared ../shared]
"""
import argparse, json, os, struct, subprocess, sys, tempfile

def read_f32(path):
    data = open(path, "rb").read()
    return struct.unpack("<%df" % (len(data) // 4), data)

def run_logits(herd, model, ids, kv, out, slice_=0):
    ids_file = out + ".ids"
    with open(ids_file, "w") as f:
        f.write(" ".join(map(str, ids)))
    cmd = [herd, "logits", "-m", model, "--ids-file", ids_file, "--all", "--out", out, "--kv-type", kv]
    if slice_:
        cmd += ["--slice", str(slice_)]
    subprocess.run(cmd, check=True, capture_output=True)
    return read_f32(out)

def compare(a, b, vocab, rows=None):
    n = len(a) // vocab
    rows = rows if rows is not None else range(n)
    mx, tot, cnt, flips = 0.0, 0.0, 0, 0
    for r in rows:
        ra, rb = a[r * vocab:(r + 1) * vocab], b[r * vocab:(r + 1) * vocab]
        d = [abs(x - y) for x, y in zip(ra, rb)]
        mx = max(mx, max(d)); tot += sum(d); cnt += len(d)
        flips += max(range(vocab), key=ra.__getitem__) != max(range(vocab), key=rb.__getitem__)
    return mx, tot / cnt, flips / len(rows)

def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--herd", default=os.path.join(here, "..", "build", "herd"))
    ap.add_argument("--shared", default=os.path.join(here, "..", "..", "shared"))
    args = ap.parse_args()
    models = os.path.join(args.shared, "testdata", "models")
    cases = []
    for name in ["scout_tiny", "maverick_tiny"]:
        seq = json.load(open(os.path.join(models, name, "expected.json")))["sequences"][0]
        cases.append((name + " (%d tokens)" % len(seq["ids"]), os.path.join(models, name), seq["ids"], None, 0))
    lc = os.path.join(models, "long_ctx_tiny")
    ids = json.load(open(os.path.join(lc, "inputs.json")))["sequences"][0]
    rows = json.load(open(os.path.join(lc, "expected.json")))["sequences"][0]["logits_positions"]
    cases.append(("long_ctx_tiny (20000 tokens, 116 stored positions)", lc, ids, rows, 2048))
    tmp = tempfile.mkdtemp()
    print("| model | kv type | max abs diff vs f32 KV | mean abs diff | argmax changed |")
    print("|---|---|---|---|---|")
    for label, model, ids, rows, sl in cases:
        vocab = json.load(open(os.path.join(model, "config.json"))).get("vocab_size") or 512
        base = run_logits(args.herd, model, ids, "f32", os.path.join(tmp, "f32.bin"), sl)
        for kv in ["bf16", "f16", "q8_0", "q4_0"]:
            got = run_logits(args.herd, model, ids, kv, os.path.join(tmp, kv + ".bin"), sl)
            mx, mean, flips = compare(got, base, vocab, rows)
            print("| %s | %s | %.2e | %.2e | %.1f%% |" % (label, kv, mx, mean, 100 * flips))
            sys.stdout.flush()

if __name__ == "__main__":
    main()
