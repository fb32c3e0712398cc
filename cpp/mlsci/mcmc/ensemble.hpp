// Ensemble MCMC: the affine-invariant stretch move (Goodman & Weare 2010, CAMCoS 5:65) with the
// red/blue split of the ensemble (Foreman-Mackey et al. 2013, PASP 125:306), and the
// differential-evolution (ter Braak 2006, Stat. Comput. 16:239) and DE-snooker (ter Braak & Vrugt
// 2008, Stat. Comput. 18:435) moves.
//
// Each step updates one half of the walkers against the other half, then the other half; the
// walkers of a half are independent given the complement, so they update in parallel. Every
// random number is a function of (seed, step, walker, chain), so any thread count gives the
// same chain, and a run continued from its state equals one that never stopped.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "mlsci/mcmc/targets.hpp"

namespace mlsci::mcmc {

enum class MoveKind : int { Stretch = 0, DifferentialEvolution = 1, Snooker = 2 };

struct Move {
    MoveKind kind = MoveKind::Stretch;
    double weight = 1.0;   // probability of this move at a step (weights are normalised)
    double a = 2.0;        // stretch: z ~ g(z) ~ 1/sqrt(z) on [1/a, a]
    double gamma0 = 0.0;   // DE: step scale; <= 0 means 2.38 / sqrt(2 ndim)
    double sigma = 1e-5;   // DE: standard deviation of the per-coordinate jitter
    double gamma = 1.7;    // snooker: step scale (2.38 / sqrt(2), ter Braak & Vrugt 2008)
};

struct EnsembleSpec {
    int nwalkers = 0;
    int ndim = 0;
    std::vector<Move> moves;
    bool randomize_split = true;  // shuffle walkers into the two halves at every step (emcee's default)
    std::uint64_t seed = 0;
    std::uint32_t chain = 0;  // independent ensembles with one seed use different chain ids
};

// The sampler's state, updated in place one whole step at a time. If an evaluation throws
// (a Python log_prob raising, say), the step in progress is rolled back before rethrowing, so
// the state is always that after counters[0] complete steps.
struct EnsembleState {
    double* coords = nullptr;          // (nwalkers, ndim)
    double* log_prob = nullptr;        // (nwalkers)
    std::int64_t* accepted = nullptr;  // (nwalkers) accepted proposals so far
    std::int64_t* counters = nullptr;  // [0]: steps done (the iteration), [1]: rows stored
};

// Where the chain goes: after each step whose (iteration - origin) % thin == 0 the positions and
// log-probabilities are written to row counters[1] (which must be < capacity), then counters[1]++.
struct ChainStore {
    double* chain = nullptr;     // (capacity, nwalkers, ndim), or null: keep nothing
    double* log_prob = nullptr;  // (capacity, nwalkers)
    std::int64_t capacity = 0;
    std::int64_t thin = 1;
    std::int64_t origin = 0;
};

// Evaluates the log-densities of n points (rows of x, n x ndim) into out. Called from the
// calling thread only, so it may call into Python.
using BatchLogProb = std::function<void(const double* x, std::int64_t n, double* out)>;

// Runs n_steps steps. Exactly one of target (evaluated in C++, in parallel) and batch is used:
// target when it is not null. A NaN or +inf log-probability is an error naming the walker and step.
void run_ensemble(const EnsembleSpec& spec, const EnsembleState& state, const ChainStore& store,
                  std::int64_t n_steps, const Target* target, const BatchLogProb& batch, int n_threads);

// Checks spec (walker counts against the moves, move parameters); throws InvalidArgument.
void check_spec(const EnsembleSpec& spec);

}  // namespace mlsci::mcmc
