#pragma once
// Hugging Face Llama 4 checkpoint -> llama.cpp-compatible GGUF (architecture `llama4`, ggml tensor
// names and layouts as in spec §3.3). Weight types:
//   f16, bf16, q8_0, q4_0: every matrix in that type (norms, router, rope_freqs stay F32);
//   q4_k_m: Q4_K, with Q6_K for output.weight and for attn_v / ffn_down in the "more bits" layers
//           (first and last eighth, and every third layer between), Q8_0 for attn_k / attn_v when
//           the model has 8 or more experts. Rows that are not a multiple of 256 fall back to
//           Q5_0 (for Q4_K) or Q8_0 (for Q6_K), as llama-quantize does.
#include <functional>
#include <string>

namespace herd {

struct ConvertStats {
  size_t bytes = 0;
  int tensors = 0;
};

// progress(done_bytes, total_bytes). vocab_gguf: optional GGUF whose tokenizer.* keys are copied
// (its vocabulary must have vocab_size tokens); without it the file says tokenizer.ggml.model
// "none", which llama.cpp accepts for evaluation but not for tokenizing.
ConvertStats convert_hf_to_gguf(const std::string& hf_dir, const std::string& out_path, const std::string& type,
                                const std::function<void(size_t, size_t)>& progress = nullptr,
                                const std::string& vocab_gguf = "");

}  // namespace herd
