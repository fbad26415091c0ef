#!/bin/sh
# herd vs llama.cpp (node-llama-cpp's prebuilt libllama, bench/llamacpp) on mini-scout, Q4_K_M and
# Q8_0: prefill and decode tok/s, herd/llama.cpp ratios and the decode share of the memory
# roofline (bench/compare_llamacpp.py: alternating runs, medians, load average), then herd's own
# thread scaling (1 vs 2 threads, alternating). Models are made in $HERD_BENCH_DIR (default
# /tmp/herd-bench) when missing; nothing is written to the repository.
#
#   sh bench/decode_roofline.sh [ROUNDS]      (default 5; env: P=256 N=64 T=2 MMAP=1)
#
# Both engines read the weights into memory (herd --no-mmap, herd's default for a model this size;
# node-llama-cpp useMmap: false); MMAP=1: both map the file (herd --mmap, llama.cpp's default).
#
# Needs: build/herd, node, and `npm ci` in bench/llamacpp.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
herd=$root/build/herd
dir=${HERD_BENCH_DIR:-/tmp/herd-bench}
rounds=${1:-5}
P=${P:-256} N=${N:-64} T=${T:-2}
vocab=${HERD_SHARED:-$root/../shared}/testdata/gguf/vocab/ggml-vocab-llama4.gguf

mkdir -p "$dir"
if [ ! -f "$dir/hf/config.json" ]; then
  "$herd" init --preset mini-scout --seed 1 -o "$dir/hf"
fi
for type in q4_k_m q8_0; do
  if [ ! -f "$dir/ms-$type.gguf" ]; then
    # llama.cpp needs an embedded tokenizer; the ids used by both benches do not depend on it.
    "$herd" convert -q -m "$dir/hf" -o "$dir/ms-$type.gguf" --type $type --vocab "$vocab"
  fi
done

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# herd $(git -C "$root" rev-parse --short HEAD); load average now: $(cut -d" " -f1-3 /proc/loadavg)"
for type in q4_k_m q8_0; do
  python3 "$root/bench/compare_llamacpp.py" "$dir/ms-$type.gguf" -p "$P" -n "$N" -t "$T" -r "$rounds" ${MMAP:+--mmap}
done

# Thread scaling of herd's pool: prefill (row tiles x token groups) and decode (row split).
echo "herd thread scaling, ms-q4_k_m.gguf (alternating 1 and 2 threads, $rounds rounds, medians):"
for t in 1 2; do : > "$dir/scale-$t.txt"; done
i=0
while [ $i -lt "$rounds" ]; do
  for t in 1 2; do
    "$herd" bench -m "$dir/ms-q4_k_m.gguf" -p "$P" -n "$N" -r 1 -t $t --json $(if [ -n "${MMAP:-}" ]; then echo --mmap; else echo --no-mmap; fi) |
      python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["prefill_tps"][0], j["decode_tps"][0])' >> "$dir/scale-$t.txt"
  done
  i=$((i + 1))
done
python3 - "$dir/scale-1.txt" "$dir/scale-2.txt" <<'PY'
import statistics, sys
m = statistics.median
r = [[list(map(float, l.split())) for l in open(f)] for f in sys.argv[1:]]
pf = [m([x[0] for x in v]) for v in r]
dc = [m([x[1] for x in v]) for v in r]
print(f"  prefill  1 thread {pf[0]:.1f}  2 threads {pf[1]:.1f} tok/s  ({pf[1] / pf[0]:.2f}x)")
print(f"  decode   1 thread {dc[0]:.2f}  2 threads {dc[1]:.2f} tok/s  ({dc[1] / dc[0]:.2f}x)")
PY
