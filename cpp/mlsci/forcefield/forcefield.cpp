// Tersoff energies and forces over a training set (see forcefield.hpp).
#include "mlsci/forcefield/forcefield.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <string>

#include "mlsci/common/error.hpp"
#include "mlsci/common/parallel.hpp"

namespace mlsci::forcefield {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kMinDistance = 1e-4;  // Å: closer atoms are an input error, not physics

double norm3(const double* v) { return std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]); }

void cross3(const double* a, const double* b, double* out) {
    out[0] = a[1] * b[2] - a[2] * b[1];
    out[1] = a[2] * b[0] - a[0] * b[2];
    out[2] = a[0] * b[1] - a[1] * b[0];
}

struct Neighbours {
    std::vector<std::int64_t> count;  // per atom
    std::vector<std::int32_t> atom;
    std::vector<double> geom;
};

// All neighbours within `cutoff` of every atom, periodic images included, in a fixed order
// (atom, image, partner), so the lists and every sum over them are the same on any machine.
Neighbours build_neighbours(const StructureInput& s, std::int64_t index, double cutoff, int n_types) {
    const std::string where = "Dataset: structure " + std::to_string(index);
    require(s.n_atoms >= 1, where.c_str(), "has no atoms");
    for (int a = 0; a < s.n_atoms; ++a)
        require(s.types[a] >= 0 && s.types[a] < n_types, where.c_str(),
                "atom " + std::to_string(a) + " has type " + std::to_string(s.types[a]) + ", not in [0, " +
                    std::to_string(n_types) + ")");
    int reach[3] = {0, 0, 0};
    if (s.pbc[0] || s.pbc[1] || s.pbc[2]) {
        const double* a = s.cell;
        double c12[3], c20[3], c01[3];
        cross3(a + 3, a + 6, c12);
        cross3(a + 6, a, c20);
        cross3(a, a + 3, c01);
        const double volume = std::abs(a[0] * c12[0] + a[1] * c12[1] + a[2] * c12[2]);
        require(volume > 1e-9, where.c_str(), "is periodic but its cell has zero volume");
        const double* faces[3] = {c12, c20, c01};
        for (int d = 0; d < 3; ++d) {
            if (!s.pbc[d]) continue;
            const double width = volume / norm3(faces[d]);  // distance between opposite faces
            reach[d] = static_cast<int>(std::ceil(cutoff / width));
        }
    }
    Neighbours nb;
    nb.count.assign(s.n_atoms, 0);
    const double cut2 = cutoff * cutoff;
    const double* x = s.positions;
    for (int i = 0; i < s.n_atoms; ++i) {
        for (int n0 = -reach[0]; n0 <= reach[0]; ++n0)
            for (int n1 = -reach[1]; n1 <= reach[1]; ++n1)
                for (int n2 = -reach[2]; n2 <= reach[2]; ++n2) {
                    double shift[3] = {0, 0, 0};
                    for (int d = 0; d < 3; ++d)
                        shift[d] = n0 * s.cell[d] + n1 * s.cell[3 + d] + n2 * s.cell[6 + d];
                    const bool home = n0 == 0 && n1 == 0 && n2 == 0;
                    for (int j = 0; j < s.n_atoms; ++j) {
                        if (home && j == i) continue;
                        const double dx = x[3 * j] + shift[0] - x[3 * i];
                        const double dy = x[3 * j + 1] + shift[1] - x[3 * i + 1];
                        const double dz = x[3 * j + 2] + shift[2] - x[3 * i + 2];
                        const double r2 = dx * dx + dy * dy + dz * dz;
                        if (r2 >= cut2) continue;
                        const double r = std::sqrt(r2);
                        if (r < kMinDistance)
                            throw InvalidArgument(where + ": atoms " + std::to_string(i) + " and " +
                                                  std::to_string(j) + " (or its periodic image) are " +
                                                  std::to_string(r) + " Å apart");
                        ++nb.count[i];
                        nb.atom.push_back(j);
                        nb.geom.insert(nb.geom.end(), {dx, dy, dz, r});
                    }
                }
    }
    return nb;
}

// Tersoff's cosine cut-off and its derivative.
inline void cutoff_fn(double r, double R, double D, double& fc, double& dfc) {
    if (r < R - D) {
        fc = 1.0;
        dfc = 0.0;
    } else if (r > R + D) {
        fc = 0.0;
        dfc = 0.0;
    } else {
        const double t = 0.5 * kPi * (r - R) / D;
        fc = 0.5 * (1.0 - std::sin(t));
        dfc = -0.25 * kPi / D * std::cos(t);
    }
}

struct TersoffEntry {
    int m;
    double gamma, lam3, c2, d2, h, n, beta, lam2, B, R, D, lam1, A, cut;
    double big1, big2, small2, small1;  // where b(zeta) switches to its asymptotic forms
};

std::vector<TersoffEntry> tersoff_table(const double* p, int n_entries) {
    std::vector<TersoffEntry> t(n_entries);
    for (int e = 0; e < n_entries; ++e) {
        const double* v = p + e * kTersoffValues;
        TersoffEntry& q = t[e];
        q.m = static_cast<int>(v[0]);
        q.gamma = v[1];
        q.lam3 = v[2];
        q.c2 = v[3] * v[3];
        q.d2 = v[4] * v[4];
        q.h = v[5];
        q.n = v[6];
        q.beta = v[7];
        q.lam2 = v[8];
        q.B = v[9];
        q.R = v[10];
        q.D = v[11];
        q.lam1 = v[12];
        q.A = v[13];
        q.cut = q.R + q.D;
        // For (beta zeta)^n far from 1 the exact b = (1 + x^n)^(-1/2n) loses digits; its
        // two-term expansions are exact to double precision there (the thresholds LAMMPS uses).
        q.big1 = std::pow(2.0 * q.n * 1e-16, -1.0 / q.n);
        q.big2 = std::pow(2.0 * q.n * 1e-8, -1.0 / q.n);
        q.small2 = 1.0 / q.big2;
        q.small1 = 1.0 / q.big1;
    }
    return t;
}

// Bond order b(zeta) and db/dzeta.
inline void bond_order(double zeta, const TersoffEntry& q, double& b, double& db) {
    const double x = q.beta * zeta;
    if (x > q.big1) {
        b = 1.0 / std::sqrt(x);
        db = -0.5 * q.beta * std::pow(x, -1.5);
    } else if (x > q.big2) {
        const double xn = std::pow(x, -q.n);
        b = (1.0 - xn / (2.0 * q.n)) / std::sqrt(x);
        db = -0.5 * q.beta * std::pow(x, -1.5) * (1.0 - (1.0 + 1.0 / (2.0 * q.n)) * xn);
    } else if (x < q.small1) {
        b = 1.0;
        db = 0.0;
    } else if (x < q.small2) {
        b = 1.0 - std::pow(x, q.n) / (2.0 * q.n);
        db = -0.5 * q.beta * std::pow(x, q.n - 1.0);
    } else {
        const double xn = std::pow(x, q.n);
        b = std::pow(1.0 + xn, -0.5 / q.n);
        db = -0.5 * q.beta * std::pow(1.0 + xn, -0.5 / q.n - 1.0) * xn / x;
    }
}

// exp((lambda3 (rij - rik))^m) and its derivative in rij, clamped as in LAMMPS.
inline void exp_term(double delta, const TersoffEntry& q, double& ex, double& dex) {
    const double a = q.lam3 * delta;
    const double arg = q.m == 3 ? a * a * a : a;
    ex = arg > 69.0776 ? 1e30 : (arg < -69.0776 ? 0.0 : std::exp(arg));
    dex = (q.m == 3 ? 3.0 * q.lam3 * a * a : q.lam3) * ex;
}

struct KTerm {
    std::int64_t p;                   // neighbour slot of k
    double fc, dfc, g, dg, ex, dex, cos;
};

// Energy of structure s and (if F) the forces on its atoms (added into f, n_atoms x 3).
template <bool F>
double tersoff_structure(const Dataset& data, std::int64_t s, const std::vector<TersoffEntry>& tab,
                         std::vector<KTerm>& ks, double* f) {
    const int nt = data.n_types();
    const std::int64_t a0 = data.atom_offset(s), na = data.n_atoms(s);
    double energy = 0.0;
    for (std::int64_t i = 0; i < na; ++i) {
        const std::int64_t ai = a0 + i;
        const int ti = data.type(ai);
        for (std::int64_t pj = data.first(ai); pj < data.last(ai); ++pj) {
            const std::int32_t j = data.owner(pj);
            const int tj = data.type(a0 + j);
            const TersoffEntry& qij = tab[(ti * nt + tj) * nt + tj];
            const double* gj = data.geometry(pj);
            const double rij = gj[3];
            if (rij >= qij.cut) continue;
            double fc, dfc;
            cutoff_fn(rij, qij.R, qij.D, fc, dfc);
            const double u[3] = {gj[0] / rij, gj[1] / rij, gj[2] / rij};

            ks.clear();
            double zeta = 0.0;
            for (std::int64_t pk = data.first(ai); pk < data.last(ai); ++pk) {
                if (pk == pj) continue;
                const int tk = data.type(a0 + data.owner(pk));
                const TersoffEntry& q = tab[(ti * nt + tj) * nt + tk];
                const double* gk = data.geometry(pk);
                const double rik = gk[3];
                if (rik >= q.cut) continue;
                KTerm t;
                t.p = pk;
                cutoff_fn(rik, q.R, q.D, t.fc, t.dfc);
                t.cos = (u[0] * gk[0] + u[1] * gk[1] + u[2] * gk[2]) / rik;
                const double hc = q.h - t.cos;
                const double den = q.d2 + hc * hc;
                t.g = q.gamma * (1.0 + q.c2 / q.d2 - q.c2 / den);
                t.dg = -2.0 * q.gamma * q.c2 * hc / (den * den);
                exp_term(rij - rik, q, t.ex, t.dex);
                zeta += t.fc * t.g * t.ex;
                if (F) ks.push_back(t);
            }
            const double fr = qij.A * std::exp(-qij.lam1 * rij);
            const double fa = -qij.B * std::exp(-qij.lam2 * rij);
            double b, db;
            bond_order(zeta, qij, b, db);
            energy += 0.5 * fc * (fr + b * fa);
            if (!F) continue;

            // dE/d(r_ij vector) from the pair terms and from zeta's dependence on r_ij.
            const double de_dr = 0.5 * (dfc * fr - fc * qij.lam1 * fr) + 0.5 * b * (dfc * fa - fc * qij.lam2 * fa);
            const double pref = 0.5 * fc * fa * db;  // dE/dzeta
            double gij[3] = {de_dr * u[0], de_dr * u[1], de_dr * u[2]};
            double* fi = f + 3 * i;
            for (const KTerm& t : ks) {
                const double* gk = data.geometry(t.p);
                const double rik = gk[3];
                const double v[3] = {gk[0] / rik, gk[1] / rik, gk[2] / rik};
                const double aij = t.fc * t.dg * t.ex / rij;
                const double bij = t.fc * t.g * t.dex;
                const double aik = t.fc * t.dg * t.ex / rik;
                const double bik = t.dfc * t.g * t.ex - t.fc * t.g * t.dex;
                double* fk = f + 3 * data.owner(t.p);
                for (int d = 0; d < 3; ++d) {
                    gij[d] += pref * (aij * (v[d] - t.cos * u[d]) + bij * u[d]);
                    const double gik = pref * (aik * (u[d] - t.cos * v[d]) + bik * v[d]);
                    fk[d] -= gik;
                    fi[d] += gik;
                }
            }
            double* fj = f + 3 * j;
            for (int d = 0; d < 3; ++d) {
                fj[d] -= gij[d];
                fi[d] += gij[d];
            }
        }
    }
    return energy;
}

// One parameter set, ready to evaluate.
struct Evaluator {
    std::vector<TersoffEntry> tersoff;

    Evaluator(const Dataset& data, Model m, const double* params)
        : tersoff(tersoff_table(params, n_entries(m, data.n_types()))) {}

    // Energy of structure s; forces (n_atoms x 3, zeroed here) when f is not null.
    double operator()(const Dataset& data, std::int64_t s, std::vector<KTerm>& ks, double* f) const {
        if (f) std::fill(f, f + 3 * data.n_atoms(s), 0.0);
        return f ? tersoff_structure<true>(data, s, tersoff, ks, f)
                 : tersoff_structure<false>(data, s, tersoff, ks, nullptr);
    }
};

const char* const kTersoffNames[kTersoffValues] = {"m", "gamma", "lambda3", "c", "d", "costheta0", "n",
                                                   "beta", "lambda2", "B", "R", "D", "lambda1", "A"};

}  // namespace

int values_per_entry(Model model) {
    require(model == Model::Tersoff, "forcefield", "unknown model");
    return kTersoffValues;
}

int n_entries(Model model, int n_types) {
    require(model == Model::Tersoff, "forcefield", "unknown model");
    return n_types * n_types * n_types;
}

Dataset::Dataset(int n_types, double cutoff, const std::vector<StructureInput>& structures, int n_threads)
    : n_types_(n_types), cutoff_(cutoff) {
    require(n_types >= 1, "Dataset", "n_types must be >= 1, got " + std::to_string(n_types));
    require(std::isfinite(cutoff) && cutoff > 0, "Dataset", "cutoff must be a positive number of Å");
    require(!structures.empty(), "Dataset", "the training set has no structures");
    const auto ns = static_cast<std::int64_t>(structures.size());
    std::vector<Neighbours> lists(ns);
    parallel_for(0, ns, n_threads, [&](std::int64_t s) {
        lists[s] = build_neighbours(structures[s], s, cutoff, n_types);
    });
    atoms_.assign(1, 0);
    nb_first_.assign(1, 0);
    for (std::int64_t s = 0; s < ns; ++s) {
        const StructureInput& in = structures[s];
        atoms_.push_back(atoms_.back() + in.n_atoms);
        types_.insert(types_.end(), in.types, in.types + in.n_atoms);
        for (int a = 0; a < in.n_atoms; ++a) nb_first_.push_back(nb_first_.back() + lists[s].count[a]);
        nb_atom_.insert(nb_atom_.end(), lists[s].atom.begin(), lists[s].atom.end());
        nb_geom_.insert(nb_geom_.end(), lists[s].geom.begin(), lists[s].geom.end());
        lists[s] = Neighbours{};
    }
}

void check_parameters(const Dataset& data, Model model, const double* params) {
    const int ne = n_entries(model, data.n_types()), nv = values_per_entry(model);
    for (int e = 0; e < ne; ++e) {
        const double* v = params + e * nv;
        const std::string where = "parameters: entry " + std::to_string(e);
        for (int k = 0; k < nv; ++k)
            if (!std::isfinite(v[k])) throw InvalidArgument(where + ": " + kTersoffNames[k] + " is not finite");
        require(v[0] == 1.0 || v[0] == 3.0, where.c_str(), "m must be 1 or 3");
        for (int k : {1, 3, 7, 8, 9, 12, 13})
            require(v[k] >= 0.0, where.c_str(), std::string(kTersoffNames[k]) + " must be >= 0");
        require(v[4] > 0.0, where.c_str(), "d must be > 0");
        require(v[6] > 0.0, where.c_str(), "n must be > 0");
        require(v[10] > 0.0 && v[11] > 0.0 && v[11] <= v[10], where.c_str(), "needs 0 < D <= R");
        const double cut = v[10] + v[11];
        require(cut <= data.cutoff() * (1.0 + 1e-12), where.c_str(),
                "its cut-off " + std::to_string(cut) + " Å exceeds the neighbour lists' " +
                    std::to_string(data.cutoff()) + " Å; build the training set with a larger cutoff");
    }
}

void compute(const Dataset& data, Model model, const double* params, double* energies, double* forces,
             int n_threads) {
    check_parameters(data, model, params);
    const Evaluator eval(data, model, params);
    parallel_for(0, data.n_structures(), n_threads, [&](std::int64_t s) {
        thread_local std::vector<KTerm> ks;
        energies[s] = eval(data, s, ks, forces ? forces + 3 * data.atom_offset(s) : nullptr);
    });
}

void evaluate_population(const Dataset& data, Model model, const double* params, std::int64_t n_sets,
                         const std::uint8_t* want_forces, const double* ref_forces, double* energies,
                         double* force_sse, int n_threads) {
    const int per_set = n_entries(model, data.n_types()) * values_per_entry(model);
    for (std::int64_t k = 0; k < n_sets; ++k) {
        try {
            check_parameters(data, model, params + k * per_set);
        } catch (const InvalidArgument& e) {
            throw InvalidArgument("individual " + std::to_string(k) + ": " + e.what());
        }
    }
    std::vector<Evaluator> evals;
    evals.reserve(n_sets);
    for (std::int64_t k = 0; k < n_sets; ++k) evals.emplace_back(data, model, params + k * per_set);
    std::int64_t max_atoms = 0;
    for (std::int64_t s = 0; s < data.n_structures(); ++s) max_atoms = std::max(max_atoms, data.n_atoms(s));
    const std::int64_t ns = data.n_structures(), tasks = n_sets * ns;
    const int nt = resolve_threads(n_threads);
    std::exception_ptr error;
    std::atomic<bool> failed{false};
#pragma omp parallel num_threads(nt)
    {
        std::vector<double> f(3 * max_atoms);
        std::vector<KTerm> ks;
        // Costly structures (those with forces) are interleaved with cheap ones by the dynamic
        // schedule; each task writes only its own outputs, so the schedule cannot change a bit.
#pragma omp for schedule(dynamic, 4)
        for (std::int64_t t = 0; t < tasks; ++t) {
            if (failed.load(std::memory_order_relaxed)) continue;
            try {
                const std::int64_t k = t / ns, s = t % ns;
                const bool wf = want_forces[s] != 0;
                energies[t] = evals[k](data, s, ks, wf ? f.data() : nullptr);
                double sse = 0.0;
                if (wf) {
                    const double* ref = ref_forces + 3 * data.atom_offset(s);
                    for (std::int64_t c = 0; c < 3 * data.n_atoms(s); ++c) {
                        const double d = f[c] - ref[c];
                        sse += d * d;
                    }
                }
                force_sse[t] = sse;
            } catch (...) {
#pragma omp critical(mlsci_ff_error)
                if (!error) error = std::current_exception();
                failed.store(true, std::memory_order_relaxed);
            }
        }
    }
    if (error) std::rethrow_exception(error);
}

}  // namespace mlsci::forcefield
