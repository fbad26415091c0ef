#pragma once
// The interface between the model and its key/value memory. The model hands over post-RoPE,
// post-norm keys and values per layer and asks for attention outputs; how and where K/V live
// (contiguous RAM, chunk rings, quantized pages, disk) is the implementation's business.
#include <cstdint>
#include <istream>
#include <ostream>

#include "core/error.h"

namespace herd {

struct AttentionShape {
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int64_t chunk = 0;  // > 0: a key at q is visible from p iff q <= p and q/chunk == p/chunk
  float scale = 1.0f;  // softmax scale (1/sqrt(head_dim))
};

class KVCache {
 public:
  virtual ~KVCache() = default;

  // Stores keys and values ([T, n_kv_heads*head_dim] each) of one layer at absolute positions
  // pos[0..T). Positions must be written in increasing order, without gaps.
  virtual void write(int layer, const int64_t* pos, int64_t T, const float* k, const float* v) = 0;

  // out[t] = softmax(q[t]·Kᵀ·scale over the keys visible from pos[t]) · V for every query head;
  // q and out are [T, n_heads*head_dim]. Keys up to and including pos[t] must already be written.
  virtual void attend(int layer, const int64_t* pos, int64_t T, const float* q, float* out,
                      const AttentionShape& shape) = 0;

  // Makes room for positions [0, n_positions) now, so that writing them later neither grows
  // buffers nor faults memory in mid-generation (llama.cpp allocates its whole context up front).
  // A hint: a cache may hold less than asked (a chunk ring never needs more than a chunk).
  virtual void reserve(int64_t n_positions) { (void)n_positions; }

  // Number of positions stored (the next position to write), equal across layers after a step.
  virtual int64_t n_positions() const = 0;
  // Forgets positions >= n (used to rewind a conversation).
  virtual void truncate(int64_t n) = 0;
  virtual void clear() { truncate(0); }
  // Whether truncate(n) keeps everything later queries need (a chunk ring may have dropped it).
  virtual bool can_truncate(int64_t n) const { return n <= n_positions(); }

  struct MemoryUse {
    int64_t ram_bytes = 0;   // keys and values held in memory
    int64_t disk_bytes = 0;  // spilled to the disk tier
  };
  virtual MemoryUse memory_use() const = 0;

  // Session files: the cached state as bytes. load() expects a cache built for the same model
  // and options and throws herd::Error on anything else.
  virtual void save(std::ostream& out) const { fail("this KV cache does not support sessions"); }
  virtual void load(std::istream& in) { fail("this KV cache does not support sessions"); }
};

}  // namespace herd
