// Tiled Gram matrices and decision values; see kernels.hpp.
#include "mlsci/svm/kernels.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "mlsci/common/error.hpp"
#include "mlsci/common/parallel.hpp"

namespace mlsci::svm {

namespace {

// 128 x 128 doubles = 128 KiB per tile: it stays in L2 between the GEMM and the map.
constexpr Index kTile = 128;

// A tile is computed in a per-thread scratch buffer whose rows all start 64-byte aligned, then
// copied out. Eigen peels an unaligned row head with scalar code (std::exp, no FMA), whose last
// bit differs from its SIMD path; in place, results would depend on where the allocator put
// the output. In scratch they depend only on the tile's shape, which the tiling fixes.
using Tile = Eigen::Map<RowMatrixXd, Eigen::Aligned64, Eigen::OuterStride<kTile>>;
template <class T>
using OutTile = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0, Eigen::OuterStride<>>;

struct TileRange {
    Index i0, ni, j0, nj;
};

Tile scratch_tile(Index rows, Index cols) {
    static_assert(kTile % 8 == 0, "scratch rows must start 64-byte aligned");
    alignas(64) thread_local double buf[kTile * kTile];
    return Tile(buf, rows, cols);
}

enum class Map : std::uint8_t { Kernel, SquaredDistance, Distance };

// tile = map(X[i0:i0+ni] . Y[j0:j0+nj]^T). xn, yn: squared row norms (rbf and distances only).
// zero_diagonal: the tile sits on the diagonal of K(X, X), so |x_i - x_i|^2 is set to exactly 0.
void compute_tile(Tile& tile, const TileRange& r, const ConstMatrixView& X, const ConstMatrixView& Y,
                  const KernelParams& p, Map map, const double* xn, const double* yn, bool zero_diagonal) {
    tile.noalias() = X.middleRows(r.i0, r.ni) * Y.middleRows(r.j0, r.nj).transpose();
    if (map == Map::Kernel && p.type != KernelType::Rbf) {
        switch (p.type) {
            case KernelType::Linear: return;
            case KernelType::Poly:
                for (Index a = 0; a < r.ni; ++a)
                    for (Index b = 0; b < r.nj; ++b) tile(a, b) = poly_pow(p.gamma * tile(a, b) + p.coef0, p.degree);
                return;
            case KernelType::Sigmoid: tile = (p.gamma * tile.array() + p.coef0).tanh().matrix(); return;
            case KernelType::Rbf:
            case KernelType::Precomputed: break;  // rejected by check_computable
        }
    }
    const Eigen::Map<const Eigen::ArrayXd> ys(yn + r.j0, r.nj);
    for (Index a = 0; a < r.ni; ++a)
        tile.row(a) = (xn[r.i0 + a] - 2.0 * tile.row(a).array() + ys.transpose()).cwiseMax(0.0).matrix();
    if (zero_diagonal)
        for (Index a = 0; a < r.ni; ++a) tile(a, a) = 0.0;
    if (map == Map::Kernel) tile = (-p.gamma * tile.array()).exp().matrix();
    else if (map == Map::Distance) tile = tile.array().sqrt().matrix();
}

// Fills the n x m output (row stride ld) tile by tile, computing in double and storing as T;
// with `symmetric` only the tiles on or above the diagonal are computed and each is mirrored
// into the lower triangle.
template <class T>
void tiled(const ConstMatrixView& X, const ConstMatrixView& Y, const KernelParams& p, Map map, bool symmetric,
           T* out, Index ld, int n_threads) {
    const Index n = X.rows(), m = Y.rows();
    const bool norms = map != Map::Kernel || p.type == KernelType::Rbf;
    const Eigen::VectorXd xn = norms ? Eigen::VectorXd(X.rowwise().squaredNorm()) : Eigen::VectorXd();
    const Eigen::VectorXd yn = norms && !symmetric ? Eigen::VectorXd(Y.rowwise().squaredNorm()) : xn;

    const Index bn = (n + kTile - 1) / kTile, bm = (m + kTile - 1) / kTile;
    std::vector<std::pair<Index, Index>> tiles;
    tiles.reserve(static_cast<std::size_t>(symmetric ? bn * (bn + 1) / 2 : bn * bm));
    for (Index bi = 0; bi < bn; ++bi)
        for (Index bj = symmetric ? bi : 0; bj < bm; ++bj) tiles.emplace_back(bi, bj);

    parallel_for(0, static_cast<std::int64_t>(tiles.size()), n_threads, [&](std::int64_t t) {
        const auto [bi, bj] = tiles[static_cast<std::size_t>(t)];
        const TileRange r{bi * kTile, std::min(kTile, n - bi * kTile), bj * kTile, std::min(kTile, m - bj * kTile)};
        Tile tile = scratch_tile(r.ni, r.nj);
        compute_tile(tile, r, X, Y, p, map, xn.data(), yn.data(), symmetric && bi == bj);
        OutTile<T> dst(out + r.i0 * ld + r.j0, r.ni, r.nj, Eigen::OuterStride<>(ld));
        if (!symmetric) {
            dst = tile.template cast<T>();
        } else if (bi == bj) {
            // Exactly symmetric: the lower triangle is a copy of the upper one.
            for (Index a = 0; a < r.ni; ++a)
                for (Index b = 0; b < r.nj; ++b) dst(a, b) = static_cast<T>(b >= a ? tile(a, b) : tile(b, a));
        } else {
            dst = tile.template cast<T>();
            OutTile<T> mirror(out + r.j0 * ld + r.i0, r.nj, r.ni, Eigen::OuterStride<>(ld));
            mirror = tile.transpose().template cast<T>();
        }
    });
}

void check_inputs(const char* where, const ConstMatrixView& X, const ConstMatrixView& Y, bool symmetric) {
    require(X.cols() == Y.cols(), where,
            "X has " + std::to_string(X.cols()) + " features but Y has " + std::to_string(Y.cols()));
    require(!symmetric || (X.data() == Y.data() && X.rows() == Y.rows()), where, "symmetric=true needs Y to be X");
}

}  // namespace

void check_kernel_params(const KernelParams& p, const char* where) {
    require(std::isfinite(p.gamma) && p.gamma >= 0.0, where,
            "gamma must be a finite number >= 0, got " + std::to_string(p.gamma));
    require(std::isfinite(p.coef0), where, "coef0 must be finite, got " + std::to_string(p.coef0));
    require(p.type != KernelType::Poly || (std::isfinite(p.degree) && p.degree >= 0.0), where,
            "degree must be a finite number >= 0, got " + std::to_string(p.degree));
}

void check_computable(const KernelParams& p, const char* where) {
    require(p.type != KernelType::Precomputed, where, "a precomputed kernel cannot be computed from features");
    check_kernel_params(p, where);
}

double kernel_diagonal(const KernelParams& p, double sq) {
    switch (p.type) {
        case KernelType::Linear: return sq;
        case KernelType::Poly: return poly_pow(p.gamma * sq + p.coef0, p.degree);
        case KernelType::Rbf: return 1.0;
        case KernelType::Sigmoid: return std::tanh(p.gamma * sq + p.coef0);
        case KernelType::Precomputed: break;
    }
    throw InvalidArgument("kernel_diagonal: a precomputed kernel has no formula");
}

void euclidean_distances(const ConstMatrixView& X, const ConstMatrixView& Y, bool squared, bool symmetric,
                         double* out, int n_threads) {
    check_inputs("euclidean_distances", X, Y, symmetric);
    tiled(X, Y, KernelParams{}, squared ? Map::SquaredDistance : Map::Distance, symmetric, out, Y.rows(), n_threads);
}

template <class T>
void gram_matrix(const ConstMatrixView& X, const ConstMatrixView& Y, const KernelParams& p, bool symmetric,
                 T* out, Index ld, int n_threads) {
    check_inputs("gram_matrix", X, Y, symmetric);
    check_computable(p, "gram_matrix");
    require(ld >= Y.rows(), "gram_matrix", "ld must be >= Y.rows()");
    tiled(X, Y, p, Map::Kernel, symmetric, out, ld, n_threads);
}
template void gram_matrix<double>(const ConstMatrixView&, const ConstMatrixView&, const KernelParams&, bool,
                                  double*, Index, int);
template void gram_matrix<float>(const ConstMatrixView&, const ConstMatrixView&, const KernelParams&, bool,
                                 float*, Index, int);

void decision_function(const ConstMatrixView& X, const ConstMatrixView& SV, const ConstMatrixView& coef,
                       const double* intercept, const KernelParams& p, double* out, int n_threads) {
    const char* where = "decision_function";
    check_inputs(where, X, SV, false);
    check_computable(p, where);
    require(coef.rows() == SV.rows(), where,
            "coef has " + std::to_string(coef.rows()) + " rows but there are " + std::to_string(SV.rows()) +
                " support vectors");
    const Index n = X.rows(), m = SV.rows(), k = coef.cols();
    const bool norms = p.type == KernelType::Rbf;
    const Eigen::VectorXd xn = norms ? Eigen::VectorXd(X.rowwise().squaredNorm()) : Eigen::VectorXd();
    const Eigen::VectorXd sn = norms ? Eigen::VectorXd(SV.rowwise().squaredNorm()) : Eigen::VectorXd();
    const Eigen::Map<const Eigen::RowVectorXd> b(intercept, k);
    const Index bn = (n + kTile - 1) / kTile;
    // Each block of rows sums its tiles in a fixed order: the result does not depend on threads.
    parallel_for(0, bn, n_threads, [&](std::int64_t bi) {
        const Index i0 = bi * kTile, ni = std::min(kTile, n - i0);
        MatrixView dst(out + i0 * k, ni, k);
        dst.rowwise() = b;
        for (Index j0 = 0; j0 < m; j0 += kTile) {
            const TileRange r{i0, ni, j0, std::min(kTile, m - j0)};
            Tile tile = scratch_tile(r.ni, r.nj);
            compute_tile(tile, r, X, SV, p, Map::Kernel, xn.data(), sn.data(), false);
            dst.noalias() += tile * coef.middleRows(j0, r.nj);
        }
    });
}

}  // namespace mlsci::svm
