// ReaxFF (A. C. T. van Duin et al., J. Phys. Chem. A 105, 9396 (2001); K. Chenoweth et al.,
// J. Phys. Chem. A 112, 1040 (2008)) as LAMMPS's pair_style reaxff computes it, in LAMMPS's
// "real" units (kcal/mol, Å): bond orders with the over-coordination and 1-3 corrections, the
// bond energy with the terminal triple-bond stabilisation, the lone-pair, over/under-
// coordination, valence-angle (angle, penalty, coalition), torsion, four-body conjugation,
// hydrogen-bond, van der Waals and Coulomb energies, their analytic forces, and charge
// equilibration.
#pragma once

#include <cstdint>
#include <vector>

#include "mlsci/forcefield/forcefield.hpp"

namespace mlsci::forcefield::reaxff {

// Per-type values (row t of a n_types x kAtomFields table).
enum AtomField : int {
    kRs = 0,       // sigma covalent radius r_s (a bond order's sigma term is off when <= 0)
    kRpi,          // pi radius
    kRpipi,        // double-pi radius
    kValency,      // valency (Delta' = total bond order' - valency)
    kValencyVal,   // valency_val as LAMMPS uses it (valency_boc for elements lighter than 21 u)
    kMass,         // atomic mass (C-O pairs get the triple-bond term)
    kValencyE,     // valency_e (lone pairs)
    kPlp2,         // p_lp2 (lone-pair energy)
    kPovun2,       // p_ovun2 (over/under-coordination)
    kPovun5,       // p_ovun5 (under-coordination)
    kIsCarbon,     // 1 for the element C (LAMMPS's C2 correction), else 0
    kValencyBoc,   // valency_boc (valence angles)
    kPval3,        // p_val3 (valence angles)
    kPval5,        // p_val5 (valence angles)
    kPhbond,       // p_hbond: 1 hydrogen, 2 donor/acceptor, else 0
    kChi,          // electronegativity chi (eV)
    kEta,          // hardness: twice the file's eta, as LAMMPS keeps it (eV)
    kAtomFields
};

// Per ordered type pair (row i * n_types + j of a n_types^2 x kPairFields table), mixed and
// overridden by the off-diagonal section as LAMMPS does.
enum PairField : int {
    kPRs = 0, kPRp, kPRpp,
    kPbo1, kPbo2, kPbo3, kPbo4, kPbo5, kPbo6,
    kDeS, kDeP, kDePP, kPbe1, kPbe2,
    kV13cor, kOvc, kPboc3, kPboc4, kPboc5, kPovun1,
    kDvdw, kAlphaVdw, kRvdw, kGammaW, kGammaShield, kRcore, kEcore, kAcore, kLgcij, kLgre,
    kPairFields
};

// General parameters used here (0-based positions in the ffield's general section).
constexpr int kGeneralNeeded = 39;

// Valence-angle parameter sets of a type triple (i, j, k), j the centre: up to kMaxAngleSets
// (a file may give one triple several; LAMMPS sums their energies), each kAngleValues values
// theta_00, p_val1, p_val2, p_coa1, p_val7, p_pen1, p_val4, the set's count first.
constexpr int kMaxAngleSets = 5;
constexpr int kAngleValues = 7;
constexpr int kAngleStride = 1 + kMaxAngleSets * kAngleValues;

// Torsion parameters of a type quadruple (i, j, k, l), j-k the central bond, after LAMMPS's
// wildcard rules: a flag (0: no torsion), V1, V2, V3, p_tor1, p_cot1.
constexpr int kTorsionStride = 6;

// Hydrogen-bond parameters of a (donor, hydrogen, acceptor) type triple: r0_hb (<= 0: none),
// p_hb1, p_hb2, p_hb3.
constexpr int kHbondStride = 4;

struct Tables {
    int n_types = 0;
    const double* general = nullptr;  // kGeneralNeeded values
    const double* atom = nullptr;     // n_types x kAtomFields
    const double* pair = nullptr;     // n_types^2 x kPairFields
    const double* angle = nullptr;    // n_types^3 x kAngleStride, index (i * n + j) * n + k
    const double* torsion = nullptr;  // n_types^4 x kTorsionStride, index ((i * n + j) * n + k) * n + l
    const double* hbond = nullptr;    // n_types^3 x kHbondStride, index (i * n + j) * n + k
    int vdw_type = 1;                 // 1 shielded, 2 inner wall, 3 both (LAMMPS's, from the file's atoms)
    bool lg = false;                  // the low-gradient dispersion correction (lgvdw yes)
};

// The bonds of one structure: every ordered pair (i, neighbour entry p) within bond_cut whose
// uncorrected bond order reaches the cut-off 0.01 * general[29]; their corrected bond orders;
// each atom's total bond order. The uncorrected orders (bo_u with the cut-off subtracted, as
// LAMMPS keeps them, its sigma part s_u likewise) and their per-atom sums stay for the forces.
struct Bonds {
    std::vector<std::int32_t> atom;     // i, within the structure
    std::vector<std::int64_t> entry;    // the Dataset neighbour entry p (its owner is j)
    std::vector<double> bo, bo_s, bo_pi, bo_pi2;
    std::vector<double> u_bo, u_s, u_pi, u_pi2;
    std::vector<double> total_bo;       // per atom
    std::vector<double> total_u;        // per atom: the sum of its rows' u_bo
    std::vector<std::size_t> first;     // per atom + 1: atom i's rows are [first[i], first[i + 1])
};

// LAMMPS's energy components (compute pair reaxff), kcal/mol: bonds with the triple-bond term
// (eb), over/under-coordination (ea), lone pairs with the C2 correction (elp), valence angles
// (ev), penalty (epen), coalition (ecoa), hydrogen bonds (ehb), torsion (et), four-body
// conjugation (eco), van der Waals (ew), Coulomb (ep) and the charges' polarisation (eqeq).
struct Terms {
    double eb = 0.0, ea = 0.0, elp = 0.0, ev = 0.0, epen = 0.0, ecoa = 0.0, ehb = 0.0, et = 0.0, eco = 0.0,
           ew = 0.0, ep = 0.0, eqeq = 0.0;
    double total() const { return eb + ea + elp + ev + epen + ecoa + ehb + et + eco + ew + ep + eqeq; }
};

// Throws InvalidArgument when the tables cannot be evaluated (non-finite values, radii or
// exponents that make a bond order undefined).
void check_tables(const Tables& t);

// Throws InvalidArgument naming the atoms when two (or an atom and an image) are closer than
// kMinDistance: no force field term is meaningful there, and QEq's matrix can lose definiteness.
constexpr double kMinDistance = 0.1;  // Å
void check_structure(const Dataset& data, std::int64_t structure);

// The bond orders of structure s (with LAMMPS's default three-body cut-off 0.001 for angles and
// torsions applied by the terms that use them).
void bonds(const Dataset& data, std::int64_t structure, const Tables& t, double bond_cut, Bonds& out);

// Every energy term of structure s for the given charges (e), the bond orders into `bonds`, and,
// when forces is not null, the force on every atom (kcal/mol/Å, n_atoms x 3): the exact
// negative gradient of the energy at fixed charges. With equilibrated charges that is the force
// LAMMPS reports too (fix qeq/reaxff adds no dq/dx term). The hydrogen bonds reach hbond_cut
// (LAMMPS's default 7.5 Å), the non-bonded terms the taper radius general[12], both at most the
// dataset's cut-off.
Terms evaluate(const Dataset& data, std::int64_t structure, const Tables& t, const double* charges, double bond_cut,
               double hbond_cut, Bonds& bonds, double* forces);

// A population of parameter sets over every structure of the dataset: each (set k, structure s)
// is one task with its own outputs, so any thread count gives the same bits. charges: given per
// atom (n_atoms_total), or null to equilibrate them for every (set, structure) (qeq_tolerance as
// for qeq_charges). Outputs, row k
// for set k: energies and force_sse (n_sets x n_structures; force_sse the sum of squared force
// component errors against ref_forces where want_forces[s], else 0), and when not null forces
// (n_sets x n_atoms_total x 3, every structure) and charges_out (n_sets x n_atoms_total).
// A set the kernels refuse is named: "individual k: ...".
void evaluate_population(const Dataset& data, const Tables* sets, std::int64_t n_sets, const double* charges,
                         double qeq_tolerance, double bond_cut, double hbond_cut, const std::uint8_t* want_forces,
                         const double* ref_forces, double* energies, double* force_sse, double* forces,
                         double* charges_out, int n_threads);

// Charges (e) by charge equilibration as LAMMPS's fix qeq/reaxff defines it: minimise
// sum chi q + eta/2 q^2 + tapered shielded Coulomb (14.4 eV Å/e^2 / (r^3 + gamma_ij)^(1/3), summed
// over periodic images within the taper radius) at zero total charge, by solving H s = -chi,
// H t = -1 and q = s - t sum(s)/sum(t). tolerance 0: exactly (a Cholesky factorisation of the
// dense H) up to kQeqDenseMax atoms, above that by conjugate gradients to 1e-12; tolerance > 0:
// by conjugate gradients with the diagonal preconditioner to LAMMPS's criterion
// sqrt(r . M^-1 r) / |b| <= tolerance, on the sparse H (memory linear in the pairs).
// Throws InvalidArgument when H is not positive definite (hardness too small for the geometry)
// or CG does not converge in kQeqMaxIterations.
constexpr std::int64_t kQeqDenseMax = 3000;  // 72 MB of matrix
constexpr int kQeqMaxIterations = 2000;
std::vector<double> qeq_charges(const Dataset& data, std::int64_t structure, const Tables& t, double tolerance = 0.0);

}  // namespace mlsci::forcefield::reaxff
