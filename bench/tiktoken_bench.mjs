// Times @dqbd/tiktoken (the WASM build of tiktoken's Rust core) on a text file, single thread,
// constructed from the same Llama 4 rank file, special tokens and pattern as herd. Meta's input
// slicing (400,000-char chunks, 25,000-char runs) is applied in JS first, as Meta's encoder does,
// and is included in the time, so the ids can be compared with herd's.
//   node bench/tiktoken_bench.mjs TOKENIZER.model TEXT_FILE [REPEAT]
import fs from "node:fs";
import { Tiktoken } from "@dqbd/tiktoken";

const [modelPath, textPath, repeatArg] = process.argv.slice(2);
const repeat = Number(repeatArg || 5);
const pattern =
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

function llama4Specials() {
  const t = ["<|begin_of_text|>", "<|end_of_text|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
    "<|header_start|>", "<|header_end|>", "<|eom|>", "<|eot|>", "<|step|>"];
  const r = (stem, a, b) => { for (let i = a; i <= b; i++) t.push(`<|${stem}${i}|>`); };
  r("text_post_train_reserved_special_token_", 0, 5);
  t.push("<|python_start|>", "<|python_end|>", "<|finetune_right_pad|>");
  r("text_post_train_reserved_special_token_", 8, 68);
  t.push("<|image_start|>", "<|image_end|>");
  r("vision_reserved_special_token_", 0, 1);
  t.push("<|tile_x_separator|>", "<|tile_y_separator|>");
  r("vision_reserved_special_token_", 2, 5);
  t.push("<|image|>");
  r("vision_reserved_special_token_", 6, 6);
  t.push("<|patch|>");
  r("vision_reserved_special_token_", 7, 1047);
  r("reasoning_reserved_special_token_", 0, 7);
  t.push("<|reasoning_thinking_start|>", "<|reasoning_thinking_end|>");
  for (let i = 0; t.length < 2048; i++) t.push(`<|reserved_special_token_${i}|>`);
  return Object.fromEntries(t.map((s, i) => [s, 200000 + i]));
}

const isSpace = (cp) => (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) || cp === 0x85 || cp === 0xa0 ||
  cp === 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp === 0x2028 || cp === 0x2029 || cp === 0x202f ||
  cp === 0x205f || cp === 0x3000;

// Meta's slicing over code points; yields strings.
function* metaSlices(text) {
  const cps = Array.from(text);  // code points
  for (let i = 0; i < cps.length || (i === 0 && cps.length === 0); i += 400000) {
    const chunk = cps.slice(i, i + 400000);
    let len = 0, start = 0;
    let space = chunk.length > 0 ? isSpace(chunk[0].codePointAt(0)) : false;
    for (let k = 0; k < chunk.length; k++) {
      const now = isSpace(chunk[k].codePointAt(0));
      if (now !== space) { len = 1; space = now; }
      else if (++len > 25000) { yield chunk.slice(start, k).join(""); start = k; len = 1; }
    }
    yield chunk.slice(start).join("");
    if (cps.length === 0) break;
  }
}

let t0 = performance.now();
const ranks = fs.readFileSync(modelPath, "utf8");
const enc = new Tiktoken(ranks, llama4Specials(), pattern);
const loadMs = performance.now() - t0;
const text = fs.readFileSync(textPath, "utf8");
const bytes = Buffer.byteLength(text, "utf8");

const runs = [];
let ids = null;
for (let r = 0; r < repeat; r++) {
  t0 = performance.now();
  const all = [];
  for (const slice of metaSlices(text)) all.push(enc.encode_ordinary(slice));
  const dt = (performance.now() - t0) / 1000;
  runs.push(bytes / dt / 1e6);
  ids = all;
}
// FNV-1a over the ids, as herd bench-tokenizer prints it.
let h = 0xcbf29ce484222325n, n = 0;
const prime = 0x100000001b3n, mask = (1n << 64n) - 1n;
for (const a of ids) for (const id of a) { h ^= BigInt(id); h = (h * prime) & mask; n++; }
const sorted = [...runs].sort((a, b) => a - b);
const mid = sorted.length >> 1;
const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
console.log(`tiktoken=@dqbd/tiktoken WASM`);
console.log(`bytes=${bytes} tokens=${n} ids_fnv1a=${h.toString(16).padStart(16, "0")}`);
console.log(`load_ms=${loadMs.toFixed(1)}`);
console.log(`encode_mbps_median=${median.toFixed(2)} runs=${runs.map((x) => x.toFixed(2)).join(",")}`);
enc.free();
