// Global optimisation of atomic clusters: a Deaven–Ho cut-and-splice genetic algorithm whose
// every child is relaxed to its local minimum (Deaven & Ho 1995, PRL 75:288; Deaven, Tit, Morris
// & Ho 1996, CPL 256:195), with a limited-memory BFGS quench (Liu & Nocedal 1989, Math. Prog.
// 45:503). Children are made and relaxed in parallel; every random number is a function of
// (seed, generation, child), so the search is the same on any number of threads.
#pragma once

#include <cstdint>
#include <vector>

#include "mlsci/ga/problems.hpp"

namespace mlsci::ga {

struct LbfgsResult {
    double f = 0.0;
    int iterations = 0;
    int evaluations = 0;
    bool converged = false;
};

// Minimises problem from x (overwritten with the minimiser) until the largest gradient component
// is below gtol or max_iter iterations; m is the number of correction pairs kept.
LbfgsResult lbfgs(const Problem& problem, double* x, double gtol, int max_iter, int m = 10);

struct ClusterSearchConfig {
    int n_atoms = 0;
    int population_size = 30;
    int n_children = 16;           // children relaxed per generation (in parallel)
    double mutation_prob = 0.1;    // probability that a child is also mutated
    std::int64_t max_relaxations = 20000;
    double target = -1e300;        // stop once the best energy is within energy_tol of this
    double energy_tol = 1e-4;      // also: energies closer than this count as the same structure
    double gtol = 1e-5;            // relaxation convergence (largest force component)
    std::uint64_t seed = 0;
};

// The search state: population of relaxed clusters (positions (P, 3n), energies (P)) and counters.
struct ClusterState {
    double* positions = nullptr;
    double* energies = nullptr;
    std::int64_t* counters = nullptr;  // [0] generation, [1] relaxations done
};

// Random initial clusters in a sphere at liquid-like density, relaxed (generation 0).
void cluster_init(const ClusterSearchConfig& cfg, const ClusterState& st, const Problem& lj, int n_threads);

// Runs generations until max_relaxations, the target, or n_generations more generations.
// best_trace (capacity entries, may be null) receives the best energy after each generation.
void cluster_run(const ClusterSearchConfig& cfg, const ClusterState& st, const Problem& lj, std::int64_t n_generations,
                 double* best_trace, std::int64_t capacity, int n_threads);

}  // namespace mlsci::ga
