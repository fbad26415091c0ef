#include "model/decode_layout.h"

#include <cstdlib>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"
#include "kernels/qdot.h"
#include "kernels/row_interleave.h"

namespace herd {

DecodeLayout decode_layout_from_env() {
  const char* env = std::getenv("HERD_INTERLEAVE");
  if (!env || !std::strcmp(env, "all")) return DecodeLayout::All;
  if (!std::strcmp(env, "0")) return DecodeLayout::None;
  if (!std::strcmp(env, "head")) return DecodeLayout::Head;
  fail("HERD_INTERLEAVE must be 0, head or all, got '", env, "'");
}

int use_decode_layout(ModelWeights& w, DecodeLayout which) {
  if (which == DecodeLayout::None) return 0;
  std::vector<WeightMatrix*> all = {&w.lm_head};
  for (LayerWeights& L : w.layers) {
    if (which != DecodeLayout::All) break;
    for (WeightMatrix* m : {&L.q, &L.k, &L.v, &L.o, &L.shared.gate, &L.shared.up, &L.shared.down}) all.push_back(m);
    for (FfnWeights& e : L.experts)
      for (WeightMatrix* m : {&e.gate, &e.up, &e.down}) all.push_back(m);
  }
  // Matrices whose bytes are also read some other way (a tied embedding's rows) stay as they are.
  std::set<const uint8_t*> seen = {w.embed.data};
  std::vector<WeightMatrix*> chosen;
  std::vector<std::pair<const uint8_t*, size_t>> ranges;
  for (WeightMatrix* m : all) {
    if (m->empty() || m->interleaved || m->in_major || m->ld != m->cols || !interleavable(m->type, m->rows, m->cols) ||
        !qdot_rows16_kernel(m->type) || !seen.insert(m->data).second)
      continue;
    chosen.push_back(m);
    ranges.emplace_back(m->data, m->row_stride() * static_cast<size_t>(m->rows));
  }
  // One protection change per buffer for all of them (per matrix it cost two over the whole buffer each).
  with_writable(ranges, [&] {
    for (WeightMatrix* m : chosen) interleave_rows(m->type, const_cast<uint8_t*>(m->data), m->rows, m->cols);
  });
  for (WeightMatrix* m : chosen) m->interleaved = true;
  // The lm_head may be the embedding's view (tied): it was skipped above with it.
  return static_cast<int>(chosen.size());
}

int count_decode_layout(const ModelWeights& w) {
  int n = w.lm_head.interleaved && w.lm_head.data != w.embed.data;
  for (const LayerWeights& L : w.layers) {
    for (const WeightMatrix* m : {&L.q, &L.k, &L.v, &L.o, &L.shared.gate, &L.shared.up, &L.shared.down}) n += m->interleaved;
    for (const FfnWeights& e : L.experts)
      for (const WeightMatrix* m : {&e.gate, &e.up, &e.down}) n += m->interleaved;
  }
  return n;
}

}  // namespace herd
