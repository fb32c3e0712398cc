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
};
static_assert(static_cast<int>(Stream::User) == 10 && static_cast<int>(Stream::IsingHeatBath) == 11 &&
                  static_cast<int>(Stream::McmcSplit) == 12 && static_cast<int>(Stream::GaCluster) == 13 &&
                  static_cast<int>(Stream::IsingTempering) == 14,
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

// out[4k .. 4k+3] = Philox4x32-10 of counter {draw, first + k, step, tag} under `key`, for
// k < n: many blocks at once, laid out so the compiler can run 16 blocks per SIMD lane group.
inline void philox4x32_blocks(Key key, std::uint32_t draw, std::uint32_t first, std::uint32_t step,
                              std::uint32_t tag, std::int64_t n, std::uint32_t* out) {
#if defined(__GNUC__)
    // 16 blocks at a time, each counter word held as 16 32-bit lanes viewed as 8 64-bit ones, so
    // that the 32 x 32 -> 64-bit products of the even and the odd lanes are each one widening
    // multiply (vpmuludq) instead of a 64-bit multiply and permutes: 5x faster, the same bits.
    typedef std::uint64_t V8 __attribute__((vector_size(64)));
    constexpr std::uint64_t kLo = 0xFFFFFFFFull;
    constexpr int kLanes = 16;
    for (std::int64_t start = 0; start < n; start += kLanes) {
        std::uint32_t w[4][kLanes];
        for (int j = 0; j < kLanes; ++j) {
            w[0][j] = draw;
            w[1][j] = first + static_cast<std::uint32_t>(start + j);
            w[2][j] = step;
            w[3][j] = tag;
        }
        V8 c0, c1, c2, c3;
        std::memcpy(&c0, w[0], 64);
        std::memcpy(&c1, w[1], 64);
        std::memcpy(&c2, w[2], 64);
        std::memcpy(&c3, w[3], 64);
        std::uint32_t k0 = key[0], k1 = key[1];
        for (int r = 0; r < 10; ++r) {
            if (r > 0) {
                k0 += detail::kPhiloxW0;
                k1 += detail::kPhiloxW1;
            }
            const std::uint64_t kk0 = (static_cast<std::uint64_t>(k0) << 32) | k0;
            const std::uint64_t kk1 = (static_cast<std::uint64_t>(k1) << 32) | k1;
            const V8 pe0 = (c0 & kLo) * detail::kPhiloxM0, po0 = (c0 >> 32) * detail::kPhiloxM0;
            const V8 pe1 = (c2 & kLo) * detail::kPhiloxM1, po1 = (c2 >> 32) * detail::kPhiloxM1;
            const V8 hi0 = (pe0 >> 32) | (po0 & ~kLo), lo0 = (pe0 & kLo) | (po0 << 32);
            const V8 hi1 = (pe1 >> 32) | (po1 & ~kLo), lo1 = (pe1 & kLo) | (po1 << 32);
            c0 = hi1 ^ c1 ^ kk0;
            c1 = lo1;
            c2 = hi0 ^ c3 ^ kk1;
            c3 = lo0;
        }
        std::memcpy(w[0], &c0, 64);
        std::memcpy(w[1], &c1, 64);
        std::memcpy(w[2], &c2, 64);
        std::memcpy(w[3], &c3, 64);
        const std::int64_t m = std::min<std::int64_t>(kLanes, n - start);
        for (std::int64_t j = 0; j < m; ++j) {
            std::uint32_t* o = out + 4 * (start + j);
            o[0] = w[0][j];
            o[1] = w[1][j];
            o[2] = w[2][j];
            o[3] = w[3][j];
        }
    }
#else
    for (std::int64_t b = 0; b < n; ++b) {
        const Counter c = philox4x32<10>({draw, first + static_cast<std::uint32_t>(b), step, tag}, key);
        std::copy(c.begin(), c.end(), out + 4 * b);
    }
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
