// Decision-tree induction (CART, Breiman et al. 1984) with scikit-learn's split rules: exact splits
// on features sorted once and partitioned stably per node (SLIQ, Mehta et al. 1996), or histogram
// splits on quantile bins with the sibling-subtraction trick (LightGBM, Ke et al. 2017).
#pragma once

#include <cstdint>
#include <vector>

namespace mlsci::tree {

using idx = std::int64_t;

enum class Criterion : int { Gini = 0, Entropy = 1, SquaredError = 2 };

// Leaves carry feature == kUndefined, threshold == kUndefined and children == kLeaf, as in
// scikit-learn's tree_ arrays.
constexpr idx kLeaf = -1;
constexpr idx kUndefined = -2;

struct Params {
    Criterion criterion = Criterion::Gini;
    idx max_depth = INT32_MAX;
    idx min_samples_split = 2;
    idx min_samples_leaf = 1;
    double min_weight_leaf = 0.0;
    double min_impurity_decrease = 0.0;
    idx max_features = 0;          // features examined per node; 0 = all
    std::uint64_t seed = 0;        // draws the examined features when max_features < n_features
    bool histogram = false;        // false: exact splits; true: splits between quantile bins
    int max_bins = 255;            // histogram mode: at most this many bins per feature (2..256)
    int n_threads = 0;             // 0 = OpenMP default
};

// Training data. X is row-major (n, d) float32 (scikit-learn's trees also split float32 values).
// Classification: y_class holds class codes 0..n_classes-1; regression: y (and n_classes = 0).
struct Data {
    const float* X = nullptr;
    idx n = 0, d = 0;
    const std::int32_t* y_class = nullptr;
    int n_classes = 0;
    const double* y = nullptr;
    const double* sample_weight = nullptr;  // null: every weight is 1
};

// The fitted tree, nodes in depth-first pre-order (left child first), like scikit-learn's.
// value holds, per node, the class fractions (classification) or the mean (regression).
struct Tree {
    idx n_features = 0;
    idx n_values = 1;
    idx max_depth = 0;
    std::vector<idx> children_left, children_right, feature, n_node_samples;
    std::vector<double> threshold, impurity, weighted_n_node_samples, value;

    idx node_count() const { return static_cast<idx>(feature.size()); }
};

// Grows a tree. Throws InvalidArgument for inconsistent data or parameters.
Tree fit(const Data& data, const Params& params);

// A fitted tree's arrays as apply() reads them (node_count entries each).
struct TreeView {
    const idx* children_left;
    const idx* children_right;
    const idx* feature;
    const double* threshold;
    idx node_count;
    idx n_features;
};

// For each row of X (row-major (n, d) float32), the index of the leaf it falls in.
// A sample goes left when X[i, feature] <= threshold (compared in double). Checks first that the
// arrays describe a pre-order tree (children after their parent, features in range), so arrays
// edited by hand cannot send the walk out of bounds or into a loop.
void apply(const TreeView& tree, const float* X, idx n, idx d, idx* leaves, int n_threads);

}  // namespace mlsci::tree
