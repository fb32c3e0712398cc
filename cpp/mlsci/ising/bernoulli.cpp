// Exact Bernoulli bits by levels; see bernoulli.hpp.
#include "mlsci/ising/bernoulli.hpp"

#include <algorithm>
#include <array>

#include "mlsci/common/error.hpp"

namespace mlsci::ising {

void BernoulliWords::generate(int n_groups, const double* p, const std::int64_t* n_bits, std::uint64_t* const* out,
                              const Key& key, std::uint32_t draw, std::uint32_t first, std::uint32_t step,
                              std::uint32_t tag) {
    constexpr int kMaxLevels = 4096;
    require(n_groups >= 0 && n_groups <= kMaxGroups, "BernoulliWords", "at most 16 groups");
    const auto first_bits = [](std::int64_t bits) {  // the low bits % 64 of a word, all 64 if 0
        return bits % 64 == 0 ? ~std::uint64_t{0} : (std::uint64_t{1} << (bits % 64)) - 1;
    };
    // Per group: the part of p's expansion not yet compared, the lanes asked for at the current
    // level and their words (0 once the group is done).
    std::array<double, kMaxGroups> x{};
    std::array<std::int64_t, kMaxGroups> need{}, size{};
    std::int64_t total = 0;
    for (int g = 0; g < n_groups; ++g) {
        const std::int64_t n = (n_bits[g] + 63) / 64;
        out[g][n] = 0;
        if (n == 0) continue;
        if (!(p[g] > 0.0) || p[g] >= 1.0) {
            std::fill(out[g], out[g] + n, p[g] >= 1.0 ? ~std::uint64_t{0} : 0);
            out[g][n - 1] &= first_bits(n_bits[g]);
            continue;
        }
        x[static_cast<std::size_t>(g)] = p[g];
        need[static_cast<std::size_t>(g)] = n_bits[g];
        size[static_cast<std::size_t>(g)] = n;
        total += n;
    }
    levels_ = 0;
    done_.clear();
    std::int64_t off = 0;
    while (total > 0) {
        if (levels_ >= kMaxLevels) require(false, "BernoulliWords", "too many levels (p's expansion is finite: a bug)");
        if (static_cast<std::int64_t>(res_.size()) < off + total + n_groups) {
            res_.resize(static_cast<std::size_t>(2 * (off + total + n_groups)));
            tie_.resize(res_.size());
        }
        if (static_cast<std::int64_t>(blocks_.size()) < 4 * total) blocks_.resize(static_cast<std::size_t>(4 * total));
        philox4x32_blocks(key, draw + static_cast<std::uint32_t>(levels_), first, step, tag, total, blocks_.data());
        const std::uint32_t* blocks = blocks_.data();
        std::int64_t next_total = 0;
        for (int g = 0; g < n_groups; ++g) {
            const auto gi = static_cast<std::size_t>(g);
            const std::int64_t n = size[gi];
            if (n == 0) continue;
            double& y = x[gi];
            const TwoBits b = next_two_bits(y);
            std::uint64_t* res = levels_ == 0 ? out[g] : res_.data() + off;
            std::uint64_t* tie = tie_.data() + off;
            for (std::int64_t j = 0; j < n; ++j, blocks += 4) {
                const std::uint64_t r1 = blocks[0] | (static_cast<std::uint64_t>(blocks[1]) << 32);
                const std::uint64_t r2 = blocks[2] | (static_cast<std::uint64_t>(blocks[3]) << 32);
                res[j] = two_steps(r1, r2, b.m1, b.m2, tie[j]);
            }
            // Only the first `need` lanes are asked for: the rest of the last word must not keep
            // the levels going.
            res[n - 1] &= first_bits(need[gi]);
            tie[n - 1] &= first_bits(need[gi]);
            std::int64_t tied = 0, most = 0;
            for (std::int64_t j = 0; j < n; ++j) {
                const std::int64_t c = __builtin_popcountll(tie[j]);
                tied += c;
                most = std::max(most, c);
            }
            // (A quarter of a word's lanes tie: more than 57 happens with p < 1e-27.)
            done_.push_back({g, levels_, off, n, most <= kSparseBits});
            off += n + 1;
            // Tied lanes with nothing left of p have u >= p: no. Otherwise they take the next level's bits.
            if (tied == 0 || y == 0.0) {
                size[gi] = 0;
                continue;
            }
            need[gi] = tied;
            size[gi] = (tied + 63) / 64;
            next_total += size[gi];
        }
        total = next_total;
        ++levels_;
    }
    // Deepest first: deposit level l + 1's bits into level l's tied lanes, group by group.
    std::array<const Level*, kMaxGroups> deeper{};  // per group: the level deposited into last
    for (auto it = done_.rbegin(); it != done_.rend(); ++it) {
        const Level*& d = deeper[static_cast<std::size_t>(it->group)];
        if (d != nullptr) {
            std::uint64_t* res = it->level == 0 ? out[it->group] : res_.data() + it->off;
            const std::uint64_t* tie = tie_.data() + it->off;
            std::uint64_t* bits = res_.data() + d->off;
            bits[d->size] = 0;  // (the reads look one word ahead)
            std::int64_t pos = 0;
            if (it->sparse)
                for (std::int64_t j = 0; j < it->size; ++j) res[j] |= take_sparse(bits, pos, tie[j]);
            else
                for (std::int64_t j = 0; j < it->size; ++j) res[j] |= take(bits, pos, tie[j]);
        }
        d = &*it;
    }
}

}  // namespace mlsci::ising
