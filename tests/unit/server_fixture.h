#pragma once
// An in-process herd server on a free loopback port, for the server_* test suites.
#include <httplib.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "model/text_model.h"
#include "server/http_server.h"
#include "tokenizer/chat_format.h"
#include "tokenizer/tokenizer.h"

namespace herd::test {

inline std::string default_model_path() { return std::string(HERD_SOURCE_DIR) + "/models/default"; }

struct LoadedModel {
  std::unique_ptr<TextModel> model;
  std::unique_ptr<Tokenizer> tok;
  static LoadedModel& get() {
    static LoadedModel m{TextModel::load(default_model_path()), Tokenizer::from_model_dir(default_model_path())};
    return m;
  }
};

class TestServer {
 public:
  explicit TestServer(server::ServerOptions opts = {}) {
    LoadedModel& m = LoadedModel::get();
    opts.host = "127.0.0.1";
    opts.port = 0;
    if (opts.model_id == "herd") opts.model_id = "default";
    if (opts.sched.stop_ids.empty()) opts.sched.stop_ids = chat_stop_ids(*m.tok);
    srv_ = std::make_unique<server::Server>(*m.model, *m.tok, opts);
    port_ = srv_->bind();
    thread_ = std::thread([this] { srv_->serve(); });
  }
  ~TestServer() {
    srv_->stop();
    thread_.join();
  }
  int port() const { return port_; }
  server::Server& server() { return *srv_; }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    return c;
  }
  // POSTs JSON; returns {status, parsed body (or the raw text under "raw")}.
  std::pair<int, nlohmann::json> post(const std::string& path, const nlohmann::json& body,
                                      const httplib::Headers& headers = {}) const {
    return post_raw(path, body.dump(), headers);
  }
  std::pair<int, nlohmann::json> post_raw(const std::string& path, const std::string& body,
                                          const httplib::Headers& headers = {}) const {
    auto c = client();
    auto r = c.Post(path.c_str(), headers, body, "application/json");
    if (!r) return {-1, nlohmann::json()};
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (j.is_discarded()) j = nlohmann::json{{"raw", r->body}};
    return {r->status, j};
  }
  // Waits up to `seconds` for cond().
  template <typename F>
  static bool wait_for(F cond, double seconds = 20) {
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
      if (cond()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return cond();
  }

 private:
  std::unique_ptr<server::Server> srv_;
  int port_ = -1;
  std::thread thread_;
};

// The data: payloads of an SSE body, in order ("[DONE]" included).
inline std::vector<std::string> sse_events(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find('\n', pos);
    if (end == std::string::npos) end = body.size();
    std::string line = body.substr(pos, end - pos);
    if (line.rfind("data: ", 0) == 0) out.push_back(line.substr(6));
    pos = end + 1;
  }
  return out;
}

}  // namespace herd::test
