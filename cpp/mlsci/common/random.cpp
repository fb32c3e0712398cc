// Bulk counter-based random numbers; see random.hpp.
#include "mlsci/common/random.hpp"

#include <algorithm>
#include <string>

#include "mlsci/common/error.hpp"
#include "mlsci/common/parallel.hpp"
#include "mlsci/common/rng.hpp"

namespace mlsci {

void philox4x32_batch(const std::uint32_t* counters, const std::uint32_t* keys, std::uint32_t* out,
                      std::int64_t n, int rounds) {
    require(rounds == 7 || rounds == 10, "philox4x32",
            "rounds must be 7 or 10, got " + std::to_string(rounds));
    require(n >= 0, "philox4x32", "n must be >= 0");
    for (std::int64_t k = 0; k < n; ++k) {
        const Counter c{counters[4 * k], counters[4 * k + 1], counters[4 * k + 2], counters[4 * k + 3]};
        const Key key{keys[2 * k], keys[2 * k + 1]};
        const Counter r = rounds == 7 ? philox4x32<7>(c, key) : philox4x32<10>(c, key);
        std::copy(r.begin(), r.end(), out + 4 * k);
    }
}

namespace {

// One Philox block gives two doubles, so element pair b = i / 2 owns a generator. The pair index
// goes into (index, replica): 32 + 24 bits.
constexpr std::int64_t kMaxPairs = std::int64_t{1} << 56;
constexpr std::int64_t kPairsPerTask = 4096;

template <class T, class Draw2>
void fill_pairs(const char* where, std::uint64_t seed, std::uint32_t step, T* out, std::int64_t n,
                int n_threads, Draw2 draw2) {
    require(n >= 0, where, "n must be >= 0, got " + std::to_string(n));
    const std::int64_t pairs = (n + 1) / 2;
    require(pairs < kMaxPairs, where, "n is too large for one stream");
    const std::int64_t tasks = (pairs + kPairsPerTask - 1) / kPairsPerTask;
    // A Philox block and two conversions: a few nanoseconds a pair.
    parallel_for(0, tasks, threads_for(4.0 * static_cast<double>(pairs), n_threads), [&](std::int64_t t) {
        const std::int64_t end = std::min(pairs, (t + 1) * kPairsPerTask);
        for (std::int64_t b = t * kPairsPerTask; b < end; ++b) {
            Philox rng{seed, Stream::User, step, static_cast<std::uint32_t>(b),
                       static_cast<std::uint32_t>(b >> 32)};
            T v[2];
            draw2(rng, v);
            out[2 * b] = v[0];
            if (2 * b + 1 < n) out[2 * b + 1] = v[1];
        }
    });
}

}  // namespace

void fill_uniform(std::uint64_t seed, std::uint32_t step, double* out, std::int64_t n, int n_threads) {
    fill_pairs("fill_uniform", seed, step, out, n, n_threads, [](Philox& rng, double* v) {
        v[0] = rng.uniform();
        v[1] = rng.uniform();
    });
}

void fill_normal(std::uint64_t seed, std::uint32_t step, double* out, std::int64_t n, int n_threads) {
    fill_pairs("fill_normal", seed, step, out, n, n_threads, [](Philox& rng, double* v) {
        v[0] = rng.normal();
        v[1] = rng.normal();
    });
}

void fill_spins(std::uint64_t seed, std::uint32_t step, std::int8_t* out, std::int64_t n, int n_threads) {
    fill_pairs("fill_spins", seed, step, out, n, n_threads, [](Philox& rng, std::int8_t* v) {
        v[0] = rng.uniform() < 0.5 ? std::int8_t{1} : std::int8_t{-1};
        v[1] = rng.uniform() < 0.5 ? std::int8_t{1} : std::int8_t{-1};
    });
}

}  // namespace mlsci
