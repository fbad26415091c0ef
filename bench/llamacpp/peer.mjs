// llama.cpp (through node-llama-cpp, which embeds it) as herd's peer: next-token probabilities
// for the interop test, and prefill / decode timings for bench/. CPU only, prebuilt binaries only
// (never downloads or builds anything).
//
//   node peer.mjs probs MODEL.gguf IDS            -> {"probs": [p0, p1, ...]} for the last position
//   node peer.mjs bench MODEL.gguf P N THREADS REPS -> {"prefill_tps": [...], "decode_tps": [...]}
//   node peer.mjs streams MODEL.gguf STREAMS N THREADS [REPS] [ROUND]
//                                                -> {"tps": [...], ...} aggregate output tokens/s
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
  // Timings as llama.cpp's own llama_decode sees them, comparable with herd bench:
  //  prefill: P prompt tokens in batches of up to 512 with logits for the last one only, plus one
  //           greedy pick (herd: forward() of the prompt, last-row logits);
  //  decode:  N single-token llama_decode calls, each computing the full 202k-vocab logits row and
  //           picking greedily in C++ (herd: argmax + forward() of one token).
  // evaluateWithoutGeneratingNewTokens must not be used for decode: it asks for no logits at all,
  // so llama.cpp skips the output projection (the largest matrix) and the timing is not comparable.
  // The sampler runs natively (temperature 0 = greedy, no grammar, no penalties); logits are never
  // copied into JS.
  const [p, n, threads, reps] = rest.slice(0, 4).map(Number);
  const useMmap = rest[4] !== "nommap";  // "nommap": weights read into memory, as herd --no-mmap
  const model = await llama.loadModel({ modelPath, gpuLayers: 0, useMmap });
  const ctx = await model.createContext({ contextSize: p + n + 16, threads: { ideal: threads, min: threads }, batchSize: 512, sequences: 1 });
  const seq = ctx.getSequence();
  const prefill = [], decode = [];
  // Deterministic token ids spread over the vocabulary (no tokenizer needed), as herd bench does.
  const V = model.tokens.vocabSize ?? model.fileInsights.metadata?.llama4?.vocab_size ?? 32000;
  const ids = (len, salt) => Array.from({ length: len }, (_, i) => (i * 7919 + 13 + salt * 104729) % V);
  const opts = { temperature: 0, yieldEogToken: true };
  const run = async (prompt, gen) => {
    await seq.clearHistory();
    const t0 = process.hrtime.bigint();
    const it = seq.evaluate(prompt, opts);
    await it.next();  // prefill + first greedy token
    const t1 = process.hrtime.bigint();
    for (let i = 0; i < gen; ++i) await it.next();
    const t2 = process.hrtime.bigint();
    await it.return();
    return [prompt.length / (Number(t1 - t0) / 1e9), gen / (Number(t2 - t1) / 1e9)];
  };
  await run(ids(Math.min(p, 256), 99), 4);  // warm-up: fault in the mapped weights
  for (let r = 0; r < reps; ++r) {
    const [pf, dc] = await run(ids(p, r), n);
    prefill.push(pf);
    decode.push(dc);
  }
  process.stdout.write(JSON.stringify({ prefill_tps: prefill, decode_tps: decode, threads: ctx.currentThreads ?? threads }) + "\n");
  await ctx.dispose();
  await model.dispose();
} else if (mode === "streams") {
  // Aggregate output tokens/s of STREAMS concurrent generations, the llama.cpp counterpart of
  // bench/serve_throughput.mjs: one context with STREAMS sequences, one evaluate() loop per
  // sequence, all started at once; node-llama-cpp queues the pending tokens of all sequences and
  // hands them to llama.cpp as one llama_decode per step (continuous batching, as llama-server
  // does with --parallel). Each sequence gets its own prompt, the chat prompt serve_throughput.mjs
  // sends rendered with the Llama 4 template herd serve uses, and generates N tokens greedily
  // (the first one comes out of the prefill, as herd's first streamed token does; end-of-generation
  // tokens do not stop it). Timed: from starting all sequences to the last token of the last one,
  // prefill included. A warm-up round (4 tokens per stream) runs first and is not reported.
  const [streams, n, threads] = rest.slice(0, 3).map(Number);
  const reps = Number(rest[3] ?? 1);
  const round = rest[4] ?? "peer";
  // Weights read into memory, as herd serve does for a model that takes under half of the memory.
  const model = await llama.loadModel({ modelPath, gpuLayers: 0, useMmap: false });
  const ctx = await model.createContext({ contextSize: 256, sequences: streams, batchSize: 512,
                                          threads: { ideal: threads, min: threads } });
  const seqs = Array.from({ length: streams }, () => ctx.getSequence());
  const chat = (content) =>
    "<|begin_of_text|><|header_start|>user<|header_end|>\n\n" + content +
    "<|eot|><|header_start|>assistant<|header_end|>\n\n";
  const prompt = (tag, i) => model.tokenize(chat(`Request ${tag}-${i}: write a long story about a lighthouse keeper.`), true);
  const opts = { temperature: 0, yieldEogToken: true };
  const gen = async (seq, ids, count) => {
    const it = seq.evaluate(ids, opts);
    let k = 0;
    for (; k < count; ++k) if ((await it.next()).done) break;
    await it.return();
    return k;
  };
  const runRound = async (tag, count) => {
    const prompts = seqs.map((_, i) => prompt(tag, i));
    for (const s of seqs) await s.clearHistory();
    const t0 = process.hrtime.bigint();
    const counts = await Promise.all(seqs.map((s, i) => gen(s, prompts[i], count)));
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    return { tps: counts.reduce((a, b) => a + b, 0) / secs, prompt_tokens: prompts.map((p) => p.length) };
  };
  await runRound("warmup", 4);
  const tps = [];
  let promptTokens = [];
  for (let r = 0; r < reps; ++r) {
    const res = await runRound(reps === 1 ? round : `${round}-${r}`, n);
    tps.push(res.tps);
    promptTokens = res.prompt_tokens;
  }
  process.stdout.write(JSON.stringify({ streams, tokens_per_stream: n, threads: ctx.currentThreads ?? threads, tps,
                                        prompt_tokens: promptTokens }) + "\n");
  await ctx.dispose();
  await model.dispose();
} else {
  console.error("usage: peer.mjs probs MODEL IDS | bench MODEL P N THREADS REPS | streams MODEL STREAMS N THREADS [REPS] [ROUND]");
  process.exit(2);
}
