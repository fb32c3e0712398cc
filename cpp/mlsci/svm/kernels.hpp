// Dense kernel (Gram) matrices and pairwise distances, computed in cache-sized tiles: one GEMM
// per tile followed by the kernel's elementwise map while the tile is hot. Used by the SVM solver.
#pragma once

#include <cstdint>

#include "mlsci/common/views.hpp"

namespace mlsci::svm {

enum class KernelType : std::uint8_t { Linear, Poly, Rbf, Sigmoid };

// K(x, y): linear x.y; poly (gamma x.y + coef0)^degree; rbf exp(-gamma |x-y|^2);
// sigmoid tanh(gamma x.y + coef0). libsvm's definitions.
struct KernelParams {
    KernelType type = KernelType::Rbf;
    double gamma = 1.0;
    double coef0 = 0.0;
    double degree = 3.0;
};

// out (X.rows() x Y.rows(), row-major) = K(X, Y). With `symmetric`, Y must be X: only the upper
// tiles are computed and mirrored, so out is exactly symmetric and K(x, x) uses |x-x|^2 = 0.
// Each tile is computed the same way whatever the thread count, so out does not depend on it.
void gram_matrix(const ConstMatrixView& X, const ConstMatrixView& Y, const KernelParams& params,
                 bool symmetric, double* out, int n_threads);

// out = |x - y|^2 (or |x - y| if !squared), by |x|^2 - 2 x.y + |y|^2 clipped at 0, as
// scikit-learn computes it; the diagonal is exactly 0 when `symmetric`.
void euclidean_distances(const ConstMatrixView& X, const ConstMatrixView& Y, bool squared,
                         bool symmetric, double* out, int n_threads);

}  // namespace mlsci::svm
