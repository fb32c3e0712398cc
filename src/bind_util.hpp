// Helpers shared by the bind_<family>.cpp files: array types that refuse (never copy) input
// Python has not already converted, and zero-copy Eigen views of them.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "mlsci/common/error.hpp"
#include "mlsci/common/interrupt.hpp"
#include "mlsci/common/views.hpp"

namespace mlsci::bind {

namespace py = pybind11;

// Used with py::arg(...).noconvert(): a float32, F-order or strided array raises TypeError
// instead of being silently copied (the Python layer converts once, in _validation.py).
template <class T>
using CArray = py::array_t<T, py::array::c_style>;

// A stop callback for long kernels: takes the GIL briefly and runs Python's signal handlers, so
// Ctrl-C stops the kernel (it then throws mlsci::Interrupted; see rethrow_interrupt).
inline StopCheck python_signals() {
    return [] {
        py::gil_scoped_acquire gil;
        return PyErr_CheckSignals() != 0;
    };
}

// A stop callback for kernels that stop cleanly and report how far they got: like
// python_signals, but the pending exception is cleared, and the Python layer decides what
// to do (return the partial result, raise KeyboardInterrupt itself).
inline StopCheck python_signals_cleared() {
    return [] {
        py::gil_scoped_acquire gil;
        if (PyErr_CheckSignals() == 0) return false;
        PyErr_Clear();
        return true;
    };
}

// Runs a kernel call with the GIL released; if it was interrupted, re-raises the Python
// exception the signal handler left (KeyboardInterrupt for Ctrl-C).
template <class Call>
auto run_interruptible(Call&& call) {
    try {
        py::gil_scoped_release nogil;
        return call();
    } catch (const Interrupted&) {
        throw py::error_already_set();
    }
}

inline ConstMatrixView matrix_view(const CArray<double>& a, const char* name) {
    if (a.ndim() != 2)
        throw InvalidArgument(std::string(name) + " must be 2-D, got " + std::to_string(a.ndim()) + "-D");
    return {a.data(), a.shape(0), a.shape(1)};
}

}  // namespace mlsci::bind

void bind_common(pybind11::module_& m);
void bind_conv(pybind11::module_& m);
void bind_forcefield(pybind11::module_& m);
void bind_ga(pybind11::module_& m);
void bind_ising(pybind11::module_& m);
void bind_mcmc(pybind11::module_& m);
void bind_rbm(pybind11::module_& m);
void bind_svm(pybind11::module_& m);
void bind_tree(pybind11::module_& m);
