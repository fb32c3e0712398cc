// Rows of the kernel matrix K(x_i, x_j) over a training set, for the SMO solver: the whole matrix
// when it fits in the cache budget (one tiled GEMM), else an LRU cache of rows computed on demand.
// Values are computed in double and stored in float, as libsvm stores them: twice the rows per
// megabyte, and the solver's path stays close to libsvm's.
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
    // front) are now cached; at most the cache capacity minus two.
    Index prefetch(const Index* rows, Index count);
    std::int64_t rows_computed() const { return rows_computed_; }

private:
    void compute_row(Index i, float* out);
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
    std::vector<double> diag_;
    // Not zero-filled: a row is always written before it is read, and untouched capacity then
    // costs neither a memset nor page faults.
    struct AlignedFree {
        void operator()(float* p) const { Eigen::internal::aligned_free(p); }
    };
    std::unique_ptr<float[], AlignedFree> storage_;
    void allocate(Index rows);
    std::vector<double, Eigen::aligned_allocator<double>> row_buf_;  // one row in double
    // LRU bookkeeping: slot_of_[row] (-1 if not cached), row_of_[slot], a doubly linked list of
    // slots from least (head_) to most (tail_) recently used.
    std::vector<Index> slot_of_, row_of_, prev_, next_;
    Index head_ = -1, tail_ = -1, used_ = 0, capacity_ = 0;
    std::int64_t rows_computed_ = 0;
};

}  // namespace mlsci::svm
