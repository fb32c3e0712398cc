// Bindings for the common runtime: build information, OpenMP thread count, random numbers.
#include <omp.h>

#include <pybind11/stl.h>

#include "bind_util.hpp"
#include "mlsci/common/build_info.hpp"
#include "mlsci/common/parallel.hpp"
#include "mlsci/common/random.hpp"
#include "mlsci/common/rng.hpp"

namespace py = pybind11;
using mlsci::bind::CArray;

void bind_common(py::module_& m) {
    const auto info = mlsci::build_info();
    for (const auto& [key, value] : info)
        if (key == "version") m.attr("__version__") = value;
    m.def("build_info", &mlsci::build_info, "internal; see mlsci_fast.show_config");
    m.def("openmp_max_threads", [] { return omp_get_max_threads(); },
          "internal; see mlsci_fast.get_num_threads");
    m.def("max_threads", &mlsci::max_threads, "internal; the most threads a kernel starts (4 per processor)");
    m.def("parallel_regions", [] { return mlsci::regions_started().load(); },
          "internal; parallel regions started so far (tests: small work must start none)");

    auto r = m.def_submodule("random", "internal; see mlsci_fast.random");
    r.def(
        "philox4x32",
        [](const CArray<std::uint32_t>& counters, const CArray<std::uint32_t>& keys, int rounds) {
            if (counters.ndim() != 2 || counters.shape(1) != 4 || keys.ndim() != 2 || keys.shape(1) != 2 ||
                keys.shape(0) != counters.shape(0))
                throw mlsci::InvalidArgument("philox4x32: counters must be (n, 4) and keys (n, 2)");
            CArray<std::uint32_t> out({counters.shape(0), py::ssize_t{4}});
            auto* o = out.mutable_data();
            {
                py::gil_scoped_release nogil;
                mlsci::philox4x32_batch(counters.data(), keys.data(), o, counters.shape(0), rounds);
            }
            return out;
        },
        py::arg("counters").noconvert(), py::arg("keys").noconvert(), py::arg("rounds"),
        "internal; see mlsci_fast.random.philox4x32");

    r.def(
        "philox4x32_blocks",
        [](std::uint32_t key0, std::uint32_t key1, std::uint32_t draw, std::uint32_t first, std::uint32_t step,
           std::uint32_t tag, std::int64_t n) {
            if (n < 0) throw mlsci::InvalidArgument("n must be >= 0");
            CArray<std::uint32_t> out({static_cast<py::ssize_t>(n), py::ssize_t{4}});
            mlsci::philox4x32_blocks({key0, key1}, draw, first, step, tag, n, out.mutable_data());
            return out;
        },
        py::arg("key0"), py::arg("key1"), py::arg("draw"), py::arg("first"), py::arg("step"), py::arg("tag"),
        py::arg("n"), "internal; the vectorised Philox the Ising sweeps use, for tests");

    using Fill = void (*)(std::uint64_t, std::uint32_t, double*, std::int64_t, int);
    const auto def_fill = [&r](const char* name, Fill fill) {
        r.def(
            name,
            [fill](std::int64_t n, std::uint64_t seed, std::uint32_t step, int n_threads) {
                if (n < 0) throw mlsci::InvalidArgument("n must be >= 0");
                CArray<double> out(n);
                double* o = out.mutable_data();
                {
                    py::gil_scoped_release nogil;
                    fill(seed, step, o, n, n_threads);
                }
                return out;
            },
            py::arg("n"), py::arg("seed"), py::arg("step"), py::arg("n_threads"),
            "internal; see mlsci_fast.random");
    };
    def_fill("uniform", &mlsci::fill_uniform);
    def_fill("normal", &mlsci::fill_normal);
    r.def(
        "spins",
        [](std::int64_t n, std::uint64_t seed, std::uint32_t step, int n_threads) {
            if (n < 0) throw mlsci::InvalidArgument("n must be >= 0");
            CArray<std::int8_t> out(n);
            std::int8_t* o = out.mutable_data();
            {
                py::gil_scoped_release nogil;
                mlsci::fill_spins(seed, step, o, n, n_threads);
            }
            return out;
        },
        py::arg("n"), py::arg("seed"), py::arg("step"), py::arg("n_threads"),
        "internal; +1 where uniform(n, seed, step) < 0.5, else -1 (a random Ising start)");
}
