// Bindings for the genetic algorithm: built-in problems and the generation loop.
#include <pybind11/stl.h>

#include "bind_util.hpp"
#include "mlsci/ga/cluster.hpp"
#include "mlsci/ga/cmaes.hpp"
#include "mlsci/ga/engine.hpp"
#include "mlsci/ga/problems.hpp"

namespace py = pybind11;
using mlsci::bind::CArray;
using mlsci::ga::Problem;
using mlsci::ga::ProblemPtr;

namespace {

struct Arrays {
    mlsci::ga::State state;
    mlsci::ga::History history;
};

Arrays arrays_of(const mlsci::ga::Config& cfg, CArray<double>& population, CArray<double>& fitness,
                 CArray<double>& best_x, CArray<double>& best_f, CArray<std::int64_t>& counters,
                 CArray<double>& h_best, CArray<double>& h_mean, CArray<double>& h_std) {
    const py::ssize_t n = py::ssize_t{cfg.islands} * cfg.pop_size;
    if (population.size() != n * cfg.dim || fitness.size() != n || best_x.size() != cfg.dim || best_f.size() != 1 ||
        counters.size() != 2 || h_mean.size() != h_best.size() || h_std.size() != h_best.size())
        throw mlsci::InvalidArgument("GeneticAlgorithm: state arrays have the wrong sizes");
    return {{population.mutable_data(), fitness.mutable_data(), best_x.mutable_data(), best_f.mutable_data(),
             counters.mutable_data()},
            {h_best.size(), h_best.mutable_data(), h_mean.mutable_data(), h_std.mutable_data()}};
}

}  // namespace

void bind_ga(py::module_& m) {
    auto s = m.def_submodule("ga", "internal; see mlsci_fast.ga");

    py::class_<Problem, ProblemPtr>(s, "Problem")
        .def_property_readonly("dim", &Problem::dim)
        .def_property_readonly("name", &Problem::name)
        .def_property_readonly("has_gradient", &Problem::has_gradient)
        .def(
            "evaluate",
            [](const Problem& p, const CArray<double>& x, int n_threads) {
                if (x.ndim() != 2 || x.shape(1) != p.dim())
                    throw mlsci::InvalidArgument("x must have shape (n, " + std::to_string(p.dim()) + ")");
                CArray<double> out(x.shape(0));
                double* o = out.mutable_data();
                const double* xp = x.data();
                const auto n = x.shape(0);
                py::gil_scoped_release nogil;
                mlsci::ga::evaluate(p, xp, n, o, n_threads);
                return out;
            },
            py::arg("x").noconvert(), py::arg("n_threads"))
        .def(
            "evaluate_grad",
            [](const Problem& p, const CArray<double>& x) {
                if (x.ndim() != 1 || x.shape(0) != p.dim())
                    throw mlsci::InvalidArgument("x must have shape (" + std::to_string(p.dim()) + ",)");
                CArray<double> g(p.dim());
                const double f = p.evaluate_grad(x.data(), g.mutable_data());
                return py::make_tuple(f, g);
            },
            py::arg("x").noconvert());

    s.def("sphere", &mlsci::ga::make_sphere, py::arg("dim"));
    s.def("rastrigin", &mlsci::ga::make_rastrigin, py::arg("dim"), py::arg("a"));
    s.def("ackley", &mlsci::ga::make_ackley, py::arg("dim"), py::arg("a"), py::arg("b"), py::arg("c"));
    s.def("rosenbrock", &mlsci::ga::make_rosenbrock, py::arg("dim"));
    s.def("lennard_jones", &mlsci::ga::make_lennard_jones, py::arg("n_atoms"));

    {
        namespace g = mlsci::ga;
        py::class_<g::CmaesConfig>(s, "CmaesConfig")
            .def(py::init<>())
            .def_readwrite("dim", &g::CmaesConfig::dim)
            .def_readwrite("lambda0", &g::CmaesConfig::lambda0)
            .def_readwrite("sigma0", &g::CmaesConfig::sigma0)
            .def_readwrite("tol_fun", &g::CmaesConfig::tol_fun)
            .def_readwrite("tol_x", &g::CmaesConfig::tol_x)
            .def_readwrite("max_restarts", &g::CmaesConfig::max_restarts)
            .def_readwrite("seed", &g::CmaesConfig::seed)
            .def_readwrite("lower", &g::CmaesConfig::lower)
            .def_readwrite("upper", &g::CmaesConfig::upper)
            .def("check", [](const g::CmaesConfig& c) { g::check_config(c); });
        s.def("cmaes_default_lambda", &g::default_lambda, py::arg("dim"));
        s.def("cmaes_recent_capacity", &g::recent_capacity, py::arg("dim"));
        // The state's arrays, checked against the config (they come from a checkpoint too).
        const auto state_of = [](const g::CmaesConfig& c, CArray<double>& mean, CArray<double>& cov,
                                 CArray<double>& basis, CArray<double>& scales, CArray<double>& pc, CArray<double>& ps,
                                 CArray<double>& best_x, CArray<double>& scalars, CArray<std::int64_t>& counters,
                                 CArray<double>& recent) {
            const std::int64_t d = c.dim;
            if (mean.size() != d || cov.size() != d * d || basis.size() != d * d || scales.size() != d ||
                pc.size() != d || ps.size() != d || best_x.size() != d || scalars.size() != 2 ||
                counters.size() != g::kCounters || recent.size() != g::recent_capacity(c.dim))
                throw mlsci::InvalidArgument("CMAES: the state arrays do not fit the configuration");
            return g::CmaesState{mean.mutable_data(),  cov.mutable_data(),    basis.mutable_data(),
                                 scales.mutable_data(), pc.mutable_data(),     ps.mutable_data(),
                                 best_x.mutable_data(), scalars.mutable_data(), counters.mutable_data(),
                                 recent.mutable_data()};
        };
#define MLSCI_CMAES_STATE_ARGS                                                                                   \
    py::arg("cfg"), py::arg("mean").noconvert(), py::arg("cov").noconvert(), py::arg("basis").noconvert(),      \
        py::arg("scales").noconvert(), py::arg("pc").noconvert(), py::arg("ps").noconvert(),                     \
        py::arg("best_x").noconvert(), py::arg("scalars").noconvert(), py::arg("counters").noconvert(),          \
        py::arg("recent").noconvert()
        s.def(
            "cmaes_init",
            [state_of](const g::CmaesConfig& c, CArray<double>& mean, CArray<double>& cov, CArray<double>& basis,
                       CArray<double>& scales, CArray<double>& pc, CArray<double>& ps, CArray<double>& best_x,
                       CArray<double>& scalars, CArray<std::int64_t>& counters, CArray<double>& recent,
                       const py::object& start) {
                const auto st = state_of(c, mean, cov, basis, scales, pc, ps, best_x, scalars, counters, recent);
                if (start.is_none()) {
                    g::cmaes_init(c, st, nullptr);
                    return;
                }
                const auto x0 = start.cast<CArray<double>>();
                if (x0.size() != c.dim) throw mlsci::InvalidArgument("CMAES: x0 must have one value per gene");
                g::cmaes_init(c, st, x0.data());
            },
            MLSCI_CMAES_STATE_ARGS, py::arg("start"));
        s.def(
            "cmaes_ask",
            [state_of](const g::CmaesConfig& c, CArray<double>& mean, CArray<double>& cov, CArray<double>& basis,
                       CArray<double>& scales, CArray<double>& pc, CArray<double>& ps, CArray<double>& best_x,
                       CArray<double>& scalars, CArray<std::int64_t>& counters, CArray<double>& recent) {
                const auto st = state_of(c, mean, cov, basis, scales, pc, ps, best_x, scalars, counters, recent);
                const auto lambda = static_cast<py::ssize_t>(st.counters[g::kLambda]);
                CArray<double> steps({lambda, static_cast<py::ssize_t>(c.dim)}), x({lambda, static_cast<py::ssize_t>(c.dim)});
                g::cmaes_ask(c, st, steps.mutable_data(), x.mutable_data());
                return py::make_tuple(steps, x);
            },
            MLSCI_CMAES_STATE_ARGS);
        s.def(
            "cmaes_tell",
            [state_of](const g::CmaesConfig& c, CArray<double>& mean, CArray<double>& cov, CArray<double>& basis,
                       CArray<double>& scales, CArray<double>& pc, CArray<double>& ps, CArray<double>& best_x,
                       CArray<double>& scalars, CArray<std::int64_t>& counters, CArray<double>& recent,
                       const CArray<double>& steps, const CArray<double>& x, const CArray<double>& f) {
                const auto st = state_of(c, mean, cov, basis, scales, pc, ps, best_x, scalars, counters, recent);
                const std::int64_t lambda = st.counters[g::kLambda];
                if (steps.size() != lambda * c.dim || x.size() != lambda * c.dim || f.size() != lambda)
                    throw mlsci::InvalidArgument("CMAES: tell needs the generation that ask gave");
                return std::string(g::cmaes_tell(c, st, steps.data(), x.data(), f.data()));
            },
            MLSCI_CMAES_STATE_ARGS, py::arg("steps").noconvert(), py::arg("x").noconvert(), py::arg("f").noconvert());
#undef MLSCI_CMAES_STATE_ARGS
    }

    using mlsci::ga::Config;
    py::class_<Config>(s, "Config")
        .def(py::init<>())
        .def_readwrite("pop_size", &Config::pop_size)
        .def_readwrite("dim", &Config::dim)
        .def_readwrite("islands", &Config::islands)
        .def_property(
            "genome", [](const Config& c) { return static_cast<int>(c.genome); },
            [](Config& c, int v) { c.genome = static_cast<mlsci::ga::Genome>(v); })
        .def_property(
            "selection", [](const Config& c) { return static_cast<int>(c.selection); },
            [](Config& c, int v) { c.selection = static_cast<mlsci::ga::Selection>(v); })
        .def_readwrite("tournament_size", &Config::tournament_size)
        .def_property(
            "crossover", [](const Config& c) { return static_cast<int>(c.crossover); },
            [](Config& c, int v) { c.crossover = static_cast<mlsci::ga::Crossover>(v); })
        .def_readwrite("crossover_prob", &Config::crossover_prob)
        .def_readwrite("eta_c", &Config::eta_c)
        .def_readwrite("blend_alpha", &Config::blend_alpha)
        .def_property(
            "mutation", [](const Config& c) { return static_cast<int>(c.mutation); },
            [](Config& c, int v) { c.mutation = static_cast<mlsci::ga::Mutation>(v); })
        .def_readwrite("mutation_prob", &Config::mutation_prob)
        .def_readwrite("eta_m", &Config::eta_m)
        .def_readwrite("sigma", &Config::sigma)
        .def_property(
            "survival", [](const Config& c) { return static_cast<int>(c.survival); },
            [](Config& c, int v) { c.survival = static_cast<mlsci::ga::Survival>(v); })
        .def_readwrite("elitism", &Config::elitism)
        .def_readwrite("migration_interval", &Config::migration_interval)
        .def_readwrite("n_migrants", &Config::n_migrants)
        .def_readwrite("lower", &Config::lower)
        .def_readwrite("upper", &Config::upper)
        .def_readwrite("seed", &Config::seed)
        .def_readwrite("island_offset", &Config::island_offset)
        .def("check", static_cast<void (*)(const Config&)>(&mlsci::ga::check_config));

#define MLSCI_GA_STATE_ARGS                                                                                    \
    py::arg("cfg"), py::arg("population").noconvert(), py::arg("fitness").noconvert(),                       \
        py::arg("best_x").noconvert(), py::arg("best_f").noconvert(), py::arg("counters").noconvert(),         \
        py::arg("h_best").noconvert(), py::arg("h_mean").noconvert(), py::arg("h_std").noconvert()

    s.def(
        "start",
        [](const Config& cfg, CArray<double>& population, CArray<double>& fitness, CArray<double>& best_x,
           CArray<double>& best_f, CArray<std::int64_t>& counters, CArray<double>& h_best, CArray<double>& h_mean,
           CArray<double>& h_std) {
            const auto a = arrays_of(cfg, population, fitness, best_x, best_f, counters, h_best, h_mean, h_std);
            mlsci::ga::start(cfg, a.state, a.history);
        },
        MLSCI_GA_STATE_ARGS);
    s.def(
        "make_offspring",
        [](const Config& cfg, CArray<double>& population, CArray<double>& fitness, CArray<double>& best_x,
           CArray<double>& best_f, CArray<std::int64_t>& counters, CArray<double>& h_best, CArray<double>& h_mean,
           CArray<double>& h_std, int n_threads) {
            const auto a = arrays_of(cfg, population, fitness, best_x, best_f, counters, h_best, h_mean, h_std);
            CArray<double> kids({static_cast<py::ssize_t>(cfg.islands) * cfg.pop_size, static_cast<py::ssize_t>(cfg.dim)});
            double* k = kids.mutable_data();
            py::gil_scoped_release nogil;
            mlsci::ga::make_offspring(cfg, a.state, k, n_threads);
            return kids;
        },
        MLSCI_GA_STATE_ARGS, py::arg("n_threads"));
    s.def(
        "survive",
        [](const Config& cfg, CArray<double>& population, CArray<double>& fitness, CArray<double>& best_x,
           CArray<double>& best_f, CArray<std::int64_t>& counters, CArray<double>& h_best, CArray<double>& h_mean,
           CArray<double>& h_std, const CArray<double>& offspring, const CArray<double>& off_fitness, int n_threads) {
            const auto a = arrays_of(cfg, population, fitness, best_x, best_f, counters, h_best, h_mean, h_std);
            if (offspring.size() != population.size() || off_fitness.size() != fitness.size())
                throw mlsci::InvalidArgument("GeneticAlgorithm: offspring arrays have the wrong sizes");
            if (counters.data()[0] + 1 >= h_best.size())
                throw mlsci::InvalidArgument("GeneticAlgorithm: history has no room");
            py::gil_scoped_release nogil;
            mlsci::ga::survive(cfg, a.state, offspring.data(), off_fitness.data(), a.history, n_threads);
        },
        MLSCI_GA_STATE_ARGS, py::arg("offspring").noconvert(), py::arg("off_fitness").noconvert(),
        py::arg("n_threads"));
    s.def(
        "record",
        [](const Config& cfg, CArray<double>& population, CArray<double>& fitness, CArray<double>& best_x,
           CArray<double>& best_f, CArray<std::int64_t>& counters, CArray<double>& h_best, CArray<double>& h_mean,
           CArray<double>& h_std, std::int64_t gen) {
            const auto a = arrays_of(cfg, population, fitness, best_x, best_f, counters, h_best, h_mean, h_std);
            mlsci::ga::record(cfg, a.state, a.history, gen);
        },
        MLSCI_GA_STATE_ARGS, py::arg("gen"));
    s.def(
        "run",
        [](const Config& cfg, CArray<double>& population, CArray<double>& fitness, CArray<double>& best_x,
           CArray<double>& best_f, CArray<std::int64_t>& counters, CArray<double>& h_best, CArray<double>& h_mean,
           CArray<double>& h_std, std::int64_t n_generations, const ProblemPtr& problem, int n_threads) {
            const auto a = arrays_of(cfg, population, fitness, best_x, best_f, counters, h_best, h_mean, h_std);
            py::gil_scoped_release nogil;
            mlsci::ga::run(cfg, a.state, a.history, n_generations, *problem, n_threads);
        },
        MLSCI_GA_STATE_ARGS, py::arg("n_generations"), py::arg("problem"), py::arg("n_threads"));
    s.def(
        "nsga2_keys",
        [](const CArray<double>& objectives) {
            if (objectives.ndim() != 2) throw mlsci::InvalidArgument("objectives must be 2-D");
            CArray<double> key(objectives.shape(0));
            mlsci::ga::nsga2_keys(objectives.data(), static_cast<int>(objectives.shape(0)),
                                  static_cast<int>(objectives.shape(1)), key.mutable_data());
            return key;
        },
        py::arg("objectives").noconvert());
    s.def(
        "nsga2_survive",
        [](const Config& cfg, CArray<double>& population, CArray<double>& fitness, CArray<double>& best_x,
           CArray<double>& best_f, CArray<std::int64_t>& counters, CArray<double>& h_best, CArray<double>& h_mean,
           CArray<double>& h_std, CArray<double>& objectives, const CArray<double>& offspring,
           const CArray<double>& off_objectives, int n_threads) {
            const auto a = arrays_of(cfg, population, fitness, best_x, best_f, counters, h_best, h_mean, h_std);
            if (objectives.ndim() != 2 || objectives.shape(0) != fitness.size() || offspring.size() != population.size() ||
                off_objectives.size() != objectives.size())
                throw mlsci::InvalidArgument("NSGA2: objective arrays have the wrong sizes");
            const auto n_obj = static_cast<int>(objectives.shape(1));
            double* obj = objectives.mutable_data();
            py::gil_scoped_release nogil;
            mlsci::ga::nsga2_survive(cfg, a.state, obj, n_obj, offspring.data(), off_objectives.data(), n_threads);
        },
        MLSCI_GA_STATE_ARGS, py::arg("objectives").noconvert(), py::arg("offspring").noconvert(),
        py::arg("off_objectives").noconvert(), py::arg("n_threads"));
    s.def(
        "lbfgs",
        [](const ProblemPtr& problem, CArray<double>& x, double gtol, int max_iter) {
            if (x.size() != problem->dim()) throw mlsci::InvalidArgument("x has the wrong size");
            double* xp = x.mutable_data();
            mlsci::ga::LbfgsResult r;
            {
                py::gil_scoped_release nogil;
                r = mlsci::ga::lbfgs(*problem, xp, gtol, max_iter);
            }
            return py::make_tuple(r.f, r.iterations, r.evaluations, r.converged);
        },
        py::arg("problem"), py::arg("x").noconvert(), py::arg("gtol"), py::arg("max_iter"));

    using mlsci::ga::ClusterSearchConfig;
    py::class_<ClusterSearchConfig>(s, "ClusterSearchConfig")
        .def(py::init<>())
        .def_readwrite("n_atoms", &ClusterSearchConfig::n_atoms)
        .def_readwrite("population_size", &ClusterSearchConfig::population_size)
        .def_readwrite("n_children", &ClusterSearchConfig::n_children)
        .def_readwrite("mutation_prob", &ClusterSearchConfig::mutation_prob)
        .def_readwrite("max_relaxations", &ClusterSearchConfig::max_relaxations)
        .def_readwrite("target", &ClusterSearchConfig::target)
        .def_readwrite("energy_tol", &ClusterSearchConfig::energy_tol)
        .def_readwrite("gtol", &ClusterSearchConfig::gtol)
        .def_readwrite("seed", &ClusterSearchConfig::seed);
    const auto cluster_state = [](const ClusterSearchConfig& cfg, CArray<double>& positions, CArray<double>& energies,
                                  CArray<std::int64_t>& counters) {
        if (positions.size() != py::ssize_t{cfg.population_size} * 3 * cfg.n_atoms ||
            energies.size() != cfg.population_size || counters.size() != 2)
            throw mlsci::InvalidArgument("cluster_search: state arrays have the wrong sizes");
        return mlsci::ga::ClusterState{positions.mutable_data(), energies.mutable_data(), counters.mutable_data()};
    };
    s.def(
        "cluster_init",
        [cluster_state](const ClusterSearchConfig& cfg, CArray<double>& positions, CArray<double>& energies,
                        CArray<std::int64_t>& counters, const ProblemPtr& lj, int n_threads) {
            const auto st = cluster_state(cfg, positions, energies, counters);
            py::gil_scoped_release nogil;
            mlsci::ga::cluster_init(cfg, st, *lj, n_threads);
        },
        py::arg("cfg"), py::arg("positions").noconvert(), py::arg("energies").noconvert(),
        py::arg("counters").noconvert(), py::arg("lj"), py::arg("n_threads"));
    s.def(
        "cluster_run",
        [cluster_state](const ClusterSearchConfig& cfg, CArray<double>& positions, CArray<double>& energies,
                        CArray<std::int64_t>& counters, const ProblemPtr& lj, std::int64_t n_generations,
                        CArray<double>& best_trace, int n_threads) {
            const auto st = cluster_state(cfg, positions, energies, counters);
            double* bt = best_trace.mutable_data();
            const auto cap = best_trace.size();
            py::gil_scoped_release nogil;
            mlsci::ga::cluster_run(cfg, st, *lj, n_generations, bt, cap, n_threads);
        },
        py::arg("cfg"), py::arg("positions").noconvert(), py::arg("energies").noconvert(),
        py::arg("counters").noconvert(), py::arg("lj"), py::arg("n_generations"), py::arg("best_trace").noconvert(),
        py::arg("n_threads"));
#undef MLSCI_GA_STATE_ARGS

}
