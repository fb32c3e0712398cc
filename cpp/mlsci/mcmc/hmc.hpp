// Single-chain MCMC with warmup adaptation: the No-U-Turn sampler (Hoffman & Gelman 2014, JMLR
// 15:1593; multinomial trajectory sampling and the generalised no-U-turn criterion of
// Betancourt 2017, arXiv:1701.02434), static-length Hamiltonian Monte Carlo (Neal 2011), and
// random-walk Metropolis with an adapted Gaussian proposal (Haario et al. 2001).
//
// Warmup follows Stan's scheme: the step size by dual averaging (Nesterov 2009, as in Hoffman &
// Gelman) toward a target acceptance statistic, the metric (inverse mass matrix, diagonal or
// dense) from the draws of doubling windows, regularised toward the identity. Chains are
// independent and run in parallel; every random number is a function of (seed, iteration,
// chain), so results do not depend on the thread count and a run continued from its state
// equals one that never stopped.
#pragma once

#include <cstdint>

#include "mlsci/mcmc/targets.hpp"

namespace mlsci::mcmc {

enum class ChainAlgorithm : int { Metropolis = 0, Hmc = 1, Nuts = 2 };

struct ChainConfig {
    ChainAlgorithm algorithm = ChainAlgorithm::Nuts;
    int ndim = 0;
    bool dense_metric = false;
    bool adapt_step_size = true;
    bool adapt_metric = true;
    double target_accept = 0.8;
    int max_tree_depth = 10;  // NUTS
    int n_leapfrog = 20;      // HMC
    // HMC: each iteration's step size is eps * exp(jitter * u), u ~ U(-1, 1), so that a fixed
    // path length cannot resonate with the target's periods (Neal 2011, section 5.4.2.2).
    double step_jitter = 0.2;
    double max_delta_h = 1000.0;  // energy error that counts as a divergence
    std::int64_t n_warmup = 1000;
    std::uint64_t seed = 0;
};

// Number of adaptation scalars per chain in ChainState::adapt.
constexpr int kAdaptSize = 6;
// adapt[c * kAdaptSize + ...]:
enum AdaptSlot : int { LogEps = 0, LogEpsBar = 1, HBar = 2, Mu = 3, DaCount = 4, WelfordCount = 5 };

// The state of n chains (row c belongs to chain c), updated in place one whole iteration at a
// time: an exception thrown by the target leaves every chain at a completed iteration.
struct ChainState {
    double* x = nullptr;       // (n, d) position
    double* lp = nullptr;      // (n) log density at x
    double* grad = nullptr;    // (n, d) its gradient (unused by Metropolis)
    double* adapt = nullptr;   // (n, kAdaptSize)
    double* metric = nullptr;  // (n, d) or (n, d, d): the inverse metric, a covariance
    double* w_mean = nullptr;  // (n, d) Welford mean of the current window
    double* w_m2 = nullptr;    // (n, d) or (n, d, d) Welford sum of squares
    std::int64_t* iteration = nullptr;  // (n) iterations done (warmup included)
};

// Per-iteration output, row = iteration (warmup included), for n chains of `capacity` rows.
struct ChainTrace {
    std::int64_t capacity = 0;
    double* draws = nullptr;      // (n, capacity, d)
    double* lp = nullptr;         // (n, capacity)
    double* accept = nullptr;     // (n, capacity) acceptance statistic
    double* step_size = nullptr;  // (n, capacity)
    double* energy = nullptr;     // (n, capacity) Hamiltonian after the momentum refresh (HMC/NUTS)
    std::int32_t* n_steps = nullptr;    // (n, capacity) leapfrog steps (1 for Metropolis)
    std::int32_t* tree_depth = nullptr; // (n, capacity) NUTS tree depth
    std::int8_t* divergent = nullptr;   // (n, capacity)
};

// Sets lp, grad and the adaptation state of chains whose x is already filled; initial step size
// `step_size` (<= 0: 1 for HMC/NUTS, found by Stan's heuristic at the first iteration;
// 2.38 / sqrt(d) for Metropolis) and the metric already in `metric`. Throws InvalidArgument
// naming the chain if log p(x) is not finite there.
void init_chains(const ChainConfig& cfg, const ChainState& st, int n_chains, double step_size, const Target& target);

// Advances each chain to `until` iterations (chains already there are left alone). Chains get
// ids first_chain + c for their random numbers, so a chain run alone (on a Dask worker, say)
// equals the same chain run among others.
void run_chains(const ChainConfig& cfg, const ChainState& st, const ChainTrace& trace, int n_chains,
                std::uint32_t first_chain, std::int64_t until, const Target& target, int n_threads);

}  // namespace mlsci::mcmc
