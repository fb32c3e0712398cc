// Bindings for 2-D convolution: forward, backward-data and backward-weights on float32 and
// float64 NCHW arrays. The Python layer (mlsci_fast.conv) normalises stride/padding/dilation.
#include <pybind11/stl.h>

#include <array>
#include <optional>

#include "bind_util.hpp"
#include "mlsci/conv/conv2d.hpp"

namespace py = pybind11;
using mlsci::bind::CArray;
using mlsci::conv::idx;
using mlsci::conv::Shape;

namespace {

using Pair = std::array<idx, 2>;
using Quad = std::array<idx, 4>;  // top, bottom, left, right

Shape make_shape(const std::array<py::ssize_t, 4>& x, py::ssize_t c_out, py::ssize_t kh, py::ssize_t kw,
                 const Pair& stride, const Quad& pad, const Pair& dil, idx groups) {
    Shape s;
    s.n = x[0];
    s.c_in = x[1];
    s.h = x[2];
    s.w = x[3];
    s.c_out = c_out;
    s.kh = kh;
    s.kw = kw;
    s.stride_h = stride[0];
    s.stride_w = stride[1];
    s.pad_top = pad[0];
    s.pad_bottom = pad[1];
    s.pad_left = pad[2];
    s.pad_right = pad[3];
    s.dil_h = dil[0];
    s.dil_w = dil[1];
    s.groups = groups;
    return s;
}

void require_ndim(const py::array& a, const char* name) {
    if (a.ndim() != 4)
        throw mlsci::InvalidArgument(std::string(name) + " must be 4-D, got " + std::to_string(a.ndim()) + "-D");
}

void require_channels(const Shape& s, py::ssize_t w_cin) {
    if (s.groups <= 0 || s.c_in != w_cin * s.groups)
        throw mlsci::InvalidArgument("expected input with " + std::to_string(w_cin * s.groups) +
                                     " channels (weight has " + std::to_string(w_cin) + " per group x " +
                                     std::to_string(s.groups) + " groups), got " + std::to_string(s.c_in) +
                                     " channels");
}

template <class T>
void def_conv(py::module_& c) {
    c.def(
        "forward",
        [](const CArray<T>& x, const CArray<T>& w, std::optional<CArray<T>> bias, Pair stride, Quad pad, Pair dil,
           idx groups, int n_threads) {
            require_ndim(x, "input");
            require_ndim(w, "weight");
            const Shape s = make_shape({x.shape(0), x.shape(1), x.shape(2), x.shape(3)}, w.shape(0), w.shape(2),
                                       w.shape(3), stride, pad, dil, groups);
            require_channels(s, w.shape(1));
            mlsci::conv::validate(s, "conv2d");
            if (bias && (bias->ndim() != 1 || bias->shape(0) != s.c_out))
                throw mlsci::InvalidArgument("bias must have shape (" + std::to_string(s.c_out) + ",)");
            CArray<T> y({s.n, s.c_out, s.h_out(), s.w_out()});
            T* yp = y.mutable_data();
            const T* bp = bias ? bias->data() : nullptr;
            py::gil_scoped_release nogil;
            mlsci::conv::forward(s, x.data(), w.data(), bp, yp, n_threads);
            return y;
        },
        py::arg("x").noconvert(), py::arg("w").noconvert(), py::arg("bias").noconvert(), py::arg("stride"),
        py::arg("padding"), py::arg("dilation"), py::arg("groups"), py::arg("n_threads"),
        "internal; see mlsci_fast.conv.conv2d");

    c.def(
        "backward_data",
        [](const CArray<T>& gy, const CArray<T>& w, Pair input_hw, Pair stride, Quad pad, Pair dil, idx groups,
           int n_threads) {
            require_ndim(gy, "grad_output");
            require_ndim(w, "weight");
            const Shape s = make_shape({gy.shape(0), w.shape(1) * groups, input_hw[0], input_hw[1]}, w.shape(0),
                                       w.shape(2), w.shape(3), stride, pad, dil, groups);
            mlsci::conv::validate(s, "conv2d_backward_data");
            if (gy.shape(1) != s.c_out || gy.shape(2) != s.h_out() || gy.shape(3) != s.w_out())
                throw mlsci::InvalidArgument("grad_output has the wrong shape for this convolution");
            CArray<T> gx({s.n, s.c_in, s.h, s.w});
            T* gp = gx.mutable_data();
            py::gil_scoped_release nogil;
            mlsci::conv::backward_data(s, gy.data(), w.data(), gp, n_threads);
            return gx;
        },
        py::arg("grad_output").noconvert(), py::arg("w").noconvert(), py::arg("input_hw"), py::arg("stride"),
        py::arg("padding"), py::arg("dilation"), py::arg("groups"), py::arg("n_threads"),
        "internal; see mlsci_fast.conv.conv2d_backward_data");

    c.def(
        "backward_weights",
        [](const CArray<T>& x, const CArray<T>& gy, Pair kernel_hw, Pair stride, Quad pad, Pair dil, idx groups,
           bool with_bias, int n_threads) {
            require_ndim(x, "input");
            require_ndim(gy, "grad_output");
            const Shape s = make_shape({x.shape(0), x.shape(1), x.shape(2), x.shape(3)}, gy.shape(1), kernel_hw[0],
                                       kernel_hw[1], stride, pad, dil, groups);
            mlsci::conv::validate(s, "conv2d_backward_weights");
            if (gy.shape(0) != s.n || gy.shape(2) != s.h_out() || gy.shape(3) != s.w_out())
                throw mlsci::InvalidArgument("grad_output has the wrong shape for this convolution");
            CArray<T> gw({s.c_out, s.c_in / s.groups, s.kh, s.kw});
            std::optional<CArray<T>> gb;
            if (with_bias) gb.emplace(s.c_out);
            T* gwp = gw.mutable_data();
            T* gbp = gb ? gb->mutable_data() : nullptr;
            {
                py::gil_scoped_release nogil;
                mlsci::conv::backward_weights(s, x.data(), gy.data(), gwp, gbp, n_threads);
            }
            return py::make_tuple(gw, gb ? py::object(*gb) : py::object(py::none()));
        },
        py::arg("x").noconvert(), py::arg("grad_output").noconvert(), py::arg("kernel_hw"), py::arg("stride"),
        py::arg("padding"), py::arg("dilation"), py::arg("groups"), py::arg("with_bias"), py::arg("n_threads"),
        "internal; see mlsci_fast.conv.conv2d_backward_weights");
}

}  // namespace

void bind_conv(py::module_& m) {
    auto c = m.def_submodule("conv", "internal; see mlsci_fast.conv");
    def_conv<float>(c);
    def_conv<double>(c);
}
