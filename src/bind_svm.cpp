// Bindings for the SVM family: kernel matrices, distances, the SMO solver, decision values.
#include "bind_util.hpp"
#include "mlsci/svm/kernels.hpp"
#include "mlsci/svm/smo.hpp"

namespace py = pybind11;
using mlsci::bind::CArray;
using mlsci::bind::matrix_view;

void bind_svm(py::module_& m) {
    auto s = m.def_submodule("svm", "internal; see mlsci_fast.svm and mlsci_fast.pairwise");

    py::enum_<mlsci::svm::KernelType>(s, "KernelType")
        .value("linear", mlsci::svm::KernelType::Linear)
        .value("poly", mlsci::svm::KernelType::Poly)
        .value("rbf", mlsci::svm::KernelType::Rbf)
        .value("sigmoid", mlsci::svm::KernelType::Sigmoid)
        .value("precomputed", mlsci::svm::KernelType::Precomputed);

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
                mlsci::svm::gram_matrix(X, Y, {kernel, gamma, coef0, degree}, symmetric, o, Y.rows(), n_threads);
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

    py::enum_<mlsci::svm::Problem>(s, "Problem")
        .value("c_svc", mlsci::svm::Problem::CSvc)
        .value("one_class", mlsci::svm::Problem::OneClass)
        .value("epsilon_svr", mlsci::svm::Problem::EpsilonSvr);

    s.def(
        "smo_solve",
        [](mlsci::svm::Problem problem, const CArray<double>& x, const CArray<double>& target,
           const CArray<double>& upper, double nu, double epsilon, mlsci::svm::KernelType kernel, double gamma,
           double coef0, double degree, double tol, std::int64_t max_iter, bool shrinking, double cache_size,
           int n_threads, const py::object& progress) {
            const auto X = matrix_view(x, "X");
            if (target.ndim() != 1 || target.shape(0) != X.rows() || upper.ndim() != 1 || upper.shape(0) != X.rows())
                throw mlsci::InvalidArgument("smo_solve: target and upper must be 1-D with one entry per sample");
            mlsci::svm::SmoParams params;
            params.tol = tol;
            params.max_iter = max_iter;
            params.shrinking = shrinking;
            params.cache_bytes = cache_size * 1e6;
            params.n_threads = n_threads;
            params.stop = mlsci::bind::python_signals();
            if (!progress.is_none())
                params.progress = [&progress](double gap, std::int64_t iter) {
                    py::gil_scoped_acquire gil;
                    progress(gap, iter);
                };
            const mlsci::svm::SmoResult r = mlsci::bind::run_interruptible([&] {
                return mlsci::svm::smo_solve(problem, X, target.data(), upper.data(), nu, epsilon,
                                             {kernel, gamma, coef0, degree}, params);
            });
            py::dict out;
            out["coef"] = CArray<double>(static_cast<py::ssize_t>(r.coef.size()), r.coef.data());
            out["rho"] = r.rho;
            out["objective"] = r.objective;
            out["n_iter"] = r.n_iter;
            out["status"] = r.status;
            out["full_kernel"] = r.full_kernel;
            out["kernel_rows"] = r.kernel_rows;
            return out;
        },
        py::arg("problem"), py::arg("X").noconvert(), py::arg("target").noconvert(), py::arg("upper").noconvert(),
        py::arg("nu"), py::arg("epsilon"), py::arg("kernel"), py::arg("gamma"), py::arg("coef0"), py::arg("degree"),
        py::arg("tol"), py::arg("max_iter"), py::arg("shrinking"), py::arg("cache_size"), py::arg("n_threads"),
        py::arg("progress") = py::none(), "internal; see mlsci_fast.svm");

    s.def(
        "decision_function",
        [](const CArray<double>& x, const CArray<double>& sv, const CArray<double>& coef,
           const CArray<double>& intercept, mlsci::svm::KernelType kernel, double gamma, double coef0,
           double degree, int n_threads) {
            const auto X = matrix_view(x, "X");
            const auto SV = matrix_view(sv, "SV");
            const auto A = matrix_view(coef, "coef");
            if (intercept.ndim() != 1 || intercept.shape(0) != A.cols())
                throw mlsci::InvalidArgument("decision_function: intercept must have one entry per column of coef");
            CArray<double> out({X.rows(), A.cols()});
            double* o = out.mutable_data();
            {
                py::gil_scoped_release nogil;
                mlsci::svm::decision_function(X, SV, A, intercept.data(), {kernel, gamma, coef0, degree}, o,
                                              n_threads);
            }
            return out;
        },
        py::arg("X").noconvert(), py::arg("SV").noconvert(), py::arg("coef").noconvert(),
        py::arg("intercept").noconvert(), py::arg("kernel"), py::arg("gamma"), py::arg("coef0"), py::arg("degree"),
        py::arg("n_threads"), "internal; see mlsci_fast.svm");
}
