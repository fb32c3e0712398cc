// The genetic algorithm's generation loop (see engine.hpp).
#include "mlsci/ga/engine.hpp"

#include <Eigen/Core>

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

constexpr double kInf = std::numeric_limits<double>::infinity();

// A uniform in (0, 1) from 32 random bits: resolution 2^-32 is plenty for the operators' coin
// flips and shapes, and it halves the random numbers drawn (they dominate the operators' cost).
double u32(Philox& rng) { return (rng.next_u32() + 0.5) * 0x1.0p-32; }

std::uint32_t uniform_index(Philox& rng, std::uint32_t n) {
    return static_cast<std::uint32_t>((static_cast<std::uint64_t>(rng.next_u32()) * n) >> 32);
}

// Lower fitness is better; ties go to the lower index, so the order is total and deterministic.
bool better(double fa, std::int64_t a, double fb, std::int64_t b) { return fa < fb || (fa == fb && a < b); }

// Per-island tables for rank and roulette selection: cumulative weights by individual.
struct SelectionTable {
    std::vector<double> cumulative;  // (n)
};

SelectionTable selection_table(const Config& cfg, const double* f) {
    const int n = cfg.pop_size;
    SelectionTable t;
    t.cumulative.resize(static_cast<std::size_t>(n));
    std::vector<double> w(static_cast<std::size_t>(n));
    if (cfg.selection == Selection::Rank) {
        std::vector<int> order(static_cast<std::size_t>(n));
        std::iota(order.begin(), order.end(), 0);
        std::sort(order.begin(), order.end(), [&](int a, int b) { return better(f[a], a, f[b], b); });
        for (int r = 0; r < n; ++r) w[static_cast<std::size_t>(order[static_cast<std::size_t>(r)])] = double(n - r);
    } else {
        double worst = -kInf, best = kInf;
        for (int i = 0; i < n; ++i)
            if (std::isfinite(f[i])) {
                worst = std::max(worst, f[i]);
                best = std::min(best, f[i]);
            }
        const double span = std::isfinite(worst) ? worst - best : 0.0;
        for (int i = 0; i < n; ++i) {
            const auto ui = static_cast<std::size_t>(i);
            if (!std::isfinite(f[i]))
                w[ui] = 0.0;
            else
                w[ui] = span > 0.0 ? (worst - f[i]) + 1e-12 * span : 1.0;  // all equal: uniform
        }
    }
    std::partial_sum(w.begin(), w.end(), t.cumulative.begin());
    if (!(t.cumulative.back() > 0.0)) std::fill(t.cumulative.begin(), t.cumulative.end(), 0.0);
    return t;
}

int select(const Config& cfg, const double* f, const SelectionTable& table, Philox& rng) {
    const auto n = static_cast<std::uint32_t>(cfg.pop_size);
    if (cfg.selection == Selection::Tournament) {
        auto best = static_cast<std::int64_t>(uniform_index(rng, n));
        for (int k = 1; k < cfg.tournament_size; ++k) {
            const auto c = static_cast<std::int64_t>(uniform_index(rng, n));
            if (better(f[c], c, f[best], best)) best = c;
        }
        return static_cast<int>(best);
    }
    const double total = table.cumulative.back();
    if (!(total > 0.0)) return static_cast<int>(uniform_index(rng, n));  // nothing feasible: uniform
    const double u = rng.uniform() * total;
    const auto it = std::upper_bound(table.cumulative.begin(), table.cumulative.end(), u);
    return static_cast<int>(std::min<std::ptrdiff_t>(it - table.cumulative.begin(), cfg.pop_size - 1));
}

// Bounded SBX on a whole genome pair, as in Deb's NSGA-II reference code: each gene crosses with
// probability 1/2. The random numbers are drawn gene by gene, then the powers are taken for all
// genes at once with Eigen's SIMD exp/log (in aligned per-thread buffers, so every thread takes
// the same vector path and results do not depend on the thread count).
void sbx(const Config& cfg, const double* x1, const double* x2, double* c1, double* c2, Philox& rng) {
    const int d = cfg.dim;
    using Arr = Eigen::Array<double, Eigen::Dynamic, 1>;
    thread_local Arr y1, y2, lo, hi, u, cross, swap, bl, bu;
    for (Arr* a : {&y1, &y2, &lo, &hi, &u, &cross, &swap, &bl, &bu}) a->resize(d);
    std::uint32_t bits = 0;
    for (int i = 0; i < d; ++i) {
        const auto ui = static_cast<std::size_t>(i);
        if (i % 16 == 0) bits = rng.next_u32();  // two coin flips per gene: cross?, swap?
        cross[i] = (bits & 1u) != 0 && std::abs(x1[i] - x2[i]) > 1e-14 ? 1.0 : 0.0;
        swap[i] = (bits & 2u) != 0 ? 1.0 : 0.0;
        bits >>= 2;
        u[i] = u32(rng);
        y1[i] = std::min(x1[i], x2[i]);
        y2[i] = std::max(x1[i], x2[i]);
        lo[i] = cfg.lower[ui];
        hi[i] = cfg.upper[ui];
    }
    const double eta1 = cfg.eta_c + 1.0, e1 = 1.0 / eta1;
    const Arr gap = (cross > 0.0).select(y2 - y1, 1.0);
    const auto betaq = [&](const Arr& beta) {
        const Arr alpha = 2.0 - (-eta1 * beta.log()).exp();
        const Arr arg = (u <= 1.0 / alpha).select(u * alpha, 1.0 / (2.0 - u * alpha));
        return Arr((e1 * arg.log()).exp());
    };
    bl = betaq(1.0 + 2.0 * (y1 - lo) / gap);
    bu = betaq(1.0 + 2.0 * (hi - y2) / gap);
    for (int i = 0; i < d; ++i) {
        if (cross[i] == 0.0) {
            c1[i] = x1[i];
            c2[i] = x2[i];
            continue;
        }
        double a = std::clamp(0.5 * ((y1[i] + y2[i]) - bl[i] * gap[i]), lo[i], hi[i]);
        double b = std::clamp(0.5 * ((y1[i] + y2[i]) + bu[i] * gap[i]), lo[i], hi[i]);
        if (swap[i] != 0.0) std::swap(a, b);
        c1[i] = a;
        c2[i] = b;
    }
}

// Bounded polynomial mutation of one gene (Deb & Goyal 1996, as in NSGA-II's code).
double polynomial_gene(double y, double lo, double hi, double eta, Philox& rng) {
    if (!(hi > lo)) return y;
    const double d1 = (y - lo) / (hi - lo), d2 = (hi - y) / (hi - lo);
    const double u = u32(rng);
    const double p = 1.0 / (eta + 1.0);
    double dq;
    if (u < 0.5) {
        const double v = 2.0 * u + (1.0 - 2.0 * u) * std::pow(1.0 - d1, eta + 1.0);
        dq = std::pow(v, p) - 1.0;
    } else {
        const double v = 2.0 * (1.0 - u) + 2.0 * (u - 0.5) * std::pow(1.0 - d2, eta + 1.0);
        dq = 1.0 - std::pow(v, p);
    }
    return std::clamp(y + dq * (hi - lo), lo, hi);
}

void mutate(const Config& cfg, double* x, Philox& rng) {
    const int d = cfg.dim;
    const double pm = cfg.mutation_prob < 0.0 ? 1.0 / d : cfg.mutation_prob;
    if (pm <= 0.0) return;
    // Jump straight to the next mutated gene: the gap is geometric with parameter pm, so one draw
    // per mutation replaces one draw per gene.
    const double log_q = std::log1p(-pm);
    for (double i = -1.0;;) {
        i += 1.0 + (pm >= 1.0 ? 0.0 : std::floor(std::log(u32(rng)) / log_q));
        if (i >= d) break;
        const auto gi = static_cast<std::size_t>(i);
        const double lo = cfg.lower[gi], hi = cfg.upper[gi];
        if (cfg.mutation == Mutation::Polynomial)
            x[gi] = polynomial_gene(x[gi], lo, hi, cfg.eta_m, rng);
        else
            x[gi] = std::clamp(x[gi] + cfg.sigma * (hi - lo) * rng.normal(), lo, hi);
    }
}

// Order crossover (OX) of two permutations: each child keeps a slice of one parent and takes the
// other genes in the other parent's order, starting after the slice.
void order_crossover(const double* p1, const double* p2, int d, double* c1, double* c2, Philox& rng) {
    auto i = static_cast<int>(uniform_index(rng, static_cast<std::uint32_t>(d)));
    auto j = static_cast<int>(uniform_index(rng, static_cast<std::uint32_t>(d)));
    if (i > j) std::swap(i, j);
    ++j;  // the slice [i, j) is never empty
    std::vector<char> used(static_cast<std::size_t>(d));
    const auto one = [&](const double* keep, const double* fill, double* child) {
        std::fill(used.begin(), used.end(), 0);
        for (int k = i; k < j; ++k) {
            child[k] = keep[k];
            used[static_cast<std::size_t>(keep[k])] = 1;
        }
        int pos = j % d;
        for (int t = 0; t < d; ++t) {
            const double g = fill[(j + t) % d];
            if (used[static_cast<std::size_t>(g)]) continue;
            child[pos] = g;
            pos = (pos + 1) % d;
        }
    };
    one(p1, p2, c1);
    one(p2, p1, c2);
}

void permutation_mutate(const Config& cfg, double* x, Philox& rng) {
    const double pm = cfg.mutation_prob < 0.0 ? 0.2 : cfg.mutation_prob;
    const int d = cfg.dim;
    if (d < 2 || u32(rng) >= pm) return;
    auto i = static_cast<int>(uniform_index(rng, static_cast<std::uint32_t>(d)));
    auto j = static_cast<int>(uniform_index(rng, static_cast<std::uint32_t>(d)));
    if (cfg.mutation == Mutation::Swap) {
        std::swap(x[i], x[j]);
        return;
    }
    if (i > j) std::swap(i, j);
    std::reverse(x + i, x + j + 1);  // inversion: a 2-opt move for tours
}

void crossover(const Config& cfg, const double* p1, const double* p2, double* c1, double* c2, Philox& rng) {
    const int d = cfg.dim;
    std::copy(p1, p1 + d, c1);
    std::copy(p2, p2 + d, c2);
    if (u32(rng) >= cfg.crossover_prob) return;
    if (cfg.crossover == Crossover::Order) {
        order_crossover(p1, p2, d, c1, c2, rng);
        return;
    }
    if (cfg.crossover == Crossover::Sbx) {
        sbx(cfg, p1, p2, c1, c2, rng);
        return;
    }
    for (int i = 0; i < d; ++i) {
        const auto ui = static_cast<std::size_t>(i);
        const double lo = cfg.lower[ui], hi = cfg.upper[ui];
        switch (cfg.crossover) {
            case Crossover::Sbx:
            case Crossover::Order: break;  // handled above
            case Crossover::Blend: {
                const double a = cfg.blend_alpha, gap = p2[i] - p1[i];
                c1[i] = std::clamp(p1[i] + (rng.uniform() * (1.0 + 2.0 * a) - a) * gap, lo, hi);
                c2[i] = std::clamp(p1[i] + (rng.uniform() * (1.0 + 2.0 * a) - a) * gap, lo, hi);
                break;
            }
            case Crossover::Uniform:
                if (rng.uniform() < 0.5) std::swap(c1[i], c2[i]);
                break;
        }
    }
}

void stats_row(const Config& cfg, const State& st, const History& h, std::int64_t row) {
    const std::int64_t n = std::int64_t{cfg.islands} * cfg.pop_size;
    double best = kInf, sum = 0.0, sum2 = 0.0;
    std::int64_t count = 0, best_i = -1;
    for (std::int64_t i = 0; i < n; ++i) {
        const double f = st.fitness[i];
        if (!std::isfinite(f)) continue;
        if (f < best) {
            best = f;
            best_i = i;
        }
        sum += f;
        ++count;
    }
    const double mean = count ? sum / double(count) : std::numeric_limits<double>::quiet_NaN();
    for (std::int64_t i = 0; i < n; ++i)
        if (std::isfinite(st.fitness[i])) sum2 += (st.fitness[i] - mean) * (st.fitness[i] - mean);
    if (row < h.capacity) {
        h.best[row] = count ? best : std::numeric_limits<double>::quiet_NaN();
        h.mean[row] = mean;
        h.std[row] = count ? std::sqrt(sum2 / double(count)) : std::numeric_limits<double>::quiet_NaN();
    }
    if (best_i >= 0 && best < st.best_f[0]) {
        st.best_f[0] = best;
        std::copy(st.population + best_i * cfg.dim, st.population + (best_i + 1) * cfg.dim, st.best_x);
    }
}

// Indices of island individuals sorted best first.
std::vector<int> ranking(const double* f, int n) {
    std::vector<int> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return better(f[a], a, f[b], b); });
    return order;
}

// Ring migration: the n_migrants best (lowest key) of island i replace the worst of island i+1;
// emigrants are chosen before any arrive. `extra` rows of width w (objectives) travel along.
void migrate(const Config& cfg, double* pop, double* key, double* extra, int w) {
    const int n = cfg.pop_size, d = cfg.dim, m = cfg.n_migrants;
    if (m == 0) return;
    const auto sz = [](std::int64_t v) { return static_cast<std::size_t>(v); };
    std::vector<double> em_x(sz(std::int64_t{cfg.islands} * m * d)), em_k(sz(std::int64_t{cfg.islands} * m)),
        em_e(sz(std::int64_t{cfg.islands} * m * w));
    for (int isl = 0; isl < cfg.islands; ++isl) {
        const auto order = ranking(key + std::int64_t{isl} * n, n);
        for (int q = 0; q < m; ++q) {
            const std::int64_t src = std::int64_t{isl} * n + order[sz(q)], slot = std::int64_t{isl} * m + q;
            std::copy(pop + src * d, pop + (src + 1) * d, em_x.data() + slot * d);
            em_k[sz(slot)] = key[src];
            if (w > 0) std::copy(extra + src * w, extra + (src + 1) * w, em_e.data() + slot * w);
        }
    }
    for (int isl = 0; isl < cfg.islands; ++isl) {
        const int to = (isl + 1) % cfg.islands;
        const auto order = ranking(key + std::int64_t{to} * n, n);
        for (int q = 0; q < m; ++q) {
            const std::int64_t dst = std::int64_t{to} * n + order[sz(n - 1 - q)], slot = std::int64_t{isl} * m + q;
            std::copy(em_x.data() + slot * d, em_x.data() + (slot + 1) * d, pop + dst * d);
            key[dst] = em_k[sz(slot)];
            if (w > 0) std::copy(em_e.data() + slot * w, em_e.data() + (slot + 1) * w, extra + dst * w);
        }
    }
}

// a Pareto-dominates b (minimisation): no worse in every objective, better in one.
bool dominates(const double* a, const double* b, int m) {
    bool strictly = false;
    for (int k = 0; k < m; ++k) {
        if (a[k] > b[k]) return false;
        strictly = strictly || a[k] < b[k];
    }
    return strictly;
}

// Fast non-dominated sorting (Deb et al. 2002): the fronts of the rows of f (count x m), best first.
std::vector<std::vector<int>> fronts_of(const double* f, int count, int m) {
    const auto sz = [](int v) { return static_cast<std::size_t>(v); };
    std::vector<std::vector<int>> dominated(sz(count));
    std::vector<int> n_dom(sz(count), 0);
    std::vector<std::vector<int>> fronts(1);
    for (int p = 0; p < count; ++p) {
        for (int q = 0; q < count; ++q) {
            if (p == q) continue;
            if (dominates(f + std::int64_t{p} * m, f + std::int64_t{q} * m, m))
                dominated[sz(p)].push_back(q);
            else if (dominates(f + std::int64_t{q} * m, f + std::int64_t{p} * m, m))
                ++n_dom[sz(p)];
        }
        if (n_dom[sz(p)] == 0) fronts[0].push_back(p);
    }
    while (!fronts.back().empty()) {
        std::vector<int> next;
        for (int p : fronts.back())
            for (int q : dominated[sz(p)])
                if (--n_dom[sz(q)] == 0) next.push_back(q);
        std::sort(next.begin(), next.end());
        fronts.push_back(std::move(next));
    }
    fronts.pop_back();
    return fronts;
}

// Crowding distance of the members of one front (infinite at the extremes of each objective).
std::vector<double> crowding(const double* f, const std::vector<int>& front, int m) {
    const std::size_t k = front.size();
    std::vector<double> dist(k, 0.0);
    std::vector<std::size_t> order(k);
    for (int obj = 0; obj < m; ++obj) {
        std::iota(order.begin(), order.end(), std::size_t{0});
        const auto val = [&](std::size_t i) { return f[std::int64_t{front[i]} * m + obj]; };
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return val(a) < val(b); });
        const double lo = val(order.front()), hi = val(order.back());
        dist[order.front()] = dist[order.back()] = kInf;
        if (!(hi > lo) || !std::isfinite(hi - lo)) continue;
        for (std::size_t r = 1; r + 1 < k; ++r) dist[order[r]] += (val(order[r + 1]) - val(order[r - 1])) / (hi - lo);
    }
    return dist;
}

}  // namespace

void check_config(const Config& cfg) {
    const char* where = "GeneticAlgorithm";
    require(cfg.dim >= 1, where, "dim must be >= 1");
    require(cfg.pop_size >= 2, where, "population_size must be >= 2");
    require(cfg.islands >= 1, where, "islands must be >= 1");
    require(cfg.island_offset >= 0, where, "island_offset must be >= 0");
    require(cfg.tournament_size >= 1, where, "tournament_size must be >= 1");
    require(cfg.crossover_prob >= 0.0 && cfg.crossover_prob <= 1.0, where, "crossover_prob must be in [0, 1]");
    require(cfg.mutation_prob <= 1.0, where, "mutation_prob must be <= 1");
    require(cfg.eta_c >= 0.0 && cfg.eta_m >= 0.0, where, "eta_c and eta_m must be >= 0");
    require(cfg.sigma > 0.0, where, "sigma must be > 0");
    const bool perm = cfg.genome == Genome::Permutation;
    const bool perm_ops = cfg.crossover == Crossover::Order &&
                          (cfg.mutation == Mutation::Inversion || cfg.mutation == Mutation::Swap);
    const bool real_ops = cfg.crossover != Crossover::Order &&
                          (cfg.mutation == Mutation::Polynomial || cfg.mutation == Mutation::Gaussian);
    require(perm ? perm_ops : real_ops, where,
            perm ? "permutation genomes need crossover 'order' and mutation 'inversion' or 'swap'"
                 : "real and integer genomes need crossover 'sbx', 'blend' or 'uniform' and mutation "
                   "'polynomial' or 'gaussian'");
    require(cfg.elitism >= 0 && cfg.elitism <= cfg.pop_size, where, "elitism must be in [0, population_size]");
    require(cfg.migration_interval >= 0, where, "migration_interval must be >= 0");
    require(cfg.n_migrants >= 0 && cfg.n_migrants < cfg.pop_size, where, "n_migrants must be in [0, population_size)");
    require(cfg.lower.size() == static_cast<std::size_t>(cfg.dim) && cfg.upper.size() == cfg.lower.size(), where,
            "bounds must have one (lower, upper) pair per gene");
    for (std::size_t i = 0; i < cfg.lower.size(); ++i)
        require(std::isfinite(cfg.lower[i]) && std::isfinite(cfg.upper[i]) && cfg.lower[i] < cfg.upper[i], where,
                "bounds must be finite with lower < upper (gene " + std::to_string(i) + ")");
}

void evaluate(const Problem& problem, const double* x, std::int64_t n, double* out, int n_threads) {
    require(problem.dim() > 0, "evaluate", "bad problem");
    const int d = problem.dim();
    // cost() is about a nanosecond a unit: a generation of 200 x 30-gene Rastrigin (1.2e5) ran
    // no faster on 2 threads idle and 10% slower under load when this gate was 2e4.
    const int nt = threads_for(problem.cost() * double(n), n_threads);
    parallel_for(0, n, nt, [&](std::int64_t i) { out[i] = problem.evaluate(x + i * d); });
}

void make_offspring(const Config& cfg, const State& st, double* offspring, int n_threads) {
    check_config(cfg);
    const int n = cfg.pop_size, d = cfg.dim;
    const auto gen = static_cast<std::uint32_t>(st.counters[0] + 1);
    const int pairs = (n + 1) / 2;
    std::vector<SelectionTable> tables(static_cast<std::size_t>(cfg.islands));
    if (cfg.selection != Selection::Tournament)
        for (int isl = 0; isl < cfg.islands; ++isl)
            tables[static_cast<std::size_t>(isl)] = selection_table(cfg, st.fitness + std::int64_t{isl} * n);
    // Selection, crossover and mutation cost tens of nanoseconds a gene: a generation of
    // 200 x 30 genes is microseconds, less than waking a thread on a busy machine costs.
    const int nt = double(cfg.islands) * pairs * d >= 2e5 ? n_threads : 1;
    parallel_for(0, std::int64_t{cfg.islands} * pairs, nt, [&](std::int64_t task) {
        const auto isl = static_cast<int>(task / pairs);
        const auto j = static_cast<std::uint32_t>(task % pairs);
        const double* f = st.fitness + std::int64_t{isl} * n;
        const double* pop = st.population + std::int64_t{isl} * n * d;
        double* out = offspring + std::int64_t{isl} * n * d;
        const auto replica = static_cast<std::uint32_t>(cfg.island_offset + isl);
        Philox sel{cfg.seed, Stream::GaSelect, gen, j, replica};
        const int a = select(cfg, f, tables[static_cast<std::size_t>(isl)], sel);
        const int b = select(cfg, f, tables[static_cast<std::size_t>(isl)], sel);
        thread_local std::vector<double> spare;
        spare.resize(static_cast<std::size_t>(d));
        const std::int64_t c1 = 2 * std::int64_t{j}, c2 = c1 + 1;
        double* child2 = c2 < n ? out + c2 * d : spare.data();
        Philox cx{cfg.seed, Stream::GaCrossover, gen, j, replica};
        crossover(cfg, pop + std::int64_t{a} * d, pop + std::int64_t{b} * d, out + c1 * d, child2, cx);
        for (const std::int64_t c : {c1, c2}) {
            if (c >= n) break;
            double* child = c == c1 ? out + c1 * d : child2;
            Philox m{cfg.seed, Stream::GaMutate, gen, static_cast<std::uint32_t>(c), replica};
            if (cfg.genome == Genome::Permutation) {
                permutation_mutate(cfg, child, m);
                continue;
            }
            mutate(cfg, child, m);
            if (cfg.genome == Genome::Integer)
                for (int i = 0; i < d; ++i)
                    child[i] = std::clamp(std::nearbyint(child[i]), std::ceil(cfg.lower[static_cast<std::size_t>(i)]),
                                          std::floor(cfg.upper[static_cast<std::size_t>(i)]));
        }
    });
}

void start(const Config& cfg, const State& st, const History& hist) {
    check_config(cfg);
    const std::int64_t n = std::int64_t{cfg.islands} * cfg.pop_size;
    for (std::int64_t i = 0; i < n; ++i)
        require(!std::isnan(st.fitness[i]), "GeneticAlgorithm",
                "fitness is NaN for individual " + std::to_string(i) + " of the initial population");
    st.best_f[0] = kInf;
    st.counters[0] = 0;
    st.counters[1] = n;
    stats_row(cfg, st, hist, 0);
}

void survive(const Config& cfg, const State& st, const double* offspring, const double* off_fitness,
             const History& hist, int n_threads) {
    check_config(cfg);
    const int n = cfg.pop_size, d = cfg.dim;
    const std::int64_t gen = st.counters[0] + 1;
    const std::int64_t total = std::int64_t{cfg.islands} * n;
    for (std::int64_t i = 0; i < total; ++i)
        if (std::isnan(off_fitness[i]))
            throw InvalidArgument("fitness is NaN for individual " + std::to_string(i) + " of generation " +
                                  std::to_string(gen) + " (return +inf for infeasible individuals)");
    // A sort of 2n candidates and a copy of n genomes an island: microseconds.
    const int nt = threads_for(double(cfg.islands) * n * (2.0 * d + 40.0), n_threads);
    parallel_for(0, cfg.islands, nt, [&](std::int64_t isl) {
        double* pop = st.population + isl * n * d;
        double* f = st.fitness + isl * n;
        const double* kids = offspring + isl * n * d;
        const double* kf = off_fitness + isl * n;
        std::vector<double> new_pop(static_cast<std::size_t>(n) * static_cast<std::size_t>(d));
        std::vector<double> new_f(static_cast<std::size_t>(n));
        if (cfg.survival == Survival::MuPlusLambda) {
            // Candidates 0..n-1 are parents, n..2n-1 children; parents win ties.
            std::vector<int> order(2 * static_cast<std::size_t>(n));
            std::iota(order.begin(), order.end(), 0);
            const auto fit = [&](int c) { return c < n ? f[c] : kf[c - n]; };
            std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return fit(a) < fit(b); });
            for (int q = 0; q < n; ++q) {
                const int c = order[static_cast<std::size_t>(q)];
                const double* src = c < n ? pop + std::int64_t{c} * d : kids + std::int64_t{c - n} * d;
                std::copy(src, src + d, new_pop.data() + std::int64_t{q} * d);
                new_f[static_cast<std::size_t>(q)] = fit(c);
            }
        } else {
            std::copy(kids, kids + std::int64_t{n} * d, new_pop.data());
            std::copy(kf, kf + n, new_f.data());
            if (cfg.elitism > 0) {
                const auto parents = ranking(f, n);
                const auto children = ranking(kf, n);
                for (int q = 0; q < cfg.elitism; ++q) {
                    const int p = parents[static_cast<std::size_t>(q)];
                    const int w = children[static_cast<std::size_t>(n - 1 - q)];
                    if (f[p] < kf[w]) {
                        std::copy(pop + std::int64_t{p} * d, pop + std::int64_t{p + 1} * d,
                                  new_pop.data() + std::int64_t{w} * d);
                        new_f[static_cast<std::size_t>(w)] = f[p];
                    }
                }
            }
        }
        std::copy(new_pop.begin(), new_pop.end(), pop);
        std::copy(new_f.begin(), new_f.end(), f);
    });
    if (cfg.islands > 1 && cfg.migration_interval > 0 && gen % cfg.migration_interval == 0)
        migrate(cfg, st.population, st.fitness, nullptr, 0);
    st.counters[0] = gen;
    st.counters[1] += total;
    stats_row(cfg, st, hist, gen);
}

void record(const Config& cfg, const State& st, const History& hist, std::int64_t gen) {
    check_config(cfg);
    require(gen >= 1 && gen < hist.capacity, "GeneticAlgorithm", "record: generation out of the history's range");
    if (cfg.islands > 1 && cfg.migration_interval > 0 && gen % cfg.migration_interval == 0)
        migrate(cfg, st.population, st.fitness, nullptr, 0);
    st.counters[0] = gen;
    st.counters[1] += std::int64_t{cfg.islands} * cfg.pop_size;
    stats_row(cfg, st, hist, gen);
}

void nsga2_keys(const double* objectives, int n, int m, double* key) {
    const auto fronts = fronts_of(objectives, n, m);
    for (std::size_t r = 0; r < fronts.size(); ++r) {
        const auto dist = crowding(objectives, fronts[r], m);
        for (std::size_t i = 0; i < fronts[r].size(); ++i) key[fronts[r][i]] = double(r) + 1.0 / (2.0 + dist[i]);
    }
}

void nsga2_survive(const Config& cfg, const State& st, double* objectives, int m, const double* offspring,
                   const double* off_objectives, int n_threads) {
    check_config(cfg);
    require(m >= 1, "NSGA2", "n_objectives must be >= 1");
    const int n = cfg.pop_size, d = cfg.dim;
    const std::int64_t gen = st.counters[0] + 1;
    const std::int64_t total = std::int64_t{cfg.islands} * n;
    for (std::int64_t i = 0; i < total * m; ++i)
        if (std::isnan(off_objectives[i]))
            throw InvalidArgument("objective " + std::to_string(i % m) + " is NaN for individual " +
                                  std::to_string(i / m) + " of generation " + std::to_string(gen) +
                                  " (return +inf for infeasible individuals)");
    // Non-dominated sorting of 2n candidates is O(m (2n)^2) comparisons an island.
    const int nt = threads_for(double(cfg.islands) * (8.0 * n * n * m + 2.0 * n * d), n_threads);
    parallel_for(0, cfg.islands, nt, [&](std::int64_t isl) {
        // Parents and children together (2n candidates), then the best fronts, the last one cut by
        // crowding distance (larger first; ties to the lower index).
        std::vector<double> f(2 * static_cast<std::size_t>(n) * static_cast<std::size_t>(m));
        std::copy(objectives + isl * n * m, objectives + (isl + 1) * n * m, f.begin());
        std::copy(off_objectives + isl * n * m, off_objectives + (isl + 1) * n * m, f.begin() + std::int64_t{n} * m);
        std::vector<int> chosen;
        for (const auto& front : fronts_of(f.data(), 2 * n, m)) {
            if (chosen.size() + front.size() <= static_cast<std::size_t>(n)) {
                chosen.insert(chosen.end(), front.begin(), front.end());
                if (chosen.size() == static_cast<std::size_t>(n)) break;
                continue;
            }
            const auto dist = crowding(f.data(), front, m);
            std::vector<std::size_t> order(front.size());
            std::iota(order.begin(), order.end(), std::size_t{0});
            std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return dist[a] > dist[b]; });
            for (std::size_t r = 0; chosen.size() < static_cast<std::size_t>(n); ++r) chosen.push_back(front[order[r]]);
            break;
        }
        std::vector<double> new_x(static_cast<std::size_t>(n) * static_cast<std::size_t>(d));
        std::vector<double> new_f(static_cast<std::size_t>(n) * static_cast<std::size_t>(m));
        const double* parents = st.population + isl * n * d;
        const double* kids = offspring + isl * n * d;
        for (int q = 0; q < n; ++q) {
            const int c = chosen[static_cast<std::size_t>(q)];
            const double* src = c < n ? parents + std::int64_t{c} * d : kids + std::int64_t{c - n} * d;
            std::copy(src, src + d, new_x.begin() + std::int64_t{q} * d);
            std::copy(f.begin() + std::int64_t{c} * m, f.begin() + std::int64_t{c + 1} * m, new_f.begin() + std::int64_t{q} * m);
        }
        std::copy(new_x.begin(), new_x.end(), st.population + isl * n * d);
        std::copy(new_f.begin(), new_f.end(), objectives + isl * n * m);
        nsga2_keys(objectives + isl * n * m, n, m, st.fitness + isl * n);
    });
    if (cfg.islands > 1 && cfg.migration_interval > 0 && gen % cfg.migration_interval == 0) {
        migrate(cfg, st.population, st.fitness, objectives, m);
        for (int isl = 0; isl < cfg.islands; ++isl)
            nsga2_keys(objectives + std::int64_t{isl} * n * m, n, m, st.fitness + std::int64_t{isl} * n);
    }
    st.counters[0] = gen;
    st.counters[1] += total;
}

void run(const Config& cfg, const State& st, const History& hist, std::int64_t n_generations, const Problem& problem,
         int n_threads) {
    check_config(cfg);
    require(problem.dim() == cfg.dim, "GeneticAlgorithm", "the problem's dimension differs from the bounds'");
    require(st.counters[0] + n_generations < hist.capacity, "GeneticAlgorithm", "history has no room");
    const std::int64_t total = std::int64_t{cfg.islands} * cfg.pop_size;
    std::vector<double> kids(static_cast<std::size_t>(total) * static_cast<std::size_t>(cfg.dim));
    std::vector<double> kf(static_cast<std::size_t>(total));
    for (std::int64_t g = 0; g < n_generations; ++g) {
        make_offspring(cfg, st, kids.data(), n_threads);
        evaluate(problem, kids.data(), total, kf.data(), n_threads);
        survive(cfg, st, kids.data(), kf.data(), hist, n_threads);
    }
}

}  // namespace mlsci::ga
