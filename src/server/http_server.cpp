#include "server/http_server.h"

#include <httplib.h>

#include <chrono>

#include "core/error.h"
#include "server/api_error.h"
#include "server/openai_format.h"
#include "server/request_parse.h"
#include "server/tool_call_parser.h"
#include "server/web_page.h"

namespace herd::server {
namespace {

using namespace std::chrono_literals;

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(dump_json(body), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
  send_json(res, e.status, error_body(e));
  if (e.status == 429) res.set_header("Retry-After", "1");
}

std::string sse(const nlohmann::json& j) { return "data: " + dump_json(j) + "\n\n"; }

std::string endpoint_label(const std::string& path) {
  for (const char* p : {"/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/metrics"})
    if (path.rfind(p, 0) == 0) return p;
  return path == "/" ? "/" : "other";
}

const char* status_type(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 413: return "invalid_request_error";
    case 429: return "rate_limit_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

}  // namespace

struct Server::Impl {
  TextModel& model;
  const Tokenizer& tok;
  httplib::Server http;
  RequestLimits limits;
  int bound_port = -1;

  Impl(TextModel& m, const Tokenizer& t) : model(m), tok(t) {}
};

Server::Server(TextModel& model, const Tokenizer& tok, ServerOptions opts)
    : opts_(std::move(opts)),
      metrics_(std::make_unique<Metrics>(model.config().n_layers, model.config().n_experts, model.config().moe_layer)),
      impl_(std::make_unique<Impl>(model, tok)) {
  if (opts_.sched.ctx <= 1) fail("--ctx must be at least 2");
  if (model.config().max_position > 0 && opts_.sched.ctx > model.config().max_position)
    fail("--ctx ", opts_.sched.ctx, " exceeds the model's maximum of ", model.config().max_position, " positions");
  scheduler_ = std::make_unique<Scheduler>(model, tok, *metrics_, opts_.sched);
  impl_->limits.model_id = opts_.model_id;
  impl_->limits.ctx = opts_.sched.ctx;

  httplib::Server& http = impl_->http;
  const size_t threads = static_cast<size_t>(opts_.sched.parallel) + std::min<size_t>(opts_.sched.max_queue, 32) + 8;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_payload_max_length(opts_.max_body_bytes);
  http.set_read_timeout(opts_.read_timeout_s, 0);
  http.set_write_timeout(opts_.read_timeout_s, 0);

  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (opts_.api_key.empty() || req.path.rfind("/v1/", 0) != 0) return httplib::Server::HandlerResponse::Unhandled;
    const std::string auth = req.get_header_value("Authorization");
    if (auth.empty()) {
      send_json(res, 401, error_body("Missing API key: send the header 'Authorization: Bearer KEY'",
                                     "authentication_error", "", "missing_api_key"));
      return httplib::Server::HandlerResponse::Handled;
    }
    if (auth != "Bearer " + opts_.api_key) {
      send_json(res, 401, error_body("Incorrect API key provided", "authentication_error", "", "invalid_api_key"));
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Errors httplib answers by itself (404 route, 413 body, 400 bad request line) get JSON bodies too.
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string msg;
    if (res.status == 404) msg = "No route for " + req.method + " " + req.path;
    else if (res.status == 413) msg = "The request body is larger than this server accepts";
    else msg = "HTTP error " + std::to_string(res.status);
    send_json(res, res.status, error_body(msg, status_type(res.status), "", ""));
  });
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string msg = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      msg = e.what();
    } catch (...) {
    }
    send_json(res, 500, error_body(msg, "server_error", "", ""));
  });
  http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    metrics_->count_request(endpoint_label(req.path), res.status);
  });

  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200,
              {{"status", "ok"},
               {"model", opts_.model_id},
               {"active_sequences", metrics_->active_sequences.load()},
               {"queue_depth", metrics_->queue_depth.load()}});
  });
  auto model_entry = [this] {
    return nlohmann::json{{"id", opts_.model_id},
                          {"object", "model"},
                          {"created", 0},
                          {"owned_by", "herd"},
                          {"context_length", opts_.sched.ctx}};
  };
  http.Get("/v1/models", [model_entry](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, {{"object", "list"}, {"data", nlohmann::json::array({model_entry()})}});
  });
  http.Get(R"(/v1/models/(.+))", [this, model_entry](const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1];
    if (id != opts_.model_id) {
      send_error(res, ApiError(404, "The model '" + id + "' does not exist", "model", "model_not_found"));
      return;
    }
    send_json(res, 200, model_entry());
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_->render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(chat_page_html(), "text/html; charset=utf-8");
  });
  http.Post("/v1/completions",
            [this](const httplib::Request& req, httplib::Response& res) { handle(req, res, false); });
  http.Post("/v1/chat/completions",
            [this](const httplib::Request& req, httplib::Response& res) { handle(req, res, true); });
}

Server::~Server() { stop(); }

int Server::bind() {
  Impl& im = *impl_;
  if (opts_.port == 0) im.bound_port = im.http.bind_to_any_port(opts_.host);
  else im.bound_port = im.http.bind_to_port(opts_.host, opts_.port) ? opts_.port : -1;
  if (im.bound_port < 0) fail("cannot listen on ", opts_.host, ":", opts_.port, " (address in use or not local?)");
  return im.bound_port;
}

void Server::serve() { impl_->http.listen_after_bind(); }

void Server::stop() {
  if (impl_) impl_->http.stop();
  if (scheduler_) scheduler_->stop();
}

// One request to /v1/completions or /v1/chat/completions.
void Server::handle(const httplib::Request& req, httplib::Response& res, bool chat) {
  ParsedRequest pr;
  try {
    const auto body = parse_body(req.body);
    pr = chat ? parse_chat_request(body, impl_->tok, impl_->limits)
              : parse_completion_request(body, impl_->tok, impl_->limits);
  } catch (const ApiError& e) {
    send_error(res, e);
    return;
  }
  auto seq = std::make_shared<Sequence>(pr.prompt, pr.gen);
  if (!scheduler_->submit(seq)) {
    metrics_->count_rejected();
    send_error(res, ApiError(429, "The server is busy: too many requests are queued; retry later", "",
                             "queue_full", "rate_limit_error"));
    return;
  }
  metrics_->add_prompt_tokens(static_cast<int64_t>(pr.prompt.size()));
  auto fmt = std::make_shared<ResponseFormat>(chat, opts_.model_id, impl_->tok);

  if (!pr.stream) {
    // The whole reply is collected first. A reply ready within a short wait goes out as one JSON
    // body with its real status. A longer one is sent chunked, led by JSON whitespace every
    // second: that is how a client that hung up is noticed (the write fails) and its sequence
    // cancelled; the price is that a late server error travels in a 200 body ({"error": ...}).
    struct Collected {
      std::shared_ptr<Sequence> seq;
      ParsedRequest pr;
      std::string text;
      std::vector<TokenLogprob> lps;
      SequenceUpdate u;
      bool done = false, sent = false;
      // Takes news for up to `wait`; true when the sequence has finished.
      bool collect(std::chrono::milliseconds wait) {
        const auto end = std::chrono::steady_clock::now() + wait;
        while (!done) {
          const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
          if (left.count() <= 0 || !seq->take(u, left)) break;
          text += u.text;
          lps.insert(lps.end(), u.tokens.begin(), u.tokens.end());
          done = u.done;
        }
        return done;
      }
    };
    auto c = std::make_shared<Collected>();
    c->seq = seq;
    c->pr = std::move(pr);
    auto reply = [c, fmt]() -> std::pair<int, nlohmann::json> {
      const SequenceUpdate& u = c->u;
      if (!u.error.empty()) return {500, error_body(u.error, "server_error", "", "")};
      std::optional<std::vector<ParsedToolCall>> calls;
      std::string finish = u.finish_reason;
      if (c->pr.tools_active && finish == "stop") {
        calls = parse_tool_calls(c->text);
        if (calls) finish = "tool_calls";
      }
      return {200, fmt->response(c->text, finish, fmt->usage(u.prompt_tokens, u.completion_tokens, u.cached_tokens),
                                 c->pr.logprobs ? fmt->logprobs(c->lps, 0) : nlohmann::json(nullptr), calls)};
    };
    if (c->collect(std::chrono::milliseconds(opts_.nonstream_direct_ms))) {
      auto [status, body] = reply();
      send_json(res, status, body);
      return;
    }
    res.set_chunked_content_provider(
        "application/json",
        [c, reply](size_t, httplib::DataSink& sink) {
          if (c->sent) {
            sink.done();
            return true;
          }
          if (!c->collect(1000ms)) return sink.write(" ", 1);  // a failed write: the client left
          std::string out = reply().second.dump();
          c->sent = true;
          if (!sink.write(out.data(), out.size())) return false;
          sink.done();
          return true;
        },
        [c](bool) {
          if (!c->done) c->seq->cancel();
        });
    return;
  }

  // Server-Sent Events. The provider runs on this handler thread after we return; it waits for
  // news, writes it, and ends with "data: [DONE]". A failed write means the client left: the
  // releaser cancels the sequence, which frees its slot and KV cache.
  struct Stream {
    std::shared_ptr<Sequence> seq;
    ParsedRequest pr;
    std::shared_ptr<ResponseFormat> fmt;
    bool sent_role = false, finished = false;
    bool holding = false;  // tools offered and the reply may still turn out to be a call
    std::string held;
    std::vector<TokenLogprob> held_lp;
    int64_t offset = 0;
  };
  auto st = std::make_shared<Stream>();
  st->seq = seq;
  st->pr = std::move(pr);
  st->fmt = fmt;
  st->holding = st->pr.tools_active;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [st](size_t, httplib::DataSink& sink) {
        if (st->finished) {
          sink.done();
          return true;
        }
        SequenceUpdate u;
        if (!st->seq->take(u, 500ms)) {
          static const char ping[] = ": keep-alive\n\n";  // also how a vanished client is noticed
          return sink.write(ping, sizeof ping - 1);
        }
        const ResponseFormat& f = *st->fmt;
        const bool chat = st->pr.chat;
        std::string out;
        if (chat && !st->sent_role) {
          out += sse(f.chunk({{"role", "assistant"}, {"content", ""}}, nullptr, nullptr));
          st->sent_role = true;
        }
        if (!u.error.empty()) {
          out += sse(error_body(u.error, "server_error", "", ""));
          out += "data: [DONE]\n\n";
          st->finished = true;
          bool ok = sink.write(out.data(), out.size());
          sink.done();
          return ok;
        }
        auto lp_json = [&](const std::vector<TokenLogprob>& lps) {
          if (!st->pr.logprobs) return nlohmann::json(nullptr);
          return f.logprobs(lps, st->offset);
        };
        auto emit_text = [&](const std::string& text, const std::vector<TokenLogprob>& lps) {
          if (text.empty() && lps.empty()) return;
          nlohmann::json delta = chat ? nlohmann::json{{"content", text}} : nlohmann::json{{"text", text}};
          out += sse(f.chunk(delta, nullptr, lp_json(lps)));
          st->offset += static_cast<int64_t>(text.size());
        };
        std::string finish = u.finish_reason;
        if (st->holding) {
          st->held += u.text;
          st->held_lp.insert(st->held_lp.end(), u.tokens.begin(), u.tokens.end());
          if (u.done) {
            std::optional<std::vector<ParsedToolCall>> calls;
            if (finish == "stop") calls = parse_tool_calls(st->held);
            if (calls) {
              out += sse(f.chunk({{"tool_calls", f.tool_calls(*calls, true)}}, nullptr, lp_json(st->held_lp)));
              finish = "tool_calls";
            } else {
              emit_text(st->held, st->held_lp);
            }
          } else if (!may_be_tool_call(st->held)) {
            st->holding = false;
            emit_text(st->held, st->held_lp);
          }
        } else {
          emit_text(u.text, u.tokens);
        }
        if (u.done) {
          out += sse(f.chunk(chat ? nlohmann::json::object() : nlohmann::json{{"text", ""}}, finish, nullptr));
          if (st->pr.include_usage)
            out += sse(f.usage_chunk(f.usage(u.prompt_tokens, u.completion_tokens, u.cached_tokens)));
          out += "data: [DONE]\n\n";
          st->finished = true;
        }
        if (out.empty()) return true;
        if (!sink.write(out.data(), out.size())) return false;
        if (st->finished) sink.done();
        return true;
      },
      [st](bool) {
        if (!st->finished) st->seq->cancel();
      });
}

}  // namespace herd::server
