// Pieces shared by the two SMO solvers (smo.cpp: one pair per iteration over all variables, as
// libsvm; batched_smo.cpp: working sets of many variables solved against a block of kernel rows).
// Internal to cpp/mlsci/svm.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include <vector>

#include "mlsci/common/views.hpp"
#include "mlsci/svm/kernel_cache.hpp"
#include "mlsci/svm/smo.hpp"

namespace mlsci::svm::detail {

constexpr double kTau = 1e-12;  // curvature floor for non-positive-definite kernels
constexpr double kInf = std::numeric_limits<double>::infinity();

// The two-variable subproblem in closed form: the new (a_i, a_j) that minimise the dual along
// the feasible line through (ai, aj), clipped to the boxes [0, Ci] x [0, Cj]. quad is
// K_ii + K_jj - 2 K_ij (floored at kTau by the caller).
struct PairStep {
    double ai, aj;
};

inline PairStep solve_pair(double yi, double yj, double Gi, double Gj, double Ci, double Cj, double ai, double aj,
                           double quad) {
    if (yi != yj) {
        // a_i - a_j is conserved.
        const double delta = (-Gi - Gj) / quad;
        const double diff = ai - aj;
        ai += delta;
        aj += delta;
        if (diff > 0.0) {
            if (aj < 0.0) aj = 0.0, ai = diff;
        } else if (ai < 0.0) {
            ai = 0.0, aj = -diff;
        }
        if (diff > Ci - Cj) {
            if (ai > Ci) ai = Ci, aj = Ci - diff;
        } else if (aj > Cj) {
            aj = Cj, ai = Cj + diff;
        }
    } else {
        // a_i + a_j is conserved.
        const double delta = (Gi - Gj) / quad;
        const double sum = ai + aj;
        ai -= delta;
        aj += delta;
        if (sum > Ci) {
            if (ai > Ci) ai = Ci, aj = sum - Ci;
        } else if (aj < 0.0) {
            aj = 0.0, ai = sum;
        }
        if (sum > Cj) {
            if (aj > Cj) aj = Cj, ai = sum - Cj;
        } else if (ai < 0.0) {
            ai = 0.0, aj = sum;
        }
    }
    return {ai, aj};
}

// The offset rho from the variables visited by for_each(fn), fn(y, G, at_upper, at_lower): the
// mean of y G over free variables; without any, the middle of the feasible range.
template <class ForEach>
double compute_rho(ForEach&& for_each) {
    double ub = kInf, lb = -kInf, sum_free = 0.0;
    std::int64_t n_free = 0;
    for_each([&](double y, double G, bool upper, bool lower) {
        const double yg = y * G;
        if (upper) {
            if (y < 0) ub = std::min(ub, yg);
            else lb = std::max(lb, yg);
        } else if (lower) {
            if (y > 0) ub = std::min(ub, yg);
            else lb = std::max(lb, yg);
        } else {
            ++n_free;
            sum_free += yg;
        }
    });
    if (n_free > 0) return sum_free / static_cast<double>(n_free);
    // Any rho in [lb, ub] is optimal. libsvm takes the midpoint, which is infinite when every
    // variable sits at one bound (e.g. one-class with nu = 1); take the finite end instead.
    if (std::isinf(ub)) return lb;
    if (std::isinf(lb)) return ub;
    return (ub + lb) / 2.0;
}

// Solves the dual (variables t with sample base[t], labels y, linear term p, bounds C, start
// alpha, overwritten with the solution) by batched working sets; see batched_smo.cpp. Fills
// result's rho, objective, n_iter and status.
void solve_batched(KernelRows& K, const std::vector<Index>& base, const std::vector<double>& y,
                   const std::vector<double>& p, const std::vector<double>& C, std::vector<double>& alpha,
                   const SmoParams& params, SmoResult& result);

}  // namespace mlsci::svm::detail
