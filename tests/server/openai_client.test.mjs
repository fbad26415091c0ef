// herd serve driven by the official openai npm client (pinned in package.json), on loopback only.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startHerd } from "./herd_server.mjs";

const KEY = "test-key-123";
let herd, client;

before(async () => {
  herd = await startHerd(["--parallel", "4", "--ctx", "512", "--api-key", KEY]);
  client = new OpenAI({ baseURL: herd.url + "/v1", apiKey: KEY, maxRetries: 0, timeout: 60000 });
});
after(async () => {
  assert.equal(await herd.stop(), 0, "herd serve exits cleanly on SIGTERM");
});

async function modelId() {
  const list = await client.models.list();
  return list.data[0].id;
}

test("models.list names the served model", async () => {
  const list = await client.models.list();
  assert.equal(list.data.length, 1);
  assert.equal(list.data[0].object, "model");
  assert.equal(typeof list.data[0].id, "string");
});

test("chat completion with usage", async () => {
  const r = await client.chat.completions.create({
    model: await modelId(),
    messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "In the beginning" }],
    max_tokens: 8,
    temperature: 0,
  });
  assert.equal(r.object, "chat.completion");
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, "assistant");
  assert.equal(typeof r.choices[0].message.content, "string");
  assert.ok(["stop", "length"].includes(r.choices[0].finish_reason));
  assert.ok(r.usage.prompt_tokens > 5);
  assert.ok(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= 8);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

test("streamed chat equals the plain one and reports usage", async () => {
  const req = { model: await modelId(), messages: [{ role: "user", content: "Tell me about whales" }],
                max_completion_tokens: 12, temperature: 0 };
  const plain = await client.chat.completions.create(req);
  const stream = await client.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
  let text = "", finish = null, usage = null, chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    const c = chunk.choices[0];
    if (!c) continue;
    if (c.delta.content) text += c.delta.content;
    if (c.finish_reason) finish = c.finish_reason;
  }
  assert.ok(chunks >= 3);
  assert.equal(text, plain.choices[0].message.content);
  assert.equal(finish, plain.choices[0].finish_reason);
  assert.deepEqual(usage.completion_tokens, plain.usage.completion_tokens);
});

test("legacy completions with seed and stop", async () => {
  const model = await modelId();
  const a = await client.completions.create({ model, prompt: "And God said", max_tokens: 10, temperature: 0.9, seed: 7 });
  const b = await client.completions.create({ model, prompt: "And God said", max_tokens: 10, temperature: 0.9, seed: 7 });
  assert.equal(a.object, "text_completion");
  assert.equal(a.choices[0].text, b.choices[0].text);
  const text = a.choices[0].text;
  if (text.length >= 6) {
    const stop = text.slice(3, 5);
    const c = await client.completions.create({ model, prompt: "And God said", max_tokens: 10, temperature: 0.9, seed: 7, stop: [stop] });
    assert.equal(c.choices[0].text, text.slice(0, text.indexOf(stop)));
    assert.equal(c.choices[0].finish_reason, "stop");
  }
});

test("tools: accepted, rendered, and any call comes back as tool_calls", async () => {
  const model = await modelId();
  const tools = [{ type: "function", function: { name: "get_weather", description: "Weather in a city",
                   parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } }];
  const messages = [{ role: "user", content: "What is the weather in Paris?" }];
  const without = await client.chat.completions.create({ model, messages, max_tokens: 4, temperature: 0 });
  const r = await client.chat.completions.create({ model, messages, tools, max_tokens: 24, temperature: 0 });
  assert.ok(r.usage.prompt_tokens > without.usage.prompt_tokens + 30, "tool definitions are in the prompt");
  const m = r.choices[0].message;
  if (r.choices[0].finish_reason === "tool_calls") {
    assert.equal(m.content, null);
    for (const c of m.tool_calls) {
      assert.equal(c.type, "function");
      JSON.parse(c.function.arguments);
    }
  } else {
    assert.equal(typeof m.content, "string");
  }
  // A follow-up turn with the call and its result (rendered as an ipython turn).
  const follow = await client.chat.completions.create({
    model, tools, max_tokens: 4,
    messages: [...messages,
      { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function",
        function: { name: "get_weather", arguments: JSON.stringify({ city: "Paris" }) } }] },
      { role: "tool", tool_call_id: "call_1", content: JSON.stringify({ temp_c: 21 }) }],
  });
  assert.equal(follow.choices[0].message.role, "assistant");
  // Streaming with tools ends properly too.
  const stream = await client.chat.completions.create({ model, messages, tools, max_tokens: 8, stream: true });
  let finish = null;
  for await (const chunk of stream) if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
  assert.ok(["stop", "length", "tool_calls"].includes(finish));
});

test("error responses map to the client's error classes", async () => {
  const model = await modelId();
  const bad = new OpenAI({ baseURL: herd.url + "/v1", apiKey: "wrong", maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  await assert.rejects(
    client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "hi" }] }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404);
  await assert.rejects(
    client.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], temperature: 9 }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === "temperature");
  await assert.rejects(
    client.chat.completions.create({ model, messages: [] }),
    (e) => e instanceof OpenAI.BadRequestError && /messages/.test(e.message));
  await assert.rejects(
    client.completions.create({ model, prompt: "word ".repeat(2000), max_tokens: 4 }),
    (e) => e instanceof OpenAI.BadRequestError && /512/.test(e.message) && e.code === "context_length_exceeded");
});
