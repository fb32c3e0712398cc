// Bindings for the SVM family: kernel matrices and distances (the SMO solver comes next).
#include "bind_util.hpp"
#include "mlsci/svm/kernels.hpp"

namespace py = pybind11;
using mlsci::bind::CArray;
using mlsci::bind::matrix_view;

void bind_svm(py::module_& m) {
    auto s = m.def_submodule("svm", "internal; see mlsci_fast.svm and mlsci_fast.pairwise");

    py::enum_<mlsci::svm::KernelType>(s, "KernelType")
        .value("linear", mlsci::svm::KernelType::Linear)
        .value("poly", mlsci::svm::KernelType::Poly)
        .value("rbf", mlsci::svm::KernelType::Rbf)
        .value("sigmoid", mlsci::svm::KernelType::Sigmoid);

    s.def(
        "gram_matrix",
        [](const CArray<double>& x, const CArray<double>& y, mlsci::svm::KernelType kernel, double gamma,
           double coef0, double degree, bool symmetric, int n_threads) {
            const auto X = matrix_view(x, "X");
            const auto Y = matrix_view(y, "Y");
            CArray<double> out({X.rows(), Y.rows()});
            double* o = out.mutable_data();
            {
                py::gil_scoped_release nogil;
                mlsci::svm::gram_matrix(X, Y, {kernel, gamma, coef0, degree}, symmetric, o, n_threads);
            }
            return out;
        },
        py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("kernel"), py::arg("gamma"),
        py::arg("coef0"), py::arg("degree"), py::arg("symmetric"), py::arg("n_threads"),
        "internal; see mlsci_fast.pairwise");

    s.def(
        "euclidean_distances",
        [](const CArray<double>& x, const CArray<double>& y, bool squared, bool symmetric, int n_threads) {
            const auto X = matrix_view(x, "X");
            const auto Y = matrix_view(y, "Y");
            CArray<double> out({X.rows(), Y.rows()});
            double* o = out.mutable_data();
            {
                py::gil_scoped_release nogil;
                mlsci::svm::euclidean_distances(X, Y, squared, symmetric, o, n_threads);
            }
            return out;
        },
        py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("squared"), py::arg("symmetric"),
        py::arg("n_threads"), "internal; see mlsci_fast.pairwise.euclidean_distances");
}
