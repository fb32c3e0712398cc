// Convolution as three packed GEMMs (Goto & van de Geijn, ACM TOMS 34(3), 2008), one register-
// blocked micro-kernel for all of them:
//   forward            y[co, p]   = sum_k  W[co, k] * col[k, p]      (col = im2col(x), never stored whole)
//   backward-data      col'[k, p] = sum_co W[co, k] * gy[co, p]      then scattered back onto gx (col2im)
//   backward-weights   gW[co, k]  = sum_p  gy[co, p] * col[k, p]
// k runs over (input channel, ky, kx) of one group and p over output pixels. The packing routines
// gather straight from the NCHW arrays (the im2col step is fused into them), so the only scratch
// is one L1/L2-sized block per thread, kept between calls.
//
// Determinism: every output element is summed by one thread in a fixed order. Backward-data
// splits each image into bands of output rows whose input footprints overlap only with their
// neighbours; even bands run first, then odd bands. Backward-weights splits the batch into a
// number of chunks that depends only on the shape and adds the chunks' partial sums in order.
#include "mlsci/conv/conv2d.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "mlsci/common/error.hpp"
#include "mlsci/common/parallel.hpp"

namespace mlsci::conv {

namespace {

// ---- the micro-kernel -----------------------------------------------------------------------
// kMR rows x kNV vectors of accumulators stay in registers: 8 x 3 zmm of the 32 AVX-512 has,
// 4 x 3 ymm of AVX2's 16 (the B loads and one broadcast take the rest).
#if defined(__AVX512F__)
constexpr int kVecBytes = 64;
constexpr int kMR = 8;
#elif defined(__AVX__)
constexpr int kVecBytes = 32;
constexpr int kMR = 4;
#else
constexpr int kVecBytes = 16;
constexpr int kMR = 4;
#endif
constexpr int kNV = 3;

template <class T>
struct VecOf;
template <>
struct VecOf<float> {
    typedef float type __attribute__((vector_size(kVecBytes)));
};
template <>
struct VecOf<double> {
    typedef double type __attribute__((vector_size(kVecBytes)));
};
template <class T>
using Vec = typename VecOf<T>::type;
template <class T>
constexpr int kLanes = kVecBytes / static_cast<int>(sizeof(T));
template <class T>
constexpr int kNR = kNV * kLanes<T>;
// The depth of one packed block: a B micro-panel (kKC x kNR) stays in a 32 KiB L1.
constexpr idx kKC = 24576 / (kNV * kVecBytes);

// c[i, j] (+)= sum_k a(k, i) * b[k, j] for an MR x (NV vectors) tile; b is a packed panel
// (b[k * NV * lanes + j]), a is either a packed panel (a[k * MR + i], a_rows = false) or MR rows of
// a row-major matrix (a[i * lda + k], a_rows = true: broadcasts need no contiguous A).
template <class T, int MR, int NV, bool a_rows>
inline __attribute__((always_inline)) void micro_kernel(idx kc, const T* __restrict a, idx lda,
                                                       const T* __restrict b, T* __restrict c, idx ldc,
                                                       bool accumulate) {
    using V = Vec<T>;
    constexpr int W = kLanes<T>;
    V acc[MR][NV];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) acc[i][j] = V{};
    for (idx k = 0; k < kc; ++k) {
        V bv[NV];
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) std::memcpy(&bv[j], b + j * W, sizeof(V));
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
            const T ai = a_rows ? a[i * lda + k] : a[k * MR + i];
#pragma GCC unroll 4
            for (int j = 0; j < NV; ++j) acc[i][j] += ai * bv[j];
        }
        b += NV * W;
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) {
            T* cp = c + i * ldc + j * W;
            if (accumulate) {
                V old;
                std::memcpy(&old, cp, sizeof(V));
                acc[i][j] += old;
            }
            std::memcpy(cp, &acc[i][j], sizeof(V));
        }
}

template <class T>
inline __attribute__((always_inline)) void micro_kernel(idx kc, const T* __restrict a, const T* __restrict b,
                                                       T* __restrict c, idx ldc, bool accumulate) {
    micro_kernel<T, kMR, kNV, false>(kc, a, 0, b, c, ldc, accumulate);
}

// ---- per-thread scratch, kept between calls --------------------------------------------------
template <class T>
class Scratch {
public:
    Scratch() = default;
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    ~Scratch() { std::free(data_); }
    T* get(idx n) {
        if (n > cap_) {
            std::free(data_);
            data_ = nullptr;
            const auto bytes = (static_cast<std::size_t>(n) * sizeof(T) + 63) / 64 * 64;
            data_ = static_cast<T*>(std::aligned_alloc(64, bytes));
            if (data_ == nullptr) throw std::bad_alloc();
            cap_ = n;
        }
        return data_;
    }

private:
    T* data_ = nullptr;
    idx cap_ = 0;
};

template <class T>
T* scratch(int slot, idx n) {
    thread_local Scratch<T> buffers[3];
    return buffers[slot].get(n);
}

idx round_up(idx a, idx b) { return (a + b - 1) / b * b; }
idx ceil_div(idx a, idx b) { return (a + b - 1) / b; }

// ---- geometry --------------------------------------------------------------------------------
struct Geometry {
    idx ho, wo, hw_in, hw_out, cg_in, cg_out, khw, kdim;
    explicit Geometry(const Shape& s)
        : ho(s.h_out()),
          wo(s.w_out()),
          hw_in(s.h * s.w),
          hw_out(ho * wo),
          cg_in(s.c_in / s.groups),
          cg_out(s.c_out / s.groups),
          khw(s.kh * s.kw),
          kdim(cg_in * s.kh * s.kw) {}
};

// A run of output pixels within one output row: pixels dst .. dst+len of a block are
// (oy, ox0 .. ox0+len).
struct Segment {
    idx dst, len, oy, ox0;
};

void segments_of(const Geometry& g, idx p_begin, idx p_end, std::vector<Segment>& out) {
    out.clear();
    idx p = p_begin;
    while (p < p_end) {
        const idx oy = p / g.wo, ox = p % g.wo;
        const idx len = std::min(g.wo - ox, p_end - p);
        out.push_back({p - p_begin, len, oy, ox});
        p += len;
    }
}

// The part of a segment whose input column lies inside the image, for tap column kx:
// t in [lo, hi) has ix = ix0 + t * stride_w in [0, w). Empty when the input row is padding.
struct Span {
    idx iy, ix0, lo, hi;
};

inline __attribute__((always_inline)) Span span_of(const Shape& s, const Segment& seg, idx ky, idx kx) {
    Span sp{seg.oy * s.stride_h + ky * s.dil_h - s.pad_top, seg.ox0 * s.stride_w + kx * s.dil_w - s.pad_left, 0, 0};
    if (sp.iy < 0 || sp.iy >= s.h) return sp;
    if (s.stride_w == 1) {
        sp.lo = std::min(seg.len, std::max<idx>(0, -sp.ix0));
        sp.hi = std::max(sp.lo, std::min(seg.len, s.w - sp.ix0));
        return sp;
    }
    const idx sw = s.stride_w;
    sp.lo = sp.ix0 >= 0 ? 0 : ceil_div(-sp.ix0, sw);
    sp.hi = sp.ix0 > s.w - 1 ? 0 : std::min(seg.len, (s.w - 1 - sp.ix0) / sw + 1);
    sp.lo = std::min(sp.lo, seg.len);
    if (sp.hi < sp.lo) sp.hi = sp.lo;
    return sp;
}

// dst[0 .. seg.len) = the input values that tap (ky, kx) sees for the segment's pixels. Pieces
// are short (at most one panel), so plain loops beat memcpy's call overhead.
template <class T>
inline __attribute__((always_inline)) void gather(const Shape& s, const T* plane, const Segment& seg, idx ky, idx kx,
                                                  T* __restrict dst) {
    const Span sp = span_of(s, seg, ky, kx);
    for (idx t = 0; t < sp.lo; ++t) dst[t] = T(0);
    const T* __restrict row = plane + sp.iy * s.w + sp.ix0;
    if (s.stride_w == 1) {
        for (idx t = sp.lo; t < sp.hi; ++t) dst[t] = row[t];
    } else if (s.stride_w == 2) {  // a compile-time stride vectorises (loads and a permute)
        for (idx t = sp.lo; t < sp.hi; ++t) dst[t] = row[2 * t];
    } else {
        for (idx t = sp.lo; t < sp.hi; ++t) dst[t] = row[t * s.stride_w];
    }
    for (idx t = sp.hi; t < seg.len; ++t) dst[t] = T(0);
}

// The adjoint of gather: plane[...] += src[t] for the segment's pixels.
template <class T>
void scatter_add(const Shape& s, T* plane, const Segment& seg, idx ky, idx kx, const T* src) {
    const Span sp = span_of(s, seg, ky, kx);
    if (sp.hi <= sp.lo) return;
    T* row = plane + sp.iy * s.w + sp.ix0;
    if (s.stride_w == 1) {
        for (idx t = sp.lo; t < sp.hi; ++t) row[t] += src[t];
    } else {
        for (idx t = sp.lo; t < sp.hi; ++t) row[t * s.stride_w] += src[t];
    }
}

// Packs rows [k0, k0 + kc) of an (m x kdim) row-major matrix, transposed, into kMR-row panels:
// out[ir][k][i] = a[(ir * kMR + i) * lda + k0 + k], zero past m.
template <class T>
void pack_rows_as_a(const T* a, idx m, idx lda, idx k0, idx kc, T* out) {
    for (idx r0 = 0; r0 < m; r0 += kMR) {
        for (idx k = 0; k < kc; ++k)
            for (int i = 0; i < kMR; ++i) out[k * kMR + i] = r0 + i < m ? a[(r0 + i) * lda + k0 + k] : T(0);
        out += kc * kMR;
    }
}

// The weights of one group for the forward GEMM: A[co, k] = W[co, k], all k-blocks, packed once.
// Layout: block at k0 starts at k0 * round_up(cg_out, kMR).
template <class T>
std::vector<T> pack_weights_forward(const Geometry& g, const T* wg) {
    const idx mpad = round_up(g.cg_out, kMR);
    std::vector<T> out(static_cast<std::size_t>(mpad * g.kdim));
    for (idx k0 = 0; k0 < g.kdim; k0 += kKC)
        pack_rows_as_a(wg, g.cg_out, g.kdim, k0, std::min(kKC, g.kdim - k0), out.data() + k0 * mpad);
    return out;
}

// The weights of one group for backward-data: A[k, co] = W[co, k], packed in kMR-row panels over
// k, each holding all of co (blocked by kKC: block at c0 starts at c0 * round_up(kdim, kMR)).
template <class T>
std::vector<T> pack_weights_backward(const Geometry& g, const T* wg) {
    const idx mpad = round_up(g.kdim, kMR);
    std::vector<T> out(static_cast<std::size_t>(mpad * g.cg_out));
    for (idx c0 = 0; c0 < g.cg_out; c0 += kKC) {
        const idx cc = std::min(kKC, g.cg_out - c0);
        T* blk = out.data() + c0 * mpad;
        for (idx r0 = 0; r0 < g.kdim; r0 += kMR) {
            for (idx c = 0; c < cc; ++c)
                for (int i = 0; i < kMR; ++i)
                    blk[c * kMR + i] = r0 + i < g.kdim ? wg[(c0 + c) * g.kdim + r0 + i] : T(0);
            blk += cc * kMR;
        }
    }
    return out;
}

// Copies rows of a row-major (rows x ld) matrix, columns [0, n), into kNR-column panels of depth
// kc: out[jr][k][j] = src[k * ld + jr * kNR + j], zero past n.
template <class T>
void pack_b_rows(const T* src, idx ld, idx kc, idx n, T* out) {
    constexpr idx nr = kNR<T>;
    for (idx j0 = 0; j0 < n; j0 += nr) {
        const idx w = std::min(nr, n - j0);
        for (idx k = 0; k < kc; ++k) {
            T* o = out + k * nr;
            std::memcpy(o, src + k * ld + j0, static_cast<std::size_t>(w) * sizeof(T));
            std::fill(o + w, o + nr, T(0));
        }
        out += kc * nr;
    }
}

// ---- forward ---------------------------------------------------------------------------------
// A segment cut at panel boundaries: its pixels land in panel `panel` at columns off .. off+len.
struct Piece {
    Segment seg;
    idx panel, off;
};

void pieces_of(const std::vector<Segment>& segs, idx nr, std::vector<Piece>& out) {
    out.clear();
    for (const auto& seg : segs) {
        idx t = seg.dst;
        const idx end = seg.dst + seg.len;
        while (t < end) {
            const idx stop = std::min(end, (t / nr + 1) * nr);
            out.push_back({{0, stop - t, seg.oy, seg.ox0 + (t - seg.dst)}, t / nr, t % nr});
            t = stop;
        }
    }
}

template <class T>
void forward_block(const Shape& s, const Geometry& g, const T* x, const std::vector<std::vector<T>>& wpacked,
                   const T* bias, T* y, idx n, idx grp, idx p_begin, idx p_end) {
    constexpr idx nr = kNR<T>;
    const idx np = p_end - p_begin, npad = round_up(np, nr);
    const idx mpad = round_up(g.cg_out, kMR);
    thread_local std::vector<Segment> segs;
    thread_local std::vector<Piece> pieces;
    segments_of(g, p_begin, p_end, segs);
    pieces_of(segs, nr, pieces);
    T* bpack = scratch<T>(1, kKC * npad);
    T* tile = scratch<T>(2, kMR * nr);
    const T* xg = x + (n * s.c_in + grp * g.cg_in) * g.hw_in;
    T* yg = y + (n * s.c_out + grp * g.cg_out) * g.hw_out;
    const idx last = np / nr, tail = np % nr;
    for (idx k0 = 0; k0 < g.kdim; k0 += kKC) {
        const idx kc = std::min(kKC, g.kdim - k0);
        for (idx k = 0; k < kc; ++k) {
            const idx kk = k0 + k, ci = kk / g.khw, ky = (kk % g.khw) / s.kw, kx = kk % s.kw;
            const T* plane = xg + ci * g.hw_in;
            for (const auto& pc : pieces) gather(s, plane, pc.seg, ky, kx, bpack + pc.panel * kc * nr + k * nr + pc.off);
            if (tail > 0) std::fill_n(bpack + last * kc * nr + k * nr + tail, nr - tail, T(0));
        }
        const T* apack = wpacked[static_cast<std::size_t>(grp)].data() + k0 * mpad;
        for (idx j0 = 0; j0 < np; j0 += nr) {
            const T* bp = bpack + (j0 / nr) * kc * nr;
            const bool full_n = j0 + nr <= np;
            for (idx i0 = 0; i0 < g.cg_out; i0 += kMR) {
                const T* ap = apack + (i0 / kMR) * kc * kMR;
                T* c = yg + i0 * g.hw_out + p_begin + j0;
                if (full_n && i0 + kMR <= g.cg_out) {
                    micro_kernel(kc, ap, bp, c, g.hw_out, k0 > 0);
                } else {
                    const idx mi = std::min<idx>(kMR, g.cg_out - i0), nj = std::min(nr, np - j0);
                    micro_kernel(kc, ap, bp, tile, nr, false);
                    for (idx i = 0; i < mi; ++i)
                        for (idx j = 0; j < nj; ++j) {
                            T& dst = c[i * g.hw_out + j];
                            dst = k0 > 0 ? dst + tile[i * nr + j] : tile[i * nr + j];
                        }
                }
            }
        }
    }
    if (bias != nullptr) {
        for (idx co = 0; co < g.cg_out; ++co) {
            const T b = bias[grp * g.cg_out + co];
            T* row = yg + co * g.hw_out;
            for (idx p = p_begin; p < p_end; ++p) row[p] += b;
        }
    }
}

// The number of output pixels one work item covers: a multiple of the panel width whose packed
// block (kKC x pixels) stays in L2.
template <class T>
idx pixel_block() {
    return 8 * kNR<T>;
}

}  // namespace

void validate(const Shape& s, const char* where) {
    auto str = [](idx v) { return std::to_string(v); };
    require(s.n >= 0 && s.c_in > 0 && s.h > 0 && s.w > 0, where,
            "input must have positive channel and spatial sizes, got (" + str(s.n) + ", " + str(s.c_in) + ", " +
                str(s.h) + ", " + str(s.w) + ")");
    require(s.c_out > 0 && s.kh > 0 && s.kw > 0, where,
            "weight must have positive sizes, got (" + str(s.c_out) + ", _, " + str(s.kh) + ", " + str(s.kw) + ")");
    require(s.stride_h > 0 && s.stride_w > 0, where,
            "stride must be positive, got (" + str(s.stride_h) + ", " + str(s.stride_w) + ")");
    require(s.dil_h > 0 && s.dil_w > 0, where,
            "dilation must be positive, got (" + str(s.dil_h) + ", " + str(s.dil_w) + ")");
    require(s.pad_top >= 0 && s.pad_bottom >= 0 && s.pad_left >= 0 && s.pad_right >= 0, where,
            "padding must be non-negative");
    require(s.groups > 0, where, "groups must be positive, got " + str(s.groups));
    require(s.c_in % s.groups == 0, where,
            "in_channels (" + str(s.c_in) + ") must be divisible by groups (" + str(s.groups) + ")");
    require(s.c_out % s.groups == 0, where,
            "out_channels (" + str(s.c_out) + ") must be divisible by groups (" + str(s.groups) + ")");
    const idx eh = s.dil_h * (s.kh - 1) + 1, ew = s.dil_w * (s.kw - 1) + 1;
    const idx ph = s.h + s.pad_top + s.pad_bottom, pw = s.w + s.pad_left + s.pad_right;
    require(eh <= ph && ew <= pw, where,
            "padded input size per channel (" + str(ph) + " x " + str(pw) + ") is smaller than the (dilated) kernel (" +
                str(eh) + " x " + str(ew) + ")");
}

template <class T>
void forward(const Shape& s, const T* x, const T* w, const T* bias, T* y, int n_threads) {
    validate(s, "conv2d");
    const Geometry g(s);
    if (s.n == 0) return;
    std::vector<std::vector<T>> wpacked;
    for (idx grp = 0; grp < s.groups; ++grp) wpacked.push_back(pack_weights_forward(g, w + grp * g.cg_out * g.kdim));
    const idx pb = pixel_block<T>(), nblocks = ceil_div(g.hw_out, pb);
    const idx items = s.n * s.groups * nblocks;
    parallel_for(0, items, n_threads, [&](idx item) {
        const idx blk = item % nblocks, grp = (item / nblocks) % s.groups, n = item / (nblocks * s.groups);
        forward_block(s, g, x, wpacked, bias, y, n, grp, blk * pb, std::min(g.hw_out, (blk + 1) * pb));
    });
}

// ---- backward-data ---------------------------------------------------------------------------
namespace {

template <class T>
void backward_data_band(const Shape& s, const Geometry& g, const T* gy, const std::vector<std::vector<T>>& wpacked,
                        T* gx, idx n, idx grp, idx oy_begin, idx oy_end) {
    constexpr idx nr = kNR<T>;
    const idx mpad = round_up(g.kdim, kMR);
    // Pixels per GEMM: the col block (kdim x pixels) stays in L2.
    const idx pcap = std::max<idx>(nr, std::min<idx>(8 * nr, (262144 / static_cast<idx>(sizeof(T)) / mpad) / nr * nr));
    thread_local std::vector<Segment> segs;
    T* bpack = scratch<T>(1, std::min(kKC, g.cg_out) * pcap);
    T* col = scratch<T>(0, mpad * pcap);
    const T* gyg = gy + (n * s.c_out + grp * g.cg_out) * g.hw_out;
    T* gxg = gx + (n * s.c_in + grp * g.cg_in) * g.hw_in;
    for (idx p0 = oy_begin * g.wo; p0 < oy_end * g.wo; p0 += pcap) {
        const idx p1 = std::min(oy_end * g.wo, p0 + pcap), np = p1 - p0, npad = round_up(np, nr);
        for (idx c0 = 0; c0 < g.cg_out; c0 += kKC) {
            const idx cc = std::min(kKC, g.cg_out - c0);
            pack_b_rows(gyg + c0 * g.hw_out + p0, g.hw_out, cc, np, bpack);
            const T* apack = wpacked[static_cast<std::size_t>(grp)].data() + c0 * mpad;
            for (idx j0 = 0; j0 < np; j0 += nr)
                for (idx i0 = 0; i0 < g.kdim; i0 += kMR)
                    micro_kernel(cc, apack + (i0 / kMR) * cc * kMR, bpack + (j0 / nr) * cc * nr, col + i0 * npad + j0,
                                 npad, c0 > 0);
        }
        segments_of(g, p0, p1, segs);
        for (idx k = 0; k < g.kdim; ++k) {
            const idx ci = k / g.khw, ky = (k % g.khw) / s.kw, kx = k % s.kw;
            for (const auto& seg : segs) scatter_add(s, gxg + ci * g.hw_in, seg, ky, kx, col + k * npad + seg.dst);
        }
    }
}

}  // namespace

template <class T>
void backward_data(const Shape& s, const T* gy, const T* w, T* gx, int n_threads) {
    validate(s, "conv2d_backward_data");
    const Geometry g(s);
    if (s.n == 0) return;
    // With stride 1 the input gradient is itself a convolution: of gy with the kernel flipped in
    // space and transposed in channels, padded by dil * (k - 1) - pad. It then runs on the forward
    // path, which needs no scatter. (Larger padding than that would make this padding negative.)
    const idx eh = s.dil_h * (s.kh - 1), ew = s.dil_w * (s.kw - 1);
    if (s.stride_h == 1 && s.stride_w == 1 && s.pad_top <= eh && s.pad_bottom <= eh && s.pad_left <= ew &&
        s.pad_right <= ew) {
        Shape t = s;
        t.c_in = s.c_out;
        t.c_out = s.c_in;
        t.h = g.ho;
        t.w = g.wo;
        t.pad_top = eh - s.pad_top;
        t.pad_bottom = eh - s.pad_bottom;
        t.pad_left = ew - s.pad_left;
        t.pad_right = ew - s.pad_right;
        std::vector<T> wt(static_cast<std::size_t>(s.weight_size()));
        for (idx grp = 0; grp < s.groups; ++grp)
            for (idx co = 0; co < g.cg_out; ++co)
                for (idx ci = 0; ci < g.cg_in; ++ci)
                    for (idx ky = 0; ky < s.kh; ++ky)
                        for (idx kx = 0; kx < s.kw; ++kx)
                            wt[static_cast<std::size_t>((((grp * g.cg_in + ci) * g.cg_out + co) * s.kh + s.kh - 1 - ky) *
                                                            s.kw +
                                                        s.kw - 1 - kx)] =
                                w[(((grp * g.cg_out + co) * g.cg_in + ci) * s.kh + ky) * s.kw + kx];
        forward<T>(t, gy, wt.data(), nullptr, gx, n_threads);
        return;
    }
    parallel_for(0, s.n * s.c_in, n_threads, [&](idx i) { std::fill(gx + i * g.hw_in, gx + (i + 1) * g.hw_in, T(0)); });
    std::vector<std::vector<T>> wpacked;
    for (idx grp = 0; grp < s.groups; ++grp) wpacked.push_back(pack_weights_backward(g, w + grp * g.cg_out * g.kdim));
    // Bands of output rows. The input rows band b touches end before band b + 2's begin when
    // rows * stride > (kh - 1) * dil_h, so bands of one parity never write the same element.
    const idx min_rows = (s.dil_h * (s.kh - 1)) / s.stride_h + 1;
    const idx rows = std::max(min_rows, ceil_div(2048, g.wo));
    const idx nbands = ceil_div(g.ho, rows);
    for (idx parity = 0; parity < 2; ++parity) {
        const idx nb = parity == 0 ? ceil_div(nbands, 2) : nbands / 2;
        if (nb == 0) continue;
        parallel_for(0, s.n * s.groups * nb, n_threads, [&](idx item) {
            const idx b = 2 * (item % nb) + parity, grp = (item / nb) % s.groups, n = item / (nb * s.groups);
            backward_data_band(s, g, gy, wpacked, gx, n, grp, b * rows, std::min(g.ho, (b + 1) * rows));
        });
    }
}

// ---- backward-weights ------------------------------------------------------------------------
// Computed transposed, gW^T[k, co] = sum_p col[k, p] * gy[co, p]: the gathered col rows are the A
// operand as they are (the micro-kernel broadcasts from rows), and only gy, which is reused by
// every k, is transposed into panels. The panel width (2 or 3 vectors) is picked to waste the
// fewest columns on cg_out.
namespace {

template <class T, int MR, int NV>
struct WeightsKernel {
    static constexpr idx nr = NV * kLanes<T>;
    // Many rows per item: each item transposes its gy block once and reuses it for all its rows.
    static constexpr idx rows_per_item = 16 * MR;

    // Accumulates gW^T[grp][r0 .. r0 + nrows, :] over the flattened (image, pixel) range [f0, f1)
    // into cbuf (rows_per_item x round_up(cg_out, nr), zeroed by the caller).
    static void chunk(const Shape& s, const Geometry& g, const T* x, const T* gy, idx grp, idx r0, idx nrows,
                      idx f0, idx f1, T* cbuf) {
        const idx mpad = round_up(g.cg_out, nr);
        thread_local std::vector<Segment> segs;
        T* rows = scratch<T>(0, rows_per_item * kKC);
        T* bpack = scratch<T>(1, mpad * kKC);
        std::fill_n(rows, rows_per_item * kKC, T(0));
        idx f = f0;
        while (f < f1) {
            const idx n = f / g.hw_out, p0 = f % g.hw_out;
            const idx p1 = std::min({g.hw_out, p0 + kKC, p0 + (f1 - f)});
            const idx kc = p1 - p0;
            // B: gy^T panels, bpack[jr][p][j] = gy[co = jr * nr + j][p0 + p].
            const T* gyg = gy + (n * s.c_out + grp * g.cg_out) * g.hw_out + p0;
            for (idx j0 = 0; j0 < mpad; j0 += nr) {
                T* out = bpack + (j0 / nr) * kc * nr;
                for (idx j = 0; j < nr; ++j) {
                    if (j0 + j < g.cg_out) {
                        const T* src = gyg + (j0 + j) * g.hw_out;
                        for (idx p = 0; p < kc; ++p) out[p * nr + j] = src[p];
                    } else {
                        for (idx p = 0; p < kc; ++p) out[p * nr + j] = T(0);
                    }
                }
            }
            // A: the col rows of this item, rows[r][p] (lda = kKC).
            segments_of(g, p0, p1, segs);
            const T* xg = x + (n * s.c_in + grp * g.cg_in) * g.hw_in;
            for (idx r = 0; r < nrows; ++r) {
                const idx kk = r0 + r, ci = kk / g.khw, ky = (kk % g.khw) / s.kw, kx = kk % s.kw;
                for (const auto& seg : segs) gather(s, xg + ci * g.hw_in, seg, ky, kx, rows + r * kKC + seg.dst);
            }
            for (idx i0 = 0; i0 < nrows; i0 += MR)
                for (idx j0 = 0; j0 < mpad; j0 += nr)
                    micro_kernel<T, MR, NV, true>(kc, rows + i0 * kKC, kKC, bpack + (j0 / nr) * kc * nr,
                                                  cbuf + i0 * mpad + j0, mpad, true);
            f += kc;
        }
    }

    static void run(const Shape& s, const Geometry& g, const T* x, const T* gy, T* gw, int n_threads) {
        const idx wsize = s.weight_size();
        const idx nrb = ceil_div(g.kdim, rows_per_item);
        const idx total = s.n * g.hw_out;
        // Chunks of the batch: enough work items for any thread count, at least 1024 pixels each,
        // and at most 64 MiB of partial sums. Fixed by the shape, so the order of the sums is too.
        idx chunks = ceil_div(64, s.groups * nrb);
        chunks = std::min(chunks, std::max<idx>(1, total / 1024));
        chunks = std::min(chunks, std::max<idx>(1, (idx{64} << 20) / (wsize * static_cast<idx>(sizeof(T)))));
        std::vector<T> partial(chunks > 1 ? static_cast<std::size_t>(chunks * wsize) : 0);
        T* const dest0 = chunks > 1 ? partial.data() : gw;
        const idx mpad = round_up(g.cg_out, nr);
        parallel_for(0, chunks * s.groups * nrb, n_threads, [&](idx item) {
            const idx rb = item % nrb, grp = (item / nrb) % s.groups, ch = item / (nrb * s.groups);
            const idx r0 = rb * rows_per_item, nrows = std::min(rows_per_item, g.kdim - r0);
            T* cbuf = scratch<T>(2, rows_per_item * mpad);  // the item's sums, kept between calls
            std::fill_n(cbuf, rows_per_item * mpad, T(0));
            chunk(s, g, x, gy, grp, r0, nrows, total * ch / chunks, total * (ch + 1) / chunks, cbuf);
            T* dest = dest0 + ch * wsize + grp * g.cg_out * g.kdim;
            for (idx co = 0; co < g.cg_out; ++co)
                for (idx r = 0; r < nrows; ++r) dest[co * g.kdim + r0 + r] = cbuf[r * mpad + co];
        });
        if (chunks > 1) {
            parallel_for(0, ceil_div(wsize, 4096), n_threads, [&](idx blk) {
                const idx e0 = blk * 4096, e1 = std::min(wsize, e0 + 4096);
                std::copy(partial.data() + e0, partial.data() + e1, gw + e0);
                for (idx ch = 1; ch < chunks; ++ch) {
                    const T* src = partial.data() + ch * wsize;
                    for (idx e = e0; e < e1; ++e) gw[e] += src[e];
                }
            });
        }
    }
};

}  // namespace

template <class T>
void backward_weights(const Shape& s, const T* x, const T* gy, T* gw, T* gbias, int n_threads) {
    validate(s, "conv2d_backward_weights");
    const Geometry g(s);
    if (gbias != nullptr) {
        parallel_for(0, s.c_out, n_threads, [&](idx co) {
            T sum = 0;
            for (idx n = 0; n < s.n; ++n) {
                const T* row = gy + (n * s.c_out + co) * g.hw_out;
                T part = 0;
                for (idx p = 0; p < g.hw_out; ++p) part += row[p];
                sum += part;
            }
            gbias[co] = sum;
        });
    }
    if (s.n == 0) {
        std::fill(gw, gw + s.weight_size(), T(0));
        return;
    }
    using Wide = WeightsKernel<T, kMR, 3>;
    using Narrow = WeightsKernel<T, kMR * 3 / 2, 2>;
    const idx waste3 = round_up(g.cg_out, Wide::nr) - g.cg_out, waste2 = round_up(g.cg_out, Narrow::nr) - g.cg_out;
    if (waste3 <= waste2)
        Wide::run(s, g, x, gy, gw, n_threads);
    else
        Narrow::run(s, g, x, gy, gw, n_threads);
}

template void forward<float>(const Shape&, const float*, const float*, const float*, float*, int);
template void forward<double>(const Shape&, const double*, const double*, const double*, double*, int);
template void backward_data<float>(const Shape&, const float*, const float*, float*, int);
template void backward_data<double>(const Shape&, const double*, const double*, double*, int);
template void backward_weights<float>(const Shape&, const float*, const float*, float*, float*, int);
template void backward_weights<double>(const Shape&, const double*, const double*, double*, double*, int);

}  // namespace mlsci::conv
