// Bindings for the Ising family: sweeps and observables.
#include <pybind11/stl.h>

#include "bind_util.hpp"
#include "mlsci/ising/bernoulli.hpp"
#include "mlsci/ising/lattice.hpp"
#include "mlsci/ising/tempering.hpp"

namespace py = pybind11;
using mlsci::bind::CArray;

namespace {
mlsci::ising::Model model_of(const CArray<std::int8_t>& spins, int dim, double J, double h, double beta) {
    mlsci::ising::Model m{dim, spins.ndim() > 0 ? spins.shape(0) : 0, J, h, beta};
    if (spins.ndim() != dim)
        throw mlsci::InvalidArgument("spins must have " + std::to_string(dim) + " dimensions for dim=" +
                                     std::to_string(dim));
    for (py::ssize_t a = 0; a < spins.ndim(); ++a)
        if (spins.shape(a) != m.L) throw mlsci::InvalidArgument("spins must be a cubic array (L, L[, L])");
    return m;
}
}  // namespace

void bind_ising(py::module_& m) {
    auto s = m.def_submodule("ising", "internal; see mlsci_fast.ising");
    py::enum_<mlsci::ising::Update>(s, "Update")
        .value("metropolis", mlsci::ising::Update::Metropolis)
        .value("heatbath", mlsci::ising::Update::HeatBath)
        .value("wolff", mlsci::ising::Update::Wolff)
        .value("swendsen_wang", mlsci::ising::Update::SwendsenWang)
        .value("multispin", mlsci::ising::Update::Multispin);

    s.def(
        "run_sweeps",
        [](CArray<std::int8_t>& spins, int dim, double J, double h, double beta, mlsci::ising::Update update,
           std::uint64_t seed, std::uint32_t replica, std::uint64_t first_sweep, std::int64_t n_sweeps,
           std::int64_t measure_every, std::uint64_t first_measured, CArray<double>& energy,
           CArray<double>& magnetization, int n_threads) {
            const auto model = model_of(spins, dim, J, h, beta);
            if (!spins.writeable()) throw mlsci::InvalidArgument("spins must be writeable");
            if (measure_every < 1 || n_sweeps < 0) throw mlsci::InvalidArgument("run_sweeps: bad sweep counts");
            // Measurements after sweeps s in (first_sweep, first_sweep + n_sweeps] with s > first_measured
            // and (s - first_measured) % measure_every == 0.
            const auto after = [&](std::uint64_t sweep) {
                return sweep <= first_measured ? std::int64_t{0}
                                           : static_cast<std::int64_t>((sweep - first_measured) /
                                                                       static_cast<std::uint64_t>(measure_every));
            };
            const std::int64_t room = after(first_sweep + static_cast<std::uint64_t>(n_sweeps)) - after(first_sweep);
            if (energy.ndim() != 1 || magnetization.ndim() != 1 || energy.shape(0) < room ||
                magnetization.shape(0) < room)
                throw mlsci::InvalidArgument("energy and magnetization need room for the measurements");
            std::int8_t* sp = spins.mutable_data();
            double* e = energy.mutable_data();
            double* mg = magnetization.mutable_data();
            mlsci::ising::SweepResult r;
            {
                py::gil_scoped_release nogil;
                r = mlsci::ising::run_sweeps(sp, model, update, seed, replica, first_sweep, n_sweeps, measure_every,
                                             first_measured, e, mg, n_threads, mlsci::bind::python_signals_cleared());
            }
            return py::make_tuple(r.sweeps, r.measurements, r.stopped);
        },
        py::arg("spins").noconvert(), py::arg("dim"), py::arg("J"), py::arg("h"), py::arg("beta"), py::arg("update"),
        py::arg("seed"), py::arg("replica"), py::arg("first_sweep"), py::arg("n_sweeps"), py::arg("measure_every"),
        py::arg("first_measured"), py::arg("energy").noconvert(), py::arg("magnetization").noconvert(),
        py::arg("n_threads"), "internal; see mlsci_fast.ising.simulate");

    s.def(
        "_bernoulli_words",
        [](double p, std::int64_t n, std::uint64_t seed, std::uint32_t first) {
            if (!(p >= 0.0 && p <= 1.0)) throw mlsci::InvalidArgument("p must be in [0, 1]");
            if (n < 0) throw mlsci::InvalidArgument("n must be >= 0");
            py::array_t<std::uint64_t> out(n + 1);
            mlsci::ising::BernoulliWords gen;
            const mlsci::Key key{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)};
            gen.generate(p, 64 * n, out.mutable_data(), key, 0, first, 0, 0);
            return py::make_tuple(out[py::slice(0, n, 1)], gen.levels());
        },
        py::arg("p"), py::arg("n"), py::arg("seed"), py::arg("first") = 0,
        "tests only: n words of exact Bernoulli(p) bits (see bernoulli.hpp), and the levels used");

    s.def(
        "_bernoulli_groups",
        [](const std::vector<double>& p, const std::vector<std::int64_t>& n_bits, std::uint64_t seed) {
            if (p.size() != n_bits.size() || p.size() > mlsci::ising::BernoulliWords::kMaxGroups)
                throw mlsci::InvalidArgument("p and n_bits must have the same length, at most 16");
            std::vector<py::array_t<std::uint64_t>> out;
            std::vector<std::uint64_t*> ptr;
            for (std::size_t g = 0; g < p.size(); ++g) {
                if (!(p[g] >= 0.0 && p[g] <= 1.0)) throw mlsci::InvalidArgument("p must be in [0, 1]");
                if (n_bits[g] < 0) throw mlsci::InvalidArgument("n_bits must be >= 0");
                out.emplace_back((n_bits[g] + 63) / 64 + 1);
                ptr.push_back(out.back().mutable_data());
            }
            mlsci::ising::BernoulliWords gen;
            const mlsci::Key key{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)};
            gen.generate(static_cast<int>(p.size()), p.data(), n_bits.data(), ptr.data(), key, 0, 0, 0, 0);
            py::list words;
            for (auto& a : out) words.append(a);  // (each with its look-ahead word, which must be 0)
            return py::make_tuple(words, gen.levels());
        },
        py::arg("p"), py::arg("n_bits"), py::arg("seed"),
        "tests only: several groups' Bernoulli bits from one generate() (shared Philox passes)");

    s.def("_set_scalar_sweeps", &mlsci::ising::set_scalar_sweeps, py::arg("scalar"),
          "tests only: use the scalar reference loop for checkerboard sweeps");

    s.def(
        "observables",
        [](const CArray<std::int8_t>& spins, int dim, double J, double h, int n_threads) {
            auto model = model_of(spins, dim, J, h, 1.0);
            mlsci::ising::check_model(model, "observables");
            double e = 0.0, mg = 0.0;
            {
                py::gil_scoped_release nogil;
                mlsci::ising::observables(spins.data(), model, e, mg, n_threads);
            }
            return py::make_tuple(e, mg);
        },
        py::arg("spins").noconvert(), py::arg("dim"), py::arg("J"), py::arg("h"), py::arg("n_threads"),
        "internal; see mlsci_fast.ising");

    s.def(
        "parallel_tempering",
        [](CArray<std::int8_t>& spins, CArray<std::int32_t>& lattice_at, CArray<std::int64_t>& attempts,
           CArray<std::int64_t>& accepted, int dim, double J, double h, const CArray<double>& betas,
           mlsci::ising::Update update, std::uint64_t seed, std::uint64_t first_round, std::int64_t n_rounds,
           std::int64_t sweeps_per_round, CArray<double>& energy, CArray<double>& magnetization, int n_threads) {
            const py::ssize_t R = betas.ndim() == 1 ? betas.shape(0) : 0;
            if (spins.ndim() != dim + 1 || spins.shape(0) != R)
                throw mlsci::InvalidArgument("spins must have shape (R, L, L[, L]) with R = len(betas)");
            mlsci::ising::Model model{dim, spins.shape(1), J, h, 1.0};
            for (py::ssize_t a = 1; a < spins.ndim(); ++a)
                if (spins.shape(a) != model.L) throw mlsci::InvalidArgument("each lattice must be cubic (L, L[, L])");
            if (lattice_at.size() != R || attempts.size() != R - 1 || accepted.size() != R - 1)
                throw mlsci::InvalidArgument("lattice_at needs R entries, attempts and accepted R - 1");
            if (energy.ndim() != 2 || magnetization.ndim() != 2 || energy.shape(1) != R ||
                magnetization.shape(1) != R || energy.shape(0) < n_rounds || magnetization.shape(0) < n_rounds)
                throw mlsci::InvalidArgument("energy and magnetization need shape (>= n_rounds, R)");
            const mlsci::ising::TemperingState st{spins.mutable_data(), lattice_at.mutable_data(),
                                                  attempts.mutable_data(), accepted.mutable_data()};
            const double* b = betas.data();
            double* e = energy.mutable_data();
            double* mg = magnetization.mutable_data();
            mlsci::ising::TemperingResult r;
            {
                py::gil_scoped_release nogil;
                r = mlsci::ising::parallel_tempering(st, model, b, static_cast<int>(R), update, seed, first_round,
                                                     n_rounds, sweeps_per_round, e, mg, n_threads,
                                                     mlsci::bind::python_signals_cleared());
            }
            return py::make_tuple(r.rounds, r.stopped);
        },
        py::arg("spins").noconvert(), py::arg("lattice_at").noconvert(), py::arg("attempts").noconvert(),
        py::arg("accepted").noconvert(), py::arg("dim"), py::arg("J"), py::arg("h"), py::arg("betas").noconvert(),
        py::arg("update"), py::arg("seed"), py::arg("first_round"), py::arg("n_rounds"), py::arg("sweeps_per_round"),
        py::arg("energy").noconvert(), py::arg("magnetization").noconvert(), py::arg("n_threads"),
        "internal; see mlsci_fast.ising.parallel_tempering");
}
