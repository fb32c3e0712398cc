// Swendsen-Wang cluster updates; see lattice.hpp. Swendsen & Wang, Phys. Rev. Lett. 58, 86 (1987).
#include <algorithm>
#include <cmath>
#include <vector>

#include "mlsci/common/parallel.hpp"
#include "mlsci/common/rng.hpp"
#include "mlsci/ising/lattice.hpp"

namespace mlsci::ising {

namespace {

Index find(std::vector<Index>& parent, Index i) {
    while (parent[static_cast<std::size_t>(i)] != i) {
        Index& p = parent[static_cast<std::size_t>(i)];
        p = parent[static_cast<std::size_t>(p)];  // path halving
        i = p;
    }
    return i;
}

// Union keeping the smaller index as the root: every cluster's root is its smallest site, however
// the unions were ordered.
void unite(std::vector<Index>& parent, Index a, Index b) {
    a = find(parent, a);
    b = find(parent, b);
    if (a == b) return;
    if (a < b) std::swap(a, b);
    parent[static_cast<std::size_t>(a)] = b;
}

constexpr Index kChunk = 4096;  // sites per task; a multiple of 4 (one Philox block per 4 draws)

}  // namespace

void swendsen_wang_sweep(std::int8_t* s, const Model& m, std::uint64_t seed, std::uint32_t replica,
                         std::uint64_t sweep, std::vector<Index>& parent, std::vector<std::uint8_t>& active,
                         int n_threads) {
    const Index L = m.L, N = n_sites(m), D = m.dim;
    const std::uint64_t p_bond = acceptance_threshold(1.0 - std::exp(-2.0 * m.beta * m.J));
    const Key key{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)};
    const std::uint32_t tag = (static_cast<std::uint32_t>(Stream::IsingSwendsenWang) << 24) | (replica & 0xFFFFFFu);
    const auto step = static_cast<std::uint32_t>(sweep);
    const Index chunks = (N + kChunk - 1) / kChunk;
    // Between the two parallel phases the union-find runs on one thread, so each sweep wakes the
    // team twice: below 2^16 sites that costs more than it saves on a busy machine.
    const int nt = N < 65536 ? 1 : n_threads;

    // Bonds: site i to its +x, +y (+z) neighbours, bond d of site i drawn from word (i, d) of a
    // Philox block keyed by (draw 0, block (i * D + d) / 4). Active bonds are recorded per site.
    active.resize(static_cast<std::size_t>(N));  // every entry is written below
    parallel_for(0, chunks, nt, [&](std::int64_t c) {
        const Index i0 = c * kChunk, i1 = std::min(N, i0 + kChunk);
        const Index b0 = (i0 * D) / 4, b1 = (i1 * D + 3) / 4;
        std::vector<std::uint32_t> words(static_cast<std::size_t>(4 * (b1 - b0)));
        philox4x32_blocks(key, 0u, static_cast<std::uint32_t>(b0), step, tag, b1 - b0, words.data());
        for (Index i = i0; i < i1; ++i) {
            const Index x = i % L, y = (i / L) % L, z = i / (L * L);
            const Index nb[3] = {x == L - 1 ? i - (L - 1) : i + 1, y == L - 1 ? i - (L - 1) * L : i + L,
                                 z == L - 1 ? i - (L - 1) * L * L : i + L * L};
            std::uint8_t bits = 0;
            for (Index d = 0; d < D; ++d) {
                const std::uint32_t u = words[static_cast<std::size_t>(i * D + d - 4 * b0)];
                if (s[i] == s[nb[d]] && u < p_bond) bits = static_cast<std::uint8_t>(bits | (1u << d));
            }
            active[static_cast<std::size_t>(i)] = bits;
        }
    });

    // Clusters (serial union-find; roots are the smallest sites, so the result is order-free).
    parent.resize(static_cast<std::size_t>(N));
    for (Index i = 0; i < N; ++i) parent[static_cast<std::size_t>(i)] = i;
    for (Index i = 0; i < N; ++i) {
        const std::uint8_t bits = active[static_cast<std::size_t>(i)];
        if (!bits) continue;
        const Index x = i % L, y = (i / L) % L, z = i / (L * L);
        if (bits & 1u) unite(parent, i, x == L - 1 ? i - (L - 1) : i + 1);
        if (bits & 2u) unite(parent, i, y == L - 1 ? i - (L - 1) * L : i + L);
        if (bits & 4u) unite(parent, i, z == L - 1 ? i - (L - 1) * L * L : i + L * L);
    }
    for (Index i = 0; i < N; ++i) find(parent, i);  // compress: parent[i] is now i's root

    // Flips: cluster with root r flips when word r of the draw-1 blocks is below 2^31.
    parallel_for(0, chunks, nt, [&](std::int64_t c) {
        const Index i0 = c * kChunk, i1 = std::min(N, i0 + kChunk);
        std::uint32_t w[4];
        Index cached = -1;  // neighbouring sites mostly share a root, hence a block
        for (Index i = i0; i < i1; ++i) {
            const Index r = parent[static_cast<std::size_t>(i)];
            if (r / 4 != cached) {
                cached = r / 4;
                philox4x32_blocks(key, 1u, static_cast<std::uint32_t>(cached), step, tag, 1, w);
            }
            if (w[r % 4] < 0x80000000u) s[i] = static_cast<std::int8_t>(-s[i]);
        }
    });
}

}  // namespace mlsci::ising
