// Bindings for force fields: a Dataset holds structures and their neighbour lists (built once);
// compute() gives one parameter set's energies and forces, evaluate_population() a generation's
// energies and force errors.
#include <memory>
#include <vector>

#include "bind_util.hpp"
#include "mlsci/forcefield/forcefield.hpp"

namespace py = pybind11;
using mlsci::bind::CArray;

void bind_forcefield(py::module_& m) {
    auto s = m.def_submodule("forcefield", "internal; see mlsci_fast.forcefield");
    namespace ff = mlsci::forcefield;
    py::class_<ff::Dataset, std::shared_ptr<ff::Dataset>>(s, "Dataset")
        .def(py::init([](int n_types, double cutoff, const CArray<std::int64_t>& counts,
                         const CArray<std::int32_t>& types, const CArray<double>& positions,
                         const CArray<double>& cells, const CArray<std::uint8_t>& pbc, int n_threads) {
                 const auto ns = counts.size();
                 std::int64_t total = 0;
                 for (py::ssize_t k = 0; k < ns; ++k) {
                     if (counts.data()[k] < 1) throw mlsci::InvalidArgument("Dataset: a structure has no atoms");
                     total += counts.data()[k];
                 }
                 if (types.size() != total || positions.size() != 3 * total || cells.size() != 9 * ns ||
                     pbc.size() != 3 * ns)
                     throw mlsci::InvalidArgument("Dataset: array sizes do not match the atom counts");
                 std::vector<ff::StructureInput> in(ns);
                 std::int64_t at = 0;
                 for (py::ssize_t k = 0; k < ns; ++k) {
                     in[k].n_atoms = static_cast<int>(counts.data()[k]);
                     in[k].types = types.data() + at;
                     in[k].positions = positions.data() + 3 * at;
                     in[k].cell = cells.data() + 9 * k;
                     for (int d = 0; d < 3; ++d) in[k].pbc[d] = pbc.data()[3 * k + d] != 0;
                     at += counts.data()[k];
                 }
                 py::gil_scoped_release nogil;
                 return std::make_shared<ff::Dataset>(n_types, cutoff, in, n_threads);
             }),
             py::arg("n_types"), py::arg("cutoff"), py::arg("counts").noconvert(), py::arg("types").noconvert(),
             py::arg("positions").noconvert(), py::arg("cells").noconvert(), py::arg("pbc").noconvert(),
             py::arg("n_threads"))
        .def_property_readonly("n_structures", &ff::Dataset::n_structures)
        .def_property_readonly("n_atoms_total", &ff::Dataset::n_atoms_total)
        .def_property_readonly("n_pairs", &ff::Dataset::n_pairs)
        .def_property_readonly("cutoff", &ff::Dataset::cutoff)
        .def(
            "compute",
            [](const ff::Dataset& d, int model, const CArray<double>& params, bool with_forces, int n_threads) {
                const auto m = static_cast<ff::Model>(model);
                if (params.size() != ff::n_entries(m, d.n_types()) * ff::values_per_entry(m))
                    throw mlsci::InvalidArgument("compute: params has the wrong size");
                CArray<double> e(d.n_structures());
                py::object f = py::none();
                double* fp = nullptr;
                if (with_forces) {
                    CArray<double> fa({d.n_atoms_total(), std::int64_t{3}});
                    fp = fa.mutable_data();
                    f = fa;
                }
                double* ep = e.mutable_data();
                const double* pp = params.data();
                {
                    py::gil_scoped_release nogil;
                    ff::compute(d, m, pp, ep, fp, n_threads);
                }
                return py::make_tuple(e, f);
            },
            py::arg("model"), py::arg("params").noconvert(), py::arg("with_forces"), py::arg("n_threads"))
        .def(
            "evaluate_population",
            [](const ff::Dataset& d, int model, const CArray<double>& params, const CArray<std::uint8_t>& want_forces,
               const CArray<double>& ref_forces, int n_threads) {
                const auto m = static_cast<ff::Model>(model);
                const std::int64_t per = ff::n_entries(m, d.n_types()) * ff::values_per_entry(m);
                if (params.ndim() < 1 || params.shape(0) < 1 || params.size() != params.shape(0) * per)
                    throw mlsci::InvalidArgument("evaluate_population: params must hold n_sets complete parameter sets");
                if (want_forces.size() != d.n_structures() || ref_forces.size() != 3 * d.n_atoms_total())
                    throw mlsci::InvalidArgument("evaluate_population: want_forces or ref_forces has the wrong size");
                const std::int64_t n = params.shape(0), ns = d.n_structures();
                CArray<double> e({n, ns}), sse({n, ns});
                double* ep = e.mutable_data();
                double* sp = sse.mutable_data();
                const double* pp = params.data();
                const std::uint8_t* wf = want_forces.data();
                const double* rf = ref_forces.data();
                {
                    py::gil_scoped_release nogil;
                    ff::evaluate_population(d, m, pp, n, wf, rf, ep, sp, n_threads);
                }
                return py::make_tuple(e, sse);
            },
            py::arg("model"), py::arg("params").noconvert(), py::arg("want_forces").noconvert(),
            py::arg("ref_forces").noconvert(), py::arg("n_threads"));
}
