// Exact Bernoulli bits by levels; see bernoulli.hpp.
#include "mlsci/ising/bernoulli.hpp"

#include <algorithm>

#include "mlsci/common/error.hpp"

namespace mlsci::ising {

void BernoulliWords::generate(double p, std::int64_t n_bits, std::uint64_t* out, const Key& key, std::uint32_t draw,
                              std::uint32_t first, std::uint32_t step, std::uint32_t tag) {
    constexpr int kMaxLevels = 4096;
    const std::int64_t n = (n_bits + 63) / 64;
    const auto first_bits = [](std::int64_t bits) {  // the low bits % 64 of a word, all 64 if 0
        return bits % 64 == 0 ? ~std::uint64_t{0} : (std::uint64_t{1} << (bits % 64)) - 1;
    };
    levels_ = 0;
    out[n] = 0;
    if (n == 0) return;
    if (!(p > 0.0) || p >= 1.0) {
        std::fill(out, out + n, p >= 1.0 ? ~std::uint64_t{0} : 0);
        out[n - 1] &= first_bits(n_bits);
        return;
    }
    // Level l's results and tied lanes live at [start_[l], start_[l] + size) of res_ / tie_;
    // level 0's results go straight to `out`.
    start_.clear();
    std::int64_t off = 0, need = n_bits, size = n;
    double x = p;  // the part of p's expansion not yet compared
    for (;;) {
        if (levels_ >= kMaxLevels) require(false, "BernoulliWords", "too many levels (p's expansion is finite: a bug)");
        if (static_cast<std::int64_t>(res_.size()) < off + size + 1) {
            res_.resize(static_cast<std::size_t>(2 * (off + size + 1)));
            tie_.resize(res_.size());
        }
        if (static_cast<std::int64_t>(blocks_.size()) < 4 * size) blocks_.resize(static_cast<std::size_t>(4 * size));
        // The next two bits of p (doubling a double in [0, 1) and dropping the 1 is exact).
        x *= 2.0;
        const bool b1 = x >= 1.0;
        if (b1) x -= 1.0;
        x *= 2.0;
        const bool b2 = x >= 1.0;
        if (b2) x -= 1.0;
        philox4x32_blocks(key, draw + static_cast<std::uint32_t>(levels_), first, step, tag, size, blocks_.data());
        std::uint64_t* res = levels_ == 0 ? out : res_.data() + off;
        std::uint64_t* tie = tie_.data() + off;
        const std::uint64_t m1 = b1 ? ~std::uint64_t{0} : 0, m2 = b2 ? ~std::uint64_t{0} : 0;
        std::int64_t tied = 0;
        const std::uint32_t* const blocks = blocks_.data();
        for (std::int64_t j = 0; j < size; ++j) {
            const std::uint32_t* q = blocks + 4 * j;
            const std::uint64_t r1 = q[0] | (static_cast<std::uint64_t>(q[1]) << 32);
            const std::uint64_t r2 = q[2] | (static_cast<std::uint64_t>(q[3]) << 32);
            // Step 1 (every lane tied): r1 < b1 means u < p, r1 == b1 ties. Step 2 on the tied.
            std::uint64_t yes = m1 & ~r1, t = ~(r1 ^ m1);
            yes |= t & m2 & ~r2;
            t &= ~(r2 ^ m2);
            res[j] = yes;
            tie[j] = t;
        }
        // Only the first `need` lanes are asked for: the rest of the last word must not keep
        // the levels going.
        res[size - 1] &= first_bits(need);
        tie[size - 1] &= first_bits(need);
        for (std::int64_t j = 0; j < size; ++j) tied += __builtin_popcountll(tie[j]);
        start_.push_back(off);
        ++levels_;
        // Tied lanes with nothing left of p have u >= p: no. Otherwise they take the next level's bits.
        if (tied == 0 || x == 0.0) break;
        off += size + 1;
        need = tied;
        size = (tied + 63) / 64;
    }
    // Deepest first: deposit level l + 1's bits into level l's tied lanes.
    for (int l = levels_ - 2; l >= 0; --l) {
        const std::int64_t lo = start_[static_cast<std::size_t>(l)], hi = start_[static_cast<std::size_t>(l + 1)];
        std::uint64_t* res = l == 0 ? out : res_.data() + lo;
        const std::uint64_t* tie = tie_.data() + lo;
        std::uint64_t* deeper = res_.data() + hi;
        const std::int64_t deeper_size = l + 2 < levels_ ? start_[static_cast<std::size_t>(l + 2)] - hi - 1 : size;
        deeper[deeper_size] = 0;  // bits_at looks one word ahead
        std::int64_t pos = 0;
        for (std::int64_t j = 0; j < hi - lo - 1; ++j) res[j] |= take(deeper, pos, tie[j]);
    }
}

}  // namespace mlsci::ising
