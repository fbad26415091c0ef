// Aggregate output tokens/s of `herd serve` at 1, 4 and 8 concurrent streams (continuous batching).
// Loopback only; no dependencies beyond node itself.
//
//   node bench/serve_throughput.mjs MODEL_DIR [--tokenizer PATH] [--tokens N] [--reps R] [--threads T]
//
// Each round starts C streamed chat completions at once (max_tokens N, temperature 0) and measures
// the wall time until all have finished; aggregate tokens/s = completion tokens (from usage) /
// wall time. Each concurrency level is run R times; medians are reported, with the ratio of the
// 4- and 8-stream medians to the 1-stream median measured in the same run.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const model = args[0];
if (!model || model.startsWith("--")) {
  console.error("usage: node bench/serve_throughput.mjs MODEL_DIR [--tokenizer PATH] [--tokens N] [--reps R] [--threads T]");
  process.exit(2);
}
const herdBin = process.env.HERD_BINARY || path.join(here, "..", "build", "herd");
const N = Number(opt("--tokens", "32"));
const R = Number(opt("--reps", "3"));
const levels = (opt("--levels", "1,4,8")).split(",").map(Number);
const serveArgs = ["serve", "-m", model, "--host", "127.0.0.1", "--port", "0", "--parallel", String(Math.max(...levels)),
                   "--prefix-cache", "0"];
if (opt("--tokenizer")) serveArgs.push("--tokenizer", opt("--tokenizer"));
if (opt("--threads")) serveArgs.push("-t", opt("--threads"));

const proc = spawn(herdBin, serveArgs, { stdio: ["ignore", "ignore", "pipe"] });
let log = "";
const url = await new Promise((resolve, reject) => {
  proc.stderr.on("data", (d) => {
    log += d;
    const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
    if (m) resolve(m[1]);
  });
  proc.on("exit", (c) => reject(new Error("herd serve exited " + c + "\n" + log)));
});

async function stream(i, round) {
  const r = await fetch(url + "/v1/chat/completions", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      messages: [{ role: "user", content: `Request ${round}-${i}: write a long story about a lighthouse keeper.` }],
      max_tokens: N, temperature: 0, stream: true, stream_options: { include_usage: true },
    }),
  });
  if (!r.ok) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
  const text = await r.text();
  const usage = text.split("\n").filter((l) => l.startsWith("data: {")).map((l) => JSON.parse(l.slice(6)))
    .find((j) => j.usage);
  return usage.usage.completion_tokens;
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
await stream(0, "warmup");
const results = {};
for (const c of levels) {
  const tps = [];
  for (let rep = 0; rep < R; rep++) {
    const t0 = performance.now();
    const counts = await Promise.all(Array.from({ length: c }, (_, i) => stream(i, `${c}-${rep}`)));
    const secs = (performance.now() - t0) / 1000;
    tps.push(counts.reduce((a, b) => a + b, 0) / secs);
  }
  results[c] = { median_tps: median(tps), runs: tps.map((x) => +x.toFixed(2)) };
  console.error(`${c} stream(s): median ${median(tps).toFixed(2)} tok/s  runs ${tps.map((x) => x.toFixed(2)).join(", ")}`);
}
const base = results[levels[0]].median_tps;
for (const c of levels) results[c].ratio_vs_1 = +(results[c].median_tps / base).toFixed(2);
proc.kill("SIGTERM");
console.log(JSON.stringify({ model, tokens_per_stream: N, reps: R, results }, null, 1));
