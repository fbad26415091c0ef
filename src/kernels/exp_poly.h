#pragma once
// Constants of herd's SIMD e^x (exp_avx512.h; the AVX2 one in vec_avx2.cpp): x = n ln2 + r with
// n = round(x log2(e)) and ln2 split in two so that n ln2 is exact, then e^r by its degree-7
// Taylor polynomial (truncation < 1e-8 relative), coefficients from the highest degree down for
// Horner's rule.
namespace herd::simd {

inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2Hi = 0.693145751953125f;
inline constexpr float kLn2Lo = 1.42860682030941723e-6f;
inline constexpr float kExpTaylor[] = {1.0f / 5040.0f, 1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f,
                                       1.0f / 6.0f,    0.5f,           1.0f,           1.0f};

}  // namespace herd::simd
