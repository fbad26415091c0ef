#!/usr/bin/env bash
# Tokenizer benchmark: herd vs tiktoken (npm @dqbd/tiktoken, the WASM build of tiktoken's Rust
# core), single thread, same Llama 4 rank file, special tokens, pattern and Meta input slicing.
# Not a test: run it by hand. Needs node/npm (benchmark-only dependency) and a built herd.
#
#   bench/tokenizer_bench.sh [RUNS] [BUILD_DIR]
#
# Each run is a fresh process for each tool; every process times REPEAT encodes of the whole
# ~12 MB corpus and reports its median. The script prints every run and the median over runs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
runs="${1:-5}"
build="${2:-$root/build}"
herd="$build/herd"
model="${HERD_TOKENIZER:-$root/../shared/testdata/tokenizer/llama4/tokenizer.model}"
out="$here/out"
repeat=3
mkdir -p "$out"

[ -x "$herd" ] || { echo "no herd binary at $herd (build first)" >&2; exit 1; }
[ -f "$model" ] || { echo "no tokenizer.model at $model" >&2; exit 1; }
if [ ! -d "$here/node_modules/@dqbd/tiktoken" ]; then
  (cd "$here" && npm install --no-audit --no-fund --silent)
fi

corpus="$out/mixed.txt"
node "$here/make_mixed_text.mjs" "$corpus"

herd_mbps=(); tik_mbps=(); herd_load=(); tik_load=(); batch=()
for r in $(seq 1 "$runs"); do
  h="$("$herd" bench-tokenizer --tokenizer "$model" --file "$corpus" --repeat "$repeat" --threads 2)"
  t="$(node "$here/tiktoken_bench.mjs" "$model" "$corpus" "$repeat")"
  hh="$(grep -o 'ids_fnv1a=[0-9a-f]*' <<<"$h")"; th="$(grep -o 'ids_fnv1a=[0-9a-f]*' <<<"$t")"
  if [ "$hh" != "$th" ]; then echo "MISMATCH: herd $hh vs tiktoken $th" >&2; exit 1; fi
  herd_mbps+=("$(grep -o 'encode_mbps_median=[0-9.]*' <<<"$h" | cut -d= -f2)")
  tik_mbps+=("$(grep -o 'encode_mbps_median=[0-9.]*' <<<"$t" | cut -d= -f2)")
  herd_load+=("$(grep -o 'load_ms_median=[0-9.]*' <<<"$h" | cut -d= -f2)")
  tik_load+=("$(grep -o 'load_ms=[0-9.]*' <<<"$t" | cut -d= -f2)")
  batch+=("$(grep -o 'batch_mbps_median=[0-9.]*' <<<"$h" | cut -d= -f2)")
  echo "run $r: herd ${herd_mbps[-1]} MB/s (load ${herd_load[-1]} ms, batch x2 ${batch[-1]} MB/s) | tiktoken ${tik_mbps[-1]} MB/s (load ${tik_load[-1]} ms) | ids identical ($hh)"
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
hm="$(median "${herd_mbps[@]}")"; tm="$(median "${tik_mbps[@]}")"
echo "corpus: $(wc -c <"$corpus") bytes ($corpus)"
echo "herd encode (1 thread):     $hm MB/s  (median of $runs runs)"
echo "tiktoken encode (1 thread): $tm MB/s  (median of $runs runs)"
echo "ratio herd/tiktoken:        $(awk -v a="$hm" -v b="$tm" 'BEGIN {printf "%.2fx", a/b}')"
echo "herd vocabulary load:       $(median "${herd_load[@]}") ms   (tiktoken: $(median "${tik_load[@]}") ms)"
echo "herd encode_batch (2 threads, ~4 KB documents): $(median "${batch[@]}") MB/s"
