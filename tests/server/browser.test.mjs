// The chat page at / in headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core:
// a streamed reply appears, tokens/s is shown, the layer x expert heatmap fills in, and the page
// requests nothing from any host but the herd server on loopback.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { startHerd } from "./herd_server.mjs";

let herd, context, userDir;
const foreign = [];

before(async () => {
  herd = await startHerd(["--parallel", "2"]);
  userDir = fs.mkdtempSync(path.join(os.tmpdir(), "herd-chromium-"));
  context = await chromium.launchPersistentContext(userDir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  // Anything not addressed to the herd server is recorded and refused.
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(herd.url + "/")) return route.continue();
    foreign.push(url);
    return route.abort();
  });
});

after(async () => {
  if (context) await context.close();
  if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  if (herd) await herd.stop();
});

test("chat page streams a reply and shows speed and expert routing", async () => {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(herd.url + "/");
  const models = await (await fetch(herd.url + "/v1/models")).json();
  const id = models.data[0].id;
  await page.waitForFunction((id) => document.getElementById("model").textContent.startsWith(id), id);

  await page.fill("#max-tokens", "16");
  await page.fill("#temperature", "0");
  await page.fill("#prompt", "In the beginning");
  await page.click("#send");
  const reply = page.locator(".msg.assistant[data-done='1']");
  await reply.waitFor({ timeout: 60000 });
  const text = await reply.textContent();
  assert.equal(await page.locator(".msg.error").count(), 0, text);

  // The page shows what the API returns for the same greedy request.
  const api = await (await fetch(herd.url + "/v1/chat/completions", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ model: id, messages: [{ role: "user", content: "In the beginning" }], max_tokens: 16, temperature: 0 }),
  })).json();
  assert.equal(text, api.choices[0].message.content);

  const ntok = Number(await page.textContent("#ntok"));
  assert.equal(ntok, api.usage.completion_tokens);
  if (ntok > 1) assert.match(await page.textContent("#tps"), /^\d+(\.\d+)?$/);

  // Heatmap: one row per MoE layer, one cell per expert, counts matching /metrics.
  await page.waitForFunction(() => [...document.querySelectorAll("#heatmap td.cell")].some((td) => +td.dataset.count > 0));
  const metrics = await (await fetch(herd.url + "/metrics")).text();
  const layers = new Set([...metrics.matchAll(/^herd_expert_routed_tokens_total\{layer="(\d+)",expert="(\d+)"\}/gm)].map((m) => m[1]));
  const experts = new Set([...metrics.matchAll(/^herd_expert_routed_tokens_total\{layer="\d+",expert="(\d+)"\}/gm)].map((m) => m[1]));
  assert.equal(await page.locator("#heatmap tr").count(), layers.size + 1);
  assert.equal(await page.locator("#heatmap td.cell").count(), layers.size * experts.size);

  // A second turn keeps the conversation.
  await page.fill("#prompt", "And then?");
  await page.click("#send");
  await page.locator(".msg.assistant[data-done='1']").nth(1).waitFor({ timeout: 60000 });
  assert.equal(await page.locator(".msg.user").count(), 2);

  if (process.env.HERD_SCREENSHOT) await page.screenshot({ path: process.env.HERD_SCREENSHOT, fullPage: true });
  assert.deepEqual(errors, []);
  assert.deepEqual(foreign, []);
});
