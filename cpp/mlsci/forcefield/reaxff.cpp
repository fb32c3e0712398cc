// ReaxFF: bond orders, every energy term, its forces and charge equilibration; see reaxff.hpp.
//
// Each interaction's energy is one template over the scalar type: with double it is the
// energy, with Dual<N> (dual.hpp) also its exact derivatives with respect to the interaction's
// local inputs (bond orders, total bond orders, bond vectors). The drivers collect those as
// dE/d(corrected bond orders), dE/d(total bond order) and dE/d(positions); bond_order_gradient
// then chains the first two through the bond-order corrections and the uncorrected orders to
// the bond lengths, as LAMMPS's Add_dBond_to_Forces does with its Cdbo, Cdbopi and CdDelta.
#include "mlsci/forcefield/reaxff.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "mlsci/common/error.hpp"
#include "mlsci/common/parallel.hpp"
#include "mlsci/forcefield/dual.hpp"

namespace mlsci::forcefield::reaxff {

namespace {

constexpr double kThbCut = 0.001, kThbCutSq = 0.00001;  // LAMMPS's default three-body cut-offs

inline double sq(double x) { return x * x; }
template <class T>
T sqr(const T& x) {
    return x * x;
}
template <class T>
T dot3(const T* u, const T* v) {
    return u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
}
template <class T>
T norm3(const T* u) {
    using std::sqrt;
    return sqrt(dot3(u, u));
}

// Whether neighbour entry p of atom i is the one of its pair that pair terms use: the Dataset
// lists every pair from both ends (and an atom's own image twice, at d and -d); pair sums take
// the entry whose owner has the higher index, or for an own image the one along the positive
// direction (z, then y, then x), as the torsions order bonds.
inline bool first_of_pair(std::int64_t i, std::int64_t j, const double* d) {
    if (i != j) return i < j;
    return d[2] > 0 || (d[2] == 0 && (d[1] > 0 || (d[1] == 0 && d[0] > 0)));
}

// The structure, its tables and their lookups.
struct Ctx {
    const Dataset& data;
    const Tables& t;
    std::int64_t a0, na;
    Ctx(const Dataset& d, std::int64_t s, const Tables& tables)
        : data(d), t(tables), a0(d.atom_offset(s)), na(d.n_atoms(s)) {}
    std::ptrdiff_t type(std::int64_t local) const { return data.type(a0 + local); }
    const double* atom(std::int64_t local) const { return t.atom + type(local) * kAtomFields; }
    const double* pair(std::int64_t i, std::int64_t j) const {
        return t.pair + (type(i) * t.n_types + type(j)) * kPairFields;
    }
    std::int64_t owner(std::int64_t entry) const { return data.owner(entry); }
    std::size_t n() const { return static_cast<std::size_t>(na); }
};

// dE/d(every input) of one structure.
struct Gradient {
    std::vector<double> bo, s, pi, pi2;  // corrected bond orders, per bond row
    std::vector<double> total;           // total bond order, per atom
    std::vector<double> x;               // positions, per atom x 3
    Gradient(std::size_t rows, std::size_t atoms)
        : bo(rows), s(rows), pi(rows), pi2(rows), total(atoms), x(3 * atoms) {}
    // dE/d(the vector of neighbour entry p in atom a's list) = d[0..2]: its head is p's owner.
    void add_vector(const Ctx& c, std::int64_t a, std::int64_t p, const double* d) {
        const std::int64_t o = c.owner(p);
        for (int k = 0; k < 3; ++k) {
            x[static_cast<std::size_t>(3 * o + k)] += d[k];
            x[static_cast<std::size_t>(3 * a + k)] -= d[k];
        }
    }
};

// The cosine of the angle between u and v (clamped to [-1, 1], as LAMMPS does) and its
// derivatives with respect to u and v (zero where clamped).
struct Cosine {
    double c, du[3], dv[3];
};

Cosine cosine(const double* u, const double* v) {
    const double ru = norm3(u), rv = norm3(v), raw = dot3(u, v) / (ru * rv);
    Cosine out{};
    out.c = clamp_unit(raw);
    if (out.c == raw)
        for (int k = 0; k < 3; ++k) {
            out.du[k] = v[k] / (ru * rv) - raw * u[k] / (ru * ru);
            out.dv[k] = u[k] / (ru * rv) - raw * v[k] / (rv * rv);
        }
    return out;
}

// The dihedral angle omega of a = j->i, b = j->k, c = k->l as LAMMPS defines it (atan2 of
// -|b| a.(b x c) and (b.b)(a.c) - (a.b)(b.c)) and its derivatives with respect to a, b and c
// (zero where it is undefined: a or c along b).
struct Dihedral {
    double omega, da[3], db[3], dc[3];
};

Dihedral dihedral(const double* a, const double* b, const double* c) {
    const double bxc[3] = {b[1] * c[2] - b[2] * c[1], b[2] * c[0] - b[0] * c[2], b[0] * c[1] - b[1] * c[0]};
    const double cxa[3] = {c[1] * a[2] - c[2] * a[1], c[2] * a[0] - c[0] * a[2], c[0] * a[1] - c[1] * a[0]};
    const double axb[3] = {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
    const double ab = dot3(a, b), bc = dot3(b, c), ac = dot3(a, c), bb = dot3(b, b), rb = std::sqrt(bb);
    const double triple = dot3(a, bxc);
    const double x = -ab * bc + bb * ac, y = -rb * triple;
    Dihedral out{};
    out.omega = std::atan2(y, x);
    const double h = x * x + y * y;
    if (!(h > 0.0)) return out;
    for (int k = 0; k < 3; ++k) {
        // d x and d y with respect to a, b, c
        const double xa = -bc * b[k] + bb * c[k], xb = -ab * c[k] - bc * a[k] + 2.0 * ac * b[k],
                     xc = -ab * b[k] + bb * a[k];
        const double ya = -rb * bxc[k], yb = -b[k] / rb * triple - rb * cxa[k], yc = -rb * axb[k];
        out.da[k] = (x * ya - y * xa) / h;
        out.db[k] = (x * yb - y * xb) / h;
        out.dc[k] = (x * yc - y * xc) / h;
    }
    return out;
}

// Uncorrected bond order terms BO'_sigma (including the 1 + cut factor), BO'_pi, BO'_pipi.
template <class T>
struct Uncorrected {
    T s{0.0}, pi{0.0}, pi2{0.0};
};

template <class T>
Uncorrected<T> uncorrected(const T& r, const double* ai, const double* aj, const double* q, double bo_cut) {
    using std::exp;
    using std::pow;
    Uncorrected<T> u;
    if (ai[kRs] > 0.0 && aj[kRs] > 0.0) u.s = (1.0 + bo_cut) * exp(q[kPbo1] * pow(r / q[kPRs], q[kPbo2]));
    if (ai[kRpi] > 0.0 && aj[kRpi] > 0.0) u.pi = exp(q[kPbo3] * pow(r / q[kPRp], q[kPbo4]));
    if (ai[kRpipi] > 0.0 && aj[kRpipi] > 0.0) u.pi2 = exp(q[kPbo5] * pow(r / q[kPRpp], q[kPbo6]));
    return u;
}

// Corrected bond orders of one row from its uncorrected ones and both atoms' sums of them:
// f1 (over-coordination) and f4 f5 (1-3 bond orders). Symmetric in i and j.
template <class T>
struct Orders {
    T bo, s, pi, pi2;
};

template <class T>
Orders<T> corrected(const T& u_bo, const T& u_s, const T& u_pi, const T& u_pi2, const T& tu_i, const T& tu_j,
                    const double* ai, const double* aj, const double* q, double p_boc1, double p_boc2) {
    using std::exp;
    using std::log;
    Orders<T> o{u_bo, u_s, u_pi, u_pi2};
    if (q[kOvc] >= 0.001 || q[kV13cor] >= 0.001) {
        const T di = tu_i - ai[kValency], dj = tu_j - aj[kValency];
        T f1(1.0), f4f5(1.0);
        if (q[kOvc] >= 0.001) {
            const double vi = ai[kValency], vj = aj[kValency];
            const T f2 = exp(-p_boc1 * di) + exp(-p_boc1 * dj);
            const T f3 = -1.0 / p_boc2 * log(0.5 * (exp(-p_boc2 * di) + exp(-p_boc2 * dj)));
            f1 = 0.5 * ((vi + f2) / (vi + f2 + f3) + (vj + f2) / (vj + f2 + f3));
        }
        if (q[kV13cor] >= 0.001) {
            const T x = q[kPboc4] * sqr(u_bo);
            const T f4 = 1.0 / (1.0 + exp(-(x - (tu_i - ai[kValencyVal])) * q[kPboc3] + q[kPboc5]));
            const T f5 = 1.0 / (1.0 + exp(-(x - (tu_j - aj[kValencyVal])) * q[kPboc3] + q[kPboc5]));
            f4f5 = f4 * f5;
        }
        const T a0f = f1 * f4f5;
        o.bo = u_bo * a0f;
        o.pi = u_pi * a0f * f1;
        o.pi2 = u_pi2 * a0f * f1;
        o.s = o.bo - (o.pi + o.pi2);
    }
    // tiny orders are 0 (a constant: no derivative), as LAMMPS
    if (value(o.bo) < 1e-10) o.bo = T(0.0);
    if (value(o.s) < 1e-10) o.s = T(0.0);
    if (value(o.pi) < 1e-10) o.pi = T(0.0);
    if (value(o.pi2) < 1e-10) o.pi2 = T(0.0);
    return o;
}

// Lone pairs of an atom from its total bond order (LAMMPS truncates Delta_e / 2 toward zero,
// a step with no derivative).
template <class T>
struct LonePairs {
    T vlpex, nlp, delta_lp;
};

template <class T>
LonePairs<T> lone_pairs(const T& total_bo, const double* a, double p_lp1) {
    using std::exp;
    const T delta_e = total_bo - a[kValencyE];
    const T half = trunc(delta_e / 2.0);
    const T vlpex = delta_e - 2.0 * half;
    const T nlp = exp(-p_lp1 * sqr(2.0 + vlpex)) - half;
    return {vlpex, nlp, 0.5 * (a[kValencyE] - a[kValency]) - nlp};
}

// ReaxFF's taper: 1 at swa, 0 at swb, three vanishing derivatives at both ends.
struct Taper {
    double c[8];
    Taper(double swa, double swb) {
        const double d7 = std::pow(swb - swa, 7.0), a2 = swa * swa, a3 = a2 * swa, b2 = swb * swb, b3 = b2 * swb;
        c[0] = (-35.0 * a3 * b2 * b2 + 21.0 * a2 * b3 * b2 - 7.0 * swa * b3 * b3 + b3 * b3 * swb) / d7;
        c[1] = 140.0 * a3 * b3 / d7;
        c[2] = -210.0 * (a3 * b2 + a2 * b3) / d7;
        c[3] = 140.0 * (a3 * swb + 3.0 * a2 * b2 + swa * b3) / d7;
        c[4] = -35.0 * (a3 + 9.0 * a2 * swb + 9.0 * swa * b2 + b3) / d7;
        c[5] = 84.0 * (a2 + 3.0 * swa * swb + b2) / d7;
        c[6] = -70.0 * (swa + swb) / d7;
        c[7] = 20.0 / d7;
    }
    template <class T>
    T operator()(const T& r) const {  // Horner, in LAMMPS's order
        T v(c[7]);
        for (int k = 6; k >= 0; --k) v = v * r + c[k];
        return v;
    }
};

}  // namespace

void check_tables(const Tables& t) {
    const char* where = "reaxff";
    require(t.n_types >= 1 && t.general && t.atom && t.pair && t.angle && t.torsion && t.hbond, where,
            "empty parameter tables");
    for (std::int64_t k = 0; k < std::int64_t{t.n_types} * t.n_types * t.n_types * kHbondStride; ++k)
        require(std::isfinite(t.hbond[k]), where, "hydrogen-bond parameters must be finite");
    const std::int64_t n4 = std::int64_t{t.n_types} * t.n_types * t.n_types * t.n_types;
    for (std::int64_t k = 0; k < n4 * kTorsionStride; ++k)
        require(std::isfinite(t.torsion[k]), where, "torsion parameters must be finite");
    for (std::int64_t k = 0; k < std::int64_t{t.n_types} * t.n_types * t.n_types; ++k) {
        const double* a = t.angle + k * kAngleStride;
        require(a[0] >= 0 && a[0] <= kMaxAngleSets && a[0] == std::floor(a[0]), where, "bad angle-set count");
        for (int v = 1; v < kAngleStride; ++v) require(std::isfinite(a[v]), where, "angle parameters must be finite");
    }
    for (int k = 0; k < kGeneralNeeded; ++k)
        require(std::isfinite(t.general[k]), where, "general parameter " + std::to_string(k + 1) + " is not finite");
    require(t.general[1] != 0.0, where, "general parameter 2 (p_boc2) must not be 0");
    require(t.general[29] >= 0.0, where, "general parameter 30 (the bond-order cut-off x 100) must be >= 0");
    require(t.vdw_type >= 1 && t.vdw_type <= 3, where, "the van der Waals type must be 1, 2 or 3");
    require(t.general[28] > 0.0, where, "general parameter 29 (p_vdW1) must be > 0");
    for (int i = 0; i < t.n_types * kAtomFields; ++i)
        require(std::isfinite(t.atom[i]), where, "atom parameters must be finite");
    for (int p = 0; p < t.n_types * t.n_types; ++p) {
        const double* q = t.pair + static_cast<std::ptrdiff_t>(p) * kPairFields;
        const int i = p / t.n_types, j = p % t.n_types;
        const double* ai = t.atom + static_cast<std::ptrdiff_t>(i) * kAtomFields;
        const double* aj = t.atom + static_cast<std::ptrdiff_t>(j) * kAtomFields;
        for (int k = 0; k < kPairFields; ++k)
            require(std::isfinite(q[k]), where, "pair parameters of types " + std::to_string(i + 1) + "-" +
                                                    std::to_string(j + 1) + " must be finite");
        const std::string pair = " of types " + std::to_string(i + 1) + "-" + std::to_string(j + 1);
        if (ai[kRs] > 0.0 && aj[kRs] > 0.0) require(q[kPRs] > 0.0, where, "r_s" + pair + " must be > 0");
        if (ai[kRpi] > 0.0 && aj[kRpi] > 0.0) require(q[kPRp] > 0.0, where, "r_pi" + pair + " must be > 0");
        if (ai[kRpipi] > 0.0 && aj[kRpipi] > 0.0) require(q[kPRpp] > 0.0, where, "r_pi_pi" + pair + " must be > 0");
        require(q[kRvdw] > 0.0, where, "r_vdw" + pair + " must be > 0");
        if (t.vdw_type == 1 || t.vdw_type == 3) require(q[kGammaW] > 0.0, where, "gamma_w" + pair + " must be > 0");
        if (t.vdw_type == 2 || t.vdw_type == 3) require(q[kRcore] > 0.0, where, "rcore" + pair + " must be > 0");
    }
}

void check_structure(const Dataset& data, std::int64_t s) {
    require(s >= 0 && s < data.n_structures(), "reaxff", "no such structure");
    const std::int64_t a0 = data.atom_offset(s);
    for (std::int64_t i = 0; i < data.n_atoms(s); ++i)
        for (std::int64_t p = data.first(a0 + i); p < data.last(a0 + i); ++p)
            if (data.geometry(p)[3] < kMinDistance)
                throw InvalidArgument("reaxff: structure " + std::to_string(s) + ": atoms " + std::to_string(i) +
                                      " and " + std::to_string(data.owner(p)) + " (or its periodic image) are " +
                                      std::to_string(data.geometry(p)[3]) + " Å apart, closer than 0.1 Å");
}

void bonds(const Dataset& data, std::int64_t s, const Tables& t, double bond_cut, Bonds& out) {
    require(s >= 0 && s < data.n_structures(), "reaxff", "no such structure");
    require(data.n_types() == t.n_types, "reaxff", "the tables' type count differs from the dataset's");
    require(bond_cut > 0.0 && bond_cut <= data.cutoff(), "reaxff",
            "the bond cut-off must be in (0, the dataset's cut-off]");
    const Ctx c(data, s, t);
    const double bo_cut = 0.01 * t.general[29];
    const double p_boc1 = t.general[0], p_boc2 = t.general[1];
    const std::size_t na = c.n();

    // Beyond r_max of its types no pair reaches the cut-off: each of the three terms would have
    // to reach a third of it, and each falls with r when p_bo1,3,5 < 0 < p_bo2,4,6 (otherwise
    // no bound: every pair within bond_cut is computed).
    const int nt = t.n_types;
    std::vector<double> r_max(static_cast<std::size_t>(nt * nt), bond_cut);
    for (int ti = 0; ti < nt; ++ti)
        for (int tj = 0; tj < nt; ++tj) {
            const double *ai = t.atom + ti * kAtomFields, *aj = t.atom + tj * kAtomFields;
            const double* q = t.pair + (ti * nt + tj) * kPairFields;
            double reach = 0.0;
            const auto term = [&](bool on, double r0, double pa, double pb, double scale) {
                if (!on) return;
                const double x = std::log(bo_cut / (3.0 * scale));  // exp(pa (r / r0)^pb) = cut / (3 scale)
                reach = pa < 0.0 && pb > 0.0 && bo_cut > 0.0 ? std::max(reach, r0 * std::pow(x / pa, 1.0 / pb))
                                                             : bond_cut;
            };
            term(ai[kRs] > 0.0 && aj[kRs] > 0.0, q[kPRs], q[kPbo1], q[kPbo2], 1.0 + bo_cut);
            term(ai[kRpi] > 0.0 && aj[kRpi] > 0.0, q[kPRp], q[kPbo3], q[kPbo4], 1.0);
            term(ai[kRpipi] > 0.0 && aj[kRpipi] > 0.0, q[kPRpp], q[kPbo5], q[kPbo6], 1.0);
            r_max[static_cast<std::size_t>(ti * nt + tj)] = std::min(bond_cut, reach * (1.0 + 1e-12));
        }

    out = Bonds{};
    out.total_u.assign(na, 0.0);
    // Uncorrected bond orders (sigma and total with the cut-off subtracted, as LAMMPS keeps them).
    for (std::int64_t i = 0; i < c.na; ++i) {
        for (std::int64_t p = data.first(c.a0 + i); p < data.last(c.a0 + i); ++p) {
            const double r = data.geometry(p)[3];
            const std::int64_t j = data.owner(p);
            if (r > r_max[static_cast<std::size_t>(c.type(i) * nt + c.type(j))]) continue;
            const Uncorrected<double> u = uncorrected(r, c.atom(i), c.atom(j), c.pair(i, j), bo_cut);
            const double bo = u.s + u.pi + u.pi2;
            if (bo < bo_cut) continue;
            out.atom.push_back(static_cast<std::int32_t>(i));
            out.entry.push_back(p);
            out.u_bo.push_back(bo - bo_cut);
            out.u_s.push_back(u.s - bo_cut);
            out.u_pi.push_back(u.pi);
            out.u_pi2.push_back(u.pi2);
            out.total_u[static_cast<std::size_t>(i)] += bo - bo_cut;
        }
    }
    // rows were found atom by atom: atom i's are contiguous
    out.first.assign(na + 1, 0);
    for (const std::int32_t i : out.atom) ++out.first[static_cast<std::size_t>(i) + 1];
    for (std::size_t i = 0; i < na; ++i) out.first[i + 1] += out.first[i];
    const std::size_t nb = out.u_bo.size();
    out.bo.resize(nb);
    out.bo_s.resize(nb);
    out.bo_pi.resize(nb);
    out.bo_pi2.resize(nb);
    out.total_bo.assign(na, 0.0);
    for (std::size_t b = 0; b < nb; ++b) {
        const std::int64_t i = out.atom[b], j = data.owner(out.entry[b]);
        const Orders<double> o =
            corrected(out.u_bo[b], out.u_s[b], out.u_pi[b], out.u_pi2[b], out.total_u[static_cast<std::size_t>(i)],
                      out.total_u[static_cast<std::size_t>(j)], c.atom(i), c.atom(j), c.pair(i, j), p_boc1, p_boc2);
        out.bo[b] = o.bo;
        out.bo_s[b] = o.s;
        out.bo_pi[b] = o.pi;
        out.bo_pi2[b] = o.pi2;
        out.total_bo[static_cast<std::size_t>(i)] += o.bo;
    }
    // Finite parameters can still overflow a bond order (a huge exponent): refuse, rather than
    // carry inf or NaN into every term (and into integer conversions there).
    for (std::size_t i = 0; i < na; ++i)
        require(std::isfinite(out.total_bo[i]) && std::isfinite(out.total_u[i]), "reaxff",
                "the bond orders of atom " + std::to_string(i) + " are not finite: the parameters (p_bo exponents, "
                "radii) make them overflow");
}

namespace {

// Chains dE/d(corrected orders) and dE/d(total bond orders) to the positions.
void bond_order_gradient(const Ctx& c, const Tables& t, const Bonds& b, Gradient& g) {
    const double bo_cut = 0.01 * t.general[29];
    const double p_boc1 = t.general[0], p_boc2 = t.general[1];
    const std::size_t nb = b.bo.size();
    // total bond order = the sum of the atom's corrected orders
    for (std::size_t i = 0; i < c.n(); ++i)
        for (std::size_t r = b.first[i]; r < b.first[i + 1]; ++r) g.bo[r] += g.total[i];
    // corrected orders: functions of the row's uncorrected ones and both atoms' sums of them
    std::vector<double> gu_bo(nb), gu_s(nb), gu_pi(nb), gu_pi2(nb), gu_total(c.n());
    using D6 = Dual<6>;
    for (std::size_t r = 0; r < nb; ++r) {
        if (g.bo[r] == 0.0 && g.s[r] == 0.0 && g.pi[r] == 0.0 && g.pi2[r] == 0.0) continue;
        const std::int64_t i = b.atom[r], j = c.owner(b.entry[r]);
        const Orders<D6> o = corrected(D6::input(b.u_bo[r], 0), D6::input(b.u_s[r], 1), D6::input(b.u_pi[r], 2),
                                       D6::input(b.u_pi2[r], 3), D6::input(b.total_u[static_cast<std::size_t>(i)], 4),
                                       D6::input(b.total_u[static_cast<std::size_t>(j)], 5), c.atom(i), c.atom(j),
                                       c.pair(i, j), p_boc1, p_boc2);
        double d[6];
        for (int k = 0; k < 6; ++k) d[k] = g.bo[r] * o.bo.d[k] + g.s[r] * o.s.d[k] + g.pi[r] * o.pi.d[k] +
                                           g.pi2[r] * o.pi2.d[k];
        gu_bo[r] += d[0];
        gu_s[r] += d[1];
        gu_pi[r] += d[2];
        gu_pi2[r] += d[3];
        gu_total[static_cast<std::size_t>(i)] += d[4];
        gu_total[static_cast<std::size_t>(j)] += d[5];
    }
    for (std::size_t i = 0; i < c.n(); ++i)
        for (std::size_t r = b.first[i]; r < b.first[i + 1]; ++r) gu_bo[r] += gu_total[i];
    // uncorrected orders: functions of the bond length
    using D1 = Dual<1>;
    for (std::size_t r = 0; r < nb; ++r) {
        if (gu_bo[r] == 0.0 && gu_s[r] == 0.0 && gu_pi[r] == 0.0 && gu_pi2[r] == 0.0) continue;
        const std::int64_t i = b.atom[r], j = c.owner(b.entry[r]);
        const double* v = c.data.geometry(b.entry[r]);
        const Uncorrected<D1> u = uncorrected(D1::input(v[3], 0), c.atom(i), c.atom(j), c.pair(i, j), bo_cut);
        const double de_dr = gu_bo[r] * (u.s.d[0] + u.pi.d[0] + u.pi2.d[0]) + gu_s[r] * u.s.d[0] +
                             gu_pi[r] * u.pi.d[0] + gu_pi2[r] * u.pi2.d[0];
        const double d[3] = {de_dr * v[0] / v[3], de_dr * v[1] / v[3], de_dr * v[2] / v[3]};
        g.add_vector(c, i, b.entry[r], d);
    }
}

// Bond energy of one row (half the bond's), with the terminal triple-bond stabilisation when
// `triple` (C-O bonds, or all when general[37] == 2) and the order is above 1.
template <class T>
T bond_row_energy(const T& bo, const T& bo_s, const T& pi, const T& pi2, const T& ti, const T& tj,
                  const double* q, const double* ai, const double* aj, bool triple, const double* gp) {
    using std::exp;
    using std::pow;
    const T pow_be2 = value(bo_s) == 0.0 ? T(0.0) : pow(bo_s, q[kPbe2]);
    T e = 0.5 * (-q[kDeS] * bo_s * exp(q[kPbe1] * (1.0 - pow_be2)) - q[kDeP] * pi - q[kDePP] * pi2);
    if (triple && value(bo) >= 1.0) {
        const T delta_i = ti - ai[kValency], delta_j = tj - aj[kValency];
        const T exphu = exp(-gp[7] * sqr(bo - 2.5));
        const T hulpov = 1.0 / (1.0 + 25.0 * exp(gp[4] * (delta_i + delta_j)));
        e += 0.5 * gp[10] * exphu * hulpov * (exp(-gp[3] * (ti - bo)) + exp(-gp[3] * (tj - bo)));
    }
    return e;
}

double bond_energy(const Ctx& c, const Bonds& b, Gradient* g) {
    const double* gp = c.t.general;
    const bool all_triple = gp[37] >= 2.0 && gp[37] < 3.0;  // LAMMPS: (int) gp[37] == 2
    const auto is = [](double mass, double m) { return std::fabs(mass - m) < 1e-4; };
    double e = 0.0;
    for (std::size_t r = 0; r < b.bo.size(); ++r) {
        const std::int64_t i = b.atom[r], j = c.owner(b.entry[r]);
        const double *ai = c.atom(i), *aj = c.atom(j), *q = c.pair(i, j);
        const double mi = ai[kMass], mj = aj[kMass];
        const bool triple = all_triple || (is(mi, 12.0) && is(mj, 15.999)) || (is(mj, 12.0) && is(mi, 15.999));
        const double ti = b.total_bo[static_cast<std::size_t>(i)], tj = b.total_bo[static_cast<std::size_t>(j)];
        if (!g) {
            e += bond_row_energy(b.bo[r], b.bo_s[r], b.bo_pi[r], b.bo_pi2[r], ti, tj, q, ai, aj, triple, gp);
            continue;
        }
        using D = Dual<6>;
        const D E = bond_row_energy(D::input(b.bo[r], 0), D::input(b.bo_s[r], 1), D::input(b.bo_pi[r], 2),
                                    D::input(b.bo_pi2[r], 3), D::input(ti, 4), D::input(tj, 5), q, ai, aj, triple, gp);
        e += E.v;
        g->bo[r] += E.d[0];
        g->s[r] += E.d[1];
        g->pi[r] += E.d[2];
        g->pi2[r] += E.d[3];
        g->total[static_cast<std::size_t>(i)] += E.d[4];
        g->total[static_cast<std::size_t>(j)] += E.d[5];
    }
    return e;
}

// Lone-pair energy of an atom (LAMMPS counts atoms without bonds too: its enobonds default).
template <class T>
T lone_pair_energy(const T& tot, const double* a, double p_lp1) {
    using std::exp;
    const T d = lone_pairs(tot, a, p_lp1).delta_lp;
    return a[kPlp2] * d / (1.0 + exp(-75.0 * d));
}

// The C2 correction of one C-C row.
template <class T>
T c2_energy(const T& bo, const T& tot, const double* a, double p_lp3) {
    using std::pow;
    const T di = tot - a[kValency];
    const T vov3 = bo - di - 0.040 * pow(di, 4.0);
    return value(vov3) > 3.0 ? p_lp3 * sqr(vov3 - 3.0) : T(0.0);
}

// Over- plus under-coordination energy of an atom from sum1 = sum p_ovun1 De_s BO over its
// bonds, sum2 = sum (Delta_j - dfvl Delta_lp_temp_j)(BO_pi + BO_pi2) and its total bond order.
template <class T>
T over_under_energy(const T& sum1, const T& sum2, const T& tot, const double* a, double dfvl, const double* gp) {
    using std::exp;
    const double p_lp1 = gp[15], p_ovun3 = gp[32], p_ovun4 = gp[31], p_ovun6 = gp[6], p_ovun7 = gp[8],
                 p_ovun8 = gp[9];
    const T delta = tot - a[kValency];
    const T dlt = a[kMass] > 21.0 ? T(0.0) : lone_pairs(tot, a, p_lp1).delta_lp;  // heavier: nlp_opt - nlp_opt
    const T exp_ovun1 = p_ovun3 * exp(p_ovun4 * sum2);
    const T lpcorr = delta - dfvl * dlt / (1.0 + exp_ovun1);
    const T exp_ovun2 = exp(a[kPovun2] * lpcorr);
    const T e_over = sum1 * lpcorr / (lpcorr + a[kValency] + 1e-8) / (1.0 + exp_ovun2);
    const T exp_ovun8 = p_ovun7 * exp(p_ovun8 * sum2);
    const T e_under = -a[kPovun5] * (1.0 - exp(p_ovun6 * lpcorr)) / (1.0 + 1.0 / exp_ovun2) / (1.0 + exp_ovun8);
    return e_over + e_under;
}

void atom_energies(const Ctx& c, const Bonds& b, Terms& e, Gradient* g) {
    const double* gp = c.t.general;
    const double p_lp1 = gp[15], p_lp3 = gp[5];
    const std::size_t n = c.n();
    // Per atom: Delta, and the lone-pair deficit the coordination terms use with its derivative.
    std::vector<double> delta(n), dlt(n), ddlt(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double* a = c.atom(static_cast<std::int64_t>(i));
        delta[i] = b.total_bo[i] - a[kValency];
        const LonePairs<Dual<1>> lp = lone_pairs(Dual<1>::input(b.total_bo[i], 0), a, p_lp1);
        dlt[i] = a[kMass] > 21.0 ? 0.0 : lp.delta_lp.v;
        ddlt[i] = a[kMass] > 21.0 ? 0.0 : lp.delta_lp.d[0];
    }
    for (std::size_t i = 0; i < n; ++i) {
        const double* a = c.atom(static_cast<std::int64_t>(i));
        const double tot = b.total_bo[i];
        if (!g) {
            e.elp += lone_pair_energy(tot, a, p_lp1);
        } else {
            const Dual<1> E = lone_pair_energy(Dual<1>::input(tot, 0), a, p_lp1);
            e.elp += E.v;
            g->total[i] += E.d[0];
        }
        if (p_lp3 > 0.001 && a[kIsCarbon] != 0.0) {  // C2 correction
            for (std::size_t r = b.first[i]; r < b.first[i + 1]; ++r) {
                if (c.atom(c.owner(b.entry[r]))[kIsCarbon] == 0.0) continue;
                if (!g) {
                    e.elp += c2_energy(b.bo[r], tot, a, p_lp3);
                    continue;
                }
                const Dual<2> E = c2_energy(Dual<2>::input(b.bo[r], 0), Dual<2>::input(tot, 1), a, p_lp3);
                e.elp += E.v;
                g->bo[r] += E.d[0];
                g->total[i] += E.d[1];
            }
        }
        const double dfvl = a[kMass] > 21.0 ? 0.0 : 1.0;
        double sum1 = 0.0, sum2 = 0.0;
        for (std::size_t r = b.first[i]; r < b.first[i + 1]; ++r) {
            const auto j = static_cast<std::size_t>(c.owner(b.entry[r]));
            const double* q = c.pair(static_cast<std::int64_t>(i), static_cast<std::int64_t>(j));
            sum1 += q[kPovun1] * q[kDeS] * b.bo[r];
            sum2 += (delta[j] - dfvl * dlt[j]) * (b.bo_pi[r] + b.bo_pi2[r]);
        }
        if (!g) {
            e.ea += over_under_energy(sum1, sum2, tot, a, dfvl, gp);
            continue;
        }
        using D = Dual<3>;
        const D E = over_under_energy(D::input(sum1, 0), D::input(sum2, 1), D::input(tot, 2), a, dfvl, gp);
        e.ea += E.v;
        g->total[i] += E.d[2];
        for (std::size_t r = b.first[i]; r < b.first[i + 1]; ++r) {
            const auto j = static_cast<std::size_t>(c.owner(b.entry[r]));
            const double* q = c.pair(static_cast<std::int64_t>(i), static_cast<std::int64_t>(j));
            g->bo[r] += E.d[0] * q[kPovun1] * q[kDeS];
            const double dj = delta[j] - dfvl * dlt[j];
            g->pi[r] += E.d[1] * dj;
            g->pi2[r] += E.d[1] * dj;
            g->total[j] += E.d[1] * (b.bo_pi[r] + b.bo_pi2[r]) * (1.0 - dfvl * ddlt[j]);
        }
    }
}

// SBO2 of a valence-angle centre from the sum of its pi orders, the product of exp(-BO^8) over
// its bonds and its total bond order.
template <class T>
T sbo2_of(const T& sbop, const T& prod_sbo, const T& tot, const double* aj, const double* gp) {
    using std::pow;
    const double p_val8 = gp[33], p_val9 = gp[16], p_lp1 = gp[15];
    const LonePairs<T> lp = lone_pairs(tot, aj, p_lp1);
    const T delta_boc = tot - aj[kValencyBoc];
    const T vlpadj = value(lp.vlpex) >= 0 ? T(0.0) : lp.nlp;
    const T sbo = sbop + (1.0 - prod_sbo) * (-delta_boc - p_val8 * vlpadj);
    if (value(sbo) <= 0) return T(0.0);
    if (value(sbo) <= 1) return pow(sbo, p_val9);
    if (value(sbo) < 2) return 2.0 - pow(2.0 - sbo, p_val9);
    return T(2.0);
}

template <class T>
struct AngleE {
    T ev{0.0}, epen{0.0}, ecoa{0.0};
};

// What a valence angle needs of its centre j: functions of its total bond order and SBO2,
// computed once per centre.
template <class T>
struct AngleCentre {
    T delta_boc, expval6, f9, coa, t0;  // coa = 1 / (1 + exp(p_coa2 Delta_val)), t0 = 1 - exp(-p_val10 (2 - SBO2))
};

template <class T>
AngleCentre<T> angle_centre(const T& tot_j, const T& sbo2, const double* aj, const double* gp) {
    using std::exp;
    const double p_val6 = gp[14], p_val10 = gp[17], p_pen3 = gp[20], p_pen4 = gp[21], p_coa2 = gp[2];
    const T delta = tot_j - aj[kValency], delta_boc = tot_j - aj[kValencyBoc], delta_val = tot_j - aj[kValencyVal];
    const T exp_pen3 = exp(-p_pen3 * delta), exp_pen4 = exp(p_pen4 * delta);
    return {delta_boc, exp(p_val6 * delta_boc), (2.0 + exp_pen3) / (1.0 + exp_pen3 + exp_pen4),
            1.0 / (1.0 + exp(p_coa2 * delta_val)), 1.0 - exp(-p_val10 * (2.0 - sbo2))};
}

// What a valence angle needs of one of its bonds j-x: BOA = BO - 0.001 and the penalty and
// coalition factors of BOA and of x's total bond order, with their derivatives (per bond row,
// computed once per centre).
struct AngleArm {
    double boa, pen, dpen, coa4, dcoa4, coa3, dcoa3_bo, dcoa3_tot;
};

AngleArm angle_arm(double bo, double tot_x, const double* gp) {
    const double p_pen2 = gp[19], p_coa3 = gp[38], p_coa4 = gp[30];
    AngleArm a{};
    a.boa = bo - kThbCut;
    a.pen = std::exp(-p_pen2 * sq(a.boa - 2.0));
    a.dpen = -2.0 * p_pen2 * (a.boa - 2.0) * a.pen;
    a.coa4 = std::exp(-p_coa4 * sq(a.boa - 1.5));
    a.dcoa4 = -2.0 * p_coa4 * (a.boa - 1.5) * a.coa4;
    a.coa3 = std::exp(-p_coa3 * sq(tot_x - a.boa));
    a.dcoa3_tot = -2.0 * p_coa3 * (tot_x - a.boa) * a.coa3;
    a.dcoa3_bo = -a.dcoa3_tot;
    return a;
}

// An arm as the scalar type: its bond order is input k_bo, the other atom's total k_tot.
template <class T>
struct Arm {
    T boa, pen, coa4, coa3;
};

inline Arm<double> arm_as(const AngleArm& a, int, int) { return {a.boa, a.pen, a.coa4, a.coa3}; }

template <int N>
Arm<Dual<N>> arm_as(const AngleArm& a, int k_bo, int k_tot) {
    Arm<Dual<N>> out{Dual<N>::input(a.boa, k_bo), Dual<N>(a.pen), Dual<N>(a.coa4), Dual<N>(a.coa3)};
    out.pen.d[k_bo] = a.dpen;
    out.coa4.d[k_bo] = a.dcoa4;
    out.coa3.d[k_bo] = a.dcoa3_bo;
    out.coa3.d[k_tot] = a.dcoa3_tot;
    return out;
}

// The valence angle i-j-k (j the centre) of bending angle theta over every parameter set of
// its types.
template <class T>
AngleE<T> angle_energy(const Arm<T>& ij, const Arm<T>& jk, const AngleCentre<T>& cen, const T& theta,
                       const double* sets, const double* aj) {
    using std::exp;
    using std::pow;
    constexpr double kPi = 3.14159265;  // LAMMPS's ReaxFF converts degrees with this pi: so do we
    const double p_val3 = aj[kPval3], p_val5 = aj[kPval5];
    AngleE<T> e;
    for (int s = 0; s < static_cast<int>(sets[0]); ++s) {
        const double* v = sets + 1 + s * kAngleValues;
        const double theta_00 = v[0], p_val1 = v[1], p_val2 = v[2], p_coa1 = v[3], p_val7 = v[4], p_pen1 = v[5],
                     p_val4 = v[6];
        if (!(std::fabs(p_val1) > 0.001)) continue;
        const T f7_ij = 1.0 - exp(-p_val3 * pow(ij.boa, p_val4));
        const T f7_jk = 1.0 - exp(-p_val3 * pow(jk.boa, p_val4));
        const T expval7 = exp(-p_val7 * cen.delta_boc);
        const T trm8 = 1.0 + cen.expval6 + expval7;
        const T f8 = p_val5 - (p_val5 - 1.0) * (2.0 + cen.expval6) / trm8;
        const T theta_0 = (180.0 - theta_00 * cen.t0) * kPi / 180.0;
        const T expval2theta = exp(-p_val2 * sqr(theta_0 - theta));
        const T expval12theta = p_val1 >= 0 ? p_val1 * (1.0 - expval2theta) : p_val1 * -expval2theta;
        e.ev += f7_ij * f7_jk * f8 * expval12theta;
        e.epen += p_pen1 * cen.f9 * ij.pen * jk.pen;
        e.ecoa += p_coa1 * cen.coa * ij.coa3 * jk.coa3 * ij.coa4 * jk.coa4;
    }
    return e;
}

void angle_energies(const Ctx& c, const Bonds& b, Terms& e, Gradient* g) {
    const double* gp = c.t.general;
    const int nt = c.t.n_types;
    std::vector<AngleArm> arms;
    for (std::size_t j = 0; j < c.n(); ++j) {
        const double* aj = c.atom(static_cast<std::int64_t>(j));
        const double tot_j = b.total_bo[j];
        double sbop = 0.0, prod_sbo = 1.0;
        for (std::size_t q = b.first[j]; q < b.first[j + 1]; ++q) {
            sbop += b.bo_pi[q] + b.bo_pi2[q];
            double x = sq(b.bo[q]);
            x *= x;
            x *= x;
            prod_sbo *= std::exp(-x);
        }
        const double sbo2 = sbo2_of(sbop, prod_sbo, tot_j, aj, gp);
        double g_sbo2 = 0.0;
        const std::size_t lo = b.first[j], hi = b.first[j + 1];
        arms.clear();
        for (std::size_t q = lo; q < hi; ++q)
            arms.push_back(angle_arm(b.bo[q], b.total_bo[static_cast<std::size_t>(c.owner(b.entry[q]))], gp));
        using D = Dual<7>;  // inputs: bo_ij, bo_jk, tot_i, tot_j, tot_k, sbo2, theta
        const AngleCentre<double> cen = angle_centre(tot_j, sbo2, aj, gp);
        const AngleCentre<D> cen_d = g ? angle_centre(D::input(tot_j, 3), D::input(sbo2, 5), aj, gp) : AngleCentre<D>{};
        for (std::size_t bij = lo; bij < hi; ++bij) {
            if (!(b.bo[bij] - kThbCut > 0.0)) continue;
            const std::int64_t i = c.owner(b.entry[bij]);
            const double* gij = c.data.geometry(b.entry[bij]);
            for (std::size_t bjk = bij + 1; bjk < hi; ++bjk) {
                if (!(b.bo[bjk] - kThbCut > 0.0 && b.bo[bij] > kThbCut && b.bo[bjk] > kThbCut &&
                      b.bo[bij] * b.bo[bjk] > kThbCutSq))
                    continue;
                const std::int64_t k = c.owner(b.entry[bjk]);
                const double* sets = c.t.angle + ((c.type(i) * nt + c.type(static_cast<std::int64_t>(j))) * nt +
                                                  c.type(k)) * kAngleStride;
                if (sets[0] == 0.0) continue;
                const double* gjk = c.data.geometry(b.entry[bjk]);
                const Cosine cs = cosine(gij, gjk);
                const double theta = std::acos(cs.c);
                const AngleArm &arm_ij = arms[bij - lo], &arm_jk = arms[bjk - lo];
                if (!g) {
                    const AngleE<double> a = angle_energy(arm_as(arm_ij, 0, 2), arm_as(arm_jk, 1, 4), cen, theta,
                                                          sets, aj);
                    e.ev += a.ev;
                    e.epen += a.epen;
                    e.ecoa += a.ecoa;
                    continue;
                }
                const AngleE<D> a = angle_energy(arm_as<7>(arm_ij, 0, 2), arm_as<7>(arm_jk, 1, 4), cen_d,
                                                 D::input(theta, 6), sets, aj);
                e.ev += a.ev.v;
                e.epen += a.epen.v;
                e.ecoa += a.ecoa.v;
                const D E = a.ev + a.epen + a.ecoa;
                g->bo[bij] += E.d[0];
                g->bo[bjk] += E.d[1];
                g->total[static_cast<std::size_t>(i)] += E.d[2];
                g->total[j] += E.d[3];
                g->total[static_cast<std::size_t>(k)] += E.d[4];
                g_sbo2 += E.d[5];
                // d theta = -d cos / sin theta, the sine bounded below by 1e-5 as LAMMPS does
                const double dth = -E.d[6] / std::max(std::sin(theta), 1e-5);
                const double gu[3] = {dth * cs.du[0], dth * cs.du[1], dth * cs.du[2]};
                const double gv[3] = {dth * cs.dv[0], dth * cs.dv[1], dth * cs.dv[2]};
                g->add_vector(c, static_cast<std::int64_t>(j), b.entry[bij], gu);
                g->add_vector(c, static_cast<std::int64_t>(j), b.entry[bjk], gv);
            }
        }
        if (g && g_sbo2 != 0.0) {  // SBO2: the centre's pi orders, exp(-BO^8) product and total
            using D3 = Dual<3>;
            const D3 S = sbo2_of(D3::input(sbop, 0), D3::input(prod_sbo, 1), D3::input(tot_j, 2), aj, gp);
            g->total[j] += g_sbo2 * S.d[2];
            for (std::size_t q = lo; q < hi; ++q) {
                g->pi[q] += g_sbo2 * S.d[0];
                g->pi2[q] += g_sbo2 * S.d[0];
                const double bo = b.bo[q], bo7 = bo * bo * bo * bo * bo * bo * bo;
                g->bo[q] += g_sbo2 * S.d[1] * prod_sbo * -8.0 * bo7;
            }
        }
    }
}

template <class T>
struct TorsionE {
    T et{0.0}, eco{0.0};
};

// What a torsion needs of one of its three bonds: fn10's factor 1 - exp(-p_tor2 BOA) and fn12's
// exp(-p_cot2 (BOA - 1.5)^2), with their derivatives (once per bond row).
struct TorsionArm {
    double f, df, h, dh;
};

TorsionArm torsion_arm(double bo, const double* gp) {
    const double p_tor2 = gp[23], p_cot2 = gp[27], boa = bo - kThbCut;
    const double e = std::exp(-p_tor2 * boa), h = std::exp(-p_cot2 * sq(boa - 1.5));
    return {1.0 - e, p_tor2 * e, h, -2.0 * p_cot2 * (boa - 1.5) * h};
}

// The torsion i-j-k-l about the bond j-k and its four-body conjugation from the three bonds'
// factors (f: fn10's, h: fn12's), f11 of the central atoms, the central bond's pi order, the
// sines of the angles i-j-k and j-k-l and the dihedral angle omega; v = the quadruple's V1, V2,
// V3, p_tor1, p_cot1 after its flag.
template <class T>
TorsionE<T> torsion_energy(const T* f, const T* h, const T& f11, const T& pi_jk, const T& sin_ijk, const T& sin_jkl,
                           const T& omega, const double* v) {
    using std::cos;
    using std::exp;
    const double V1 = v[1], V2 = v[2], V3 = v[3], p_tor1 = v[4], p_cot1 = v[5];
    // cos(2 omega) and cos(3 omega) from cos(omega): one cosine
    const T cos_w = cos(omega), cos2w = 2.0 * cos_w * cos_w - 1.0, cos3w = (4.0 * cos_w * cos_w - 3.0) * cos_w;
    const T exp_tor1 = exp(p_tor1 * sqr(2.0 - pi_jk - f11));
    const T cv = 0.5 * (V1 * (1.0 + cos_w) + V2 * exp_tor1 * (1.0 - cos2w) + V3 * (1.0 + cos3w));
    TorsionE<T> e;
    e.et = f[0] * f[1] * f[2] * sin_ijk * sin_jkl * cv;
    e.eco = p_cot1 * (h[0] * h[1] * h[2]) * (1.0 + (sqr(cos_w) - 1.0) * sin_ijk * sin_jkl);
    return e;
}

// f11 of a central bond j-k, from the two atoms' total bond orders.
template <class T>
T torsion_f11(const T& tot_j, const T& tot_k, const double* aj, const double* ak, const double* gp) {
    using std::exp;
    const double p_tor3 = gp[24], p_tor4 = gp[25];
    const T delta_j = tot_j - aj[kValencyBoc], delta_k = tot_k - ak[kValencyBoc];
    const T exp_tor3 = exp(-p_tor3 * (delta_j + delta_k)), exp_tor4 = exp(p_tor4 * (delta_j + delta_k));
    return (2.0 + exp_tor3) / (1.0 + exp_tor3 + exp_tor4);
}

void torsion_energies(const Ctx& c, const Bonds& b, Terms& e, Gradient* g) {
    const double* gp = c.t.general;
    const int nt = c.t.n_types;
    const auto vec = [&](std::size_t q) { return c.data.geometry(b.entry[q]); };  // dx, dy, dz, r
    const auto same = [](const double* u, const double* w, double sign) {  // u == sign * w, to 1e-9 Å
        return std::fabs(u[0] - sign * w[0]) < 1e-9 && std::fabs(u[1] - sign * w[1]) < 1e-9 &&
               std::fabs(u[2] - sign * w[2]) < 1e-9;
    };
    std::vector<TorsionArm> arms(b.bo.size());
    for (std::size_t r = 0; r < b.bo.size(); ++r) arms[r] = torsion_arm(b.bo[r], gp);
    using D = Dual<11>;  // inputs: f_ij, f_jk, f_kl, h_ij, h_jk, h_kl, f11, pi_jk, sin_ijk, sin_jkl, omega
    for (std::size_t j = 0; j < c.n(); ++j) {
        const double* aj = c.atom(static_cast<std::int64_t>(j));
        for (std::size_t jk = b.first[j]; jk < b.first[j + 1]; ++jk) {
            const auto k = static_cast<std::size_t>(c.owner(b.entry[jk]));
            const double* djk = vec(jk);
            // each central bond once, as LAMMPS orders them
            if (!first_of_pair(static_cast<std::int64_t>(j), static_cast<std::int64_t>(k), djk)) continue;
            if (!(b.bo[jk] > kThbCut)) continue;
            const double* ak = c.atom(static_cast<std::int64_t>(k));
            const double tot_j = b.total_bo[j], tot_k = b.total_bo[k];
            const double f11 = torsion_f11(tot_j, tot_k, aj, ak, gp);
            double g_f11 = 0.0;
            for (std::size_t ij = b.first[j]; ij < b.first[j + 1]; ++ij) {
                if (ij == jk || !(b.bo[ij] > kThbCut)) continue;
                const std::int64_t i = c.owner(b.entry[ij]);
                const double* dji = vec(ij);
                for (std::size_t kl = b.first[k]; kl < b.first[k + 1]; ++kl) {
                    const double* dkl = vec(kl);
                    const std::int64_t l = c.owner(b.entry[kl]);
                    if (static_cast<std::size_t>(l) == j && same(dkl, djk, -1.0)) continue;  // k's bond back to j
                    if (l == i) {  // i and l the same atom and image: no torsion
                        const double jl[3] = {djk[0] + dkl[0], djk[1] + dkl[1], djk[2] + dkl[2]};
                        if (same(jl, dji, 1.0)) continue;
                    }
                    if (!(b.bo[kl] > kThbCut) || !(b.bo[ij] * b.bo[jk] * b.bo[kl] > kThbCut)) continue;
                    const double* v = c.t.torsion +
                                      (((c.type(i) * nt + c.type(static_cast<std::int64_t>(j))) * nt +
                                        c.type(static_cast<std::int64_t>(k))) * nt + c.type(l)) * kTorsionStride;
                    if (v[0] == 0.0) continue;
                    // the angles i-j-k (between j->i and j->k) and j-k-l (between k->j and k->l)
                    const double mjk[3] = {-djk[0], -djk[1], -djk[2]};
                    const Cosine c1 = cosine(dji, djk), c2 = cosine(mjk, dkl);
                    const double sin_ijk = std::sin(std::acos(c1.c)), sin_jkl = std::sin(std::acos(c2.c));
                    const Dihedral w = dihedral(dji, djk, dkl);
                    const TorsionArm* arm[3] = {&arms[ij], &arms[jk], &arms[kl]};
                    if (!g) {
                        const double f[3] = {arm[0]->f, arm[1]->f, arm[2]->f}, h[3] = {arm[0]->h, arm[1]->h, arm[2]->h};
                        const TorsionE<double> t = torsion_energy(f, h, f11, b.bo_pi[jk], sin_ijk, sin_jkl, w.omega, v);
                        e.et += t.et;
                        e.eco += t.eco;
                        continue;
                    }
                    D f[3], h[3];
                    for (int q = 0; q < 3; ++q) {
                        f[q] = D::input(arm[q]->f, q);
                        h[q] = D::input(arm[q]->h, 3 + q);
                    }
                    const TorsionE<D> t = torsion_energy(f, h, D::input(f11, 6), D::input(b.bo_pi[jk], 7),
                                                         D::input(sin_ijk, 8), D::input(sin_jkl, 9),
                                                         D::input(w.omega, 10), v);
                    e.et += t.et.v;
                    e.eco += t.eco.v;
                    const D E = t.et + t.eco;
                    const std::size_t rows3[3] = {ij, jk, kl};
                    for (int q = 0; q < 3; ++q) g->bo[rows3[q]] += E.d[q] * arm[q]->df + E.d[3 + q] * arm[q]->dh;
                    g_f11 += E.d[6];
                    g->pi[jk] += E.d[7];
                    // d sin = -cos d cos / sin, the sine bounded below by 1e-10 as LAMMPS does
                    const double s1 = -E.d[8] * c1.c / std::max(sin_ijk, 1e-10);
                    const double s2 = -E.d[9] * c2.c / std::max(sin_jkl, 1e-10);
                    double ga[3], gb[3], gc[3];
                    for (int q = 0; q < 3; ++q) {
                        ga[q] = s1 * c1.du[q] + E.d[10] * w.da[q];
                        gb[q] = s1 * c1.dv[q] - s2 * c2.du[q] + E.d[10] * w.db[q];
                        gc[q] = s2 * c2.dv[q] + E.d[10] * w.dc[q];
                    }
                    g->add_vector(c, static_cast<std::int64_t>(j), b.entry[ij], ga);
                    g->add_vector(c, static_cast<std::int64_t>(j), b.entry[jk], gb);
                    g->add_vector(c, static_cast<std::int64_t>(k), b.entry[kl], gc);
                }
            }
            if (g && g_f11 != 0.0) {
                using D2 = Dual<2>;
                const D2 F = torsion_f11(D2::input(tot_j, 0), D2::input(tot_k, 1), aj, ak, gp);
                g->total[j] += g_f11 * F.d[0];
                g->total[k] += g_f11 * F.d[1];
            }
        }
    }
}

// A hydrogen bond i-j...k (j the hydrogen bonded to the donor i, k the acceptor) from the
// donor bond's order, the cosine of the angle i-j-k and the distance j-k.
template <class T>
T hbond_energy_of(const T& bo_ij, const T& cos_t, const T& r_jk, const double* v) {
    using std::exp;
    const double r0 = v[0], p_hb1 = v[1], p_hb2 = v[2], p_hb3 = v[3];
    const T sin4 = sqr((1.0 - cos_t) / 2.0);  // sin^4(theta / 2)
    return p_hb1 * (1.0 - exp(-p_hb2 * bo_ij)) * exp(-p_hb3 * (r0 / r_jk + r_jk / r0 - 2.0)) * sin4;
}

double hbond_energies(const Ctx& c, const Bonds& b, double hbond_cut, Gradient* g) {
    constexpr double kHbThreshold = 0.01;  // LAMMPS's HB_THRESHOLD
    const int nt = c.t.n_types;
    // p_hbond arrives truncated to an integer value (as LAMMPS reads it): 1 hydrogen, 2 donor/acceptor
    const auto hb = [&](std::int64_t local) { return c.atom(local)[kPhbond]; };
    double e = 0.0;
    for (std::int64_t j = 0; j < c.na; ++j) {
        if (hb(j) != 1.0) continue;
        for (std::int64_t pk = c.data.first(c.a0 + j); pk < c.data.last(c.a0 + j); ++pk) {
            const double* djk = c.data.geometry(pk);
            const std::int64_t k = c.owner(pk);
            if (djk[3] > hbond_cut || hb(k) != 2.0) continue;
            for (std::size_t ij = b.first[static_cast<std::size_t>(j)]; ij < b.first[static_cast<std::size_t>(j) + 1];
                 ++ij) {
                const std::int64_t i = c.owner(b.entry[ij]);
                if (hb(i) != 2.0 || !(b.bo[ij] >= kHbThreshold) || i == k) continue;
                const double* v = c.t.hbond + ((c.type(i) * nt + c.type(j)) * nt + c.type(k)) * kHbondStride;
                if (v[0] <= 0.0) continue;
                const double* dji = c.data.geometry(b.entry[ij]);
                const Cosine cs = cosine(dji, djk);
                if (!g) {
                    e += hbond_energy_of(b.bo[ij], cs.c, djk[3], v);
                    continue;
                }
                using D = Dual<3>;
                const D E = hbond_energy_of(D::input(b.bo[ij], 0), D::input(cs.c, 1), D::input(djk[3], 2), v);
                e += E.v;
                g->bo[ij] += E.d[0];
                double gi[3], gk[3];
                for (int q = 0; q < 3; ++q) {
                    gi[q] = E.d[1] * cs.du[q];
                    gk[q] = E.d[1] * cs.dv[q] + E.d[2] * djk[q] / djk[3];
                }
                g->add_vector(c, j, b.entry[ij], gi);
                g->add_vector(c, j, pk, gk);
            }
        }
    }
    return e;
}

// The van der Waals and Coulomb energy of a pair at distance r, qq the product of the charges.
template <class T>
struct PairE {
    T ew, ep;
};

// shield = (1 / gamma_w)^p_vdw1 of the pair's types.
template <class T>
PairE<T> pair_energy(const T& r, const double* w, double shield, double qq, const Taper& tap, const Tables& t) {
    using std::cbrt;
    using std::exp;
    using std::pow;
    using std::sqrt;
    constexpr double kCoulomb = 332.06371;  // LAMMPS's C_ele, kcal/mol Å / e^2
    const double p_vdw1 = t.general[28];
    const bool shielded = t.vdw_type == 1 || t.vdw_type == 3, wall = t.vdw_type == 2 || t.vdw_type == 3;
    const T taper = tap(r);
    const T f13 = shielded ? pow(pow(r, p_vdw1) + shield, 1.0 / p_vdw1) : r;
    const T e1 = exp(w[kAlphaVdw] * (1.0 - f13 / w[kRvdw]));
    T ev = w[kDvdw] * (e1 - 2.0 * sqrt(e1));  // exp(x / 2) as sqrt(exp(x)): one exponential
    if (wall) {
        ev += w[kEcore] * exp(w[kAcore] * (1.0 - r / w[kRcore]));
        if (t.lg) ev += -w[kLgcij] / (pow(r, 6.0) + std::pow(w[kLgre], 6.0));
    }
    // LAMMPS takes the cube root as pow(x, 0.33333333333333): so do we
    // LAMMPS takes the cube root as pow(x, 0.33333333333333); cbrt differs by 1e-14 relative
    return {taper * ev, kCoulomb * qq * taper / cbrt(r * r * r + w[kGammaShield])};
}

void nonbonded_energies(const Ctx& c, const double* q, Terms& e, Gradient* g) {
    constexpr double kEvToKcal = 23.02;  // LAMMPS's conversion for the polarisation energy
    const double swa = c.t.general[11], swb = c.t.general[12];
    require(swb > swa && swb <= c.data.cutoff(), "reaxff",
            "the taper radius must exceed the lower one and fit the dataset's cut-off");
    const Taper tap(swa, swb);
    const int nt = c.t.n_types;
    std::vector<double> shield(static_cast<std::size_t>(nt * nt));
    for (int k = 0; k < nt * nt; ++k)
        shield[static_cast<std::size_t>(k)] = std::pow(1.0 / c.t.pair[k * kPairFields + kGammaW], c.t.general[28]);
    for (std::int64_t i = 0; i < c.na; ++i) {
        for (std::int64_t p = c.data.first(c.a0 + i); p < c.data.last(c.a0 + i); ++p) {
            const double* d = c.data.geometry(p);
            const std::int64_t j = c.owner(p);
            if (d[3] > swb || !first_of_pair(i, j, d)) continue;
            const double* w = c.pair(i, j);
            const double sh = shield[static_cast<std::size_t>(c.type(i) * nt + c.type(j))];
            const double qq = q[i] * q[j];
            if (!g) {
                const PairE<double> pe = pair_energy(d[3], w, sh, qq, tap, c.t);
                e.ew += pe.ew;
                e.ep += pe.ep;
                continue;
            }
            const PairE<Dual<1>> pe = pair_energy(Dual<1>::input(d[3], 0), w, sh, qq, tap, c.t);
            e.ew += pe.ew.v;
            e.ep += pe.ep.v;
            const double de_dr = pe.ew.d[0] + pe.ep.d[0];
            const double gv[3] = {de_dr * d[0] / d[3], de_dr * d[1] / d[3], de_dr * d[2] / d[3]};
            g->add_vector(c, i, p, gv);
        }
        const double* ai = c.atom(i);
        e.eqeq += kEvToKcal * (ai[kChi] * q[i] + ai[kEta] / 2.0 * q[i] * q[i]);
    }
}

}  // namespace

Terms evaluate(const Dataset& data, std::int64_t s, const Tables& t, const double* charges, double bond_cut,
               double hbond_cut, Bonds& b, double* forces) {
    require(hbond_cut > 0.0 && hbond_cut <= data.cutoff(), "reaxff",
            "the hydrogen-bond cut-off must be in (0, the dataset's cut-off]");
    check_structure(data, s);
    bonds(data, s, t, bond_cut, b);
    const Ctx c(data, s, t);
    std::optional<Gradient> grad;
    if (forces) grad.emplace(b.bo.size(), c.n());
    Gradient* g = forces ? &*grad : nullptr;
    Terms e;
    e.eb = bond_energy(c, b, g);
    atom_energies(c, b, e, g);
    angle_energies(c, b, e, g);
    torsion_energies(c, b, e, g);
    e.ehb = hbond_energies(c, b, hbond_cut, g);
    nonbonded_energies(c, charges, e, g);
    if (forces) {
        bond_order_gradient(c, t, b, *g);
        for (std::size_t k = 0; k < g->x.size(); ++k) forces[k] = -g->x[k];
    }
    return e;
}

void evaluate_population(const Dataset& data, const Tables* sets, std::int64_t n_sets, const double* charges,
                         double qeq_tolerance, double bond_cut, double hbond_cut, const std::uint8_t* want_forces,
                         const double* ref_forces, double* energies, double* force_sse, double* forces,
                         double* charges_out, int n_threads) {
    for (std::int64_t k = 0; k < n_sets; ++k) {
        try {
            check_tables(sets[k]);
        } catch (const InvalidArgument& e) {
            throw InvalidArgument("individual " + std::to_string(k) + ": " + e.what());
        }
    }
    const std::int64_t ns = data.n_structures(), na = data.n_atoms_total();
    // about 20 us per atom and set with forces (measured: 48 atoms in 0.9 ms)
    const double work_ns = 2e4 * static_cast<double>(n_sets) * static_cast<double>(na);
    parallel_for(0, n_sets * ns, threads_for(work_ns, n_threads), [&](std::int64_t task) {
        const std::int64_t k = task / ns, s = task % ns, a0 = data.atom_offset(s), n = data.n_atoms(s);
        try {
            std::vector<double> q;
            if (charges) q.assign(charges + a0, charges + a0 + n);
            else q = qeq_charges(data, s, sets[k], qeq_tolerance);
            const bool wf = (want_forces && want_forces[s] != 0) || forces;
            std::vector<double> f(wf ? static_cast<std::size_t>(3 * n) : 0);
            Bonds b;
            energies[task] = evaluate(data, s, sets[k], q.data(), bond_cut, hbond_cut, b, wf ? f.data() : nullptr)
                                 .total();
            double sse = 0.0;
            if (want_forces && want_forces[s] != 0) {
                const double* ref = ref_forces + 3 * a0;
                for (std::int64_t c = 0; c < 3 * n; ++c) sse += sq(f[static_cast<std::size_t>(c)] - ref[c]);
            }
            force_sse[task] = sse;
            if (forces) std::copy(f.begin(), f.end(), forces + 3 * (k * na + a0));
            if (charges_out) std::copy(q.begin(), q.end(), charges_out + k * na + a0);
        } catch (const InvalidArgument& e) {
            throw InvalidArgument((n_sets > 1 ? "individual " + std::to_string(k) + ", " : std::string()) +
                                  "structure " + std::to_string(s) + ": " + e.what());
        }
    });
}

std::vector<double> qeq_charges(const Dataset& data, std::int64_t s, const Tables& t, double tolerance) {
    constexpr double kEvAngstrom = 14.4;  // LAMMPS's EV_TO_KCAL_PER_MOL in fix qeq/reaxff: e^2/(4 pi eps0) in eV Å
    const char* where = "reaxff QEq";
    check_structure(data, s);
    require(tolerance >= 0.0 && tolerance < 1.0, where, "the tolerance must be in [0, 1)");
    const double swa = t.general[11], swb = t.general[12];
    require(swb > swa && swb <= data.cutoff(), where, "the taper radius must fit the dataset's cut-off");
    const std::int64_t a0 = data.atom_offset(s), na = data.n_atoms(s);
    const auto type = [&](std::int64_t local) { return static_cast<std::ptrdiff_t>(data.type(a0 + local)); };
    const Taper tap(swa, swb);
    // H as its diagonal and the pairs within the taper radius (each once)
    const auto n = static_cast<std::size_t>(na);
    std::vector<double> diag(n), chi(n);
    struct Entry {
        std::int64_t i, j;
        double v;
    };
    std::vector<Entry> pairs;
    for (std::int64_t i = 0; i < na; ++i) {
        const double* ai = t.atom + type(i) * kAtomFields;
        require(ai[kEta] > 0.0, where, "eta of type " + std::to_string(type(i) + 1) + " must be > 0");
        diag[static_cast<std::size_t>(i)] += ai[kEta];
        chi[static_cast<std::size_t>(i)] = ai[kChi];
        for (std::int64_t p = data.first(a0 + i); p < data.last(a0 + i); ++p) {
            const double* d = data.geometry(p);
            const double r = d[3];
            const std::int64_t j = data.owner(p);
            if (r > swb || !first_of_pair(i, j, d)) continue;
            const double shield = t.pair[(type(i) * t.n_types + type(j)) * kPairFields + kGammaShield];
            // an atom's own image adds twice to its diagonal (the images at d and -d)
            const double v = tap(r) * kEvAngstrom / std::cbrt(r * r * r + shield);
            if (i == j) diag[static_cast<std::size_t>(i)] += 2.0 * v;
            else pairs.push_back({i, j, v});
        }
    }
    std::vector<double> q(n);
    if (tolerance == 0.0 && na <= kQeqDenseMax) {
        // exact: a Cholesky factorisation of the dense matrix, both right-hand sides at once
        Eigen::MatrixXd H = Eigen::MatrixXd::Zero(na, na);
        Eigen::MatrixXd b(na, 2);
        for (std::int64_t i = 0; i < na; ++i) {
            H(i, i) = diag[static_cast<std::size_t>(i)];
            b(i, 0) = -chi[static_cast<std::size_t>(i)];
            b(i, 1) = -1.0;
        }
        for (const Entry& e : pairs) {
            H(e.i, e.j) += e.v;
            H(e.j, e.i) += e.v;
        }
        const Eigen::LLT<Eigen::MatrixXd> llt(H);
        require(llt.info() == Eigen::Success, where,
                "the charge equilibration matrix is not positive definite (hardness eta too small for this geometry)");
        const Eigen::MatrixXd st = llt.solve(b);
        const double u = st.col(0).sum() / st.col(1).sum();
        for (std::int64_t i = 0; i < na; ++i) q[static_cast<std::size_t>(i)] = st(i, 0) - u * st(i, 1);
        return q;
    }
    // conjugate gradients with the diagonal preconditioner, as fix qeq/reaxff: until
    // sqrt(r . M^-1 r) / |b| <= tolerance (its criterion), from zero (not from the last step's
    // charges, so the result depends on the structure alone). H's rows (both halves of every
    // pair) in compressed form; both systems iterate in lockstep on one product with H.
    const double tol = tolerance > 0.0 ? tolerance : 1e-12;
    std::vector<std::int64_t> start(n + 1, 0);
    for (const Entry& e : pairs) {
        ++start[static_cast<std::size_t>(e.i) + 1];
        ++start[static_cast<std::size_t>(e.j) + 1];
    }
    for (std::size_t i = 0; i < n; ++i) start[i + 1] += start[i];
    std::vector<std::int32_t> col(static_cast<std::size_t>(start[n]));
    std::vector<double> val(static_cast<std::size_t>(start[n]));
    {
        std::vector<std::int64_t> at(start.begin(), start.end() - 1);
        for (const Entry& e : pairs) {  // in pair order: every row's entries in a fixed order
            const auto i = static_cast<std::size_t>(e.i), j = static_cast<std::size_t>(e.j);
            col[static_cast<std::size_t>(at[i])] = static_cast<std::int32_t>(j);
            val[static_cast<std::size_t>(at[i]++)] = e.v;
            col[static_cast<std::size_t>(at[j])] = static_cast<std::int32_t>(i);
            val[static_cast<std::size_t>(at[j]++)] = e.v;
        }
    }
    // y = H x for two vectors stored interleaved (x[2 i], x[2 i + 1]). One thread: the product is
    // memory-bound, and threading it per iteration measured no faster idle and 10-20% slower
    // beside two busy processes (3,300 atoms, 2 cores).
    const auto matvec = [&](const std::vector<double>& x, std::vector<double>& y) {
        for (std::size_t i = 0; i < n; ++i) {
            double y0 = diag[i] * x[2 * i], y1 = diag[i] * x[2 * i + 1];
            for (auto k = static_cast<std::size_t>(start[i]); k < static_cast<std::size_t>(start[i + 1]); ++k) {
                const auto j = static_cast<std::size_t>(col[k]);
                y0 += val[k] * x[2 * j];
                y1 += val[k] * x[2 * j + 1];
            }
            y[2 * i] = y0;
            y[2 * i + 1] = y1;
        }
    };
    std::vector<double> x(2 * n, 0.0), r(2 * n), z(2 * n), d(2 * n), h(2 * n);
    for (std::size_t i = 0; i < n; ++i) {
        r[2 * i] = -chi[i];
        r[2 * i + 1] = -1.0;
    }
    double b_norm[2] = {0.0, 0.0}, sig[2] = {0.0, 0.0};
    for (std::size_t i = 0; i < n; ++i)
        for (int c = 0; c < 2; ++c) {
            b_norm[c] += r[2 * i + c] * r[2 * i + c];
            d[2 * i + c] = z[2 * i + c] = r[2 * i + c] / diag[i];
            sig[c] += r[2 * i + c] * z[2 * i + c];
        }
    b_norm[0] = std::sqrt(b_norm[0]);
    b_norm[1] = std::sqrt(b_norm[1]);
    bool active[2] = {true, true};
    for (int it = 0;; ++it) {
        for (int c = 0; c < 2; ++c) active[c] = b_norm[c] > 0.0 && std::sqrt(sig[c]) / b_norm[c] > tol;
        if (!active[0] && !active[1]) break;
        if (it == kQeqMaxIterations) {
            const int c = active[0] ? 0 : 1;
            throw InvalidArgument(std::string(where) + ": conjugate gradients did not converge in " +
                                  std::to_string(kQeqMaxIterations) + " iterations (residual " +
                                  std::to_string(std::sqrt(sig[c]) / b_norm[c]) +
                                  "): the hardness and shielding make the system ill-conditioned");
        }
        matvec(d, h);
        for (int c = 0; c < 2; ++c) {
            if (!active[c]) continue;
            double dh = 0.0;
            for (std::size_t i = 0; i < n; ++i) dh += d[2 * i + c] * h[2 * i + c];
            require(dh > 0.0, where,
                    "the charge equilibration matrix is not positive definite (hardness eta too small for this "
                    "geometry)");
            const double alpha = sig[c] / dh;
            double sig_new = 0.0;
            for (std::size_t i = 0; i < n; ++i) {
                x[2 * i + c] += alpha * d[2 * i + c];
                r[2 * i + c] -= alpha * h[2 * i + c];
                z[2 * i + c] = r[2 * i + c] / diag[i];
                sig_new += r[2 * i + c] * z[2 * i + c];
            }
            const double beta = sig_new / sig[c];
            sig[c] = sig_new;
            for (std::size_t i = 0; i < n; ++i) d[2 * i + c] = z[2 * i + c] + beta * d[2 * i + c];
        }
    }
    double ss = 0.0, ts = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        ss += x[2 * i];
        ts += x[2 * i + 1];
    }
    const double u = ss / ts;
    for (std::size_t i = 0; i < n; ++i) q[i] = x[2 * i] - u * x[2 * i + 1];
    return q;
}

}  // namespace mlsci::forcefield::reaxff
