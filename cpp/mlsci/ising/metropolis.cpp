// Checkerboard Metropolis and heat-bath sweeps; see lattice.hpp.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "mlsci/common/error.hpp"
#include "mlsci/common/parallel.hpp"
#include "mlsci/common/rng.hpp"
#include "mlsci/ising/bernoulli.hpp"
#include "mlsci/ising/lattice.hpp"

namespace mlsci::ising {

Index n_sites(const Model& m) { return m.dim == 3 ? m.L * m.L * m.L : m.L * m.L; }

namespace {
// Tests switch the vectorised row update off to compare it with the scalar reference.
std::atomic<bool> g_scalar_sweeps{false};
}  // namespace

void set_scalar_sweeps(bool scalar) { g_scalar_sweeps.store(scalar); }
bool scalar_sweeps() { return g_scalar_sweeps.load(std::memory_order_relaxed); }

void check_model(const Model& m, const char* where) {
    require(m.dim == 2 || m.dim == 3, where, "dim must be 2 or 3, got " + std::to_string(m.dim));
    require(m.L >= 2 && m.L % 2 == 0, where,
            "L must be even and >= 2 (the checkerboard update needs an even L), got " + std::to_string(m.L));
    require(std::isfinite(m.J) && std::isfinite(m.h), where, "J and h must be finite");
    require(std::isfinite(m.beta) && m.beta > 0.0, where, "beta = 1/T must be finite and > 0");
}

namespace {

std::uint64_t threshold(double p) { return acceptance_threshold(p); }

// Heat-bath: thresholds on a 32-bit uniform u for P(s = +1), indexed by the neighbour sum S in
// {-2d, ..., 2d} as (S + 2d) / 2; a threshold of 2^32 always says yes, so probabilities are exact
// to 2^-32.
struct Table {
    std::array<std::uint64_t, 7> up{};
};

Table make_table(const Model& m) {
    Table t;
    const int z = 2 * m.dim;
    for (int S = -z; S <= z; S += 2) {
        const double local = m.J * S + m.h;  // energy of spin s is -s * local
        t.up[static_cast<std::size_t>((S + z) / 2)] = threshold(1.0 / (1.0 + std::exp(-2.0 * m.beta * local)));
    }
    return t;
}

// Metropolis: a spin's class is k = (S + 2d) / 2, plus 7 when it points down; a class flips
// always (p = 1), never (exp underflow), or with one of the distinct probabilities p < 1 (its
// group), by exact Bernoulli bits (bernoulli.hpp).
constexpr std::uint8_t kAlways = 0xFE, kNever = 0xFF;
constexpr int kMaxGroups = 14;
struct Groups {
    int n = 0;
    std::array<double, kMaxGroups> p{};
    std::array<std::uint8_t, 64> id{};  // per class: its group, kAlways or kNever (64: a vpermb table)
};

Groups make_groups(const Model& m) {
    Groups gr;
    gr.id.fill(kNever);
    const int z = 2 * m.dim;
    for (int S = -z; S <= z; S += 2)
        for (int down = 0; down <= 1; ++down) {
            const double local = m.J * S + m.h, s = down ? -1.0 : 1.0;
            const double p = std::min(1.0, std::exp(-m.beta * 2.0 * s * local));  // dE = 2 s local
            const auto k = static_cast<std::size_t>((S + z) / 2 + 7 * down);
            if (p >= 1.0) {
                gr.id[k] = kAlways;
                continue;
            }
            if (!(p > 0.0)) continue;
            int g = 0;
            while (g < gr.n && gr.p[static_cast<std::size_t>(g)] != p) ++g;
            if (g == gr.n) gr.p[static_cast<std::size_t>(gr.n++)] = p;
            gr.id[k] = static_cast<std::uint8_t>(g);
        }
    return gr;
}

// Needs GCC >= 12 (__builtin_shufflevector) and AVX-512 with byte permutes (VBMI): built for AVX2
// the same code runs at a third of the scalar loop's speed (measured), so it is left out there.
// (The Metropolis classification has an AVX2 version of its own: MLSCI_ISING_AVX2.)
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__AVX512BW__) && defined(__AVX512VBMI__)
#define MLSCI_ISING_SIMD 1
#include <immintrin.h>
#elif defined(__AVX2__)
#define MLSCI_ISING_AVX2 1
#include <immintrin.h>
#endif
#ifdef MLSCI_ISING_SIMD
// Heat-bath, one colour of a row, 16 positions per vector (8 sites of the colour, every other
// lane): the same arithmetic as the scalar loop, lane by lane, so the result is identical bit for
// bit. The thresholds are looked up with a permute from a table indexed by (S + z) / 2, a
// threshold of 2^32 being an "always" flag beside the 32-bit value.
typedef signed char V16s8 __attribute__((vector_size(16)));
typedef int V16i __attribute__((vector_size(64)));
typedef unsigned V16u __attribute__((vector_size(64)));

struct SimdTable {
    V16i thr;     // low 32 bits of the threshold for P(up)
    V16i always;  // -1 where the threshold is 2^32
};

SimdTable simd_table(const Table& t, int z) {
    SimdTable st{};
    for (int k = 0; k <= z; ++k) {
        const std::uint64_t a = t.up[static_cast<std::size_t>(k)];
        st.thr[k] = static_cast<int>(static_cast<std::uint32_t>(a));
        st.always[k] = a >> 32 ? -1 : 0;
    }
    return st;
}

// Sign-extends 16 bytes, the first 16 of a 64-byte load, into 16 int32 lanes (vpermb + vpsrad;
// GCC's own int8 -> int32 conversion goes through the stack).
// (Out-parameter, not a return value: returning a 64-byte vector is ABI-dependent without AVX-512.)
inline void widen(const std::int8_t* p, V16i& out) {
    typedef signed char V64s8 __attribute__((vector_size(64)));
    V64s8 raw;
    std::memcpy(&raw, p, 64);
    const V64s8 spread = __builtin_shufflevector(raw, raw, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5,
                                                 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7, 8, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 10,
                                                 11, 11, 11, 11, 12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15,
                                                 15, 15);
    out = reinterpret_cast<V16i>(spread) >> 24;
}

// rows[0..] are copies of the neighbour rows with 64 bytes of slack after each (widen reads 64
// bytes): rows[0] the row itself with its periodic ends (rows[0][x + 1] = cur[x]), then north,
// south (and front, back in 3-D).
template <int D>
void heatbath_row_simd(std::int8_t* cur, const std::int8_t* const* rows, const std::uint32_t* words, Index L,
                       Index parity, const SimdTable& st) {
    constexpr int z = 2 * D;
    V16i lane_parity, expand;
    for (int j = 0; j < 16; ++j) {
        lane_parity[j] = j & 1;
        expand[j] = j >> 1;
    }
    const V16i active = lane_parity == static_cast<int>(parity);
    for (Index x0 = 0; x0 < L; x0 += 16) {
        V16i sv, S, t;
        widen(rows[0] + x0 + 1, sv);
        widen(rows[0] + x0, S);
        widen(rows[0] + x0 + 2, t);
        S += t;
        widen(rows[1] + x0, t);
        S += t;
        widen(rows[2] + x0, t);
        S += t;
        if constexpr (D == 3) {
            widen(rows[3] + x0, t);
            S += t;
            widen(rows[4] + x0, t);
            S += t;
        }
        const V16i idx = (S + z) >> 1;
        V16u u;
        std::memcpy(&u, words + x0 / 2, sizeof u);  // ranks of this block's 8 sites (+ 8 unused)
        u = __builtin_shuffle(u, reinterpret_cast<const V16u&>(expand));
        const V16u thr = reinterpret_cast<V16u>(__builtin_shuffle(st.thr, idx));
        const V16i always = __builtin_shuffle(st.always, idx);
        const V16i yes = always | reinterpret_cast<V16i>(u < thr);
        const V16i out = active ? (yes ? V16i{} + 1 : V16i{} - 1) : sv;
        const V16s8 ob = __builtin_convertvector(out, V16s8);
        std::memcpy(cur + x0, &ob, 16);
    }
}
#endif

// The rows of a lattice: rows y (and planes zc in 3-D), their neighbours, colour parity.
template <int D>
struct RowGeometry {
    std::int8_t* cur;
    const std::int8_t *north, *south, *front, *back;
    Index parity;
    RowGeometry(std::int8_t* s, Index L, Index row, int colour) {
        const Index y = row % L, zc = D == 3 ? row / L : 0;
        cur = s + row * L;
        north = s + (zc * L + (y + L - 1) % L) * L;
        south = s + (zc * L + (y + 1) % L) * L;
        front = D == 3 ? s + (((zc + L - 1) % L) * L + y) * L : nullptr;
        back = D == 3 ? s + (((zc + 1) % L) * L + y) * L : nullptr;
        parity = (colour + y + zc) & 1;
    }
};

// Heat-bath: updates every site of one colour. Site i has rank i / 2 among its colour (L is
// even), and the uniforms of ranks 4b..4b+3 are the four words of Philox block b.
template <int D>
void heatbath_half_sweep(std::int8_t* s, const Model& m, const Table& t, std::uint64_t seed, std::uint32_t replica,
                         std::uint32_t step, int colour, int n_threads) {
    const Index L = m.L, half = L / 2;
    const Index rows = D == 3 ? L * L : L;
    // The counter layout of Philox (rng.hpp): {draw, block, step, stream << 24 | replica}.
    const Key key{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)};
    const std::uint32_t tag = (static_cast<std::uint32_t>(Stream::IsingHeatBath) << 24) | (replica & 0xFFFFFFu);
    const int z = 2 * D;
    const int nt = n_sites(m) < 16384 ? 1 : n_threads;  // tiny lattices: forking costs more than it saves
#ifdef MLSCI_ISING_SIMD
    const bool simd = L % 16 == 0 && !g_scalar_sweeps.load(std::memory_order_relaxed);
    const SimdTable st = simd_table(t, z);
#endif
    parallel_for(0, rows, nt, [&](std::int64_t row) {
        const RowGeometry<D> g(s, L, row, colour);
        const Index rank0 = row * half;
        // The row's random words, all Philox blocks at once (vectorised), then the updates.
        const Index b0 = rank0 >> 2, nb = ((rank0 + half - 1) >> 2) - b0 + 1;
        thread_local std::vector<std::uint32_t> buf;
        buf.resize(static_cast<std::size_t>(4 * nb + 16));  // + 16: the vector loop reads a block past
        philox4x32_blocks(key, 0u, static_cast<std::uint32_t>(b0), step, tag, nb, buf.data());
        const std::uint32_t* words = buf.data() - 4 * b0;  // words[r] is the uniform of rank r
#ifdef MLSCI_ISING_SIMD
        if (simd) {
            // Copies of the rows the update reads, each with 64 bytes of slack (see widen); the
            // row itself with its periodic ends: row[x + 1] = cur[x], row[0] = cur[L - 1].
            thread_local std::vector<std::int8_t> copies;
            const auto stride = static_cast<std::size_t>(L + 2 + 64);
            copies.resize(stride * (D == 3 ? 5 : 3));
            std::int8_t* own = copies.data();
            own[0] = g.cur[L - 1];
            std::memcpy(own + 1, g.cur, static_cast<std::size_t>(L));
            own[L + 1] = g.cur[0];
            const std::int8_t* src[4] = {g.north, g.south, g.front, g.back};
            const std::int8_t* near[5] = {own, nullptr, nullptr, nullptr, nullptr};
            for (int r = 0; r < (D == 3 ? 4 : 2); ++r) {
                std::int8_t* dst = copies.data() + stride * static_cast<std::size_t>(r + 1);
                std::memcpy(dst, src[r], static_cast<std::size_t>(L));
                near[r + 1] = dst;
            }
            heatbath_row_simd<D>(g.cur, near, words + rank0, L, g.parity, st);
            return;
        }
#endif
        for (Index k = 0; k < half; ++k) {
            const Index x = 2 * k + g.parity;
            const Index xl = x == 0 ? L - 1 : x - 1, xr = x == L - 1 ? 0 : x + 1;
            int S = g.cur[xl] + g.cur[xr] + g.north[x] + g.south[x];
            if constexpr (D == 3) S += g.front[x] + g.back[x];
            const auto idx = static_cast<std::size_t>((S + z) / 2);
            g.cur[x] = words[rank0 + k] < t.up[idx] ? std::int8_t{1} : std::int8_t{-1};
        }
    });
}

// Metropolis: one colour, unit by unit. A unit is a fixed run of rows (at least kUnitSites sites
// of the colour, so that its Bernoulli levels are long); each row is read in chunks of 64 sites,
// whose sites of the colour are sorted into classes as 64-bit masks (bit b: site x0 + b). Then
// each group draws exact Bernoulli(p) bits, one per site it has in the unit (all groups from one
// BernoulliWords::generate, level l from Philox blocks {l, unit * words + j, step, tag}: j is
// below half the unit's chunks plus the groups, within `words` when there are several units),
// and deposits them chunk by chunk into its sites in order. Sites that always flip draw nothing.
// The classes do not change while a colour is updated (its neighbours are the other colour), so
// the unit is classified first, then flipped.
constexpr Index kUnitSites = 32768;

struct UnitScratch {
    std::vector<std::uint64_t> yes, group, bits;
    std::vector<std::int8_t> own;
    BernoulliWords bernoulli;
};

// G: a compile-time bound on the groups (those past gr.n stay empty), so that the per-chunk
// loops over groups unroll and their masks stay in registers.
template <int D, int G>
void metropolis_half_sweep(std::int8_t* s, const Model& m, const Groups& gr, std::uint64_t seed,
                           std::uint32_t replica, std::uint32_t step, int colour, int n_threads) {
    const Index L = m.L, half = L / 2;
    const Index rows = D == 3 ? L * L : L;
    const Index per_unit = std::min(rows, (kUnitSites + half - 1) / half);
    const Index units = (rows + per_unit - 1) / per_unit, chunks = (L + 63) / 64;
    const Index words = per_unit * chunks;  // a bound on a unit's level-0 words (32 sites a chunk)
    const Key key{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)};
    const std::uint32_t tag = (static_cast<std::uint32_t>(Stream::IsingMetropolis) << 24) | (replica & 0xFFFFFFu);
    const int z = 2 * D;
    const int nt = n_sites(m) < 16384 ? 1 : n_threads;
#ifdef MLSCI_ISING_SIMD
    const bool simd = !g_scalar_sweeps.load(std::memory_order_relaxed);
    const __m512i table = _mm512_loadu_si512(gr.id.data());
#elif defined(MLSCI_ISING_AVX2)
    const bool simd = !g_scalar_sweeps.load(std::memory_order_relaxed);
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(gr.id.data())));
#endif
    parallel_for(0, units, nt, [&](std::int64_t unit) {
        thread_local UnitScratch sc;
        const Index r0 = unit * per_unit, r1 = std::min(rows, r0 + per_unit), n = (r1 - r0) * chunks;
        sc.yes.resize(static_cast<std::size_t>(n));
        sc.group.resize(static_cast<std::size_t>(G * n));
        sc.own.resize(static_cast<std::size_t>(L + 2 + 64));
        sc.bits.resize(static_cast<std::size_t>(G * (words + 1)));
        // Raw pointers: through the thread_local's vectors GCC reloads them at every store.
        std::uint64_t* const yes_of = sc.yes.data();
        std::uint64_t* const group_of = sc.group.data();
        std::uint64_t* const bits_of = sc.bits.data();
        std::int8_t* const own = sc.own.data();  // the row with its periodic ends: own[x + 1] = cur[x]
        std::int64_t counts[G] = {};
        // 1. Classes, chunk c of the unit at yes[c] and group[g * n + c].
        for (Index row = r0; row < r1; ++row) {
            const RowGeometry<D> g(s, L, row, colour);
            [[maybe_unused]] const std::uint64_t colour_lanes = g.parity ? 0xAAAAAAAAAAAAAAAAull : 0x5555555555555555ull;
            own[0] = g.cur[L - 1];
            std::memcpy(own + 1, g.cur, static_cast<std::size_t>(L));
            own[L + 1] = g.cur[0];
            for (Index c = 0; c < chunks; ++c) {
                const Index x0 = 64 * c, at = (row - r0) * chunks + c;
                [[maybe_unused]] const std::uint64_t valid = x0 + 64 <= L ? ~std::uint64_t{0} : (std::uint64_t{1} << (L - x0)) - 1;
                std::uint64_t yes = 0, grp[G] = {};
#ifdef MLSCI_ISING_SIMD
                if (simd) {
                    const std::uint64_t lanes = valid & colour_lanes;
                    // (Byte-masked loads cost Zen 4 more than all the rest: only the last,
                    // partial chunk of a row uses them.)
                    const auto near = [&](const std::int8_t* q) {
                        return valid == ~std::uint64_t{0} ? _mm512_loadu_si512(q) : _mm512_maskz_loadu_epi8(valid, q);
                    };
                    const __m512i sv = _mm512_loadu_si512(own + x0 + 1);
                    __m512i S = _mm512_add_epi8(_mm512_loadu_si512(own + x0), _mm512_loadu_si512(own + x0 + 2));
                    S = _mm512_add_epi8(S, near(g.north + x0));
                    S = _mm512_add_epi8(S, near(g.south + x0));
                    if constexpr (D == 3) {
                        S = _mm512_add_epi8(S, near(g.front + x0));
                        S = _mm512_add_epi8(S, near(g.back + x0));
                    }
                    // (S + z) / 2 <= z < 128: a 16-bit shift, with the byte's top bit cleared
                    __m512i idx = _mm512_and_si512(_mm512_srli_epi16(_mm512_add_epi8(S, _mm512_set1_epi8(z)), 1),
                                                   _mm512_set1_epi8(0x7F));
                    idx = _mm512_mask_add_epi8(idx, _mm512_movepi8_mask(sv), idx, _mm512_set1_epi8(7));
                    const __m512i id = _mm512_permutexvar_epi8(idx, table);
                    yes = _mm512_cmpeq_epi8_mask(id, _mm512_set1_epi8(static_cast<char>(kAlways))) & lanes;
                    for (int k = 0; k < G; ++k)
                        grp[k] = _mm512_cmpeq_epi8_mask(id, _mm512_set1_epi8(static_cast<char>(k))) & lanes;
                } else
#elif defined(MLSCI_ISING_AVX2)
                if (simd && x0 + 64 <= L) {  // the same in two halves of 32 sites (full chunks only)
                    const auto at32 = [](const std::int8_t* q) {
                        return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
                    };
                    const auto mask32 = [](__m256i eq, int part) {
                        return static_cast<std::uint64_t>(static_cast<std::uint32_t>(_mm256_movemask_epi8(eq)))
                               << (32 * part);
                    };
                    for (int part = 0; part < 2; ++part) {
                        const Index o = x0 + 32 * part;
                        const __m256i sv = at32(own + o + 1);
                        __m256i S = _mm256_add_epi8(at32(own + o), at32(own + o + 2));
                        S = _mm256_add_epi8(S, _mm256_add_epi8(at32(g.north + o), at32(g.south + o)));
                        if constexpr (D == 3) S = _mm256_add_epi8(S, _mm256_add_epi8(at32(g.front + o), at32(g.back + o)));
                        __m256i idx = _mm256_and_si256(_mm256_srli_epi16(_mm256_add_epi8(S, _mm256_set1_epi8(z)), 1),
                                                       _mm256_set1_epi8(0x7F));
                        idx = _mm256_add_epi8(idx, _mm256_and_si256(_mm256_cmpgt_epi8(_mm256_setzero_si256(), sv),
                                                                    _mm256_set1_epi8(7)));
                        const __m256i id = _mm256_shuffle_epi8(table, idx);  // idx < 14: within each 128-bit lane
                        yes |= mask32(_mm256_cmpeq_epi8(id, _mm256_set1_epi8(static_cast<char>(kAlways))), part);
                        for (int k = 0; k < G; ++k)
                            grp[k] |= mask32(_mm256_cmpeq_epi8(id, _mm256_set1_epi8(static_cast<char>(k))), part);
                    }
                    yes &= colour_lanes;
                    for (int k = 0; k < G; ++k) grp[k] &= colour_lanes;
                } else
#endif
                {
                    // Branch-free (at T_c the classes and spins of neighbouring sites look random):
                    // every site of the colour in the chunk, the class index from the neighbour
                    // sum and the spin's sign bit.
                    const int b1 = static_cast<int>(std::min<Index>(64, L - x0));
                    for (int b = static_cast<int>(g.parity); b < b1; b += 2) {
                        const Index x = x0 + b;
                        int S = own[x] + own[x + 2] + g.north[x] + g.south[x];
                        if constexpr (D == 3) S += g.front[x] + g.back[x];
                        const int k = ((S + z) >> 1) + ((own[x + 1] >> 7) & 7);
                        const std::uint8_t id = gr.id[static_cast<std::size_t>(k)];
                        const std::uint64_t bit = std::uint64_t{1} << b;
                        yes |= bit & (std::uint64_t{0} - (id == kAlways));
                        for (int j = 0; j < G; ++j) grp[j] |= bit & (std::uint64_t{0} - (id == j));
                    }
                }
                yes_of[at] = yes;
                for (int k = 0; k < G; ++k) {
                    group_of[k * n + at] = grp[k];
                    counts[k] += __builtin_popcountll(grp[k]);
                }
            }
        }
        // 2. Each group's bits.
        {
            double p[G];
            std::uint64_t* bits[G];
            for (int k = 0; k < G; ++k) {
                p[k] = k < gr.n ? gr.p[static_cast<std::size_t>(k)] : 0.0;
                bits[k] = bits_of + k * (words + 1);
            }
            sc.bernoulli.generate(G, p, counts, bits, key, 0u, static_cast<std::uint32_t>(unit * words), step, tag);
        }
        // 3. Flips.
        std::int64_t pos[G] = {};
        for (Index row = r0; row < r1; ++row) {
            std::int8_t* cur = s + row * L;
            for (Index c = 0; c < chunks; ++c) {
                const Index at = (row - r0) * chunks + c;
                std::uint64_t f = yes_of[at];
                for (int k = 0; k < G; ++k) f |= take(bits_of + k * (words + 1), pos[k], group_of[k * n + at]);
                std::int8_t* q = cur + 64 * c;
#ifdef MLSCI_ISING_SIMD
                if (simd) {
                    const __m512i v = 64 * c + 64 <= L ? _mm512_loadu_si512(q) : _mm512_maskz_loadu_epi8(f, q);
                    _mm512_mask_storeu_epi8(q, f, _mm512_sub_epi8(_mm512_setzero_si512(), v));
                    continue;
                }
#endif
                for (; f != 0; f &= f - 1) {
                    const int b = __builtin_ctzll(f);
                    q[b] = static_cast<std::int8_t>(-q[b]);
                }
            }
        }
    });
}

}  // namespace

// Wolff sweep `sweep`: one cluster grown from a random seed, each bond to an aligned neighbour
// added with probability 1 - exp(-2 beta J), then flipped. Its random numbers come from one
// generator keyed by (seed, sweep, replica), drawn in a fixed order (the growth is serial).
static void wolff_sweep(std::int8_t* s, const Model& m, std::uint64_t seed, std::uint32_t replica, std::uint64_t sweep,
                        std::vector<Index>& stack) {
    const Index L = m.L, N = n_sites(m);
    const std::uint64_t add = threshold(1.0 - std::exp(-2.0 * m.beta * m.J));
    Philox rng(seed, Stream::IsingWolff, static_cast<std::uint32_t>(sweep), 0u, replica);
    const auto site_of = [&](std::uint64_t u) {  // uniform site in [0, N) from 64 random bits
        return static_cast<Index>((u * static_cast<unsigned __int128>(N)) >> 64);
    };
    const std::uint64_t hi = rng.next_u32();
    const Index start = site_of((hi << 32) | rng.next_u32());
    const std::int8_t s0 = s[start];
    s[start] = static_cast<std::int8_t>(-s0);
    stack.clear();
    stack.push_back(start);
    while (!stack.empty()) {
        const Index i = stack.back();
        stack.pop_back();
        const Index x = i % L, y = (i / L) % L;
        Index nb[6];
        nb[0] = x == L - 1 ? i - (L - 1) : i + 1;
        nb[1] = x == 0 ? i + (L - 1) : i - 1;
        nb[2] = y == L - 1 ? i - (L - 1) * L : i + L;
        nb[3] = y == 0 ? i + (L - 1) * L : i - L;
        int count = 4;
        if (m.dim == 3) {
            const Index z = i / (L * L);
            nb[4] = z == L - 1 ? i - (L - 1) * L * L : i + L * L;
            nb[5] = z == 0 ? i + (L - 1) * L * L : i - L * L;
            count = 6;
        }
        for (int k = 0; k < count; ++k) {
            const Index j = nb[k];
            if (s[j] == s0 && rng.next_u32() < add) {
                s[j] = static_cast<std::int8_t>(-s0);
                stack.push_back(j);
            }
        }
    }
}

void observables(const std::int8_t* s, const Model& m, double& energy, double& magnetization, int n_threads) {
    const Index L = m.L, rows = m.dim == 3 ? L * L : L, N = n_sites(m);
    // Integer sums are exact, so the result does not depend on how rows are split.
    std::vector<std::int64_t> bonds(static_cast<std::size_t>(rows)), spins(static_cast<std::size_t>(rows));
    // A fraction of a nanosecond a site (the loops below vectorise): a region pays only on large
    // lattices (measured: Swendsen-Wang at L = 128, measured every sweep, ran 20% slower on 2
    // threads than on 1 under load when every lattice above 2^14 sites was split).
    const int nt = threads_for(0.25 * static_cast<double>(N), n_threads);
    parallel_for(0, rows, nt, [&](std::int64_t row) {
        const Index y = row % L, zc = m.dim == 3 ? row / L : 0;
        const std::int8_t* cur = s + row * L;
        const std::int8_t* south = s + (zc * L + (y + 1) % L) * L;
        const std::int8_t* back = m.dim == 3 ? s + (((zc + 1) % L) * L + y) * L : nullptr;
        // |b| <= 3L and |sum| <= L: 32 bits hold a row's sums, and the compiler widens bytes to them.
        std::int32_t b = 0, sum = 0;
        const Index last = L - 1;
        if (back) {
            for (Index x = 0; x < last; ++x) {
                const std::int32_t c = cur[x];
                b += c * (cur[x + 1] + south[x] + back[x]);
                sum += c;
            }
        } else {
            for (Index x = 0; x < last; ++x) {
                const std::int32_t c = cur[x];
                b += c * (cur[x + 1] + south[x]);
                sum += c;
            }
        }
        b += cur[last] * (cur[0] + south[last] + (back ? back[last] : 0));  // the periodic wrap in x
        sum += cur[last];
        bonds[static_cast<std::size_t>(row)] = b;
        spins[static_cast<std::size_t>(row)] = sum;
    });
    std::int64_t b = 0, sum = 0;
    for (Index r = 0; r < rows; ++r) {
        b += bonds[static_cast<std::size_t>(r)];
        sum += spins[static_cast<std::size_t>(r)];
    }
    const auto n = static_cast<double>(N);
    energy = (-m.J * static_cast<double>(b) - m.h * static_cast<double>(sum)) / n;
    magnetization = static_cast<double>(sum) / n;
}

SweepResult run_sweeps(std::int8_t* spins, const Model& m, Update update, std::uint64_t seed, std::uint32_t replica,
                       std::uint64_t first_sweep, std::int64_t n_sweeps, std::int64_t measure_every,
                       std::uint64_t first_measured, double* energy, double* magnetization, int n_threads,
                       const StopCheck& stop) {
    const char* where = "run_sweeps";
    check_model(m, where);
    require(n_sweeps >= 0, where, "n_sweeps must be >= 0");
    require(measure_every >= 1, where, "measure_every must be >= 1");
    require(replica < (1u << 24), where, "replica must be < 2^24");
    require(first_sweep + static_cast<std::uint64_t>(n_sweeps) <= (std::uint64_t{1} << 31), where,
            "at most 2^31 sweeps per run (the sweep is part of the random-number counter)");
    if (update == Update::Wolff || update == Update::SwendsenWang)
        require(m.h == 0.0 && m.J > 0.0, where, "cluster algorithms need h = 0 and J > 0");
    if (update == Update::Multispin)
        return run_multispin(spins, m, seed, replica, first_sweep, n_sweeps, measure_every, first_measured, energy,
                             magnetization, n_threads, stop);
    const Table t = update == Update::HeatBath ? make_table(m) : Table{};
    const Groups groups = update == Update::Metropolis ? make_groups(m) : Groups{};
    std::vector<Index> stack;          // Wolff's; Swendsen-Wang's union-find parents
    std::vector<std::uint8_t> bonds;   // Swendsen-Wang's active bonds
    SweepResult r;
    for (std::int64_t k = 0; k < n_sweeps; ++k) {
        const std::uint64_t sweep = first_sweep + static_cast<std::uint64_t>(k);
        if (update == Update::Wolff) wolff_sweep(spins, m, seed, replica, sweep, stack);
        else if (update == Update::SwendsenWang) swendsen_wang_sweep(spins, m, seed, replica, sweep, stack, bonds, n_threads);
        else for (int colour = 0; colour < 2; ++colour) {
            const auto step = static_cast<std::uint32_t>(2 * sweep + static_cast<std::uint64_t>(colour));
            if (update == Update::Metropolis) {
                if (m.dim == 2 && groups.n <= 2)
                    metropolis_half_sweep<2, 2>(spins, m, groups, seed, replica, step, colour, n_threads);
                else if (m.dim == 2)
                    metropolis_half_sweep<2, kMaxGroups>(spins, m, groups, seed, replica, step, colour, n_threads);
                else if (groups.n <= 3)
                    metropolis_half_sweep<3, 3>(spins, m, groups, seed, replica, step, colour, n_threads);
                else
                    metropolis_half_sweep<3, kMaxGroups>(spins, m, groups, seed, replica, step, colour, n_threads);
            } else if (m.dim == 2) {
                heatbath_half_sweep<2>(spins, m, t, seed, replica, step, colour, n_threads);
            } else {
                heatbath_half_sweep<3>(spins, m, t, seed, replica, step, colour, n_threads);
            }
        }
        const std::uint64_t done = sweep + 1;
        if (done > first_measured && (done - first_measured) % static_cast<std::uint64_t>(measure_every) == 0) {
            observables(spins, m, energy[r.measurements], magnetization[r.measurements], n_threads);
            ++r.measurements;
        }
        r.sweeps = k + 1;
        if (stop && stop()) {
            r.stopped = true;
            break;
        }
    }
    return r;
}

}  // namespace mlsci::ising
