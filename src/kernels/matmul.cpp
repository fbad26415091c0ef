#include "kernels/matmul.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/qdot.h"
#include "kernels/qgemm_amx.h"
#include "kernels/row_interleave.h"
#include "kernels/sgemm.h"
#include "kernels/vec.h"

namespace herd {

void WeightMatrix::stored_rows(int64_t r0, int64_t n, uint8_t* out) const {
  const size_t stride = row_stride();
  if (!interleaved) {
    std::memcpy(out, data + r0 * stride, static_cast<size_t>(n) * stride);
    return;
  }
  std::vector<uint8_t> group(stride * kInterleaveRows);
  for (int64_t r = r0; r < r0 + n;) {
    const int64_t g = r / kInterleaveRows, first = g * kInterleaveRows;
    const int64_t take = std::min(r0 + n, first + kInterleaveRows) - r;
    deinterleave_group(type, data + first * stride, cols, group.data());
    std::memcpy(out + (r - r0) * stride, group.data() + (r - first) * stride, static_cast<size_t>(take) * stride);
    r += take;
  }
}

float WeightMatrix::at(int64_t o, int64_t i) const {
  if (interleaved) {
    std::vector<float> r(cols);
    row(o, r.data());
    return r[i];
  }
  if (dtype_is_quantized(type)) {
    const int64_t bs = dtype_block_size(type);
    float blk[256];
    to_f32(type, row_ptr(o) + (i / bs) * dtype_block_bytes(type), blk, bs);
    return blk[i % bs];
  }
  int64_t idx = in_major ? i * ld + o : o * ld + i;
  float v;
  to_f32(type, data + idx * dtype_size(type), &v, 1);
  return v;
}

void WeightMatrix::row(int64_t o, float* dst) const {
  if (interleaved) {
    std::vector<uint8_t> r(row_stride());
    stored_rows(o, 1, r.data());
    row_to_f32(type, r.data(), dst, cols);
    return;
  }
  if (!in_major) {
    row_to_f32(type, row_ptr(o), dst, cols);
    return;
  }
  for (int64_t i = 0; i < cols; ++i) dst[i] = at(o, i);
}

namespace {

std::atomic<int> g_exact{-1};

void matmul_out_major(const float* x, int64_t T, const WeightMatrix& W, float* y) {
  const int64_t in = W.cols, out = W.rows;
  // ~16 KiB of weights per task: a small product (the MoE router's 16 rows) still uses every thread.
  const int64_t grain = std::max<int64_t>(1, std::min<int64_t>(16, (int64_t{16} << 10) / std::max<int64_t>(1, static_cast<int64_t>(W.row_stride()))));
  ThreadPool::global().parallel_for(out, grain, [&](int64_t o0, int64_t o1) {
    std::vector<float> buf(W.type == DType::F32 ? 0 : in);
    std::vector<uint8_t> group(W.interleaved ? W.row_stride() * kInterleaveRows : 0);  // standard rows of group g
    int64_t g = -1;
    for (int64_t o = o0; o < o1; ++o) {
      const uint8_t* src = W.row_ptr(o);
      if (W.interleaved) {
        if (o / kInterleaveRows != g) {
          g = o / kInterleaveRows;
          deinterleave_group(W.type, W.row_ptr(g * kInterleaveRows), in, group.data());
        }
        src = group.data() + (o % kInterleaveRows) * W.row_stride();
      }
      const float* w;
      if (W.type == DType::F32) {
        w = reinterpret_cast<const float*>(src);
      } else {
        row_to_f32(W.type, src, buf.data(), in);
        w = buf.data();
      }
      for (int64_t t = 0; t < T; ++t) y[t * out + o] = dot_f32(x + t * in, w, in);
    }
  });
}

void matmul_in_major(const float* x, int64_t T, const WeightMatrix& W, float* y) {
  const int64_t in = W.cols, out = W.rows;
  const size_t esize = dtype_size(W.type);
  constexpr int64_t kBlock = 64;
  const int64_t n_blocks = (out + kBlock - 1) / kBlock;
  ThreadPool::global().parallel_for(n_blocks, 1, [&](int64_t b0, int64_t b1) {
    std::vector<float> panel;  // [in, width] slice of W in f32 when W is not f32
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t o0 = b * kBlock, width = std::min(kBlock, out - o0);
      const float* base;
      int64_t stride;
      if (W.type == DType::F32) {
        base = reinterpret_cast<const float*>(W.data) + o0;
        stride = W.ld;
      } else {
        panel.resize(in * width);
        for (int64_t i = 0; i < in; ++i) row_to_f32(W.type, W.data + (i * W.ld + o0) * esize, &panel[i * width], width);
        base = panel.data();
        stride = width;
      }
      for (int64_t t = 0; t < T; ++t) {
        float* yt = y + t * out + o0;
        std::fill(yt, yt + width, 0.0f);
        const float* xt = x + t * in;
        for (int64_t i = 0; i < in; ++i)
          if (xt[i] != 0.0f) axpy_f32(xt[i], base + i * stride, yt, width);
      }
    }
  });
}

// Software prefetch distance for the weight rows, in bytes: on the development VM a core alone
// keeps too few cache misses in flight to stream at the memory bandwidth. 2 KiB ahead (into L1)
// measured best in whole-model decode (1-6 KiB, into L1 and L2, tried; a 170 MB matrix alone
// favours 4-6 KiB into L2, the model with its many short matrices does not).
constexpr size_t kPrefetchBytes = 2 << 10;

// From this many tokens on, matmul_quant uses the register-tiled GEMM (qdot.h: QGemmFn) where the
// weight type has one: its 16-row panel unpack is amortized over the tokens.
constexpr int64_t kGemmMinTokens = 4;

// AMX tiles where the CPU and OS allow them (HERD_AMX=0 turns them off), else AVX-512 VNNI.
QGemmFn prefill_gemm_kernel(DType t) {
  if (QGemmFn f = amx_qgemm_kernel(t)) return f;
  return qgemm_kernel(t);
}

// Rows [o0, o1) of y = acts · Wᵀ for W in interleaved 16-row groups: whole groups straight into
// y, a group cut by either end of the range into a scratch first.
void dot_rows_interleaved(const WeightMatrix& W, const QActs& acts, float* y, int64_t o0, int64_t o1) {
  const QDotRows16Fn k16 = qdot_rows16_kernel(W.type);
  if (!k16) fail("matmul: no kernel for interleaved ", dtype_name(W.type), " rows on this CPU");
  const int64_t in = W.cols, out = W.rows, T = acts.T;
  const size_t group_bytes = W.row_stride() * kInterleaveRows;
  for (int64_t t0 = 0; t0 < T; t0 += 4) {
    const int nt = static_cast<int>(std::min<int64_t>(4, T - t0));
    ActRow rows[4];
    for (int j = 0; j < nt; ++j) rows[j] = act_row(acts, t0 + j);
    float* yt = y + t0 * out;
    int64_t g = o0 / kInterleaveRows;
    const int64_t g_end = (o1 + kInterleaveRows - 1) / kInterleaveRows;
    while (g < g_end) {
      const int64_t first = g * kInterleaveRows;
      if (first < o0 || first + kInterleaveRows > o1) {  // partial group
        float part[4 * kInterleaveRows];
        k16(in, W.data + g * group_bytes, 1, rows, nt, part, kInterleaveRows, 0);
        for (int j = 0; j < nt; ++j)
          for (int64_t o = std::max(o0, first); o < std::min(o1, first + kInterleaveRows); ++o) yt[j * out + o] = part[j * kInterleaveRows + o - first];
        ++g;
        continue;
      }
      int64_t run = 1;  // whole groups from g on
      while (g + run < g_end && (g + run + 1) * kInterleaveRows <= o1) ++run;
      k16(in, W.data + g * group_bytes, run, rows, nt, yt + first, out, kPrefetchBytes);
      g += run;
    }
  }
}

// Rows [o0, o1) of y = acts · Wᵀ (y is [T, W.rows]) with the one-row dot kernel, in tiles of
// kRowTile rows so that a tile stays in L1 while every group of up to 4 tokens passes over it
// (decode: T = 1, so this is a plain walk over the rows).
constexpr int64_t kRowTile = 16;
void dot_rows(const WeightMatrix& W, QDotFn fn, const QActs& acts, float* y, int64_t o0, int64_t o1) {
  const int64_t in = W.cols, out = W.rows, T = acts.T;
  const size_t stride = W.row_stride(), row_bytes = dtype_row_bytes(W.type, in);
  if (W.interleaved) {
    dot_rows_interleaved(W, acts, y, o0, o1);
    return;
  }
  if (T == 1)
    if (QDotRowsFn rows_fn = qdot_rows_kernel(W.type)) {
      rows_fn(in, W.data + o0 * stride, stride, o1 - o0, act_row(acts, 0), y + o0, kPrefetchBytes);
      return;
    }
  ActRow rows[4];
  float res[4];
  for (int64_t r0 = o0; r0 < o1; r0 += kRowTile) {
    const int64_t r1 = std::min(o1, r0 + kRowTile);
    for (int64_t t0 = 0; t0 < T; t0 += 4) {
      const int nt = static_cast<int>(std::min<int64_t>(4, T - t0));
      for (int j = 0; j < nt; ++j) rows[j] = act_row(acts, t0 + j);
      for (int64_t o = r0; o < r1; ++o) {
        if (t0 == 0) {  // may reach past the matrix: prefetches never fault
          const char* p = reinterpret_cast<const char*>(W.data + o * stride) + kPrefetchBytes;
          for (size_t off = 0; off < row_bytes; off += 64) __builtin_prefetch(p + off, 0, 3);
        }
        fn(in, W.data + o * stride, rows, nt, res);
        for (int j = 0; j < nt; ++j) y[(t0 + j) * out + o] = res[j];
      }
    }
  }
}

// Rows per block when threads split a one-token product of rows of `stride` bytes
// (ThreadPool::parallel_stream): about 16 KiB, a multiple of kRowTile rows. Each thread walks its
// own contiguous share and claims a fraction of what is left at a time, so the block size only
// bounds how finely the end of the job is balanced; restarting the prefetchers at every block
// of 64-256 KiB claimed in turn (parallel_chunks) streamed 10-15% slower.
int64_t decode_block(size_t stride) {
  const int64_t r = static_cast<int64_t>((size_t{16} << 10) / std::max<size_t>(1, stride));
  return std::max<int64_t>(kRowTile, r / kRowTile * kRowTile);
}

// Block weights with 8-bit activations: the prefill GEMM from kGemmMinTokens tokens on, else
// threads split the rows (dot_rows).
void matmul_quant(const float* x, int64_t T, const WeightMatrix& W, float* y, QDotFn fn) {
  const int64_t in = W.cols, out = W.rows;
  thread_local QActs tl_acts;
  QActs& acts = tl_acts;  // the caller's buffer (a lambda naming tl_acts would see the worker's)
  if (T >= kGemmMinTokens && in % 64 == 0)
    if (QGemmFn gemm = prefill_gemm_kernel(W.type)) {
      thread_local QGroups tl_groups;
      QGroups& groups = tl_groups;
      quantize_and_group(x, T, in, W.type, acts, groups);
      const size_t stride = W.row_stride();
      // Interleaved weights: the AMX GEMM reads the groups in place; other GEMMs get each panel
      // restored to standard rows first.
      const QGemmFn in_place = W.interleaved ? amx_qgemm_interleaved_kernel(W.type) : nullptr;
      // Each thread walks a contiguous share of panels, so that the next panel it prefetches is
      // the one it multiplies next.
      const int64_t n_panels = (out + 15) / 16;
      ThreadPool::global().parallel_stream(n_panels, 1, [&](int64_t p0, int64_t p1) {
        thread_local std::vector<uint8_t> tl_panel;
        std::vector<uint8_t>& panel = tl_panel;
        for (int64_t p = p0; p < p1; ++p) {
          const int64_t r0 = p * 16;
          const uint8_t* w = W.data + r0 * stride;
          const int nr = static_cast<int>(std::min<int64_t>(16, out - r0));
          if (in_place) {
            in_place(in, w, stride, nr, acts, groups, y + r0, out);
            continue;
          }
          if (W.interleaved) {  // back to 16 standard rows (the panel is one group)
            panel.resize(stride * kInterleaveRows);
            deinterleave_group(W.type, w, in, panel.data());
            w = panel.data();
            // The GEMM reads the restored copy, so its own prefetch of the next panel misses the
            // matrix: fetch the next group toward L2 while this panel is multiplied.
            if (p + 1 < n_panels)
              for (size_t o = 0; o < stride * kInterleaveRows; o += 64) _mm_prefetch(reinterpret_cast<const char*>(W.data + (r0 + 16) * stride + o), _MM_HINT_T1);
          }
          gemm(in, w, stride, nr, acts, groups, y + r0, out);
        }
      });
      return;
    }
  quantize_acts(x, T, in, act_kind(W.type), acts);
  ThreadPool::global().parallel_stream(out, decode_block(W.row_stride()), [&](int64_t o0, int64_t o1) { dot_rows(W, fn, acts, y, o0, o1); });
}

}  // namespace

void set_matmul_exact(bool exact) { g_exact.store(exact ? 1 : 0); }

bool matmul_exact() {
  int v = g_exact.load();
  if (v < 0) {
    const char* env = std::getenv("HERD_MATMUL");
    v = env && !std::strcmp(env, "exact") ? 1 : 0;
    g_exact.store(v);
  }
  return v == 1;
}

// Prefill on f32/bf16/f16 weights: panels of output rows converted to f32 once (or used in place
// when already f32) and multiplied against all T tokens with SGEMM, panels spread over the pool.
void matmul_panels_sgemm(const float* x, int64_t T, const WeightMatrix& W, float* y) {
  constexpr int64_t kPanel = 64;
  const int64_t in = W.cols, out = W.rows;
  const size_t es = dtype_size(W.type);
  const int64_t n_panels = (out + kPanel - 1) / kPanel;
  sgemm_single_threaded();
  ThreadPool::global().parallel_for(n_panels, 1, [&](int64_t p0, int64_t p1) {
    std::vector<float> panel;
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t o0 = p * kPanel, n = std::min(kPanel, out - o0);
      if (!W.in_major) {  // B = panel rows [n, in], used transposed
        const float* b;
        int64_t ldb;
        if (W.type == DType::F32) {
          b = reinterpret_cast<const float*>(W.data) + o0 * W.ld;
          ldb = W.ld;
        } else {
          panel.resize(n * in);
          for (int64_t r = 0; r < n; ++r) row_to_f32(W.type, W.data + (o0 + r) * W.ld * es, &panel[r * in], in);
          b = panel.data();
          ldb = in;
        }
        sgemm(false, true, T, n, in, 1.0f, x, in, b, ldb, 0.0f, y + o0, out);
      } else {  // in-major: B = columns o0..o0+n of [in, ld], used as is
        const float* b;
        int64_t ldb;
        if (W.type == DType::F32) {
          b = reinterpret_cast<const float*>(W.data) + o0;
          ldb = W.ld;
        } else {
          panel.resize(in * n);
          for (int64_t i = 0; i < in; ++i) row_to_f32(W.type, W.data + (i * W.ld + o0) * es, &panel[i * n], n);
          b = panel.data();
          ldb = n;
        }
        sgemm(false, false, T, n, in, 1.0f, x, in, b, ldb, 0.0f, y + o0, out);
      }
    }
  });
}

void matmul_batch(const MatmulTask* tasks, int n) {
  // One dispatch for all products where each would take the one-row dot kernels (decode).
  bool fuse = !matmul_exact();
  size_t widest = 0;
  int live = 0;
  for (int i = 0; i < n && fuse; ++i) {
    const MatmulTask& m = tasks[i];
    if (m.T <= 0) continue;
    ++live;
    fuse = m.T < kGemmMinTokens && dtype_is_quantized(m.W->type) && !m.W->in_major && qdot_kernel(m.W->type) != nullptr;
    widest = std::max(widest, m.W->row_stride());
  }
  if (!fuse || live < 2) {
    for (int i = 0; i < n; ++i)
      if (tasks[i].T > 0) matmul(tasks[i].x, tasks[i].T, *tasks[i].W, tasks[i].y);
    return;
  }
  // Each distinct input is quantized once per activation format (q/k/v, gate/up share theirs).
  struct Item {
    const MatmulTask* task;
    QDotFn fn;
    int acts;  // index into the quantized inputs
    int64_t start;  // first row in the joint row range
  };
  thread_local std::vector<QActs> tl_acts;
  thread_local std::vector<Item> tl_items;
  std::vector<QActs>& acts = tl_acts;  // the caller's (a lambda naming tl_ would see the worker's)
  std::vector<Item>& items = tl_items;
  items.clear();
  int n_acts = 0;
  int64_t rows = 0;
  for (int i = 0; i < n; ++i) {
    const MatmulTask& m = tasks[i];
    if (m.T <= 0) continue;
    const ActKind kind = act_kind(m.W->type);
    int a = -1;
    for (const Item& it : items)
      if (it.task->x == m.x && it.task->T == m.T && it.task->W->cols == m.W->cols && act_kind(it.task->W->type) == kind) a = it.acts;
    if (a < 0) {
      a = n_acts++;
      if (static_cast<int>(acts.size()) < n_acts) acts.resize(n_acts);
      quantize_acts(m.x, m.T, m.W->cols, kind, acts[a]);
    }
    items.push_back({&m, qdot_kernel(m.W->type), a, rows});
    rows += m.W->rows;
  }
  // Blocks sized for the widest rows.
  ThreadPool::global().parallel_stream(rows, decode_block(widest), [&](int64_t g0, int64_t g1) {
    for (const Item& it : items) {
      const int64_t a = std::max(g0, it.start), b = std::min(g1, it.start + it.task->W->rows);
      if (a < b) dot_rows(*it.task->W, it.fn, acts[it.acts], it.task->y, a - it.start, b - it.start);
    }
  });
}

void matmul_multi(const float* x, int64_t T, std::initializer_list<MatmulOut> outs) {
  MatmulTask tasks[8];
  int n = 0;
  for (const MatmulOut& m : outs) {
    if (n == 8) fail("matmul_multi: at most 8 matrices");
    tasks[n++] = {x, T, m.W, m.y};
  }
  matmul_batch(tasks, n);
}

void matmul(const float* x, int64_t T, const WeightMatrix& W, float* y) {
  if (T <= 0) return;
  if (T >= 16 && !dtype_is_quantized(W.type)) return matmul_panels_sgemm(x, T, W, y);
  if (dtype_is_quantized(W.type)) {
    if (W.in_major) fail("matmul: ", dtype_name(W.type), " weights must be out-major");
    if (!matmul_exact())
      if (QDotFn fn = qdot_kernel(W.type)) return matmul_quant(x, T, W, y, fn);
    return matmul_out_major(x, T, W, y);
  }
  if (W.in_major) matmul_in_major(x, T, W, y);
  else matmul_out_major(x, T, W, y);
}

}  // namespace herd
