// Dense kernel (Gram) matrices, pairwise distances and SVM decision values, computed in
// cache-sized tiles: one GEMM per tile, then the kernel's elementwise map while the tile is hot.
#pragma once

#include <cmath>
#include <cstdint>

#include "mlsci/common/views.hpp"

namespace mlsci::svm {

// Precomputed: the caller supplies the kernel matrix itself (SMO only; see KernelRows).
enum class KernelType : std::uint8_t { Linear, Poly, Rbf, Sigmoid, Precomputed };

// K(x, y): linear x.y; poly (gamma x.y + coef0)^degree; rbf exp(-gamma |x-y|^2);
// sigmoid tanh(gamma x.y + coef0). libsvm's definitions.
struct KernelParams {
    KernelType type = KernelType::Rbf;
    double gamma = 1.0;
    double coef0 = 0.0;
    double degree = 3.0;
};

// Throws InvalidArgument naming `where` if gamma, coef0 or degree are out of range.
void check_kernel_params(const KernelParams& params, const char* where);

// base^degree, by repeated squaring for integral degrees (as exact as the products allow).
inline double poly_pow(double base, double degree) {
    if (degree == std::floor(degree) && degree <= 64.0) {
        auto e = static_cast<long>(degree);
        double result = 1.0;
        while (e > 0) {
            if (e & 1) result *= base;
            base *= base;
            e >>= 1;
        }
        return result;
    }
    return std::pow(base, degree);
}

// Also rejects KernelType::Precomputed, for functions that compute kernels from features.
void check_computable(const KernelParams& params, const char* where);

// K(x, x) for one sample with squared norm `sq`.
double kernel_diagonal(const KernelParams& params, double sq);

// out (X.rows() x Y.rows(), row stride ld >= Y.rows()) = K(X, Y), computed in double and stored
// as T (double or float). With `symmetric`, Y must be X: only the upper tiles are computed and
// mirrored, so out is exactly symmetric and K(x, x) uses |x-x|^2 = 0. Each tile is computed the
// same way whatever the thread count.
template <class T>
void gram_matrix(const ConstMatrixView& X, const ConstMatrixView& Y, const KernelParams& params,
                 bool symmetric, T* out, Index ld, int n_threads);

// out = |x - y|^2 (or |x - y| if !squared), by |x|^2 - 2 x.y + |y|^2 clipped at 0, as
// scikit-learn computes it; the diagonal is exactly 0 when `symmetric`.
void euclidean_distances(const ConstMatrixView& X, const ConstMatrixView& Y, bool squared,
                         bool symmetric, double* out, int n_threads);

// out (n x k) = K(X, SV) coef (n_sv x k) + intercept (k), in row blocks of X (memory stays
// bounded by one tile per thread).
void decision_function(const ConstMatrixView& X, const ConstMatrixView& SV, const ConstMatrixView& coef,
                       const double* intercept, const KernelParams& params, double* out, int n_threads);

}  // namespace mlsci::svm
