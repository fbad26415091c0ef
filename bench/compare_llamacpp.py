#!/usr/bin/env python3
"""Side-by-side: herd bench vs llama.cpp (node-llama-cpp 3.21.1, bench/llamacpp/peer.mjs) on the
same GGUF file, alternating runs (herd, llama.cpp, herd, ...) in one session;
prints medians, bests and ratios, and the decode share of the memory roofline for both engines.

  python3 bench/compare_llamacpp.py MODEL.gguf [-p 256] [-n 64] [-t 2] [-r 5] [--mmap] [--json]

herd runs with -t T; llama.cpp with T and with 1 thread, and the ratios use whichever is faster
(on a busy 2-vCPU machine llama.cpp's spinning thread barrier can make 2 threads 10x slower than
1, so the 2-thread number alone would flatter herd). Both decode at the same depth: llama.cpp
after its P-token prompt, herd with -d P. Each round is a fresh process of each engine (own
warm-up). The roofline is herd's: weight + KV bytes one decode token reads (herd bench's
accounting, the same file for both engines) over the read bandwidth herd bench probes in the
same run: its fastest read loop, and (the "% plain" line) its plain STREAM-like loop without
software prefetch, the probe before the sixth session. The 1-minute load average is sampled
before every run; the machine is shared, so quote medians with it. herd's decode is also given at
its median token (herd bench's decode_token_ms_p50): the mean carries the host's stalls.

The GGUF must embed a vocabulary (herd convert --vocab ...): llama.cpp asserts on
tokenizer.ggml.model "none" when node-llama-cpp loads it.
"""
import argparse, json, os, statistics, subprocess, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("-p", type=int, default=256)
ap.add_argument("-n", type=int, default=64)
ap.add_argument("-t", type=int, default=2)
ap.add_argument("-r", type=int, default=5, help="rounds (one herd and one llama.cpp process each)")
ap.add_argument("--herd", default=os.path.join(root, "build", "herd"))
ap.add_argument("--peer-threads", default=None,
                help="comma-separated thread counts for llama.cpp (default: T and 1); the ratios use the faster one")
ap.add_argument("--json", action="store_true")
ap.add_argument("--mmap", action="store_true",
                help="both engines map the weight file (herd --mmap, llama.cpp's default useMmap); "
                     "default: both read it into memory (herd --no-mmap, llama.cpp useMmap false)")
ap.add_argument("--herd-args", default="", help="extra herd bench arguments, e.g. \"--kv-type f16\" (llama.cpp's default KV type)")
a = ap.parse_args()

peer_threads = [int(x) for x in (a.peer_threads or f"{a.t},1").split(",")]
peer_threads = list(dict.fromkeys(peer_threads))
herd_pf, herd_dc, herd_dc_p50, probe, probe_plain, load = [], [], [], [], [], []
cpp = {t: ([], []) for t in peer_threads}
bytes_per_token = None
for i in range(a.r):
    load.append(os.getloadavg()[0])
    out = subprocess.run([a.herd, "bench", "-m", a.model, "-p", str(a.p), "-n", str(a.n), "-d", str(a.p), "-t", str(a.t),
                          "-r", "1", "--json"] + (["--mmap"] if a.mmap else ["--no-mmap"]) + a.herd_args.split(), check=True, capture_output=True, text=True).stdout
    j = json.loads(out)
    herd_pf += j["prefill_tps"]; herd_dc += j["decode_tps"]; probe.append(j["probe_read_gbs"])
    probe_plain.append(j["probe_plain_read_gbs"])
    herd_dc_p50.append(1e3 / j["decode_token_ms_p50"])  # tok/s at the round's median token
    bytes_per_token = j["weight_bytes_per_token"] + j["kv_bytes_per_token"]
    msg = ""
    for t in peer_threads:
        load.append(os.getloadavg()[0])
        out = subprocess.run(["node", "peer.mjs", "bench", a.model, str(a.p), str(a.n), str(t), "1"] + ([] if a.mmap else ["nommap"]),
                             cwd=os.path.join(root, "bench", "llamacpp"), check=True, capture_output=True, text=True).stdout
        j = json.loads(out.strip().splitlines()[-1])
        cpp[t][0].extend(j["prefill_tps"]); cpp[t][1].extend(j["decode_tps"])
        msg += f"  llama.cpp -t {t} {cpp[t][0][-1]:.1f} / {cpp[t][1][-1]:.2f}"
    print(f"round {i + 1}/{a.r}: herd {herd_pf[-1]:.1f} / {herd_dc[-1]:.2f}{msg}"
          f"  tok/s prefill / decode, probe {probe[-1]:.1f} GB/s, load {load[-1 - len(peer_threads)]:.2f}", file=sys.stderr)

m = statistics.median
bw, bw_plain = m(probe), m(probe_plain)
# llama.cpp's better thread count per metric (by median), so the comparison never favours herd.
pf_t = max(peer_threads, key=lambda t: m(cpp[t][0]))
dc_t = max(peer_threads, key=lambda t: m(cpp[t][1]))
cpp_pf, cpp_dc = cpp[pf_t][0], cpp[dc_t][1]
def pct(tps, over=None):  # decode share of the roofline: bytes per token * tok/s over the probed bandwidth
    return 100.0 * bytes_per_token * tps / 1e9 / (over or bw)
res = {
    "model": a.model, "threads": a.t, "llamacpp_prefill_threads": pf_t, "llamacpp_decode_threads": dc_t,
    "llamacpp_by_threads": {str(t): {"prefill_tps_median": m(v[0]), "decode_tps_median": m(v[1])} for t, v in cpp.items()}, "prompt": a.p, "gen": a.n, "rounds": a.r,
    "load_avg_1min_median": m(load), "load_avg_1min_max": max(load),
    "probe_read_gbs_median": bw, "probe_plain_read_gbs_median": bw_plain, "decode_bytes_per_token": bytes_per_token,
    "herd_prefill_tps": m(herd_pf), "llamacpp_prefill_tps": m(cpp_pf), "prefill_ratio": m(herd_pf) / m(cpp_pf),
    "herd_decode_tps": m(herd_dc), "llamacpp_decode_tps": m(cpp_dc), "decode_ratio": m(herd_dc) / m(cpp_dc),
    "herd_decode_pct_roofline": pct(m(herd_dc)), "llamacpp_decode_pct_roofline": pct(m(cpp_dc)),
    "herd_decode_tps_at_median_token": m(herd_dc_p50), "herd_decode_pct_roofline_at_median_token": pct(m(herd_dc_p50)),
    "herd_decode_pct_plain_probe": pct(m(herd_dc), bw_plain), "llamacpp_decode_pct_plain_probe": pct(m(cpp_dc), bw_plain),
    "best": {"herd_prefill": max(herd_pf), "llamacpp_prefill": max(cpp_pf), "prefill_ratio": max(herd_pf) / max(cpp_pf),
             "herd_decode": max(herd_dc), "llamacpp_decode": max(cpp_dc), "decode_ratio": max(herd_dc) / max(cpp_dc),
             "probe_read_gbs": max(probe)},
    "raw": {"herd_prefill": herd_pf, "herd_decode": herd_dc, "herd_decode_at_median_token": herd_dc_p50,
            "llamacpp": {str(t): {"prefill": v[0], "decode": v[1]} for t, v in cpp.items()},
            "probe_read_gbs": probe, "probe_plain_read_gbs": probe_plain, "load_avg_1min": load},
}
if a.json:
    print(json.dumps(res, indent=1))
else:
    name = os.path.basename(a.model)
    print(f"{name}: {a.t} threads, prompt {a.p}, {a.n} decode tokens, {a.r} alternating rounds, "
          f"load avg median {m(load):.2f} (max {max(load):.2f}), probe {bw:.1f} GB/s (plain loop {bw_plain:.1f}), "
          f"{bytes_per_token / 2**20:.1f} MiB read per decode token, weights "
          f"{'memory-mapped (--mmap)' if a.mmap else 'read into memory'} by both engines")
    for t, v in cpp.items():
        print(f"  llama.cpp -t {t}: prefill {m(v[0]):.1f}, decode {m(v[1]):.2f} tok/s (median)")
    print(f"  herd -t {a.t} vs llama.cpp at its faster thread count (prefill -t {pf_t}, decode -t {dc_t}):")
    print(f"  {'':10} {'herd':>9} {'llama.cpp':>10} {'ratio':>6}")
    print(f"  {'prefill':10} {m(herd_pf):9.1f} {m(cpp_pf):10.1f} {m(herd_pf) / m(cpp_pf):6.2f}   tok/s, median")
    print(f"  {'decode':10} {m(herd_dc):9.2f} {m(cpp_dc):10.2f} {m(herd_dc) / m(cpp_dc):6.2f}   tok/s, median")
    print(f"  {'% roofline':10} {pct(m(herd_dc)):9.1f} {pct(m(cpp_dc)):10.1f}   (of the fastest read loop)")
    print(f"  {'% plain':10} {pct(m(herd_dc), bw_plain):9.1f} {pct(m(cpp_dc), bw_plain):10.1f}   (of the plain STREAM-like loop alone)")
    print(f"  herd at its median token: {m(herd_dc_p50):.2f} tok/s, {pct(m(herd_dc_p50)):.1f}% of the fastest read loop "
          f"(the mean above carries the host's stalls)")
    print(f"  best of {a.r}: prefill {max(herd_pf):.1f} vs {max(cpp_pf):.1f} ({max(herd_pf) / max(cpp_pf):.2f}x), "
          f"decode {max(herd_dc):.2f} vs {max(cpp_dc):.2f} ({max(herd_dc) / max(cpp_dc):.2f}x)")
