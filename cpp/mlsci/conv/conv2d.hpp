// 2-D convolution (cross-correlation, torch's semantics) on NCHW arrays: forward, backward-data
// and backward-weights as packed GEMMs (Goto & van de Geijn 2008) with im2col fused into packing.
#pragma once

#include <cstdint>

namespace mlsci::conv {

using idx = std::int64_t;

// Everything that fixes the arithmetic of one convolution. Input (n, c_in, h, w); weight
// (c_out, c_in / groups, kh, kw); output (n, c_out, h_out(), w_out()). Zero padding may differ on
// the two sides (torch's padding='same' with an even kernel pads one more on the bottom/right).
struct Shape {
    idx n = 0, c_in = 0, h = 0, w = 0;
    idx c_out = 0, kh = 0, kw = 0;
    idx stride_h = 1, stride_w = 1;
    idx pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
    idx dil_h = 1, dil_w = 1;
    idx groups = 1;

    idx h_out() const { return (h + pad_top + pad_bottom - dil_h * (kh - 1) - 1) / stride_h + 1; }
    idx w_out() const { return (w + pad_left + pad_right - dil_w * (kw - 1) - 1) / stride_w + 1; }
    idx weight_size() const { return c_out * (c_in / groups) * kh * kw; }
};

// Throws InvalidArgument (message starting with `where`) unless the shape describes a valid
// convolution: positive sizes, strides and dilations, non-negative padding, channels divisible
// by groups, and a kernel that fits in the padded input.
void validate(const Shape& s, const char* where);

// y = conv(x, w) + bias; bias may be null. y is overwritten.
template <class T>
void forward(const Shape& s, const T* x, const T* w, const T* bias, T* y, int n_threads);

// gx = dL/dx given gy = dL/dy. gx is overwritten.
template <class T>
void backward_data(const Shape& s, const T* gy, const T* w, T* gx, int n_threads);

// gw = dL/dw (and gbias = dL/dbias when not null) given x and gy. Both are overwritten. The sums
// over the batch run in a fixed order, so the result does not depend on the thread count.
template <class T>
void backward_weights(const Shape& s, const T* x, const T* gy, T* gw, T* gbias, int n_threads);

}  // namespace mlsci::conv
