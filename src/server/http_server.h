#pragma once
// herd serve: the HTTP front of the scheduler. OpenAI-compatible endpoints (/v1/models,
// /v1/completions, /v1/chat/completions, plain and streamed), /health, /metrics and the chat page
// at /. Handler threads parse and validate requests, hand sequences to the one scheduler thread
// that runs the model, and relay its output.
#include <cstdint>
#include <memory>
#include <string>

#include "model/text_model.h"
#include "server/metrics.h"
#include "server/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace herd::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                      // 0: any free port (see bind())
  std::string api_key;                  // non-empty: /v1/* need "Authorization: Bearer KEY"
  std::string model_id = "herd";        // the name /v1/models lists and requests must use
  size_t max_body_bytes = 4u << 20;     // larger request bodies get 413
  int read_timeout_s = 10;              // a client that stalls mid-request longer is dropped
  int nonstream_direct_ms = 2000;       // a non-streamed reply slower than this is sent chunked (see the handler)
  SchedulerOptions sched;
};

class Server {
 public:
  Server(TextModel& model, const Tokenizer& tok, ServerOptions opts);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening socket; returns the port (the chosen one when port was 0). Throws
  // herd::Error when the address cannot be bound.
  int bind();
  // Serves until stop(); bind() first.
  void serve();
  void stop();

  Metrics& metrics() { return *metrics_; }
  const ServerOptions& options() const { return opts_; }

 private:
  struct Impl;
  void handle(const httplib::Request& req, httplib::Response& res, bool chat);
  ServerOptions opts_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace herd::server
