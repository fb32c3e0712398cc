// ReaxFF: bond orders, every energy term and charge equilibration; see reaxff.hpp.
#include "mlsci/forcefield/reaxff.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>
#include <string>

#include "mlsci/common/error.hpp"

namespace mlsci::forcefield::reaxff {

namespace {

inline double sq(double x) { return x * x; }

// Uncorrected bond order terms BO'_sigma (including the 1 + cut factor), BO'_pi, BO'_pipi.
struct Uncorrected {
    double s = 0.0, pi = 0.0, pi2 = 0.0;
};

Uncorrected uncorrected(double r, const double* ai, const double* aj, const double* q, double bo_cut) {
    Uncorrected u;
    if (ai[kRs] > 0.0 && aj[kRs] > 0.0) u.s = (1.0 + bo_cut) * std::exp(q[kPbo1] * std::pow(r / q[kPRs], q[kPbo2]));
    if (ai[kRpi] > 0.0 && aj[kRpi] > 0.0) u.pi = std::exp(q[kPbo3] * std::pow(r / q[kPRp], q[kPbo4]));
    if (ai[kRpipi] > 0.0 && aj[kRpipi] > 0.0) u.pi2 = std::exp(q[kPbo5] * std::pow(r / q[kPRpp], q[kPbo6]));
    return u;
}

// Atom i's rows of a Bonds table, for range-for.
struct Rows {
    struct It {
        std::size_t v;
        std::size_t operator*() const { return v; }
        It& operator++() {
            ++v;
            return *this;
        }
        bool operator!=(const It& o) const { return v != o.v; }
    };
    std::size_t lo, hi;
    It begin() const { return {lo}; }
    It end() const { return {hi}; }
};

Rows rows(const Bonds& b, std::size_t i) { return {b.first[i], b.first[i + 1]}; }

// Lone pairs of an atom from its total bond order (LAMMPS truncates Delta_e / 2 toward zero).
struct LonePairs {
    double vlpex, nlp, delta_lp;
};

LonePairs lone_pairs(double total_bo, const double* a, double p_lp1) {
    const double delta_e = total_bo - a[kValencyE];
    const double half = std::trunc(delta_e / 2.0);
    const double vlpex = delta_e - 2.0 * half;
    const double nlp = std::exp(-p_lp1 * sq(2.0 + vlpex)) - half;
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
    double operator()(double r) const {  // Horner, in LAMMPS's order
        double v = c[7];
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

void bonds(const Dataset& data, std::int64_t s, const Tables& t, double bond_cut, Bonds& out) {
    require(s >= 0 && s < data.n_structures(), "reaxff", "no such structure");
    require(data.n_types() == t.n_types, "reaxff", "the tables' type count differs from the dataset's");
    require(bond_cut > 0.0 && bond_cut <= data.cutoff(), "reaxff",
            "the bond cut-off must be in (0, the dataset's cut-off]");
    const int nt = t.n_types;
    const double* gp = t.general;
    const double bo_cut = 0.01 * gp[29];
    const double p_boc1 = gp[0], p_boc2 = gp[1];
    const std::int64_t a0 = data.atom_offset(s), na = data.n_atoms(s);
    const auto atom = [&](std::int64_t local) { return t.atom + data.type(a0 + local) * kAtomFields; };
    const auto pair = [&](std::int64_t i, std::int64_t j) {
        return t.pair + (static_cast<std::ptrdiff_t>(data.type(a0 + i)) * nt + data.type(a0 + j)) * kPairFields;
    };

    out = Bonds{};
    std::vector<double> total_p(static_cast<std::size_t>(na), 0.0);
    // Uncorrected bond orders (sigma and total with the cut-off subtracted, as LAMMPS keeps them).
    for (std::int64_t i = 0; i < na; ++i) {
        for (std::int64_t p = data.first(a0 + i); p < data.last(a0 + i); ++p) {
            const double* g = data.geometry(p);
            if (g[3] > bond_cut) continue;
            const std::int32_t j = data.owner(p);
            const Uncorrected u = uncorrected(g[3], atom(i), atom(j), pair(i, j), bo_cut);
            const double bo = u.s + u.pi + u.pi2;
            if (bo < bo_cut) continue;
            out.atom.push_back(static_cast<std::int32_t>(i));
            out.entry.push_back(p);
            out.bo.push_back(bo - bo_cut);
            out.bo_s.push_back(u.s - bo_cut);
            out.bo_pi.push_back(u.pi);
            out.bo_pi2.push_back(u.pi2);
            total_p[static_cast<std::size_t>(i)] += bo - bo_cut;
        }
    }
    // rows were found atom by atom: atom i's are contiguous
    out.first.assign(static_cast<std::size_t>(na) + 1, 0);
    for (const std::int32_t i : out.atom) ++out.first[static_cast<std::size_t>(i) + 1];
    for (std::size_t i = 0; i < static_cast<std::size_t>(na); ++i) out.first[i + 1] += out.first[i];
    std::vector<double> deltap(static_cast<std::size_t>(na)), deltap_boc(static_cast<std::size_t>(na));
    for (std::int64_t i = 0; i < na; ++i) {
        deltap[static_cast<std::size_t>(i)] = total_p[static_cast<std::size_t>(i)] - atom(i)[kValency];
        deltap_boc[static_cast<std::size_t>(i)] = total_p[static_cast<std::size_t>(i)] - atom(i)[kValencyVal];
    }
    // Corrected bond orders: f1 (over-coordination) and f4 f5 (1-3 bond orders). The formulas
    // are symmetric in i and j, so both directions of a bond get the same values.
    out.total_bo.assign(static_cast<std::size_t>(na), 0.0);
    for (std::size_t b = 0; b < out.bo.size(); ++b) {
        const std::int64_t i = out.atom[b], j = data.owner(out.entry[b]);
        const double* q = pair(i, j);
        double bo = out.bo[b], bo_s = out.bo_s[b], bo_pi = out.bo_pi[b], bo_pi2 = out.bo_pi2[b];
        if (q[kOvc] >= 0.001 || q[kV13cor] >= 0.001) {
            const double di = deltap[static_cast<std::size_t>(i)], dj = deltap[static_cast<std::size_t>(j)];
            double f1 = 1.0, f4f5 = 1.0;
            if (q[kOvc] >= 0.001) {
                const double vi = atom(i)[kValency], vj = atom(j)[kValency];
                const double f2 = std::exp(-p_boc1 * di) + std::exp(-p_boc1 * dj);
                const double f3 = -1.0 / p_boc2 * std::log(0.5 * (std::exp(-p_boc2 * di) + std::exp(-p_boc2 * dj)));
                f1 = 0.5 * ((vi + f2) / (vi + f2 + f3) + (vj + f2) / (vj + f2 + f3));
            }
            if (q[kV13cor] >= 0.001) {
                const double x = q[kPboc4] * sq(bo);
                const double f4 = 1.0 / (1.0 + std::exp(-(x - deltap_boc[static_cast<std::size_t>(i)]) * q[kPboc3] +
                                                        q[kPboc5]));
                const double f5 = 1.0 / (1.0 + std::exp(-(x - deltap_boc[static_cast<std::size_t>(j)]) * q[kPboc3] +
                                                        q[kPboc5]));
                f4f5 = f4 * f5;
            }
            const double a0f = f1 * f4f5;
            bo *= a0f;
            bo_pi *= a0f * f1;
            bo_pi2 *= a0f * f1;
            bo_s = bo - (bo_pi + bo_pi2);
        }
        if (bo < 1e-10) bo = 0.0;
        if (bo_s < 1e-10) bo_s = 0.0;
        if (bo_pi < 1e-10) bo_pi = 0.0;
        if (bo_pi2 < 1e-10) bo_pi2 = 0.0;
        out.bo[b] = bo;
        out.bo_s[b] = bo_s;
        out.bo_pi[b] = bo_pi;
        out.bo_pi2[b] = bo_pi2;
        out.total_bo[static_cast<std::size_t>(i)] += bo;
    }
    // Finite parameters can still overflow a bond order (a huge exponent): refuse, rather than
    // carry inf or NaN into every term (and into integer conversions there).
    for (std::int64_t i = 0; i < na; ++i)
        require(std::isfinite(out.total_bo[static_cast<std::size_t>(i)]), "reaxff",
                "the bond orders of atom " + std::to_string(i) + " are not finite: the parameters (p_bo exponents, "
                "radii) make them overflow");
    // Bond energy, half of each direction; C-O bonds (or all, when general[37] == 2) of order
    // above 1 get the terminal triple-bond stabilisation.
    const double gp3 = gp[3], gp4 = gp[4], gp7 = gp[7], gp10 = gp[10];
    const bool all_triple = gp[37] >= 2.0 && gp[37] < 3.0;  // LAMMPS: (int) gp[37] == 2
    const auto is = [](double mass, double m) { return std::fabs(mass - m) < 1e-4; };
    double e = 0.0;
    for (std::size_t b = 0; b < out.bo.size(); ++b) {
        const std::int64_t i = out.atom[b], j = data.owner(out.entry[b]);
        const double* q = pair(i, j);
        const double pow_be2 = out.bo_s[b] == 0.0 ? 0.0 : std::pow(out.bo_s[b], q[kPbe2]);
        const double eb = -q[kDeS] * out.bo_s[b] * std::exp(q[kPbe1] * (1.0 - pow_be2)) - q[kDeP] * out.bo_pi[b] -
                          q[kDePP] * out.bo_pi2[b];
        e += 0.5 * eb;
        const double mi = atom(i)[kMass], mj = atom(j)[kMass];
        if (out.bo[b] >= 1.0 && (all_triple || (is(mi, 12.0) && is(mj, 15.999)) || (is(mj, 12.0) && is(mi, 15.999)))) {
            const double ti = out.total_bo[static_cast<std::size_t>(i)], tj = out.total_bo[static_cast<std::size_t>(j)];
            const double delta_i = ti - atom(i)[kValency], delta_j = tj - atom(j)[kValency];
            const double exphu = std::exp(-gp7 * sq(out.bo[b] - 2.5));
            const double hulpov = 1.0 / (1.0 + 25.0 * std::exp(gp4 * (delta_i + delta_j)));
            e += 0.5 * gp10 * exphu * hulpov * (std::exp(-gp3 * (ti - out.bo[b])) + std::exp(-gp3 * (tj - out.bo[b])));
        }
    }
    out.e_bond = e;
}

AtomEnergies atom_energies(const Dataset& data, std::int64_t s, const Tables& t, const Bonds& b) {
    const double* gp = t.general;
    const double p_lp1 = gp[15], p_lp3 = gp[5], p_ovun3 = gp[32], p_ovun4 = gp[31], p_ovun6 = gp[6], p_ovun7 = gp[8],
                 p_ovun8 = gp[9];
    const std::int64_t a0 = data.atom_offset(s), na = data.n_atoms(s);
    const auto atom = [&](std::int64_t local) { return t.atom + data.type(a0 + local) * kAtomFields; };
    const auto pair = [&](std::int64_t i, std::int64_t j) {
        return t.pair + (static_cast<std::ptrdiff_t>(data.type(a0 + i)) * t.n_types + data.type(a0 + j)) * kPairFields;
    };
    const auto n = static_cast<std::size_t>(na);
    // Per atom: Delta, the lone-pair deficit Delta_lp and the value the coordination terms use.
    std::vector<double> delta(n), delta_lp(n), delta_lp_temp(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double* a = atom(static_cast<std::int64_t>(i));
        delta[i] = b.total_bo[i] - a[kValency];
        delta_lp[i] = lone_pairs(b.total_bo[i], a, p_lp1).delta_lp;
        delta_lp_temp[i] = a[kMass] > 21.0 ? 0.0 : delta_lp[i];  // heavier atoms: nlp_opt - nlp_opt
    }
    AtomEnergies e;
    for (std::size_t i = 0; i < n; ++i) {
        const double* a = atom(static_cast<std::int64_t>(i));
        // Lone pairs (LAMMPS counts atoms without bonds too: its enobonds default).
        e.e_lp += a[kPlp2] * delta_lp[i] / (1.0 + std::exp(-75.0 * delta_lp[i]));
        if (p_lp3 > 0.001 && a[kIsCarbon] != 0.0) {  // C2 correction
            for (const std::size_t k : rows(b, i)) {
                const std::int64_t j = data.owner(b.entry[k]);
                if (atom(j)[kIsCarbon] == 0.0) continue;
                const double di = delta[i];
                const double vov3 = b.bo[k] - di - 0.040 * std::pow(di, 4.0);
                if (vov3 > 3.0) e.e_lp += p_lp3 * sq(vov3 - 3.0);
            }
        }
        // Over- and under-coordination.
        const double dfvl = a[kMass] > 21.0 ? 0.0 : 1.0;
        double sum1 = 0.0, sum2 = 0.0;
        for (const std::size_t k : rows(b, i)) {
            const auto j = static_cast<std::size_t>(data.owner(b.entry[k]));
            const double* q = pair(static_cast<std::int64_t>(i), static_cast<std::int64_t>(j));
            sum1 += q[kPovun1] * q[kDeS] * b.bo[k];
            sum2 += (delta[j] - dfvl * delta_lp_temp[j]) * (b.bo_pi[k] + b.bo_pi2[k]);
        }
        const double exp_ovun1 = p_ovun3 * std::exp(p_ovun4 * sum2);
        const double lpcorr = delta[i] - dfvl * delta_lp_temp[i] / (1.0 + exp_ovun1);
        const double exp_ovun2 = std::exp(a[kPovun2] * lpcorr);
        e.e_over_under += sum1 * lpcorr / (lpcorr + a[kValency] + 1e-8) / (1.0 + exp_ovun2);
        const double exp_ovun8 = p_ovun7 * std::exp(p_ovun8 * sum2);
        e.e_over_under += -a[kPovun5] * (1.0 - std::exp(p_ovun6 * lpcorr)) / (1.0 + 1.0 / exp_ovun2) /
                          (1.0 + exp_ovun8);
    }
    return e;
}

AngleEnergies angle_energies(const Dataset& data, std::int64_t s, const Tables& t, const Bonds& b) {
    constexpr double kThbCut = 0.001, kThbCutSq = 0.00001;  // LAMMPS's defaults
    constexpr double kPi = 3.14159265;  // LAMMPS's ReaxFF converts degrees with this pi: so do we
    const double* gp = t.general;
    const double p_val6 = gp[14], p_val8 = gp[33], p_val9 = gp[16], p_val10 = gp[17];
    const double p_pen2 = gp[19], p_pen3 = gp[20], p_pen4 = gp[21];
    const double p_coa2 = gp[2], p_coa3 = gp[38], p_coa4 = gp[30], p_lp1 = gp[15];
    const int nt = t.n_types;
    const std::int64_t a0 = data.atom_offset(s), na = data.n_atoms(s);
    const auto type = [&](std::int64_t local) { return data.type(a0 + local); };
    const auto atom = [&](std::int64_t local) { return t.atom + type(local) * kAtomFields; };
    const auto n = static_cast<std::size_t>(na);

    AngleEnergies e;
    for (std::size_t j = 0; j < n; ++j) {
        const double* aj = atom(static_cast<std::int64_t>(j));
        const double tot = b.total_bo[j];
        const double delta = tot - aj[kValency], delta_boc = tot - aj[kValencyBoc], delta_val = tot - aj[kValencyVal];
        const LonePairs lp = lone_pairs(tot, aj, p_lp1);
        double sbop = 0.0, prod_sbo = 1.0;
        for (const std::size_t q : rows(b, j)) {
            sbop += b.bo_pi[q] + b.bo_pi2[q];
            double x = sq(b.bo[q]);
            x *= x;
            x *= x;
            prod_sbo *= std::exp(-x);
        }
        const double vlpadj = lp.vlpex >= 0 ? 0.0 : lp.nlp;
        const double sbo = sbop + (1.0 - prod_sbo) * (-delta_boc - p_val8 * vlpadj);
        double sbo2;
        if (sbo <= 0) sbo2 = 0.0;
        else if (sbo <= 1) sbo2 = std::pow(sbo, p_val9);
        else if (sbo < 2) sbo2 = 2.0 - std::pow(2.0 - sbo, p_val9);
        else sbo2 = 2.0;
        const double expval6 = std::exp(p_val6 * delta_boc);
        const double p_val3 = aj[kPval3], p_val5 = aj[kPval5];
        const Rows list = rows(b, j);
        for (std::size_t bij = list.lo; bij < list.hi; ++bij) {
            const double boa_ij = b.bo[bij] - kThbCut;
            if (!(boa_ij > 0.0)) continue;
            const auto i = static_cast<std::int64_t>(data.owner(b.entry[bij]));
            const double* gij = data.geometry(b.entry[bij]);
            for (std::size_t bjk = bij + 1; bjk < list.hi; ++bjk) {
                const double boa_jk = b.bo[bjk] - kThbCut;
                if (!(boa_jk > 0.0 && b.bo[bij] > kThbCut && b.bo[bjk] > kThbCut && b.bo[bij] * b.bo[bjk] > kThbCutSq))
                    continue;
                const auto k = static_cast<std::int64_t>(data.owner(b.entry[bjk]));
                const double* gjk = data.geometry(b.entry[bjk]);
                double cos_t = (gij[0] * gjk[0] + gij[1] * gjk[1] + gij[2] * gjk[2]) / (gij[3] * gjk[3]);
                cos_t = std::fmin(1.0, std::fmax(-1.0, cos_t));
                const double theta = std::acos(cos_t);
                const double* sets = t.angle + ((static_cast<std::ptrdiff_t>(type(i)) * nt + type(static_cast<std::int64_t>(j))) *
                                                    nt + type(k)) * kAngleStride;
                for (int c = 0; c < static_cast<int>(sets[0]); ++c) {
                    const double* v = sets + 1 + c * kAngleValues;
                    const double theta_00 = v[0], p_val1 = v[1], p_val2 = v[2], p_coa1 = v[3], p_val7 = v[4],
                                 p_pen1 = v[5], p_val4 = v[6];
                    if (!(std::fabs(p_val1) > 0.001)) continue;
                    const double f7_ij = 1.0 - std::exp(-p_val3 * std::pow(boa_ij, p_val4));
                    const double f7_jk = 1.0 - std::exp(-p_val3 * std::pow(boa_jk, p_val4));
                    const double expval7 = std::exp(-p_val7 * delta_boc);
                    const double trm8 = 1.0 + expval6 + expval7;
                    const double f8 = p_val5 - (p_val5 - 1.0) * (2.0 + expval6) / trm8;
                    const double theta_0 = (180.0 - theta_00 * (1.0 - std::exp(-p_val10 * (2.0 - sbo2)))) * kPi / 180.0;
                    const double expval2theta = std::exp(-p_val2 * sq(theta_0 - theta));
                    const double expval12theta = p_val1 >= 0 ? p_val1 * (1.0 - expval2theta) : p_val1 * -expval2theta;
                    e.e_angle += f7_ij * f7_jk * f8 * expval12theta;

                    const double exp_pen3 = std::exp(-p_pen3 * delta), exp_pen4 = std::exp(p_pen4 * delta);
                    const double f9 = (2.0 + exp_pen3) / (1.0 + exp_pen3 + exp_pen4);
                    e.e_penalty += p_pen1 * f9 * std::exp(-p_pen2 * sq(boa_ij - 2.0)) * std::exp(-p_pen2 * sq(boa_jk - 2.0));

                    const double exp_coa2 = std::exp(p_coa2 * delta_val);
                    e.e_coalition += p_coa1 / (1.0 + exp_coa2) *
                                     std::exp(-p_coa3 * sq(b.total_bo[static_cast<std::size_t>(i)] - boa_ij)) *
                                     std::exp(-p_coa3 * sq(b.total_bo[static_cast<std::size_t>(k)] - boa_jk)) *
                                     std::exp(-p_coa4 * sq(boa_ij - 1.5)) * std::exp(-p_coa4 * sq(boa_jk - 1.5));
                }
            }
        }
    }
    return e;
}

TorsionEnergies torsion_energies(const Dataset& data, std::int64_t s, const Tables& t, const Bonds& b) {
    constexpr double kThbCut = 0.001;  // LAMMPS's default
    const double* gp = t.general;
    const double p_tor2 = gp[23], p_tor3 = gp[24], p_tor4 = gp[25], p_cot2 = gp[27];
    const int nt = t.n_types;
    const std::int64_t a0 = data.atom_offset(s), na = data.n_atoms(s);
    const auto type = [&](std::int64_t local) { return static_cast<std::ptrdiff_t>(data.type(a0 + local)); };
    const auto n = static_cast<std::size_t>(na);
    const auto owner = [&](std::size_t q) { return static_cast<std::int64_t>(data.owner(b.entry[q])); };
    const auto vec = [&](std::size_t q) { return data.geometry(b.entry[q]); };  // dx, dy, dz, r
    const auto dot = [](const double* u, const double* v) { return u[0] * v[0] + u[1] * v[1] + u[2] * v[2]; };
    const auto angle_sin = [&](const double* u, const double* v) {  // sin of the angle between two bonds
        const double c = std::fmin(1.0, std::fmax(-1.0, dot(u, v) / (u[3] * v[3])));
        return std::sin(std::acos(c));
    };

    TorsionEnergies e;
    for (std::size_t j = 0; j < n; ++j) {
        const double* aj = t.atom + type(static_cast<std::int64_t>(j)) * kAtomFields;
        const double delta_j = b.total_bo[j] - aj[kValencyBoc];
        for (const std::size_t jk : rows(b, j)) {
            const auto k = static_cast<std::size_t>(owner(jk));
            const double* djk = vec(jk);
            // each central bond once: from the lower atom, or for a bond to its own image, along
            // the image's positive direction (z, then y, then x), as LAMMPS orders them
            if (j > k) continue;
            if (j == k && (djk[2] < 0 || (djk[2] == 0 && (djk[1] < 0 || (djk[1] == 0 && djk[0] < 0))))) continue;
            if (!(b.bo[jk] > kThbCut)) continue;
            const double boa_jk = b.bo[jk] - kThbCut;
            const double* ak = t.atom + type(static_cast<std::int64_t>(k)) * kAtomFields;
            const double delta_k = b.total_bo[k] - ak[kValencyBoc];
            const double exp_tor2_jk = std::exp(-p_tor2 * boa_jk);
            const double exp_cot2_jk = std::exp(-p_cot2 * sq(boa_jk - 1.5));
            const double exp_tor3 = std::exp(-p_tor3 * (delta_j + delta_k)), exp_tor4 = std::exp(p_tor4 * (delta_j + delta_k));
            const double f11 = (2.0 + exp_tor3) / (1.0 + exp_tor3 + exp_tor4);
            // k's bond back to j: the entry of k's list to j's image at -djk
            for (const std::size_t ij : rows(b, j)) {
                if (ij == jk || !(b.bo[ij] > kThbCut)) continue;
                const auto i = owner(ij);
                const double* dji = vec(ij);
                const double sin_ijk = angle_sin(dji, djk);
                const double boa_ij = b.bo[ij] - kThbCut;
                for (const std::size_t kl : rows(b, k)) {
                    const double* dkl = vec(kl);
                    const auto l = owner(kl);
                    // skip k's bond back to j (the same atom and image)
                    if (static_cast<std::size_t>(l) == j && std::fabs(dkl[0] + djk[0]) < 1e-9 &&
                        std::fabs(dkl[1] + djk[1]) < 1e-9 && std::fabs(dkl[2] + djk[2]) < 1e-9)
                        continue;
                    // i and l the same atom (and image): no torsion
                    if (l == i && std::fabs(djk[0] + dkl[0] - dji[0]) < 1e-9 && std::fabs(djk[1] + dkl[1] - dji[1]) < 1e-9 &&
                        std::fabs(djk[2] + dkl[2] - dji[2]) < 1e-9)
                        continue;
                    if (!(b.bo[kl] > kThbCut) || !(b.bo[ij] * b.bo[jk] * b.bo[kl] > kThbCut)) continue;
                    const double* v = t.torsion +
                                      (((type(i) * nt + type(static_cast<std::int64_t>(j))) * nt + type(static_cast<std::int64_t>(k))) * nt +
                                       type(l)) * kTorsionStride;
                    if (v[0] == 0.0) continue;
                    const double V1 = v[1], V2 = v[2], V3 = v[3], p_tor1 = v[4], p_cot1 = v[5];
                    // the k-centred angle is between k's bonds to j (-djk) and to l
                    const double mjk[4] = {-djk[0], -djk[1], -djk[2], djk[3]};
                    const double sin_jkl = angle_sin(mjk, dkl);
                    // dihedral: LAMMPS's vectors are i - j, k - j, l - k
                    double cross[3] = {djk[1] * dkl[2] - djk[2] * dkl[1], djk[2] * dkl[0] - djk[0] * dkl[2],
                                       djk[0] * dkl[1] - djk[1] * dkl[0]};
                    const double cos_u = -dot(dji, djk) * dot(djk, dkl) + sq(djk[3]) * dot(dji, dkl);
                    const double sin_u = -djk[3] * dot(dji, cross);
                    const double omega = std::atan2(sin_u, cos_u);
                    const double cos_w = std::cos(omega), cos2w = std::cos(2.0 * omega), cos3w = std::cos(3.0 * omega);
                    const double boa_kl = b.bo[kl] - kThbCut;
                    const double exp_tor1 = std::exp(p_tor1 * sq(2.0 - b.bo_pi[jk] - f11));
                    const double fn10 = (1.0 - std::exp(-p_tor2 * boa_ij)) * (1.0 - exp_tor2_jk) *
                                        (1.0 - std::exp(-p_tor2 * boa_kl));
                    const double cv = 0.5 * (V1 * (1.0 + cos_w) + V2 * exp_tor1 * (1.0 - cos2w) + V3 * (1.0 + cos3w));
                    e.e_torsion += fn10 * sin_ijk * sin_jkl * cv;
                    const double fn12 = std::exp(-p_cot2 * sq(boa_ij - 1.5)) * exp_cot2_jk * std::exp(-p_cot2 * sq(boa_kl - 1.5));
                    e.e_conjugation += p_cot1 * fn12 * (1.0 + (sq(cos_w) - 1.0) * sin_ijk * sin_jkl);
                }
            }
        }
    }
    return e;
}

double hbond_energy(const Dataset& data, std::int64_t s, const Tables& t, const Bonds& b, double hbond_cut) {
    require(hbond_cut <= data.cutoff(), "reaxff", "the hydrogen-bond cut-off exceeds the dataset's");
    constexpr double kHbThreshold = 0.01;  // LAMMPS's HB_THRESHOLD
    const int nt = t.n_types;
    const std::int64_t a0 = data.atom_offset(s), na = data.n_atoms(s);
    const auto type = [&](std::int64_t local) { return static_cast<std::ptrdiff_t>(data.type(a0 + local)); };
    // p_hbond arrives truncated to an integer value (as LAMMPS reads it): 1 hydrogen, 2 donor/acceptor
    const auto hb = [&](std::int64_t local) { return t.atom[type(local) * kAtomFields + kPhbond]; };
    double e = 0.0;
    for (std::int64_t j = 0; j < na; ++j) {
        if (hb(j) != 1.0) continue;
        for (std::int64_t pk = data.first(a0 + j); pk < data.last(a0 + j); ++pk) {
            const double* djk = data.geometry(pk);
            const std::int64_t k = data.owner(pk);
            if (djk[3] > hbond_cut || hb(k) != 2.0) continue;
            for (const std::size_t ij : rows(b, static_cast<std::size_t>(j))) {
                const std::int64_t i = data.owner(b.entry[ij]);
                if (hb(i) != 2.0 || !(b.bo[ij] >= kHbThreshold) || i == k) continue;
                const double* v = t.hbond + ((type(i) * nt + type(j)) * nt + type(k)) * kHbondStride;
                const double r0 = v[0], p_hb1 = v[1], p_hb2 = v[2], p_hb3 = v[3];
                if (r0 <= 0.0) continue;
                const double* dji = data.geometry(b.entry[ij]);
                double c = (dji[0] * djk[0] + dji[1] * djk[1] + dji[2] * djk[2]) / (dji[3] * djk[3]);
                c = std::fmin(1.0, std::fmax(-1.0, c));
                const double half = std::sin(std::acos(c) / 2.0);
                const double sin4 = sq(sq(half));
                e += p_hb1 * (1.0 - std::exp(-p_hb2 * b.bo[ij])) *
                     std::exp(-p_hb3 * (r0 / djk[3] + djk[3] / r0 - 2.0)) * sin4;
            }
        }
    }
    return e;
}

NonbondedEnergies nonbonded_energies(const Dataset& data, std::int64_t s, const Tables& t, const double* q) {
    constexpr double kCoulomb = 332.06371;     // LAMMPS's C_ele, kcal/mol Å / e^2
    constexpr double kEvToKcal = 23.02;        // LAMMPS's conversion for the polarisation energy
    const double* gp = t.general;
    const double swa = gp[11], swb = gp[12], p_vdw1 = gp[28];
    require(swb > swa && swb <= data.cutoff(), "reaxff", "the taper radius must exceed the lower one and fit "
                                                         "the dataset's cut-off");
    const Taper tap(swa, swb);
    const bool shielded = t.vdw_type == 1 || t.vdw_type == 3, wall = t.vdw_type == 2 || t.vdw_type == 3;
    const std::int64_t a0 = data.atom_offset(s), na = data.n_atoms(s);
    const auto type = [&](std::int64_t local) { return static_cast<std::ptrdiff_t>(data.type(a0 + local)); };
    NonbondedEnergies e;
    for (std::int64_t i = 0; i < na; ++i) {
        for (std::int64_t p = data.first(a0 + i); p < data.last(a0 + i); ++p) {
            const double r = data.geometry(p)[3];
            if (r > swb) continue;
            const std::int64_t j = data.owner(p);
            const double* w = t.pair + (type(i) * t.n_types + type(j)) * kPairFields;
            const double taper = tap(r);
            const double f13 = shielded ? std::pow(std::pow(r, p_vdw1) + std::pow(1.0 / w[kGammaW], p_vdw1), 1.0 / p_vdw1)
                                        : r;
            double ev = w[kDvdw] * (std::exp(w[kAlphaVdw] * (1.0 - f13 / w[kRvdw])) -
                                    2.0 * std::exp(0.5 * w[kAlphaVdw] * (1.0 - f13 / w[kRvdw])));
            if (wall) {
                ev += w[kEcore] * std::exp(w[kAcore] * (1.0 - r / w[kRcore]));
                if (t.lg) ev += -w[kLgcij] / (std::pow(r, 6.0) + std::pow(w[kLgre], 6.0));
            }
            // each pair is seen from both atoms: half each time
            e.e_vdw += 0.5 * taper * ev;
            // LAMMPS takes the cube root as pow(x, 0.33333333333333): so do we
            e.e_coulomb += 0.5 * kCoulomb * q[i] * q[j] * taper / std::pow(r * r * r + w[kGammaShield], 0.33333333333333);
        }
        const double* ai = t.atom + type(i) * kAtomFields;
        e.e_polarization += kEvToKcal * (ai[kChi] * q[i] + ai[kEta] / 2.0 * q[i] * q[i]);
    }
    return e;
}

std::vector<double> qeq_charges(const Dataset& data, std::int64_t s, const Tables& t) {
    constexpr double kEvAngstrom = 14.4;  // LAMMPS's EV_TO_KCAL_PER_MOL in fix qeq/reaxff: e^2/(4 pi eps0) in eV Å
    const char* where = "reaxff QEq";
    const double swa = t.general[11], swb = t.general[12];
    require(swb > swa && swb <= data.cutoff(), where, "the taper radius must fit the dataset's cut-off");
    const std::int64_t a0 = data.atom_offset(s), na = data.n_atoms(s);
    require(na <= 20000, where, "at most 20,000 atoms (a dense factorisation)");
    const auto type = [&](std::int64_t local) { return static_cast<std::ptrdiff_t>(data.type(a0 + local)); };
    const Taper tap(swa, swb);
    Eigen::MatrixXd H = Eigen::MatrixXd::Zero(na, na);
    Eigen::MatrixXd b(na, 2);
    for (std::int64_t i = 0; i < na; ++i) {
        const double* ai = t.atom + type(i) * kAtomFields;
        require(ai[kEta] > 0.0, where, "eta of type " + std::to_string(type(i) + 1) + " must be > 0");
        H(i, i) += ai[kEta];
        b(i, 0) = -ai[kChi];
        b(i, 1) = -1.0;
        for (std::int64_t p = data.first(a0 + i); p < data.last(a0 + i); ++p) {
            const double r = data.geometry(p)[3];
            if (r > swb) continue;
            const std::int64_t j = data.owner(p);
            const double shield = t.pair[(type(i) * t.n_types + type(j)) * kPairFields + kGammaShield];
            // both directions of a pair are in the list: each adds its half of the symmetric entry
            const double half = 0.5 * tap(r) * kEvAngstrom / std::pow(r * r * r + shield, 1.0 / 3.0);
            H(i, j) += half;
            H(j, i) += half;
        }
    }
    const Eigen::LLT<Eigen::MatrixXd> llt(H);
    require(llt.info() == Eigen::Success, where,
            "the charge equilibration matrix is not positive definite (hardness eta too small for this geometry)");
    const Eigen::MatrixXd st = llt.solve(b);
    const double u = st.col(0).sum() / st.col(1).sum();
    std::vector<double> q(static_cast<std::size_t>(na));
    for (std::int64_t i = 0; i < na; ++i) q[static_cast<std::size_t>(i)] = st(i, 0) - u * st(i, 1);
    return q;
}

}  // namespace mlsci::forcefield::reaxff
