// RBM training and sampling; see rbm.hpp.
#include "mlsci/rbm/rbm.hpp"

#include <omp.h>

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "mlsci/common/error.hpp"
#include "mlsci/common/parallel.hpp"
#include "mlsci/common/rng.hpp"

namespace mlsci::rbm {
namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<RowMatrix>;
using VectorMap = Eigen::Map<Eigen::VectorXd>;

// Logistic function over a contiguous block; this file is compiled with -ffast-math so that GCC
// calls the vector exp of glibc's libmvec (8 lanes) instead of the scalar one.
void sigmoid(double* a, idx n) {
#pragma omp simd
    for (idx i = 0; i < n; ++i) a[i] = 1.0 / (1.0 + std::exp(-a[i]));
}

void sigmoid_inplace(RowMatrix& a) { sigmoid(a.data(), a.size()); }

// out[i] = 1 if a uniform draw < p[i] else 0; the draws are Philox blocks with counter
// {draw, block, step, tag}, generated 16 blocks per SIMD pass.
class Coins {
public:
    Coins(std::uint64_t seed, Stream stream)
        : key_{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)},
          stream_(static_cast<std::uint32_t>(stream) << 24) {}

    void flip(const double* p, double* out, idx n, std::uint32_t draw, std::uint32_t step, std::uint32_t phase) {
        const idx blocks = (n + 3) / 4;
        bits_.resize(static_cast<std::size_t>(4 * blocks));
        philox4x32_blocks(key_, draw, 0, step, stream_ | (phase & 0xFFFFFFu), blocks, bits_.data());
        constexpr double kScale = 4294967296.0;  // compare 32-bit draws with p * 2^32
        for (idx i = 0; i < n; ++i) out[i] = static_cast<double>(bits_[static_cast<std::size_t>(i)]) < p[i] * kScale ? 1.0 : 0.0;
    }

private:
    Key key_;
    std::uint32_t stream_;
    std::vector<std::uint32_t> bits_;
};

void check(const Model& m, const char* where) {
    require(m.n_hidden >= 1 && m.n_visible >= 1, where, "the model needs at least one hidden and one visible unit");
}

}  // namespace

void train_epoch(const Model& m, State& s, const double* X, const idx* order, idx n, const TrainConfig& cfg,
                 std::uint32_t epoch) {
    const char* where = "rbm.train_epoch";
    check(m, where);
    require(cfg.batch_size >= 1, where, "batch_size must be >= 1");
    require(cfg.k >= 1, where, "k must be >= 1");
    const idx nh = m.n_hidden, nv = m.n_visible;
    MatrixMap W(m.W, nh, nv);
    VectorMap bh(m.b_hidden, nh), bv(m.b_visible, nv);
    MatrixMap chain(s.chain, cfg.batch_size, nh);
    MatrixMap vW(s.vel_W, nh, nv);
    VectorMap vbh(s.vel_bh, nh), vbv(s.vel_bv, nv);
    RowMatrix V, Hpos, Hs, Vn, Hn, P;
    Coins coins(cfg.seed, Stream::Rbm);
    const idx n_batches = (n + cfg.batch_size - 1) / cfg.batch_size;
    require(n_batches < (idx{1} << 32), where, "too many minibatches for one epoch");
    for (idx b = 0; b < n_batches; ++b) {
        const idx first = b * cfg.batch_size, rows = std::min(cfg.batch_size, n - first);
        const auto draw = static_cast<std::uint32_t>(b);
        std::uint32_t phase = 0;
        auto flip = [&](const RowMatrix& p, RowMatrix& out) {
            out.resize(p.rows(), p.cols());
            coins.flip(p.data(), out.data(), p.size(), draw, epoch, phase++);
        };
        V.resize(rows, nv);
        for (idx r = 0; r < rows; ++r) V.row(r) = Eigen::Map<const Eigen::RowVectorXd>(X + order[first + r] * nv, nv);
        Hpos.noalias() = V * W.transpose();
        Hpos.rowwise() += bh.transpose();
        sigmoid_inplace(Hpos);
        if (cfg.persistent) {
            Hs = chain.topRows(rows);
        } else {
            flip(Hpos, Hs);
        }
        for (int step = 0; step < cfg.k; ++step) {
            P.noalias() = Hs * W;
            P.rowwise() += bv.transpose();
            sigmoid_inplace(P);
            flip(P, Vn);
            Hn.noalias() = Vn * W.transpose();
            Hn.rowwise() += bh.transpose();
            sigmoid_inplace(Hn);
            if (step + 1 < cfg.k) flip(Hn, Hs);
        }
        const double lr = cfg.learning_rate / static_cast<double>(rows);
        RowMatrix grad = Hpos.transpose() * V;
        grad.noalias() -= Hn.transpose() * Vn;
        if (cfg.weight_decay != 0.0) grad -= (cfg.weight_decay * static_cast<double>(rows)) * W;
        const Eigen::VectorXd gh = (Hpos.colwise().sum() - Hn.colwise().sum()).transpose();
        const Eigen::VectorXd gv = (V.colwise().sum() - Vn.colwise().sum()).transpose();
        if (cfg.momentum != 0.0) {
            vW = cfg.momentum * vW + lr * grad;
            vbh = cfg.momentum * vbh + lr * gh;
            vbv = cfg.momentum * vbv + lr * gv;
            W += vW;
            bh += vbh;
            bv += vbv;
        } else {
            W += lr * grad;
            bh += lr * gh;
            bv += lr * gv;
        }
        if (cfg.persistent) {
            flip(Hn, Hs);
            chain.topRows(rows) = Hs;
        }
    }
}

void gibbs(const Model& m, double* v, idx n, int n_steps, std::uint64_t seed, std::uint32_t step0, int n_threads) {
    const char* where = "rbm.gibbs";
    check(m, where);
    require(n_steps >= 0, where, "n_steps must be >= 0");
    const idx nh = m.n_hidden, nv = m.n_visible;
    const MatrixMap W(m.W, nh, nv);
    const VectorMap bh(m.b_hidden, nh), bv(m.b_visible, nv);
    require(n < (idx{1} << 32), where, "at most 2^32 chains");
    const int nt = resolve_threads(n_threads);
    std::vector<Coins> coins(static_cast<std::size_t>(nt), Coins(seed, Stream::RbmGibbs));
    parallel_for(0, n, nt, [&](idx i) {
        Coins& c = coins[static_cast<std::size_t>(omp_get_thread_num())];
        Eigen::Map<Eigen::RowVectorXd> vi(v + i * nv, nv);
        Eigen::RowVectorXd h(nh), ph(nh), pv(nv);
        for (int step = 0; step < n_steps; ++step) {
            const auto st = step0 + static_cast<std::uint32_t>(step);
            ph.noalias() = vi * W.transpose();
            ph += bh.transpose();
            sigmoid(ph.data(), nh);
            c.flip(ph.data(), h.data(), nh, static_cast<std::uint32_t>(i), st, 0);
            pv.noalias() = h * W;
            pv += bv.transpose();
            sigmoid(pv.data(), nv);
            c.flip(pv.data(), vi.data(), nv, static_cast<std::uint32_t>(i), st, 1);
        }
    });
}

}  // namespace mlsci::rbm
