// Bindings for the restricted Boltzmann machine: one training epoch, and block Gibbs sampling.
// Both update their arrays in place.
#include "bind_util.hpp"
#include "mlsci/rbm/rbm.hpp"

namespace py = pybind11;
using mlsci::bind::CArray;
using mlsci::rbm::idx;

namespace {

mlsci::rbm::Model model_of(CArray<double>& W, CArray<double>& bh, CArray<double>& bv, const char* where) {
    if (W.ndim() != 2 || bh.ndim() != 1 || bv.ndim() != 1 || bh.shape(0) != W.shape(0) || bv.shape(0) != W.shape(1))
        throw mlsci::InvalidArgument(std::string(where) + ": W (h, v), b_hidden (h,) and b_visible (v,) do not match");
    return {W.mutable_data(), bh.mutable_data(), bv.mutable_data(), W.shape(0), W.shape(1)};
}

}  // namespace

void bind_rbm(py::module_& m) {
    auto s = m.def_submodule("rbm", "internal; see mlsci_fast.rbm");

    s.def(
        "train_epoch",
        [](CArray<double>& W, CArray<double>& bh, CArray<double>& bv, CArray<double>& chain, CArray<double>& vel_W,
           CArray<double>& vel_bh, CArray<double>& vel_bv, const CArray<double>& X, const CArray<idx>& order,
           double learning_rate, idx batch_size, int k, bool persistent, double momentum, double weight_decay,
           std::uint64_t seed, std::uint32_t epoch) {
            const char* where = "rbm.train_epoch";
            auto model = model_of(W, bh, bv, where);
            if (X.ndim() != 2 || X.shape(1) != model.n_visible)
                throw mlsci::InvalidArgument("rbm.train_epoch: X must have n_visible columns");
            if (chain.ndim() != 2 || chain.shape(0) != batch_size || chain.shape(1) != model.n_hidden ||
                vel_W.size() != W.size() || vel_bh.size() != bh.size() || vel_bv.size() != bv.size())
                throw mlsci::InvalidArgument("rbm.train_epoch: optimiser state has the wrong shape");
            const idx n = order.size();
            const idx* o = order.data();
            for (idx i = 0; i < n; ++i)
                if (o[i] < 0 || o[i] >= X.shape(0)) throw mlsci::InvalidArgument("rbm.train_epoch: order out of range");
            mlsci::rbm::TrainConfig cfg;
            cfg.learning_rate = learning_rate;
            cfg.batch_size = batch_size;
            cfg.k = k;
            cfg.persistent = persistent;
            cfg.momentum = momentum;
            cfg.weight_decay = weight_decay;
            cfg.seed = seed;
            mlsci::rbm::State st{chain.mutable_data(), vel_W.mutable_data(), vel_bh.mutable_data(),
                                 vel_bv.mutable_data()};
            const double* x = X.data();
            py::gil_scoped_release nogil;
            mlsci::rbm::train_epoch(model, st, x, o, n, cfg, epoch);
        },
        py::arg("W").noconvert(), py::arg("b_hidden").noconvert(), py::arg("b_visible").noconvert(),
        py::arg("chain").noconvert(), py::arg("vel_W").noconvert(), py::arg("vel_bh").noconvert(),
        py::arg("vel_bv").noconvert(), py::arg("X").noconvert(), py::arg("order").noconvert(),
        py::arg("learning_rate"), py::arg("batch_size"), py::arg("k"), py::arg("persistent"), py::arg("momentum"),
        py::arg("weight_decay"), py::arg("seed"), py::arg("epoch"));

    s.def(
        "gibbs",
        [](CArray<double>& W, CArray<double>& bh, CArray<double>& bv, CArray<double>& v, int n_steps, std::uint64_t seed,
           std::uint32_t step0, int n_threads) {
            auto model = model_of(W, bh, bv, "rbm.gibbs");
            if (v.ndim() != 2 || v.shape(1) != model.n_visible)
                throw mlsci::InvalidArgument("rbm.gibbs: v must have n_visible columns");
            double* vp = v.mutable_data();
            const idx n = v.shape(0);
            py::gil_scoped_release nogil;
            mlsci::rbm::gibbs(model, vp, n, n_steps, seed, step0, n_threads);
        },
        py::arg("W").noconvert(), py::arg("b_hidden").noconvert(), py::arg("b_visible").noconvert(),
        py::arg("v").noconvert(), py::arg("n_steps"), py::arg("seed"), py::arg("step0"), py::arg("n_threads"));
}
