// Cut-and-splice cluster search and the L-BFGS quench (see cluster.hpp).
#include "mlsci/ga/cluster.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "mlsci/common/error.hpp"
#include "mlsci/common/parallel.hpp"
#include "mlsci/common/rng.hpp"

namespace mlsci::ga {

namespace {

constexpr double kMaxStep = 0.3;  // largest move of any coordinate in one line-search step

double dot(const std::vector<double>& a, const std::vector<double>& b) {
    double s = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
    return s;
}

double max_abs(const std::vector<double>& a) {
    double m = 0.0;
    for (double v : a) m = std::max(m, std::abs(v));
    return m;
}

std::uint32_t uniform_index(Philox& rng, std::uint32_t n) {
    return static_cast<std::uint32_t>((static_cast<std::uint64_t>(rng.next_u32()) * n) >> 32);
}

// A uniformly random rotation matrix (row-major 3x3) from a random unit quaternion.
void random_rotation(Philox& rng, double* R) {
    double q[4], norm = 0.0;
    for (double& v : q) {
        v = rng.normal();
        norm += v * v;
    }
    norm = std::sqrt(norm);
    const double w = q[0] / norm, x = q[1] / norm, y = q[2] / norm, z = q[3] / norm;
    const double M[9] = {1 - 2 * (y * y + z * z), 2 * (x * y - z * w),     2 * (x * z + y * w),
                         2 * (x * y + z * w),     1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
                         2 * (x * z - y * w),     2 * (y * z + x * w),     1 - 2 * (x * x + y * y)};
    std::copy(M, M + 9, R);
}

// Centre on the centroid and rotate by R.
void center_rotate(const double* in, int n, const double* R, double* out) {
    double c[3] = {0, 0, 0};
    for (int i = 0; i < n; ++i)
        for (int k = 0; k < 3; ++k) c[k] += in[3 * i + k] / n;
    for (int i = 0; i < n; ++i) {
        const double p[3] = {in[3 * i] - c[0], in[3 * i + 1] - c[1], in[3 * i + 2] - c[2]};
        for (int k = 0; k < 3; ++k) out[3 * i + k] = R[3 * k] * p[0] + R[3 * k + 1] * p[1] + R[3 * k + 2] * p[2];
    }
}

// Indices of the n atoms of x sorted by z, descending or ascending.
std::vector<int> by_z(const double* x, int n, bool descending) {
    std::vector<int> idx(static_cast<std::size_t>(n));
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) {
        return descending ? x[3 * a + 2] > x[3 * b + 2] : x[3 * a + 2] < x[3 * b + 2];
    });
    return idx;
}

// Deaven–Ho mating: the top k atoms of A joined to the bottom n - k atoms of B, both randomly
// oriented; B's half is lowered if it would overlap A's.
void cut_and_splice(const double* A, const double* B, int n, Philox& rng, double* child) {
    std::vector<double> a(3 * static_cast<std::size_t>(n)), b(3 * static_cast<std::size_t>(n));
    double R[9];
    random_rotation(rng, R);
    center_rotate(A, n, R, a.data());
    random_rotation(rng, R);
    center_rotate(B, n, R, b.data());
    const int k = 1 + static_cast<int>(uniform_index(rng, static_cast<std::uint32_t>(n - 1)));
    const auto top = by_z(a.data(), n, true), bottom = by_z(b.data(), n, false);
    double a_min = std::numeric_limits<double>::infinity(), b_max = -a_min;
    for (int i = 0; i < k; ++i) a_min = std::min(a_min, a[3 * static_cast<std::size_t>(top[static_cast<std::size_t>(i)]) + 2]);
    for (int i = 0; i < n - k; ++i)
        b_max = std::max(b_max, b[3 * static_cast<std::size_t>(bottom[static_cast<std::size_t>(i)]) + 2]);
    const double shift = std::max(0.0, b_max - a_min + 0.9);  // keep the halves about a bond apart
    for (int i = 0; i < k; ++i)
        for (int c = 0; c < 3; ++c) child[3 * i + c] = a[3 * static_cast<std::size_t>(top[static_cast<std::size_t>(i)]) + static_cast<std::size_t>(c)];
    for (int i = 0; i < n - k; ++i) {
        const auto src = 3 * static_cast<std::size_t>(bottom[static_cast<std::size_t>(i)]);
        child[3 * (k + i)] = b[src];
        child[3 * (k + i) + 1] = b[src + 1];
        child[3 * (k + i) + 2] = b[src + 2] - shift;
    }
}

// Mutation: twist the upper half of the cluster about a random axis by a random angle.
void twist(double* x, int n, Philox& rng) {
    std::vector<double> y(3 * static_cast<std::size_t>(n));
    double R[9];
    random_rotation(rng, R);
    center_rotate(x, n, R, y.data());
    const double t = 2.0 * 3.14159265358979323846 * rng.uniform(), c = std::cos(t), s = std::sin(t);
    for (int i = 0; i < n; ++i) {
        double* p = y.data() + 3 * i;
        if (p[2] > 0.0) {
            const double px = c * p[0] - s * p[1], py = s * p[0] + c * p[1];
            p[0] = px;
            p[1] = py;
        }
    }
    std::copy(y.begin(), y.end(), x);
}

void random_cluster(int n, Philox& rng, double* x) {
    // Uniform in a sphere holding n atoms at density 0.8 (reduced units), close to a liquid's.
    const double radius = std::cbrt(3.0 * n / (4.0 * 3.14159265358979323846 * 0.8));
    for (int i = 0; i < n; ++i) {
        double p[3], r2;
        do {
            r2 = 0.0;
            for (double& v : p) {
                v = (2.0 * rng.uniform() - 1.0) * radius;
                r2 += v * v;
            }
        } while (r2 > radius * radius);
        std::copy(p, p + 3, x + 3 * i);
    }
}

int worst_of(const double* e, int n) { return static_cast<int>(std::max_element(e, e + n) - e); }

}  // namespace

LbfgsResult lbfgs(const Problem& problem, double* x, double gtol, int max_iter, int m) {
    require(problem.has_gradient(), "lbfgs", problem.name() + " has no gradient");
    require(gtol > 0.0 && max_iter >= 0 && m >= 1, "lbfgs", "need gtol > 0, max_iter >= 0, m >= 1");
    const auto d = static_cast<std::size_t>(problem.dim());
    std::vector<double> g(d), g_new(d), dir(d), x_new(d), alpha(static_cast<std::size_t>(m));
    std::vector<std::vector<double>> S(static_cast<std::size_t>(m), std::vector<double>(d)), Y = S;
    std::vector<double> rho(static_cast<std::size_t>(m));
    int stored = 0, head = 0;
    LbfgsResult r;
    r.f = problem.evaluate_grad(x, g.data());
    r.evaluations = 1;
    for (; r.iterations < max_iter; ++r.iterations) {
        if (max_abs(g) < gtol) {
            r.converged = true;
            break;
        }
        // Two-loop recursion: dir = -H g.
        for (std::size_t i = 0; i < d; ++i) dir[i] = -g[i];
        for (int j = 0; j < stored; ++j) {
            const auto k = static_cast<std::size_t>((head - 1 - j + m) % m);
            alpha[k] = rho[k] * dot(S[k], dir);
            for (std::size_t i = 0; i < d; ++i) dir[i] -= alpha[k] * Y[k][i];
        }
        if (stored > 0) {
            const auto k = static_cast<std::size_t>((head - 1 + m) % m);
            const double gamma = dot(S[k], Y[k]) / dot(Y[k], Y[k]);
            for (double& v : dir) v *= gamma;
        }
        for (int j = stored - 1; j >= 0; --j) {
            const auto k = static_cast<std::size_t>((head - 1 - j + m) % m);
            const double beta = rho[k] * dot(Y[k], dir);
            for (std::size_t i = 0; i < d; ++i) dir[i] += S[k][i] * (alpha[k] - beta);
        }
        double slope = dot(g, dir);
        if (!(slope < 0.0)) {  // not a descent direction: forget the curvature pairs
            stored = 0;
            for (std::size_t i = 0; i < d; ++i) dir[i] = -g[i];
            slope = dot(g, dir);
        }
        // Backtracking (Armijo) line search, with no coordinate moving more than kMaxStep.
        double step = std::min(1.0, kMaxStep / std::max(max_abs(dir), 1e-300));
        double f_new = 0.0;
        bool moved = false;
        for (int ls = 0; ls < 40; ++ls) {
            for (std::size_t i = 0; i < d; ++i) x_new[i] = x[i] + step * dir[i];
            f_new = problem.evaluate_grad(x_new.data(), g_new.data());
            ++r.evaluations;
            // Armijo; or, once f changes below its rounding error, any step that shrinks the
            // gradient (the energy alone can no longer tell better from worse there).
            const bool armijo = f_new <= r.f + 1e-4 * step * slope;
            const bool flat = std::abs(f_new - r.f) <= 1e-12 * std::abs(r.f) && max_abs(g_new) < max_abs(g);
            if (armijo || flat) {
                moved = true;
                break;
            }
            step *= 0.5;
        }
        if (!moved) break;  // no progress possible at this precision
        auto& s = S[static_cast<std::size_t>(head)];
        auto& y = Y[static_cast<std::size_t>(head)];
        for (std::size_t i = 0; i < d; ++i) {
            s[i] = x_new[i] - x[i];
            y[i] = g_new[i] - g[i];
        }
        const double sy = dot(s, y);
        if (sy > 1e-12) {
            rho[static_cast<std::size_t>(head)] = 1.0 / sy;
            head = (head + 1) % m;
            stored = std::min(stored + 1, m);
        }
        std::copy(x_new.begin(), x_new.end(), x);
        g.swap(g_new);
        r.f = f_new;
    }
    if (!r.converged && max_abs(g) < gtol) r.converged = true;
    return r;
}

void cluster_init(const ClusterSearchConfig& cfg, const ClusterState& st, const Problem& lj, int n_threads) {
    require(cfg.n_atoms >= 2 && lj.dim() == 3 * cfg.n_atoms, "cluster_search", "n_atoms does not match the potential");
    require(cfg.population_size >= 2 && cfg.n_children >= 1, "cluster_search", "population_size >= 2, n_children >= 1");
    const int d = 3 * cfg.n_atoms;
    parallel_for(0, cfg.population_size, n_threads, [&](std::int64_t i) {
        Philox rng{cfg.seed, Stream::GaCluster, 0u, static_cast<std::uint32_t>(i), 1u};
        double* x = st.positions + i * d;
        random_cluster(cfg.n_atoms, rng, x);
        st.energies[i] = lbfgs(lj, x, cfg.gtol, 20000).f;
    });
    st.counters[0] = 0;
    st.counters[1] = cfg.population_size;
}

void cluster_run(const ClusterSearchConfig& cfg, const ClusterState& st, const Problem& lj, std::int64_t n_generations,
                 double* best_trace, std::int64_t capacity, int n_threads) {
    require(lj.dim() == 3 * cfg.n_atoms, "cluster_search", "n_atoms does not match the potential");
    const int n = cfg.n_atoms, d = 3 * n, P = cfg.population_size, C = cfg.n_children;
    std::vector<double> kids(static_cast<std::size_t>(C) * static_cast<std::size_t>(d)), kid_e(static_cast<std::size_t>(C));
    const auto best = [&] { return *std::min_element(st.energies, st.energies + P); };
    for (std::int64_t g = 0; g < n_generations; ++g) {
        if (st.counters[1] >= cfg.max_relaxations || best() <= cfg.target + cfg.energy_tol) break;
        const auto gen = static_cast<std::uint32_t>(st.counters[0] + 1);
        const int batch = static_cast<int>(std::min<std::int64_t>(C, cfg.max_relaxations - st.counters[1]));
        parallel_for(0, batch, n_threads, [&](std::int64_t c) {
            Philox rng{cfg.seed, Stream::GaCluster, gen, static_cast<std::uint32_t>(c), 0u};
            // Binary tournaments for two different parents.
            const auto pick = [&] {
                const auto a = static_cast<int>(uniform_index(rng, static_cast<std::uint32_t>(P)));
                const auto b = static_cast<int>(uniform_index(rng, static_cast<std::uint32_t>(P)));
                return st.energies[a] <= st.energies[b] ? a : b;
            };
            const int pa = pick();
            int pb = pick();
            if (pb == pa) pb = (pa + 1 + static_cast<int>(uniform_index(rng, static_cast<std::uint32_t>(P - 1)))) % P;
            double* x = kids.data() + c * d;
            cut_and_splice(st.positions + std::int64_t{pa} * d, st.positions + std::int64_t{pb} * d, n, rng, x);
            if (rng.uniform() < cfg.mutation_prob) twist(x, n, rng);
            kid_e[static_cast<std::size_t>(c)] = lbfgs(lj, x, cfg.gtol, 20000).f;
        });
        // Survival, child by child in a fixed order: a child replaces the worst member if it is
        // better and not (by energy) a structure the population already holds.
        for (int c = 0; c < batch; ++c) {
            const double e = kid_e[static_cast<std::size_t>(c)];
            if (!std::isfinite(e)) continue;
            const int w = worst_of(st.energies, P);
            if (!(e < st.energies[w])) continue;
            bool duplicate = false;
            for (int j = 0; j < P && !duplicate; ++j) duplicate = std::abs(st.energies[j] - e) < cfg.energy_tol;
            if (duplicate) continue;
            std::copy(kids.data() + std::int64_t{c} * d, kids.data() + std::int64_t{c + 1} * d, st.positions + std::int64_t{w} * d);
            st.energies[w] = e;
        }
        st.counters[0] += 1;
        st.counters[1] += batch;
        if (best_trace != nullptr && st.counters[0] < capacity) best_trace[st.counters[0]] = best();
    }
}

}  // namespace mlsci::ga
