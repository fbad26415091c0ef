// herd experiment routing: the same model, data and seed trained with each routing-balance arm
// (none / aux load-balance + z-loss / loss-free bias), then a comparison table and report.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "command.h"
#include "core/error.h"
#include "train/report.h"
#include "train/trainer.h"

namespace herd::cli {
namespace {

struct ExpArgs {
  herd::train::TrainOptions o;
  int64_t hidden = 128, expert_ffn = 256, chunk = 64;
  int layers = 4, heads = 4, kv_heads = 2, experts = 8, nope_every = 4;
  double aux = 1e-2, z = 1e-3, gamma = 1e-3;
  std::vector<std::string> arms = {"none", "aux", "bias"};
};

void run_exp(ExpArgs& a) {
  namespace fs = std::filesystem;
  using namespace herd::train;
  fs::create_directories(a.o.out_dir);
  std::vector<std::string> dirs;
  std::vector<RunSummaryRow> rows;
  const std::string base = a.o.out_dir;
  for (const auto& arm : a.arms) {
    TrainOptions o = a.o;
    o.out_dir = (fs::path(base) / arm).string();
    o.model = train_model_config(0, a.hidden, a.layers, a.heads, a.kv_heads, a.experts, 1, a.expert_ffn, a.expert_ffn,
                                 a.chunk, a.nope_every, 1, true, 4096);
    o.routing = {};
    if (arm == "aux") {
      o.routing.aux_alpha = a.aux;
      o.routing.z_coef = a.z;
    } else if (arm == "bias") {
      o.routing.bias_gamma = a.gamma;
    } else if (arm != "none") {
      fail("unknown arm '", arm, "' (none, aux, bias)");
    }
    std::fprintf(stderr, "== arm %s: %s\n", arm.c_str(), o.routing.describe().c_str());
    herd::train::train(o);
    dirs.push_back(o.out_dir);
    rows.push_back(summarize_run(o.out_dir, arm));
  }
  write_report(dirs, a.arms, (fs::path(base) / "report.html").string(), "herd experiment routing");
  std::ostringstream md;
  md << "| arm | val loss | MaxVio batch (last 10%) | MaxVio global (val) | CV global | dead experts (val) | tokens/s |\n"
        "|---|---|---|---|---|---|---|\n";
  nlohmann::ordered_json js = nlohmann::ordered_json::array();
  for (const auto& r : rows) {
    char line[512];
    std::snprintf(line, sizeof line, "| %s | %.4f | %.3f | %.3f | %.3f | %.0f | %.0f |\n", r.name.c_str(), r.val_loss,
                  r.max_vio_batch, r.max_vio_global, r.cv_global, r.dead_global, r.tokens_per_s);
    md << line;
    js.push_back({{"arm", r.name}, {"val_loss", r.val_loss}, {"max_vio_batch", r.max_vio_batch},
                  {"max_vio_global", r.max_vio_global}, {"cv_global", r.cv_global}, {"dead_global", r.dead_global},
                  {"tokens_per_s", r.tokens_per_s}, {"steps", r.steps}});
  }
  std::ofstream(fs::path(base) / "summary.md") << md.str();
  std::ofstream(fs::path(base) / "summary.json") << js.dump(2) << "\n";
  std::printf("%s\nreport: %s/report.html\n", md.str().c_str(), base.c_str());
}

CommandRegistrar reg(91, [](CLI::App& root) {
  auto a = std::make_shared<ExpArgs>();
  auto* exp = root.add_subcommand("experiment", "training experiments");
  exp->require_subcommand(1);
  auto* sub = exp->add_subcommand("routing", "compare routing-balance arms (none / aux + z-loss / loss-free bias)");
  auto& o = a->o;
  o.steps = 300;
  o.batch = 8;
  o.seq = 128;
  o.eval_every = 100;
  o.save_every = 0;
  o.log_every = 50;
  o.write_final = false;
  sub->add_option("--data", o.data_dir, "data directory from herd data prepare")->required();
  sub->add_option("-o,--out", o.out_dir, "output directory (one run per arm, report.html, summary.md)")->required();
  sub->add_option("--arms", a->arms, "arms to run")->capture_default_str();
  sub->add_option("--layers", a->layers)->capture_default_str();
  sub->add_option("--hidden", a->hidden)->capture_default_str();
  sub->add_option("--heads", a->heads)->capture_default_str();
  sub->add_option("--kv-heads", a->kv_heads)->capture_default_str();
  sub->add_option("--experts", a->experts)->capture_default_str();
  sub->add_option("--expert-ffn", a->expert_ffn)->capture_default_str();
  sub->add_option("--chunk", a->chunk)->capture_default_str();
  sub->add_option("--steps", o.steps)->capture_default_str();
  sub->add_option("--batch", o.batch)->capture_default_str();
  sub->add_option("--seq", o.seq)->capture_default_str();
  sub->add_option("--lr", o.lr)->capture_default_str();
  sub->add_option("--warmup", o.warmup)->capture_default_str();
  sub->add_option("--seed", o.seed)->capture_default_str();
  sub->add_option("--aux", a->aux, "load-balance coefficient of the aux arm")->capture_default_str();
  sub->add_option("--z-loss", a->z, "z-loss coefficient of the aux arm")->capture_default_str();
  sub->add_option("--bias-rate", a->gamma, "gamma of the loss-free bias arm")->capture_default_str();
  sub->add_option("--collapse-init", o.collapse_init, "induce collapse onto expert 0 at init in every arm");
  sub->add_option("--eval-every", o.eval_every)->capture_default_str();
  sub->add_option("--eval-batches", o.eval_batches)->capture_default_str();
  sub->add_option("-t,--threads", o.threads)->capture_default_str();
  sub->callback([a] { run_exp(*a); });
});

}  // namespace
}  // namespace herd::cli
