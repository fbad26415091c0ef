// A bounded load test of the herd serve binary on loopback: 200 requests, 8 at a time, streamed
// and plain. No request may fail, and once the load is over the process's memory must be back at
// its level after warm-up (no leaked sequences, caches or buffers).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include <atomic>
#include <fstream>
#include <regex>
#include <thread>

#include "server_fixture.h"

namespace herd::test {
namespace {

using nlohmann::json;

struct Child {
  pid_t pid = -1;
  int port = -1;
  ~Child() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      int st = 0;
      waitpid(pid, &st, 0);
    }
  }
};

// Starts `herd serve --port 0` and reads the chosen port from its stderr.
void start(Child& c, const std::vector<std::string>& extra) {
  // The environment, built before fork. Under AddressSanitizer the server gets no quarantine:
  // ASan holds up to 256 MB of freed memory back, which this test would read as growth.
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e)
    if (std::string(*e).rfind("ASAN_OPTIONS=", 0) != 0) env.emplace_back(*e);
#if defined(__SANITIZE_ADDRESS__)
  const char* asan = getenv("ASAN_OPTIONS");
  env.push_back(std::string("ASAN_OPTIONS=") + (asan && *asan ? std::string(asan) + ":" : "") + "quarantine_size_mb=0");
#else
  if (const char* asan = getenv("ASAN_OPTIONS")) env.push_back(std::string("ASAN_OPTIONS=") + asan);
#endif
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = {HERD_BINARY, "serve", "--host", "127.0.0.1", "--port", "0"};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  c.pid = fork();
  ASSERT_GE(c.pid, 0);
  if (c.pid == 0) {
    dup2(fds[1], 2);
    close(fds[0]);
    execve(HERD_BINARY, argv.data(), envp.data());
    _exit(127);
  }
  close(fds[1]);
  std::string log;
  char buf[256];
  std::smatch m;
  const std::regex re(R"(listening on http://127\.0\.0\.1:(\d+))");
  while (!std::regex_search(log, m, re)) {
    ssize_t n = read(fds[0], buf, sizeof buf);
    ASSERT_GT(n, 0) << "herd serve did not start: " << log;
    log.append(buf, static_cast<size_t>(n));
  }
  c.port = std::stoi(m[1]);
  close(fds[0]);
}

int64_t rss_kb(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}

double metric(const std::string& text, const std::string& name) {
  const size_t p = text.find("\n" + name + " ");
  if (p == std::string::npos) return -1;
  return std::stod(text.substr(p + name.size() + 2));
}

TEST(ServerLoad, TwoHundredRequestsEightAtATime) {
  Child c;
  start(c, {"--parallel", "8", "--queue", "16", "--ctx", "512", "--prefix-cache", "8"});
  ASSERT_GT(c.port, 0);
  auto client = [&] {
    httplib::Client cl("127.0.0.1", c.port);
    cl.set_read_timeout(60, 0);
    return cl;
  };
  const std::vector<std::string> prompts = {"In the beginning", "And it came to pass", "The whale", "Fellow citizens",
                                            "Call me Ishmael", "Blessed are", "We the people", "Thus saith"};
  std::atomic<int> ok{0}, failed{0};
  std::string first_error;
  std::mutex err_mu;
  auto run_one = [&](httplib::Client& cl, int i) {
    json body = {{"messages", json::array({{{"role", "system"}, {"content", "Answer briefly."}},
                                           {{"role", "user"}, {"content", prompts[i % prompts.size()]}}})},
                 {"max_tokens", 4 + i % 5},
                 {"temperature", 0.7},
                 {"seed", i}};
    const bool stream = i % 2 == 1;
    if (stream) body["stream"] = true;
    auto r = cl.Post("/v1/chat/completions", body.dump(), "application/json");
    bool good = r && r->status == 200;
    if (good && stream) {
      auto ev = sse_events(r->body);
      good = !ev.empty() && ev.back() == "[DONE]";
    }
    if (good && !stream) good = json::parse(r->body)["choices"][0]["message"]["content"].is_string();
    if (good) {
      ++ok;
    } else {
      ++failed;
      std::lock_guard<std::mutex> lk(err_mu);
      if (first_error.empty()) first_error = r ? std::to_string(r->status) + " " + r->body : "no response";
    }
  };
  auto wave = [&](int total, int width) {
    std::vector<std::thread> th;
    std::atomic<int> next{0};
    for (int w = 0; w < width; ++w)
      th.emplace_back([&] {
        auto cl = client();
        for (int i = next++; i < total; i = next++) run_one(cl, i);
      });
    for (auto& t : th) t.join();
  };
  auto idle = [&] {
    return TestServer::wait_for([&] {
      auto r = client().Get("/metrics");
      return r && metric(r->body, "herd_active_sequences") == 0 && metric(r->body, "herd_queue_depth") == 0;
    });
  };

  wave(24, 8);  // warm-up: fills the prefix cache and the allocator's pools
  ASSERT_TRUE(idle());
  ASSERT_EQ(failed.load(), 0) << first_error;
  const int64_t baseline = rss_kb(c.pid);
  ok = 0;
  const auto t0 = std::chrono::steady_clock::now();
  wave(200, 8);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(idle());
  EXPECT_EQ(failed.load(), 0) << first_error;
  EXPECT_EQ(ok.load(), 200);
  const int64_t after = rss_kb(c.pid);
  std::printf("200 requests in %.2f s; RSS after warm-up %lld kB, after load %lld kB\n", secs,
              static_cast<long long>(baseline), static_cast<long long>(after));
  EXPECT_LE(after, baseline + baseline / 10 + 8 * 1024) << "memory did not return to its baseline";
  auto m = client().Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(metric(m->body, "herd_kv_bytes{state=\"active\"}"), 0);
  EXPECT_LE(metric(m->body, "herd_cached_prefixes"), 8);
  EXPECT_GE(metric(m->body, "herd_prefix_reused_tokens_total"), 1);  // the shared system prompt
}

}  // namespace
}  // namespace herd::test
