#!/usr/bin/env bash
# Decode speed and peak memory against context length for a model with Scout's attention shapes
# (preset long-scout: 40 query heads, 8 KV heads, head_dim 128, 3 chunked : 1 global layers), with
# the KV cache in RAM and with the disk tier under a fixed RAM budget.
#
# Depths come from `herd bench --fill-kv N`: N SYNTHETIC positions written straight into the cache
# (random keys/values; a prefill of 256K tokens would take hours on this CPU). Only speed and memory
# mean anything there. llama.cpp cannot skip its prefill, so it is compared only where it can
# prefill in reasonable time (bench/compare_llamacpp.py, shallow depths).
#
# usage: bench/kv_context.sh [HERD] [MODEL_DIR] [KV_TYPE] [RAM_BUDGET] [DISK_DIR]
set -euo pipefail
HERD=${1:-build/herd}
MODEL=${2:-/tmp/herd-long-scout}
KV=${3:-bf16}
BUDGET=${4:-512M}
DISK=${5:-/tmp/herd-kv-disk}
GEN=${GEN:-8}
REPS=${REPS:-3}
RAM_DEPTHS=${RAM_DEPTHS:-"4096 16384 65536 262144"}
DISK_DEPTHS=${DISK_DEPTHS:-"65536 262144 1048576"}
[ -f "$MODEL/model.safetensors" ] || "$HERD" init --preset long-scout --seed 1 -o "$MODEL" >/dev/null
mkdir -p "$DISK"
echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); model $MODEL; KV $KV; decode $GEN tokens x $REPS reps (medians)"
echo
echo "| context | KV placement | decode tok/s | KV in RAM | KV on disk | peak RSS | bytes read per token |"
echo "|---|---|---|---|---|---|---|"
row() {
  local depth=$1 place=$2; shift 2
  "$HERD" bench -m "$MODEL" -p 0 -n "$GEN" -r "$REPS" --fill-kv "$depth" --kv-type "$KV" --json "$@" | python3 -c '
import json, sys
j = json.load(sys.stdin)
gib = lambda b: "%.2f GiB" % (b / 2**30) if b >= 2**30 else "%.0f MiB" % (b / 2**20)
print("| %d | %s | %.2f | %s | %s | %s | %s |" % (j["fill_kv"], sys.argv[1], j["decode_tps_median"], gib(j["kv_ram_bytes"]),
      gib(j["kv_disk_bytes"]), gib(j["peak_rss_bytes"]), gib(j["weight_bytes_per_token"] + j["kv_bytes_per_token"])))
' "$place"
}
for d in $RAM_DEPTHS; do row "$d" "RAM"; done
for d in $DISK_DEPTHS; do row "$d" "RAM budget $BUDGET + disk" --kv-ram "$BUDGET" --kv-disk "$DISK"; done
