// Writes the benchmark corpus: about 12 MB of mixed text, the same bytes on every run.
//   node bench/make_mixed_text.mjs OUT.txt [BYTES]
// Sources, each cut into paragraphs (blank-line separated blocks) and then drawn in a fixed
// pseudo-random order until the size is reached:
//   - English legal prose: every file in /usr/share/common-licenses (GPL, Apache, ...);
//   - C/C++ code: libstdc++ and glibc headers from /usr/include (a fixed list);
//   - multilingual snippets, code, numbers, emoji, odd white space: the "text" of every case in
//     ../shared/testdata/tokenizer/{llama4,llama3}/cases.jsonl (except the 26,005-char run).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
const target = Number(process.argv[3] || 12_000_000);
if (!out) throw new Error("usage: make_mixed_text.mjs OUT.txt [BYTES]");

const paragraphs = { prose: [], code: [], cases: [] };
const split = (text) => text.split(/\n\s*\n/).filter((p) => p.trim().length > 0);

const licDir = "/usr/share/common-licenses";
for (const f of fs.readdirSync(licDir).sort()) {
  const p = path.join(licDir, f);
  if (fs.statSync(p).isFile()) paragraphs.prose.push(...split(fs.readFileSync(p, "utf8")));
}
const headers = [
  "/usr/include/stdio.h", "/usr/include/stdlib.h", "/usr/include/string.h", "/usr/include/math.h",
  "/usr/include/c++/12/bits/stl_vector.h", "/usr/include/c++/12/bits/stl_algo.h",
  "/usr/include/c++/12/bits/basic_string.h", "/usr/include/c++/12/bits/stl_tree.h",
  "/usr/include/c++/12/bits/hashtable.h", "/usr/include/c++/12/bits/shared_ptr_base.h",
];
for (const h of headers) if (fs.existsSync(h)) paragraphs.code.push(...split(fs.readFileSync(h, "utf8")));
const shared = path.resolve(here, "../../shared/testdata/tokenizer");
for (const f of ["llama4/cases.jsonl", "llama3/cases.jsonl", "llama4/cases_special.jsonl"]) {
  for (const line of fs.readFileSync(path.join(shared, f), "utf8").split("\n")) {
    if (!line) continue;
    const c = JSON.parse(line);
    if (c.text.length > 0 && c.text.length < 5000) paragraphs.cases.push(c.text);
  }
}

// xorshift32: deterministic across runs and machines.
let s = 0x12345678;
const rand = (n) => {
  s ^= s << 13; s >>>= 0;
  s ^= s >>> 17;
  s ^= s << 5; s >>>= 0;
  return s % n;
};
// Mix by bytes: roughly 55% prose, 30% code, 15% case snippets.
const pick = () => {
  const r = rand(100);
  const list = r < 55 ? paragraphs.prose : r < 85 ? paragraphs.code : paragraphs.cases;
  return list[rand(list.length)];
};
const parts = [];
let size = 0;
while (size < target) {
  const p = pick() + "\n\n";
  parts.push(p);
  size += Buffer.byteLength(p, "utf8");
}
fs.writeFileSync(out, parts.join(""));
const counts = Object.fromEntries(Object.entries(paragraphs).map(([k, v]) => [k, v.length]));
console.log(`wrote ${out}: ${size} bytes from paragraphs ${JSON.stringify(counts)}`);
