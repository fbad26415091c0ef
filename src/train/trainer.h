#pragma once
// The training loop of `herd train`: deterministic data order, gradient accumulation, AdamW with
// warmup + cosine, clipping, routing balance, telemetry logs (log.jsonl, log.csv), evaluation,
// atomic checkpoints (Hugging Face directory + optimizer state) and bit-identical resume.
//
// Run directory:
//   config.json, train_args.json           model and run settings
//   log.jsonl, log.csv                     one record per step (and per evaluation)
//   checkpoints/step_NNNNNNN/              config.json, model.safetensors (f32), tokenizer files,
//                                          optimizer.safetensors (Adam m, v; expert biases),
//                                          trainer_state.json
//   checkpoints/latest                     name of the newest complete checkpoint
//   final/                                 the exported model (herd run -m RUN/final)
#include <cstdint>
#include <functional>
#include <string>

#include "model/model_config.h"
#include "train/optimizer.h"
#include "train/routing.h"

namespace herd::train {

struct TrainOptions {
  std::string data_dir, out_dir;
  std::string init_from;  // optional HF directory to start from (else random init)
  bool resume = false;    // continue from out_dir/checkpoints/latest
  ModelConfig model;      // vocab_size is taken from the data when 0
  int64_t batch = 8, seq = 256, accum = 1, steps = 1000;
  double lr = 1e-3, min_lr_ratio = 0.1, clip = 1.0;
  int64_t warmup = 50;
  AdamWOptions adam;
  uint64_t seed = 1;
  float init_std = 0.02f;
  double collapse_init = 0;  // > 0: induce collapse onto expert 0 at init (tests, experiments)
  RoutingOptions routing;
  int64_t log_every = 10, eval_every = 200, eval_batches = 8, save_every = 500, keep_checkpoints = 2;
  int threads = 1;
  std::string export_dtype = "BF16";  // the final/ export
  int max_bad_steps = 3;              // consecutive non-finite steps before training stops
  int64_t stop_after = 0;             // > 0: stop (as if interrupted) after this many steps this run
  bool quiet = false;
  bool write_final = true;
};

struct TrainSummary {
  int64_t steps_done = 0, tokens = 0, skipped_steps = 0;
  double final_loss = 0, val_loss = -1, tokens_per_s = 0, seconds = 0;
  double max_vio_batch_last = 0;   // mean over MoE layers, mean of the last 10% of steps
  double max_vio_global = -1, cv_global = -1, dead_global = -1;  // on validation, mean over layers
};

// A model config for training with the Llama 4 layer schedule: NoPE every `nope_every`-th layer,
// MoE every `moe_every`-th layer, chunked attention on RoPE layers.
ModelConfig train_model_config(int64_t vocab, int64_t hidden, int layers, int heads, int kv_heads, int experts,
                               int top_k, int64_t expert_ffn, int64_t dense_ffn, int64_t chunk, int nope_every,
                               int moe_every, bool qk_norm, int64_t max_pos);

TrainSummary train(const TrainOptions& o);

}  // namespace herd::train
