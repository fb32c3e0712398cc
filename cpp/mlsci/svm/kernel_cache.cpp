// Kernel rows for SMO; see kernel_cache.hpp.
#include "mlsci/svm/kernel_cache.hpp"

#include <algorithm>
#include <string>

#include "mlsci/common/error.hpp"
#include "mlsci/common/parallel.hpp"

namespace mlsci::svm {

namespace {
constexpr Index kPad = 64 / static_cast<Index>(sizeof(float));
}  // namespace

KernelRows::KernelRows(const ConstMatrixView& X, const KernelParams& params, double cache_bytes, int n_threads)
    : X_(X), params_(params), n_threads_(n_threads), n_(X.rows()), stride_((X.rows() + kPad - 1) / kPad * kPad) {
    require(n_ >= 1, "KernelRows", "X must have at least one row");
    require(cache_bytes > 0, "KernelRows", "cache size must be > 0, got " + std::to_string(cache_bytes));
    norms_.resize(static_cast<std::size_t>(n_));
    diag_.resize(static_cast<std::size_t>(n_));
    if (params.type == KernelType::Precomputed) {
        require(X.cols() == n_, "KernelRows",
                "a precomputed kernel must be square, got " + std::to_string(n_) + " x " + std::to_string(X.cols()));
        full_ = true;
        allocate(n_);
        for (Index i = 0; i < n_; ++i) {
            Eigen::Map<Eigen::VectorXf>(slot(i), n_) = X.row(i).transpose().cast<float>();
            diag_[static_cast<std::size_t>(i)] = X(i, i);
        }
        return;
    }
    check_computable(params, "KernelRows");
    for (Index i = 0; i < n_; ++i) {
        norms_[static_cast<std::size_t>(i)] = X.row(i).squaredNorm();
        diag_[static_cast<std::size_t>(i)] = kernel_diagonal(params, norms_[static_cast<std::size_t>(i)]);
    }

    const double row_bytes = static_cast<double>(stride_) * sizeof(float);
    if (static_cast<double>(n_) * row_bytes <= cache_bytes) {
        // The whole matrix fits: one tiled GEMM, exactly symmetric.
        full_ = true;
        allocate(n_);
        gram_matrix(X, X, params, true, storage_.get(), stride_, n_threads);
        rows_computed_ = n_;
        return;
    }
    if (params.type == KernelType::Rbf) {
        const Eigen::RowVectorXd mean = X.colwise().mean();
        const RowMatrixXd c = X.rowwise() - mean;
        centred_ = c.cast<float>();
        centred_norms_ = c.rowwise().squaredNorm().cast<float>();
    }
    capacity_ = std::max<Index>(2, static_cast<Index>(cache_bytes / row_bytes));
    allocate(capacity_);
    slot_of_.assign(static_cast<std::size_t>(n_), -1);
    row_of_.assign(static_cast<std::size_t>(capacity_), -1);
    prev_.assign(static_cast<std::size_t>(capacity_), -1);
    next_.assign(static_cast<std::size_t>(capacity_), -1);
}

void KernelRows::touch(Index s) {
    // Move slot s to the most recently used end of the list.
    if (tail_ == s) return;
    const auto us = static_cast<std::size_t>(s);
    if (prev_[us] != -1 || head_ == s) {  // unlink
        if (prev_[us] != -1) next_[static_cast<std::size_t>(prev_[us])] = next_[us];
        else head_ = next_[us];
        if (next_[us] != -1) prev_[static_cast<std::size_t>(next_[us])] = prev_[us];
    }
    prev_[us] = tail_;
    next_[us] = -1;
    if (tail_ != -1) next_[static_cast<std::size_t>(tail_)] = s;
    tail_ = s;
    if (head_ == -1) head_ = s;
}

const float* KernelRows::row(Index i) {
    if (full_) return slot(i);
    const auto ui = static_cast<std::size_t>(i);
    Index s = slot_of_[ui];
    if (s == -1) {
        s = take_slot(i);
        float* dst = slot(s);
        compute_rows(&i, 1, &dst);
        ++rows_computed_;
    } else {
        touch(s);
    }
    return slot(s);
}

void KernelRows::allocate(Index rows) {
    const auto bytes = static_cast<std::size_t>(rows * stride_) * sizeof(float);
    storage_.reset(static_cast<float*>(Eigen::internal::aligned_malloc(bytes)));  // throws bad_alloc
}

Index KernelRows::prefetch(const Index* rows, Index count) {
    if (full_) return count;
    count = std::min(count, capacity_ - 2);
    std::vector<Index> missing;
    for (Index k = 0; k < count; ++k) {
        const Index s = slot_of_[static_cast<std::size_t>(rows[k])];
        if (s == -1) missing.push_back(rows[k]);
        else touch(s);
    }
    std::sort(missing.begin(), missing.end());  // SVR asks for each sample's row twice
    missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
    std::vector<float*> dst;
    for (const Index i : missing) dst.push_back(slot(take_slot(i)));
    compute_rows(missing.data(), static_cast<Index>(missing.size()), dst.data());
    rows_computed_ += static_cast<std::int64_t>(missing.size());
    return count;
}

namespace {

// K(A, Y[j0:j0+len]) for a block of rows A, computed as one GEMM in Scalar into per-thread
// scratch and mapped there; row a is stored (as float) at dst[a] + j0.
constexpr Index kColBlock = 128;

template <class Scalar>
using RowMat = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <class Scalar, class MatA, class MatY, class Map>
void block_rows(const MatA& A, const MatY& Y, Index j0, Index len, float* const* dst, Map&& map) {
    thread_local RowMat<Scalar> T;
    T.resize(A.rows(), len);
    T.noalias() = A * Y.middleRows(j0, len).transpose();
    for (Index a = 0; a < A.rows(); ++a) {
        auto row = T.row(a).array();
        map(a, row);
        Eigen::Map<Eigen::RowVectorXf>(dst[a] + j0, len) = row.matrix().template cast<float>();
    }
}

}  // namespace

void KernelRows::compute_rows(const Index* rows, Index m, float* const* dst) {
    kernel_block(rows, m, nullptr, n_, dst);
}

void KernelRows::submatrix(const Index* rows, Index m, float* out) const {
    require(!full_, "KernelRows::submatrix", "the matrix is held whole: read its rows");
    std::vector<float*> dst(static_cast<std::size_t>(m));
    for (Index a = 0; a < m; ++a) dst[static_cast<std::size_t>(a)] = out + a * m;
    kernel_block(rows, m, rows, m, dst.data());
}

void KernelRows::kernel_block(const Index* rows, Index m, const Index* y_rows, Index n_y, float* const* dst) const {
    // Blocks of kColBlock columns in parallel; every block computes all m rows with one GEMM.
    // An element's value depends on the block layout only, which the thread count does not set.
    const Index blocks = (n_y + kColBlock - 1) / kColBlock;
    const KernelParams p = params_;
    const auto gather = [&](const auto& src, const Index* idx, Index count) {
        std::decay_t<decltype(src.eval())> out(count, src.cols());
        for (Index a = 0; a < count; ++a) out.row(a) = src.row(idx[a]);
        return out;
    };
    if (p.type == KernelType::Rbf) {
        // float32: twice the GEMM rate, and exp over 16 lanes. On centred data |x|^2 is of the
        // order of the distances, so the rounding of d^2 is that of float itself (~1e-7 relative).
        const RowMat<float> A = gather(centred_, rows, m);
        const Eigen::VectorXf an = gather(centred_norms_, rows, m);
        const RowMat<float> Ysub = y_rows ? gather(centred_, y_rows, n_y) : RowMat<float>();
        const auto& Y = y_rows ? Ysub : centred_;
        const Eigen::VectorXf yn_sub = y_rows ? gather(centred_norms_, y_rows, n_y) : Eigen::VectorXf();
        const Eigen::VectorXf& yn_all = y_rows ? yn_sub : centred_norms_;  // no copy of all n norms
        const auto g = static_cast<float>(p.gamma);
        parallel_for(0, blocks, n_threads_, [&](std::int64_t b) {
            const Index j0 = b * kColBlock, len = std::min(kColBlock, n_y - j0);
            const auto yn = yn_all.segment(j0, len).transpose().array();
            block_rows<float>(A, Y, j0, len, dst, [&](Index a, auto& row) {
                row = (-g * (an[a] + yn - 2.0f * row).max(0.0f)).exp();
            });
        });
        return;
    }
    const RowMatrixXd A = gather(X_, rows, m);
    const RowMatrixXd Ysub = y_rows ? gather(X_, y_rows, n_y) : RowMatrixXd();
    const auto compute = [&](const auto& Y) {
        parallel_for(0, blocks, n_threads_, [&](std::int64_t b) {
            const Index j0 = b * kColBlock, len = std::min(kColBlock, n_y - j0);
            block_rows<double>(A, Y, j0, len, dst, [&](Index, auto& row) {
                switch (p.type) {
                    case KernelType::Poly:
                        for (Index j = 0; j < len; ++j) row[j] = poly_pow(p.gamma * row[j] + p.coef0, p.degree);
                        break;
                    case KernelType::Sigmoid: row = (p.gamma * row + p.coef0).tanh(); break;
                    default: break;  // linear (rbf above, precomputed held whole)
                }
            });
        });
    };
    if (y_rows) compute(Ysub);
    else compute(X_);
}

Index KernelRows::take_slot(Index i) {
    Index s;
    if (used_ < capacity_) {
        s = used_++;
    } else {
        s = head_;  // evict the least recently used row
        slot_of_[static_cast<std::size_t>(row_of_[static_cast<std::size_t>(s)])] = -1;
    }
    slot_of_[static_cast<std::size_t>(i)] = s;
    row_of_[static_cast<std::size_t>(s)] = i;
    touch(s);
    return s;
}

}  // namespace mlsci::svm
