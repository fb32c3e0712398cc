// Bulk counter-based random numbers (mlsci_fast.random) and the raw Philox bijection for
// known-answer tests. Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11.
#pragma once

#include <cstdint>

namespace mlsci {

// out[k] for k < n: the raw Philox4x32 bijection of counters[k] (4 words) under keys[k]
// (2 words), `rounds` in {7, 10}.
void philox4x32_batch(const std::uint32_t* counters, const std::uint32_t* keys, std::uint32_t* out,
                      std::int64_t n, int rounds);

// out[i] for i < n: uniform in [0, 1) / standard normal. Element i is a pure function of
// (seed, step, i), so the result does not depend on n_threads.
void fill_uniform(std::uint64_t seed, std::uint32_t step, double* out, std::int64_t n, int n_threads);
void fill_normal(std::uint64_t seed, std::uint32_t step, double* out, std::int64_t n, int n_threads);

// out[i] = +1 where fill_uniform's element i is below 0.5, else -1: a random Ising lattice
// written directly, one byte a site.
void fill_spins(std::uint64_t seed, std::uint32_t step, std::int8_t* out, std::int64_t n, int n_threads);

}  // namespace mlsci
