// Rows of the kernel matrix K(x_i, x_j) over a training set, for the SMO solvers: the whole matrix
// when it fits in the cache budget (one tiled GEMM in double), else an LRU cache of rows computed
// on demand in blocks (one GEMM per block of rows; RBF in float32 on centred data). Values are
// stored in float, as libsvm stores them: twice the rows per megabyte.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "mlsci/common/views.hpp"
#include "mlsci/svm/kernels.hpp"

namespace mlsci::svm {

class KernelRows {
public:
    // cache_bytes bounds the memory for rows (at least two rows are always kept). With a
    // precomputed kernel X is the square kernel matrix itself, held whole whatever the budget.
    KernelRows(const ConstMatrixView& X, const KernelParams& params, double cache_bytes, int n_threads);

    Index size() const { return n_; }
    // K(x_i, x_j) for j in [0, n). Valid until the next call that computes a new row; the two
    // most recently requested rows are always both valid.
    const float* row(Index i);
    double diag(Index i) const { return diag_[static_cast<std::size_t>(i)]; }
    bool full_matrix() const { return full_; }
    // Rows a caller is about to request one by one: those not cached are computed together as
    // one GEMM block (far faster than one GEMV each). Returns how many of `rows` (from the
    // front) are now cached; at most the cache capacity minus two. Those already cached are
    // marked recently used first, so computing the others evicts none of them.
    Index prefetch(const Index* rows, Index count);
    // out (m x m, row-major) = K(x_rows[a], x_rows[b]), computed afresh as one small GEMM:
    // far cheaper than gathering it from m cached rows. Not for a matrix held whole.
    void submatrix(const Index* rows, Index m, float* out) const;
    std::int64_t rows_computed() const { return rows_computed_; }
    // How many rows can be held at once (all of them for the full matrix).
    Index capacity() const { return full_ ? n_ : capacity_; }

private:
    // Rows rows[0..m) into dst[0..m), as blocks of one GEMM each (see kernel_cache.cpp).
    void compute_rows(const Index* rows, Index m, float* const* dst);
    // K(x_rows[a], Y[j]) for the n_y rows of Y (X itself, or its rows `rows`) into dst[a].
    void kernel_block(const Index* rows, Index m, const Index* y_rows, Index n_y, float* const* dst) const;
    float* slot(Index s) { return storage_.get() + static_cast<std::size_t>(s * stride_); }
    void touch(Index s);
    Index take_slot(Index i);  // a slot for row i (evicting the LRU row), marked most recent

    ConstMatrixView X_;
    KernelParams params_;
    int n_threads_;
    Index n_;
    Index stride_;  // row stride in floats: n rounded up to 64 bytes, so rows start aligned
    bool full_ = false;
    std::vector<double> norms_;  // |x_i|^2
    // RBF rows in blocks: X less its column means (the kernel does not change, the norms and so
    // the cancellation in |x|^2 + |y|^2 - 2 x.y shrink) in float, and those rows' squared norms.
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> centred_;
    Eigen::VectorXf centred_norms_;
    std::vector<double> diag_;
    // Not zero-filled: a row is always written before it is read, and untouched capacity then
    // costs neither a memset nor page faults.
    struct AlignedFree {
        void operator()(float* p) const { Eigen::internal::aligned_free(p); }
    };
    std::unique_ptr<float[], AlignedFree> storage_;
    void allocate(Index rows);
    // LRU bookkeeping: slot_of_[row] (-1 if not cached), row_of_[slot], a doubly linked list of
    // slots from least (head_) to most (tail_) recently used.
    std::vector<Index> slot_of_, row_of_, prev_, next_;
    Index head_ = -1, tail_ = -1, used_ = 0, capacity_ = 0;
    std::int64_t rows_computed_ = 0;
};

}  // namespace mlsci::svm
