// Multi-spin-coded checkerboard Metropolis for the 2-D Ising model; see lattice.hpp.
//
// Layout: the L x L lattice is cut into 64 horizontal strips of h = L / 64 rows, and bit b of word
// (i, x) holds the spin at row i + b h, column x (1 = up). The neighbours of all 64 spins of a
// word then sit at the same bit of the neighbouring words, except across strip edges, where the
// bits shift by one (a rotation). With h even every spin of a word has the colour (i + x) mod 2,
// so a half-sweep updates whole words.
//
// Exact acceptance without a 32-bit uniform per spin: a spin flips with probability
// p = min(1, exp(-beta dE)), which depends on its number c of anti-aligned neighbours (0..4,
// counted bit-parallel by a small adder) and on its own value. Each spin compares an infinite
// random bit string u = 0.r1 r2 ... with the binary expansion of its p, bit by bit: at the first
// position where they differ, u < p iff that bit of p is 1. All 64 lanes of a word run the first
// 8 steps at once, on 64-bit random words (eight words in lock-step on AVX-512); a lane is still
// undecided after them with probability 2^-8, and those few finish one by one, comparing 32 fresh
// bits at a time with the next 32 bits of their p. So the acceptance is exactly p, the double,
// with no 2^-32 rounding. Each word's random numbers come from Philox blocks keyed by
// (seed, sweep, colour, word, draw), so the lattice does not depend on the thread count.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "mlsci/common/error.hpp"
#include "mlsci/common/parallel.hpp"
#include "mlsci/common/rng.hpp"
#include "mlsci/ising/lattice.hpp"

namespace mlsci::ising {

namespace {

constexpr Index kBits = 64;
// Two phases: kLockSteps bit-serial steps for all 64 lanes of a word at once (words in lock-step),
// then each lane still undecided (1 in 256) on its own, 32 bits of its p at a time. (4 and 6
// lock-step steps left so many stragglers that the one-by-one phase cost more than it saved;
// running the lock-step until every lane of eight words had decided, about ten steps, was 10-15%
// slower than this.)
constexpr int kLockSteps = 8;
constexpr int kChunks = 4;      // a lane tied after 4 x 32 more bits (probability 2^-128) does not flip
constexpr int kPoolDraws = 1;   // Philox blocks per word for the stragglers' first 32 bits: 4 lanes
constexpr int kBulkDraws = kLockSteps / 2 + kPoolDraws;  // drawn for a whole row at once

inline std::uint64_t rotl1(std::uint64_t v) { return (v << 1) | (v >> 63); }
inline std::uint64_t rotr1(std::uint64_t v) { return (v >> 1) | (v << 63); }

// The distinct acceptance probabilities strictly between 0 and 1, the bits of their binary
// expansions, and which (c, spin) classes have each; classes with p = 1 always flip.
struct Acceptance {
    int n_groups = 0;
    std::array<std::array<std::uint64_t, kLockSteps>, 10> bits{};  // ~0 where bit k of p is 1
    std::array<std::array<std::uint32_t, kChunks>, 10> tail{};       // bits kLockSteps + 32 c ... of p
    std::array<std::array<bool, 10>, 10> member{};                 // member[group][class]
    std::array<bool, 10> always{};                                 // class index 2 c + (spin up)
};

// Per word: the lanes that always flip, those still to decide, and each group's lanes. G: a
// compile-time bound on the groups (2 cover h = 0; those past n_groups stay empty), so the
// loops over groups unroll.
template <class W, int G>
struct Classes {
    W yes, undecided, group[G];
};

template <int G, class W>
inline Classes<W, G> classify(W s, W l, W r, W u, W d, const Acceptance& acc) {
    // c = number of anti-aligned neighbours, bit-sliced: c = b0 + 2 b1 + 4 b2.
    const W a1 = s ^ l, a2 = s ^ r, a3 = s ^ u, a4 = s ^ d;
    const W s1 = a1 ^ a2, k1 = a1 & a2, s2 = a3 ^ a4, k2 = a3 & a4;
    const W b0 = s1 ^ s2, k = s1 & s2;
    const W b1 = k1 ^ k2 ^ k, b2 = k1 & k2;  // k1 and k (or k2 and k) are never both 1
    const W eq[5] = {~b2 & ~b1 & ~b0, ~b2 & ~b1 & b0, ~b2 & b1 & ~b0, ~b2 & b1 & b0, b2};
    Classes<W, G> out;
    out.yes = s ^ s;
    out.undecided = out.yes;
    for (int g = 0; g < G; ++g) out.group[g] = out.yes;
    for (int c = 0; c <= 4; ++c)
        for (int up = 0; up <= 1; ++up) {
            const auto cl = static_cast<std::size_t>(2 * c + up);
            const W mask = eq[c] & (up ? s : ~s);
            if (acc.always[cl]) out.yes |= mask;
            for (int g = 0; g < G; ++g)
                if (acc.member[static_cast<std::size_t>(g)][cl]) out.group[g] |= mask, out.undecided |= mask;
        }
    return out;
}

// One step of the bit-serial comparison u < p on every lane: R the lanes' next random bits.
template <class W, int G>
inline void compare_step(Classes<W, G>& k, W R, int step, const Acceptance& acc) {
    W B = R ^ R;  // per lane: bit `step` of its p
    for (int g = 0; g < G; ++g)
        B |= k.group[g] & acc.bits[static_cast<std::size_t>(g)][static_cast<std::size_t>(step)];
    k.yes |= k.undecided & B & ~R;  // r < b here: u < p
    k.undecided &= ~(B ^ R);        // equal bits: still undecided
}

Acceptance make_acceptance(const Model& m) {
    Acceptance a;
    std::array<double, 10> p{};
    for (int c = 0; c <= 4; ++c)
        for (int up = 0; up <= 1; ++up) {
            const double s = up ? 1.0 : -1.0;
            const double dE = 2.0 * m.J * (4.0 - 2.0 * c) + 2.0 * m.h * s;  // s sum(n) = 4 - 2 c
            p[static_cast<std::size_t>(2 * c + up)] = std::min(1.0, std::exp(-m.beta * dE));
        }
    std::array<double, 10> values{};
    for (std::size_t cl = 0; cl < 10; ++cl) {
        if (p[cl] >= 1.0) {
            a.always[cl] = true;
            continue;
        }
        if (!(p[cl] > 0.0)) continue;  // exp underflow: never flips
        int g = 0;
        while (g < a.n_groups && values[static_cast<std::size_t>(g)] != p[cl]) ++g;
        if (g == a.n_groups) {
            values[static_cast<std::size_t>(g)] = p[cl];
            ++a.n_groups;
            double x = p[cl];  // the expansion by doubling and by 2^32: every step exact in binary
            for (int k = 0; k < kLockSteps; ++k) {
                x *= 2.0;
                const bool one = x >= 1.0;
                if (one) x -= 1.0;
                a.bits[static_cast<std::size_t>(g)][static_cast<std::size_t>(k)] = one ? ~std::uint64_t{0} : 0;
            }
            for (int c = 0; c < kChunks; ++c) {
                x *= 4294967296.0;
                const double whole = std::floor(x);
                a.tail[static_cast<std::size_t>(g)][static_cast<std::size_t>(c)] = static_cast<std::uint32_t>(whole);
                x -= whole;
            }
        }
        a.member[static_cast<std::size_t>(g)][cl] = true;
    }
    return a;
}

struct Words {
    Index L = 0, h = 0;
    std::vector<std::uint64_t> w;  // w[i * L + x]
    std::uint64_t* row(Index i) { return w.data() + i * L; }
};

void pack(const std::int8_t* s, Index L, Words& out) {
    out.L = L;
    out.h = L / kBits;
    out.w.assign(static_cast<std::size_t>(out.h * L), 0);
    for (Index i = 0; i < out.h; ++i)
        for (Index b = 0; b < kBits; ++b) {
            const std::int8_t* src = s + (i + b * out.h) * L;
            std::uint64_t* dst = out.row(i);
            for (Index x = 0; x < L; ++x) dst[x] |= static_cast<std::uint64_t>(src[x] > 0) << b;
        }
}

void unpack(const Words& in, std::int8_t* s) {
    const Index L = in.L;
    for (Index i = 0; i < in.h; ++i)
        for (Index b = 0; b < kBits; ++b) {
            std::int8_t* dst = s + (i + b * in.h) * L;
            const std::uint64_t* src = in.w.data() + i * L;
            for (Index x = 0; x < L; ++x) dst[x] = (src[x] >> b) & 1 ? std::int8_t{1} : std::int8_t{-1};
        }
}

// Phase two for one word: each lane still undecided after the lock-step compares fresh 32-bit
// words with the next 32 bits of its p until they differ. Straggler m (in lane order) takes
// 32-bit word m of the word's pool (4 per pool block) and, past that or on a tie, words from
// further Philox blocks: `pool(m)` and `extra(m, c)` supply them. Returns the lanes that flip.
template <int G, class Pool, class Extra>
inline std::uint64_t finish(std::uint64_t yes, std::uint64_t undecided, const std::uint64_t* group,
                            const Acceptance& acc, Pool&& pool, Extra&& extra) {
    for (int m = 0; undecided != 0; ++m, undecided &= undecided - 1) {
        const int lane = __builtin_ctzll(undecided);
        int g = 0;
        while (g < G - 1 && !((group[g] >> lane) & 1)) ++g;
        for (int c = 0; c < kChunks; ++c) {
            const std::uint32_t T = acc.tail[static_cast<std::size_t>(g)][static_cast<std::size_t>(c)];
            const std::uint32_t U = c == 0 && m < 4 * kPoolDraws ? pool(m) : extra(m, c);
            if (U == T) continue;
            if (U < T) yes |= std::uint64_t{1} << lane;
            break;
        }
    }
    return yes;
}

// The 64 spins of word `s` with neighbours l, r, u, d: returns the mask of spins that flip.
// The reference for the vectorised loop (8 words in lock-step), which draws the same words and
// so flips the same spins: `random(k)` is the lock-step's k-th random word.
template <int G, class Random, class Pool, class Extra>
inline std::uint64_t flips(std::uint64_t s, std::uint64_t l, std::uint64_t r, std::uint64_t u, std::uint64_t d,
                           const Acceptance& acc, Random&& random, Pool&& pool, Extra&& extra) {
    Classes<std::uint64_t, G> k = classify<G>(s, l, r, u, d, acc);
    for (int step = 0; step < kLockSteps; ++step) compare_step(k, random(step), step, acc);
    return finish<G>(k.yes, k.undecided, k.group, acc, pool, extra);
}

#if defined(__GNUC__)
#define MLSCI_MULTISPIN_SIMD 1
typedef std::uint64_t V8 __attribute__((vector_size(64)));
#endif

template <int G>
void half_sweep(Words& W, const Acceptance& acc, const Key& key, std::uint32_t tag, std::uint32_t step, int colour,
                int n_threads, bool scalar) {
    const Index L = W.L, h = W.h, half = L / 2;
    const int nt = L * L < 65536 ? 1 : n_threads;
    parallel_for(0, h, nt, [&](std::int64_t i) {
        std::uint64_t* cur = W.row(i);
        const std::uint64_t* up = W.row(i == 0 ? h - 1 : i - 1);
        const std::uint64_t* down = W.row(i == h - 1 ? 0 : i + 1);
        const Index x0 = (colour + i) & 1;
        const auto rank0 = static_cast<std::uint32_t>(i * half);
        // The row's first kBulkDraws Philox blocks per word, vectorised; later ones one by one.
        thread_local std::vector<std::uint32_t> buf;
        buf.resize(static_cast<std::size_t>(4 * kBulkDraws * half));
        for (int d = 0; d < kBulkDraws; ++d)
            philox4x32_blocks(key, static_cast<std::uint32_t>(d), rank0, step, tag, half,
                              buf.data() + 4 * d * half);
        // Copies of the row (with its periodic ends: P[x + 1] = cur[x]) and of the rows above and
        // below (rotated across strip edges), padded so that 16-word loads stay inside.
        const auto stride = static_cast<std::size_t>(L + 24);
        thread_local std::vector<std::uint64_t> rows;
        if (rows.size() != 3 * stride) rows.assign(3 * stride, 0);
        std::uint64_t *P = rows.data(), *Pu = P + stride, *Pd = Pu + stride;
        P[0] = cur[L - 1];
        std::memcpy(P + 1, cur, static_cast<std::size_t>(L) * sizeof(std::uint64_t));
        P[L + 1] = cur[0];
        for (Index x = 0; x < L; ++x) {
            Pu[x] = i == 0 ? rotl1(up[x]) : up[x];
            Pd[x] = i == h - 1 ? rotr1(down[x]) : down[x];
        }
        // Word t's random numbers come from Philox blocks {draw, rank0 + t, step, tag}: lock-step
        // word k from draw k / 2 (its 32-bit words 0-1 or 2-3 as one 64-bit word); straggler m's
        // first 32 bits from draw kLockSteps / 2 + m / 4 (word m % 4); more, one block at a time,
        // from draw kBulkDraws + 16 c + m / 4 for its chunk c.
        const auto word = [](const std::uint32_t* q) {
            return static_cast<std::uint64_t>(q[0]) | (static_cast<std::uint64_t>(q[1]) << 32);
        };
        const auto random = [&](Index t, int k) {
            return word(buf.data() + 4 * ((k >> 1) * half + t) + (k & 1) * 2);
        };
        const auto pool = [&](Index t) {
            return [&, t](int m) { return buf[static_cast<std::size_t>(4 * ((kLockSteps / 2 + m / 4) * half + t) + m % 4)]; };
        };
        const auto extra = [&](Index t) {
            return [&, t](int m, int c) {
                const Counter block = philox4x32<10>(
                    {static_cast<std::uint32_t>(kBulkDraws + 16 * c + m / 4), rank0 + static_cast<std::uint32_t>(t), step, tag},
                    key);
                return block[static_cast<std::size_t>(m % 4)];
            };
        };
        Index t = 0;
#ifdef MLSCI_MULTISPIN_SIMD
        // Eight words in lock-step for the first steps; then each word's stragglers one by one,
        // with the same random numbers the one-word loop uses.
        for (; !scalar && t + 8 <= half; t += 8) {
            // Word t sits at column x = x0 + 2 t: left P[x], itself P[x + 1], right P[x + 2].
            const auto even = [](const std::uint64_t* q) {
                V8 a, b;
                std::memcpy(&a, q, sizeof a);
                std::memcpy(&b, q + 8, sizeof b);
                return __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14);
            };
            const Index x = x0 + 2 * t;
            const V8 l = even(P + x), s = even(P + x + 1), r = even(P + x + 2), u = even(Pu + x), d = even(Pd + x);
            Classes<V8, G> k = classify<G>(s, l, r, u, d, acc);
            for (int st = 0; st < kLockSteps; ++st) {
                V8 A, B;  // blocks t..t+7 of this draw: 64-bit words (even, odd) per block
                const std::uint32_t* q = buf.data() + 4 * ((st >> 1) * half + t);
                std::memcpy(&A, q, sizeof A);
                std::memcpy(&B, q + 16, sizeof B);
                const V8 R = st & 1 ? __builtin_shufflevector(A, B, 1, 3, 5, 7, 9, 11, 13, 15)
                                    : __builtin_shufflevector(A, B, 0, 2, 4, 6, 8, 10, 12, 14);
                compare_step(k, R, st, acc);
            }
            for (int j = 0; j < 8; ++j) {
                std::uint64_t group[G];
                for (int g = 0; g < G; ++g) group[g] = k.group[g][j];
                const std::uint64_t yes = finish<G>(k.yes[j], k.undecided[j], group, acc, pool(t + j), extra(t + j));
                cur[2 * (t + j) + x0] = s[j] ^ yes;
            }
        }
#endif
        for (; t < half; ++t) {
            const Index x = x0 + 2 * t;
            cur[x] = P[x + 1] ^ flips<G>(P[x + 1], P[x], P[x + 2], Pu[x], Pd[x], acc,
                                         [&](int k) { return random(t, k); }, pool(t), extra(t));
        }
    });
}

void measure(const Words& W, const Model& m, double& energy, double& magnetization) {
    // Integer popcounts: exact, whatever the split.
    const Index L = W.L, h = W.h;
    std::int64_t up = 0, unlike = 0;
    for (Index i = 0; i < h; ++i) {
        const std::uint64_t* cur = W.w.data() + i * L;
        const std::uint64_t* down = W.w.data() + (i == h - 1 ? 0 : i + 1) * L;
        for (Index x = 0; x < L; ++x) {
            const std::uint64_t s = cur[x];
            const std::uint64_t r = cur[x == L - 1 ? 0 : x + 1];
            const std::uint64_t d = i == h - 1 ? rotr1(down[x]) : down[x];
            up += __builtin_popcountll(s);
            unlike += __builtin_popcountll(s ^ r) + __builtin_popcountll(s ^ d);
        }
    }
    const double N = static_cast<double>(L * L);
    const double sum = 2.0 * static_cast<double>(up) - N;
    const double bonds = 2.0 * N - 2.0 * static_cast<double>(unlike);  // sum over bonds of s_i s_j
    energy = (-m.J * bonds - m.h * sum) / N;
    magnetization = sum / N;
}

}  // namespace

void check_multispin(const Model& m, const char* where) {
    require(m.dim == 2, where, "the multi-spin-coded update is 2-D only; use the checkerboard Metropolis in 3-D");
    require(m.L >= 2 * kBits && m.L % (2 * kBits) == 0, where,
            "the multi-spin-coded update needs L a multiple of 128 (64 strips of an even number of rows), got L = " +
                std::to_string(m.L) + "; use the checkerboard Metropolis for other sizes");
}

SweepResult run_multispin(std::int8_t* spins, const Model& m, std::uint64_t seed, std::uint32_t replica,
                          std::uint64_t first_sweep, std::int64_t n_sweeps, std::int64_t measure_every,
                          std::uint64_t first_measured, double* energy, double* magnetization, int n_threads,
                          const StopCheck& stop) {
    check_multispin(m, "run_sweeps");
    const Acceptance acc = make_acceptance(m);
    const Key key{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)};
    const std::uint32_t tag = (static_cast<std::uint32_t>(Stream::IsingMultispin) << 24) | (replica & 0xFFFFFFu);
    const bool scalar = scalar_sweeps();
    Words W;
    pack(spins, m.L, W);
    SweepResult r;
    for (std::int64_t k = 0; k < n_sweeps; ++k) {
        const std::uint64_t sweep = first_sweep + static_cast<std::uint64_t>(k);
        for (int colour = 0; colour < 2; ++colour) {
            const auto st = static_cast<std::uint32_t>(2 * sweep + static_cast<std::uint64_t>(colour));
            if (acc.n_groups <= 2) half_sweep<2>(W, acc, key, tag, st, colour, n_threads, scalar);
            else if (acc.n_groups <= 4) half_sweep<4>(W, acc, key, tag, st, colour, n_threads, scalar);
            else half_sweep<10>(W, acc, key, tag, st, colour, n_threads, scalar);
        }
        const std::uint64_t done = sweep + 1;
        if (done > first_measured && (done - first_measured) % static_cast<std::uint64_t>(measure_every) == 0) {
            measure(W, m, energy[r.measurements], magnetization[r.measurements]);
            ++r.measurements;
        }
        r.sweeps = k + 1;
        if (stop && stop()) {
            r.stopped = true;
            break;
        }
    }
    unpack(W, spins);
    return r;
}

}  // namespace mlsci::ising
