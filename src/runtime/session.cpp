#include "runtime/session.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "formats/hf_writer.h"

namespace herd {

namespace {

constexpr char kMagic[8] = {'H', 'E', 'R', 'D', 'S', 'E', 'S', 'S'};
constexpr uint32_t kVersion = 1;

uint64_t fnv1a(const void* data, size_t n, uint64_t h = 1469598103934665603ull) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

uint64_t hash_matrix(const WeightMatrix& w, uint64_t h) {
  if (w.empty()) return h;
  // The first and last 4 KiB of the bytes as the standard layout stores them: cheap, differs
  // between any two trainings, and is the same whether or not the weights were rearranged for
  // decode (WeightMatrix::interleaved).
  const int64_t n_stored = w.in_major ? w.cols : w.rows;
  const size_t rb = w.in_major ? static_cast<size_t>(w.ld) * dtype_size(w.type) : w.row_stride();
  const size_t total = static_cast<size_t>(n_stored) * rb, n = std::min<size_t>(4096, total);
  if (!w.interleaved) {
    h = fnv1a(w.data, n, h);
    return fnv1a(w.data + total - n, n, h);
  }
  const int64_t k = static_cast<int64_t>((n + rb - 1) / rb);
  std::vector<uint8_t> buf(static_cast<size_t>(k) * rb);
  w.stored_rows(0, k, buf.data());
  h = fnv1a(buf.data(), n, h);
  w.stored_rows(w.rows - k, k, buf.data());
  return fnv1a(buf.data() + buf.size() - n, n, h);
}

template <typename T>
void put(std::ostream& o, const T& v) {
  o.write(reinterpret_cast<const char*>(&v), sizeof v);
}
template <typename T>
T get(std::istream& in, const std::string& path, const char* what) {
  T v{};
  if (!in.read(reinterpret_cast<char*>(&v), sizeof v)) fail(path, ": session file truncated (reading ", what, ")");
  return v;
}

}  // namespace

uint64_t model_fingerprint(const TextModel& model) {
  std::string cfg = hf_config_json(model.config()).dump();
  uint64_t h = fnv1a(cfg.data(), cfg.size());
  const ModelWeights& w = model.weights();
  h = hash_matrix(w.embed, h);
  h = hash_matrix(w.lm_head, h);
  for (const auto& L : w.layers) h = hash_matrix(L.q, h);
  return h;
}

void save_session(const std::string& path, const TextModel& model, const KVCache& cache, const Generator& gen) {
  const std::string tmp = path + ".tmp";
  try {
    std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
    if (!o) fail(path, ": cannot create session file");
    o.write(kMagic, 8);
    put<uint32_t>(o, kVersion);
    put<uint64_t>(o, model_fingerprint(model));
    const auto& hist = gen.history();
    put<uint64_t>(o, hist.size());
    o.write(reinterpret_cast<const char*>(hist.data()), static_cast<std::streamsize>(hist.size() * sizeof(int32_t)));
    Generator& g = const_cast<Generator&>(gen);
    const SamplingParams& sp = g.sampler().params();
    put(o, sp.temperature);
    put(o, sp.top_k);
    put(o, sp.top_p);
    put(o, sp.min_p);
    put(o, sp.repetition_penalty);
    put(o, sp.repeat_last_n);
    put(o, sp.seed);
    for (uint64_t s : g.sampler().rng().state) put(o, s);
    const bool has = gen.has_next_logits();
    put<uint8_t>(o, has ? 1 : 0);
    if (has)
      o.write(reinterpret_cast<const char*>(gen.next_logits().data()),
              static_cast<std::streamsize>(gen.next_logits().size() * sizeof(float)));
    cache.save(o);
    o.flush();
    if (!o) fail("write failed");
  } catch (const std::exception& e) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    fail(path, ": writing the session failed (", e.what(), "; disk full?); the previous session file is unchanged");
  }
  std::filesystem::rename(tmp, path);
}

LoadedSession load_session(const std::string& path, const TextModel& model, KVCache& cache) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open session file");
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, kMagic, 8) != 0) fail(path, ": not a herd session file");
  const auto version = get<uint32_t>(in, path, "version");
  if (version != kVersion) fail(path, ": session format version ", version, ", this herd reads version ", kVersion);
  if (get<uint64_t>(in, path, "model fingerprint") != model_fingerprint(model))
    fail(path, ": session was saved with a different model");
  LoadedSession s;
  const auto n = get<uint64_t>(in, path, "token count");
  if (n > (1ull << 34)) fail(path, ": implausible token count ", n);
  s.tokens.resize(n);
  if (!in.read(reinterpret_cast<char*>(s.tokens.data()), static_cast<std::streamsize>(n * sizeof(int32_t))))
    fail(path, ": session file truncated (tokens)");
  s.sampling.temperature = get<float>(in, path, "sampler");
  s.sampling.top_k = get<int>(in, path, "sampler");
  s.sampling.top_p = get<float>(in, path, "sampler");
  s.sampling.min_p = get<float>(in, path, "sampler");
  s.sampling.repetition_penalty = get<float>(in, path, "sampler");
  s.sampling.repeat_last_n = get<int>(in, path, "sampler");
  s.sampling.seed = get<uint64_t>(in, path, "sampler");
  for (auto& st : s.rng.state) st = get<uint64_t>(in, path, "sampler state");
  if (get<uint8_t>(in, path, "logits flag")) {
    s.next_logits.resize(model.config().vocab_size);
    if (!in.read(reinterpret_cast<char*>(s.next_logits.data()), static_cast<std::streamsize>(s.next_logits.size() * sizeof(float))))
      fail(path, ": session file truncated (logits)");
  }
  try {
    cache.load(in);
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
  if (cache.n_positions() != static_cast<int64_t>(s.tokens.size()))
    fail(path, ": session holds ", s.tokens.size(), " tokens but ", cache.n_positions(), " cached positions");
  return s;
}

}  // namespace herd
