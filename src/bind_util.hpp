// Helpers shared by the bind_<family>.cpp files: array types that refuse (never copy) input
// Python has not already converted, and zero-copy Eigen views of them.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "mlsci/common/error.hpp"
#include "mlsci/common/views.hpp"

namespace mlsci::bind {

namespace py = pybind11;

// Used with py::arg(...).noconvert(): a float32, F-order or strided array raises TypeError
// instead of being silently copied (the Python layer converts once, in _validation.py).
template <class T>
using CArray = py::array_t<T, py::array::c_style>;

inline ConstMatrixView matrix_view(const CArray<double>& a, const char* name) {
    if (a.ndim() != 2)
        throw InvalidArgument(std::string(name) + " must be 2-D, got " + std::to_string(a.ndim()) + "-D");
    return {a.data(), a.shape(0), a.shape(1)};
}

}  // namespace mlsci::bind

void bind_common(pybind11::module_& m);
void bind_svm(pybind11::module_& m);
