#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/thread_pool.h"
#include "formats/hf_writer.h"
#include "formats/safetensors.h"
#include "runtime/sampler.h"
#include "train/data.h"
#include "kernels/sgemm.h"
#include "train/model.h"

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace herd::train {

ModelConfig train_model_config(int64_t vocab, int64_t hidden, int layers, int heads, int kv_heads, int experts,
                               int top_k, int64_t expert_ffn, int64_t dense_ffn, int64_t chunk, int nope_every,
                               int moe_every, bool qk_norm, int64_t max_pos) {
  ModelConfig c;
  c.architecture = "Llama4ForCausalLM";
  c.vocab_size = vocab;
  c.hidden_size = hidden;
  c.n_layers = layers;
  c.n_heads = heads;
  c.n_kv_heads = kv_heads;
  if (heads <= 0 || hidden % heads != 0) fail("train: hidden size ", hidden, " is not a multiple of ", heads, " heads");
  c.head_dim = static_cast<int>(hidden / heads);
  c.expert_ffn = expert_ffn;
  c.dense_ffn = dense_ffn;
  c.n_experts = experts;
  c.top_k = top_k;
  c.use_qk_norm = qk_norm;
  c.rope_theta = 500000.0;
  c.chunk_size = chunk;
  c.attn_temperature_tuning = true;
  c.floor_scale = 8192;
  c.attn_scale = 0.1;
  c.max_position = max_pos;
  c.tie_word_embeddings = false;
  c.torch_dtype = "float32";
  for (int l = 0; l < layers; ++l) {
    c.rope_layer.push_back(nope_every <= 0 || (l + 1) % nope_every != 0);
    c.moe_layer.push_back(moe_every > 0 && (l + 1) % moe_every == 0);
  }
  return c;
}

namespace {

using Clock = std::chrono::steady_clock;

std::string read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) fail(p, ": cannot open");
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void write_text_atomic(const std::string& path, const std::string& s) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) fail(tmp, ": cannot create");
    f << s;
    f.flush();
    if (!f) {
      f.close();
      fs::remove(tmp);
      fail(tmp, ": write failed (disk full?)");
    }
  }
  fs::rename(tmp, path);
}

TensorToWrite f32_tensor(const std::string& name, const float* p, size_t n) {
  TensorToWrite t{name, "F32", {static_cast<int64_t>(n)}, {}};
  t.bytes.resize(n * 4);
  std::memcpy(t.bytes.data(), p, n * 4);
  return t;
}

uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The windows of step s: row r of micro-batch j starts at a position drawn from a generator
// seeded by (seed, s) only, so any step's batch can be rebuilt on resume.
void fill_batch(const std::vector<uint16_t>& toks, uint64_t seed, int64_t s, int64_t j, int64_t B, int64_t T,
                std::vector<int32_t>& ids, std::vector<int32_t>& tg) {
  Rng rng(mix(seed ^ mix(static_cast<uint64_t>(s) * 1315423911ull + static_cast<uint64_t>(j))));
  const int64_t span = static_cast<int64_t>(toks.size()) - T - 1;
  ids.resize(B * T);
  tg.resize(B * T);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t start = span > 0 ? static_cast<int64_t>(rng.next() % static_cast<uint64_t>(span + 1)) : 0;
    for (int64_t t = 0; t < T; ++t) {
      ids[b * T + t] = toks[start + t];
      tg[b * T + t] = toks[start + t + 1];
    }
  }
}

struct EvalResult {
  double loss = 0;
  std::vector<std::vector<int64_t>> counts;  // per layer
};

EvalResult evaluate(TrainModel& m, const std::vector<uint16_t>& val, int64_t B, int64_t T, int64_t batches) {
  EvalResult r;
  const int L = m.config().n_layers;
  std::vector<std::vector<int64_t>> saved(L);
  for (int l = 0; l < L; ++l) {
    saved[l] = m.router_state()[l].step_counts;
    std::fill(m.router_state()[l].step_counts.begin(), m.router_state()[l].step_counts.end(), 0);
  }
  std::vector<RouterLayerState> saved_state = m.router_state();
  const int64_t windows = std::min<int64_t>(batches * B, (static_cast<int64_t>(val.size()) - 1) / T);
  std::vector<int32_t> ids, tg;
  double total = 0;
  int64_t n = 0;
  for (int64_t w0 = 0; w0 < windows; w0 += B) {
    const int64_t b = std::min(B, windows - w0);
    ids.resize(b * T);
    tg.resize(b * T);
    for (int64_t i = 0; i < b; ++i)
      for (int64_t t = 0; t < T; ++t) {
        ids[i * T + t] = val[(w0 + i) * T + t];
        tg[i * T + t] = val[(w0 + i) * T + t + 1];
      }
    total += m.forward(ids.data(), tg.data(), b, T) * static_cast<double>(b);
    n += b;
  }
  r.loss = n ? total / static_cast<double>(n) : -1;
  for (int l = 0; l < L; ++l) r.counts.push_back(m.router_state()[l].step_counts);
  for (int l = 0; l < L; ++l) {
    m.router_state()[l] = saved_state[l];
    m.router_state()[l].step_counts = saved[l];
  }
  return r;
}

std::string fmt_time(double s) {
  char b[32];
  if (s < 0 || !std::isfinite(s)) return "?";
  const int64_t x = static_cast<int64_t>(s);
  if (x >= 3600) std::snprintf(b, sizeof b, "%lldh%02lldm", static_cast<long long>(x / 3600), static_cast<long long>(x % 3600 / 60));
  else std::snprintf(b, sizeof b, "%lldm%02llds", static_cast<long long>(x / 60), static_cast<long long>(x % 60));
  return b;
}

class Checkpointer {
 public:
  Checkpointer(const TrainOptions& o, const std::string& tok_dir) : o_(o), tok_dir_(tok_dir) {
    dir_ = (fs::path(o.out_dir) / "checkpoints").string();
  }

  // Writes the whole checkpoint into a temporary directory, renames it into place, then points
  // `latest` at it; only then are older checkpoints removed. Any failure leaves the previous
  // checkpoint (and `latest`) untouched.
  void save(const TrainModel& m, const AdamW& opt, int64_t step, const ojson& extra) {
    char name[32];
    std::snprintf(name, sizeof name, "step_%07lld", static_cast<long long>(step));
    const fs::path final_dir = fs::path(dir_) / name, tmp = fs::path(dir_) / (std::string(".tmp-") + name);
    try {
      fs::create_directories(dir_);
      fs::remove_all(tmp);
      fs::create_directories(tmp);
      write_model_dir(m, tmp.string(), "F32");
      std::vector<TensorToWrite> st;
      st.push_back(f32_tensor("adam.m", opt.m.data(), opt.m.size()));
      st.push_back(f32_tensor("adam.v", opt.v.data(), opt.v.size()));
      for (int l = 0; l < m.config().n_layers; ++l)
        if (m.config().is_moe(l)) {
          const auto& b = m.router_state()[l].bias;
          st.push_back(f32_tensor("expert_bias." + std::to_string(l), b.data(), b.size()));
        }
      write_safetensors((tmp / "optimizer.safetensors").string(), st);
      ojson s = extra;
      s["step"] = step;
      s["adam_t"] = opt.t;
      write_text_atomic((tmp / "trainer_state.json").string(), s.dump(2) + "\n");
      fs::remove_all(final_dir);
      fs::rename(tmp, final_dir);
      write_text_atomic((fs::path(dir_) / "latest").string(), std::string(name) + "\n");
    } catch (const std::exception& e) {
      std::error_code ec;
      fs::remove_all(tmp, ec);
      std::string prev = latest();
      fail("checkpoint at step ", step, " failed: ", e.what(), "; ",
           prev.empty() ? std::string("no earlier checkpoint exists") : "the previous checkpoint " + prev + " is intact");
    }
    // prune
    std::vector<std::string> all;
    for (auto& e : fs::directory_iterator(dir_))
      if (e.is_directory() && e.path().filename().string().rfind("step_", 0) == 0) all.push_back(e.path().filename().string());
    std::sort(all.begin(), all.end());
    for (size_t i = 0; i + static_cast<size_t>(std::max<int64_t>(1, o_.keep_checkpoints)) < all.size(); ++i) {
      std::error_code ec;
      fs::remove_all(fs::path(dir_) / all[i], ec);
    }
  }

  std::string latest() const {
    const fs::path p = fs::path(dir_) / "latest";
    if (!fs::exists(p)) return "";
    std::string s = read_file(p.string());
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s.empty() ? "" : (fs::path(dir_) / s).string();
  }

  void write_model_dir(const TrainModel& m, const std::string& dir, const std::string& dtype) const {
    ModelConfig c = m.config();
    c.torch_dtype = dtype == "F32" ? "float32" : "bfloat16";
    write_hf_config(dir, c);
    write_safetensors(dir + "/model.safetensors", m.hf_tensors(dtype));
    for (const char* f : {"tokenizer.model", "tokenizer.json"}) {
      const fs::path src = fs::path(tok_dir_) / f;
      if (!tok_dir_.empty() && fs::exists(src)) {
        const std::string dst = dir + "/" + f, tmp = dst + ".tmp";
        fs::copy_file(src, tmp, fs::copy_options::overwrite_existing);
        fs::rename(tmp, dst);
      }
    }
  }

 private:
  const TrainOptions& o_;
  std::string dir_, tok_dir_;
};

std::vector<float> read_f32_tensor(const SafetensorsFile& f, const std::string& name, size_t n) {
  auto it = f.tensors().find(name);
  if (it == f.tensors().end()) fail(f.path(), ": missing tensor ", name);
  const TensorInfo& t = it->second;
  if (t.dtype_name != "F32" || static_cast<size_t>(t.numel()) != n)
    fail(f.path(), ": tensor ", name, " should be F32 with ", n, " values");
  std::vector<float> v(n);
  std::memcpy(v.data(), t.data, n * 4);
  return v;
}

ojson layer_json(int l, const RouterLayerState& rs, int micro) {
  LoadStats s = load_stats(rs.step_counts);
  const double k = micro > 0 ? 1.0 / micro : 0.0;
  ojson j;
  j["layer"] = l;
  j["counts"] = rs.step_counts;
  j["frac"] = s.frac;
  j["max_vio"] = s.max_vio;
  j["cv"] = s.cv;
  j["entropy"] = s.entropy;
  j["effective"] = s.effective;
  j["dead"] = s.dead;
  j["aux"] = rs.step_sum.aux * k;
  j["z_loss"] = rs.step_sum.z * k;
  j["seq_aux"] = rs.step_sum.seq * k;
  j["router_z"] = rs.step_sum.lse2 * k;  // mean LSE(z)^2
  j["confidence"] = rs.step_sum.confidence * k;
  j["bias"] = rs.bias;
  return j;
}

}  // namespace

TrainSummary train(const TrainOptions& o) {
  if (o.out_dir.empty()) fail("train: no output directory");
  if (o.batch <= 0 || o.seq <= 1 || o.accum <= 0 || o.steps <= 0) fail("train: batch, seq, accum and steps must be positive");
  if (o.threads > 0) {
    ThreadPool::set_global_threads(o.threads);
    set_gemm_threads(o.threads);
  }
  TokenData data = load_data(o.data_dir);
  if (static_cast<int64_t>(data.train.size()) < o.seq + 1)
    fail(o.data_dir, ": only ", data.train.size(), " training tokens, fewer than one sequence of ", o.seq + 1);
  const bool have_val = static_cast<int64_t>(data.val.size()) > o.seq;

  fs::create_directories(o.out_dir);
  Checkpointer ck(o, data.tokenizer_dir);

  // Model: from a checkpoint (resume), an HF directory, or random.
  std::string resume_dir = o.resume ? ck.latest() : "";
  if (o.resume && resume_dir.empty()) fail(o.out_dir, ": --resume given but there is no checkpoint to resume from");
  ModelConfig cfg = o.model;
  TrainModel m = [&] {
    if (!resume_dir.empty()) return TrainModel::from_hf(resume_dir);
    if (!o.init_from.empty()) return TrainModel::from_hf(o.init_from);
    if (cfg.vocab_size == 0) cfg.vocab_size = data.vocab_size;
    if (cfg.vocab_size < static_cast<int64_t>(data.vocab_size))
      fail("train: model vocabulary ", cfg.vocab_size, " is smaller than the data's ", data.vocab_size);
    if (data.vocab_size >= 2048 + 256 && cfg.bos_id < 0) {  // herd tokenizer: specials follow the ranks
      const int64_t n = static_cast<int64_t>(data.vocab_size) - 2048;
      cfg.bos_id = n;                 // <|begin_of_text|>
      cfg.eos_ids = {n + 1, n + 8};   // <|end_of_text|>, <|eot|>
    }
    TrainModel x(cfg);
    x.init_random(o.seed, o.init_std);
    return x;
  }();
  const ModelConfig& c = m.config();
  if (c.vocab_size < static_cast<int64_t>(data.vocab_size))
    fail("train: model vocabulary ", c.vocab_size, " is smaller than the data's ", data.vocab_size);
  m.routing() = o.routing;
  const int64_t ranks = static_cast<int64_t>(data.vocab_size) - 2048;
  AdamW opt(m.data().size());
  int64_t start = 0;
  if (!resume_dir.empty()) {
    SafetensorsFile f((fs::path(resume_dir) / "optimizer.safetensors").string());
    opt.m = read_f32_tensor(f, "adam.m", opt.m.size());
    opt.v = read_f32_tensor(f, "adam.v", opt.v.size());
    for (int l = 0; l < c.n_layers; ++l)
      if (c.is_moe(l)) m.router_state()[l].bias = read_f32_tensor(f, "expert_bias." + std::to_string(l), c.n_experts);
    nlohmann::json st = nlohmann::json::parse(read_file((fs::path(resume_dir) / "trainer_state.json").string()));
    start = st.at("step").get<int64_t>();
    opt.t = st.at("adam_t").get<int64_t>();
  } else if (o.collapse_init > 0) {
    // Induced imbalance: a shared direction u in every embedding row and router row 0 aligned
    // with it, so expert 0 wins (sigmoid near 1) for nearly every token in every MoE layer.
    Rng rng(o.seed ^ 0xC011A95Eull);
    const int64_t D = c.hidden_size;
    std::vector<float> u(D);
    for (auto& x : u) x = (rng.next() & 1) ? 1.0f : -1.0f;
    float* E = m.p("model.embed_tokens.weight");
    for (int64_t v = 0; v < c.vocab_size; ++v)
      for (int64_t i = 0; i < D; ++i) E[v * D + i] += 2.0f * o.init_std * u[i];
    for (int l = 0; l < c.n_layers; ++l)
      if (c.is_moe(l)) {
        float* R = m.p("model.layers." + std::to_string(l) + ".feed_forward.router.weight");
        for (int64_t i = 0; i < D; ++i) R[i] += static_cast<float>(o.collapse_init / static_cast<double>(D)) * u[i];
      }
  }
  if (start >= o.steps) fail("train: the checkpoint is at step ", start, ", already at --steps ", o.steps);

  ojson args;
  args["data"] = o.data_dir;
  args["batch"] = o.batch;
  args["seq"] = o.seq;
  args["accum"] = o.accum;
  args["steps"] = o.steps;
  args["lr"] = o.lr;
  args["min_lr_ratio"] = o.min_lr_ratio;
  args["warmup"] = o.warmup;
  args["clip"] = o.clip;
  args["weight_decay"] = o.adam.weight_decay;
  args["beta1"] = o.adam.beta1;
  args["beta2"] = o.adam.beta2;
  args["seed"] = o.seed;
  args["routing"] = {{"aux_alpha", o.routing.aux_alpha}, {"aux_global", o.routing.aux_global},
                     {"z_coef", o.routing.z_coef},       {"seq_alpha", o.routing.seq_alpha},
                     {"bias_gamma", o.routing.bias_gamma}, {"describe", o.routing.describe()}};
  args["collapse_init"] = o.collapse_init;
  args["threads"] = o.threads;
  args["gemm"] = gemm_backend();
  args["params_total"] = c.params_total();
  args["params_active"] = c.params_active();
  args["tokenizer_ranks"] = ranks;
  write_text_atomic((fs::path(o.out_dir) / "train_args.json").string(), args.dump(2) + "\n");
  write_hf_config(o.out_dir, c);

  // Logs: on resume, keep only the records up to the checkpoint's step.
  const std::string jl_path = (fs::path(o.out_dir) / "log.jsonl").string();
  const std::string csv_path = (fs::path(o.out_dir) / "log.csv").string();
  const std::string csv_head = "type,step,loss,ce,balance,lr,grad_norm,tokens_per_s,max_vio_mean,cv_mean,dead_total,val_loss,max_vio_global_mean\n";
  {
    std::string jl, csv = csv_head;
    if (start > 0 && fs::exists(jl_path)) {
      std::istringstream in(read_file(jl_path));
      std::string line;
      while (std::getline(in, line)) {
        if (line.empty()) continue;
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_discarded() && j.value("step", INT64_MAX) <= start) jl += line + "\n";
      }
      std::istringstream cin(fs::exists(csv_path) ? read_file(csv_path) : "");
      bool first = true;
      while (std::getline(cin, line)) {
        if (first) { first = false; continue; }
        std::istringstream ls(line);
        std::string type, step;
        std::getline(ls, type, ',');
        std::getline(ls, step, ',');
        if (!step.empty() && std::stoll(step) <= start) csv += line + "\n";
      }
    }
    write_text_atomic(jl_path, jl);
    write_text_atomic(csv_path, csv);
  }
  std::ofstream jl(jl_path, std::ios::app), csv(csv_path, std::ios::app);

  if (!o.quiet)
    std::fprintf(stderr,
                 "herd train: %s parameters (%s active), %d layers, d %lld, %d experts top-%d, vocab %lld; "
                 "batch %lld x %lld x accum %lld = %lld tokens/step; routing: %s; gemm: %s, %d thread(s)%s\n",
                 std::to_string(c.params_total()).c_str(), std::to_string(c.params_active()).c_str(), c.n_layers,
                 static_cast<long long>(c.hidden_size), c.n_experts, c.top_k, static_cast<long long>(c.vocab_size),
                 static_cast<long long>(o.batch), static_cast<long long>(o.seq), static_cast<long long>(o.accum),
                 static_cast<long long>(o.batch * o.seq * o.accum), o.routing.describe().c_str(), gemm_backend(),
                 o.threads, start > 0 ? (" (resumed at step " + std::to_string(start) + ")").c_str() : "");

  TrainSummary sum;
  std::vector<int32_t> ids, tg;
  const auto t_begin = Clock::now();
  double train_seconds = 0;
  int64_t tokens_run = 0;
  int bad_streak = 0;
  std::vector<double> maxvio_hist;
  auto moe_layers = [&] {
    std::vector<int> v;
    for (int l = 0; l < c.n_layers; ++l)
      if (c.is_moe(l)) v.push_back(l);
    return v;
  }();

  auto do_eval = [&](int64_t step) {
    if (!have_val) return;
    EvalResult ev = evaluate(m, data.val, o.batch, o.seq, o.eval_batches);
    ojson j;
    j["type"] = "eval";
    j["step"] = step;
    j["val_loss"] = ev.loss;
    ojson layers = ojson::array();
    double mv = 0, cvs = 0, dead = 0;
    for (int l : moe_layers) {
      LoadStats s = load_stats(ev.counts[l]);
      layers.push_back({{"layer", l}, {"frac", s.frac}, {"max_vio", s.max_vio}, {"cv", s.cv}, {"entropy", s.entropy},
                        {"dead", s.dead}});
      mv += s.max_vio;
      cvs += s.cv;
      dead += s.dead;
    }
    const double nl = moe_layers.empty() ? 1.0 : static_cast<double>(moe_layers.size());
    j["max_vio_global_mean"] = mv / nl;
    j["cv_global_mean"] = cvs / nl;
    j["dead_global_total"] = dead;
    j["layers"] = layers;
    jl << j.dump() << "\n";
    jl.flush();
    csv << "eval," << step << ",,,,,,,,,," << ev.loss << "," << mv / nl << "\n";
    csv.flush();
    sum.val_loss = ev.loss;
    sum.max_vio_global = mv / nl;
    sum.cv_global = cvs / nl;
    sum.dead_global = dead;
    if (!o.quiet) std::fprintf(stderr, "eval step %lld: val loss %.4f, MaxVio_global %.3f\n", static_cast<long long>(step), ev.loss, mv / nl);
  };

  int64_t step = start;
  int64_t run_steps = 0;
  for (; step < o.steps; ++step) {
    if (o.stop_after > 0 && run_steps >= o.stop_after) break;
    const auto t0 = Clock::now();
    m.zero_grad();
    for (auto& rs : m.router_state()) {
      std::fill(rs.step_counts.begin(), rs.step_counts.end(), 0);
      rs.step_sum = {};
      rs.micro = 0;
    }
    double ce = 0, bal = 0;
    for (int64_t j = 0; j < o.accum; ++j) {
      fill_batch(data.train, o.seed, step, j, o.batch, o.seq, ids, tg);
      ce += m.forward(ids.data(), tg.data(), o.batch, o.seq) / static_cast<double>(o.accum);
      bal += m.balance_loss() / static_cast<double>(o.accum);
      m.backward(1.0f / static_cast<float>(o.accum));
    }
    const double loss = ce + bal;
    double gn = grad_norm(m.grad());
    const double lr = lr_at(step, o.steps, o.warmup, o.lr, o.min_lr_ratio);
    const bool finite = std::isfinite(loss) && std::isfinite(gn);
    if (!finite) {
      ++bad_streak;
      ++sum.skipped_steps;
      std::fprintf(stderr, "\nherd train: step %lld: non-finite %s (loss %g, grad norm %g); step skipped (%d in a row)\n",
                   static_cast<long long>(step), std::isfinite(loss) ? "gradient" : "loss", loss, gn, bad_streak);
      jl << ojson{{"type", "skipped"}, {"step", step}, {"loss", std::isfinite(loss) ? loss : -1.0}, {"reason", "non-finite"}}.dump() << "\n";
      jl.flush();
      if (bad_streak >= o.max_bad_steps) {
        const std::string last = ck.latest();
        fail("training stopped at step ", step, ": the loss or gradient was NaN/Inf for ", bad_streak,
             " consecutive steps (lower --lr or check the data)",
             last.empty() ? std::string() : "; the last good checkpoint is " + last);
      }
      ++run_steps;
      continue;
    }
    bad_streak = 0;
    opt.step(m, lr, o.adam, clip_factor(gn, o.clip));  // clipping folded into the update
    for (int l : moe_layers)
      if (o.routing.bias_gamma > 0) update_expert_bias(m.router_state()[l].bias, m.router_state()[l].step_counts, o.routing.bias_gamma);
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    train_seconds += dt;
    tokens_run += o.batch * o.seq * o.accum;
    ++run_steps;
    const double tps = tokens_run / std::max(train_seconds, 1e-9);

    // telemetry
    ojson layers = ojson::array();
    double mv = 0, cvs = 0;
    int dead = 0;
    for (int l : moe_layers) {
      const auto& rs = m.router_state()[l];
      layers.push_back(layer_json(l, rs, rs.micro));
      LoadStats s = load_stats(rs.step_counts);
      mv += s.max_vio;
      cvs += s.cv;
      dead += s.dead;
    }
    const double nl = moe_layers.empty() ? 1.0 : static_cast<double>(moe_layers.size());
    maxvio_hist.push_back(mv / nl);
    ojson rec;
    rec["type"] = "step";
    rec["step"] = step + 1;
    rec["loss"] = loss;
    rec["ce"] = ce;
    rec["balance"] = bal;
    rec["lr"] = lr;
    rec["grad_norm"] = gn;
    rec["tokens_per_s"] = tps;
    rec["elapsed_s"] = std::chrono::duration<double>(Clock::now() - t_begin).count();
    rec["max_vio_mean"] = mv / nl;
    rec["cv_mean"] = cvs / nl;
    rec["dead_total"] = dead;
    rec["layers"] = layers;
    jl << rec.dump() << "\n";
    csv << "step," << step + 1 << "," << loss << "," << ce << "," << bal << "," << lr << "," << gn << "," << tps << ","
        << mv / nl << "," << cvs / nl << "," << dead << ",,\n";
    sum.final_loss = loss;
    if (!o.quiet && ((step + 1) % o.log_every == 0 || step + 1 == o.steps || step == start)) {
      const double eta = (o.steps - step - 1) * (train_seconds / run_steps);
      std::fprintf(stderr, "step %lld/%lld | loss %.4f (ce %.4f) | lr %.2e | gnorm %.3f | MaxVio %.2f | %.0f tok/s | ETA %s\n",
                   static_cast<long long>(step + 1), static_cast<long long>(o.steps), loss, ce, lr, gn, mv / nl, tps,
                   fmt_time(eta).c_str());
      jl.flush();
      csv.flush();
    }
    const int64_t done = step + 1;
    if (o.eval_every > 0 && done % o.eval_every == 0 && done < o.steps) do_eval(done);
    if (o.save_every > 0 && done % o.save_every == 0 && done < o.steps) {
      jl.flush();
      csv.flush();
      ck.save(m, opt, done, ojson{{"routing", o.routing.describe()}});
    }
  }
  jl.flush();
  csv.flush();
  sum.steps_done = step;
  sum.tokens = tokens_run;
  sum.seconds = train_seconds;
  sum.tokens_per_s = tokens_run / std::max(train_seconds, 1e-9);
  {
    const size_t n = maxvio_hist.size(), k = std::max<size_t>(1, n / 10);
    double s = 0;
    for (size_t i = n - std::min(n, k); i < n; ++i) s += maxvio_hist[i];
    sum.max_vio_batch_last = n ? s / static_cast<double>(std::min(n, k)) : 0;
  }
  if (step >= o.steps) {
    do_eval(step);
    ck.save(m, opt, step, ojson{{"routing", o.routing.describe()}});
    if (o.write_final) {
      const fs::path fin = fs::path(o.out_dir) / "final", tmp = fs::path(o.out_dir) / ".tmp-final";
      fs::remove_all(tmp);
      fs::create_directories(tmp);
      ck.write_model_dir(m, tmp.string(), o.export_dtype);
      fs::remove_all(fin);
      fs::rename(tmp, fin);
    }
  } else if (run_steps > 0 && step > start) {
    ck.save(m, opt, step, ojson{{"routing", o.routing.describe()}, {"interrupted", true}});
  }
  ojson fin{{"type", "summary"}, {"step", step}, {"steps_done", step}, {"tokens", tokens_run},
            {"tokens_per_s", sum.tokens_per_s}, {"seconds", train_seconds}, {"final_loss", sum.final_loss},
            {"val_loss", sum.val_loss}, {"max_vio_batch_last", sum.max_vio_batch_last},
            {"max_vio_global", sum.max_vio_global}, {"cv_global", sum.cv_global}, {"dead_global", sum.dead_global},
            {"skipped_steps", sum.skipped_steps}};
  jl << fin.dump() << "\n";
  return sum;
}

}  // namespace herd::train
