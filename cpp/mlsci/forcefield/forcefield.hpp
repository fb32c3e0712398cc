// Energies and forces of interatomic potentials whose parameters are fitted (mlsci_fast.forcefield):
// the shared Dataset of structures with their neighbour lists, and the Tersoff bond-order
// potential (J. Tersoff, Phys. Rev. B 37, 6991 (1988) and 39, 5566 (1989), in the multi-element
// form and parameter layout of LAMMPS's pair_style tersoff). ReaxFF is in reaxff.hpp.
#pragma once

#include <cstdint>
#include <vector>

namespace mlsci::forcefield {

// One atomic structure as the caller holds it: types 0..n_types-1, Cartesian positions (Å),
// the cell as three row vectors (Å), periodic along the axes whose pbc flag is set.
struct StructureInput {
    int n_atoms = 0;
    const std::int32_t* types = nullptr;
    const double* positions = nullptr;  // n_atoms x 3
    const double* cell = nullptr;       // 3 x 3, rows are the cell vectors
    bool pbc[3] = {false, false, false};
};

// The structures of a training set with their neighbour lists, built once: the GA changes only
// parameters, never positions, so every evaluation reuses the lists. A neighbour is kept when it
// lies within `cutoff`, which must cover the largest cut-off any fitted parameter set can reach.
class Dataset {
public:
    Dataset(int n_types, double cutoff, const std::vector<StructureInput>& structures, int n_threads);

    int n_types() const { return n_types_; }
    double cutoff() const { return cutoff_; }
    std::int64_t n_structures() const { return static_cast<std::int64_t>(atoms_.size()) - 1; }
    std::int64_t n_atoms_total() const { return atoms_.back(); }
    std::int64_t n_atoms(std::int64_t s) const { return atoms_[s + 1] - atoms_[s]; }
    std::int64_t n_pairs() const { return static_cast<std::int64_t>(nb_atom_.size()); }

    // Atom a (global index) of structure s: its type and its neighbours [first, last) in the
    // flat lists below (owner atom index within the structure, and dx, dy, dz, r per neighbour).
    std::int64_t atom_offset(std::int64_t s) const { return atoms_[s]; }
    std::int32_t type(std::int64_t a) const { return types_[a]; }
    std::int64_t first(std::int64_t a) const { return nb_first_[a]; }
    std::int64_t last(std::int64_t a) const { return nb_first_[a + 1]; }
    std::int32_t owner(std::int64_t p) const { return nb_atom_[p]; }
    const double* geometry(std::int64_t p) const { return &nb_geom_[4 * p]; }

private:
    int n_types_;
    double cutoff_;
    std::vector<std::int64_t> atoms_;      // prefix sums of atom counts, n_structures + 1
    std::vector<std::int32_t> types_;      // per atom
    std::vector<std::int64_t> nb_first_;   // per atom + 1
    std::vector<std::int32_t> nb_atom_;    // per neighbour
    std::vector<double> nb_geom_;          // per neighbour: dx, dy, dz, r
};

enum class Model : int { Tersoff = 0 };

// Values per parameter entry: one entry per element triplet (i, j, k), index (i * n + j) * n + k,
// in the order of a LAMMPS .tersoff file:
//   m, gamma, lambda3, c, d, costheta0, n, beta, lambda2, B, R, D, lambda1, A.
constexpr int kTersoffValues = 14;
int values_per_entry(Model model);
int n_entries(Model model, int n_types);

// Throws InvalidArgument naming the entry and value when a parameter set cannot be evaluated
// (LAMMPS's own rules for Tersoff, plus: every cut-off within the dataset's).
void check_parameters(const Dataset& data, Model model, const double* params);

// Energy (eV) of every structure and, when forces is not null, the force on every atom
// (eV/Å, n_atoms_total x 3), for one parameter set.
void compute(const Dataset& data, Model model, const double* params, double* energies, double* forces,
             int n_threads);

// A GA generation: n_sets parameter sets (n_sets x n_entries x values). For each set and
// structure, the energy (n_sets x n_structures) and, for structures with want_forces[s] != 0,
// the sum over that structure's atoms of squared force-component errors against ref_forces
// (n_atoms_total x 3); 0 elsewhere. One task per (set, structure): any thread count gives the
// same bits.
void evaluate_population(const Dataset& data, Model model, const double* params, std::int64_t n_sets,
                         const std::uint8_t* want_forces, const double* ref_forces, double* energies,
                         double* force_sse, int n_threads);

}  // namespace mlsci::forcefield
