// Counter-based random numbers: Philox4x32-10 and the stream ids every stochastic kernel uses.
// Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC'11.
//
// A random number is a pure function of (seed, stream, step, index, replica, draw): kernels build
// a fresh generator per item per step, so results do not depend on the thread that computes them
// and a run resumed at `step` continues exactly as if it had never stopped.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

namespace mlsci {

// What a stream of random numbers is for. Append only; never renumber (saved runs depend on it).
enum class Stream : std::uint8_t {
    IsingMetropolis = 1,
    IsingWolff = 2,
    IsingSwendsenWang = 3,
    McmcStretch = 4,
    McmcHmc = 5,
    GaSelect = 6,
    GaCrossover = 7,
    GaMutate = 8,
    SvmShuffle = 9,
    User = 10,  // mlsci_fast.random
    IsingHeatBath = 11,
    McmcSplit = 12,  // per-step draws of the ensemble sampler: which move, how the walkers split
    GaCluster = 13,  // cut-and-splice cluster search
    IsingTempering = 14,  // replica-exchange decisions
    TreeFeatures = 15,  // which features a tree node examines (max_features)
    Rbm = 16,           // RBM training: the negative chain's draws per (epoch, minibatch)
    RbmGibbs = 17,      // RBM block Gibbs sampling per (step, chain)
    IsingMultispin = 18,  // multi-spin-coded Metropolis: random words per (half-sweep, word)
    Cmaes = 19,           // CMA-ES: a sample's normals per (generation, sample, restart); restart means
};
static_assert(static_cast<int>(Stream::User) == 10 && static_cast<int>(Stream::IsingHeatBath) == 11 &&
                  static_cast<int>(Stream::McmcSplit) == 12 && static_cast<int>(Stream::GaCluster) == 13 &&
                  static_cast<int>(Stream::IsingTempering) == 14 && static_cast<int>(Stream::TreeFeatures) == 15 &&
                  static_cast<int>(Stream::RbmGibbs) == 17,
              "stream ids are part of the file format: append, never renumber");

using Counter = std::array<std::uint32_t, 4>;
using Key = std::array<std::uint32_t, 2>;

namespace detail {
constexpr std::uint32_t kPhiloxM0 = 0xD2511F53u;
constexpr std::uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr std::uint32_t kPhiloxW0 = 0x9E3779B9u;  // golden ratio
constexpr std::uint32_t kPhiloxW1 = 0xBB67AE85u;  // sqrt(3) - 1

inline void mulhilo(std::uint32_t a, std::uint32_t b, std::uint32_t& hi, std::uint32_t& lo) {
    const std::uint64_t p = static_cast<std::uint64_t>(a) * b;
    hi = static_cast<std::uint32_t>(p >> 32);
    lo = static_cast<std::uint32_t>(p);
}
}  // namespace detail

// The Philox4x32 bijection with `Rounds` rounds (10 is the Crush-resistant standard).
template <int Rounds = 10>
inline Counter philox4x32(Counter ctr, Key key) {
    static_assert(Rounds > 0 && Rounds <= 16, "Philox4x32 rounds must be in [1, 16]");
    for (int r = 0; r < Rounds; ++r) {
        if (r > 0) {
            key[0] += detail::kPhiloxW0;
            key[1] += detail::kPhiloxW1;
        }
        std::uint32_t hi0, lo0, hi1, lo1;
        detail::mulhilo(detail::kPhiloxM0, ctr[0], hi0, lo0);
        detail::mulhilo(detail::kPhiloxM1, ctr[2], hi1, lo1);
        ctr = {hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0};
    }
    return ctr;
}

// SIMD passes on AVX-512 (16 blocks) and AVX2 (8 blocks). Elsewhere the scalar loop: GCC's
// generic vectors of 64-bit lanes, built for AVX2, ran at 31 ns a block, 6x slower than it.
#if defined(__AVX512F__) && (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12))
#define MLSCI_PHILOX_SIMD 1
namespace detail {
// 16 Philox blocks in SIMD lanes: each counter word held as 16 32-bit lanes viewed as 8 64-bit
// ones, so that the 32 x 32 -> 64-bit products of the even and the odd lanes are each one
// widening multiply (vpmuludq) instead of a 64-bit multiply and permutes.
typedef std::uint64_t PhiloxV8 __attribute__((vector_size(64)));
typedef std::uint32_t PhiloxV16 __attribute__((vector_size(64)));

struct PhiloxLanes {
    PhiloxV8 c0, c1, c2, c3;

    PhiloxLanes(std::uint32_t draw, std::uint32_t first, std::uint32_t step, std::uint32_t tag) {
        const PhiloxV16 iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
        c0 = reinterpret_cast<PhiloxV8>(PhiloxV16{} + draw);
        c1 = reinterpret_cast<PhiloxV8>(iota + first);
        c2 = reinterpret_cast<PhiloxV8>(PhiloxV16{} + step);
        c3 = reinterpret_cast<PhiloxV8>(PhiloxV16{} + tag);
    }

    void round(std::uint64_t kk0, std::uint64_t kk1) {
        // The bijection in 12 instructions per round: vpmuludq of the even and the odd lanes,
        // two-source dword permutes for the high and low halves, 3-way xors (25% faster than
        // GCC's code for the same round in generic vectors, which multiplied with vpmullq).
        const __m512i M0 = _mm512_set1_epi64(kPhiloxM0), M1 = _mm512_set1_epi64(kPhiloxM1);
        const __m512i ih = _mm512_setr_epi32(1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
        const __m512i il = _mm512_setr_epi32(0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
        // (The maskz forms and vector-extension shifts: GCC 12 warns that the unmasked intrinsics'
        // deliberately undefined pass-through is "used uninitialized".)
        const __m512i a0 = reinterpret_cast<__m512i>(c0), a2 = reinterpret_cast<__m512i>(c2);
        const __m512i b0 = reinterpret_cast<__m512i>(c0 >> 32), b2 = reinterpret_cast<__m512i>(c2 >> 32);
        const __m512i pe0 = _mm512_maskz_mul_epu32(0xFF, a0, M0), po0 = _mm512_maskz_mul_epu32(0xFF, b0, M0);
        const __m512i pe1 = _mm512_maskz_mul_epu32(0xFF, a2, M1), po1 = _mm512_maskz_mul_epu32(0xFF, b2, M1);
        const __m512i hi0 = _mm512_permutex2var_epi32(pe0, ih, po0), lo0 = _mm512_permutex2var_epi32(pe0, il, po0);
        const __m512i hi1 = _mm512_permutex2var_epi32(pe1, ih, po1), lo1 = _mm512_permutex2var_epi32(pe1, il, po1);
        c0 = reinterpret_cast<PhiloxV8>(_mm512_ternarylogic_epi64(hi1, reinterpret_cast<__m512i>(c1),
                                                                  _mm512_set1_epi64(static_cast<long long>(kk0)), 0x96));
        c1 = reinterpret_cast<PhiloxV8>(lo1);
        c2 = reinterpret_cast<PhiloxV8>(_mm512_ternarylogic_epi64(hi0, reinterpret_cast<__m512i>(c3),
                                                                  _mm512_set1_epi64(static_cast<long long>(kk1)), 0x96));
        c3 = reinterpret_cast<PhiloxV8>(lo0);
    }

    // The first m blocks in block-major order (out[4 b + q] = word q of block b), by permutes.
    void store(std::uint32_t* out, std::int64_t m) const {
        const auto a0 = reinterpret_cast<PhiloxV16>(c0), a1 = reinterpret_cast<PhiloxV16>(c1);
        const auto a2 = reinterpret_cast<PhiloxV16>(c2), a3 = reinterpret_cast<PhiloxV16>(c3);
        const PhiloxV16 p01l = __builtin_shufflevector(a0, a1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        const PhiloxV16 p01h =
            __builtin_shufflevector(a0, a1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        const PhiloxV16 p23l = __builtin_shufflevector(a2, a3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        const PhiloxV16 p23h =
            __builtin_shufflevector(a2, a3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        PhiloxV16 o[4];
        o[0] = __builtin_shufflevector(p01l, p23l, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
        o[1] = __builtin_shufflevector(p01l, p23l, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
        o[2] = __builtin_shufflevector(p01h, p23h, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
        o[3] = __builtin_shufflevector(p01h, p23h, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
        std::memcpy(out, o, static_cast<std::size_t>(4 * m) * sizeof(std::uint32_t));
    }

    // Blocks 8 h .. 8 h + 7 (h = 0 or 1) as 64-bit words, word 0 | word 1 << 32 (second = false)
    // or word 2 | word 3 << 32: what a 64-bit read of out[4 b] or out[4 b + 2] after store() gives.
    PhiloxV8 pairs(int h, bool second) const {
        const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        const __m512i idx = h == 0 ? lo : _mm512_add_epi32(lo, _mm512_set1_epi32(8));
        const __m512i a = reinterpret_cast<__m512i>(second ? c2 : c0), b = reinterpret_cast<__m512i>(second ? c3 : c1);
        return reinterpret_cast<PhiloxV8>(_mm512_permutex2var_epi32(a, idx, b));
    }
};

// The 10 rounds under `key` on each of the lane sets, interleaved.
template <class... Lanes>
inline void philox_rounds(Key key, Lanes&... lanes) {
    std::uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; ++r) {
        if (r > 0) {
            k0 += kPhiloxW0;
            k1 += kPhiloxW1;
        }
        (lanes.round((static_cast<std::uint64_t>(k0) << 32) | k0, (static_cast<std::uint64_t>(k1) << 32) | k1), ...);
    }
}
}  // namespace detail
#elif defined(__AVX2__)
#define MLSCI_PHILOX_AVX2 1
namespace detail {
// 8 Philox blocks per AVX2 pass: the same round with 256-bit vectors (no two-source permutes:
// shifts and blends recombine the halves).
inline void philox8_avx2(Key key, std::uint32_t draw, std::uint32_t first, std::uint32_t step, std::uint32_t tag,
                         std::int64_t m, std::uint32_t* out) {
    __m256i c0 = _mm256_set1_epi32(static_cast<int>(draw));
    __m256i c1 = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(static_cast<int>(first)));
    __m256i c2 = _mm256_set1_epi32(static_cast<int>(step));
    __m256i c3 = _mm256_set1_epi32(static_cast<int>(tag));
    const __m256i M0 = _mm256_set1_epi64x(kPhiloxM0), M1 = _mm256_set1_epi64x(kPhiloxM1);
    std::uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; ++r) {
        if (r > 0) {
            k0 += kPhiloxW0;
            k1 += kPhiloxW1;
        }
        const __m256i pe0 = _mm256_mul_epu32(c0, M0), po0 = _mm256_mul_epu32(_mm256_srli_epi64(c0, 32), M0);
        const __m256i pe1 = _mm256_mul_epu32(c2, M1), po1 = _mm256_mul_epu32(_mm256_srli_epi64(c2, 32), M1);
        const __m256i hi0 = _mm256_blend_epi32(_mm256_srli_epi64(pe0, 32), po0, 0xAA);
        const __m256i lo0 = _mm256_blend_epi32(pe0, _mm256_slli_epi64(po0, 32), 0xAA);
        const __m256i hi1 = _mm256_blend_epi32(_mm256_srli_epi64(pe1, 32), po1, 0xAA);
        const __m256i lo1 = _mm256_blend_epi32(pe1, _mm256_slli_epi64(po1, 32), 0xAA);
        c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int>(k0)));
        c1 = lo1;
        c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int>(k1)));
        c3 = lo0;
    }
    // Transpose to block-major order: out[4 b + q] = word q of block b.
    const __m256i t0 = _mm256_unpacklo_epi32(c0, c1), t1 = _mm256_unpackhi_epi32(c0, c1);
    const __m256i t2 = _mm256_unpacklo_epi32(c2, c3), t3 = _mm256_unpackhi_epi32(c2, c3);
    const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
    const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
    const __m256i o[4] = {_mm256_permute2x128_si256(u0, u1, 0x20), _mm256_permute2x128_si256(u2, u3, 0x20),
                          _mm256_permute2x128_si256(u0, u1, 0x31), _mm256_permute2x128_si256(u2, u3, 0x31)};
    std::memcpy(out, o, static_cast<std::size_t>(4 * m) * sizeof(std::uint32_t));
}
}  // namespace detail
#endif

// out[4k .. 4k+3] = Philox4x32-10 of counter {draw, first + k, step, tag} under `key`, for
// k < n: many blocks at once, 16 per AVX-512 pass (see PhiloxLanes) or 8 per AVX2 pass.
inline void philox4x32_blocks(Key key, std::uint32_t draw, std::uint32_t first, std::uint32_t step,
                              std::uint32_t tag, std::int64_t n, std::uint32_t* out) {
    const auto one_by_one = [&](std::int64_t count) {
        for (std::int64_t b = 0; b < count; ++b) {
            const Counter c = philox4x32<10>({draw, first + static_cast<std::uint32_t>(b), step, tag}, key);
            std::copy(c.begin(), c.end(), out + 4 * b);
        }
    };
#if defined(MLSCI_PHILOX_SIMD)
    if (n < 6) {  // a pass (its latency: 150 cycles) costs as much as five or six blocks one by one
        one_by_one(n);
        return;
    }
#elif defined(MLSCI_PHILOX_AVX2)
    if (n < 3) {  // a pass costs about as much as two or three blocks one by one
        one_by_one(n);
        return;
    }
#endif
#ifdef MLSCI_PHILOX_SIMD
    // 16 blocks per pass, two passes interleaved where there are 32 (a round's chain of
    // multiply, permute and xor is as long as its throughput: the second pass fills it): about
    // 6 cycles per block on AVX-512 (Zen 4), 8x the scalar bijection, the same bits.
    const auto rounds = [&key](auto&... lanes) { detail::philox_rounds(key, lanes...); };
    std::int64_t start = 0;
    for (; start + 32 <= n; start += 32) {
        detail::PhiloxLanes a(draw, first + static_cast<std::uint32_t>(start), step, tag);
        detail::PhiloxLanes b(draw, first + static_cast<std::uint32_t>(start + 16), step, tag);
        rounds(a, b);
        a.store(out + 4 * start, 16);
        b.store(out + 4 * start + 64, 16);
    }
    if (n - start > 16) {  // 17 to 31 left: two passes interleaved cost little more than one
        detail::PhiloxLanes a(draw, first + static_cast<std::uint32_t>(start), step, tag);
        detail::PhiloxLanes b(draw, first + static_cast<std::uint32_t>(start + 16), step, tag);
        rounds(a, b);
        a.store(out + 4 * start, 16);
        b.store(out + 4 * start + 64, n - start - 16);
    } else if (start < n) {
        detail::PhiloxLanes a(draw, first + static_cast<std::uint32_t>(start), step, tag);
        rounds(a);
        a.store(out + 4 * start, n - start);
    }
#elif defined(MLSCI_PHILOX_AVX2)
    for (std::int64_t start = 0; start < n; start += 8)
        detail::philox8_avx2(key, draw, first + static_cast<std::uint32_t>(start), step, tag,
                             std::min<std::int64_t>(8, n - start), out + 4 * start);
#else
    one_by_one(n);
#endif
}

// 53 random bits -> a double in [0, 1).
inline double u01_closed_open(std::uint32_t hi, std::uint32_t lo) {
    const std::uint64_t bits = (static_cast<std::uint64_t>(hi) << 21) ^ (lo >> 11);
    return static_cast<double>(bits) * 0x1.0p-53;
}
// 53 random bits -> a double in (0, 1): safe for log().
inline double u01_open_open(std::uint32_t hi, std::uint32_t lo) {
    const std::uint64_t bits = (static_cast<std::uint64_t>(hi) << 21) ^ (lo >> 11);
    return (static_cast<double>(bits) + 0.5) * 0x1.0p-53;
}

// Box-Muller: two uniforms in (0, 1) -> two independent standard normals.
inline std::array<double, 2> box_muller(double u1, double u2) {
    constexpr double kTwoPi = 6.283185307179586476925286766559;
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double t = kTwoPi * u2;
    return {r * std::cos(t), r * std::sin(t)};
}

// A generator for one item at one step. Cheap to construct: build one inside the loop body,
//   Philox rng{seed, Stream::IsingMetropolis, sweep, site, replica}; double u = rng.uniform();
// Counter layout: {draw, index, step, stream << 24 | replica}; key: the 64-bit seed.
class Philox {
public:
    Philox(std::uint64_t seed, Stream stream, std::uint32_t step, std::uint32_t index,
           std::uint32_t replica = 0)
        : key_{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)},
          ctr_{0u, index, step, (static_cast<std::uint32_t>(stream) << 24) | (replica & 0xFFFFFFu)} {}

    // The next 128 random bits.
    Counter next4() {
        const Counter out = philox4x32<10>(ctr_, key_);
        ++ctr_[0];
        return out;
    }
    std::uint32_t next_u32() {
        if (used_ == 4) {
            buf_ = next4();
            used_ = 0;
        }
        return buf_[used_++];
    }
    // Uniform double in [0, 1).
    double uniform() {
        const std::uint32_t hi = next_u32();
        return u01_closed_open(hi, next_u32());
    }
    // Uniform double in (0, 1).
    double uniform_open() {
        const std::uint32_t hi = next_u32();
        return u01_open_open(hi, next_u32());
    }
    // Standard normal (Box-Muller; the second value of each pair is kept for the next call).
    double normal() {
        if (have_spare_) {
            have_spare_ = false;
            return spare_;
        }
        const double u1 = uniform_open();
        const auto z = box_muller(u1, uniform_open());
        spare_ = z[1];
        have_spare_ = true;
        return z[0];
    }

private:
    Key key_;
    Counter ctr_;
    Counter buf_{};
    int used_ = 4;
    double spare_ = 0.0;
    bool have_spare_ = false;
};

}  // namespace mlsci
