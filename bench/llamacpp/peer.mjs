// llama.cpp (through node-llama-cpp, which embeds it) as herd's peer: next-token probabilities
// for the interop test, and prefill / decode timings for bench/. CPU only, prebuilt binaries only
// (never downloads or builds anything).
//
//   node peer.mjs probs MODEL.gguf IDS            -> {"probs": [p0, p1, ...]} for the last position
//   node peer.mjs bench MODEL.gguf P N THREADS REPS -> {"prefill_tps": [...], "decode_tps": [...]}
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const [mode, modelPath, ...rest] = process.argv.slice(2);
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });

if (mode === "probs") {
  const ids = rest[0].split(",").map(Number);
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
  const ctx = await model.createContext({ contextSize: Math.max(256, ids.length + 8), threads: 2, batchSize: 512 });
  const seq = ctx.getSequence();
  const input = ids.slice(0, -1);
  input.push([ids[ids.length - 1], { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } }]);
  const out = await seq.controlledEvaluate(input);
  const probs = new Array(model.tokens.sizes ? 0 : 0);
  const map = out[ids.length - 1].next.probabilities;
  const nVocab = Number(rest[1] ?? 0) || map.size;
  const arr = new Float64Array(nVocab);
  for (const [tok, p] of map) arr[tok] = p;
  process.stdout.write(JSON.stringify({ probs: Array.from(arr) }) + "\n");
  await ctx.dispose();
  await model.dispose();
} else if (mode === "bench") {
  const [p, n, threads, reps] = rest.map(Number);
  const model = await llama.loadModel({ modelPath, gpuLayers: 0, useMmap: true });
  const ctx = await model.createContext({ contextSize: p + n + 16, threads, batchSize: 512, sequences: 1 });
  const prefill = [], decode = [];
  // Deterministic token ids spread over the vocabulary (no tokenizer needed).
  const V = model.fileInsights.metadata?.llama4?.vocab_size ?? 32000;
  const prompt = Array.from({ length: p }, (_, i) => (i * 7919 + 13) % V);
  for (let r = 0; r < reps; ++r) {
    const seq = ctx.getSequence();
    let t0 = process.hrtime.bigint();
    await seq.evaluateWithoutGeneratingNewTokens(prompt);
    let t1 = process.hrtime.bigint();
    prefill.push(p / (Number(t1 - t0) / 1e9));
    // Decode: n single-token llama_decode calls through the KV cache (token ids fixed in advance,
    // so no sampling cost is timed on either side of the comparison).
    t0 = process.hrtime.bigint();
    for (let i = 0; i < n; ++i) await seq.evaluateWithoutGeneratingNewTokens([(i * 31337 + 5) % V]);
    t1 = process.hrtime.bigint();
    decode.push(n / (Number(t1 - t0) / 1e9));
    seq.dispose();
  }
  process.stdout.write(JSON.stringify({ prefill_tps: prefill, decode_tps: decode }) + "\n");
  await ctx.dispose();
  await model.dispose();
} else {
  console.error("usage: peer.mjs probs MODEL IDS | bench MODEL P N THREADS REPS");
  process.exit(2);
}
