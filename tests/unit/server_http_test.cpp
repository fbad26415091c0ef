// herd serve over HTTP on loopback: endpoints, streaming, sampling parameters, continuous batching,
// prefix reuse, and the error responses hostile or careless clients get.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>

#include "server_fixture.h"

namespace herd::test {
namespace {

using nlohmann::json;

TestServer& shared_server() {
  static TestServer* s = [] {
    server::ServerOptions o;
    o.sched.parallel = 4;
    o.sched.ctx = 256;
    o.sched.prefix_cache = 8;
    o.max_body_bytes = 64 * 1024;
    return new TestServer(o);
  }();
  return *s;
}

json completion(const std::string& prompt, int max_tokens, json extra = json::object()) {
  json b = {{"model", "default"}, {"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}};
  b.update(extra);
  return b;
}

json chat(const std::string& user, int max_tokens, json extra = json::object()) {
  json b = {{"model", "default"},
            {"messages", json::array({{{"role", "user"}, {"content", user}}})},
            {"max_tokens", max_tokens},
            {"temperature", 0}};
  b.update(extra);
  return b;
}

TEST(ServerHttp, HealthAndModels) {
  auto& s = shared_server();
  auto c = s.client();
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(json::parse(h->body)["status"], "ok");
  auto m = c.Get("/v1/models");
  ASSERT_TRUE(m);
  json mj = json::parse(m->body);
  EXPECT_EQ(mj["object"], "list");
  ASSERT_EQ(mj["data"].size(), 1u);
  EXPECT_EQ(mj["data"][0]["id"], "default");
  EXPECT_EQ(c.Get("/v1/models/default")->status, 200);
  EXPECT_EQ(c.Get("/v1/models/other")->status, 404);
}

TEST(ServerHttp, CompletionCountsPromptAndCompletionTokens) {
  auto& s = shared_server();
  const auto& tok = *LoadedModel::get().tok;
  auto [st, r] = s.post("/v1/completions", completion("Hello world, how are you", 6));
  ASSERT_EQ(st, 200) << r.dump();
  EXPECT_EQ(r["object"], "text_completion");
  // BOS + the prompt's tokens.
  EXPECT_EQ(r["usage"]["prompt_tokens"].get<size_t>(), 1 + tok.encode("Hello world, how are you", true).size());
  const int64_t n = r["usage"]["completion_tokens"];
  EXPECT_EQ(r["usage"]["total_tokens"].get<int64_t>(), r["usage"]["prompt_tokens"].get<int64_t>() + n);
  const std::string finish = r["choices"][0]["finish_reason"];
  if (finish == "length") {
    EXPECT_EQ(n, 6);
  } else {
    EXPECT_TRUE(finish == "stop" && n <= 6) << finish << " " << n;
  }
}

TEST(ServerHttp, TokenIdPromptEqualsTextPrompt) {
  auto& s = shared_server();
  const auto& tok = *LoadedModel::get().tok;
  std::vector<int32_t> ids = {*tok.token_id("<|begin_of_text|>")};
  for (int32_t id : tok.encode("The quick brown fox", false)) ids.push_back(id);
  auto [s1, a] = s.post("/v1/completions", completion("The quick brown fox", 8));
  json b_req = completion("", 8);
  b_req["prompt"] = ids;
  auto [s2, b] = s.post("/v1/completions", b_req);
  ASSERT_EQ(s1, 200);
  ASSERT_EQ(s2, 200);
  EXPECT_EQ(a["choices"][0]["text"], b["choices"][0]["text"]);
  EXPECT_EQ(a["usage"]["prompt_tokens"], b["usage"]["prompt_tokens"]);
}

TEST(ServerHttp, BatchedRequestsGiveTheSameTokensAsAlone) {
  auto& s = shared_server();
  const std::vector<std::string> prompts = {"Once upon a time", "def fibonacci(n):", "Bonjour, je m'appelle",
                                            "1, 2, 3, 4,"};
  std::vector<std::string> alone;
  for (const auto& p : prompts) {
    auto [st, r] = s.post("/v1/completions", completion(p, 12));
    ASSERT_EQ(st, 200);
    alone.push_back(r["choices"][0]["text"]);
  }
  const int64_t calls_before = s.server().metrics().generated_tokens();
  std::vector<std::future<std::pair<int, json>>> futs;
  for (int rep = 0; rep < 2; ++rep)
    for (const auto& p : prompts)
      futs.push_back(std::async(std::launch::async, [&s, p] { return s.post("/v1/completions", completion(p, 12)); }));
  for (size_t i = 0; i < futs.size(); ++i) {
    auto [st, r] = futs[i].get();
    ASSERT_EQ(st, 200);
    EXPECT_EQ(r["choices"][0]["text"], alone[i % prompts.size()]) << prompts[i % prompts.size()];
  }
  EXPECT_GT(s.server().metrics().generated_tokens(), calls_before);
  // Some forward pass held more than one sequence.
  const std::string m = s.server().metrics().render();
  const size_t pos = m.find("herd_batch_sequences_bucket{le=\"1\"} ");
  ASSERT_NE(pos, std::string::npos);
  const uint64_t single = std::stoull(m.substr(pos + std::string("herd_batch_sequences_bucket{le=\"1\"} ").size()));
  const size_t cpos = m.find("herd_batch_sequences_count ");
  const uint64_t total = std::stoull(m.substr(cpos + std::string("herd_batch_sequences_count ").size()));
  EXPECT_LT(single, total);
}

TEST(ServerHttp, SeedMakesSamplingReproducible) {
  auto& s = shared_server();
  json extra = {{"temperature", 1.0}, {"seed", 1234}, {"top_k", 50}};
  auto [s1, a] = s.post("/v1/completions", completion("Random words:", 16, extra));
  auto [s2, b] = s.post("/v1/completions", completion("Random words:", 16, extra));
  extra["seed"] = 99;
  auto [s3, c] = s.post("/v1/completions", completion("Random words:", 16, extra));
  ASSERT_EQ(s1, 200);
  ASSERT_EQ(s3, 200);
  EXPECT_EQ(a["choices"][0]["text"], b["choices"][0]["text"]);
  EXPECT_NE(a["choices"][0]["text"], c["choices"][0]["text"]);
}

TEST(ServerHttp, StreamedChatEqualsPlainChat) {
  auto& s = shared_server();
  auto [st, plain] = s.post("/v1/chat/completions", chat("Tell me a story", 10));
  ASSERT_EQ(st, 200) << plain.dump();
  EXPECT_EQ(plain["object"], "chat.completion");
  EXPECT_EQ(plain["choices"][0]["message"]["role"], "assistant");
  auto c = s.client();
  json req = chat("Tell me a story", 10, {{"stream", true}, {"stream_options", {{"include_usage", true}}}});
  auto r = c.Post("/v1/chat/completions", req.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->get_header_value("Content-Type").find("text/event-stream"), std::string::npos);
  auto ev = sse_events(r->body);
  ASSERT_GE(ev.size(), 4u);
  EXPECT_EQ(ev.back(), "[DONE]");
  std::string text, finish;
  json usage;
  for (size_t i = 0; i + 1 < ev.size(); ++i) {
    json j = json::parse(ev[i]);
    EXPECT_EQ(j["object"], "chat.completion.chunk");
    if (j.contains("usage")) {
      usage = j["usage"];
      EXPECT_TRUE(j["choices"].empty());
      continue;
    }
    const json& d = j["choices"][0]["delta"];
    if (i == 0) {
      EXPECT_EQ(d["role"], "assistant");
    }
    if (d.contains("content") && d["content"].is_string()) text += d["content"].get<std::string>();
    if (!j["choices"][0]["finish_reason"].is_null()) finish = j["choices"][0]["finish_reason"];
  }
  EXPECT_EQ(text, plain["choices"][0]["message"]["content"].get<std::string>());
  EXPECT_EQ(finish, plain["choices"][0]["finish_reason"].get<std::string>());
  EXPECT_EQ(usage["completion_tokens"], plain["usage"]["completion_tokens"]);
  EXPECT_EQ(usage["prompt_tokens"], plain["usage"]["prompt_tokens"]);
}

TEST(ServerHttp, StreamedCompletionEndsWithDone) {
  auto& s = shared_server();
  auto c = s.client();
  auto r = c.Post("/v1/completions", completion("Count:", 5, {{"stream", true}}).dump(), "application/json");
  ASSERT_TRUE(r);
  auto ev = sse_events(r->body);
  ASSERT_GE(ev.size(), 2u);
  EXPECT_EQ(ev.back(), "[DONE]");
  json last = json::parse(ev[ev.size() - 2]);
  EXPECT_EQ(last["object"], "text_completion");
  EXPECT_FALSE(last["choices"][0]["finish_reason"].is_null());
  EXPECT_FALSE(last.contains("usage"));  // only with stream_options.include_usage
}

TEST(ServerHttp, StopStringCutsTheOutput) {
  auto& s = shared_server();
  auto [st, full] = s.post("/v1/completions", completion("A list of things:", 24));
  ASSERT_EQ(st, 200);
  const std::string text = full["choices"][0]["text"];
  if (text.size() < 12) GTEST_SKIP() << "the model stopped too early for this check";
  // A stop string taken from the middle of the unconstrained output.
  const std::string stop = text.substr(text.size() / 2, 3);
  const std::string expect = text.substr(0, text.find(stop));
  auto [st2, cut] = s.post("/v1/completions", completion("A list of things:", 24, {{"stop", json::array({"@@never@@", stop})}}));
  ASSERT_EQ(st2, 200);
  EXPECT_EQ(cut["choices"][0]["text"], expect);
  EXPECT_EQ(cut["choices"][0]["finish_reason"], "stop");
  EXPECT_LT(cut["usage"]["completion_tokens"].get<int>(), 24);
}

TEST(ServerHttp, ChatLogprobs) {
  auto& s = shared_server();
  auto [st, r] = s.post("/v1/chat/completions", chat("Hi", 5, {{"logprobs", true}, {"top_logprobs", 3}}));
  ASSERT_EQ(st, 200) << r.dump();
  const json& content = r["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), r["usage"]["completion_tokens"].get<size_t>() -
                                (r["choices"][0]["finish_reason"] == "stop" ? 1 : 0));
  std::string joined;
  for (const auto& e : content) {
    const float lp = e["logprob"];
    EXPECT_LE(lp, 0.0f);
    ASSERT_EQ(e["top_logprobs"].size(), 3u);
    double mass = 0;
    for (size_t k = 0; k < 3; ++k) {
      mass += std::exp(e["top_logprobs"][k]["logprob"].get<double>());
      if (k) {
        EXPECT_GE(e["top_logprobs"][k - 1]["logprob"].get<float>(), e["top_logprobs"][k]["logprob"].get<float>());
      }
    }
    EXPECT_LE(mass, 1.0 + 1e-5);
    // Greedy: the chosen token is the most likely one.
    EXPECT_FLOAT_EQ(lp, e["top_logprobs"][0]["logprob"].get<float>());
    for (int b : e["bytes"]) joined += static_cast<char>(b);
  }
  EXPECT_EQ(joined, r["choices"][0]["message"]["content"].get<std::string>());
  // Without logprobs the field is null.
  auto [st2, r2] = s.post("/v1/chat/completions", chat("Hi", 2));
  EXPECT_TRUE(r2["choices"][0]["logprobs"].is_null());
}

TEST(ServerHttp, PrefixOfAFinishedConversationIsReused) {
  auto& s = shared_server();
  // Short enough that prompt and reply stay inside one attention chunk of the model (a chunk
  // ring cannot rewind past a chunk it has left).
  json req = {{"messages", json::array({{{"role", "system"},
                                         {"content", "You are a careful assistant who answers in full sentences."}},
                                        {{"role", "user"}, {"content", "What is a prefix cache?"}}})},
              {"max_tokens", 4},
              {"temperature", 0}};
  auto [s1, a] = s.post("/v1/chat/completions", req);
  req["messages"][1]["content"] = "And what is a KV cache?";
  auto [s2, b] = s.post("/v1/chat/completions", req);
  auto [s3, c] = s.post("/v1/chat/completions", req);
  ASSERT_EQ(s1, 200);
  ASSERT_EQ(s3, 200);
  // The second request shares the system prompt with the first; the third repeats the second.
  EXPECT_GT(b["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>(), 12);
  EXPECT_EQ(c["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>(), c["usage"]["prompt_tokens"].get<int>() - 1);
  // Reused state gives the same tokens as a fresh computation.
  EXPECT_EQ(b["choices"][0]["message"]["content"], c["choices"][0]["message"]["content"]);
  server::ServerOptions o;
  o.sched.prefix_cache = 0;
  TestServer fresh(o);
  auto [s4, d] = fresh.post("/v1/chat/completions", req);
  ASSERT_EQ(s4, 200);
  EXPECT_EQ(d["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
  EXPECT_EQ(d["choices"][0]["message"]["content"], c["choices"][0]["message"]["content"]);
}

TEST(ServerHttp, ToolsAreRenderedIntoThePrompt) {
  TestServer s;  // the tool instructions need more than the shared server's 256 positions
  json tools = json::array({{{"type", "function"},
                             {"function",
                              {{"name", "get_weather"},
                               {"description", "Current weather in a city"},
                               {"parameters",
                                {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}}}}});
  auto [s1, plain] = s.post("/v1/chat/completions", chat("Weather in Paris?", 3));
  auto [s2, with] = s.post("/v1/chat/completions", chat("Weather in Paris?", 3, {{"tools", tools}}));
  auto [s3, none] = s.post("/v1/chat/completions", chat("Weather in Paris?", 3, {{"tools", tools}, {"tool_choice", "none"}}));
  ASSERT_EQ(s2, 200) << with.dump();
  EXPECT_GT(with["usage"]["prompt_tokens"].get<int>(), plain["usage"]["prompt_tokens"].get<int>() + 30);
  EXPECT_EQ(none["usage"]["prompt_tokens"], plain["usage"]["prompt_tokens"]);
  // A conversation that already holds a call and its result is accepted.
  json msgs = json::array(
      {{{"role", "user"}, {"content", "Weather in Paris?"}},
       {{"role", "assistant"},
        {"content", nullptr},
        {"tool_calls",
         json::array({{{"id", "call_1"},
                       {"type", "function"},
                       {"function", {{"name", "get_weather"}, {"arguments", "{\"city\": \"Paris\"}"}}}}})}},
       {{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "{\"temp_c\": 21}"}}});
  auto [s4, r] = s.post("/v1/chat/completions", {{"messages", msgs}, {"tools", tools}, {"max_tokens", 3}});
  EXPECT_EQ(s4, 200) << r.dump();
}

void expect_error(int status, const json& body, int want_status, const std::string& param = "") {
  EXPECT_EQ(status, want_status) << body.dump();
  ASSERT_TRUE(body.contains("error")) << body.dump();
  EXPECT_TRUE(body["error"]["message"].is_string());
  EXPECT_FALSE(body["error"]["message"].get<std::string>().empty());
  if (!param.empty()) {
    EXPECT_EQ(body["error"]["param"], param) << body.dump();
  }
}

TEST(ServerHttp, MalformedJsonIs400) {
  auto& s = shared_server();
  for (const char* bad : {"{", "{\"prompt\": }", "not json", "", "[1,2", "{\"prompt\": \"x\"} trailing"}) {
    auto [st, r] = s.post_raw("/v1/completions", bad);
    expect_error(st, r, 400);
  }
  auto [st, r] = s.post_raw("/v1/chat/completions", "{\"messages\": [");
  expect_error(st, r, 400);
}

TEST(ServerHttp, WrongFieldTypesAre400NamingTheField) {
  auto& s = shared_server();
  struct Case {
    json patch;
    std::string param;
  };
  const std::vector<Case> cases = {
      {{{"max_tokens", "ten"}}, "max_tokens"},
      {{{"max_tokens", 0}}, "max_tokens"},
      {{{"max_tokens", 1.5}}, "max_tokens"},
      {{{"temperature", "hot"}}, "temperature"},
      {{{"temperature", 5}}, "temperature"},
      {{{"top_p", 0}}, "top_p"},
      {{{"top_k", -1}}, "top_k"},
      {{{"min_p", 2}}, "min_p"},
      {{{"seed", "x"}}, "seed"},
      {{{"stop", 3}}, "stop"},
      {{{"stop", json::array({"a", 1})}}, "stop"},
      {{{"stream", "yes"}}, "stream"},
      {{{"stream_options", 1}}, "stream_options"},
      {{{"model", 7}}, "model"},
      {{{"n", 2}}, "n"},
      {{{"logprobs", 50}}, "logprobs"},
      {{{"prompt", 5}}, "prompt"},
      {{{"prompt", json::array({1, "a"})}}, "prompt"},
      {{{"prompt", json::array({-3})}}, "prompt"},
  };
  for (const auto& c : cases) {
    json b = completion("hello", 4);
    b.update(c.patch);
    auto [st, r] = s.post("/v1/completions", b);
    expect_error(st, r, 400, c.param);
  }
  auto [st0, r0] = s.post("/v1/completions", json::array({1, 2}));
  expect_error(st0, r0, 400);
  auto [st1, r1] = s.post("/v1/completions", {{"max_tokens", 3}});
  expect_error(st1, r1, 400, "prompt");
  const std::vector<Case> chat_cases = {
      {{{"messages", "hi"}}, "messages"},
      {{{"messages", json::array()}}, "messages"},
      {{{"messages", json::array({"hi"})}}, "messages[0]"},
      {{{"messages", json::array({{{"role", 1}}})}}, "messages[0].role"},
      {{{"messages", json::array({{{"role", "wizard"}, {"content", "x"}}})}}, "messages[0].role"},
      {{{"messages", json::array({{{"role", "user"}, {"content", 12}}})}}, "messages[0]"},
      {{{"tools", "get_weather"}}, "tools"},
      {{{"tools", json::array({{{"type", "function"}, {"function", {{"name", 3}}}}})}}, "tools[0].function.name"},
      {{{"tool_choice", "maybe"}}, "tool_choice"},
      {{{"logprobs", "yes"}}, "logprobs"},
      {{{"top_logprobs", 3}}, "top_logprobs"},
  };
  for (const auto& c : chat_cases) {
    json b = chat("hello", 4);
    b.update(c.patch);
    auto [st, r] = s.post("/v1/chat/completions", b);
    expect_error(st, r, 400, c.param);
  }
}

TEST(ServerHttp, UnknownModelIs404) {
  auto& s = shared_server();
  auto [st, r] = s.post("/v1/chat/completions", chat("hi", 2, {{"model", "gpt-4o"}}));
  expect_error(st, r, 404, "model");
  EXPECT_EQ(r["error"]["code"], "model_not_found");
}

TEST(ServerHttp, OversizedBodyIs413) {
  auto& s = shared_server();
  json b = completion(std::string(100 * 1024, 'a'), 2);
  auto [st, r] = s.post("/v1/completions", b);
  expect_error(st, r, 413);
  // The server is still fine.
  auto [st2, r2] = s.post("/v1/completions", completion("fine", 1));
  EXPECT_EQ(st2, 200);
}

TEST(ServerHttp, PromptLongerThanContextIs400NamingTheLimit) {
  auto& s = shared_server();
  std::string long_prompt;
  for (int i = 0; i < 300; ++i) long_prompt += " word";
  auto [st, r] = s.post("/v1/completions", completion(long_prompt, 4));
  expect_error(st, r, 400);
  EXPECT_EQ(r["error"]["code"], "context_length_exceeded");
  EXPECT_NE(r["error"]["message"].get<std::string>().find("256"), std::string::npos) << r.dump();
  // A prompt that fits gets its max_tokens clipped to what is left of the context.
  std::string fits;
  for (int i = 0; i < 250; ++i) fits += " word";
  auto [st2, r2] = s.post("/v1/completions", completion(fits, 100));
  ASSERT_EQ(st2, 200) << r2.dump();
  EXPECT_LE(r2["usage"]["total_tokens"].get<int>(), 256);
}

TEST(ServerHttp, ApiKeyIsRequiredWhenSet) {
  server::ServerOptions o;
  o.api_key = "sekret-key";
  TestServer s(o);
  auto [st1, r1] = s.post("/v1/completions", completion("hi", 1));
  expect_error(st1, r1, 401);
  auto [st2, r2] = s.post("/v1/completions", completion("hi", 1), {{"Authorization", "Bearer wrong"}});
  expect_error(st2, r2, 401);
  EXPECT_EQ(r2["error"]["code"], "invalid_api_key");
  auto [st3, r3] = s.post("/v1/completions", completion("hi", 1), {{"Authorization", "Bearer sekret-key"}});
  EXPECT_EQ(st3, 200) << r3.dump();
  auto c = s.client();
  EXPECT_EQ(c.Get("/v1/models")->status, 401);
  EXPECT_EQ(c.Get("/health")->status, 200);
}

// A raw socket to the server, for clients that misbehave.
int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void send_request(int fd, const std::string& path, const std::string& body) {
  std::string req = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
}

TEST(ServerHttp, DisconnectMidStreamCancelsAndFreesKV) {
  server::ServerOptions o;
  o.sched.prefix_cache = 0;  // so no KV is kept after the sequence ends
  TestServer s(o);
  auto& m = s.server().metrics();
  int fd = connect_to(s.port());
  ASSERT_GE(fd, 0);
  send_request(fd, "/v1/completions", completion("Stream until I hang up", 100000, {{"stream", true}}).dump());
  // Read until some tokens have arrived.
  std::string got;
  char buf[4096];
  while (got.find("data: {") == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(m.active_sequences.load(), 1);
  EXPECT_GT(m.kv_bytes_active.load(), 0);
  ::close(fd);
  ASSERT_TRUE(TestServer::wait_for([&] { return m.cancelled() == 1 && m.active_sequences.load() == 0; }))
      << "cancelled " << m.cancelled() << ", active " << m.active_sequences.load();
  EXPECT_TRUE(TestServer::wait_for([&] { return m.kv_bytes_active.load() == 0 && m.kv_bytes_cached.load() == 0; }));
  // Still serving.
  auto [st, r] = s.post("/v1/completions", completion("after", 2));
  EXPECT_EQ(st, 200);
}

TEST(ServerHttp, DisconnectDuringNonStreamedReplyCancels) {
  server::ServerOptions o;
  o.sched.prefix_cache = 0;
  o.nonstream_direct_ms = 50;  // switch to the chunked, whitespace-led reply quickly
  TestServer s(o);
  auto& m = s.server().metrics();
  int fd = connect_to(s.port());
  ASSERT_GE(fd, 0);
  send_request(fd, "/v1/completions", completion("Wait for the whole answer", 100000).dump());
  // The headers and the first keep-alive space arrive while the sequence runs.
  std::string got;
  char buf[4096];
  while (got.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_NE(got.find("200"), std::string::npos) << got;
  // Headers can precede admission on a busy machine: wait for the sequence to be running.
  ASSERT_TRUE(TestServer::wait_for([&] { return m.active_sequences.load() == 1; }));
  ::close(fd);
  ASSERT_TRUE(TestServer::wait_for([&] { return m.cancelled() == 1 && m.active_sequences.load() == 0; }))
      << "cancelled " << m.cancelled() << ", active " << m.active_sequences.load();
  EXPECT_TRUE(TestServer::wait_for([&] { return m.kv_bytes_active.load() == 0; }));
}

TEST(ServerHttp, SlowNonStreamedReplyIsStillOneJsonBody) {
  server::ServerOptions o;
  o.nonstream_direct_ms = 0;  // every reply takes the chunked path
  TestServer s(o);
  auto [st, r] = s.post("/v1/completions", completion("The herd", 8));
  ASSERT_EQ(st, 200) << r.dump();
  EXPECT_EQ(r["object"], "text_completion");
  EXPECT_EQ(r["usage"]["completion_tokens"].get<int>(), 8);
  auto [st2, r2] = s.post("/v1/chat/completions", chat("Hello", 4));
  ASSERT_EQ(st2, 200) << r2.dump();
  EXPECT_EQ(r2["choices"][0]["message"]["role"], "assistant");
}

TEST(ServerHttp, StalledAndGarbageClientsDoNotHurt) {
  server::ServerOptions o;
  o.read_timeout_s = 1;
  TestServer s(o);
  // Headers promise a body that never comes; garbage request line; half a header.
  int a = connect_to(s.port());
  send_request(a, "/v1/completions", "");
  std::string partial = "POST /v1/completions HTTP/1.1\r\nContent-Length: 1000\r\n\r\n{\"prompt\":";
  int b = connect_to(s.port());
  ASSERT_EQ(::send(b, partial.data(), partial.size(), MSG_NOSIGNAL), static_cast<ssize_t>(partial.size()));
  int c = connect_to(s.port());
  std::string junk = "\x01\x02garbage\r\n\r\n";
  ::send(c, junk.data(), junk.size(), MSG_NOSIGNAL);
  auto [st, r] = s.post("/v1/completions", completion("still here", 2));
  EXPECT_EQ(st, 200);
  // The stalled body is given up on after the read timeout: the server closes the connection.
  char buf[512];
  ssize_t n = ::recv(b, buf, sizeof buf, 0);
  EXPECT_LE(n, static_cast<ssize_t>(sizeof buf));
  ::close(a);
  ::close(b);
  ::close(c);
}

TEST(ServerHttp, FullQueueIs429WithRetryAfter) {
  server::ServerOptions o;
  o.sched.parallel = 1;
  o.sched.max_queue = 1;
  TestServer s(o);
  auto& m = s.server().metrics();
  int fd = connect_to(s.port());
  send_request(fd, "/v1/completions", completion("occupy the only slot", 100000, {{"stream", true}}).dump());
  ASSERT_TRUE(TestServer::wait_for([&] { return m.active_sequences.load() == 1; }));
  auto queued = std::async(std::launch::async, [&s] { return s.post("/v1/completions", completion("wait", 2)); });
  ASSERT_TRUE(TestServer::wait_for([&] { return m.queue_depth.load() == 1; }));
  auto c = s.client();
  auto r = c.Post("/v1/completions", completion("rejected", 2).dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  EXPECT_EQ(json::parse(r->body)["error"]["type"], "rate_limit_error");
  ::close(fd);  // frees the slot; the queued request then runs
  auto [st, body] = queued.get();
  EXPECT_EQ(st, 200) << body.dump();
}

TEST(ServerHttp, MetricsInPrometheusFormat) {
  auto& s = shared_server();
  s.post("/v1/completions", completion("metrics please", 3));
  auto c = s.client();
  auto r = c.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const std::string& t = r->body;
  for (const char* name :
       {"# TYPE herd_requests_total counter", "herd_requests_total{endpoint=\"/v1/completions\",status=\"200\"}",
        "# TYPE herd_time_to_first_token_seconds histogram", "herd_time_to_first_token_seconds_bucket{le=\"+Inf\"}",
        "# TYPE herd_time_per_output_token_seconds histogram", "herd_queue_depth ", "herd_kv_bytes{state=\"active\"}",
        "herd_expert_routed_tokens_total{layer=\"0\",expert=\"0\"}", "herd_generated_tokens_total "})
    EXPECT_NE(t.find(name), std::string::npos) << name;
  // Every routed token lands on one of the experts: per layer, the counts add up to the tokens
  // the forward passes saw times top_k.
  const auto& cfg = LoadedModel::get().model->config();
  auto routing = s.server().metrics().routing();
  uint64_t l0 = 0;
  for (auto v : routing[0]) l0 += v;
  const size_t p = t.find("\nherd_forward_tokens_total ");
  ASSERT_NE(p, std::string::npos);
  const uint64_t fwd = std::stoull(t.substr(p + std::string("\nherd_forward_tokens_total ").size()));
  EXPECT_GE(l0, 1u);
  EXPECT_LE(l0, fwd * static_cast<uint64_t>(cfg.top_k) + 64);  // a request may finish between the reads
  for (size_t l = 0; l < routing.size(); ++l) EXPECT_EQ(routing[l].size(), static_cast<size_t>(cfg.n_experts));
}

}  // namespace
}  // namespace herd::test
