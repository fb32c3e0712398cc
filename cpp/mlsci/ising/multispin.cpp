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
// position where they differ, u < p iff that bit of p is 1. All 64 lanes run the comparison at
// once on 64-bit random words and stop when every lane has decided, about 7 words for 64 spins
// (a lane is undecided after k words with probability 2^-k), so the acceptance is exactly p, the
// double, with no 2^-32 rounding. Each word's random words come from Philox blocks keyed by
// (seed, sweep, colour, word, draw), so the lattice does not depend on the thread count.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include "mlsci/common/error.hpp"
#include "mlsci/common/parallel.hpp"
#include "mlsci/common/rng.hpp"
#include "mlsci/ising/lattice.hpp"

namespace mlsci::ising {

namespace {

constexpr Index kBits = 64;
constexpr int kMaxSteps = 128;  // a lane undecided after 128 bits (probability 2^-128) does not flip
// Philox blocks per word drawn for a whole row at once (10 steps). Past them, 8 words in
// lock-step have on average half a word still undecided, whose blocks are drawn one by one:
// cheaper than a sixth bulk draw for all (measured).
constexpr int kBulkDraws = 5;

inline std::uint64_t rotl1(std::uint64_t v) { return (v << 1) | (v >> 63); }
inline std::uint64_t rotr1(std::uint64_t v) { return (v >> 1) | (v << 63); }

// The distinct acceptance probabilities strictly between 0 and 1, the bits of their binary
// expansions, and which (c, spin) classes have each; classes with p = 1 always flip.
struct Acceptance {
    int n_groups = 0;
    std::array<std::array<std::uint64_t, kMaxSteps>, 10> bits{};  // ~0 where bit k of p is 1
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
            double x = p[cl];  // the expansion by doubling: every step exact in binary
            for (int k = 0; k < kMaxSteps; ++k) {
                x *= 2.0;
                const bool one = x >= 1.0;
                if (one) x -= 1.0;
                a.bits[static_cast<std::size_t>(g)][static_cast<std::size_t>(k)] = one ? ~std::uint64_t{0} : 0;
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

// The 64 spins of word `s` with neighbours l, r, u, d: returns the mask of spins that flip.
// `random(k)` gives the k-th random word of this word's comparison. The reference for the
// vectorised loop (8 words in lock-step), which draws the same words and so flips the same spins.
template <int G, class Random>
inline std::uint64_t flips(std::uint64_t s, std::uint64_t l, std::uint64_t r, std::uint64_t u, std::uint64_t d,
                           const Acceptance& acc, Random&& random) {
    Classes<std::uint64_t, G> k = classify<G>(s, l, r, u, d, acc);
    for (int step = 0; k.undecided != 0 && step < kMaxSteps; ++step) compare_step(k, random(step), step, acc);
    return k.yes;
}

#if defined(__GNUC__)
#define MLSCI_MULTISPIN_SIMD 1
typedef std::uint64_t V8 __attribute__((vector_size(64)));

inline bool any(V8 v) {
#ifdef __AVX512F__
    return _mm512_test_epi64_mask(reinterpret_cast<__m512i>(v), reinterpret_cast<__m512i>(v)) != 0;
#else
    return ((v[0] | v[1]) | (v[2] | v[3]) | (v[4] | v[5]) | (v[6] | v[7])) != 0;
#endif
}
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
        // Random word k of word t: Philox block (draw k / 2) of counter {draw, rank, step, tag},
        // its 32-bit words 0-1 (k even) or 2-3 (k odd) as one 64-bit word.
        const auto word = [](const std::uint32_t* q) {
            return static_cast<std::uint64_t>(q[0]) | (static_cast<std::uint64_t>(q[1]) << 32);
        };
        const auto late = [&](Index t, int k) {  // beyond the bulk draws (1 word in 16)
            const Counter c = philox4x32<10>({static_cast<std::uint32_t>(k >> 1), rank0 + static_cast<std::uint32_t>(t),
                                              step, tag}, key);
            return word(c.data() + (k & 1) * 2);
        };
        const auto random = [&](Index t, int k) {
            if ((k >> 1) < kBulkDraws) return word(buf.data() + 4 * ((k >> 1) * half + t) + (k & 1) * 2);
            return late(t, k);
        };
        Index t = 0;
#ifdef MLSCI_MULTISPIN_SIMD
        // Eight words in lock-step: each draws the random words it would draw alone, so the flips
        // equal the scalar loop's; the lock-step only runs idle lanes until the last decides.
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
            Counter extra[8];
            for (int st = 0; st < kMaxSteps && any(k.undecided); ++st) {
                V8 R;
                if ((st >> 1) < kBulkDraws) {
                    V8 A, B;  // blocks t..t+7 of this draw: 64-bit words (even, odd) per block
                    const std::uint32_t* q = buf.data() + 4 * ((st >> 1) * half + t);
                    std::memcpy(&A, q, sizeof A);
                    std::memcpy(&B, q + 16, sizeof B);
                    R = st & 1 ? __builtin_shufflevector(A, B, 1, 3, 5, 7, 9, 11, 13, 15)
                               : __builtin_shufflevector(A, B, 0, 2, 4, 6, 8, 10, 12, 14);
                } else {
                    if (!(st & 1))  // one block per lane serves this step and the next
                        for (int j = 0; j < 8; ++j)
                            if (k.undecided[j])
                                extra[j] = philox4x32<10>({static_cast<std::uint32_t>(st >> 1),
                                                           rank0 + static_cast<std::uint32_t>(t + j), step, tag},
                                                          key);
                    for (int j = 0; j < 8; ++j) R[j] = k.undecided[j] ? word(extra[j].data() + (st & 1) * 2) : 0;
                }
                compare_step(k, R, st, acc);
            }
            for (int j = 0; j < 8; ++j) cur[2 * (t + j) + x0] = s[j] ^ k.yes[j];
        }
#endif
        for (; t < half; ++t) {
            const Index x = x0 + 2 * t;
            cur[x] = P[x + 1] ^ flips<G>(P[x + 1], P[x], P[x + 2], Pu[x], Pd[x], acc, [&](int k) { return random(t, k); });
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
