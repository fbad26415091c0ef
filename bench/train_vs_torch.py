#!/usr/bin/python3
"""Training throughput of `herd train` against PyTorch (Debian python3-torch) on the same
Llama-4-style MoE architecture, batch and sequence length, measured in one run.

Both sides: fp32, one thread (torch's OpenBLAS included), AdamW, the same model shape. Each repeat runs herd and then torch;
the reported numbers are medians over repeats of the median step time (first steps dropped).
MFU = 6 x active parameters x tokens/s / peak, with the peak measured here as the best
single-thread fp32 matmul rate (torch.mm, 1024^3).

usage: /usr/bin/python3 bench/train_vs_torch.py [--herd build/herd] [--repeats 3] [--steps 8] [small model flags]
"""
import argparse
import json
import math
import os
import statistics
import struct
import subprocess
import sys
import shutil
import tempfile
import time

# One thread for torch means one BLAS thread too: torch.set_num_threads does not reach Debian's
# OpenBLAS (pthreads build), which otherwise runs every matmul on all cores. These must be set
# before torch loads the library.
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import torch
import torch.nn.functional as F

torch.set_num_threads(1)


def write_shard(path, toks, vocab):
    payload = struct.pack(f"<{len(toks)}H", *toks)
    h = 1469598103934665603
    for b in payload:
        h ^= b
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    with open(path, "wb") as f:
        f.write(b"HERDTOK1" + struct.pack("<IIQQ", 1, vocab, len(toks), h) + payload)


def make_data(d, vocab, n=200_000):
    g = torch.Generator().manual_seed(0)
    toks = torch.randint(0, vocab, (n,), generator=g).tolist()
    write_shard(os.path.join(d, "train_000.bin"), toks, vocab)
    json.dump({"vocab_size": vocab, "shards": [{"file": "train_000.bin", "split": "train", "tokens": n}]},
              open(os.path.join(d, "data.json"), "w"))


# ---------------------------------------------------------------- the same architecture in torch
class Model(torch.nn.Module):
    def __init__(s, a):
        super().__init__()
        s.a = a
        D, V, H, KV, E, Fe = a.hidden, a.vocab, a.heads, a.kv_heads, a.experts, a.expert_ffn
        hd = D // H
        s.hd = hd
        std = 0.02
        P = lambda *shape: torch.nn.Parameter(torch.randn(*shape) * std)
        s.embed = P(V, D)
        s.layers = torch.nn.ModuleList()
        for l in range(a.layers):
            m = torch.nn.Module()
            m.n1, m.n2 = torch.nn.Parameter(torch.ones(D)), torch.nn.Parameter(torch.ones(D))
            m.q, m.k, m.v, m.o = P(H * hd, D), P(KV * hd, D), P(KV * hd, D), P(D, H * hd)
            m.router, m.gate_up, m.down = P(E, D), P(E, D, 2 * Fe), P(E, Fe, D)
            m.sg, m.su, m.sd = P(Fe, D), P(Fe, D), P(D, Fe)
            m.rope = (l + 1) % 4 != 0
            s.layers.append(m)
        s.norm = torch.nn.Parameter(torch.ones(D))
        s.lm_head = P(V, D)
        inv = 1.0 / (500000.0 ** (torch.arange(0, hd, 2).double() / hd))
        ang = torch.arange(a.seq).double()[:, None] * inv[None, :]
        s.register_buffer("cos", ang.cos().float())
        s.register_buffer("sin", ang.sin().float())
        T = a.seq
        i = torch.arange(T)
        causal = i[None, :] <= i[:, None]
        chunked = causal & ((i[None, :] // a.chunk) == (i[:, None] // a.chunk)) if a.chunk else causal
        s.register_buffer("mask_full", causal)
        s.register_buffer("mask_chunk", chunked)

    def rms(s, x, w=None):
        y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5)
        return y * w if w is not None else y

    def rope(s, x):  # x [B, T, h, hd], interleaved pairs
        x2 = x.reshape(*x.shape[:-1], -1, 2)
        a, b = x2[..., 0], x2[..., 1]
        c, sn = s.cos[None, :, None, :], s.sin[None, :, None, :]
        return torch.stack((a * c - b * sn, a * sn + b * c), -1).flatten(-2)

    def forward(s, ids, tg):
        a = s.a
        B, T = ids.shape
        H, KV, hd = a.heads, a.kv_heads, s.hd
        h = s.embed[ids]
        for m in s.layers:
            x = s.rms(h, m.n1)
            q = (x @ m.q.T).view(B, T, H, hd)
            k = (x @ m.k.T).view(B, T, KV, hd)
            v = (x @ m.v.T).view(B, T, KV, hd)
            if m.rope:
                q, k = s.rms(s.rope(q)), s.rms(s.rope(k))
            k = k.repeat_interleave(H // KV, 2)
            v = v.repeat_interleave(H // KV, 2)
            qt, kt, vt = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            sc = (qt @ kt.transpose(-1, -2)) * hd ** -0.5
            sc = sc.masked_fill(~(s.mask_chunk if m.rope else s.mask_full), float("-inf"))
            att = torch.softmax(sc, -1) @ vt
            h = h + att.transpose(1, 2).reshape(B, T, H * hd) @ m.o.T
            f = s.rms(h, m.n2).reshape(B * T, -1)
            out = (F.silu(f @ m.sg.T) * (f @ m.su.T)) @ m.sd.T
            z = f @ m.router.T
            top = z.argmax(-1)
            score = torch.sigmoid(z.gather(1, top[:, None]))
            xin = f * score
            for e in range(a.experts):
                sel = (top == e).nonzero(as_tuple=True)[0]
                if sel.numel() == 0:
                    continue
                gu = xin[sel] @ m.gate_up[e]
                g, u = gu.chunk(2, -1)
                out = out.index_add(0, sel, (F.silu(g) * u) @ m.down[e])
            h = h + out.view(B, T, -1)
        logits = s.rms(h, s.norm) @ s.lm_head.T
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), tg.reshape(-1))


def torch_steps(a):
    torch.manual_seed(0)
    m = Model(a)
    decay = [p for n, p in m.named_parameters() if p.dim() >= 2 and n != "embed"]
    nodecay = [p for n, p in m.named_parameters() if not (p.dim() >= 2 and n != "embed")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95))
    g = torch.Generator().manual_seed(1)
    times = []
    for _ in range(a.steps):
        ids = torch.randint(0, a.vocab, (a.batch, a.seq + 1), generator=g)
        t0 = time.perf_counter()
        loss = m(ids[:, :-1], ids[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[2:])


def herd_steps(a, data, out):
    cmd = [a.herd, "train", "--data", data, "-o", out, "--steps", str(a.steps), "--warmup", "2", "--eval-every", "0",
           "--save-every", "0", "-q", "-t", "1", "--layers", str(a.layers), "--hidden", str(a.hidden), "--heads",
           str(a.heads), "--kv-heads", str(a.kv_heads), "--experts", str(a.experts), "--expert-ffn", str(a.expert_ffn),
           "--chunk", str(a.chunk), "--batch", str(a.batch), "--seq", str(a.seq), "--balance", "none"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    el = [json.loads(l)["elapsed_s"] for l in open(os.path.join(out, "log.jsonl")) if '"type":"step"' in l]
    dts = [b - a_ for a_, b in zip(el, el[1:])]
    args = json.load(open(os.path.join(out, "train_args.json")))
    return statistics.median(dts[1:]), args["params_active"]


def peak_gflops():
    x, y = torch.randn(1024, 1024), torch.randn(1024, 1024)
    best = 0
    for _ in range(8):
        t0 = time.perf_counter()
        x @ y
        best = max(best, 2 * 1024 ** 3 / (time.perf_counter() - t0) / 1e9)
    return best


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--herd", default=os.path.join(os.path.dirname(__file__), "..", "build", "herd"))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--experts", type=int, default=8)
    p.add_argument("--expert-ffn", type=int, default=256)
    p.add_argument("--chunk", type=int, default=64)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--vocab", type=int, default=6144)
    a = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="herd_bench_")
    try:
        run_all(a, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # data and checkpoints: hundreds of MB


def run_all(a, tmp):
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    make_data(data, a.vocab)
    tokens = a.batch * a.seq
    hs, ts = [], []
    active = 0
    for r in range(a.repeats):
        dt, active = herd_steps(a, data, os.path.join(tmp, f"run{r}"))
        hs.append(dt)
        ts.append(torch_steps(a))
        print(f"repeat {r}: herd {tokens / hs[-1]:.0f} tok/s, torch {tokens / ts[-1]:.0f} tok/s", file=sys.stderr)
    peak = peak_gflops()
    h, t = tokens / statistics.median(hs), tokens / statistics.median(ts)
    import ctypes  # the BLAS torch uses must report one thread (see the top of this file)
    try:
        blas_threads = ctypes.CDLL("libopenblas.so.0").openblas_get_num_threads()
    except (OSError, AttributeError):
        blas_threads = None
    res = {"config": vars(a), "tokens_per_step": tokens, "params_active": active, "peak_gflops_1thread": peak,
           "torch_blas_threads": blas_threads, "threads_in_process": len(os.listdir("/proc/self/task")),
           "herd_tokens_per_s": h, "torch_tokens_per_s": t, "speedup": h / t,
           "herd_mfu": 6 * active * h / (peak * 1e9), "torch_mfu": 6 * active * t / (peak * 1e9),
           "torch_version": torch.__version__}
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
