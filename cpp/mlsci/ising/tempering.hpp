// Parallel tempering (replica exchange) for the Ising model: R lattices at R temperatures, each
// round a fixed number of sweeps per lattice, then swaps of neighbouring temperatures accepted with
// min(1, exp((beta_i - beta_j)(E_i - E_j))). Swendsen & Wang, PRL 57, 2607 (1986); Hukushima &
// Nemoto, J. Phys. Soc. Jpn. 65, 1604 (1996).
#pragma once

#include <cstdint>

#include "mlsci/common/interrupt.hpp"
#include "mlsci/ising/lattice.hpp"

namespace mlsci::ising {

struct TemperingState {
    std::int8_t* spins;          // R lattices of N sites, lattice r at spins + r * N
    std::int32_t* lattice_at;    // [R] which lattice sits at temperature slot t (a permutation)
    std::int64_t* attempts;      // [R - 1] swap attempts between slots t and t + 1
    std::int64_t* accepted;      // [R - 1] accepted swaps
};

struct TemperingResult {
    std::int64_t rounds = 0;
    bool stopped = false;
};

// Rounds [first_round, first_round + n_rounds). In round k every lattice does sweeps_per_round
// sweeps (numbered k * sweeps_per_round + i, random numbers keyed by the lattice's own id, so
// each lattice's stream never repeats whichever temperature it visits) at the temperature of its
// slot; then the pairs (t, t + 1) with t = k mod 2, k mod 2 + 2, ... try to swap, each decided by
// one random number keyed by (round, t). After the swaps the energy and magnetisation per spin
// at each slot are written to energy[k' * R + t] and magnetization[k' * R + t], k' = k -
// first_round. `model.beta` is ignored: slot t runs at betas[t]. Lattices run in parallel when
// they are small, each on all threads otherwise; either way the result does not depend on
// n_threads.
TemperingResult parallel_tempering(const TemperingState& st, const Model& model, const double* betas, int n_replicas,
                                   Update update, std::uint64_t seed, std::uint64_t first_round, std::int64_t n_rounds,
                                   std::int64_t sweeps_per_round, double* energy, double* magnetization, int n_threads,
                                   const StopCheck& stop = {});

}  // namespace mlsci::ising
