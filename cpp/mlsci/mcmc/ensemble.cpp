// Ensemble MCMC kernel (see ensemble.hpp).
#include "mlsci/mcmc/ensemble.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>

#include <Eigen/Core>

#include "mlsci/common/error.hpp"
#include "mlsci/common/parallel.hpp"
#include "mlsci/common/rng.hpp"

namespace mlsci::mcmc {

namespace {

// Spread a half over threads only when it is worth a fork/join (about 10 microseconds of work).
constexpr double kMinParallelFlops = 2e4;

std::uint32_t uniform_index(Philox& rng, std::uint32_t n) {
    return static_cast<std::uint32_t>((static_cast<std::uint64_t>(rng.next_u32()) * n) >> 32);
}

// m distinct indices in [0, n), by rejection (m <= 3 <= n here, so a few draws at most).
void distinct(Philox& rng, std::uint32_t n, int m, std::uint32_t* out) {
    for (int i = 0; i < m; ++i) {
        for (;;) {
            const std::uint32_t c = uniform_index(rng, n);
            bool seen = false;
            for (int j = 0; j < i; ++j) seen = seen || out[j] == c;
            if (!seen) {
                out[i] = c;
                break;
            }
        }
    }
}

int min_complement(MoveKind kind) {
    switch (kind) {
        case MoveKind::Stretch: return 1;
        case MoveKind::DifferentialEvolution: return 2;
        case MoveKind::Snooker: return 3;
    }
    return 1;
}

// The proposal for walker k from the complementary half `comp`, into y. `r` holds the walker's
// first four random words for this step (r[2], r[3] are kept for the acceptance test). Returns
// the stretch factor z for the stretch move (the caller takes (d - 1) log z for the whole half
// at once), else the log of the proposal's Hastings factor (-inf: reject without evaluating).
double propose(const Move& mv, const double* coords, int d, int k, const int* comp, std::uint32_t nc,
               const std::uint32_t* r, std::uint64_t seed, std::uint32_t step, std::uint32_t chain, double* y) {
    const double* x = coords + static_cast<std::int64_t>(k) * d;
    if (mv.kind == MoveKind::Stretch) {
        const auto j = static_cast<std::uint32_t>((static_cast<std::uint64_t>(r[0]) * nc) >> 32);
        const double* xj = coords + static_cast<std::int64_t>(comp[j]) * d;
        const double w = (mv.a - 1.0) * ((r[1] + 0.5) * 0x1.0p-32) + 1.0;
        const double z = w * w / mv.a;
        for (int i = 0; i < d; ++i) y[i] = xj[i] + z * (x[i] - xj[i]);
        return z;
    }
    // The other moves draw more numbers: from the same walker stream, after the first block.
    Philox rng{seed, Stream::McmcStretch, step, static_cast<std::uint32_t>(k), chain};
    rng.next4();
    if (mv.kind == MoveKind::DifferentialEvolution) {
        std::uint32_t ij[2];
        distinct(rng, nc, 2, ij);
        const double* xa = coords + static_cast<std::int64_t>(comp[ij[0]]) * d;
        const double* xb = coords + static_cast<std::int64_t>(comp[ij[1]]) * d;
        const double g = mv.gamma0 > 0.0 ? mv.gamma0 : 2.38 / std::sqrt(2.0 * d);
        for (int i = 0; i < d; ++i) y[i] = x[i] + g * (xa[i] - xb[i]) + mv.sigma * rng.normal();
        return 0.0;
    }
    std::uint32_t ij[3];
    distinct(rng, nc, 3, ij);
    const double* z = coords + static_cast<std::int64_t>(comp[ij[0]]) * d;
    const double* z1 = coords + static_cast<std::int64_t>(comp[ij[1]]) * d;
    const double* z2 = coords + static_cast<std::int64_t>(comp[ij[2]]) * d;
    double norm2 = 0.0;
    for (int i = 0; i < d; ++i) norm2 += (x[i] - z[i]) * (x[i] - z[i]);
    if (!(norm2 > 0.0)) {
        std::copy(x, x + d, y);
        return -std::numeric_limits<double>::infinity();
    }
    // Move along the line through z and x by gamma times the projection of z1 - z2 on it.
    double proj = 0.0;
    for (int i = 0; i < d; ++i) proj += (x[i] - z[i]) * (z1[i] - z2[i]);
    const double step_len = mv.gamma * proj / norm2;
    double dist2 = 0.0;
    for (int i = 0; i < d; ++i) {
        y[i] = x[i] + step_len * (x[i] - z[i]);
        dist2 += (y[i] - z[i]) * (y[i] - z[i]);
    }
    return 0.5 * (d - 1) * (std::log(dist2) - std::log(norm2));
}

[[noreturn]] __attribute__((noinline, cold)) void bad_log_prob(double lp, int k, std::uint64_t step) {
    throw InvalidArgument("log_prob returned " + std::string(std::isnan(lp) ? "NaN" : "+inf") + " for walker " +
                          std::to_string(k) + " at step " + std::to_string(step) +
                          " (return -inf for points outside the support)");
}

// Inline: called for every walker every step; the message is built out of line.
inline void check_log_prob(double lp, int k, std::uint64_t step) {
    if (std::isnan(lp) || lp == std::numeric_limits<double>::infinity()) bad_log_prob(lp, k, step);
}

}  // namespace

void check_spec(const EnsembleSpec& spec) {
    const char* where = "EnsembleSampler";
    require(spec.ndim >= 1, where, "ndim must be >= 1, got " + std::to_string(spec.ndim));
    require(!spec.moves.empty(), where, "at least one move is needed");
    double total = 0.0;
    for (const auto& mv : spec.moves) {
        require(std::isfinite(mv.weight) && mv.weight > 0.0, where, "move weights must be finite and > 0");
        total += mv.weight;
        const int need = min_complement(mv.kind);
        require(spec.nwalkers / 2 >= need, where,
                "this move needs at least " + std::to_string(2 * need) + " walkers, got " +
                    std::to_string(spec.nwalkers));
        switch (mv.kind) {
            case MoveKind::Stretch:
                require(std::isfinite(mv.a) && mv.a > 1.0, where, "StretchMove a must be > 1");
                break;
            case MoveKind::DifferentialEvolution:
                require(std::isfinite(mv.gamma0), where, "DEMove gamma0 must be finite");
                require(std::isfinite(mv.sigma) && mv.sigma >= 0.0, where, "DEMove sigma must be >= 0");
                break;
            case MoveKind::Snooker:
                require(std::isfinite(mv.gamma) && mv.gamma > 0.0, where, "DESnookerMove gammas must be > 0");
                break;
        }
    }
    require(std::isfinite(total), where, "move weights must sum to a finite number");
}

void run_ensemble(const EnsembleSpec& spec, const EnsembleState& st, const ChainStore& store, std::int64_t n_steps,
                  const Target* target, const BatchLogProb& batch, int n_threads) {
    check_spec(spec);
    const char* where = "run_ensemble";
    require(n_steps >= 0, where, "n_steps must be >= 0");
    require(target != nullptr || static_cast<bool>(batch), where, "need a target or a batch log_prob");
    require(target == nullptr || target->dim() == spec.ndim, where, "the target's dimension differs from ndim");
    require(store.thin >= 1, where, "thin must be >= 1");
    require(st.counters[0] >= 0 && st.counters[0] + n_steps < (std::int64_t{1} << 32), where,
            "at most 2**32 - 1 steps per chain");

    if (store.chain != nullptr) {
        // Rows this call stores: steps i in (c0, c0 + n_steps] with (i - origin) % thin == 0.
        const auto below = [&](std::int64_t i) {
            const std::int64_t r = i - store.origin;
            return r >= 0 ? r / store.thin : -((-r + store.thin - 1) / store.thin);
        };
        const std::int64_t rows = below(st.counters[0] + n_steps) - below(st.counters[0]);
        require(st.counters[1] + rows <= store.capacity, where, "the chain store has no room for this run");
    }
    const int nw = spec.nwalkers, d = spec.ndim;
    const auto nwd = static_cast<std::size_t>(nw) * static_cast<std::size_t>(d);
    double total_weight = 0.0;
    for (const auto& mv : spec.moves) total_weight += mv.weight;
    const Key key{static_cast<std::uint32_t>(spec.seed), static_cast<std::uint32_t>(spec.seed >> 32)};
    const auto tag_of = [&](Stream s) { return (static_cast<std::uint32_t>(s) << 24) | (spec.chain & 0xFFFFFFu); };
    const std::uint32_t walker_tag = tag_of(Stream::McmcStretch), split_tag = tag_of(Stream::McmcSplit);

    const int h0 = (nw + 1) / 2;
    const auto uh0 = static_cast<std::size_t>(h0);
    std::vector<int> perm(static_cast<std::size_t>(nw));
    std::vector<std::uint32_t> words(4 * static_cast<std::size_t>(nw)), split_words(4 * static_cast<std::size_t>(nw / 4 + 1));
    // What the first half-step changed, to undo if the second half-step throws (a NaN density, a
    // Python exception): the walkers it moved and their old positions and densities. (Copying
    // the whole state every step instead cost 8% of a 10-D Gaussian run.)
    std::vector<int> moved;
    std::vector<double> old_coords(uh0 * static_cast<std::size_t>(d)), old_lp(uh0);
    moved.reserve(uh0);
    std::vector<double> ys(uh0 * static_cast<std::size_t>(d)), lp_new(uh0);
    // 64-byte aligned: Eigen computes an unaligned array's head with scalar std::log (it peels to
    // the first aligned element), which cost 5% of a 10-D Gaussian run.
    std::vector<double, Eigen::aligned_allocator<double>> lf(uh0), lu(uh0);

    // Expensive targets: one row per task, spread over the threads. Cheap ones: fixed blocks of
    // rows through log_prob_batch on this thread. The choice depends on the problem only, never
    // on the thread count, so results do not either.
    constexpr std::int64_t kBlock = 32;
    const bool per_row = target != nullptr && target->cost() * (nw / 2) >= kMinParallelFlops;
    const int nt = per_row && target->thread_safe() ? resolve_threads(n_threads) : 1;

    for (std::int64_t s = 0; s < n_steps; ++s) {
        const auto t = static_cast<std::uint64_t>(st.counters[0]);
        const auto t32 = static_cast<std::uint32_t>(t);
        moved.clear();
        try {
            // This step's random words: four per walker, and nw for the move and the split.
            philox4x32_blocks(key, 0u, 0u, t32, walker_tag, nw, words.data());
            philox4x32_blocks(key, 0u, 0u, t32, split_tag, nw / 4 + 1, split_words.data());
            const Move* mv = &spec.moves.front();
            if (spec.moves.size() > 1) {
                double u = (split_words[0] + 0.5) * 0x1.0p-32 * total_weight;
                for (const auto& m : spec.moves) {
                    mv = &m;
                    if (u < m.weight) break;
                    u -= m.weight;
                }
            }
            std::iota(perm.begin(), perm.end(), 0);
            if (spec.randomize_split) {
                for (int i = nw - 1; i > 0; --i) {
                    const auto j = (static_cast<std::uint64_t>(split_words[static_cast<std::size_t>(i)]) *
                                    static_cast<std::uint64_t>(i + 1)) >> 32;
                    std::swap(perm[static_cast<std::size_t>(i)], perm[static_cast<std::size_t>(j)]);
                }
            } else {
                // Even walkers first, then odd (Goodman & Weare's fixed split).
                std::stable_partition(perm.begin(), perm.end(), [](int w) { return w % 2 == 0; });
            }
            const bool stretch = mv->kind == MoveKind::Stretch;
            for (int h = 0; h < 2; ++h) {
                const int* active = perm.data() + (h == 0 ? 0 : h0);
                const int n_active = h == 0 ? h0 : nw - h0;
                const int* comp = perm.data() + (h == 0 ? h0 : 0);
                const auto nc = static_cast<std::uint32_t>(nw - n_active);
                for (int i = 0; i < n_active; ++i) {
                    const int k = active[i];
                    const std::uint32_t* r = words.data() + 4 * static_cast<std::size_t>(k);
                    const auto ui = static_cast<std::size_t>(i);
                    lf[ui] = propose(*mv, st.coords, d, k, comp, nc, r, spec.seed, t32, spec.chain,
                                     ys.data() + std::int64_t{i} * d);
                    lu[ui] = u01_open_open(r[2], r[3]);
                }
                Eigen::Map<Eigen::ArrayXd, Eigen::Aligned64> lfa(lf.data(), n_active), lua(lu.data(), n_active);
                if (stretch) lfa = double(d - 1) * lfa.log();
                lua = lua.log();
                if (per_row) {
                    parallel_for(0, n_active, nt, [&](std::int64_t i) {
                        lp_new[static_cast<std::size_t>(i)] = target->log_prob(ys.data() + i * d);
                    });
                } else if (target != nullptr) {
                    for (std::int64_t i0 = 0; i0 < n_active; i0 += kBlock)
                        target->log_prob_batch(ys.data() + i0 * d, std::min<std::int64_t>(kBlock, n_active - i0),
                                               lp_new.data() + i0);
                } else {
                    batch(ys.data(), n_active, lp_new.data());
                }
                // Every density checked before any walker moves: a throw leaves this half as it was.
                for (int i = 0; i < n_active; ++i) {
                    const auto ui = static_cast<std::size_t>(i);
                    if (!(std::isinf(lf[ui]) && lf[ui] < 0)) check_log_prob(lp_new[ui], active[i], t);
                }
                for (int i = 0; i < n_active; ++i) {
                    const auto ui = static_cast<std::size_t>(i);
                    const int k = active[i];
                    // -inf: rejected without a density (lu < -inf + ... is false).
                    if (!(lu[ui] < lf[ui] + lp_new[ui] - st.log_prob[k])) continue;
                    double* xk = st.coords + static_cast<std::int64_t>(k) * d;
                    if (h == 0) {
                        std::copy_n(xk, d, old_coords.data() + moved.size() * static_cast<std::size_t>(d));
                        old_lp[moved.size()] = st.log_prob[k];
                        moved.push_back(k);
                    }
                    std::copy_n(ys.data() + std::int64_t{i} * d, d, xk);
                    st.log_prob[k] = lp_new[ui];
                    ++st.accepted[k];
                }
            }
        } catch (...) {
            for (std::size_t m = 0; m < moved.size(); ++m) {
                const int k = moved[m];
                std::copy_n(old_coords.data() + m * static_cast<std::size_t>(d), d,
                            st.coords + static_cast<std::int64_t>(k) * d);
                st.log_prob[k] = old_lp[m];
                --st.accepted[k];
            }
            throw;
        }
        st.counters[0] = static_cast<std::int64_t>(t + 1);
        if (store.chain != nullptr && (st.counters[0] - store.origin) % store.thin == 0) {
            const std::int64_t row = st.counters[1];
            std::memcpy(store.chain + row * static_cast<std::int64_t>(nwd), st.coords, nwd * sizeof(double));
            std::memcpy(store.log_prob + row * nw, st.log_prob, static_cast<std::size_t>(nw) * sizeof(double));
            st.counters[1] = row + 1;
        }
    }
}

}  // namespace mlsci::mcmc
