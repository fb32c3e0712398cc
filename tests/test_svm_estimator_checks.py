"""scikit-learn's own estimator checks on SVC, OneClassSVM and SVR."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from mlsci_fast.svm import SVC, SVR, LiftFeatures, OneClassSVM

# scikit-learn's SVC, OneClassSVM and SVR fail exactly these two checks too (its own test suite
# marks them xfail): gamma='scale' depends on X.var(), which repeating samples changes, and the
# solutions are optimal to `tol`, not to 1e-7.
_WEIGHT_EQUIVALENCE = {
    "check_sample_weight_equivalence_on_dense_data": "sample_weight is not equivalent to repeating samples",
    "check_sample_weight_equivalence_on_sparse_data": "sample_weight is not equivalent to repeating samples",
}


@parametrize_with_checks(
    [SVC(), OneClassSVM(), SVR(), SVC(kernel="linear"), SVC(kernel="precomputed"), SVC(probability=True)],
    expected_failed_checks=lambda est: _WEIGHT_EQUIVALENCE,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@parametrize_with_checks([LiftFeatures()])
def test_lift_features_is_a_transformer(estimator, check):
    check(estimator)
