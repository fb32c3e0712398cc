// Built-in target densities for the MCMC samplers: log-density and gradient in C++, so a
// sampler evaluates them without Python (and without the GIL) on any number of threads.
//
// Gaussian, GaussianMixture, Neal's funnel (Neal 2003, "Slice sampling", Ann. Stat. 31),
// the Rosenbrock "banana" of Goodman & Weare (2010, CAMCoS 5), and Bayesian linear and
// logistic regression with Gaussian or flat priors.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mlsci/common/views.hpp"

namespace mlsci::mcmc {

// An unnormalised (or normalised, where cheap) log-density on R^dim. Implementations are
// immutable after construction, so one object may be evaluated from many threads at once.
class Target {
public:
    virtual ~Target() = default;
    virtual int dim() const = 0;
    // log p(x) for x of length dim(); -inf outside the support.
    virtual double log_prob(const double* x) const = 0;
    // log p(x) and its gradient into grad (length dim()).
    virtual double log_prob_grad(const double* x, double* grad) const = 0;
    // log p of the n rows of x (n x dim) into out. The result for a row may depend on n (a
    // batched product sums in another order) but on nothing else, so callers that batch in
    // fixed blocks stay deterministic.
    virtual void log_prob_batch(const double* x, std::int64_t n, double* out) const {
        for (std::int64_t i = 0; i < n; ++i) out[i] = log_prob(x + i * dim());
    }
    // Rough cost of one evaluation in floating-point operations: samplers use it to decide
    // whether a batch is worth spreading over threads (it never changes results).
    virtual double cost() const = 0;
    virtual std::string name() const = 0;
    // Whether several threads may evaluate it at once (a Python callback may not).
    virtual bool thread_safe() const { return true; }
};

using TargetPtr = std::shared_ptr<Target>;

// N(mean, cov): cov must be symmetric positive definite.
TargetPtr make_gaussian(const double* mean, const double* cov, int dim);

// sum_k weights_k N(means_k, covs_k); weights > 0 (normalised here), covs (k, dim, dim).
TargetPtr make_gaussian_mixture(const double* weights, const double* means, const double* covs,
                                int n_components, int dim);

// Neal's funnel: v ~ N(0, scale^2), x_i | v ~ N(0, exp(v)) for i = 1..dim-1; x = (v, x_1, ...).
TargetPtr make_funnel(int dim, double scale);

// log p(x) = -sum_i [b (x_{i+1} - x_i^2)^2 + (a - x_i)^2] / scale, i = 0..dim-2
// (dim = 2, a = 1, b = 100, scale = 20 is Goodman & Weare's banana).
TargetPtr make_rosenbrock(int dim, double a, double b, double scale);

// Bayesian linear regression y = A beta + N(0, sigma^2), A = X or [1, X] with an intercept.
// Parameters: beta (intercept first), then log(sigma) when sigma <= 0 (unknown noise, flat
// prior on log sigma, i.e. p(sigma) ~ 1/sigma). prior_scale > 0: beta_j ~ N(0, prior_scale^2);
// prior_scale <= 0: flat prior on beta. The likelihood is evaluated from a QR factorisation
// of A (O(p^2) per evaluation, independent of n, and without the cancellation of the normal
// equations).
TargetPtr make_linear_regression(ConstMatrixView X, const double* y, bool fit_intercept, double sigma,
                                 double prior_scale);

// Bayesian logistic regression P(y=1) = 1/(1 + exp(-A beta)) with y in {0, 1}; priors as above.
TargetPtr make_logistic_regression(ConstMatrixView X, const double* y, bool fit_intercept, double prior_scale);

// A target whose density (and gradient, if given) a caller supplies, e.g. a Python function
// wrapped by the bindings. Evaluated from one thread at a time.
using LogProbFn = std::function<double(const double* x)>;
using LogProbGradFn = std::function<double(const double* x, double* grad)>;
TargetPtr make_callback_target(int dim, LogProbFn log_prob, LogProbGradFn log_prob_grad);

}  // namespace mlsci::mcmc
