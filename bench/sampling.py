#!/usr/bin/env python3
"""What sampling costs in decode: herd bench greedy against herd bench with sampler settings, in
alternating rounds (one process per setting and round), on the same model.

  python3 bench/sampling.py MODEL [-n 64] [-d 256] [-t 2] [-r 3] [--herd build/herd] [--load --no-mmap]

Prints per setting the median decode tok/s, its ratio to greedy's in the same rounds, and the
median time of the step "sample" (herd bench --steps: the choice of each token, argmax when
greedy). A random-weight model (herd init) gives near-uniform next-token distributions: the hard
case for top-p, which must then keep most of the vocabulary.
"""
import argparse, json, os, statistics, subprocess, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("-n", type=int, default=64)
ap.add_argument("-d", type=int, default=256)
ap.add_argument("-t", type=int, default=2)
ap.add_argument("-r", type=int, default=3, help="rounds")
ap.add_argument("--herd", default=os.path.join(root, "build", "herd"))
ap.add_argument("--load", default="--no-mmap", help="herd's weight loading flag")
a = ap.parse_args()

settings = [
    ("greedy", ""),
    ("temperature 1", "--temp 1"),
    ("T 0.8, top-k 40", "--temp 0.8 --top-k 40"),
    ("T 0.8, top-p 0.9", "--temp 0.8 --top-p 0.9"),
    ("T 0.8, top-k 40, top-p 0.95, min-p 0.05", "--temp 0.8 --top-k 40 --top-p 0.95 --min-p 0.05"),
    ("T 1, min-p 0.05", "--temp 1 --min-p 0.05"),
]


def run(extra):
    cmd = [a.herd, "bench", "-m", a.model, a.load, "-p", "0", "-n", str(a.n), "-d", str(a.d), "-t", str(a.t),
           "-r", "1", "-s", "1", "--steps", "--json"] + extra.split()
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stdout}{out.stderr}")
    j = json.loads(out.stdout[out.stdout.index('{"model"'):].splitlines()[0])
    sample = next(s["p50_us"] for s in j["decode_steps"] if s["step"] == "sample")
    return j["decode_tps_median"], sample


tps = {name: [] for name, _ in settings}
us = {name: [] for name, _ in settings}
for r in range(a.r):
    order = settings if r % 2 == 0 else list(reversed(settings))
    for name, extra in order:
        t, s = run(extra)
        tps[name].append(t)
        us[name].append(s)
        print(f"round {r + 1}: {name:42s} {t:8.2f} tok/s, sample {s:8.1f} us", file=sys.stderr)

print(f"{'setting':42s} {'decode tok/s':>12s} {'vs greedy':>10s} {'sample p50 (us)':>16s}")
for name, _ in settings:
    ratio = statistics.median(x / g for x, g in zip(tps[name], tps["greedy"]))
    print(f"{name:42s} {statistics.median(tps[name]):12.2f} {ratio:10.3f} {statistics.median(us[name]):16.1f}")
