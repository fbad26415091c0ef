// Aggregate output tokens/s of `herd serve` at 1, 4 and 8 concurrent streams (continuous batching).
// Loopback only; no dependencies beyond node itself.
//
//   node bench/serve_throughput.mjs MODEL [--tokenizer PATH] [--tokens N] [--reps R] [--threads T]
//                                  [--levels 1,4,8] [--llamacpp] [--peer-threads 1,2]
//
// Each round starts C streamed chat completions at once (max_tokens N, temperature 0) and measures
// the wall time until all have finished; aggregate tokens/s = completion tokens (from usage) /
// wall time. Each concurrency level is run R times; medians are reported, with the ratio of the
// 4- and 8-stream medians to the 1-stream median measured in the same run.
//
// --llamacpp (MODEL must then be a .gguf, which herd serve loads too): after each herd round, the
// same round on llama.cpp through bench/llamacpp/peer.mjs `streams` (one context with C sequences,
// C concurrent generations of N tokens from the same chat prompts), once per --peer-threads value.
// Rounds alternate herd / llama.cpp so both see the same machine load; the 1-minute load average
// is recorded before each round. llama.cpp's figure per level is the faster of its thread counts
// (median over repetitions). Output: a markdown table on stderr, JSON on stdout.
import os from "node:os";
import { spawn, execFile } from "node:child_process";
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
  console.error("usage: node bench/serve_throughput.mjs MODEL [--tokenizer PATH] [--tokens N] [--reps R] [--threads T] " +
                "[--levels 1,4,8] [--llamacpp] [--peer-threads 1,2]");
  process.exit(2);
}
const herdBin = process.env.HERD_BINARY || path.join(here, "..", "build", "herd");
const N = Number(opt("--tokens", "32"));
const R = Number(opt("--reps", "3"));
const levels = (opt("--levels", "1,4,8")).split(",").map(Number);
const withPeer = args.includes("--llamacpp");
const peerThreads = (opt("--peer-threads", "1,2")).split(",").map(Number);
if (withPeer && !model.endsWith(".gguf")) {
  console.error("--llamacpp needs a .gguf model (herd convert), which both engines then load");
  process.exit(2);
}
const serveArgs = ["serve", "-m", model, "--host", "127.0.0.1", "--port", "0", "--parallel", String(Math.max(...levels)),
                   "--prefix-cache", "0"];
if (opt("--tokenizer")) serveArgs.push("--tokenizer", opt("--tokenizer"));
if (opt("--threads")) serveArgs.push("-t", opt("--threads"));

const proc = spawn(herdBin, serveArgs, { stdio: ["ignore", "ignore", "pipe"] });
process.on("exit", () => proc.kill("SIGTERM"));  // never leave the server behind, also on errors
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
  return usage.usage;
}

async function herdRound(c, tag) {
  const t0 = performance.now();
  const usages = await Promise.all(Array.from({ length: c }, (_, i) => stream(i, tag)));
  const secs = (performance.now() - t0) / 1000;
  return { tps: usages.reduce((a, u) => a + u.completion_tokens, 0) / secs,
           completion_tokens: usages.map((u) => u.completion_tokens), prompt_tokens: usages.map((u) => u.prompt_tokens) };
}

// One llama.cpp round in a fresh process (model load and a warm-up round are not timed).
function peerRound(c, threads, tag) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(here, "llamacpp", "peer.mjs"), "streams", model, String(c), String(N),
                                String(threads), "1", tag], { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`peer.mjs failed: ${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.trim().split("\n").pop()));
    });
  });
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const load1 = () => +os.loadavg()[0].toFixed(2);
const fmt = (x) => x.toFixed(2);
await stream(0, "warmup");
const herd = Object.fromEntries(levels.map((c) => [c, { runs: [], load: [] }]));
const peer = Object.fromEntries(levels.map((c) => [c, Object.fromEntries(peerThreads.map((t) => [t, { runs: [], load: [] }]))]));
let promptTokens = {};
for (let rep = 0; rep < R; rep++) {
  for (const c of levels) {
    const tag = `${c}-${rep}`;
    let load = load1();
    const h = await herdRound(c, tag);
    herd[c].runs.push(h.tps);
    herd[c].load.push(load);
    promptTokens.herd = h.prompt_tokens;
    let line = `rep ${rep} ${c} stream(s): herd ${fmt(h.tps)} tok/s (load ${load}, completion tokens ${h.completion_tokens.join(",")})`;
    if (withPeer) {
      for (const t of peerThreads) {
        load = load1();
        const p = await peerRound(c, t, tag);
        peer[c][t].runs.push(p.tps[0]);
        peer[c][t].load.push(load);
        promptTokens.llamacpp = p.prompt_tokens;
        line += `; llama.cpp -t ${t} ${fmt(p.tps[0])} tok/s (load ${load})`;
      }
    }
    console.error(line);
  }
}
proc.kill("SIGTERM");

const results = {};
for (const c of levels) {
  results[c] = { herd_tps: median(herd[c].runs), herd_runs: herd[c].runs.map((x) => +fmt(x)), load: herd[c].load };
  if (withPeer) {
    const byT = Object.fromEntries(peerThreads.map((t) => [t, { median_tps: median(peer[c][t].runs),
      runs: peer[c][t].runs.map((x) => +fmt(x)), load: peer[c][t].load }]));
    const best = peerThreads.reduce((a, t) => (byT[t].median_tps > byT[a].median_tps ? t : a), peerThreads[0]);
    Object.assign(results[c], { llamacpp_tps: byT[best].median_tps, llamacpp_threads: best, llamacpp: byT,
                                herd_vs_llamacpp: +(median(herd[c].runs) / byT[best].median_tps).toFixed(2) });
  }
}
const b = levels[0];
for (const c of levels) {
  results[c].herd_scaling = +(results[c].herd_tps / results[b].herd_tps).toFixed(2);
  if (withPeer) results[c].llamacpp_scaling = +(results[c].llamacpp_tps / results[b].llamacpp_tps).toFixed(2);
}

const rows = [];
if (withPeer) {
  rows.push(`| streams | herd tok/s | llama.cpp tok/s (threads) | herd / llama.cpp | herd scaling vs ${b} | llama.cpp scaling vs ${b} | ` +
            `llama.cpp -t ${peerThreads.join(" / -t ")} medians | load (1 min) |`);
  rows.push("| --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const c of levels) {
    const r = results[c];
    const loads = [...r.load, ...peerThreads.flatMap((t) => r.llamacpp[t].load)];
    rows.push(`| ${c} | ${fmt(r.herd_tps)} | ${fmt(r.llamacpp_tps)} (-t ${r.llamacpp_threads}) | ${fmt(r.herd_vs_llamacpp)} | ` +
              `${fmt(r.herd_scaling)} | ${fmt(r.llamacpp_scaling)} | ${peerThreads.map((t) => fmt(r.llamacpp[t].median_tps)).join(" / ")} | ` +
              `${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)} |`);
  }
} else {
  rows.push("| concurrent streams | aggregate tok/s (median) | runs | ratio vs 1 stream | load (1 min) |");
  rows.push("| --- | --- | --- | --- | --- |");
  for (const c of levels) {
    const r = results[c];
    rows.push(`| ${c} | ${fmt(r.herd_tps)} | ${r.herd_runs.join(", ")} | ${fmt(r.herd_scaling)} | ${r.load.join(", ")} |`);
  }
}
console.error(rows.join("\n"));
console.log(JSON.stringify({ model, tokens_per_stream: N, reps: R, prompt_tokens: promptTokens, results }, null, 1));
