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
// counted bit-parallel by a small adder) and on its own value: the lanes that always flip, and
// for each distinct p < 1 (a group) the lanes that have it. The decision u < p compares the bits
// of a uniform u with p's binary expansion until they differ (bernoulli.hpp: exact to the double
// p, no 2^-32 rounding). Its first two steps run in place, one Philox block per word for all 64
// lanes: they decide three quarters of the lanes that need it. The tied quarter of a unit of
// words (see Units) takes exact Bernoulli(frac(4 p)) bits from BernoulliWords, one per lane,
// which are deposited word by word into its lanes in order (pdep). Together a decision costs
// about 2.7 random bits. The random bits come from Philox blocks keyed by (seed, half-sweep,
// word or unit, level), so the lattice does not depend on the thread count.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "mlsci/common/error.hpp"
#include "mlsci/common/parallel.hpp"
#include "mlsci/common/rng.hpp"
#include "mlsci/ising/bernoulli.hpp"
#include "mlsci/ising/lattice.hpp"

namespace mlsci::ising {

namespace {

constexpr Index kBits = 64;
constexpr int kMaxGroups = 10;  // distinct p < 1 among the 10 (c, spin) classes
constexpr Index kSegment = 2048;  // a unit's words (see Units): they share their groups' Bernoulli bits

inline std::uint64_t rotl1(std::uint64_t v) { return (v << 1) | (v >> 63); }
inline std::uint64_t rotr1(std::uint64_t v) { return (v >> 1) | (v << 63); }

// The distinct acceptance probabilities strictly between 0 and 1 and which (c, spin) classes
// have each; classes with p = 1 always flip, those with p = 0 (exp underflow) never.
struct Acceptance {
    int n_groups = 0;
    std::array<double, kMaxGroups> p{};
    std::array<std::array<bool, 10>, kMaxGroups> member{};  // member[group][class]
    std::array<bool, 10> always{};                          // class index 2 c + (spin up)
    // The common case (J > 0, h = 0, T not tiny): group 0 is c = 0, group 1 is c = 1, whatever the
    // spin, and c >= 2 always flips; classify() then needs a few operations, not a class loop.
    bool ferro_no_field = false;
};

// Per word: the lanes that always flip and each group's lanes. G: a compile-time bound on the
// groups (2 cover h = 0; those past n_groups stay empty), so the loops over groups unroll.
template <class W, int G>
struct Classes {
    W yes, group[G];
};

template <int G, class W>
inline Classes<W, G> classify(W s, W l, W r, W u, W d, const Acceptance& acc) {
    // c = number of anti-aligned neighbours, bit-sliced: c = b0 + 2 b1 + 4 b2.
    const W a1 = s ^ l, a2 = s ^ r, a3 = s ^ u, a4 = s ^ d;
    const W s1 = a1 ^ a2, k1 = a1 & a2, s2 = a3 ^ a4, k2 = a3 & a4;
    const W b0 = s1 ^ s2, k = s1 & s2;
    const W b1 = k1 ^ k2 ^ k, b2 = k1 & k2;  // k1 and k (or k2 and k) are never both 1
    Classes<W, G> out;
    if constexpr (G >= 2) {
        if (acc.ferro_no_field) {
            const W two = b1 | b2;
            out.yes = two;
            out.group[0] = ~(b0 | two);
            out.group[1] = b0 & ~two;
            for (int g = 2; g < G; ++g) out.group[g] = s ^ s;
            return out;
        }
    }
    const W eq[5] = {~b2 & ~b1 & ~b0, ~b2 & ~b1 & b0, ~b2 & b1 & ~b0, ~b2 & b1 & b0, b2};
    out.yes = s ^ s;
    for (int g = 0; g < G; ++g) out.group[g] = out.yes;
    for (int c = 0; c <= 4; ++c)
        for (int up = 0; up <= 1; ++up) {
            const auto cl = static_cast<std::size_t>(2 * c + up);
            const W mask = eq[c] & (up ? s : ~s);
            if (acc.always[cl]) out.yes |= mask;
            for (int g = 0; g < G; ++g)
                if (acc.member[static_cast<std::size_t>(g)][cl]) out.group[g] |= mask;
        }
    return out;
}

Acceptance make_acceptance(const Model& m) {
    Acceptance a;
    for (int c = 0; c <= 4; ++c)
        for (int up = 0; up <= 1; ++up) {
            const auto cl = static_cast<std::size_t>(2 * c + up);
            const double s = up ? 1.0 : -1.0;
            const double dE = 2.0 * m.J * (4.0 - 2.0 * c) + 2.0 * m.h * s;  // s sum(n) = 4 - 2 c
            const double p = std::min(1.0, std::exp(-m.beta * dE));
            if (p >= 1.0) {
                a.always[cl] = true;
                continue;
            }
            if (!(p > 0.0)) continue;  // exp underflow: never flips
            int g = 0;
            while (g < a.n_groups && a.p[static_cast<std::size_t>(g)] != p) ++g;
            if (g == a.n_groups) a.p[static_cast<std::size_t>(a.n_groups++)] = p;
            a.member[static_cast<std::size_t>(g)][cl] = true;
        }
    a.ferro_no_field = a.n_groups == 2;
    for (std::size_t cl = 0; cl < 10; ++cl) {
        const std::size_t c = cl / 2;
        a.ferro_no_field = a.ferro_no_field && a.always[cl] == (c >= 2) && a.member[0][cl] == (c == 0) &&
                           a.member[1][cl] == (c == 1);
    }
    return a;
}

// Row i holds its words of even columns, then those of odd columns: word (i, x) is
// w[i L + (x mod 2) half + x / 2]. A half-sweep's words of a row are then contiguous, as are
// their left and right neighbours (the other half, shifted by one).
struct Words {
    Index L = 0, h = 0, half = 0;
    std::vector<std::uint64_t> w;
    std::uint64_t* part(Index i, Index parity) { return w.data() + i * L + parity * half; }
    const std::uint64_t* part(Index i, Index parity) const { return w.data() + i * L + parity * half; }
};

// Packing goes through rows in column order (contiguous reads and writes in the bit loops, which
// a strided layout made 2x slower), then splits each row into its two halves; rows in parallel.
void pack(const std::int8_t* s, Index L, Words& out, int n_threads) {
    const Index h = L / kBits, half = L / 2;
    out.L = L;
    out.h = h;
    out.half = half;
    out.w.resize(static_cast<std::size_t>(h * L));
    std::uint64_t* const w = out.w.data();
    parallel_for(0, h, n_threads, [s, L, h, half, w](std::int64_t i) {
        std::vector<std::uint64_t> buf(static_cast<std::size_t>(L), 0);
        std::uint64_t* const row = buf.data();
        for (Index b = 0; b < kBits; ++b) {
            const std::int8_t* src = s + (i + b * h) * L;
            for (Index x = 0; x < L; ++x) row[x] |= static_cast<std::uint64_t>(src[x] > 0) << b;
        }
        for (Index t = 0; t < half; ++t) {
            w[i * L + t] = row[2 * t];
            w[i * L + half + t] = row[2 * t + 1];
        }
    });
}

void unpack(const Words& in, std::int8_t* s, int n_threads) {
    const Index L = in.L, h = in.h, half = in.half;
    const std::uint64_t* const w = in.w.data();
    parallel_for(0, h, n_threads, [s, L, h, half, w](std::int64_t i) {
        std::vector<std::uint64_t> buf(static_cast<std::size_t>(L));
        std::uint64_t* const row = buf.data();
        for (Index t = 0; t < half; ++t) {
            row[2 * t] = w[i * L + t];
            row[2 * t + 1] = w[i * L + half + t];
        }
        const Index n = L;  // (a local: the closure's copy is reloaded after every int8 store)
        for (Index b = 0; b < kBits; ++b) {
            std::int8_t* dst = s + (i + b * h) * n;
            for (Index x = 0; x < n; ++x) dst[x] = static_cast<std::int8_t>(2 * static_cast<int>((row[x] >> b) & 1) - 1);
        }
    });
}

// AVX-512 only: built for AVX2, where GCC splits the 512-bit vectors in two, the eight-word
// loop ran at 1.15 flips/ns against the one-word loop's 1.44 (and returning the vectors by value
// changes the ABI there, which -Wpsabi reports). It takes its random words straight from the
// SIMD Philox passes (rng.hpp), which need GCC 12 or clang.
#if defined(__GNUC__) && defined(__AVX512F__) && defined(MLSCI_PHILOX_SIMD)
#define MLSCI_MULTISPIN_SIMD 1
typedef std::uint64_t V8 __attribute__((vector_size(64)));
#endif

// A thread's scratch for one unit: the rotated copies of the rows above and below at strip
// edges, the unit's Philox blocks, decided flips and tied lanes, and each group's deeper bits.
struct UnitScratch {
    std::vector<std::uint64_t> rows, flips, tied, bits;
    std::vector<std::uint32_t> blocks;
    BernoulliWords bernoulli;
};

// A group's first two bits of p (masks) and the rest of its expansion, frac(4 p).
struct FirstBits {
    TwoBits bits;
    double rest = 0.0;
};
inline FirstBits first_bits(double p) {
    FirstBits f;
    f.rest = p;
    f.bits = next_two_bits(f.rest);
    return f;
}

// Level 0 in place: every lane of a word compares the two random words r1, r2 with the first two
// bits of its group's p (bernoulli.hpp's two_steps). Returns the lanes decided yes (with those
// that always flip); tied[g] gets group g's lanes still tied, which take Bernoulli(frac(4 p)) bits.
template <int G, class W>
inline W level0(const Classes<W, G>& k, W r1, W r2, const FirstBits* fb, W* tied) {
    W m1 = k.yes ^ k.yes, m2 = m1;
    for (int g = 0; g < G; ++g) {
        m1 |= k.group[g] & fb[g].bits.m1;
        m2 |= k.group[g] & fb[g].bits.m2;
    }
    W t;
    const W yes = two_steps(r1, r2, m1, m2, t);
    for (int g = 0; g < G; ++g) tied[g] = k.group[g] & t;
    return k.yes | yes;
}

// A half-sweep's work comes in units of at most kSegment words of the colour: a piece of one
// row when a row has kSegment words or more, else a run of whole rows, but at least 4 units in
// all (for the threads). Units depend on L alone, so the lattice does not depend on the threads.
struct Units {
    Index rows = 1, pieces = 1, count = 0;  // rows per unit, units per row, units
};
Units make_units(Index L) {
    const Index h = L / kBits, half = L / 2;
    Units u;
    if (half >= kSegment) u.pieces = (half + kSegment - 1) / kSegment;
    else u.rows = std::max<Index>(1, std::min(kSegment / half, h / 4));
    u.count = (h + u.rows - 1) / u.rows * u.pieces;
    return u;
}

template <int G>
void half_sweep(Words& W, const Acceptance& acc, const Key& key, std::uint32_t tag, std::uint32_t step, int colour,
                int n_threads, bool scalar) {
    const Index L = W.L, h = W.h, half = L / 2;
    const int nt = L * L < 65536 ? 1 : n_threads;
    (void)scalar;  // (without MLSCI_MULTISPIN_SIMD every word takes the reference loop)
    FirstBits fb[G];
    for (int g = 0; g < G; ++g) fb[g] = first_bits(g < acc.n_groups ? acc.p[static_cast<std::size_t>(g)] : 0.0);
    const Units units = make_units(L);
    parallel_for(0, units.count, nt, [&](std::int64_t u) {
        thread_local UnitScratch sc;
        // Rows [i0, i1), words [t0, t1) of each: word t of row i sits at column x = x0 + 2 t,
        // x0 = (colour + i) mod 2, with left and right neighbours at x -+ 1 (periodic). Word
        // (i, t) is number i half + t of the half-sweep; the unit's are contiguous, from `base`.
        const Index i0 = u / units.pieces * units.rows, i1 = std::min(h, i0 + units.rows);
        const Index t0 = u % units.pieces * kSegment, t1 = std::min(half, t0 + kSegment);
        const Index span = t1 - t0, n = (i1 - i0) * span, base = i0 * half + t0;
        // 1. One Philox block per word, {0, base + w, step, tag} for the unit's word w: its two
        // halves decide three quarters of the lanes that need a decision (level0); the flips so
        // far go to flips[w], group g's tied lanes to tied[g kSegment + w];
        // 2. each group's Bernoulli(frac(4 p)) bits, one per tied lane, all from one generate():
        // level l from Philox blocks {2^12 + l, 2 base + j, step, tag}, j < the words of all
        // groups at that level, at most n + G (units are at least 64 words long, so the factor 2
        // keeps their blocks apart);
        // 3. flips: the decided ones, and in each group the tied lanes whose bit says yes.
        // (Classifying reads only the unit's own words of this colour and the other colour.)
        sc.flips.resize(static_cast<std::size_t>(kSegment));
        sc.tied.resize(static_cast<std::size_t>(G * kSegment));
        sc.bits.resize(static_cast<std::size_t>(G * (kSegment + 1)));
        sc.blocks.resize(static_cast<std::size_t>(4 * kSegment));
        const auto stride = static_cast<std::size_t>(L);
        if (sc.rows.size() != 2 * stride) sc.rows.assign(2 * stride, 0);
        std::uint64_t* flips = sc.flips.data();
        std::uint64_t* tied = sc.tied.data();
        for (Index i = i0; i < i1; ++i) {
            // This colour's words of the row, the other colour's (its left and right neighbours:
            // word t's are nb[t - 1 + x0] and nb[t + x0], periodic), and the words above and
            // below, as they are or rotated copies across strip edges.
            const Index x0 = (colour + i) & 1, w0 = (i - i0) * span - t0;  // word t of row i is w0 + t
            const std::uint64_t* cur = W.part(i, x0);
            const std::uint64_t* nb = W.part(i, 1 - x0);
            const std::uint64_t* Pu = W.part(i == 0 ? h - 1 : i - 1, x0);
            const std::uint64_t* Pd = W.part(i == h - 1 ? 0 : i + 1, x0);
            if (i == 0) {
                std::uint64_t* E = sc.rows.data();
                for (Index t = 0; t < half; ++t) E[t] = rotl1(Pu[t]);
                Pu = E;
            }
            if (i == h - 1) {
                std::uint64_t* E = sc.rows.data() + stride;
                for (Index t = 0; t < half; ++t) E[t] = rotr1(Pd[t]);
                Pd = E;
            }
            const std::uint32_t* blocks = sc.blocks.data();  // word t's block: blocks + 4 (w0 + t)
            const auto one = [&](Index t) {
                const Index l = t - 1 + x0, r = t + x0;
                const Classes<std::uint64_t, G> k =
                    classify<G>(cur[t], nb[l < 0 ? half - 1 : l], nb[r == half ? 0 : r], Pu[t], Pd[t], acc);
                const std::uint32_t* q = blocks + 4 * (w0 + t);
                std::uint64_t tg[G];
                flips[w0 + t] = level0<G>(k, q[0] | (static_cast<std::uint64_t>(q[1]) << 32),
                                          q[2] | (static_cast<std::uint64_t>(q[3]) << 32), fb, tg);
                for (int g = 0; g < G; ++g) tied[g * kSegment + w0 + t] = tg[g];
            };
#ifdef MLSCI_MULTISPIN_SIMD
            // Eight words at once, the same arithmetic, reading the row in place (the first and
            // last eight take their wrapped neighbour through a copy). r1, r2: the halves of
            // the words' Philox blocks.
            const auto eight = [&](Index tw, V8 r1, V8 r2) {
                const auto load = [](const std::uint64_t* q) {
                    V8 a;
                    std::memcpy(&a, q, sizeof a);
                    return a;
                };
                std::uint64_t wrap[8];
                V8 l, r;
                if (x0 == 0 && tw == 0) {  // word 0's left neighbour is the row's last
                    wrap[0] = nb[half - 1];
                    std::memcpy(wrap + 1, nb, 7 * sizeof(std::uint64_t));
                    l = load(wrap);
                } else {
                    l = load(nb + tw - 1 + x0);
                }
                if (x0 == 1 && tw + 8 == half) {  // the last word's right neighbour is the row's first
                    std::memcpy(wrap, nb + tw + 1, 7 * sizeof(std::uint64_t));
                    wrap[7] = nb[0];
                    r = load(wrap);
                } else {
                    r = load(nb + tw + x0);
                }
                const Classes<V8, G> k = classify<G>(load(cur + tw), l, r, load(Pu + tw), load(Pd + tw), acc);
                V8 tg[G];
                const V8 f = level0<G>(k, r1, r2, fb, tg);
                std::memcpy(flips + w0 + tw, &f, sizeof(V8));
                for (int g = 0; g < G; ++g) std::memcpy(tied + g * kSegment + w0 + tw, &tg[g], sizeof(V8));
            };
            if (!scalar) {
                // 32 words at a time (a unit's part of a row is a multiple of 64 words), their
                // blocks straight from two interleaved Philox passes: the same bits as the
                // reference loop reads from blocks[], without the transposing store and reloads.
                for (Index t = t0; t < t1; t += 32) {
                    detail::PhiloxLanes a(0u, static_cast<std::uint32_t>(base + w0 + t), step, tag);
                    detail::PhiloxLanes b(0u, static_cast<std::uint32_t>(base + w0 + t + 16), step, tag);
                    detail::philox_rounds(key, a, b);
                    eight(t, a.pairs(0, false), a.pairs(0, true));
                    eight(t + 8, a.pairs(1, false), a.pairs(1, true));
                    eight(t + 16, b.pairs(0, false), b.pairs(0, true));
                    eight(t + 24, b.pairs(1, false), b.pairs(1, true));
                }
                continue;
            }
#endif
            // The reference: one word at a time, its block from philox4x32_blocks.
            philox4x32_blocks(key, 0u, static_cast<std::uint32_t>(base + w0 + t0), step, tag, t1 - t0,
                              sc.blocks.data() + 4 * (w0 + t0));
            for (Index t = t0; t < t1; ++t) one(t);
        }
        double q[G];
        std::int64_t count[G];
        std::uint64_t* bits[G];
        std::int64_t most = 0;  // (a quarter of a word's lanes tie: more than 57 happens with p < 1e-27)
        for (int g = 0; g < G; ++g) {
            const std::uint64_t* lanes = tied + g * kSegment;
            std::int64_t c = 0;
            for (Index w = 0; w < n; ++w) {
                const std::int64_t k = __builtin_popcountll(lanes[w]);
                c += k;
                most = std::max(most, k);
            }
            q[g] = fb[g].rest;
            count[g] = c;
            bits[g] = sc.bits.data() + static_cast<std::size_t>(g) * (kSegment + 1);
        }
        sc.bernoulli.generate(G, q, count, bits, key, 1u << 12, static_cast<std::uint32_t>(2 * base), step, tag);
        std::int64_t pos[G] = {};
        const auto flip = [&](auto take_bits) {
            for (Index i = i0; i < i1; ++i) {
                std::uint64_t* cur = W.part(i, (colour + i) & 1);
                const Index w0 = (i - i0) * span - t0;
                for (Index t = t0; t < t1; ++t) {
                    std::uint64_t f = flips[w0 + t];
                    for (int g = 0; g < G; ++g) f |= take_bits(bits[g], pos[g], tied[g * kSegment + w0 + t]);
                    cur[t] ^= f;
                }
            }
        };
        using Bits = const std::uint64_t*;
        if (most <= kSparseBits) flip([](Bits b, std::int64_t& at, std::uint64_t m) { return take_sparse(b, at, m); });
        else flip([](Bits b, std::int64_t& at, std::uint64_t m) { return take(b, at, m); });
    });
}

void measure(const Words& W, const Model& m, double& energy, double& magnetization) {
    // Integer popcounts: exact, whatever the split. Word (i, 2 t) has its right neighbour at
    // (i, 2 t + 1) and that one at (i, 2 t + 2); the word below is (i + 1, x), rotated at the
    // last row.
    const Index L = W.L, h = W.h, half = W.half;
    std::int64_t up = 0, unlike = 0;
    for (Index i = 0; i < h; ++i) {
        const std::uint64_t *E = W.part(i, 0), *O = W.part(i, 1);
        const Index below = i == h - 1 ? 0 : i + 1;
        const std::uint64_t *Ed = W.part(below, 0), *Od = W.part(below, 1);
        const auto vertical = [&](std::uint64_t d) { return i == h - 1 ? rotr1(d) : d; };
        for (Index t = 0; t < half; ++t) {
            const std::uint64_t e = E[t], o = O[t], e_next = E[t == half - 1 ? 0 : t + 1];
            up += __builtin_popcountll(e) + __builtin_popcountll(o);
            unlike += __builtin_popcountll(e ^ o) + __builtin_popcountll(o ^ e_next);
            unlike += __builtin_popcountll(e ^ vertical(Ed[t])) + __builtin_popcountll(o ^ vertical(Od[t]));
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
    pack(spins, m.L, W, m.L * m.L < 65536 ? 1 : n_threads);
    SweepResult r;
    for (std::int64_t k = 0; k < n_sweeps; ++k) {
        const std::uint64_t sweep = first_sweep + static_cast<std::uint64_t>(k);
        for (int colour = 0; colour < 2; ++colour) {
            const auto st = static_cast<std::uint32_t>(2 * sweep + static_cast<std::uint64_t>(colour));
            if (acc.n_groups <= 2) half_sweep<2>(W, acc, key, tag, st, colour, n_threads, scalar);
            else if (acc.n_groups <= 4) half_sweep<4>(W, acc, key, tag, st, colour, n_threads, scalar);
            else half_sweep<kMaxGroups>(W, acc, key, tag, st, colour, n_threads, scalar);
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
    unpack(W, spins, m.L * m.L < 65536 ? 1 : n_threads);
    return r;
}

}  // namespace mlsci::ising
