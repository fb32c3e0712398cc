// Decision-tree induction; see tree.hpp. The split rules (candidate positions, thresholds, the
// impurity formulas and the order of their floating-point operations, the leaf tests) follow
// scikit-learn's BestSplitter and DepthFirstTreeBuilder, so an exact tree equals scikit-learn's
// up to ties between equally good splits. What differs is the work per node: scikit-learn sorts
// the node's samples for every feature at every node (O(n log n) per feature per level); here
// each feature is sorted once and every node's range is partitioned stably (O(n) per feature per
// level), subtrees grow as OpenMP tasks, and large nodes split their feature loops into tasks.
#include "mlsci/tree/tree.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <numeric>
#include <string>

#include "mlsci/common/error.hpp"
#include "mlsci/common/parallel.hpp"
#include "mlsci/common/rng.hpp"

namespace mlsci::tree {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kLn2 = 0.693147180559945309417232121458176568;
// A node whose impurity is at most this is pure (scikit-learn's tolerance for rounding).
constexpr double kEpsilon = std::numeric_limits<double>::epsilon();
// Feature values closer than this (in float32 arithmetic) are one value: no split between them.
constexpr float kFeatureThreshold = 1e-7f;
// Nodes with at least this many samples split their per-feature loops into tasks.
constexpr idx kBigNode = 8192;
// Children with at least this many samples grow as tasks of their own.
constexpr idx kTaskNode = 512;
// Histogram mode: nodes with fewer samples than this times max_bins sort their samples' bin
// codes instead (a histogram costs O(features * bins) to clear and scan, whatever the size).
constexpr idx kHistPerBin = 2;

// ---- impurity -------------------------------------------------------------------------------
// Sums describing the samples on one side of a split. Classification: C weighted class counts.
// Regression: {sum w*y, sum w*y*y}.
struct Impurity {
    Criterion kind;
    int C;

    bool regression() const { return kind == Criterion::SquaredError; }
    int n_sums() const { return regression() ? 2 : C; }

    double of(const double* s, double w) const {
        switch (kind) {
            case Criterion::Gini: {
                double sq = 0.0;
                for (int c = 0; c < C; ++c) sq += s[c] * s[c];
                return 1.0 - sq / (w * w);
            }
            case Criterion::Entropy: {
                double e = 0.0;
                for (int c = 0; c < C; ++c)
                    if (s[c] > 0.0) {
                        const double p = s[c] / w;
                        e -= p * (std::log(p) / kLn2);  // bits, as scikit-learn
                    }
                return e;
            }
            case Criterion::SquaredError:
            default: {
                const double mean = s[0] / w;
                return s[1] / w - mean * mean;
            }
        }
    }

    // Larger is better; only compared between splits of one node.
    double proxy(const double* left, const double* right, double wl, double wr) const {
        if (regression()) return left[0] * left[0] / wl + right[0] * right[0] / wr;
        return -wr * of(right, wr) - wl * of(left, wl);
    }
};

struct Split {
    double proxy = -kInf;
    idx feature = -1;
    idx pos = -1;  // first position of the right child in the node's range; -1: no split
    double threshold = 0.0;
    int bin = -1;  // histogram mode: the last bin that goes left
};

// Threshold between two adjacent distinct float32 values, as scikit-learn places it: the sum of
// halves (never overflows); if that rounds up to the upper value, the lower one.
double midpoint(float lo, float hi) {
    double t = static_cast<double>(lo) / 2.0 + static_cast<double>(hi) / 2.0;
    if (t == static_cast<double>(hi) || std::isinf(t)) t = lo;
    return t;
}

std::uint64_t mix64(std::uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

struct NodeRecord {
    idx parent;  // global id (thread << 40 | local), -1 for the root
    bool is_left;
    idx feature;
    double threshold, impurity, weighted_n;
    idx n, depth;
};

struct Job {
    idx start, end, depth;
    double impurity;  // computed by the parent's split (scikit-learn does the same); NaN at the root
    idx parent;
    bool is_left;
    std::uint64_t key;  // a hash of the path from the root: seeds this node's feature draw
    std::shared_ptr<std::vector<double>> hist;  // histogram mode: this node's histogram, if built
};

class Builder {
public:
    Builder(const Data& data, const Params& params)
        : d_(data), p_(params), imp_{params.criterion, data.n_classes}, n_(data.n), nf_(data.d),
          nt_(resolve_threads(params.n_threads)) {}

    Tree run();

private:
    // shared, read-only during growth
    const Data& d_;
    const Params& p_;
    Impurity imp_;
    idx n_, nf_;
    int nt_;
    double total_weight_ = 0.0;
    idx max_features_ = 0;

    // exact mode: per feature, the values and sample indices of every node's range, sorted
    std::vector<float> vals_;
    std::vector<std::int32_t> order_;
    // histogram mode: bin codes (row-major (n, d)), bin edges per feature, the node's samples
    std::vector<std::uint8_t> codes_;
    std::vector<std::vector<double>> edges_;
    std::vector<std::int32_t> samples_;
    int stride_bins_ = 0;
    int hist_slots_ = 0;

    std::vector<std::uint8_t> goes_left_;

    struct Scratch {
        std::vector<float> vals;
        std::vector<std::int32_t> idx;
        std::vector<double> sums;
        std::vector<std::uint64_t> keys;
        std::vector<NodeRecord> nodes;
        std::vector<double> values;
    };
    std::vector<Scratch> scratch_;

    std::mutex error_mutex_;
    std::exception_ptr error_;
    std::atomic<bool> failed_{false};

    double weight(std::int32_t i) const { return d_.sample_weight ? d_.sample_weight[i] : 1.0; }
    const std::int32_t* node_samples(idx start) const {
        return p_.histogram ? samples_.data() + start : order_.data() + start;
    }

    void add_sample(double* s, std::int32_t i) const {
        const double w = weight(i);
        if (imp_.regression()) {
            const double wy = w * d_.y[i];
            s[0] += wy;
            s[1] += wy * d_.y[i];
        } else {
            s[d_.y_class[i]] += w;
        }
    }

    void prepare_exact();
    void prepare_histogram();
    void grow(Job root);
    void grow_guarded(Job root);
    void fail(std::exception_ptr e);

    std::vector<idx> features_to_visit(std::uint64_t key) const;
    Split best_split(const Job& job, const double* sums, double wn);
    Split split_exact(idx f, idx start, idx end, const double* sums, double wn);
    Split split_histogram(idx f, const double* hist, idx n_node, const double* sums, double wn) const;
    Split split_codes(idx f, idx start, idx end, const double* sums, double wn);
    bool wants_histogram(idx n_node) const { return n_node >= kHistPerBin * stride_bins_; }
    void partition(const Job& job, const Split& s, idx pos);
    void build_histogram(idx start, idx end, double* h);

    Tree assemble();
};

void Builder::fail(std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(error_mutex_);
    if (!error_) error_ = e;
    failed_.store(true, std::memory_order_relaxed);
}

void Builder::prepare_exact() {
    vals_.resize(static_cast<std::size_t>(n_ * nf_));
    order_.resize(static_cast<std::size_t>(n_ * nf_));
    // Sorting 64-bit keys (order-preserving bits of the value, then the sample index) is a plain
    // integer sort: faster than sorting (value, index) pairs, and ties keep index order.
    parallel_for(0, nf_, nt_, [&](idx f) {
        std::vector<std::uint64_t> keys(static_cast<std::size_t>(n_));
        for (idx i = 0; i < n_; ++i) {
            float v = d_.X[i * nf_ + f];
            if (v == 0.0f) v = 0.0f;  // -0 and +0 are one value
            std::uint32_t b;
            std::memcpy(&b, &v, 4);
            b = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
            keys[static_cast<std::size_t>(i)] = (static_cast<std::uint64_t>(b) << 32) | static_cast<std::uint32_t>(i);
        }
        std::sort(keys.begin(), keys.end());
        float* v = vals_.data() + f * n_;
        std::int32_t* o = order_.data() + f * n_;
        for (idx k = 0; k < n_; ++k) {
            const auto i = static_cast<std::int32_t>(keys[static_cast<std::size_t>(k)] & 0xFFFFFFFFu);
            o[k] = i;
            v[k] = d_.X[i * nf_ + f];
        }
    });
}

void Builder::prepare_histogram() {
    require(p_.max_bins >= 2 && p_.max_bins <= 256, "tree.fit",
            "max_bins must be in [2, 256], got " + std::to_string(p_.max_bins));
    stride_bins_ = p_.max_bins;
    hist_slots_ = imp_.regression() ? 4 : imp_.C + 1;
    edges_.assign(static_cast<std::size_t>(nf_), {});
    codes_.resize(static_cast<std::size_t>(n_ * nf_));
    parallel_for(0, nf_, nt_, [&](idx f) {
        std::vector<float> col(static_cast<std::size_t>(n_));
        for (idx i = 0; i < n_; ++i) col[static_cast<std::size_t>(i)] = d_.X[i * nf_ + f];
        std::vector<float> sorted = col;
        std::sort(sorted.begin(), sorted.end());
        std::vector<float> uniq;
        uniq.reserve(sorted.size());
        for (float v : sorted)
            if (uniq.empty() || v > uniq.back() + kFeatureThreshold) uniq.push_back(v);
        std::vector<double>& e = edges_[static_cast<std::size_t>(f)];
        const auto nb = static_cast<std::size_t>(p_.max_bins);
        if (uniq.size() <= nb) {
            for (std::size_t k = 1; k < uniq.size(); ++k) e.push_back(midpoint(uniq[k - 1], uniq[k]));
        } else {
            // Edges at the data's quantiles, each placed between two adjacent distinct values.
            for (std::size_t k = 1; k < nb; ++k) {
                const float q = sorted[k * sorted.size() / nb];
                auto u = static_cast<std::size_t>(std::upper_bound(uniq.begin(), uniq.end(), q) - uniq.begin());
                if (u == 0 || u >= uniq.size()) continue;
                const double t = midpoint(uniq[u - 1], uniq[u]);
                if (e.empty() || t > e.back()) e.push_back(t);
            }
        }
        for (idx i = 0; i < n_; ++i) {
            const double v = col[static_cast<std::size_t>(i)];
            // code = number of edges below v, so X <= edges[b] exactly when code <= b
            codes_[static_cast<std::size_t>(i * nf_ + f)] =
                static_cast<std::uint8_t>(std::lower_bound(e.begin(), e.end(), v) - e.begin());
        }
    });
    samples_.resize(static_cast<std::size_t>(n_));
    std::iota(samples_.begin(), samples_.end(), 0);
}

std::vector<idx> Builder::features_to_visit(std::uint64_t key) const {
    std::vector<idx> f(static_cast<std::size_t>(nf_));
    std::iota(f.begin(), f.end(), 0);
    if (max_features_ < nf_) {
        Philox rng{p_.seed, Stream::TreeFeatures, static_cast<std::uint32_t>(key >> 32),
                   static_cast<std::uint32_t>(key)};
        for (idx k = nf_ - 1; k > 0; --k) {
            const auto j = static_cast<idx>(rng.uniform() * static_cast<double>(k + 1));
            std::swap(f[static_cast<std::size_t>(k)], f[static_cast<std::size_t>(j)]);
        }
    }
    return f;
}

Split Builder::split_exact(idx f, idx start, idx end, const double* sums, double wn) {
    Split best;
    const float* v = vals_.data() + f * n_;
    if (v[end - 1] <= v[start] + kFeatureThreshold) return best;  // constant here
    best.feature = f;  // marks "not constant"
    const std::int32_t* o = order_.data() + f * n_;
    Scratch& sc = scratch_[static_cast<std::size_t>(omp_get_thread_num())];
    const int ns = imp_.n_sums();
    double* left = sc.sums.data();
    double* right = left + ns;
    std::fill(left, left + ns, 0.0);
    double wl = 0.0;
    const idx min_leaf = p_.min_samples_leaf;
    const double min_w = p_.min_weight_leaf;
    for (idx p = start; p < end - 1; ++p) {
        const std::int32_t i = o[p];
        const double w = weight(i);
        if (imp_.regression()) {
            left[0] += w * d_.y[i];
        } else {
            left[d_.y_class[i]] += w;
        }
        wl += w;
        if (v[p + 1] <= v[p] + kFeatureThreshold) continue;
        const idx nl = p + 1 - start;
        if (nl < min_leaf) continue;
        if (end - p - 1 < min_leaf) break;
        const double wr = wn - wl;
        if (wl < min_w || wr < min_w) continue;
        for (int s = 0; s < ns; ++s) right[s] = sums[s] - left[s];
        const double q = imp_.proxy(left, right, wl, wr);
        if (q > best.proxy) {
            best.proxy = q;
            best.pos = p + 1;
            best.threshold = midpoint(v[p], v[p + 1]);
        }
    }
    return best;
}

Split Builder::split_histogram(idx f, const double* hist, idx n_node, const double* sums, double wn) const {
    Split best;
    const int S = hist_slots_;
    const std::vector<double>& e = edges_[static_cast<std::size_t>(f)];
    const int nb = static_cast<int>(e.size()) + 1;
    const double* h = hist + f * stride_bins_ * S;
    const int C = imp_.C;
    const int count_slot = imp_.regression() ? 2 : C;
    // constant here: one bin holds every sample
    for (int b = 0; b < nb; ++b) {
        const double c = h[b * S + count_slot];
        if (c == static_cast<double>(n_node)) return best;
        if (c > 0.0) break;
    }
    best.feature = f;
    double left[256 + 2] = {0.0};
    double right[256 + 2];
    const int ns = imp_.n_sums();
    double wl = 0.0, nl = 0.0;
    for (int b = 0; b + 1 < nb; ++b) {
        const double* hb = h + b * S;
        if (hb[count_slot] == 0.0) continue;  // an empty bin moves no sample: same split as before
        if (imp_.regression()) {
            left[0] += hb[0];
            wl += hb[1];
        } else {
            for (int c = 0; c < C; ++c) {
                left[c] += hb[c];
                wl += hb[c];
            }
        }
        nl += hb[count_slot];
        const double nr = static_cast<double>(n_node) - nl;
        if (nr == 0.0) break;
        if (nl < static_cast<double>(p_.min_samples_leaf)) continue;
        if (nr < static_cast<double>(p_.min_samples_leaf)) break;
        const double wr = wn - wl;
        if (wl < p_.min_weight_leaf || wr < p_.min_weight_leaf) continue;
        for (int s = 0; s < ns; ++s) right[s] = sums[s] - left[s];
        const double q = imp_.proxy(left, right, wl, wr);
        if (q > best.proxy) {
            best.proxy = q;
            best.bin = b;
            best.pos = static_cast<idx>(nl);  // the left child's size; made absolute by the caller
            best.threshold = e[static_cast<std::size_t>(b)];
        }
    }
    return best;
}

Split Builder::split_codes(idx f, idx start, idx end, const double* sums, double wn) {
    // The histogram scan for a small node: its samples sorted by bin code, candidate splits
    // between distinct codes, threshold at the bin edge (so the tree is the same as from a
    // histogram).
    Split best;
    Scratch& sc = scratch_[static_cast<std::size_t>(omp_get_thread_num())];
    const idx m = end - start;
    std::uint64_t* keys = sc.keys.data();
    const std::int32_t* smp = samples_.data() + start;
    for (idx k = 0; k < m; ++k) {
        const std::uint64_t code =
            codes_[static_cast<std::size_t>(smp[k]) * static_cast<std::size_t>(nf_) + static_cast<std::size_t>(f)];
        keys[k] = (code << 32) | static_cast<std::uint32_t>(smp[k]);
    }
    std::sort(keys, keys + m);
    if ((keys[0] >> 32) == (keys[m - 1] >> 32)) return best;  // constant here
    best.feature = f;
    const int ns = imp_.n_sums();
    double* left = sc.sums.data();
    double* right = left + ns;
    std::fill(left, left + ns, 0.0);
    double wl = 0.0;
    const std::vector<double>& e = edges_[static_cast<std::size_t>(f)];
    for (idx k = 0; k < m - 1; ++k) {
        const auto i = static_cast<std::int32_t>(keys[k] & 0xFFFFFFFFu);
        const double w = weight(i);
        if (imp_.regression()) {
            left[0] += w * d_.y[i];
        } else {
            left[d_.y_class[i]] += w;
        }
        wl += w;
        const auto code = static_cast<int>(keys[k] >> 32);
        if (static_cast<int>(keys[k + 1] >> 32) == code) continue;
        const idx nl = k + 1;
        if (nl < p_.min_samples_leaf) continue;
        if (m - nl < p_.min_samples_leaf) break;
        const double wr = wn - wl;
        if (wl < p_.min_weight_leaf || wr < p_.min_weight_leaf) continue;
        for (int t = 0; t < ns; ++t) right[t] = sums[t] - left[t];
        const double q = imp_.proxy(left, right, wl, wr);
        if (q > best.proxy) {
            best.proxy = q;
            best.bin = code;
            best.pos = nl;
            best.threshold = e[static_cast<std::size_t>(code)];
        }
    }
    return best;
}

void Builder::build_histogram(idx start, idx end, double* h) {
    const int S = hist_slots_;
    const idx per_feature = static_cast<idx>(stride_bins_) * S;
    std::fill(h, h + nf_ * per_feature, 0.0);
    const std::int32_t* s = samples_.data();
    const bool regression = imp_.regression();
    const int C = imp_.C;
    auto block = [&](idx f0, idx f1) {
        for (idx p = start; p < end; ++p) {
            const std::int32_t i = s[p];
            const std::uint8_t* row = codes_.data() + static_cast<std::size_t>(i) * static_cast<std::size_t>(nf_);
            const double w = weight(i);
            if (regression) {
                const double y = d_.y[i], wy = w * y, wyy = wy * y;
                for (idx f = f0; f < f1; ++f) {
                    double* hb = h + f * per_feature + row[f] * S;
                    hb[0] += wy;
                    hb[1] += w;
                    hb[2] += 1.0;
                    hb[3] += wyy;
                }
            } else {
                const int c = d_.y_class[i];
                for (idx f = f0; f < f1; ++f) {
                    double* hb = h + f * per_feature + row[f] * S;
                    hb[c] += w;
                    hb[C] += 1.0;
                }
            }
        }
    };
    if (end - start < kBigNode || nt_ == 1) {
        block(0, nf_);
        return;
    }
    const idx n_blocks = std::min<idx>(nf_, 4 * nt_);
#pragma omp taskloop grainsize(1)
    for (idx b = 0; b < n_blocks; ++b) {
        if (failed_.load(std::memory_order_relaxed)) continue;
        block(b * nf_ / n_blocks, (b + 1) * nf_ / n_blocks);
    }
}

Split Builder::best_split(const Job& job, const double* sums, double wn) {
    const idx start = job.start, end = job.end, n_node = end - start;
    const std::vector<idx> order = features_to_visit(job.key);
    std::vector<Split> found(static_cast<std::size_t>(nf_));
    auto evaluate = [&](idx k) {
        const idx f = order[static_cast<std::size_t>(k)];
        Split& out = found[static_cast<std::size_t>(k)];
        if (!p_.histogram) {
            out = split_exact(f, start, end, sums, wn);
        } else if (job.hist) {
            out = split_histogram(f, job.hist->data(), n_node, sums, wn);
        } else {
            out = split_codes(f, start, end, sums, wn);
        }
    };
    // Visit features in order until max_features non-constant ones were examined (constant
    // features do not count, as in scikit-learn); with all features that is simply all of them.
    const bool big = n_node >= kBigNode && nt_ > 1;
    idx next = 0, examined = 0;
    while (examined < max_features_ && next < nf_) {
        const idx batch = std::min(max_features_ - examined, nf_ - next);
        if (big && batch > 1) {
#pragma omp taskloop grainsize(1)
            for (idx k = next; k < next + batch; ++k) {
                if (failed_.load(std::memory_order_relaxed)) continue;
                try {
                    evaluate(k);
                } catch (...) {
                    fail(std::current_exception());
                }
            }
        } else {
            for (idx k = next; k < next + batch; ++k) evaluate(k);
        }
        for (idx k = next; k < next + batch; ++k)
            if (found[static_cast<std::size_t>(k)].feature >= 0) ++examined;
        next += batch;
    }
    Split best;
    for (idx k = 0; k < next; ++k) {
        const Split& s = found[static_cast<std::size_t>(k)];
        if (s.pos >= 0 && s.proxy > best.proxy) best = s;
    }
    if (best.pos >= 0) best.pos += p_.histogram ? start : 0;
    return best;
}

void Builder::partition(const Job& job, const Split& s, idx pos) {
    const idx start = job.start, end = job.end;
    if (p_.histogram) {
        // One list of samples: stable partition by the bin code.
        Scratch& sc = scratch_[static_cast<std::size_t>(omp_get_thread_num())];
        std::int32_t* o = samples_.data();
        idx l = start, r = 0;
        for (idx p = start; p < end; ++p) {
            const std::int32_t i = o[p];
            if (codes_[static_cast<std::size_t>(i) * static_cast<std::size_t>(nf_) + static_cast<std::size_t>(s.feature)] <=
                s.bin)
                o[l++] = i;
            else
                sc.idx[static_cast<std::size_t>(r++)] = i;
        }
        std::copy(sc.idx.begin(), sc.idx.begin() + r, o + l);
        return;
    }
    const std::int32_t* ob = order_.data() + s.feature * n_;
    for (idx p = start; p < pos; ++p) goes_left_[static_cast<std::size_t>(ob[p])] = 1;
    for (idx p = pos; p < end; ++p) goes_left_[static_cast<std::size_t>(ob[p])] = 0;
    auto one = [&](idx f) {
        if (f == s.feature) return;
        Scratch& sc = scratch_[static_cast<std::size_t>(omp_get_thread_num())];
        float* v = vals_.data() + f * n_;
        std::int32_t* o = order_.data() + f * n_;
        idx l = start, r = 0;
        for (idx p = start; p < end; ++p) {
            const std::int32_t i = o[p];
            const float x = v[p];
            if (goes_left_[static_cast<std::size_t>(i)]) {
                o[l] = i;
                v[l] = x;
                ++l;
            } else {
                sc.idx[static_cast<std::size_t>(r)] = i;
                sc.vals[static_cast<std::size_t>(r)] = x;
                ++r;
            }
        }
        std::copy(sc.idx.begin(), sc.idx.begin() + r, o + l);
        std::copy(sc.vals.begin(), sc.vals.begin() + r, v + l);
    };
    if (end - start >= kBigNode && nt_ > 1) {
#pragma omp taskloop grainsize(1)
        for (idx f = 0; f < nf_; ++f) {
            if (failed_.load(std::memory_order_relaxed)) continue;
            one(f);
        }
    } else {
        for (idx f = 0; f < nf_; ++f) one(f);
    }
}

void Builder::grow_guarded(Job root) {
    try {
        grow(std::move(root));
    } catch (...) {
        fail(std::current_exception());
    }
}

void Builder::grow(Job root) {
    std::vector<Job> stack;
    stack.push_back(std::move(root));
    const int ns = imp_.n_sums();
    const int nv = imp_.regression() ? 1 : imp_.C;
    std::vector<double> sums(static_cast<std::size_t>(ns)), lsum(static_cast<std::size_t>(ns)),
        rsum(static_cast<std::size_t>(ns));
    while (!stack.empty() && !failed_.load(std::memory_order_relaxed)) {
        Job job = std::move(stack.back());
        stack.pop_back();
        const idx start = job.start, end = job.end, n_node = end - start;
        const std::int32_t* smp = node_samples(start);

        std::fill(sums.begin(), sums.end(), 0.0);
        double wn = 0.0;
        for (idx p = 0; p < n_node; ++p) {
            add_sample(sums.data(), smp[p]);
            wn += weight(smp[p]);
        }
        double impurity = job.parent < 0 ? imp_.of(sums.data(), wn) : job.impurity;
        if (impurity > kEpsilon) {
            // Rounding can leave a pure node's impurity just above epsilon (non-integer weights;
            // sum(w y^2)/w - mean^2 with equal y). Such a node is a leaf: splitting it would
            // only add nodes that predict the same.
            bool pure = true;
            if (imp_.regression()) {
                const double y0 = d_.y[smp[0]];
                for (idx p = 1; p < n_node && pure; ++p) pure = d_.y[smp[p]] == y0;
            } else {
                int present = 0;
                for (int c = 0; c < imp_.C; ++c) present += sums[static_cast<std::size_t>(c)] > 0.0;
                pure = present <= 1;
            }
            if (pure) impurity = 0.0;
        }

        bool leaf = job.depth >= p_.max_depth || n_node < p_.min_samples_split || n_node < 2 * p_.min_samples_leaf ||
                    wn < 2.0 * p_.min_weight_leaf || impurity <= kEpsilon;
        if (job.hist == nullptr && p_.histogram && !leaf && wants_histogram(n_node)) {
            job.hist = std::make_shared<std::vector<double>>(
                static_cast<std::size_t>(nf_ * stride_bins_ * hist_slots_));
            build_histogram(start, end, job.hist->data());
        }
        Split split;
        double imp_l = 0.0, imp_r = 0.0, wl = 0.0;
        if (!leaf) {
            split = best_split(job, sums.data(), wn);
            if (split.pos < 0) {
                leaf = true;
            } else {
                // The children's sums, accumulated in the order scikit-learn's criterion uses.
                std::fill(lsum.begin(), lsum.end(), 0.0);
                if (p_.histogram && !job.hist) {
                    for (idx p = start; p < end; ++p) {
                        const std::int32_t i = samples_[static_cast<std::size_t>(p)];
                        if (codes_[static_cast<std::size_t>(i) * static_cast<std::size_t>(nf_) +
                                   static_cast<std::size_t>(split.feature)] <= split.bin) {
                            add_sample(lsum.data(), i);
                            wl += weight(i);
                        }
                    }
                } else if (p_.histogram) {
                    const double* h = job.hist->data() + split.feature * stride_bins_ * hist_slots_;
                    for (int b = 0; b <= split.bin; ++b) {
                        const double* hb = h + b * hist_slots_;
                        if (imp_.regression()) {
                            lsum[0] += hb[0];
                            wl += hb[1];
                            lsum[1] += hb[3];
                        } else {
                            for (int c = 0; c < imp_.C; ++c) {
                                lsum[static_cast<std::size_t>(c)] += hb[c];
                                wl += hb[c];
                            }
                        }
                    }
                } else {
                    const std::int32_t* o = order_.data() + split.feature * n_;
                    for (idx p = start; p < split.pos; ++p) {
                        add_sample(lsum.data(), o[p]);
                        wl += weight(o[p]);
                    }
                }
                const double wr = wn - wl;
                for (int s = 0; s < ns; ++s)
                    rsum[static_cast<std::size_t>(s)] = sums[static_cast<std::size_t>(s)] - lsum[static_cast<std::size_t>(s)];
                imp_l = imp_.of(lsum.data(), wl);
                imp_r = imp_.of(rsum.data(), wr);
                const double improvement =
                    (wn / total_weight_) * (impurity - (wr / wn * imp_r) - (wl / wn * imp_l));
                if (improvement + kEpsilon < p_.min_impurity_decrease) leaf = true;
            }
        }

        Scratch& sc = scratch_[static_cast<std::size_t>(omp_get_thread_num())];
        const idx id = (static_cast<idx>(omp_get_thread_num()) << 40) | static_cast<idx>(sc.nodes.size());
        sc.nodes.push_back({job.parent, job.is_left, leaf ? kUndefined : split.feature,
                            leaf ? static_cast<double>(kUndefined) : split.threshold, impurity, wn, n_node, job.depth});
        for (int c = 0; c < nv; ++c) sc.values.push_back(sums[static_cast<std::size_t>(c)] / wn);
        if (leaf) continue;

        partition(job, split, split.pos);
        Job left{start, split.pos, job.depth + 1, imp_l, id, true, mix64(job.key * 2 + 1), nullptr};
        Job right{split.pos, end, job.depth + 1, imp_r, id, false, mix64(job.key * 2 + 2), nullptr};
        if (p_.histogram) {
            auto may_split = [&](const Job& c) {
                const idx m = c.end - c.start;
                return c.depth < p_.max_depth && m >= p_.min_samples_split && m >= 2 * p_.min_samples_leaf &&
                       c.impurity > kEpsilon && wants_histogram(m);
            };
            const bool need_l = may_split(left), need_r = may_split(right);
            if ((need_l || need_r) && job.hist) {
                Job& small = (left.end - left.start <= right.end - right.start) ? left : right;
                Job& large = (&small == &left) ? right : left;
                small.hist = std::make_shared<std::vector<double>>(job.hist->size());
                build_histogram(small.start, small.end, small.hist->data());
                if (may_split(large)) {
                    // sibling subtraction: the parent's histogram minus the smaller child's
                    large.hist = job.hist;
                    std::vector<double>& h = *large.hist;
                    const std::vector<double>& hs = *small.hist;
                    for (std::size_t k = 0; k < h.size(); ++k) h[k] -= hs[k];
                }
                if (!may_split(small)) small.hist.reset();
            }
            job.hist.reset();
        }
        for (Job* c : {&right, &left}) {
            if (c->end - c->start >= kTaskNode && nt_ > 1) {
                Builder* self = this;
                Job task_job = std::move(*c);
#pragma omp task firstprivate(self, task_job)
                self->grow_guarded(std::move(task_job));
            } else {
                stack.push_back(std::move(*c));
            }
        }
    }
}

Tree Builder::assemble() {
    // Gather the per-thread records, link children to parents, and number the nodes in
    // depth-first pre-order, left child first (scikit-learn's order).
    std::vector<idx> base(scratch_.size() + 1, 0);
    for (std::size_t t = 0; t < scratch_.size(); ++t) base[t + 1] = base[t] + static_cast<idx>(scratch_[t].nodes.size());
    const idx total = base.back();
    auto flat = [&](idx gid) { return base[static_cast<std::size_t>(gid >> 40)] + (gid & ((idx{1} << 40) - 1)); };
    std::vector<const NodeRecord*> rec(static_cast<std::size_t>(total));
    std::vector<const double*> val(static_cast<std::size_t>(total));
    std::vector<idx> lchild(static_cast<std::size_t>(total), kLeaf), rchild(static_cast<std::size_t>(total), kLeaf);
    const idx nv = imp_.regression() ? 1 : imp_.C;
    idx root = -1;
    for (std::size_t t = 0; t < scratch_.size(); ++t)
        for (std::size_t k = 0; k < scratch_[t].nodes.size(); ++k) {
            const idx me = base[t] + static_cast<idx>(k);
            const NodeRecord& r = scratch_[t].nodes[k];
            rec[static_cast<std::size_t>(me)] = &r;
            val[static_cast<std::size_t>(me)] = scratch_[t].values.data() + static_cast<idx>(k) * nv;
            if (r.parent < 0) {
                root = me;
            } else {
                const idx pa = flat(r.parent);
                (r.is_left ? lchild : rchild)[static_cast<std::size_t>(pa)] = me;
            }
        }
    if (root < 0) throw Error("tree.fit: no root node was grown");
    Tree t;
    t.n_features = nf_;
    t.n_values = nv;
    t.children_left.reserve(static_cast<std::size_t>(total));
    std::vector<idx> new_id(static_cast<std::size_t>(total), -1);
    std::vector<idx> order;
    order.reserve(static_cast<std::size_t>(total));
    std::vector<idx> stack{root};
    while (!stack.empty()) {
        const idx k = stack.back();
        stack.pop_back();
        new_id[static_cast<std::size_t>(k)] = static_cast<idx>(order.size());
        order.push_back(k);
        if (rchild[static_cast<std::size_t>(k)] != kLeaf) stack.push_back(rchild[static_cast<std::size_t>(k)]);
        if (lchild[static_cast<std::size_t>(k)] != kLeaf) stack.push_back(lchild[static_cast<std::size_t>(k)]);
    }
    for (idx k : order) {
        const NodeRecord& r = *rec[static_cast<std::size_t>(k)];
        const idx l = lchild[static_cast<std::size_t>(k)], rr = rchild[static_cast<std::size_t>(k)];
        t.children_left.push_back(l == kLeaf ? kLeaf : new_id[static_cast<std::size_t>(l)]);
        t.children_right.push_back(rr == kLeaf ? kLeaf : new_id[static_cast<std::size_t>(rr)]);
        t.feature.push_back(r.feature);
        t.threshold.push_back(r.threshold);
        t.impurity.push_back(r.impurity);
        t.n_node_samples.push_back(r.n);
        t.weighted_n_node_samples.push_back(r.weighted_n);
        t.value.insert(t.value.end(), val[static_cast<std::size_t>(k)], val[static_cast<std::size_t>(k)] + nv);
        t.max_depth = std::max(t.max_depth, r.depth);
    }
    return t;
}

Tree Builder::run() {
    const char* where = "tree.fit";
    require(n_ >= 1, where, "need at least one sample");
    require(nf_ >= 1, where, "need at least one feature");
    require(n_ < (idx{1} << 31), where, "at most 2^31 - 1 samples");
    require(d_.X != nullptr, where, "X is missing");
    if (imp_.regression()) {
        require(d_.y != nullptr, where, "regression needs y");
    } else {
        require(d_.y_class != nullptr && d_.n_classes >= 1, where, "classification needs class codes");
        require(d_.n_classes <= 256, where, "at most 256 classes");
        for (idx i = 0; i < n_; ++i)
            require(d_.y_class[i] >= 0 && d_.y_class[i] < d_.n_classes, where,
                    "class codes must lie in [0, n_classes)");
    }
    require(p_.max_depth >= 0, where, "max_depth must be >= 0");
    require(p_.min_samples_split >= 2, where, "min_samples_split must be >= 2");
    require(p_.min_samples_leaf >= 1, where, "min_samples_leaf must be >= 1");
    require(p_.min_weight_leaf >= 0.0, where, "min_weight_leaf must be >= 0");
    require(p_.min_impurity_decrease >= 0.0, where, "min_impurity_decrease must be >= 0");
    require(p_.max_features >= 0, where, "max_features must be >= 0");
    max_features_ = (p_.max_features == 0 || p_.max_features > nf_) ? nf_ : p_.max_features;
    for (idx i = 0; i < n_; ++i) {
        const double w = weight(static_cast<std::int32_t>(i));
        require(std::isfinite(w) && w >= 0.0, where, "sample weights must be finite and >= 0");
        total_weight_ += w;
    }
    require(total_weight_ > 0.0, where, "the sample weights sum to zero");

    scratch_.resize(static_cast<std::size_t>(nt_));
    for (Scratch& s : scratch_) {
        s.vals.resize(static_cast<std::size_t>(n_));
        s.idx.resize(static_cast<std::size_t>(n_));
        s.sums.resize(static_cast<std::size_t>(2 * imp_.n_sums()));
        if (p_.histogram) s.keys.resize(static_cast<std::size_t>(std::min<idx>(n_, kHistPerBin * p_.max_bins)));
    }
    if (p_.histogram) {
        prepare_histogram();
    } else {
        prepare_exact();
        goes_left_.resize(static_cast<std::size_t>(n_));
    }
    Job root{0, n_, 0, std::numeric_limits<double>::quiet_NaN(), -1, false, mix64(p_.seed), nullptr};
#pragma omp parallel num_threads(nt_)
#pragma omp single
    grow_guarded(std::move(root));
    if (error_) std::rethrow_exception(error_);
    return assemble();
}

}  // namespace

Tree fit(const Data& data, const Params& params) {
    Builder b(data, params);
    return b.run();
}

void apply(const TreeView& t, const float* X, idx n, idx d, idx* leaves, int n_threads) {
    const char* where = "tree.apply";
    require(d == t.n_features, where,
            "X has " + std::to_string(d) + " features but the tree was grown on " + std::to_string(t.n_features));
    require(t.node_count >= 1, where, "the tree has no nodes");
    for (idx k = 0; k < t.node_count; ++k) {
        const idx l = t.children_left[k], r = t.children_right[k];
        if (l == kLeaf && r == kLeaf) continue;
        require(l > k && l < t.node_count && r > k && r < t.node_count && t.feature[k] >= 0 && t.feature[k] < d,
                where, "the tree arrays are inconsistent at node " + std::to_string(k));
    }
    parallel_for(0, n, n_threads, [&](idx i) {
        const float* row = X + i * d;
        idx k = 0;
        while (t.children_left[k] != kLeaf)
            k = static_cast<double>(row[t.feature[k]]) <= t.threshold[k] ? t.children_left[k] : t.children_right[k];
        leaves[i] = k;
    });
}

}  // namespace mlsci::tree
