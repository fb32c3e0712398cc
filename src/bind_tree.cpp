// Bindings for decision-tree induction: fit returns the tree's arrays, apply walks them.
#include <pybind11/stl.h>

#include <optional>

#include "bind_util.hpp"
#include "mlsci/tree/tree.hpp"

namespace py = pybind11;
using mlsci::bind::CArray;
using mlsci::tree::idx;

namespace {

template <class T>
CArray<T> to_array(const std::vector<T>& v) {
    CArray<T> a(static_cast<py::ssize_t>(v.size()));
    std::copy(v.begin(), v.end(), a.mutable_data());
    return a;
}

}  // namespace

void bind_tree(py::module_& m) {
    auto s = m.def_submodule("tree", "internal; see mlsci_fast.tree");

    s.def(
        "fit",
        [](const CArray<float>& X, const std::optional<CArray<std::int32_t>>& y_class, int n_classes,
           const std::optional<CArray<double>>& y, const std::optional<CArray<double>>& sample_weight, int criterion,
           idx max_depth, idx min_samples_split, idx min_samples_leaf, double min_weight_leaf,
           double min_impurity_decrease, idx max_features, std::uint64_t seed, bool histogram, int max_bins,
           int n_threads) {
            if (X.ndim() != 2) throw mlsci::InvalidArgument("tree.fit: X must be 2-D");
            const idx n = X.shape(0);
            mlsci::tree::Data data;
            data.X = X.data();
            data.n = n;
            data.d = X.shape(1);
            auto check_len = [n](py::ssize_t len, const char* name) {
                if (len != n)
                    throw mlsci::InvalidArgument(std::string("tree.fit: ") + name + " has " + std::to_string(len) +
                                                 " entries, X has " + std::to_string(n) + " rows");
            };
            if (y_class) {
                check_len(y_class->size(), "y");
                data.y_class = y_class->data();
                data.n_classes = n_classes;
            }
            if (y) {
                check_len(y->size(), "y");
                data.y = y->data();
            }
            if (sample_weight) {
                check_len(sample_weight->size(), "sample_weight");
                data.sample_weight = sample_weight->data();
            }
            if (criterion < 0 || criterion > 2) throw mlsci::InvalidArgument("tree.fit: unknown criterion");
            mlsci::tree::Params p;
            p.criterion = static_cast<mlsci::tree::Criterion>(criterion);
            p.max_depth = max_depth;
            p.min_samples_split = min_samples_split;
            p.min_samples_leaf = min_samples_leaf;
            p.min_weight_leaf = min_weight_leaf;
            p.min_impurity_decrease = min_impurity_decrease;
            p.max_features = max_features;
            p.seed = seed;
            p.histogram = histogram;
            p.max_bins = max_bins;
            p.n_threads = n_threads;
            mlsci::tree::Tree t;
            {
                py::gil_scoped_release nogil;
                t = mlsci::tree::fit(data, p);
            }
            py::dict out;
            out["children_left"] = to_array(t.children_left);
            out["children_right"] = to_array(t.children_right);
            out["feature"] = to_array(t.feature);
            out["threshold"] = to_array(t.threshold);
            out["impurity"] = to_array(t.impurity);
            out["n_node_samples"] = to_array(t.n_node_samples);
            out["weighted_n_node_samples"] = to_array(t.weighted_n_node_samples);
            CArray<double> value = to_array(t.value);
            out["value"] = value.reshape({t.node_count(), t.n_values});
            out["max_depth"] = t.max_depth;
            return out;
        },
        py::arg("X").noconvert(), py::arg("y_class").noconvert(), py::arg("n_classes"), py::arg("y").noconvert(),
        py::arg("sample_weight").noconvert(), py::arg("criterion"), py::arg("max_depth"),
        py::arg("min_samples_split"), py::arg("min_samples_leaf"), py::arg("min_weight_leaf"),
        py::arg("min_impurity_decrease"), py::arg("max_features"), py::arg("seed"), py::arg("histogram"),
        py::arg("max_bins"), py::arg("n_threads"));

    s.def(
        "apply",
        [](const CArray<idx>& left, const CArray<idx>& right, const CArray<idx>& feature, const CArray<double>& threshold,
           const CArray<float>& X, int n_threads) {
            if (X.ndim() != 2) throw mlsci::InvalidArgument("tree.apply: X must be 2-D");
            const idx nodes = left.size();
            if (right.size() != nodes || feature.size() != nodes || threshold.size() != nodes)
                throw mlsci::InvalidArgument("tree.apply: the tree arrays differ in length");
            const idx n = X.shape(0), d = X.shape(1);
            CArray<idx> leaves(n);
            mlsci::tree::TreeView view{left.data(), right.data(), feature.data(), threshold.data(), nodes, d};
            const float* x = X.data();
            idx* out = leaves.mutable_data();
            {
                py::gil_scoped_release nogil;
                mlsci::tree::apply(view, x, n, d, out, n_threads);
            }
            return leaves;
        },
        py::arg("children_left").noconvert(), py::arg("children_right").noconvert(), py::arg("feature").noconvert(),
        py::arg("threshold").noconvert(), py::arg("X").noconvert(), py::arg("n_threads"));
}
