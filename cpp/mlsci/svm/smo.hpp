// Sequential minimal optimisation for the SVM dual problems (C-SVC, one-class, epsilon-SVR) with
// second-order working-set selection and shrinking. Fan, Chen & Lin, "Working set selection
// using second order information for training SVM", JMLR 6 (2005); Chang & Lin, LIBSVM (2011).
// When the kernel matrix does not fit in the cache budget, working sets of up to 1,024 variables
// are solved against blocks of kernel rows instead (Wen et al., ThunderSVM, JMLR 19 (2018));
// except for the sigmoid kernel (see smo.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "mlsci/common/interrupt.hpp"
#include "mlsci/common/views.hpp"
#include "mlsci/svm/kernels.hpp"

namespace mlsci::svm {

enum class Problem : std::uint8_t { CSvc, OneClass, EpsilonSvr };

struct SmoParams {
    double tol = 1e-3;            // stop when the maximal KKT violation m(a) - M(a) < tol
    std::int64_t max_iter = -1;   // -1: no limit of the caller's (a safety limit still applies)
    bool shrinking = true;        // one-pair solver only (the batched one moves few variables per row)
    double cache_bytes = 200e6;   // kernel-row cache budget
    int n_threads = 0;            // 0: OpenMP default
    StopCheck stop;               // polled every 1,000 iterations; true stops with Interrupted
    // Called with the maximal violation m(a) - M(a) and the iterations so far, each working set
    // (batched) or every 1,000 iterations; may be empty.
    std::function<void(double gap, std::int64_t iter)> progress;
};

struct SmoResult {
    std::vector<double> coef;  // per sample: y_i a_i (C-SVC), a_i (one-class), a+_i - a-_i (SVR)
    double rho = 0.0;          // decision(x) = sum_i coef_i K(x_i, x) - rho
    double objective = 0.0;    // the dual objective at the solution
    std::int64_t n_iter = 0;
    int status = 0;            // 0: converged; 1: stopped at max_iter
    bool full_kernel = false;  // whether the whole kernel matrix was held in memory
    std::int64_t kernel_rows = 0;
};

// X: training samples. target: labels +1/-1 (C-SVC), ignored (one-class), regression targets
// (SVR). upper: the box bound C_i per sample (C * class weight * sample weight; for one-class the
// sample weight). nu: one-class only. epsilon: SVR only.
SmoResult smo_solve(Problem problem, const ConstMatrixView& X, const double* target, const double* upper,
                    double nu, double epsilon, const KernelParams& kernel, const SmoParams& params);

}  // namespace mlsci::svm
