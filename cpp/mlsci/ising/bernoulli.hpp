// Exact Bernoulli(p) bits, 64 to a word, for the Metropolis updates that need one yes/no per spin.
//
// A spin flips with probability p, a double. Comparing a uniform u = 0.r1 r2 r3 ... with the
// binary expansion of p bit by bit decides u < p at the first position where they differ, so
// each decision costs 2 random bits on average and is exact to the last bit of p. Done for 64
// spins at once with 64-bit random words, the lanes that are still tied after two steps (a
// quarter) need more bits; instead of drawing more words for all 64 lanes, their count is
// carried to the next level, which asks for that many Bernoulli(p') bits, p' = the rest of p's
// expansion (frac(4 p), exact in binary), and deposits them into the tied lanes (pdep). Each
// level is a quarter of the one before, so a word of 64 decisions costs 2.7 random words in
// all, against 8 and more for running every lane to the end in lock-step.
//
// The random words of level l come from Philox blocks {draw + l, first + j, step, tag}: word j
// of the level uses block j (its two 64-bit halves for the two steps; several groups drawn
// together take their words one group after the other), so the bits are a pure function of the
// counters and of p.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "mlsci/common/rng.hpp"

#if defined(__BMI2__) && !defined(__znver1__) && !defined(__znver2__)
#include <immintrin.h>
#define MLSCI_HAVE_PDEP 1  // (Zen 1 and 2 have pdep, microcoded at ~250 cycles: the loop is faster)
#endif

namespace mlsci::ising {

// The low popcount(mask) bits of src, deposited in order into the set bits of mask.
inline std::uint64_t deposit(std::uint64_t src, std::uint64_t mask) {
#ifdef MLSCI_HAVE_PDEP
    return _pdep_u64(src, mask);
#else
    std::uint64_t out = 0;
    for (; mask != 0; mask &= mask - 1, src >>= 1)
        if (src & 1) out |= mask & (~mask + 1);
    return out;
#endif
}

// Bits pos .. pos + 63 of the bit string s (bit b is bit b % 64 of word b / 64); reads the word
// after the one holding bit pos, which must exist.
inline std::uint64_t bits_at(const std::uint64_t* s, std::int64_t pos) {
    const std::uint64_t* w = s + (pos >> 6);
    const unsigned __int128 pair = (static_cast<unsigned __int128>(w[1]) << 64) | w[0];
    return static_cast<std::uint64_t>(pair >> (pos & 63));  // one shrd
}

// The next popcount(mask) bits of the bit string s, from bit pos on, deposited into the set bits
// of mask; pos moves past them. (How every consumer reads a group's Bernoulli bits.)
inline std::uint64_t take(const std::uint64_t* s, std::int64_t& pos, std::uint64_t mask) {
    const std::uint64_t out = deposit(bits_at(s, pos), mask);
    pos += __builtin_popcountll(mask);
    return out;
}

// The same for a mask of at most 57 set bits, with one unaligned load: the 8 bytes from the one
// holding bit pos hold at least 57 bits from pos on. 25-35% faster than take() where masks are
// sparse (tied lanes), which is where callers use it, having checked the bound.
constexpr int kSparseBits = 57;
inline std::uint64_t take_sparse(const std::uint64_t* s, std::int64_t& pos, std::uint64_t mask) {
    std::uint64_t v;
    std::memcpy(&v, reinterpret_cast<const unsigned char*>(s) + (pos >> 3), sizeof v);
    const std::uint64_t out = deposit(v >> (pos & 7), mask);
    pos += __builtin_popcountll(mask);
    return out;
}

// One level's arithmetic, shared by BernoulliWords and the multi-spin update's in-place level.
// The next two bits of the expansion x in [0, 1) as all-zero / all-one masks; x becomes the rest,
// frac(4 x) (doubling a double in [0, 1) and dropping the 1 is exact).
struct TwoBits {
    std::uint64_t m1 = 0, m2 = 0;
};
inline TwoBits next_two_bits(double& x) {
    TwoBits b;
    x *= 2.0;
    if (x >= 1.0) {
        b.m1 = ~std::uint64_t{0};
        x -= 1.0;
    }
    x *= 2.0;
    if (x >= 1.0) {
        b.m2 = ~std::uint64_t{0};
        x -= 1.0;
    }
    return b;
}

// Two steps of the comparison, lane by lane (W: a 64-bit word or a vector of them): random bits
// r1, r2 against the expansion's bits m1, m2. Step 1: r1 < m1 means u < p, r1 == m1 ties; step 2
// on the tied. Returns the lanes decided yes; `tie` gets those still tied.
template <class W>
inline W two_steps(W r1, W r2, W m1, W m2, W& tie) {
    const W t1 = ~(r1 ^ m1);
    tie = t1 & ~(r2 ^ m2);
    return (m1 & ~r1) | (t1 & m2 & ~r2);
}

// Generates the bits; keeps its scratch between calls (one per thread).
class BernoulliWords {
public:
    static constexpr int kMaxGroups = 16;

    // For each group g < n_groups (at most kMaxGroups): the first n_bits[g] bits of out[g][0, n),
    // n = ceil(n_bits[g] / 64), are independent Bernoulli(p[g]) bits, 0 <= p[g] <= 1, and the
    // rest of word n - 1 is 0; out[g][n] is set to 0 (bits_at and take_sparse look one word
    // ahead). The groups' levels share their Philox passes (a pass of 16 blocks costs about as
    // much as 5 blocks one by one, and the deep levels are a few blocks each): level l of all
    // groups takes blocks {draw + l, first + j, step, tag}, j < the sum of the groups' words at
    // that level, group after group; level 0 uses the sum of ceil(n_bits[g] / 64). Levels
    // deeper than 4096 (p's expansion is at most 1076 bits long, so this never happens) throw.
    void generate(int n_groups, const double* p, const std::int64_t* n_bits, std::uint64_t* const* out,
                  const Key& key, std::uint32_t draw, std::uint32_t first, std::uint32_t step, std::uint32_t tag);

    // One group.
    void generate(double p, std::int64_t n_bits, std::uint64_t* out, const Key& key, std::uint32_t draw,
                  std::uint32_t first, std::uint32_t step, std::uint32_t tag) {
        generate(1, &p, &n_bits, &out, key, draw, first, step, tag);
    }

    // How many levels the last generate() used (tests).
    int levels() const { return levels_; }

private:
    struct Level {
        int group, level;
        std::int64_t off, size;  // its results and tied lanes: [off, off + size) of res_ / tie_
        bool sparse;             // no tie mask has more than kSparseBits lanes
    };
    std::vector<std::uint64_t> res_, tie_;
    std::vector<std::uint32_t> blocks_;
    std::vector<Level> done_;  // every group's levels, in the order they ran
    int levels_ = 0;
};

}  // namespace mlsci::ising
