#!/usr/bin/env python3
"""Side-by-side: herd bench vs llama.cpp (node-llama-cpp 3.21.1, bench/llamacpp/peer.mjs) on the
same GGUF file, same thread count, alternating runs in one session; prints medians and ratios.

  python3 bench/compare_llamacpp.py MODEL.gguf [-p 512] [-n 128] [-t 2] [-r 3]

The GGUF must embed a vocabulary (herd convert --vocab ...): llama.cpp asserts on
tokenizer.ggml.model "none" when node-llama-cpp loads it.
"""
import argparse, json, os, statistics, subprocess, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("-p", type=int, default=512)
ap.add_argument("-n", type=int, default=128)
ap.add_argument("-t", type=int, default=2)
ap.add_argument("-r", type=int, default=3)
ap.add_argument("--herd", default=os.path.join(root, "build", "herd"))
a = ap.parse_args()

herd_pf, herd_dc, cpp_pf, cpp_dc, extra = [], [], [], [], None
for _ in range(a.r):
    out = subprocess.run([a.herd, "bench", "-m", a.model, "-p", str(a.p), "-n", str(a.n), "-t", str(a.t), "-r", "1", "--json"],
                         check=True, capture_output=True, text=True).stdout
    j = json.loads(out)
    herd_pf += j["prefill_tps"]; herd_dc += j["decode_tps"]; extra = j
    out = subprocess.run(["node", "peer.mjs", "bench", a.model, str(a.p), str(a.n), str(a.t), "1"],
                         cwd=os.path.join(root, "bench", "llamacpp"), check=True, capture_output=True, text=True).stdout
    j = json.loads(out.strip().splitlines()[-1])
    cpp_pf += j["prefill_tps"]; cpp_dc += j["decode_tps"]

m = statistics.median
res = {
    "model": a.model, "threads": a.t, "prompt": a.p, "gen": a.n, "rounds": a.r,
    "herd_prefill_tps": m(herd_pf), "llamacpp_prefill_tps": m(cpp_pf), "prefill_ratio": m(herd_pf) / m(cpp_pf),
    "herd_decode_tps": m(herd_dc), "llamacpp_decode_tps": m(cpp_dc), "decode_ratio": m(herd_dc) / m(cpp_dc),
    "herd_decode_pct_of_probe": extra["decode_pct_of_probe"], "probe_read_gbs": extra["probe_read_gbs"],
    "raw": {"herd_prefill": herd_pf, "herd_decode": herd_dc, "llamacpp_prefill": cpp_pf, "llamacpp_decode": cpp_dc},
}
print(json.dumps(res, indent=1))
