// herd tokenize / herd detokenize, and the hidden bench-tokenizer used by bench/tokenizer_bench.sh.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "command.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "runtime/token_ids.h"
#include "tokenizer/tokenizer.h"

namespace herd::cli {
namespace {

struct TokSource {
  std::string model_dir;
  std::string file;
};

void add_source_options(CLI::App* sub, TokSource& s) {
  auto* m = sub->add_option("-m,--model", s.model_dir, "model directory (tokenizer.model or tokenizer.json)");
  auto* t = sub->add_option("--tokenizer", s.file, "tokenizer file: tokenizer.model (tiktoken) or tokenizer.json");
  m->excludes(t);
}

std::unique_ptr<Tokenizer> load(const TokSource& s) {
  if (!s.file.empty()) return Tokenizer::from_file(s.file);
  return Tokenizer::from_model_dir(s.model_dir.empty() ? default_model_dir() : s.model_dir);
}

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("cannot open input file: ", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct TokenizeOpts {
  TokSource src;
  bool special = false;
  bool json = false;
  std::string text;
  std::string file;
};

void run_tokenize(const TokenizeOpts& o, bool have_text) {
  if (have_text == !o.file.empty()) fail("give either TEXT or --file");
  auto tok = load(o.src);
  std::string input = o.file.empty() ? o.text : read_all(o.file);
  std::vector<int32_t> ids = tok->encode(input, o.special);
  if (o.json) {
    nlohmann::json j;
    j["ids"] = ids;
    nlohmann::json pieces = nlohmann::json::array();
    for (int32_t id : ids) pieces.push_back(tok->token_bytes(id));
    j["tokens"] = pieces;
    j["count"] = ids.size();
    std::string out = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::printf("%s\n", out.c_str());
  } else {
    std::string out;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) out += ' ';
      out += std::to_string(ids[i]);
    }
    std::printf("%s\n", out.c_str());
  }
}

void run_detokenize(const TokSource& src, const std::vector<std::string>& args) {
  std::string joined;
  for (const auto& a : args) joined += a + " ";
  std::vector<int32_t> ids = parse_token_ids(joined);
  auto tok = load(src);
  std::string bytes = tok->decode(ids);
  std::fwrite(bytes.data(), 1, bytes.size(), stdout);
  std::fflush(stdout);
}

// Hidden: single-thread encode throughput and load time, for bench/tokenizer_bench.sh.
struct BenchOpts {
  TokSource src;
  std::string file;
  int repeat = 5;
  int threads = 0;
  bool pcre2 = false;
  bool special = false;
};

double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void run_bench(const BenchOpts& o) {
  std::string text = read_all(o.file);
  std::vector<double> load_ms;
  std::unique_ptr<Tokenizer> tok;
  for (int r = 0; r < std::max(1, o.repeat); ++r) {
    double t0 = now_s();
    tok = load(o.src);
    load_ms.push_back((now_s() - t0) * 1e3);
  }
  if (o.pcre2) tok->force_pcre2_pretokenizer();
  std::vector<double> mbps;
  std::vector<int32_t> ids;
  for (int r = 0; r < std::max(1, o.repeat); ++r) {
    ids.clear();
    double t0 = now_s();
    tok->encode_into(text, o.special, ids);
    double dt = now_s() - t0;
    mbps.push_back(text.size() / dt / 1e6);
  }
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a over the ids, to compare with other encoders
  for (int32_t id : ids) {
    h ^= static_cast<uint32_t>(id);
    h *= 1099511628211ull;
  }
  std::printf("tokenizer=%s\n", tok->describe().c_str());
  std::printf("bytes=%zu tokens=%zu ids_fnv1a=%016llx\n", text.size(), ids.size(), static_cast<unsigned long long>(h));
  std::printf("load_ms_median=%.1f\n", median(load_ms));
  std::printf("encode_mbps_median=%.2f runs=", median(mbps));
  for (size_t i = 0; i < mbps.size(); ++i) std::printf("%s%.2f", i ? "," : "", mbps[i]);
  std::printf("\n");
  if (o.threads > 0) {
    // Batch: the text cut at line ends into documents of about 4 KB, encoded on a pool.
    std::vector<std::string_view> docs;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = std::min(text.size(), start + 4096);
      size_t nl = text.find('\n', end);
      end = nl == std::string::npos ? text.size() : nl + 1;
      docs.emplace_back(text.data() + start, end - start);
      start = end;
    }
    ThreadPool pool(o.threads);
    std::vector<double> bm;
    for (int r = 0; r < std::max(1, o.repeat); ++r) {
      double t0 = now_s();
      auto out = tok->encode_batch(docs, o.special, &pool);
      bm.push_back(text.size() / (now_s() - t0) / 1e6);
    }
    std::printf("batch_threads=%d docs=%zu batch_mbps_median=%.2f\n", pool.size(), docs.size(), median(bm));
  }
}

CommandRegistrar reg(50, [](CLI::App& root) {
  {
    auto o = std::make_shared<TokenizeOpts>();
    auto* sub = root.add_subcommand("tokenize", "Encode text to token ids (one line, space-separated)");
    add_source_options(sub, o->src);
    sub->add_flag("--special", o->special, "recognise special-token text such as <|eot|>");
    sub->add_flag("--json", o->json, "print {\"ids\": [...], \"tokens\": [...], \"count\": N}");
    auto* t = sub->add_option("text", o->text, "text to encode");
    auto* f = sub->add_option("--file", o->file, "read the text from a file (raw bytes)");
    t->excludes(f);
    sub->callback([o, t] { run_tokenize(*o, t->count() > 0); });
  }
  {
    auto src = std::make_shared<TokSource>();
    auto args = std::make_shared<std::vector<std::string>>();
    auto* sub = root.add_subcommand("detokenize", "Decode token ids to text (raw bytes to stdout)");
    add_source_options(sub, *src);
    sub->add_option("ids", *args, "token ids, comma- or space-separated")->required();
    sub->callback([src, args] { run_detokenize(*src, *args); });
  }
  {
    auto o = std::make_shared<BenchOpts>();
    auto* sub = root.add_subcommand("bench-tokenizer", "");  // hidden: empty description
    sub->group("");
    add_source_options(sub, o->src);
    sub->add_option("--file", o->file, "text file to encode")->required();
    sub->add_option("--repeat", o->repeat, "timed repetitions");
    sub->add_option("--threads", o->threads, "also time encode_batch on this many threads");
    sub->add_flag("--pcre2", o->pcre2, "use the PCRE2 pre-tokenizer instead of the scanner");
    sub->add_flag("--special", o->special, "recognise special tokens");
    sub->callback([o] { run_bench(*o); });
  }
});

}  // namespace
}  // namespace herd::cli
