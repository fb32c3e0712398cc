// A real-coded genetic algorithm with islands: selection, variation and survival of whole
// generations in C++.
//
// Operators: tournament, linear-rank and roulette selection; simulated binary crossover (SBX,
// Deb & Agrawal 1995, Complex Systems 9:115, in the bounded form of Deb's NSGA-II code), blend
// crossover BLX-alpha (Eshelman & Schaffer 1993) and uniform crossover; bounded polynomial
// mutation (Deb & Goyal 1996) and Gaussian mutation; generational survival with elitism, or
// (mu + lambda). Islands evolve independently and pass their best to the next island in a ring
// every migration_interval generations (Whitley, Rana & Heckendorn 1999).
//
// Every random number is a function of (seed, generation, pair or child, island), so a run
// gives the same populations on any number of threads, and a run resumed from its state equals
// one that never stopped.
#pragma once

#include <cstdint>
#include <vector>

#include "mlsci/ga/problems.hpp"

namespace mlsci::ga {

enum class Selection : int { Tournament = 0, Rank = 1, Roulette = 2 };
enum class Crossover : int { Sbx = 0, Blend = 1, Uniform = 2, Order = 3 };
enum class Mutation : int { Polynomial = 0, Gaussian = 1, Inversion = 2, Swap = 3 };
// Real genes; integers (real operators, then rounded into the bounds); or permutations of
// 0..dim-1 (order crossover, Davis 1985; inversion or swap mutation).
enum class Genome : int { Real = 0, Integer = 1, Permutation = 2 };
enum class Survival : int { Elitist = 0, MuPlusLambda = 1 };

struct Config {
    int pop_size = 100;  // per island
    int dim = 0;
    int islands = 1;
    Genome genome = Genome::Real;
    Selection selection = Selection::Tournament;
    int tournament_size = 2;
    Crossover crossover = Crossover::Sbx;
    double crossover_prob = 0.9;  // per pair
    double eta_c = 15.0;          // SBX distribution index
    double blend_alpha = 0.5;     // BLX-alpha
    Mutation mutation = Mutation::Polynomial;
    double mutation_prob = -1.0;  // per gene; < 0 means 1 / dim (permutations: per child, < 0 means 0.2)
    double eta_m = 20.0;          // polynomial mutation distribution index
    double sigma = 0.1;           // Gaussian mutation, as a fraction of each gene's range
    Survival survival = Survival::Elitist;
    int elitism = 1;              // Elitist: the best parents that replace the worst children
    int migration_interval = 0;   // 0: islands never exchange
    int n_migrants = 1;
    std::vector<double> lower, upper;
    std::uint64_t seed = 0;
    // The island index of this state's first island in the random-number keys: a state holding
    // island i of a run alone (islands = 1, island_offset = i) draws exactly what island i draws
    // in the whole run, so islands can evolve apart (on Dask workers) and give the same result.
    int island_offset = 0;
};

// The run's state: islands x pop_size individuals, updated a whole generation at a time.
struct State {
    double* population = nullptr;  // (islands * pop_size, dim)
    double* fitness = nullptr;     // (islands * pop_size)
    double* best_x = nullptr;      // (dim) best ever
    double* best_f = nullptr;      // (1)
    std::int64_t* counters = nullptr;  // [0] generations done, [1] evaluations
};

// Per-generation statistics over all islands, row = generation (0 = the initial population).
struct History {
    std::int64_t capacity = 0;
    double* best = nullptr;  // best fitness in the population
    double* mean = nullptr;
    double* std = nullptr;
};

void check_config(const Config& cfg);

// Children of the current population for generation counters[0] + 1, into offspring (same shape).
void make_offspring(const Config& cfg, const State& st, double* offspring, int n_threads);

// Replaces the population by the survivors of parents + offspring (with their fitness),
// migrates, records history row counters[0] + 1 and advances the counters. A NaN fitness is an
// error naming the generation and the child; +inf is allowed (an infeasible child).
void survive(const Config& cfg, const State& st, const double* offspring, const double* off_fitness,
             const History& hist, int n_threads);

// For a run whose islands evolved apart: with the whole population of generation `gen` in st
// (all islands, as survive left them), migrates when generation `gen` is a migration generation,
// records history row `gen` and best-ever, and sets the counters, exactly as survive would.
void record(const Config& cfg, const State& st, const History& hist, std::int64_t gen);

// Records the initial population (fitness already evaluated) in history row 0 and best-ever.
void start(const Config& cfg, const State& st, const History& hist);

// n_generations of make_offspring, evaluation by `problem` (in parallel) and survive.
void run(const Config& cfg, const State& st, const History& hist, std::int64_t n_generations, const Problem& problem,
         int n_threads);

// NSGA-II (Deb, Pratap, Agarwal & Meyarivan 2002, IEEE TEC 6:182). The selection key of an
// individual is rank + 1 / (2 + crowding distance), in (rank, rank + 1/2]: lower is better, so the tournaments of
// make_offspring compare by Pareto rank and then by crowding, as NSGA-II's do.
void nsga2_keys(const double* objectives, int n, int m, double* key);

// NSGA-II survival: per island, the best n of parents + children by non-dominated fronts, the
// last front cut by crowding distance; then migration, keys (in st.fitness) and counters. A NaN
// objective is an error naming the generation and the child.
void nsga2_survive(const Config& cfg, const State& st, double* objectives, int m, const double* offspring,
                   const double* off_objectives, int n_threads);

// Evaluates n points (rows of x) into out, in parallel when worth it.
void evaluate(const Problem& problem, const double* x, std::int64_t n, double* out, int n_threads);

}  // namespace mlsci::ga
