// Replica exchange on top of run_sweeps: see tempering.hpp.
#include "mlsci/ising/tempering.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "mlsci/common/error.hpp"
#include "mlsci/common/parallel.hpp"
#include "mlsci/common/rng.hpp"

namespace mlsci::ising {

TemperingResult parallel_tempering(const TemperingState& st, const Model& model, const double* betas, int n_replicas,
                                   Update update, std::uint64_t seed, std::uint64_t first_round, std::int64_t n_rounds,
                                   std::int64_t sweeps_per_round, double* energy, double* magnetization, int n_threads,
                                   const StopCheck& stop) {
    const char* where = "parallel_tempering";
    check_model(model, where);
    const int R = n_replicas;
    require(R >= 2, where, "need at least 2 temperatures, got " + std::to_string(R));
    require(R < (1 << 24), where, "too many replicas");
    require(n_rounds >= 0 && sweeps_per_round >= 1, where, "need n_rounds >= 0 and sweeps_per_round >= 1");
    require((first_round + static_cast<std::uint64_t>(n_rounds)) * static_cast<std::uint64_t>(sweeps_per_round) <=
                (std::uint64_t{1} << 31),
            where, "at most 2^31 sweeps per lattice");
    for (int t = 0; t < R; ++t)
        require(std::isfinite(betas[t]) && betas[t] > 0.0, where, "every beta must be finite and > 0");
    std::vector<char> seen(static_cast<std::size_t>(R), 0);
    for (int t = 0; t < R; ++t) {
        const std::int32_t r = st.lattice_at[t];
        require(r >= 0 && r < R && !seen[static_cast<std::size_t>(r)], where, "lattice_at must be a permutation");
        seen[static_cast<std::size_t>(r)] = 1;
    }
    const Index N = n_sites(model);
    // Small lattices: one lattice per task (a sweep of a few thousand sites cannot use two
    // threads well). Large ones: the lattices in turn, each on all threads.
    const bool per_lattice = N < 128 * 128;
    std::vector<double> e(static_cast<std::size_t>(R)), mag(static_cast<std::size_t>(R));
    TemperingResult res;
    for (std::int64_t k = 0; k < n_rounds; ++k) {
        const std::uint64_t round = first_round + static_cast<std::uint64_t>(k);
        const std::uint64_t first_sweep = round * static_cast<std::uint64_t>(sweeps_per_round);
        const auto sweep_slot = [&](std::int64_t t, int threads) {
            const std::int32_t r = st.lattice_at[t];
            Model m = model;
            m.beta = betas[t];
            std::int8_t* s = st.spins + static_cast<Index>(r) * N;
            double unused_e = 0.0, unused_m = 0.0;
            run_sweeps(s, m, update, seed, static_cast<std::uint32_t>(r), first_sweep, sweeps_per_round,
                       sweeps_per_round, first_sweep + static_cast<std::uint64_t>(sweeps_per_round), &unused_e,
                       &unused_m, threads);
            observables(s, m, e[static_cast<std::size_t>(t)], mag[static_cast<std::size_t>(t)], threads);
        };
        if (per_lattice) {
            parallel_for(0, R, n_threads, [&](std::int64_t t) { sweep_slot(t, 1); });
        } else {
            for (int t = 0; t < R; ++t) sweep_slot(t, n_threads);
        }
        for (int t = static_cast<int>(round % 2); t + 1 < R; t += 2) {
            // Swap the configurations of slots t and t + 1 with probability
            // min(1, exp((beta_t - beta_t+1) (E_t - E_t+1))), E the total energies.
            const double delta = (betas[t] - betas[t + 1]) * (e[static_cast<std::size_t>(t)] - e[static_cast<std::size_t>(t + 1)]) *
                                 static_cast<double>(N);
            Philox rng(seed, Stream::IsingTempering, static_cast<std::uint32_t>(round), static_cast<std::uint32_t>(t));
            const bool swap = delta >= 0.0 || rng.uniform() < std::exp(delta);
            ++st.attempts[t];
            if (swap) {
                ++st.accepted[t];
                std::swap(st.lattice_at[t], st.lattice_at[t + 1]);
                std::swap(e[static_cast<std::size_t>(t)], e[static_cast<std::size_t>(t + 1)]);
                std::swap(mag[static_cast<std::size_t>(t)], mag[static_cast<std::size_t>(t + 1)]);
            }
        }
        for (int t = 0; t < R; ++t) {
            energy[k * R + t] = e[static_cast<std::size_t>(t)];
            magnetization[k * R + t] = mag[static_cast<std::size_t>(t)];
        }
        res.rounds = k + 1;
        if (stop && stop()) {
            res.stopped = true;
            break;
        }
    }
    return res;
}

}  // namespace mlsci::ising
