// Kernel rows for SMO; see kernel_cache.hpp.
#include "mlsci/svm/kernel_cache.hpp"

#include <algorithm>
#include <string>

#include "mlsci/common/error.hpp"
#include "mlsci/common/parallel.hpp"

namespace mlsci::svm {

namespace {
constexpr Index kRowChunk = 1024;  // rows of X per task when computing one kernel row
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
    capacity_ = std::max<Index>(2, static_cast<Index>(cache_bytes / row_bytes));
    allocate(capacity_);
    slot_of_.assign(static_cast<std::size_t>(n_), -1);
    row_of_.assign(static_cast<std::size_t>(capacity_), -1);
    prev_.assign(static_cast<std::size_t>(capacity_), -1);
    next_.assign(static_cast<std::size_t>(capacity_), -1);
    row_buf_.resize(static_cast<std::size_t>(stride_));
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
        compute_row(i, slot(s));
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
    for (Index k = 0; k < count; ++k)
        if (slot_of_[static_cast<std::size_t>(rows[k])] == -1) missing.push_back(rows[k]);
    std::sort(missing.begin(), missing.end());  // SVR asks for each sample's row twice
    missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
    if (missing.size() < 2) return count;  // one row: the GEMV path is as good
    const auto m = static_cast<Index>(missing.size());
    RowMatrixXd sub(m, X_.cols());
    for (Index k = 0; k < m; ++k) sub.row(k) = X_.row(missing[static_cast<std::size_t>(k)]);
    std::vector<float> block(static_cast<std::size_t>(m * stride_));
    gram_matrix(ConstMatrixView(sub.data(), m, X_.cols()), X_, params_, false, block.data(), stride_, n_threads_);
    for (Index k = 0; k < m; ++k) {
        const Index i = missing[static_cast<std::size_t>(k)];
        const Index s = take_slot(i);
        std::copy_n(block.data() + k * stride_, n_, slot(s));
        ++rows_computed_;
    }
    return count;
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

void KernelRows::compute_row(Index i, float* out) {
    // out = map(X x_i) in fixed chunks, so the result does not depend on the thread count.
    double* buf = row_buf_.data();
    const auto xi = X_.row(i).transpose();
    const double ni = norms_[static_cast<std::size_t>(i)];
    const KernelParams p = params_;
    const Index chunks = (n_ + kRowChunk - 1) / kRowChunk;
    const int nt = n_ >= 4 * kRowChunk ? n_threads_ : 1;
    parallel_for(0, chunks, nt, [&](std::int64_t c) {
        const Index j0 = c * kRowChunk, len = std::min(kRowChunk, n_ - j0);
        Eigen::Map<Eigen::VectorXd, Eigen::Aligned64> v(buf + j0, len);
        v.noalias() = X_.middleRows(j0, len) * xi;
        auto a = v.array();
        switch (p.type) {
            case KernelType::Linear: break;
            case KernelType::Rbf: {
                const Eigen::Map<const Eigen::ArrayXd> nj(norms_.data() + j0, len);
                a = (-p.gamma * (ni + nj - 2.0 * a).max(0.0)).exp();
                break;
            }
            case KernelType::Poly:
                for (Index j = 0; j < len; ++j) a[j] = poly_pow(p.gamma * a[j] + p.coef0, p.degree);
                break;
            case KernelType::Sigmoid: a = (p.gamma * a + p.coef0).tanh(); break;
            case KernelType::Precomputed: break;  // never: held whole
        }
        Eigen::Map<Eigen::VectorXf>(out + j0, len) = v.cast<float>();
    });
}

}  // namespace mlsci::svm
