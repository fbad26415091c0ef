// herd train: train a Llama-4-architecture MoE on token shards (see docs/training.md).
#include <cstdio>

#include "command.h"
#include "core/error.h"
#include "train/trainer.h"

namespace herd::cli {
namespace {

struct TrainArgs {
  herd::train::TrainOptions o;
  int64_t hidden = 256, expert_ffn = 256, dense_ffn = 512, chunk = 64, max_pos = 4096;
  int layers = 4, heads = 4, kv_heads = 2, experts = 8, top_k = 1, nope_every = 4, moe_every = 1;
  bool no_qk_norm = false;
  std::string balance = "aux";  // none | aux | bias | aux+bias
  double aux = 1e-2, z = 1e-3, gamma = 1e-3, seq_aux = 0;
  bool aux_global = false;
};

void apply_balance(TrainArgs& a) {
  auto& r = a.o.routing;
  r = {};
  const std::string& b = a.balance;
  if (b == "none") return;
  if (b == "aux" || b == "aux+bias") {
    r.aux_alpha = a.aux;
    r.z_coef = a.z;
    r.aux_global = a.aux_global;
  }
  if (b == "bias" || b == "aux+bias") r.bias_gamma = a.gamma;
  if (b != "aux" && b != "bias" && b != "aux+bias") fail("--balance must be none, aux, bias or aux+bias, got '", b, "'");
  r.seq_alpha = a.seq_aux;
}

CommandRegistrar reg(90, [](CLI::App& root) {
  auto a = std::make_shared<TrainArgs>();
  auto* sub = root.add_subcommand("train", "train a Llama 4 MoE model on token shards (herd data prepare)");
  auto& o = a->o;
  sub->add_option("--data", o.data_dir, "data directory from herd data prepare")->required();
  sub->add_option("-o,--out", o.out_dir, "run directory (logs, checkpoints, final/)")->required();
  sub->add_flag("--resume", o.resume, "continue from the run directory's latest checkpoint");
  sub->add_option("--init", o.init_from, "start from this Hugging Face model directory instead of random weights");
  sub->add_option("--layers", a->layers, "decoder layers")->capture_default_str();
  sub->add_option("--hidden", a->hidden, "hidden size")->capture_default_str();
  sub->add_option("--heads", a->heads, "attention heads")->capture_default_str();
  sub->add_option("--kv-heads", a->kv_heads, "key/value heads (GQA)")->capture_default_str();
  sub->add_option("--experts", a->experts, "routed experts per MoE layer")->capture_default_str();
  sub->add_option("--top-k", a->top_k, "experts per token")->capture_default_str();
  sub->add_option("--expert-ffn", a->expert_ffn, "routed and shared expert width")->capture_default_str();
  sub->add_option("--dense-ffn", a->dense_ffn, "dense FFN width (layers that are not MoE)")->capture_default_str();
  sub->add_option("--moe-every", a->moe_every, "every n-th layer is MoE (1: all)")->capture_default_str();
  sub->add_option("--nope-every", a->nope_every, "every n-th layer is NoPE (0: none)")->capture_default_str();
  sub->add_option("--chunk", a->chunk, "attention chunk size on RoPE layers (0: full causal)")->capture_default_str();
  sub->add_flag("--no-qk-norm", a->no_qk_norm, "disable the per-head QK norm on RoPE layers");
  sub->add_option("--batch", o.batch, "sequences per micro-batch")->capture_default_str();
  sub->add_option("--seq", o.seq, "tokens per sequence")->capture_default_str();
  sub->add_option("--accum", o.accum, "micro-batches per optimizer step")->capture_default_str();
  sub->add_option("--steps", o.steps, "optimizer steps")->capture_default_str();
  sub->add_option("--lr", o.lr, "peak learning rate")->capture_default_str();
  sub->add_option("--min-lr-ratio", o.min_lr_ratio, "final lr as a share of the peak")->capture_default_str();
  sub->add_option("--warmup", o.warmup, "warmup steps")->capture_default_str();
  sub->add_option("--weight-decay", o.adam.weight_decay, "AdamW weight decay (not on norms/embedding)")->capture_default_str();
  sub->add_option("--beta2", o.adam.beta2, "AdamW beta2")->capture_default_str();
  sub->add_option("--clip", o.clip, "gradient clipping norm (0: off)")->capture_default_str();
  sub->add_option("--seed", o.seed, "seed (init and data order)")->capture_default_str();
  sub->add_option("--init-std", o.init_std, "std of the random init")->capture_default_str();
  sub->add_option("--balance", a->balance, "routing balance: none | aux (load-balance + z-loss) | bias (loss-free) | aux+bias")
      ->capture_default_str();
  sub->add_option("--aux", a->aux, "load-balance loss coefficient")->capture_default_str();
  sub->add_flag("--aux-global", a->aux_global, "load-balance f over the whole optimizer batch");
  sub->add_option("--z-loss", a->z, "router z-loss coefficient (with --balance aux)")->capture_default_str();
  sub->add_option("--bias-rate", a->gamma, "loss-free bias update rate gamma")->capture_default_str();
  sub->add_option("--seq-aux", a->seq_aux, "sequence-wise balance loss coefficient (any --balance)")->capture_default_str();
  sub->add_option("--collapse-init", o.collapse_init, "induce routing collapse onto expert 0 at init (strength)");
  sub->add_option("--log-every", o.log_every, "progress line every n steps")->capture_default_str();
  sub->add_option("--eval-every", o.eval_every, "validation every n steps (0: only at the end)")->capture_default_str();
  sub->add_option("--eval-batches", o.eval_batches, "validation batches")->capture_default_str();
  sub->add_option("--save-every", o.save_every, "checkpoint every n steps (0: only at the end)")->capture_default_str();
  sub->add_option("--stop-after", o.stop_after, "stop after n steps of this run, checkpointing (as if interrupted)");
  sub->add_option("--export-dtype", o.export_dtype, "dtype of final/ (F32 or BF16)")->capture_default_str();
  sub->add_option("-t,--threads", o.threads, "threads")->capture_default_str();
  sub->add_flag("-q,--quiet", o.quiet, "no progress lines");
  sub->callback([a] {
    apply_balance(*a);
    auto& o = a->o;
    o.model = herd::train::train_model_config(0, a->hidden, a->layers, a->heads, a->kv_heads, a->experts, a->top_k,
                                              a->expert_ffn, a->dense_ffn, a->chunk, a->nope_every, a->moe_every,
                                              !a->no_qk_norm, a->max_pos);
    auto s = herd::train::train(o);
    std::printf("trained %lld steps (%lld tokens this run, %.0f tokens/s); final loss %.4f; validation loss %s; "
                "MaxVio batch %.3f, global %s\n",
                static_cast<long long>(s.steps_done), static_cast<long long>(s.tokens), s.tokens_per_s, s.final_loss,
                s.val_loss >= 0 ? std::to_string(s.val_loss).c_str() : "n/a", s.max_vio_batch_last,
                s.max_vio_global >= 0 ? std::to_string(s.max_vio_global).c_str() : "n/a");
  });
});

}  // namespace
}  // namespace herd::cli
