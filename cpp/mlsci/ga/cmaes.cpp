// CMA-ES with IPOP restarts (see cmaes.hpp).
#include "mlsci/ga/cmaes.hpp"

#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "mlsci/common/error.hpp"
#include "mlsci/common/rng.hpp"

namespace mlsci::ga {

namespace {

using Mat = Eigen::Map<Eigen::MatrixXd>;
using Vec = Eigen::Map<Eigen::VectorXd>;

constexpr std::uint32_t kStartIndex = 0x80000000u;  // the Philox index of a start's uniform mean

// The strategy's constants for dimension d and population lambda (the tutorial's defaults).
struct Constants {
    int mu;
    std::vector<double> w;
    double mueff, cc, cs, c1, cmu, damps, chi_n;
    Constants(int d, int lambda) : mu(lambda / 2), w(static_cast<std::size_t>(lambda / 2)) {
        double sum = 0.0, sum2 = 0.0;
        for (int i = 0; i < mu; ++i) {
            w[static_cast<std::size_t>(i)] = std::log((lambda + 1) / 2.0) - std::log(i + 1.0);
            sum += w[static_cast<std::size_t>(i)];
        }
        for (double& v : w) {
            v /= sum;
            sum2 += v * v;
        }
        mueff = 1.0 / sum2;
        const double n = d;
        cc = (4.0 + mueff / n) / (n + 4.0 + 2.0 * mueff / n);
        cs = (mueff + 2.0) / (n + mueff + 5.0);
        c1 = 2.0 / ((n + 1.3) * (n + 1.3) + mueff);
        cmu = std::min(1.0 - c1, 2.0 * (mueff - 2.0 + 1.0 / mueff) / ((n + 2.0) * (n + 2.0) + mueff));
        damps = 1.0 + 2.0 * std::max(0.0, std::sqrt((mueff - 1.0) / (n + 1.0)) - 1.0) + cs;
        chi_n = std::sqrt(n) * (1.0 - 1.0 / (4.0 * n) + 1.0 / (21.0 * n * n));
    }
};

// A fresh start: mean (unit box) from `start` genes, or uniform; identity covariance.
void new_start(const CmaesConfig& cfg, const CmaesState& st, const double* start) {
    const int d = cfg.dim;
    if (start) {
        for (int i = 0; i < d; ++i)
            st.mean[i] = std::clamp((start[i] - cfg.lower[static_cast<std::size_t>(i)]) /
                                        (cfg.upper[static_cast<std::size_t>(i)] - cfg.lower[static_cast<std::size_t>(i)]),
                                    0.0, 1.0);
    } else {
        Philox rng{cfg.seed, Stream::Cmaes, 0, kStartIndex, static_cast<std::uint32_t>(st.counters[kRestart])};
        for (int i = 0; i < d; ++i) st.mean[i] = rng.uniform();
    }
    Mat C(st.cov, d, d), B(st.basis, d, d);
    C.setIdentity();
    B.setIdentity();
    Vec(st.scales, d).setOnes();
    Vec(st.pc, d).setZero();
    Vec(st.ps, d).setZero();
    st.scalars[0] = cfg.sigma0;
    st.counters[kGenInStart] = 0;
    st.recent[0] = 0.0;
}

// Mirror u into [0, 1] (reflections at both faces, as often as it takes).
double mirror(double u) {
    double t = std::fmod(u, 2.0);
    if (t < 0.0) t += 2.0;
    return t > 1.0 ? 2.0 - t : t;
}

// The state comes from a checkpoint too: its counts must index within the arrays and the
// population be one the run can have made (lambda0 doubled once per restart).
void check_state(const CmaesConfig& cfg, const CmaesState& st) {
    const char* where = "CMAES";
    const std::int64_t restart = st.counters[kRestart], lambda = st.counters[kLambda];
    require(restart >= 0 && restart <= cfg.max_restarts && st.counters[kGeneration] >= 0 &&
                st.counters[kGenInStart] >= 0 && st.counters[kGenInStart] <= st.counters[kGeneration] &&
                st.counters[kEvaluations] >= 0 && (st.counters[kFinished] == 0 || st.counters[kFinished] == 1),
            where, "the state's counters are corrupt");
    const std::int64_t first = cfg.lambda0 > 0 ? cfg.lambda0 : default_lambda(cfg.dim);
    require(lambda == (first << restart), where, "the state's population size is corrupt");
    const double count = st.recent[0];
    require(count >= 0.0 && count <= static_cast<double>(recent_capacity(cfg.dim) - 1) && count == std::floor(count),
            where, "the state's recent values are corrupt");
    require(st.scalars[0] > 0.0 && std::isfinite(st.scalars[0]), where, "the state's step size is corrupt");
}

}  // namespace

int default_lambda(int dim) { return 4 + static_cast<int>(std::floor(3.0 * std::log(static_cast<double>(dim)))); }

std::int64_t recent_capacity(int dim) { return 10 + 30 * std::int64_t{dim} + 2; }

void check_config(const CmaesConfig& cfg) {
    const char* where = "CMAES";
    require(cfg.dim >= 1, where, "the problem needs at least one gene");
    require(cfg.lower.size() == static_cast<std::size_t>(cfg.dim) && cfg.upper.size() == cfg.lower.size(), where,
            "bounds must have one (lower, upper) row per gene");
    for (int i = 0; i < cfg.dim; ++i)
        require(std::isfinite(cfg.lower[static_cast<std::size_t>(i)]) &&
                    std::isfinite(cfg.upper[static_cast<std::size_t>(i)]) &&
                    cfg.lower[static_cast<std::size_t>(i)] < cfg.upper[static_cast<std::size_t>(i)],
                where, "bounds must be finite with lower < upper (gene " + std::to_string(i) + ")");
    require(cfg.lambda0 == 0 || cfg.lambda0 >= 4, where, "population_size must be at least 4");
    require(cfg.sigma0 > 0.0 && cfg.sigma0 <= 1.0, where, "sigma0 must be in (0, 1] (a fraction of each range)");
    require(cfg.tol_fun >= 0.0 && cfg.tol_x >= 0.0, where, "tolerances must be >= 0");
    require(cfg.max_restarts >= 0 && cfg.max_restarts <= 20, where, "max_restarts must be in [0, 20]");
}

void cmaes_init(const CmaesConfig& cfg, const CmaesState& st, const double* start) {
    check_config(cfg);
    for (int k = 0; k < kCounters; ++k) st.counters[k] = 0;
    st.counters[kLambda] = cfg.lambda0 > 0 ? cfg.lambda0 : default_lambda(cfg.dim);
    new_start(cfg, st, start);
    st.scalars[1] = std::numeric_limits<double>::infinity();
    for (int i = 0; i < cfg.dim; ++i)
        st.best_x[i] = cfg.lower[static_cast<std::size_t>(i)] +
                       st.mean[i] * (cfg.upper[static_cast<std::size_t>(i)] - cfg.lower[static_cast<std::size_t>(i)]);
}

void cmaes_ask(const CmaesConfig& cfg, const CmaesState& st, double* steps, double* x) {
    check_state(cfg, st);
    require(st.counters[kFinished] == 0, "CMAES", "the run has finished: every restart has stopped");
    const int d = cfg.dim;
    const auto lambda = static_cast<int>(st.counters[kLambda]);
    // B D from the covariance (a symmetric eigendecomposition each generation: d is small)
    Mat C(st.cov, d, d), B(st.basis, d, d);
    Vec D(st.scales, d);
    const Eigen::MatrixXd sym = 0.5 * (C + C.transpose());
    C = sym;
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(sym);
    require(eig.info() == Eigen::Success, "CMAES", "the covariance matrix could not be decomposed");
    B = eig.eigenvectors();
    for (int i = 0; i < d; ++i) D[i] = std::sqrt(std::max(eig.eigenvalues()[i], 0.0));
    const double sigma = st.scalars[0];
    Eigen::VectorXd z(d), y(d);
    for (int k = 0; k < lambda; ++k) {
        Philox rng{cfg.seed, Stream::Cmaes, static_cast<std::uint32_t>(st.counters[kGeneration]),
                   static_cast<std::uint32_t>(k), static_cast<std::uint32_t>(st.counters[kRestart])};
        for (int i = 0; i < d; ++i) z[i] = rng.normal();
        y.noalias() = B * D.cwiseProduct(z);
        for (int i = 0; i < d; ++i) {
            const double u = mirror(st.mean[i] + sigma * y[i]);
            const auto iu = static_cast<std::size_t>(i);
            steps[static_cast<std::ptrdiff_t>(k) * d + i] = (u - st.mean[i]) / sigma;
            x[static_cast<std::ptrdiff_t>(k) * d + i] = cfg.lower[iu] + u * (cfg.upper[iu] - cfg.lower[iu]);
        }
    }
}

const char* cmaes_tell(const CmaesConfig& cfg, const CmaesState& st, const double* steps, const double* x,
                       const double* f) {
    check_state(cfg, st);
    const int d = cfg.dim;
    const auto lambda = static_cast<int>(st.counters[kLambda]);
    for (int k = 0; k < lambda; ++k)
        if (std::isnan(f[k]))
            throw InvalidArgument("CMAES: the fitness of sample " + std::to_string(k) + " in generation " +
                                  std::to_string(st.counters[kGeneration] + 1) + " is NaN");
    std::vector<int> order(static_cast<std::size_t>(lambda));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return f[a] < f[b]; });
    st.counters[kEvaluations] += lambda;
    const int top = order[0];
    if (f[top] < st.scalars[1]) {
        st.scalars[1] = f[top];
        std::copy(x + static_cast<std::ptrdiff_t>(top) * d, x + static_cast<std::ptrdiff_t>(top + 1) * d, st.best_x);
    }

    const Constants k(d, lambda);
    Mat C(st.cov, d, d), B(st.basis, d, d);
    Vec D(st.scales, d), pc(st.pc, d), ps(st.ps, d), mean(st.mean, d);
    const auto step = [&](int s) { return Eigen::Map<const Eigen::VectorXd>(steps + static_cast<std::ptrdiff_t>(s) * d, d); };
    Eigen::VectorXd yw = Eigen::VectorXd::Zero(d);
    for (int i = 0; i < k.mu; ++i) yw += k.w[static_cast<std::size_t>(i)] * step(order[static_cast<std::size_t>(i)]);
    double& sigma = st.scalars[0];
    mean += sigma * yw;
    for (int i = 0; i < d; ++i) mean[i] = std::clamp(mean[i], 0.0, 1.0);  // a convex combination: only rounding
    const Eigen::VectorXd inv_d = D.unaryExpr([](double v) { return 1.0 / std::max(v, 1e-300); });
    const Eigen::VectorXd c_half_yw = B * inv_d.cwiseProduct(B.transpose() * yw);
    ps = (1.0 - k.cs) * ps + std::sqrt(k.cs * (2.0 - k.cs) * k.mueff) * c_half_yw;
    const std::int64_t g = ++st.counters[kGenInStart];
    ++st.counters[kGeneration];
    const double ps_norm = ps.norm();
    const bool hsig = ps_norm / std::sqrt(1.0 - std::pow(1.0 - k.cs, 2.0 * static_cast<double>(g))) / k.chi_n <
                      1.4 + 2.0 / (d + 1.0);
    pc = (1.0 - k.cc) * pc + (hsig ? std::sqrt(k.cc * (2.0 - k.cc) * k.mueff) : 0.0) * yw;
    Eigen::MatrixXd rank_mu = Eigen::MatrixXd::Zero(d, d);
    for (int i = 0; i < k.mu; ++i) {
        const auto y = step(order[static_cast<std::size_t>(i)]);
        rank_mu.noalias() += k.w[static_cast<std::size_t>(i)] * y * y.transpose();
    }
    const double keep = 1.0 - k.c1 - k.cmu + (hsig ? 0.0 : k.c1 * k.cc * (2.0 - k.cc));
    C = keep * C + k.c1 * pc * pc.transpose() + k.cmu * rank_mu;
    sigma *= std::exp((k.cs / k.damps) * (ps_norm / k.chi_n - 1.0));
    // a flat generation: widen the search (the tutorial's escape)
    const int q = std::max(0, static_cast<int>(std::ceil(0.7 * lambda)) - 1);
    if (f[order[0]] == f[order[static_cast<std::size_t>(q)]]) sigma *= std::exp(0.2 + k.cs / k.damps);
    sigma = std::min(sigma, 1e3);

    // recent bests of this start
    const std::int64_t cap = recent_capacity(d) - 1;
    auto count = static_cast<std::int64_t>(st.recent[0]);
    if (count == cap) {
        std::copy(st.recent + 2, st.recent + 1 + cap, st.recent + 1);
        --count;
    }
    st.recent[1 + count] = f[order[0]];
    st.recent[0] = static_cast<double>(++count);

    const char* reason = "";
    const std::int64_t window = 10 + static_cast<std::int64_t>(std::ceil(30.0 * d / lambda));
    if (g >= window) {
        double lo = f[order[0]], hi = f[order[static_cast<std::size_t>(lambda - 1)]];
        for (std::int64_t i = std::max<std::int64_t>(0, count - window); i < count; ++i) {
            lo = std::min(lo, st.recent[1 + i]);
            hi = std::max(hi, st.recent[1 + i]);
        }
        if (hi - lo < cfg.tol_fun) reason = "tolfun";
    }
    bool small = true;
    for (int i = 0; i < d && small; ++i) small = sigma * std::max(std::fabs(pc[i]), std::sqrt(C(i, i))) < cfg.tol_x;
    if (!*reason && small) reason = "tolx";
    const double dmax = D.maxCoeff(), dmin = D.minCoeff();
    if (!*reason && (dmin <= 0.0 || dmax * dmax > 1e14 * dmin * dmin)) reason = "conditioncov";
    if (!*reason && static_cast<double>(g) > 100 + 50 * (d + 3) * (d + 3) / std::sqrt(static_cast<double>(lambda))) reason = "maxiter";
    if (!*reason && !C.allFinite()) reason = "numerics";
    if (*reason) {
        if (st.counters[kRestart] < cfg.max_restarts) {
            ++st.counters[kRestart];
            st.counters[kLambda] *= 2;
            new_start(cfg, st, nullptr);
        } else {
            st.counters[kFinished] = 1;
        }
    }
    return reason;
}

}  // namespace mlsci::ga
