// herd plan against the KV figures of spec §8 and simple bandwidth arithmetic.
#include <gtest/gtest.h>

#include "core/error.h"
#include "model/presets.h"
#include "runtime/plan.h"
#include "test_support.h"

using namespace herd;

namespace {

PlanInput input(const std::string& preset, int64_t context) {
  PlanInput in;
  in.config = preset_config(preset);
  in.weight_bytes_by_type["bf16"] = 2 * in.config.params_total();
  in.weight_bytes_active = 2 * in.config.params_active();
  in.context = context;
  in.mem_bw = 20e9;
  in.flops = 100e9;
  in.disk_bw = 2e9;
  return in;
}

TEST(Plan, ReproducesSpecKvTable) {
  // Spec §8, bf16 K and V, per sequence.
  struct Row {
    const char* preset;
    int64_t context, naive, chunk_aware;
  } rows[] = {
      {"scout", 10000000, 1966080000000LL, 492727959552LL},
      {"scout", 10485760, 2061584302080LL, 516604035072LL},   // 1920 GiB and 481.125 GiB
      {"maverick", 1048576, 206158430208LL, 52747567104LL},   // 192 GiB and 49.125 GiB
      {"scout", 262144, 51539607552LL, 14092861440LL},        // 48 GiB and 13.125 GiB
  };
  for (auto& row : rows) {
    PlanResult r = make_plan(input(row.preset, row.context));
    EXPECT_EQ(r.kv_bytes_per_token_layer, 4096);
    EXPECT_EQ(r.n_global_layers, 12);
    EXPECT_EQ(r.kv_naive, row.naive) << row.preset << " " << row.context;
    EXPECT_EQ(r.kv_chunk_aware, row.chunk_aware) << row.preset << " " << row.context;
  }
  EXPECT_EQ(2061584302080LL, 1920LL << 30);
  EXPECT_EQ(516604035072LL, 481LL * (1LL << 30) + (1LL << 27));
}

TEST(Plan, QuantizedKvScales) {
  PlanInput in = input("scout", 1 << 20);
  in.k_type = in.v_type = KVType::Q8_0;
  PlanResult r = make_plan(in);
  EXPECT_EQ(r.kv_bytes_per_token_layer, 2 * 8 * 4 * 34);  // 4 blocks of 34 bytes per 128-dim head
  in.k_type = in.v_type = KVType::Q4_0;
  EXPECT_EQ(make_plan(in).kv_bytes_per_token_layer, 2 * 8 * 4 * 18);
}

TEST(Plan, TiersAndVerdicts) {
  PlanInput in = input("mini-scout", 1 << 20);
  in.ram_bytes = int64_t{4} << 30;
  PlanResult r = make_plan(in);
  EXPECT_FALSE(r.fits);  // pages must spill but no disk was given
  EXPECT_GT(r.kv_on_disk, 0);
  in.disk_bytes = int64_t{1} << 40;
  r = make_plan(in);
  EXPECT_TRUE(r.fits);
  EXPECT_EQ(r.kv_in_ram + r.kv_on_disk, r.kv_herd);
  EXPECT_LE(r.weights_in_ram + r.kv_in_ram + r.activation_bytes, in.ram_bytes);
  in.ram_bytes = 1000;
  EXPECT_FALSE(make_plan(in).fits);
}

TEST(Plan, DecodeIsBytesOverBandwidth) {
  PlanInput in = input("mini-scout", 1000);  // < chunk: every layer reads all 1000 positions
  in.ram_bytes = 0;                          // unlimited: everything in RAM
  PlanResult r = make_plan(in);
  const int64_t kv = 1000 * r.kv_bytes_per_token_layer * in.config.n_layers;
  EXPECT_EQ(r.decode_bytes_per_step, in.weight_bytes_active + kv);
  EXPECT_NEAR(r.decode_tokens_per_second, 20e9 / static_cast<double>(in.weight_bytes_active + kv), 1e-9);
  in.usd_per_hour = 3.6;
  r = make_plan(in);
  EXPECT_NEAR(r.usd_per_million_decode, 0.001 / r.decode_tokens_per_second * 1e6, 1e-9);
}

TEST(Plan, BadInput) {
  PlanInput in = input("scout", 0);
  EXPECT_THROW(make_plan(in), Error);
  EXPECT_THROW(weight_type_bytes_per_param("q3_xyz"), Error);
}

TEST(Plan, CliJson) {
  auto r = test::run_herd("plan --preset scout --context 10485760 --kv-type bf16 --mem-bw 20 --flops 100 --disk-bw 1 --json", false);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["kv_naive_bytes"].get<int64_t>(), 2061584302080LL);
  EXPECT_EQ(j["kv_chunk_aware_bytes"].get<int64_t>(), 516604035072LL);
  auto text = test::run_herd("plan --preset scout --context 10485760 --mem-bw 20 --flops 100 --disk-bw 1");
  EXPECT_NE(text.out.find("1920.000000 GiB"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("481.125000 GiB"), std::string::npos) << text.out;
  auto bad = test::run_herd("plan --preset nope --context 10");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("unknown preset 'nope'"), std::string::npos) << bad.out;
}

}  // namespace
