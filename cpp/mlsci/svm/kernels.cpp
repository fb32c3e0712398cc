// Tiled Gram matrices; see kernels.hpp.
#include "mlsci/svm/kernels.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "mlsci/common/error.hpp"
#include "mlsci/common/parallel.hpp"

namespace mlsci::svm {

namespace {

// 128 x 128 doubles = 128 KiB per output tile: it stays in L2 between the GEMM and the map.
constexpr Index kTile = 128;

// A tile is computed in a per-thread scratch buffer whose rows all start 64-byte aligned, then
// copied out. Eigen peels an unaligned row head with scalar code (std::exp, no FMA), whose last
// bit differs from its SIMD path; in place, results would depend on where the allocator put
// the output. In scratch they depend only on the tile's shape, which the tiling fixes.
using Tile = Eigen::Map<RowMatrixXd, Eigen::Aligned64, Eigen::OuterStride<kTile>>;
using OutTile = Eigen::Map<RowMatrixXd, 0, Eigen::OuterStride<>>;

struct TileRange {
    Index i0, ni, j0, nj;
};

Tile scratch_tile(Index rows, Index cols) {
    // kTile is a multiple of 8 doubles, so with an aligned base every row is 64-byte aligned.
    static_assert(kTile % 8 == 0, "scratch rows must start 64-byte aligned");
    alignas(64) thread_local double buf[kTile * kTile];
    return Tile(buf, rows, cols);
}

// Runs fn(tile, range) over the tiles of the n x m output; with `symmetric` only over the tiles
// on or above the diagonal, mirroring each into the lower triangle.
template <class Fn>
void for_each_tile(Index n, Index m, bool symmetric, double* out, int n_threads, Fn&& fn) {
    const Index bn = (n + kTile - 1) / kTile, bm = (m + kTile - 1) / kTile;
    std::vector<std::pair<Index, Index>> tiles;
    tiles.reserve(static_cast<std::size_t>(symmetric ? bn * (bn + 1) / 2 : bn * bm));
    for (Index bi = 0; bi < bn; ++bi)
        for (Index bj = symmetric ? bi : 0; bj < bm; ++bj) tiles.emplace_back(bi, bj);

    parallel_for(0, static_cast<std::int64_t>(tiles.size()), n_threads, [&](std::int64_t t) {
        const auto [bi, bj] = tiles[static_cast<std::size_t>(t)];
        const TileRange r{bi * kTile, std::min(kTile, n - bi * kTile), bj * kTile,
                          std::min(kTile, m - bj * kTile)};
        Tile tile = scratch_tile(r.ni, r.nj);
        fn(tile, r);
        OutTile dst(out + r.i0 * m + r.j0, r.ni, r.nj, Eigen::OuterStride<>(m));
        if (!symmetric) {
            dst = tile;
        } else if (bi == bj) {
            // Exactly symmetric: the lower triangle is a copy of the upper one.
            for (Index a = 0; a < r.ni; ++a)
                for (Index b = 0; b < r.nj; ++b) dst(a, b) = b >= a ? tile(a, b) : tile(b, a);
        } else {
            dst = tile;
            OutTile mirror(out + r.j0 * m + r.i0, r.nj, r.ni, Eigen::OuterStride<>(m));
            mirror = tile.transpose();
        }
    });
}

void check_inputs(const char* where, const ConstMatrixView& X, const ConstMatrixView& Y, bool symmetric) {
    require(X.cols() == Y.cols(), where,
            "X has " + std::to_string(X.cols()) + " features but Y has " + std::to_string(Y.cols()));
    require(!symmetric || (X.data() == Y.data() && X.rows() == Y.rows()), where,
            "symmetric=true needs Y to be X");
}

// The tile of squared distances |x|^2 - 2 x.y + |y|^2, clipped at 0.
void squared_distance_tile(Tile& tile, const TileRange& r, const ConstMatrixView& X,
                           const ConstMatrixView& Y, const Eigen::VectorXd& xn, const Eigen::VectorXd& yn) {
    tile.noalias() = X.middleRows(r.i0, r.ni) * Y.middleRows(r.j0, r.nj).transpose();
    const auto xs = xn.segment(r.i0, r.ni).array();
    const auto ys = yn.segment(r.j0, r.nj).array();
    for (Index a = 0; a < r.ni; ++a)
        tile.row(a) = (xs[a] - 2.0 * tile.row(a).array() + ys.transpose()).cwiseMax(0.0).matrix();
}

Eigen::VectorXd row_norms_squared(const ConstMatrixView& A) { return A.rowwise().squaredNorm(); }

double int_power(double base, long e) {
    double result = 1.0;
    while (e > 0) {
        if (e & 1) result *= base;
        base *= base;
        e >>= 1;
    }
    return result;
}

}  // namespace

void euclidean_distances(const ConstMatrixView& X, const ConstMatrixView& Y, bool squared,
                         bool symmetric, double* out, int n_threads) {
    check_inputs("euclidean_distances", X, Y, symmetric);
    const Eigen::VectorXd xn = row_norms_squared(X);
    const Eigen::VectorXd yn = symmetric ? xn : row_norms_squared(Y);
    for_each_tile(X.rows(), Y.rows(), symmetric, out, n_threads, [&](Tile& tile, const TileRange& r) {
        squared_distance_tile(tile, r, X, Y, xn, yn);
        if (symmetric && r.i0 == r.j0)
            for (Index a = 0; a < r.ni; ++a) tile(a, a) = 0.0;
        if (!squared) tile = tile.array().sqrt().matrix();
    });
}

void gram_matrix(const ConstMatrixView& X, const ConstMatrixView& Y, const KernelParams& p,
                 bool symmetric, double* out, int n_threads) {
    const char* where = "gram_matrix";
    check_inputs(where, X, Y, symmetric);
    require(std::isfinite(p.gamma) && p.gamma >= 0.0, where,
            "gamma must be a finite number >= 0, got " + std::to_string(p.gamma));
    require(std::isfinite(p.coef0), where, "coef0 must be finite, got " + std::to_string(p.coef0));

    switch (p.type) {
        case KernelType::Rbf: {
            const Eigen::VectorXd xn = row_norms_squared(X);
            const Eigen::VectorXd yn = symmetric ? xn : row_norms_squared(Y);
            for_each_tile(X.rows(), Y.rows(), symmetric, out, n_threads, [&](Tile& tile, const TileRange& r) {
                squared_distance_tile(tile, r, X, Y, xn, yn);
                if (symmetric && r.i0 == r.j0)
                    for (Index a = 0; a < r.ni; ++a) tile(a, a) = 0.0;
                tile = (-p.gamma * tile.array()).exp().matrix();
            });
            return;
        }
        case KernelType::Linear:
            for_each_tile(X.rows(), Y.rows(), symmetric, out, n_threads, [&](Tile& tile, const TileRange& r) {
                tile.noalias() = X.middleRows(r.i0, r.ni) * Y.middleRows(r.j0, r.nj).transpose();
            });
            return;
        case KernelType::Poly: {
            require(std::isfinite(p.degree) && p.degree >= 1.0, where,
                    "degree must be a finite number >= 1, got " + std::to_string(p.degree));
            const bool integral = p.degree == std::floor(p.degree) && p.degree <= 64.0;
            for_each_tile(X.rows(), Y.rows(), symmetric, out, n_threads, [&](Tile& tile, const TileRange& r) {
                tile.noalias() = X.middleRows(r.i0, r.ni) * Y.middleRows(r.j0, r.nj).transpose();
                for (Index a = 0; a < r.ni; ++a)
                    for (Index b = 0; b < r.nj; ++b) {
                        const double base = p.gamma * tile(a, b) + p.coef0;
                        tile(a, b) = integral ? int_power(base, static_cast<long>(p.degree)) : std::pow(base, p.degree);
                    }
            });
            return;
        }
        case KernelType::Sigmoid:
            for_each_tile(X.rows(), Y.rows(), symmetric, out, n_threads, [&](Tile& tile, const TileRange& r) {
                tile.noalias() = X.middleRows(r.i0, r.ni) * Y.middleRows(r.j0, r.nj).transpose();
                tile = (p.gamma * tile.array() + p.coef0).tanh().matrix();
            });
            return;
    }
    throw InvalidArgument("gram_matrix: unknown kernel type");
}

}  // namespace mlsci::svm
