// Bindings for force fields: a Dataset holds structures and their neighbour lists (built once);
// compute() gives one parameter set's energies and forces, evaluate_population() a generation's
// energies and force errors.
#include <algorithm>
#include <memory>
#include <vector>

#include "bind_util.hpp"
#include "mlsci/forcefield/forcefield.hpp"
#include "mlsci/forcefield/reaxff.hpp"

namespace py = pybind11;
using mlsci::bind::CArray;

void bind_forcefield(py::module_& parent) {
    auto s = parent.def_submodule("forcefield", "internal; see mlsci_fast.forcefield");
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

    s.def(
        "reaxff_bonds",
        [](const ff::Dataset& d, std::int64_t structure, const CArray<double>& general, const CArray<double>& atom,
           const CArray<double>& pair, const CArray<double>& angle, const CArray<double>& torsion,
           const CArray<double>& hbond, int vdw_type, bool lg, const py::object& given, double qeq_tolerance,
           double bond_cut, double hbond_cut) {
            namespace rx = mlsci::forcefield::reaxff;
            const int n = d.n_types();
            if (general.size() < rx::kGeneralNeeded || atom.size() != std::int64_t{n} * rx::kAtomFields ||
                pair.size() != std::int64_t{n} * n * rx::kPairFields ||
                angle.size() != std::int64_t{n} * n * n * rx::kAngleStride ||
                torsion.size() != std::int64_t{n} * n * n * n * rx::kTorsionStride ||
                hbond.size() != std::int64_t{n} * n * n * rx::kHbondStride)
                throw mlsci::InvalidArgument("reaxff_bonds: parameter tables have the wrong sizes");
            const rx::Tables t{n,          general.data(), atom.data(), pair.data(), angle.data(),
                               torsion.data(), hbond.data(), vdw_type, lg};
            rx::Bonds b;
            rx::Terms e;
            // charges: the caller's, or None for charge equilibration
            CArray<double> charges(d.n_atoms(structure));
            const bool qeq = given.is_none();
            if (!qeq) {
                const auto c = given.cast<CArray<double>>();
                if (c.size() != charges.size()) throw mlsci::InvalidArgument("reaxff_bonds: one charge per atom");
                std::copy(c.data(), c.data() + c.size(), charges.mutable_data());
            }
            double* qp = charges.mutable_data();
            CArray<double> forces({static_cast<py::ssize_t>(d.n_atoms(structure)), py::ssize_t{3}});
            double* fp = forces.mutable_data();
            {
                py::gil_scoped_release nogil;
                rx::check_tables(t);
                if (qeq) {
                    const auto q = rx::qeq_charges(d, structure, t, qeq_tolerance);
                    std::copy(q.begin(), q.end(), qp);
                }
                e = rx::evaluate(d, structure, t, qp, bond_cut, hbond_cut, b, fp);
            }
            const auto nb = static_cast<py::ssize_t>(b.bo.size());
            CArray<std::int32_t> i(nb), j(nb);
            CArray<double> bo(nb), bo_s(nb), bo_pi(nb), bo_pi2(nb), dvec({nb, py::ssize_t{3}});
            for (py::ssize_t k = 0; k < nb; ++k) {
                i.mutable_data()[k] = b.atom[static_cast<std::size_t>(k)];
                j.mutable_data()[k] = d.owner(b.entry[static_cast<std::size_t>(k)]);
                bo.mutable_data()[k] = b.bo[static_cast<std::size_t>(k)];
                bo_s.mutable_data()[k] = b.bo_s[static_cast<std::size_t>(k)];
                bo_pi.mutable_data()[k] = b.bo_pi[static_cast<std::size_t>(k)];
                bo_pi2.mutable_data()[k] = b.bo_pi2[static_cast<std::size_t>(k)];
                const double* g = d.geometry(b.entry[static_cast<std::size_t>(k)]);
                for (int c = 0; c < 3; ++c) dvec.mutable_data()[3 * k + c] = g[c];
            }
            CArray<double> total(static_cast<py::ssize_t>(b.total_bo.size()));
            std::copy(b.total_bo.begin(), b.total_bo.end(), total.mutable_data());
            return py::make_tuple(i, j, dvec, bo, bo_s, bo_pi, bo_pi2, total, charges,
                                  py::make_tuple(e.eb, e.elp, e.ea, e.ev, e.epen, e.ecoa, e.et, e.eco, e.ehb, e.ew,
                                                 e.ep, e.eqeq),
                                  forces);
        },
        py::arg("dataset"), py::arg("structure"), py::arg("general").noconvert(), py::arg("atom").noconvert(),
        py::arg("pair").noconvert(), py::arg("angle").noconvert(), py::arg("torsion").noconvert(),
        py::arg("hbond").noconvert(), py::arg("vdw_type"), py::arg("lg"), py::arg("charges"),
        py::arg("qeq_tolerance"), py::arg("bond_cut"), py::arg("hbond_cut"),
        "internal; see mlsci_fast.forcefield.reaxff.evaluate");
    s.def(
        "reaxff_population",
        [](const ff::Dataset& d, const CArray<double>& general, const CArray<double>& atom, const CArray<double>& pair,
           const CArray<double>& angle, const CArray<double>& torsion, const CArray<double>& hbond, int vdw_type,
           bool lg, const py::object& given, double qeq_tolerance, double bond_cut, double hbond_cut,
           const CArray<std::uint8_t>& want_forces,
           const CArray<double>& ref_forces, bool with_forces, int n_threads) {
            namespace rx = mlsci::forcefield::reaxff;
            const std::int64_t n = d.n_types(), ns = d.n_structures(), na = d.n_atoms_total();
            // one row per parameter set: (n_sets, values of one set)
            const auto rows = [&](const CArray<double>& a, std::int64_t per, const char* what) {
                if (a.ndim() != 2 || a.shape(1) != per || (a.shape(0) != general.shape(0)))
                    throw mlsci::InvalidArgument(std::string("reaxff_population: ") + what +
                                                 " must have one row of " + std::to_string(per) + " values per set");
            };
            if (general.ndim() != 2 || general.shape(0) < 1 || general.shape(1) < rx::kGeneralNeeded)
                throw mlsci::InvalidArgument("reaxff_population: general must be (n_sets, >= 39)");
            rows(atom, n * rx::kAtomFields, "atom");
            rows(pair, n * n * rx::kPairFields, "pair");
            rows(angle, n * n * n * rx::kAngleStride, "angle");
            rows(torsion, n * n * n * n * rx::kTorsionStride, "torsion");
            rows(hbond, n * n * n * rx::kHbondStride, "hbond");
            if (want_forces.size() != ns || ref_forces.size() != 3 * na)
                throw mlsci::InvalidArgument("reaxff_population: want_forces and ref_forces do not fit the dataset");
            const std::int64_t n_sets = general.shape(0);
            std::vector<rx::Tables> sets(static_cast<std::size_t>(n_sets));
            for (std::int64_t k = 0; k < n_sets; ++k)
                sets[static_cast<std::size_t>(k)] = rx::Tables{static_cast<int>(n),    general.data(k, 0),
                                                               atom.data(k, 0),        pair.data(k, 0),
                                                               angle.data(k, 0),       torsion.data(k, 0),
                                                               hbond.data(k, 0),       vdw_type,
                                                               lg};
            const double* q = nullptr;
            CArray<double> qa;
            if (!given.is_none()) {
                qa = given.cast<CArray<double>>();
                if (qa.size() != na) throw mlsci::InvalidArgument("reaxff_population: one charge per atom");
                q = qa.data();
            }
            CArray<double> e({n_sets, ns}), sse({n_sets, ns}), charges({n_sets, na});
            py::object f = py::none();
            double* fp = nullptr;
            if (with_forces) {
                CArray<double> fa({n_sets, na, std::int64_t{3}});
                fp = fa.mutable_data();
                f = fa;
            }
            double *ep = e.mutable_data(), *sp = sse.mutable_data(), *cp = charges.mutable_data();
            {
                py::gil_scoped_release nogil;
                rx::evaluate_population(d, sets.data(), n_sets, q, qeq_tolerance, bond_cut, hbond_cut, want_forces.data(),
                                        ref_forces.data(), ep, sp, fp, cp, n_threads);
            }
            return py::make_tuple(e, sse, f, charges);
        },
        py::arg("dataset"), py::arg("general").noconvert(), py::arg("atom").noconvert(), py::arg("pair").noconvert(),
        py::arg("angle").noconvert(), py::arg("torsion").noconvert(), py::arg("hbond").noconvert(),
        py::arg("vdw_type"), py::arg("lg"), py::arg("charges"), py::arg("qeq_tolerance"), py::arg("bond_cut"),
        py::arg("hbond_cut"), py::arg("want_forces").noconvert(), py::arg("ref_forces").noconvert(), py::arg("with_forces"),
        py::arg("n_threads"), "internal; see mlsci_fast.forcefield.fitting");

}
