// Ising model on periodic square (2-D) and simple-cubic (3-D) lattices: checkerboard Metropolis
// and heat-bath sweeps, Wolff cluster updates, and the energy and magnetisation per spin.
// Metropolis et al., J. Chem. Phys. 21, 1087 (1953); Glauber, J. Math. Phys. 4, 294 (1963);
// Wolff, Phys. Rev. Lett. 62, 361 (1989).
#pragma once

#include <cstdint>
#include <vector>

#include "mlsci/common/interrupt.hpp"
#include "mlsci/common/views.hpp"

namespace mlsci::ising {

// Wolff and Swendsen-Wang need h = 0 and J > 0. One Wolff "sweep" is one cluster flip: measuring after a fixed
// number of flips is unbiased, whereas stopping once N spins have flipped would make the
// measurement time depend on the cluster sizes and bias the samples towards order.
// One Swendsen-Wang sweep decomposes the whole lattice into clusters and flips each with
// probability 1/2 (Swendsen & Wang, Phys. Rev. Lett. 58, 86 (1987)).
// Metropolis accepts with probability exactly the double min(1, exp(-beta dE)) (random bits
// against its binary expansion, bernoulli.hpp). Multispin: the same checkerboard Metropolis with
// 64 spins per machine word (2-D, L a multiple of 128; see multispin.cpp).
enum class Update : std::uint8_t { Metropolis, HeatBath, Wolff, SwendsenWang, Multispin };

struct Model {
    int dim = 2;       // 2 or 3
    Index L = 0;       // linear size, even (the checkerboard needs it)
    double J = 1.0;    // coupling: E = -J sum_<ij> s_i s_j - h sum_i s_i
    double h = 0.0;    // field
    double beta = 1.0; // 1 / T (k_B = 1)
};

// Sites: N = L^dim, index ((z * L) + y) * L + x, spins +1 / -1 as int8.
Index n_sites(const Model& m);

// Throws InvalidArgument unless dim is 2 or 3, L is even and >= 2, and J, h, beta are finite
// with beta > 0.
void check_model(const Model& m, const char* where);

struct SweepResult {
    std::int64_t sweeps = 0;        // sweeps completed
    std::int64_t measurements = 0;  // entries written to energy / magnetization
    bool stopped = false;           // the stop callback asked to stop (after a whole sweep)
};

// Sweeps [first_sweep, first_sweep + n_sweeps): each sweep updates all even sites, then all odd
// ones. The random numbers of a half-sweep are a pure function of (seed, sweep, colour, replica),
// of fixed blocks of sites (a site, a row, a run of rows: never of which thread takes them) and
// of the lattice, so the result does not depend on n_threads, and a run continued from sweep k
// equals one that never stopped. After every sweep s with s + 1 > first_measured and
// (s + 1 - first_measured) % measure_every == 0, the energy and magnetisation per spin are
// appended to the outputs (which must have room). `stop` is polled after every sweep.
SweepResult run_sweeps(std::int8_t* spins, const Model& m, Update update, std::uint64_t seed, std::uint32_t replica,
                       std::uint64_t first_sweep, std::int64_t n_sweeps, std::int64_t measure_every,
                       std::uint64_t first_measured, double* energy, double* magnetization, int n_threads,
                       const StopCheck& stop = {});

// Heat-bath and the cluster bonds: a 32-bit uniform u means "yes" with probability p when
// u < acceptance_threshold(p); a threshold of 2^32 always accepts, so probabilities are exact to
// 2^-32.
inline std::uint64_t acceptance_threshold(double p) {
    return static_cast<std::uint64_t>((p < 0.0 ? 0.0 : (p > 1.0 ? 1.0 : p)) * 4294967296.0);
}

// One Swendsen-Wang update (sweep number `sweep`). Bonds and cluster flips draw their random
// numbers from counters keyed by the bond and by the cluster's smallest site, so the result does
// not depend on n_threads. `parent` and `bonds` are scratch, reused across sweeps.
void swendsen_wang_sweep(std::int8_t* spins, const Model& m, std::uint64_t seed, std::uint32_t replica,
                         std::uint64_t sweep, std::vector<Index>& parent, std::vector<std::uint8_t>& bonds,
                         int n_threads);

// Tests only: true makes the checkerboard and multi-spin sweeps use the scalar reference loops
// instead of the vectorised ones (the two give identical lattices).
void set_scalar_sweeps(bool scalar);
bool scalar_sweeps();

// The multi-spin-coded sweeps behind run_sweeps(Update::Multispin): the lattice is packed into
// words, swept, measured by popcounts, and unpacked at the end (also when stopped).
void check_multispin(const Model& m, const char* where);
SweepResult run_multispin(std::int8_t* spins, const Model& m, std::uint64_t seed, std::uint32_t replica,
                          std::uint64_t first_sweep, std::int64_t n_sweeps, std::int64_t measure_every,
                          std::uint64_t first_measured, double* energy, double* magnetization, int n_threads,
                          const StopCheck& stop);

// Energy and magnetisation per spin of a configuration.
void observables(const std::int8_t* spins, const Model& m, double& energy, double& magnetization, int n_threads);

}  // namespace mlsci::ising
