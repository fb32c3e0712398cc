// Bindings for the MCMC family: built-in targets and the ensemble sampler's step loop.
#include <pybind11/stl.h>

#include "bind_util.hpp"
#include "mlsci/common/parallel.hpp"
#include "mlsci/mcmc/ensemble.hpp"
#include "mlsci/mcmc/hmc.hpp"
#include "mlsci/mcmc/targets.hpp"

namespace py = pybind11;
using mlsci::bind::CArray;
using mlsci::mcmc::Target;
using mlsci::mcmc::TargetPtr;

namespace {

// Points as an (n, dim) array, or one point as a (dim,) array.
std::int64_t n_points(const CArray<double>& x, int dim, const char* name) {
    if (x.ndim() == 1 && x.shape(0) == dim) return -1;
    if (x.ndim() == 2 && x.shape(1) == dim) return x.shape(0);
    throw mlsci::InvalidArgument(std::string(name) + " must have shape (" + std::to_string(dim) + ",) or (n, " +
                                 std::to_string(dim) + ")");
}

const double* data_or_throw(const CArray<double>& a, py::ssize_t size, const char* name) {
    if (a.size() != size) throw mlsci::InvalidArgument(std::string(name) + " has the wrong size");
    return a.data();
}

}  // namespace

void bind_mcmc(py::module_& m) {
    auto s = m.def_submodule("mcmc", "internal; see mlsci_fast.mcmc");

    py::class_<Target, TargetPtr>(s, "Target")
        .def_property_readonly("dim", &Target::dim)
        .def_property_readonly("name", &Target::name)
        .def(
            "log_prob",
            [](const Target& t, const CArray<double>& x, int n_threads) -> py::object {
                const int d = t.dim();
                const std::int64_t n = n_points(x, d, "x");
                if (n < 0) return py::float_(t.log_prob(x.data()));
                CArray<double> out(n);
                double* o = out.mutable_data();
                const double* xp = x.data();
                {
                    py::gil_scoped_release nogil;
                    const int nt = t.thread_safe() && t.cost() * double(n) >= 2e4 ? n_threads : 1;
                    mlsci::parallel_for(0, n, nt, [&](std::int64_t i) { o[i] = t.log_prob(xp + i * d); });
                }
                return std::move(out);
            },
            py::arg("x").noconvert(), py::arg("n_threads"))
        .def(
            "log_prob_grad",
            [](const Target& t, const CArray<double>& x, int n_threads) -> py::tuple {
                const int d = t.dim();
                const std::int64_t n = n_points(x, d, "x");
                if (n < 0) {
                    CArray<double> g(d);
                    const double lp = t.log_prob_grad(x.data(), g.mutable_data());
                    return py::make_tuple(lp, g);
                }
                CArray<double> out(n), g({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(d)});
                double* o = out.mutable_data();
                double* gp = g.mutable_data();
                const double* xp = x.data();
                {
                    py::gil_scoped_release nogil;
                    const int nt = t.thread_safe() && t.cost() * double(n) >= 2e4 ? n_threads : 1;
                    mlsci::parallel_for(0, n, nt, [&](std::int64_t i) { o[i] = t.log_prob_grad(xp + i * d, gp + i * d); });
                }
                return py::make_tuple(out, g);
            },
            py::arg("x").noconvert(), py::arg("n_threads"));

    s.def(
        "gaussian",
        [](const CArray<double>& mean, const CArray<double>& cov) {
            const auto d = static_cast<int>(mean.size());
            return mlsci::mcmc::make_gaussian(mean.data(), data_or_throw(cov, py::ssize_t{d} * d, "cov"), d);
        },
        py::arg("mean").noconvert(), py::arg("cov").noconvert());
    s.def(
        "gaussian_mixture",
        [](const CArray<double>& weights, const CArray<double>& means, const CArray<double>& covs) {
            const auto k = static_cast<int>(weights.size());
            if (means.ndim() != 2 || means.shape(0) != k)
                throw mlsci::InvalidArgument("means must have shape (n_components, ndim)");
            const auto d = static_cast<int>(means.shape(1));
            return mlsci::mcmc::make_gaussian_mixture(weights.data(), means.data(),
                                                      data_or_throw(covs, py::ssize_t{k} * d * d, "covs"), k, d);
        },
        py::arg("weights").noconvert(), py::arg("means").noconvert(), py::arg("covs").noconvert());
    s.def("funnel", &mlsci::mcmc::make_funnel, py::arg("ndim"), py::arg("scale"));
    s.def("rosenbrock", &mlsci::mcmc::make_rosenbrock, py::arg("ndim"), py::arg("a"), py::arg("b"), py::arg("scale"));
    s.def(
        "linear_regression",
        [](const CArray<double>& X, const CArray<double>& y, bool fit_intercept, double sigma, double prior_scale) {
            const auto Xv = mlsci::bind::matrix_view(X, "X");
            return mlsci::mcmc::make_linear_regression(Xv, data_or_throw(y, X.shape(0), "y"), fit_intercept, sigma,
                                                       prior_scale);
        },
        py::arg("X").noconvert(), py::arg("y").noconvert(), py::arg("fit_intercept"), py::arg("sigma"),
        py::arg("prior_scale"));
    s.def(
        "logistic_regression",
        [](const CArray<double>& X, const CArray<double>& y, bool fit_intercept, double prior_scale) {
            const auto Xv = mlsci::bind::matrix_view(X, "X");
            return mlsci::mcmc::make_logistic_regression(Xv, data_or_throw(y, X.shape(0), "y"), fit_intercept,
                                                         prior_scale);
        },
        py::arg("X").noconvert(), py::arg("y").noconvert(), py::arg("fit_intercept"), py::arg("prior_scale"));

    s.def(
        "run_ensemble",
        [](const std::vector<std::tuple<int, double, double, double, double, double>>& moves, int nwalkers, int ndim,
           bool randomize_split, std::uint64_t seed, std::uint32_t chain, CArray<double>& coords,
           CArray<double>& log_prob, CArray<std::int64_t>& accepted, CArray<std::int64_t>& counters,
           std::optional<CArray<double>> chain_buf, std::optional<CArray<double>> lp_buf, std::int64_t thin,
           std::int64_t origin, std::int64_t n_steps, const TargetPtr& target, const py::object& batch_fn,
           int n_threads) {
            mlsci::mcmc::EnsembleSpec spec;
            spec.nwalkers = nwalkers;
            spec.ndim = ndim;
            spec.randomize_split = randomize_split;
            spec.seed = seed;
            spec.chain = chain;
            for (const auto& [kind, weight, a, gamma0, sigma, gamma] : moves) {
                if (kind < 0 || kind > 2) throw mlsci::InvalidArgument("unknown move kind");
                spec.moves.push_back({static_cast<mlsci::mcmc::MoveKind>(kind), weight, a, gamma0, sigma, gamma});
            }
            const py::ssize_t nwd = py::ssize_t{nwalkers} * ndim;
            if (coords.size() != nwd || log_prob.size() != nwalkers || accepted.size() != nwalkers ||
                counters.size() != 2)
                throw mlsci::InvalidArgument("run_ensemble: state arrays have the wrong sizes");
            mlsci::mcmc::EnsembleState st{coords.mutable_data(), log_prob.mutable_data(), accepted.mutable_data(),
                                          counters.mutable_data()};
            mlsci::mcmc::ChainStore store;
            store.thin = thin;
            store.origin = origin;
            if (chain_buf && lp_buf) {
                if (chain_buf->size() % nwd != 0 || lp_buf->size() != chain_buf->size() / ndim)
                    throw mlsci::InvalidArgument("run_ensemble: chain buffers have the wrong sizes");
                store.chain = chain_buf->mutable_data();
                store.log_prob = lp_buf->mutable_data();
                store.capacity = chain_buf->size() / nwd;
            }
            mlsci::mcmc::BatchLogProb batch;
            if (!target) {
                if (batch_fn.is_none()) throw mlsci::InvalidArgument("run_ensemble: need a target or a log_prob");
                batch = [&batch_fn, ndim](const double* x, std::int64_t n, double* out) {
                    py::gil_scoped_acquire gil;
                    CArray<double> points({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(ndim)});
                    std::copy(x, x + n * ndim, points.mutable_data());
                    const py::object r = batch_fn(points);
                    const auto values = py::cast<CArray<double>>(r);
                    if (values.ndim() != 1 || values.shape(0) != n)
                        throw mlsci::InvalidArgument("log_prob must return one value per walker");
                    std::copy(values.data(), values.data() + n, out);
                };
            }
            py::gil_scoped_release nogil;
            mlsci::mcmc::run_ensemble(spec, st, store, n_steps, target.get(), batch, n_threads);
        },
        py::arg("moves"), py::arg("nwalkers"), py::arg("ndim"), py::arg("randomize_split"), py::arg("seed"),
        py::arg("chain"), py::arg("coords").noconvert(), py::arg("log_prob").noconvert(),
        py::arg("accepted").noconvert(), py::arg("counters").noconvert(), py::arg("chain_buf").noconvert(),
        py::arg("lp_buf").noconvert(), py::arg("thin"), py::arg("origin"), py::arg("n_steps"), py::arg("target"),
        py::arg("batch_fn"), py::arg("n_threads"), "internal; see mlsci_fast.mcmc.EnsembleSampler");

    s.def(
        "callback_target",
        [](int dim, py::function log_prob, py::object log_prob_grad) {
            // Python functions of one point; the kernels call them from one thread, under the GIL.
            mlsci::mcmc::LogProbFn lp = [log_prob, dim](const double* x) {
                py::gil_scoped_acquire gil;
                CArray<double> point(dim);
                std::copy(x, x + dim, point.mutable_data());
                return py::cast<double>(log_prob(point));
            };
            mlsci::mcmc::LogProbGradFn lpg;
            if (!log_prob_grad.is_none()) {
                lpg = [log_prob_grad, dim](const double* x, double* grad) {
                    py::gil_scoped_acquire gil;
                    CArray<double> point(dim);
                    std::copy(x, x + dim, point.mutable_data());
                    const py::tuple r = log_prob_grad(point);
                    const auto g = py::cast<CArray<double>>(r[1]);
                    if (g.ndim() != 1 || g.shape(0) != dim)
                        throw mlsci::InvalidArgument("the gradient must have shape (" + std::to_string(dim) + ",)");
                    std::copy(g.data(), g.data() + dim, grad);
                    return py::cast<double>(r[0]);
                };
            }
            return mlsci::mcmc::make_callback_target(dim, std::move(lp), std::move(lpg));
        },
        py::arg("dim"), py::arg("log_prob"), py::arg("log_prob_grad"));

    py::class_<mlsci::mcmc::ChainConfig>(s, "ChainConfig")
        .def(py::init<>())
        .def_property(
            "algorithm", [](const mlsci::mcmc::ChainConfig& c) { return static_cast<int>(c.algorithm); },
            [](mlsci::mcmc::ChainConfig& c, int a) {
                if (a < 0 || a > 2) throw mlsci::InvalidArgument("unknown chain algorithm");
                c.algorithm = static_cast<mlsci::mcmc::ChainAlgorithm>(a);
            })
        .def_readwrite("ndim", &mlsci::mcmc::ChainConfig::ndim)
        .def_readwrite("dense_metric", &mlsci::mcmc::ChainConfig::dense_metric)
        .def_readwrite("adapt_step_size", &mlsci::mcmc::ChainConfig::adapt_step_size)
        .def_readwrite("adapt_metric", &mlsci::mcmc::ChainConfig::adapt_metric)
        .def_readwrite("target_accept", &mlsci::mcmc::ChainConfig::target_accept)
        .def_readwrite("max_tree_depth", &mlsci::mcmc::ChainConfig::max_tree_depth)
        .def_readwrite("n_leapfrog", &mlsci::mcmc::ChainConfig::n_leapfrog)
        .def_readwrite("step_jitter", &mlsci::mcmc::ChainConfig::step_jitter)
        .def_readwrite("max_delta_h", &mlsci::mcmc::ChainConfig::max_delta_h)
        .def_readwrite("n_warmup", &mlsci::mcmc::ChainConfig::n_warmup)
        .def_readwrite("seed", &mlsci::mcmc::ChainConfig::seed);
    s.attr("ADAPT_SIZE") = mlsci::mcmc::kAdaptSize;

    // The chains' state arrays, in ChainState order; sizes are checked against n and d.
    using StateArrays = std::tuple<CArray<double>&, CArray<double>&, CArray<double>&, CArray<double>&,
                                   CArray<double>&, CArray<double>&, CArray<double>&, CArray<std::int64_t>&>;
    const auto state_of = [](const mlsci::mcmc::ChainConfig& cfg, const StateArrays& a, py::ssize_t& n) {
        auto& [x, lp, grad, adapt, metric, w_mean, w_m2, iteration] = a;
        n = lp.size();
        const py::ssize_t d = cfg.ndim, msize = cfg.dense_metric ? d * d : d;
        if (x.size() != n * d || grad.size() != n * d || adapt.size() != n * mlsci::mcmc::kAdaptSize ||
            metric.size() != n * msize || w_mean.size() != n * d || w_m2.size() != n * msize ||
            iteration.size() != n)
            throw mlsci::InvalidArgument("chains: state arrays have the wrong sizes");
        return mlsci::mcmc::ChainState{x.mutable_data(),      lp.mutable_data(),     grad.mutable_data(),
                                       adapt.mutable_data(),  metric.mutable_data(), w_mean.mutable_data(),
                                       w_m2.mutable_data(),   iteration.mutable_data()};
    };
    s.def(
        "init_chains",
        [state_of](const mlsci::mcmc::ChainConfig& cfg, CArray<double>& x, CArray<double>& lp, CArray<double>& grad,
                   CArray<double>& adapt, CArray<double>& metric, CArray<double>& w_mean, CArray<double>& w_m2,
                   CArray<std::int64_t>& iteration, double step_size, const TargetPtr& target) {
            py::ssize_t n = 0;
            const auto st = state_of(cfg, StateArrays{x, lp, grad, adapt, metric, w_mean, w_m2, iteration}, n);
            const bool release = target->thread_safe();
            std::optional<py::gil_scoped_release> nogil;
            if (release) nogil.emplace();
            mlsci::mcmc::init_chains(cfg, st, static_cast<int>(n), step_size, *target);
        },
        py::arg("cfg"), py::arg("x").noconvert(), py::arg("lp").noconvert(), py::arg("grad").noconvert(),
        py::arg("adapt").noconvert(), py::arg("metric").noconvert(), py::arg("w_mean").noconvert(),
        py::arg("w_m2").noconvert(), py::arg("iteration").noconvert(), py::arg("step_size"), py::arg("target"));
    s.def(
        "run_chains",
        [state_of](const mlsci::mcmc::ChainConfig& cfg, CArray<double>& x, CArray<double>& lp, CArray<double>& grad,
                   CArray<double>& adapt, CArray<double>& metric, CArray<double>& w_mean, CArray<double>& w_m2,
                   CArray<std::int64_t>& iteration, CArray<double>& draws, CArray<double>& t_lp,
                   CArray<double>& accept, CArray<double>& step_size, CArray<double>& energy,
                   CArray<std::int32_t>& n_steps, CArray<std::int32_t>& tree_depth, CArray<std::int8_t>& divergent,
                   std::uint32_t first_chain, std::int64_t until, const TargetPtr& target, int n_threads) {
            py::ssize_t n = 0;
            const auto st = state_of(cfg, StateArrays{x, lp, grad, adapt, metric, w_mean, w_m2, iteration}, n);
            const py::ssize_t cap = n > 0 ? t_lp.size() / n : 0;
            if (draws.size() != cap * n * cfg.ndim || t_lp.size() != n * cap || accept.size() != n * cap ||
                step_size.size() != n * cap || energy.size() != n * cap || n_steps.size() != n * cap ||
                tree_depth.size() != n * cap || divergent.size() != n * cap)
                throw mlsci::InvalidArgument("chains: trace arrays have the wrong sizes");
            mlsci::mcmc::ChainTrace tr{cap,
                                       draws.mutable_data(),
                                       t_lp.mutable_data(),
                                       accept.mutable_data(),
                                       step_size.mutable_data(),
                                       energy.mutable_data(),
                                       n_steps.mutable_data(),
                                       tree_depth.mutable_data(),
                                       divergent.mutable_data()};
            const bool release = target->thread_safe();
            std::optional<py::gil_scoped_release> nogil;
            if (release) nogil.emplace();
            mlsci::mcmc::run_chains(cfg, st, tr, static_cast<int>(n), first_chain, until, *target, n_threads);
        },
        py::arg("cfg"), py::arg("x").noconvert(), py::arg("lp").noconvert(), py::arg("grad").noconvert(),
        py::arg("adapt").noconvert(), py::arg("metric").noconvert(), py::arg("w_mean").noconvert(),
        py::arg("w_m2").noconvert(), py::arg("iteration").noconvert(), py::arg("draws").noconvert(),
        py::arg("t_lp").noconvert(), py::arg("accept").noconvert(), py::arg("step_size").noconvert(),
        py::arg("energy").noconvert(), py::arg("n_steps").noconvert(), py::arg("tree_depth").noconvert(),
        py::arg("divergent").noconvert(), py::arg("first_chain"), py::arg("until"), py::arg("target"),
        py::arg("n_threads"), "internal; see mlsci_fast.mcmc.nuts");
}
