// SMO for the SVM duals; see smo.hpp. The dual is, for l variables a with labels y_t = +-1,
//   min 1/2 a^T Q a + p^T a   s.t.  y^T a = const,  0 <= a_t <= C_t,   Q_ts = y_t y_s K(x_t, x_s).
// Each iteration picks the maximal violating pair (i, j) by the second-order rule of Fan, Chen &
// Lin (2005), solves the two-variable subproblem in closed form and updates the gradient. That is
// the solver used when the whole kernel matrix is in memory (and for the sigmoid kernel);
// otherwise smo_solve hands the problem to the batched solver (batched_smo.cpp), which meets the
// same stopping criterion.
#include "mlsci/svm/smo.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "mlsci/common/error.hpp"
#include "mlsci/svm/kernel_cache.hpp"
#include "mlsci/svm/smo_detail.hpp"

namespace mlsci::svm {

namespace {

using detail::kInf;
using detail::kTau;

class Solver {
public:
    Solver(KernelRows& K, std::vector<Index> base, std::vector<double> y, std::vector<double> p,
           std::vector<double> C, std::vector<double> alpha)
        : K_(K), base_(std::move(base)), y_(std::move(y)), p_(std::move(p)), C_(std::move(C)),
          a_(std::move(alpha)), l_(static_cast<Index>(a_.size())) {}

    void run(const SmoParams& params, SmoResult& result);
    const std::vector<double>& alpha() const { return a_; }

private:
    enum Bound : std::uint8_t { Lower, Upper, Free };
    std::size_t u(Index t) const { return static_cast<std::size_t>(t); }
    bool at_upper(Index t) const { return status_[u(t)] == Upper; }
    bool at_lower(Index t) const { return status_[u(t)] == Lower; }
    void set_status(Index t) {
        status_[u(t)] = a_[u(t)] >= C_[u(t)] ? Upper : (a_[u(t)] <= 0.0 ? Lower : Free);
    }
    const float* krow(Index t) { return K_.row(base_[u(t)]); }
    // Calls fn(t, K row of t) for t in `vars`, in order, computing the rows the cache lacks in
    // blocks (one GEMM each, far faster than row by row).
    template <class Fn>
    void for_each_row(const std::vector<Index>& vars, Fn&& fn) {
        constexpr std::size_t kChunk = 512;
        std::vector<Index> rows;
        for (std::size_t start = 0; start < vars.size();) {
            const std::size_t end = std::min(vars.size(), start + kChunk);
            rows.clear();
            for (std::size_t k = start; k < end; ++k) rows.push_back(base_[u(vars[k])]);
            const auto got = std::max<std::size_t>(1, static_cast<std::size_t>(
                                                          K_.prefetch(rows.data(), static_cast<Index>(rows.size()))));
            for (std::size_t k = start; k < start + got; ++k) fn(vars[k], krow(vars[k]));
            start += got;
        }
    }
    double kdiag(Index t) const { return K_.diag(base_[u(t)]); }

    // dst[k] += c * y_k * K(t, k) for every variable k, given t's kernel row: contiguous loops
    // (one per half for SVR, whose variable k and k + n share sample k) so they vectorise.
    void add_row(double c, const float* Kt, std::vector<double>& dst) const {
        const Index n = K_.size();
        for (Index h = 0; h < l_; h += n) {
            double* d = dst.data() + h;
            const double* yy = y_.data() + h;
            for (Index k = 0; k < n; ++k) d[k] += c * yy[k] * Kt[k];
        }
    }
    bool select_working_set(Index& i, Index& j);
    void update_pair(Index i, Index j);
    void add_to_gbar(Index t, double sign);
    bool be_shrunk(Index t, double gmax1, double gmax2) const;
    void shrink();
    void reconstruct_gradient();
    double compute_rho() const;

    KernelRows& K_;
    std::vector<Index> base_;  // variable -> training sample (SVR has two variables per sample)
    std::vector<double> y_, p_, C_, a_;
    Index l_;
    double tol_ = 1e-3;
    std::vector<double> G_, Gbar_;  // gradient; the part of it from variables at their upper bound
    std::vector<Bound> status_;
    // Variables by position; positions [0, active_) are active. Shrinking swaps a shrunk variable
    // with the last active one, as libsvm does, so ties between equal gradients (duplicated
    // samples) are broken, and sums taken, in the same order as libsvm's.
    std::vector<Index> order_;
    Index active_ = 0;
    bool unshrink_ = false;
    double gap_ = kInf;  // the maximal violation at the last working-set selection
    void unshrink_all() { active_ = l_; }
};

bool Solver::select_working_set(Index& out_i, Index& out_j) {
    // i: the most violating variable of I_up = {t: y_t = +1, a_t < C_t or y_t = -1, a_t > 0}.
    double gmax = -kInf;
    Index imax = -1;
    for (Index q = 0; q < active_; ++q) {
        const Index t = order_[u(q)];
        if (y_[u(t)] > 0) {
            if (!at_upper(t) && -G_[u(t)] >= gmax) gmax = -G_[u(t)], imax = t;
        } else if (!at_lower(t) && G_[u(t)] >= gmax) {
            gmax = G_[u(t)], imax = t;
        }
    }
    // j: the variable of I_low that most decreases the objective together with i.
    const float* Ki = imax != -1 ? krow(imax) : nullptr;
    const double Kii = imax != -1 ? kdiag(imax) : 0.0;
    double gmax2 = -kInf, best = kInf;
    Index jmin = -1;
    for (Index q = 0; q < active_; ++q) {
        const Index t = order_[u(q)];
        double grad_diff;
        if (y_[u(t)] > 0) {
            if (at_lower(t)) continue;
            gmax2 = std::max(gmax2, G_[u(t)]);
            grad_diff = gmax + G_[u(t)];
        } else {
            if (at_upper(t)) continue;
            gmax2 = std::max(gmax2, -G_[u(t)]);
            grad_diff = gmax - G_[u(t)];
        }
        if (grad_diff > 0.0) {
            double quad = Kii + kdiag(t) - 2.0 * Ki[base_[u(t)]];
            if (quad <= 0.0) quad = kTau;
            const double decrease = -(grad_diff * grad_diff) / quad;
            if (decrease <= best) best = decrease, jmin = t;
        }
    }
    gap_ = gmax + gmax2;
    if (gmax + gmax2 < tol_ || jmin == -1) return true;
    out_i = imax;
    out_j = jmin;
    return false;
}

void Solver::add_to_gbar(Index t, double sign) {
    add_row(sign * C_[u(t)] * y_[u(t)], krow(t), Gbar_);
}

void Solver::update_pair(Index i, Index j) {
    const double Ci = C_[u(i)], Cj = C_[u(j)];
    const double old_ai = a_[u(i)], old_aj = a_[u(j)];
    double ai = old_ai, aj = old_aj;
    const float* Ki = krow(i);
    double quad = kdiag(i) + kdiag(j) - 2.0 * Ki[base_[u(j)]];
    if (quad <= 0.0) quad = kTau;

    const auto step = detail::solve_pair(y_[u(i)], y_[u(j)], G_[u(i)], G_[u(j)], Ci, Cj, ai, aj, quad);
    ai = step.ai;
    aj = step.aj;
    a_[u(i)] = ai;
    a_[u(j)] = aj;

    // Gradient: G_k += Q_ki (a_i - old) + Q_kj (a_j - old) over the active set.
    const double ci = y_[u(i)] * (ai - old_ai), cj = y_[u(j)] * (aj - old_aj);
    Ki = krow(i);
    const float* Kj = krow(j);  // the two most recent rows are both valid
    for (Index q = 0; q < active_; ++q) {
        const Index k = order_[u(q)];
        G_[u(k)] += y_[u(k)] * (ci * Ki[base_[u(k)]] + cj * Kj[base_[u(k)]]);
    }

    const bool i_was_upper = at_upper(i), j_was_upper = at_upper(j);
    set_status(i);
    set_status(j);
    if (i_was_upper != at_upper(i)) add_to_gbar(i, i_was_upper ? -1.0 : 1.0);
    if (j_was_upper != at_upper(j)) add_to_gbar(j, j_was_upper ? -1.0 : 1.0);
}

bool Solver::be_shrunk(Index t, double gmax1, double gmax2) const {
    const double g = G_[u(t)];
    if (at_upper(t)) return y_[u(t)] > 0 ? -g > gmax1 : -g > gmax2;
    if (at_lower(t)) return y_[u(t)] > 0 ? g > gmax2 : g > gmax1;
    return false;
}

void Solver::shrink() {
    // gmax1 = max over I_up of -y G, gmax2 = max over I_low of y G.
    double gmax1 = -kInf, gmax2 = -kInf;
    for (Index q = 0; q < active_; ++q) {
        const Index t = order_[u(q)];
        const double g = G_[u(t)];
        if (y_[u(t)] > 0) {
            if (!at_upper(t)) gmax1 = std::max(gmax1, -g);
            if (!at_lower(t)) gmax2 = std::max(gmax2, g);
        } else {
            if (!at_upper(t)) gmax2 = std::max(gmax2, -g);
            if (!at_lower(t)) gmax1 = std::max(gmax1, g);
        }
    }
    if (!unshrink_ && gmax1 + gmax2 <= tol_ * 10.0) {
        // Close to the end: bring every variable back once, with an exact gradient.
        unshrink_ = true;
        reconstruct_gradient();
        unshrink_all();
    }
    for (Index q = 0; q < active_; ++q) {
        if (!be_shrunk(order_[u(q)], gmax1, gmax2)) continue;
        // Replace it with the last active variable that stays.
        --active_;
        while (active_ > q) {
            if (!be_shrunk(order_[u(active_)], gmax1, gmax2)) {
                std::swap(order_[u(q)], order_[u(active_)]);
                break;
            }
            --active_;
        }
    }
}

void Solver::reconstruct_gradient() {
    // The gradient of the inactive variables from G_bar and the free (hence active) variables.
    if (active_ == l_) return;
    for (Index q = active_; q < l_; ++q) {
        const Index k = order_[u(q)];
        G_[u(k)] = Gbar_[u(k)] + p_[u(k)];
    }
    std::vector<Index> free_vars;
    for (Index q = 0; q < active_; ++q)
        if (status_[u(order_[u(q)])] == Free) free_vars.push_back(order_[u(q)]);
    for_each_row(free_vars, [&](Index t, const float* Kt) {
        const double c = a_[u(t)] * y_[u(t)];
        for (Index r = active_; r < l_; ++r) {
            const Index k = order_[u(r)];
            G_[u(k)] += c * y_[u(k)] * Kt[base_[u(k)]];
        }
    });
}

double Solver::compute_rho() const {
    return detail::compute_rho([&](auto&& fn) {
        for (Index q = 0; q < active_; ++q) {
            const Index t = order_[u(q)];
            fn(y_[u(t)], G_[u(t)], at_upper(t), at_lower(t));
        }
    });
}

void Solver::run(const SmoParams& params, SmoResult& result) {
    tol_ = params.tol;
    status_.resize(u(l_));
    for (Index t = 0; t < l_; ++t) set_status(t);
    order_.resize(u(l_));
    for (Index t = 0; t < l_; ++t) order_[u(t)] = t;
    active_ = l_;

    G_ = p_;
    Gbar_.assign(u(l_), 0.0);
    std::vector<Index> nonzero;  // variables away from 0, in order
    for (Index t = 0; t < l_; ++t)
        if (!at_lower(t)) nonzero.push_back(t);
    for_each_row(nonzero, [&](Index t, const float* Kt) {
        add_row(a_[u(t)] * y_[u(t)], Kt, G_);
        if (at_upper(t)) add_row(C_[u(t)] * y_[u(t)], Kt, Gbar_);
    });

    // libsvm's safety limit when the caller sets none.
    const std::int64_t limit =
        params.max_iter > 0 ? params.max_iter : std::max<std::int64_t>(10'000'000, 100 * static_cast<std::int64_t>(l_));
    std::int64_t iter = 0;
    Index counter = std::min<Index>(l_, 1000) + 1;
    Index i = -1, j = -1;
    while (iter < limit) {
        if (iter % 1000 == 0) {
            check_stop(params.stop);
            if (params.progress && iter > 0) params.progress(gap_, iter);
        }
        if (--counter == 0) {
            counter = std::min<Index>(l_, 1000);
            if (params.shrinking) shrink();
        }
        if (select_working_set(i, j)) {
            reconstruct_gradient();
            unshrink_all();
            if (select_working_set(i, j)) break;
            counter = 1;  // shrink again at the next iteration
        }
        ++iter;
        update_pair(i, j);
    }
    if (iter >= limit) {
        reconstruct_gradient();
        unshrink_all();
    }
    if (params.progress) params.progress(gap_, iter);

    result.rho = compute_rho();
    double obj = 0.0;
    for (Index q = 0; q < l_; ++q) {
        const Index t = order_[u(q)];
        obj += a_[u(t)] * (G_[u(t)] + p_[u(t)]);
    }
    result.objective = obj / 2.0;
    result.n_iter = iter;
    result.status = iter >= limit && params.max_iter > 0 ? 1 : 0;
}

}  // namespace

SmoResult smo_solve(Problem problem, const ConstMatrixView& X, const double* target, const double* upper,
                    double nu, double epsilon, const KernelParams& kernel, const SmoParams& params) {
    const char* where = "smo_solve";
    const Index n = X.rows();
    require(n >= 1, where, "X must have at least one sample");
    require(std::isfinite(params.tol) && params.tol > 0.0, where, "tol must be > 0, got " + std::to_string(params.tol));
    require(params.cache_bytes > 0.0, where, "cache_size must be > 0");
    for (Index t = 0; t < n; ++t)
        require(std::isfinite(upper[t]) && upper[t] > 0.0, where,
                "the upper bound C_i of sample " + std::to_string(t) + " must be > 0, got " + std::to_string(upper[t]));

    const auto un = static_cast<std::size_t>(n);
    std::vector<Index> base;
    std::vector<double> y, p, C, alpha;
    switch (problem) {
        case Problem::CSvc:
            for (Index t = 0; t < n; ++t)
                require(target[t] == 1.0 || target[t] == -1.0, where, "C-SVC labels must be +1 or -1");
            base.resize(un);
            for (Index t = 0; t < n; ++t) base[static_cast<std::size_t>(t)] = t;
            y.assign(target, target + n);
            p.assign(un, -1.0);
            C.assign(upper, upper + n);
            alpha.assign(un, 0.0);
            break;
        case Problem::OneClass: {
            require(nu > 0.0 && nu <= 1.0, where, "nu must be in (0, 1], got " + std::to_string(nu));
            base.resize(un);
            for (Index t = 0; t < n; ++t) base[static_cast<std::size_t>(t)] = t;
            y.assign(un, 1.0);
            p.assign(un, 0.0);
            C.assign(upper, upper + n);
            // A feasible start: sum a = nu * sum C, filled greedily from the first sample.
            double total = 0.0;
            for (const double c : C) total += c;
            double left = nu * total;
            alpha.assign(un, 0.0);
            for (std::size_t t = 0; t < un && left > 0.0; ++t) {
                alpha[t] = std::min(C[t], left);
                left -= alpha[t];
            }
            break;
        }
        case Problem::EpsilonSvr:
            require(std::isfinite(epsilon) && epsilon >= 0.0, where,
                    "epsilon must be >= 0, got " + std::to_string(epsilon));
            // Variables a+ (t < n, y = +1) and a- (t >= n, y = -1) of each sample.
            base.resize(2 * un);
            y.resize(2 * un);
            p.resize(2 * un);
            C.resize(2 * un);
            for (std::size_t t = 0; t < un; ++t) {
                base[t] = base[t + un] = static_cast<Index>(t);
                y[t] = 1.0;
                y[t + un] = -1.0;
                p[t] = epsilon - target[t];
                p[t + un] = epsilon + target[t];
                C[t] = C[t + un] = upper[t];
            }
            alpha.assign(2 * un, 0.0);
            break;
    }

    KernelRows K(X, kernel, params.cache_bytes, params.n_threads);
    SmoResult result;
    // The whole matrix in memory: one pair per iteration, libsvm's path (the same iterates as
    // scikit-learn's). Otherwise batched working sets, which compute each row far fewer times;
    // but not for the sigmoid kernel, which is not positive semi-definite: the dual is then not
    // convex, different paths end at different stationary points, and libsvm's is the one users
    // know.
    if (!K.full_matrix() && kernel.type != KernelType::Sigmoid) {
        detail::solve_batched(K, base, y, p, C, alpha, params, result);
    } else {
        Solver solver(K, base, y, p, C, alpha);
        solver.run(params, result);
        alpha = solver.alpha();
    }
    const auto& a = alpha;
    result.coef.resize(un);
    for (std::size_t t = 0; t < un; ++t) {
        if (problem == Problem::CSvc) result.coef[t] = y[t] * a[t];
        else if (problem == Problem::OneClass) result.coef[t] = a[t];
        else result.coef[t] = a[t] - a[t + un];
    }
    result.full_kernel = K.full_matrix();
    result.kernel_rows = K.rows_computed();
    return result;
}

}  // namespace mlsci::svm
