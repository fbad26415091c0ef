// herd data prepare: tokenize UTF-8 text into verified token shards with a train/validation split.
#include <cstdio>

#include "command.h"
#include "core/error.h"
#include "train/data.h"

namespace herd::cli {
namespace {

CommandRegistrar reg(93, [](CLI::App& root) {
  auto a = std::make_shared<herd::train::PrepareOptions>();
  auto* data = root.add_subcommand("data", "training data tools");
  data->require_subcommand(1);
  auto* sub = data->add_subcommand("prepare", "tokenize text files into train/validation token shards");
  sub->add_option("inputs", a->inputs, "UTF-8 text files (documents separated by empty lines)")
      ->required()->check(CLI::ExistingFile);
  sub->add_option("--tokenizer", a->tokenizer_dir, "directory with tokenizer.model (from herd tokenizer train)")->required();
  sub->add_option("-o,--out", a->out_dir, "output directory")->required();
  sub->add_option("--val-fraction", a->val_fraction, "share of documents held out for validation")->capture_default_str();
  sub->add_option("--seed", a->seed, "seed of the document split")->capture_default_str();
  sub->add_option("--shard-tokens", a->shard_tokens, "tokens per shard file")->capture_default_str();
  sub->callback([a] {
    auto st = herd::train::prepare_data(*a);
    std::printf("%lld documents (%lld bytes): %lld train tokens in %d shards, %lld validation tokens in %d shards -> %s\n",
                static_cast<long long>(st.documents), static_cast<long long>(st.bytes),
                static_cast<long long>(st.train_tokens), st.train_shards, static_cast<long long>(st.val_tokens),
                st.val_shards, a->out_dir.c_str());
  });
});

}  // namespace
}  // namespace herd::cli
