// Single-chain samplers with warmup adaptation (see hmc.hpp).
#include "mlsci/mcmc/hmc.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "mlsci/common/error.hpp"
#include "mlsci/common/parallel.hpp"
#include "mlsci/common/rng.hpp"

namespace mlsci::mcmc {

namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;
using Vec = Eigen::Map<VectorXd>;
using CVec = Eigen::Map<const VectorXd>;
constexpr double kInf = std::numeric_limits<double>::infinity();

// Dual averaging constants (Hoffman & Gelman 2014, section 3.2).
constexpr double kGamma = 0.05, kT0 = 10.0, kKappa = 0.75;

double log_add_exp(double a, double b) {
    if (a == -kInf) return b;
    if (b == -kInf) return a;
    const double m = std::max(a, b);
    return m + std::log1p(std::exp(-std::abs(a - b)));
}

// Stan's warmup windows for n_warmup iterations: iterations [init, n_warmup - term) feed the
// metric estimate in windows of doubling length; is_window_end(i) says whether the metric is
// updated after iteration i (0-based).
// Random-walk Metropolis gets a longer final step-size phase (a fifth of warmup): its
// acceptance statistic is far noisier than HMC's.
struct Windows {
    std::int64_t init = 0, term = 0;
    std::vector<std::int64_t> ends;
    Windows(std::int64_t n_warmup, bool metropolis) {
        if (n_warmup < 20) return;  // too short to estimate a metric: step size only
        std::int64_t base = 25;
        init = 75;
        term = metropolis ? std::max<std::int64_t>(50, n_warmup / 5) : 50;
        if (init + base + term > n_warmup) {
            init = static_cast<std::int64_t>(0.15 * double(n_warmup));
            term = static_cast<std::int64_t>(0.1 * double(n_warmup));
            base = n_warmup - init - term;
        }
        const std::int64_t last = n_warmup - term;
        std::int64_t start = init, size = base;
        while (start < last) {
            std::int64_t end = start + size;
            if (end + 2 * size > last) end = last;
            ends.push_back(end);
            start = end;
            size *= 2;
        }
    }
    bool collecting(std::int64_t i) const { return !ends.empty() && i >= init && i < ends.back(); }
    bool is_window_end(std::int64_t i) const { return std::find(ends.begin(), ends.end(), i + 1) != ends.end(); }
};

// The metric of one chain: C (the inverse metric, a covariance) and its Cholesky factor.
class Metric {
public:
    Metric(int d, bool dense) : d_(d), dense_(dense), c_(d), sqrt_c_(d) {
        if (dense_) {
            C_.resize(d, d);
            L_.resize(d, d);
        }
    }
    void load(const double* m) {
        if (dense_) {
            C_ = Eigen::Map<const MatrixXd>(m, d_, d_);
            Eigen::LLT<MatrixXd> llt(C_);
            if (llt.info() != Eigen::Success) throw Error("the adapted metric is not positive definite");
            L_ = llt.matrixL();
        } else {
            for (int i = 0; i < d_; ++i) {
                c_[i] = m[i];
                sqrt_c_[i] = std::sqrt(m[i]);
            }
        }
    }
    // p ~ N(0, C^-1) from standard normals z.
    void momentum(const VectorXd& z, VectorXd& p) const {
        if (dense_)
            p = L_.transpose().triangularView<Eigen::Upper>().solve(z);
        else
            p = z.cwiseQuotient(sqrt_c_);
    }
    // Velocity C p (the "sharp" momentum of Betancourt 2017).
    void velocity(const VectorXd& p, VectorXd& v) const {
        if (dense_)
            v.noalias() = C_ * p;  // C is stored in full: a plain GEMV beats the selfadjoint kernel at these sizes
        else
            v = c_.cwiseProduct(p);
    }
    // A Metropolis step C^{1/2} z.
    void scale(const VectorXd& z, VectorXd& out) const {
        if (dense_)
            out.noalias() = L_.triangularView<Eigen::Lower>() * z;
        else
            out = sqrt_c_.cwiseProduct(z);
    }

private:
    int d_;
    bool dense_;
    VectorXd c_, sqrt_c_;
    MatrixXd C_, L_;
};

struct Point {
    VectorXd x, p, g;
    double lp = 0.0;
    explicit Point(int d = 0) : x(d), p(d), g(d) {}
};

// A subtree of a NUTS trajectory: its sample, the sum of its momenta, the momenta and
// velocities at its two ends (in the order it was built), and its log weight.
struct Subtree {
    VectorXd rho, p_beg, p_end, v_beg, v_end, x, g;
    double lp = 0.0, log_w = -kInf;
    explicit Subtree(int d = 0) : rho(d), p_beg(d), p_end(d), v_beg(d), v_end(d), x(d), g(d) {}
};

bool no_u_turn(const VectorXd& v_a, const VectorXd& v_b, const VectorXd& rho) {
    return v_a.dot(rho) > 0.0 && v_b.dot(rho) > 0.0;
}

struct Transition {
    double accept = 0.0, energy = 0.0;
    int n_steps = 0, depth = 0;
    bool divergent = false;
};

// One chain's sampler: the integrator, the trajectory builders and scratch space.
class Chain {
public:
    Chain(const ChainConfig& cfg, const Target& target, const Metric& metric)
        : cfg_(cfg), t_(target), m_(metric), d_(cfg.ndim), z_(d_), tmp_(d_), v_(d_), minus_(d_), plus_(d_),
          top_(d_), rho_(d_), v_minus_(d_), v_plus_(d_), p_minus_(d_), p_plus_(d_), ext_(d_) {
        for (int i = 0; i <= cfg.max_tree_depth; ++i) {
            init_.emplace_back(d_);
            fin_.emplace_back(d_);
        }
    }

    void normals(Philox& rng, VectorXd& z) {
        for (int i = 0; i < d_; ++i) z[i] = rng.normal();
    }

    double kinetic(const VectorXd& p) {
        m_.velocity(p, v_);
        return 0.5 * p.dot(v_);
    }

    void leapfrog(Point& z, double eps) {
        z.p += 0.5 * eps * z.g;
        m_.velocity(z.p, v_);
        z.x += eps * v_;
        z.lp = t_.log_prob_grad(z.x.data(), z.g.data());
        z.p += 0.5 * eps * z.g;
    }

    double hamiltonian(const Point& z) {
        const double h = -z.lp + kinetic(z.p);
        return std::isnan(h) ? kInf : h;
    }

    // Stan's heuristic: double or halve eps until one leapfrog step's acceptance crosses 0.8.
    double reasonable_step_size(Point& cur, double eps, Philox& rng) {
        const double target = std::log(0.8);
        int direction = 0;
        for (int it = 0; it < 100; ++it) {
            Point z = cur;
            normals(rng, tmp_);
            m_.momentum(tmp_, z.p);
            const double h0 = hamiltonian(z);
            leapfrog(z, eps);
            const double delta = h0 - hamiltonian(z);
            if (direction == 0) direction = delta > target ? 1 : -1;
            if (direction == 1 && !(delta > target)) break;
            if (direction == -1 && !(delta < target)) break;
            eps = direction == 1 ? 2.0 * eps : 0.5 * eps;
            if (eps > 1e7) throw Error("the step size grew past 1e7: the posterior may be improper");
            if (eps == 0.0) throw Error("the step size fell to 0: the log density may not be smooth");
        }
        return eps;
    }

    Transition metropolis(Point& cur, double eps, Philox& rng) {
        normals(rng, tmp_);
        m_.scale(tmp_, z_.x);
        z_.x = cur.x + eps * z_.x;
        const double lp = t_.log_prob(z_.x.data());
        if (std::isnan(lp) || lp == kInf)
            throw InvalidArgument("log_prob returned " + std::string(std::isnan(lp) ? "NaN" : "+inf") +
                                  " (return -inf for points outside the support)");
        Transition tr;
        tr.n_steps = 1;
        const double log_a = lp - cur.lp;
        tr.accept = log_a >= 0.0 ? 1.0 : std::exp(log_a);
        if (std::log(rng.uniform_open()) < log_a) {
            cur.x = z_.x;
            cur.lp = lp;
        }
        return tr;
    }

    Transition hmc(Point& cur, double eps, Philox& rng) {
        z_.x = cur.x;
        z_.g = cur.g;
        z_.lp = cur.lp;
        normals(rng, tmp_);
        m_.momentum(tmp_, z_.p);
        Transition tr;
        const double h0 = hamiltonian(z_);
        tr.energy = h0;
        double h = h0;
        for (int s = 0; s < cfg_.n_leapfrog; ++s) {
            leapfrog(z_, eps);
            ++tr.n_steps;
            h = hamiltonian(z_);
            if (h - h0 > cfg_.max_delta_h) {
                tr.divergent = true;
                break;
            }
        }
        const double log_a = tr.divergent ? -kInf : h0 - h;
        tr.accept = log_a >= 0.0 ? 1.0 : std::exp(log_a);
        if (std::log(rng.uniform_open()) < log_a) {
            cur.x = z_.x;
            cur.g = z_.g;
            cur.lp = z_.lp;
        }
        return tr;
    }

    Transition nuts(Point& cur, double eps, Philox& rng) {
        Transition tr;
        minus_.x = cur.x;
        minus_.g = cur.g;
        minus_.lp = cur.lp;
        normals(rng, tmp_);
        m_.momentum(tmp_, minus_.p);
        h0_ = hamiltonian(minus_);
        tr.energy = h0_;
        plus_ = minus_;
        rho_ = minus_.p;
        p_minus_ = p_plus_ = minus_.p;
        m_.velocity(minus_.p, v_minus_);
        v_plus_ = v_minus_;
        double log_w = 0.0;  // the initial point's weight, exp(h0 - h0)
        sum_accept_ = 0.0;
        n_steps_ = 0;
        divergent_ = false;
        for (int depth = 0; depth < cfg_.max_tree_depth; ++depth) {
            const bool forward = rng.uniform() < 0.5;
            Point& edge = forward ? plus_ : minus_;
            if (!build(depth, edge, forward ? eps : -eps, top_, rng)) break;
            tr.depth = depth + 1;
            // Biased progressive sampling: favour the new subtree (Betancourt 2017, A.3.2).
            if (top_.log_w > log_w || rng.uniform() < std::exp(top_.log_w - log_w)) {
                cur.x = top_.x;
                cur.g = top_.g;
                cur.lp = top_.lp;
            }
            log_w = log_add_exp(log_w, top_.log_w);
            // The merged tree must not U-turn, nor must it with one point more on either side
            // of the join (the extra checks that catch U-turns hidden between subtrees).
            bool go;
            if (forward) {
                ext_ = rho_ + top_.p_beg;
                go = no_u_turn(v_minus_, top_.v_beg, ext_);
                ext_ = top_.rho + p_plus_;
                go = go && no_u_turn(v_plus_, top_.v_end, ext_);
                p_plus_ = top_.p_end;
                v_plus_ = top_.v_end;
            } else {
                ext_ = rho_ + top_.p_beg;
                go = no_u_turn(v_plus_, top_.v_beg, ext_);
                ext_ = top_.rho + p_minus_;
                go = go && no_u_turn(v_minus_, top_.v_end, ext_);
                p_minus_ = top_.p_end;
                v_minus_ = top_.v_end;
            }
            rho_ += top_.rho;
            if (!(go && no_u_turn(v_minus_, v_plus_, rho_))) break;
        }
        tr.n_steps = n_steps_;
        tr.divergent = divergent_;
        tr.accept = n_steps_ > 0 ? sum_accept_ / n_steps_ : 0.0;
        return tr;
    }

private:
    // Extends the trajectory from `edge` by 2^depth leapfrog steps of size eps (negative:
    // backward) into `out`; false on a divergence or a U-turn inside the new subtree.
    bool build(int depth, Point& edge, double eps, Subtree& out, Philox& rng) {
        if (depth == 0) {
            leapfrog(edge, eps);
            ++n_steps_;
            const double h = hamiltonian(edge);
            if (h - h0_ > cfg_.max_delta_h) {
                divergent_ = true;
                return false;
            }
            out.log_w = h0_ - h;
            sum_accept_ += h0_ - h > 0.0 ? 1.0 : std::exp(h0_ - h);
            out.x = edge.x;
            out.g = edge.g;
            out.lp = edge.lp;
            out.rho = edge.p;
            out.p_beg = out.p_end = edge.p;
            m_.velocity(edge.p, out.v_beg);
            out.v_end = out.v_beg;
            return true;
        }
        Subtree& a = init_[static_cast<std::size_t>(depth - 1)];
        Subtree& b = fin_[static_cast<std::size_t>(depth - 1)];
        if (!build(depth - 1, edge, eps, a, rng)) return false;
        if (!build(depth - 1, edge, eps, b, rng)) return false;
        out.log_w = log_add_exp(a.log_w, b.log_w);
        const Subtree& pick = std::log(rng.uniform_open()) < b.log_w - out.log_w ? b : a;
        out.x = pick.x;
        out.g = pick.g;
        out.lp = pick.lp;
        out.rho = a.rho + b.rho;
        out.p_beg = a.p_beg;
        out.v_beg = a.v_beg;
        out.p_end = b.p_end;
        out.v_end = b.v_end;
        bool go = no_u_turn(a.v_beg, b.v_end, out.rho);
        ext_ = a.rho + b.p_beg;
        go = go && no_u_turn(a.v_beg, b.v_beg, ext_);
        ext_ = b.rho + a.p_end;
        go = go && no_u_turn(a.v_end, b.v_end, ext_);
        return go;
    }

    const ChainConfig& cfg_;
    const Target& t_;
    const Metric& m_;
    int d_;
    Point z_;
    VectorXd tmp_, v_;
    Point minus_, plus_;
    Subtree top_;
    VectorXd rho_, v_minus_, v_plus_, p_minus_, p_plus_, ext_;
    std::vector<Subtree> init_, fin_;
    double h0_ = 0.0, sum_accept_ = 0.0;
    int n_steps_ = 0;
    bool divergent_ = false;
};

// mu, the point the iterates shrink toward, is 10 eps for HMC (Hoffman & Gelman: favour larger
// steps) and eps itself for Metropolis.
void restart_dual_averaging(double* a, double eps, bool metropolis) {
    a[LogEps] = std::log(eps);
    a[LogEpsBar] = 0.0;
    a[HBar] = 0.0;
    a[Mu] = std::log((metropolis ? 1.0 : 10.0) * eps);
    a[DaCount] = 0.0;
}

void check_config(const ChainConfig& cfg) {
    const char* where = "chains";
    require(cfg.ndim >= 1, where, "ndim must be >= 1");
    require(cfg.target_accept > 0.0 && cfg.target_accept < 1.0, where, "target_accept must be in (0, 1)");
    require(cfg.max_tree_depth >= 1 && cfg.max_tree_depth <= 30, where, "max_tree_depth must be in [1, 30]");
    require(cfg.n_leapfrog >= 1, where, "n_leapfrog must be >= 1");
    require(cfg.n_warmup >= 0, where, "n_warmup must be >= 0");
    require(cfg.max_delta_h > 0.0, where, "max_delta_h must be > 0");
    require(cfg.step_jitter >= 0.0 && cfg.step_jitter < 1.0, where, "jitter must be in [0, 1)");
}

}  // namespace

void init_chains(const ChainConfig& cfg, const ChainState& st, int n_chains, double step_size, const Target& target) {
    check_config(cfg);
    require(target.dim() == cfg.ndim, "chains", "the target's dimension differs from ndim");
    const int d = cfg.ndim;
    const bool gradient = cfg.algorithm != ChainAlgorithm::Metropolis;
    for (int c = 0; c < n_chains; ++c) {
        double* x = st.x + std::int64_t{c} * d;
        double* g = st.grad + std::int64_t{c} * d;
        const double lp = gradient ? target.log_prob_grad(x, g) : target.log_prob(x);
        bool ok = std::isfinite(lp);
        if (gradient)
            for (int i = 0; i < d; ++i) ok = ok && std::isfinite(g[i]);
        if (!ok)
            throw InvalidArgument("chain " + std::to_string(c) + " starts where the log density" +
                                  (gradient ? " or its gradient" : "") + " is not finite (" + std::to_string(lp) +
                                  "): start every chain inside the support");
        st.lp[c] = lp;
        const double eps = step_size > 0.0 ? step_size
                                           : (cfg.algorithm == ChainAlgorithm::Metropolis ? 2.38 / std::sqrt(double(d))
                                                                                           : 1.0);
        double* a = st.adapt + std::int64_t{c} * kAdaptSize;
        restart_dual_averaging(a, eps, !gradient);
        a[WelfordCount] = 0.0;
        const std::int64_t msize = cfg.dense_metric ? std::int64_t{d} * d : d;
        std::fill(st.w_mean + std::int64_t{c} * d, st.w_mean + std::int64_t{c + 1} * d, 0.0);
        std::fill(st.w_m2 + c * msize, st.w_m2 + (c + 1) * msize, 0.0);
        st.iteration[c] = 0;
    }
}

void run_chains(const ChainConfig& cfg, const ChainState& st, const ChainTrace& tr, int n_chains,
                std::uint32_t first_chain, std::int64_t until, const Target& target, int n_threads) {
    check_config(cfg);
    require(target.dim() == cfg.ndim, "chains", "the target's dimension differs from ndim");
    require(until <= tr.capacity, "chains", "the trace has no room for this many iterations");
    require(until < (std::int64_t{1} << 32), "chains", "at most 2**32 - 1 iterations per chain");
    for (std::int64_t c = 0; c < n_chains; ++c)  // a state read from a file writes the trace at these rows
        require(st.iteration[c] >= 0 && st.iteration[c] <= tr.capacity, "chains",
                "chain " + std::to_string(c) + " is at iteration " + std::to_string(st.iteration[c]) +
                    ", outside its trace of " + std::to_string(tr.capacity));
    const int d = cfg.ndim;
    const std::int64_t msize = cfg.dense_metric ? std::int64_t{d} * d : d;
    const bool gradient = cfg.algorithm != ChainAlgorithm::Metropolis;
    const Windows windows(cfg.n_warmup, !gradient);
    const int nt = target.thread_safe() ? std::min(resolve_threads(n_threads), std::max(n_chains, 1)) : 1;

    parallel_for(0, n_chains, nt, [&](std::int64_t c) {
        double* x = st.x + c * d;
        double* g = st.grad + c * d;
        double* a = st.adapt + c * kAdaptSize;
        double* metric = st.metric + c * msize;
        double* w_mean = st.w_mean + c * d;
        double* w_m2 = st.w_m2 + c * msize;
        const auto chain_id = static_cast<std::uint32_t>(first_chain + static_cast<std::uint32_t>(c));
        Metric m(d, cfg.dense_metric);
        m.load(metric);
        Chain chain(cfg, target, m);
        Point cur(d);
        cur.x = CVec(x, d);
        cur.g = CVec(g, d);
        cur.lp = st.lp[c];

        for (std::int64_t it = st.iteration[c]; it < until; ++it) {
            const auto it32 = static_cast<std::uint32_t>(it);
            const bool warmup = it < cfg.n_warmup;
            // A fresh step size at the start and after every metric update (Stan's heuristic).
            if (gradient && warmup && cfg.adapt_step_size && a[DaCount] == 0.0) {
                Philox init_rng{cfg.seed, Stream::McmcHmc, it32, chain_id, 1u};
                restart_dual_averaging(a, chain.reasonable_step_size(cur, std::exp(a[LogEps]), init_rng), false);
            }
            Philox rng{cfg.seed, Stream::McmcHmc, it32, chain_id, 0u};
            double eps = std::exp(a[LogEps]);
            if (cfg.algorithm == ChainAlgorithm::Hmc && cfg.step_jitter > 0.0)
                eps *= std::exp(cfg.step_jitter * (2.0 * rng.uniform() - 1.0));
            Transition t;
            switch (cfg.algorithm) {
                case ChainAlgorithm::Metropolis: t = chain.metropolis(cur, eps, rng); break;
                case ChainAlgorithm::Hmc: t = chain.hmc(cur, eps, rng); break;
                case ChainAlgorithm::Nuts: t = chain.nuts(cur, eps, rng); break;
            }
            // Commit the iteration: state first, then the trace row, then the adaptation.
            std::copy(cur.x.data(), cur.x.data() + d, x);
            if (gradient) std::copy(cur.g.data(), cur.g.data() + d, g);
            st.lp[c] = cur.lp;
            const std::int64_t row = c * tr.capacity + it;
            std::copy(cur.x.data(), cur.x.data() + d, tr.draws + row * d);
            tr.lp[row] = cur.lp;
            tr.accept[row] = t.accept;
            tr.step_size[row] = eps;
            tr.energy[row] = t.energy;
            tr.n_steps[row] = t.n_steps;
            tr.tree_depth[row] = t.depth;
            tr.divergent[row] = t.divergent ? 1 : 0;
            if (warmup && cfg.adapt_step_size) {
                const double n = ++a[DaCount];
                const double w = 1.0 / (n + kT0);
                a[HBar] = (1.0 - w) * a[HBar] + w * (cfg.target_accept - t.accept);
                a[LogEps] = a[Mu] - std::sqrt(n) / kGamma * a[HBar];
                const double eta = std::pow(n, -kKappa);
                a[LogEpsBar] = eta * a[LogEps] + (1.0 - eta) * a[LogEpsBar];
                if (it + 1 == cfg.n_warmup) a[LogEps] = a[LogEpsBar];
            }
            if (warmup && cfg.adapt_metric && windows.collecting(it)) {
                const double n = ++a[WelfordCount];
                Vec mean(w_mean, d);
                const VectorXd delta = cur.x - mean;
                mean += delta / n;
                if (cfg.dense_metric)
                    Eigen::Map<MatrixXd>(w_m2, d, d).noalias() += delta * (cur.x - mean).transpose();
                else
                    Vec(w_m2, d).array() += delta.array() * (cur.x - mean).array();
                if (windows.is_window_end(it)) {
                    // Regularised toward the identity, as Stan does: (n C + 5e-3 I) / (n + 5).
                    const double shrink = n / (n + 5.0), ridge = 1e-3 * 5.0 / (n + 5.0);
                    for (std::int64_t k = 0; k < msize; ++k) metric[k] = shrink * w_m2[k] / (n - 1.0);
                    for (int i = 0; i < d; ++i) metric[cfg.dense_metric ? i * d + i : i] += ridge;
                    m.load(metric);
                    a[WelfordCount] = 0.0;
                    std::fill(w_mean, w_mean + d, 0.0);
                    std::fill(w_m2, w_m2 + msize, 0.0);
                    if (cfg.adapt_step_size) {
                        if (gradient)
                            a[DaCount] = 0.0;  // the heuristic restarts it next iteration
                        else
                            restart_dual_averaging(a, std::exp(a[LogEps]), true);
                    }
                }
            }
            st.iteration[c] = it + 1;
        }
    });
}

}  // namespace mlsci::mcmc
