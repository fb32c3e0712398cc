// Built-in target densities (see targets.hpp).
#include "mlsci/mcmc/targets.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <Eigen/QR>
#include <algorithm>
#include <cmath>
#include <limits>

#include "mlsci/common/error.hpp"

namespace mlsci::mcmc {

namespace {

constexpr double kLog2Pi = 1.8378770664093454835606594728112;

using Eigen::VectorXd;
using RowMatrix = RowMatrixXd;

// Per-thread scratch, so const targets can be evaluated concurrently without allocating. Aligned
// like Eigen's own storage: vectorised maps (exp, log1p) would otherwise peel a thread-dependent
// number of leading elements into scalar code, whose last bit differs, and results would depend
// on which thread evaluated them.
double* scratch(std::size_t n, int slot) {
    thread_local std::vector<double, Eigen::aligned_allocator<double>> buf[3];
    auto& b = buf[slot];
    if (b.size() < n) b.resize(n);
    return b.data();
}

void require_finite(const double* x, std::int64_t n, const char* where, const char* what) {
    for (std::int64_t i = 0; i < n; ++i)
        require(std::isfinite(x[i]), where, std::string(what) + " must be finite");
}

// One multivariate normal: log N(x; mean, cov) = log_norm - |Linv (x - mean)|^2 / 2 with
// cov = L L^T. Linv is lower triangular, stored row-major, so the solve is a plain product.
struct Normal {
    VectorXd mean;
    RowMatrix linv;
    double log_norm = 0.0;

    Normal(const double* m, const double* cov, int d, const char* where) : mean(d), linv(d, d) {
        require_finite(m, d, where, "mean");
        require_finite(cov, std::int64_t{d} * d, where, "cov");
        const Eigen::Map<const RowMatrix> c(cov, d, d);
        const double scale = std::max(c.cwiseAbs().maxCoeff(), std::numeric_limits<double>::min());
        require((c - c.transpose()).cwiseAbs().maxCoeff() <= 1e-10 * scale, where, "cov must be symmetric");
        Eigen::LLT<Eigen::MatrixXd> llt(c);
        require(llt.info() == Eigen::Success, where, "cov must be positive definite");
        const Eigen::MatrixXd L = llt.matrixL();
        require(L.diagonal().minCoeff() > 0.0, where, "cov must be positive definite");
        linv = L.triangularView<Eigen::Lower>().solve(Eigen::MatrixXd::Identity(d, d));
        linv.triangularView<Eigen::StrictlyUpper>().setZero();
        for (int i = 0; i < d; ++i) mean[i] = m[i];
        log_norm = -0.5 * d * kLog2Pi - L.diagonal().array().log().sum();
    }

    // z = Linv (x - mean) into z; returns log N.
    double eval(const double* x, double* z) const {
        const Index d = mean.size();
        double* diff = scratch(static_cast<std::size_t>(d), 2);
        for (Index i = 0; i < d; ++i) diff[i] = x[i] - mean[i];
        double q = 0.0;
        for (Index i = 0; i < d; ++i) {
            const double* row = linv.data() + i * d;
            double s = 0.0;
            for (Index j = 0; j <= i; ++j) s += row[j] * diff[j];
            z[i] = s;
            q += s * s;
        }
        return log_norm - 0.5 * q;
    }

    // grad += w * d/dx log N = -w Linv^T z.
    void add_grad(const double* z, double w, double* grad) const {
        const Index d = mean.size();
        for (Index i = 0; i < d; ++i) {
            const double* row = linv.data() + i * d;
            const double wz = w * z[i];
            for (Index j = 0; j <= i; ++j) grad[j] -= row[j] * wz;
        }
    }
};

class Gaussian final : public Target {
public:
    Gaussian(const double* mean, const double* cov, int d) : d_(d), n_(mean, cov, d, "Gaussian") {}
    int dim() const override { return d_; }
    double log_prob(const double* x) const override {
        return n_.eval(x, scratch(static_cast<std::size_t>(d_), 0));
    }
    double log_prob_grad(const double* x, double* grad) const override {
        double* z = scratch(static_cast<std::size_t>(d_), 0);
        const double lp = n_.eval(x, z);
        std::fill(grad, grad + d_, 0.0);
        n_.add_grad(z, 1.0, grad);
        return lp;
    }
    void log_prob_batch(const double* x, std::int64_t n, double* out) const override {
        // Linv (x - mean) for 16 rows at a time, one row per SIMD lane: the differences are
        // stored transposed (eight lanes per dimension) and the triangular product runs in the
        // same order as eval, so each result equals log_prob(x) bit for bit. (At the sizes of an
        // ensemble half, 16 x 10 x 10, a GEMM call costs more than this whole loop.)
        constexpr std::int64_t L = 16;
        const auto ud = static_cast<std::size_t>(d_);
        double* dt = scratch(ud * L, 0);
        for (std::int64_t r0 = 0; r0 < n; r0 += L) {
            const std::int64_t m = std::min(L, n - r0);
            for (std::size_t j = 0; j < ud; ++j)
                for (std::int64_t r = 0; r < L; ++r)
                    dt[j * L + static_cast<std::size_t>(r)] =
                        r < m ? x[static_cast<std::size_t>(r0 + r) * ud + j] - n_.mean[static_cast<Index>(j)] : 0.0;
            double q[L] = {};
            for (std::size_t i = 0; i < ud; ++i) {
                const double* row = n_.linv.data() + i * ud;
                double z[L] = {};
                for (std::size_t j = 0; j <= i; ++j) {
                    const double w = row[j];
                    const double* col = dt + j * L;
#pragma GCC unroll 16
                    for (std::int64_t r = 0; r < L; ++r) z[r] += w * col[r];
                }
#pragma GCC unroll 16
                for (std::int64_t r = 0; r < L; ++r) q[r] += z[r] * z[r];
            }
            for (std::int64_t r = 0; r < m; ++r) out[r0 + r] = n_.log_norm - 0.5 * q[r];
        }
    }
    double cost() const override { return double(d_) * d_; }
    std::string name() const override { return "Gaussian"; }

private:
    int d_;
    Normal n_;
};

class GaussianMixture final : public Target {
public:
    GaussianMixture(const double* w, const double* means, const double* covs, int k, int d) : d_(d) {
        require(k >= 1, "GaussianMixture", "need at least one component");
        double total = 0.0;
        for (int c = 0; c < k; ++c) {
            require(std::isfinite(w[c]) && w[c] > 0.0, "GaussianMixture", "weights must be finite and > 0");
            total += w[c];
        }
        for (int c = 0; c < k; ++c) {
            comps_.emplace_back(means + std::int64_t{c} * d, covs + std::int64_t{c} * d * d, d, "GaussianMixture");
            log_w_.push_back(std::log(w[c] / total));
        }
    }
    int dim() const override { return d_; }
    double log_prob(const double* x) const override { return eval(x, nullptr); }
    double log_prob_grad(const double* x, double* grad) const override { return eval(x, grad); }
    double cost() const override { return double(comps_.size()) * d_ * d_; }
    std::string name() const override { return "GaussianMixture"; }

private:
    double eval(const double* x, double* grad) const {
        const auto k = comps_.size();
        const auto d = static_cast<std::size_t>(d_);
        double* z = scratch(k * d, 0);
        double* lc = scratch(k, 1);
        double mx = -std::numeric_limits<double>::infinity();
        for (std::size_t c = 0; c < k; ++c) {
            lc[c] = log_w_[c] + comps_[c].eval(x, z + c * d);
            mx = std::max(mx, lc[c]);
        }
        if (!std::isfinite(mx)) {
            if (grad) std::fill(grad, grad + d_, 0.0);
            return mx;
        }
        double s = 0.0;
        for (std::size_t c = 0; c < k; ++c) s += std::exp(lc[c] - mx);
        const double lp = mx + std::log(s);
        if (grad) {
            std::fill(grad, grad + d_, 0.0);
            for (std::size_t c = 0; c < k; ++c) comps_[c].add_grad(z + c * d, std::exp(lc[c] - lp), grad);
        }
        return lp;
    }

    int d_;
    std::vector<Normal> comps_;
    std::vector<double> log_w_;
};

class Funnel final : public Target {
public:
    Funnel(int d, double scale) : d_(d), scale_(scale) {
        require(d >= 2, "Funnel", "ndim must be >= 2, got " + std::to_string(d));
        require(std::isfinite(scale) && scale > 0.0, "Funnel", "scale must be finite and > 0");
    }
    int dim() const override { return d_; }
    double log_prob(const double* x) const override { return eval(x, nullptr); }
    double log_prob_grad(const double* x, double* grad) const override { return eval(x, grad); }
    double cost() const override { return 4.0 * d_; }
    std::string name() const override { return "Funnel"; }

private:
    double eval(const double* x, double* grad) const {
        const double v = x[0];
        const double inv_var = std::exp(-v);
        double ss = 0.0;
        for (int i = 1; i < d_; ++i) ss += x[i] * x[i];
        const int m = d_ - 1;
        const double lp = -0.5 * v * v / (scale_ * scale_) - std::log(scale_) - 0.5 * kLog2Pi - 0.5 * ss * inv_var -
                          0.5 * m * v - 0.5 * m * kLog2Pi;
        if (grad) {
            grad[0] = -v / (scale_ * scale_) + 0.5 * ss * inv_var - 0.5 * m;
            for (int i = 1; i < d_; ++i) grad[i] = -x[i] * inv_var;
        }
        return lp;
    }
    int d_;
    double scale_;
};

class Rosenbrock final : public Target {
public:
    Rosenbrock(int d, double a, double b, double scale) : d_(d), a_(a), b_(b), scale_(scale) {
        require(d >= 2, "Rosenbrock", "ndim must be >= 2, got " + std::to_string(d));
        require(std::isfinite(a), "Rosenbrock", "a must be finite");
        require(std::isfinite(b) && b > 0.0, "Rosenbrock", "b must be finite and > 0");
        require(std::isfinite(scale) && scale > 0.0, "Rosenbrock", "scale must be finite and > 0");
    }
    int dim() const override { return d_; }
    double log_prob(const double* x) const override { return eval(x, nullptr); }
    double log_prob_grad(const double* x, double* grad) const override { return eval(x, grad); }
    double cost() const override { return 8.0 * d_; }
    std::string name() const override { return "Rosenbrock"; }

private:
    double eval(const double* x, double* grad) const {
        const double inv = 1.0 / scale_;
        double f = 0.0;
        if (grad) std::fill(grad, grad + d_, 0.0);
        for (int i = 0; i + 1 < d_; ++i) {
            const double t = x[i + 1] - x[i] * x[i];
            const double u = a_ - x[i];
            f += b_ * t * t + u * u;
            if (grad) {
                grad[i] += (4.0 * b_ * t * x[i] + 2.0 * u) * inv;
                grad[i + 1] -= 2.0 * b_ * t * inv;
            }
        }
        return -f * inv;
    }
    int d_;
    double a_, b_, scale_;
};

// Design matrix A = X or [1, X].
RowMatrix design(ConstMatrixView X, bool fit_intercept, const char* where) {
    require(X.rows() >= 1 && X.cols() >= 1, where, "X must have at least one row and one column");
    require_finite(X.data(), X.size(), where, "X");
    const Index k = X.cols() + (fit_intercept ? 1 : 0);
    RowMatrix A(X.rows(), k);
    if (fit_intercept) {
        A.col(0).setOnes();
        A.rightCols(X.cols()) = X;
    } else {
        A = X;
    }
    return A;
}

struct Prior {
    double inv_var = 0.0;  // 0: flat
    double log_norm = 0.0;
    Prior(double scale, Index k) {
        if (scale > 0.0) {
            require(std::isfinite(scale), "prior", "prior_scale must be finite");
            inv_var = 1.0 / (scale * scale);
            log_norm = -double(k) * (std::log(scale) + 0.5 * kLog2Pi);
        }
    }
    double eval(const double* beta, Index k, double* grad) const {
        if (inv_var == 0.0) return 0.0;
        double ss = 0.0;
        for (Index j = 0; j < k; ++j) {
            ss += beta[j] * beta[j];
            if (grad) grad[j] -= beta[j] * inv_var;
        }
        return log_norm - 0.5 * ss * inv_var;
    }
};

class LinearRegression final : public Target {
public:
    LinearRegression(ConstMatrixView X, const double* y, bool fit_intercept, double sigma, double prior_scale)
        : n_(X.rows()), k_(X.cols() + (fit_intercept ? 1 : 0)), sigma_(sigma), prior_(prior_scale, k_) {
        require(std::isfinite(sigma), "LinearRegression", "sigma must be finite (or <= 0 for unknown noise)");
        const RowMatrix A = design(X, fit_intercept, "LinearRegression");
        require_finite(y, n_, "LinearRegression", "y");
        const Eigen::Map<const VectorXd> yv(y, n_);
        Eigen::HouseholderQR<Eigen::MatrixXd> qr(A);
        const VectorXd qty = qr.householderQ().adjoint() * yv;
        const Index r = std::min(n_, k_);
        R_ = qr.matrixQR().topRows(r).triangularView<Eigen::Upper>();
        c_ = qty.head(r);
        tail_ = qty.tail(n_ - r).squaredNorm();
    }
    int dim() const override { return static_cast<int>(k_ + (sigma_ > 0.0 ? 0 : 1)); }
    double log_prob(const double* x) const override { return eval(x, nullptr); }
    double log_prob_grad(const double* x, double* grad) const override { return eval(x, grad); }
    double cost() const override { return double(k_) * double(k_); }
    std::string name() const override { return "LinearRegression"; }

private:
    double eval(const double* x, double* grad) const {
        const Index r = R_.rows();
        double* res = scratch(static_cast<std::size_t>(r), 0);
        double rss = tail_;
        for (Index i = 0; i < r; ++i) {
            const double* row = R_.data() + i * k_;
            double s = -c_[i];
            for (Index j = i; j < k_; ++j) s += row[j] * x[j];
            res[i] = s;
            rss += s * s;
        }
        const bool unknown = sigma_ <= 0.0;
        const double log_sigma = unknown ? x[k_] : std::log(sigma_);
        const double inv_var = std::exp(-2.0 * log_sigma);
        const double q = rss == 0.0 ? 0.0 : rss * inv_var;
        double lp = -double(n_) * (log_sigma + 0.5 * kLog2Pi) - 0.5 * q;
        if (grad) {
            for (Index j = 0; j < k_; ++j) grad[j] = 0.0;
            for (Index i = 0; i < r; ++i) {
                const double* row = R_.data() + i * k_;
                const double w = -res[i] * inv_var;
                for (Index j = i; j < k_; ++j) grad[j] += row[j] * w;
            }
            if (unknown) grad[k_] = -double(n_) + q;
        }
        lp += prior_.eval(x, k_, grad);
        return lp;
    }

    Index n_, k_;
    double sigma_;
    Prior prior_;
    RowMatrix R_;
    VectorXd c_;
    double tail_ = 0.0;
};

class LogisticRegression final : public Target {
public:
    LogisticRegression(ConstMatrixView X, const double* y, bool fit_intercept, double prior_scale)
        : A_(design(X, fit_intercept, "LogisticRegression")), y_(X.rows()), prior_(prior_scale, A_.cols()) {
        for (Index i = 0; i < A_.rows(); ++i) {
            require(y[i] == 0.0 || y[i] == 1.0, "LogisticRegression", "y must contain only 0 and 1");
            y_[i] = y[i];
        }
    }
    int dim() const override { return static_cast<int>(A_.cols()); }
    double log_prob(const double* x) const override { return eval(x, nullptr); }
    double log_prob_grad(const double* x, double* grad) const override { return eval(x, grad); }
    double cost() const override { return 2.0 * double(A_.size()) + 20.0 * double(A_.rows()); }
    std::string name() const override { return "LogisticRegression"; }

private:
    double eval(const double* x, double* grad) const {
        const Index n = A_.rows(), k = A_.cols();
        const Eigen::Map<const VectorXd> beta(x, k);
        Eigen::Map<Eigen::ArrayXd> z(scratch(static_cast<std::size_t>(n), 0), n);
        Eigen::Map<Eigen::ArrayXd> e(scratch(static_cast<std::size_t>(n), 1), n);
        z.matrix().noalias() = A_ * beta;
        // log sigmoid(z) = -softplus(-z), log(1 - sigmoid(z)) = -softplus(z), with
        // softplus(z) = max(z, 0) + log1p(exp(-|z|)): one exp per sample, in SIMD.
        e = (-z.abs()).exp();
        const double ll = (y_.array() * z - z.max(0.0) - e.log1p()).sum();
        if (grad) {
            // y - sigmoid(z), with sigmoid from the same exp(-|z|)
            z = y_.array() - (z >= 0.0).select(1.0 / (1.0 + e), e / (1.0 + e));
            Eigen::Map<VectorXd> g(grad, k);
            g.noalias() = A_.transpose() * z.matrix();
        }
        return ll + prior_.eval(x, k, grad);
    }

    RowMatrix A_;
    VectorXd y_;
    Prior prior_;
};

class Callback final : public Target {
public:
    Callback(int d, LogProbFn lp, LogProbGradFn lpg) : d_(d), lp_(std::move(lp)), lpg_(std::move(lpg)) {}
    int dim() const override { return d_; }
    double log_prob(const double* x) const override { return lp_(x); }
    double log_prob_grad(const double* x, double* grad) const override {
        require(static_cast<bool>(lpg_), "log_prob_grad", "this target has no gradient");
        return lpg_(x, grad);
    }
    double cost() const override { return 1e9; }
    std::string name() const override { return "callback"; }
    bool thread_safe() const override { return false; }

private:
    int d_;
    LogProbFn lp_;
    LogProbGradFn lpg_;
};

void require_dim(int d, const char* where) {
    require(d >= 1, where, "ndim must be >= 1, got " + std::to_string(d));
}

}  // namespace

TargetPtr make_gaussian(const double* mean, const double* cov, int dim) {
    require_dim(dim, "Gaussian");
    return std::make_shared<Gaussian>(mean, cov, dim);
}

TargetPtr make_gaussian_mixture(const double* weights, const double* means, const double* covs, int n_components,
                                int dim) {
    require_dim(dim, "GaussianMixture");
    return std::make_shared<GaussianMixture>(weights, means, covs, n_components, dim);
}

TargetPtr make_funnel(int dim, double scale) { return std::make_shared<Funnel>(dim, scale); }

TargetPtr make_rosenbrock(int dim, double a, double b, double scale) {
    return std::make_shared<Rosenbrock>(dim, a, b, scale);
}

TargetPtr make_linear_regression(ConstMatrixView X, const double* y, bool fit_intercept, double sigma,
                                 double prior_scale) {
    return std::make_shared<LinearRegression>(X, y, fit_intercept, sigma, prior_scale);
}

TargetPtr make_callback_target(int dim, LogProbFn log_prob, LogProbGradFn log_prob_grad) {
    require_dim(dim, "callback target");
    return std::make_shared<Callback>(dim, std::move(log_prob), std::move(log_prob_grad));
}

TargetPtr make_logistic_regression(ConstMatrixView X, const double* y, bool fit_intercept, double prior_scale) {
    return std::make_shared<LogisticRegression>(X, y, fit_intercept, prior_scale);
}

}  // namespace mlsci::mcmc
