"""Data report and Cleaner: planted problems are found and named, fixes equal scikit-learn's
imputers and scalers, and no row is lost without being counted."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import RobustScaler, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from mlsci_fast.preprocessing import Cleaner, data_report, outlier_mask
from mlsci_fast.tree import DecisionTreeClassifier

NAMES = ["length_m", "mass_kg", "temperature_C", "gain", "pressure_kPa"]


def _lab_data(seed=0):
    """1000 measurements with known problems planted."""
    rng = np.random.default_rng(seed)
    n = 1000
    X = np.c_[
        rng.normal(1.7, 0.1, n),         # length in m ...
        rng.normal(70, 10, n),           # mass in kg
        rng.normal(20, 2, n),            # temperature
        np.full(n, 5.0),                 # a constant column (amplifier gain never changed)
        rng.normal(101.3, 0.5, n),       # pressure
    ]
    X[[10, 20, 30, 40, 50], 0] *= 1000  # ... except five lengths logged in mm
    X[[7, 77, 777], 2] = [95.0, -40.0, 88.0]  # three broken temperature readings
    missing = rng.choice(n, 30, replace=False)
    X[missing, 4] = np.nan
    X[[900, 901, 902, 903]] = X[[100, 101, 102, 103]]  # four rows logged twice
    y = (rng.uniform(size=n) < 0.1).astype(int)
    y[[900, 901, 902, 903]] = y[[100, 101, 102, 103]]
    return X, y, missing


def test_report_finds_every_planted_problem():
    X, y, missing = _lab_data()
    r = data_report(X, y, feature_names=NAMES)
    assert r.n_missing == 30 and r.missing_per_column[4] == 30
    np.testing.assert_array_equal(r.rows_with_missing, np.sort(missing))
    np.testing.assert_array_equal(r.duplicate_rows, [900, 901, 902, 903])
    assert r.constant_columns == ["gain"]
    assert set(r.unit_suspects) == {"length_m"}
    factor, rows = r.unit_suspects["length_m"]
    assert factor == 1000 and rows.tolist() == [10, 20, 30, 40, 50]
    assert {7, 77, 777, 10, 20, 30, 40, 50} <= set(r.outlier_rows.tolist())
    assert r.class_counts[0] > 5 * r.class_counts[1] and r.imbalance_ratio > 3
    text = str(r)
    for words in ("30 missing values", "4 duplicated rows", "constant columns", "['gain']",
                  "unit mix-up", "length_m", "imbalanced", "outlying values"):
        assert words in text, words
    assert not r.is_clean


def test_clean_data_gets_a_clean_report():
    X = np.random.default_rng(1).normal(size=(500, 4))
    r = data_report(X, outlier_method="iqr", threshold=3.0)
    assert r.is_clean and str(r).endswith("nothing suspicious found.")
    # a heavy tail is not a unit mix-up
    logn = np.random.default_rng(2).lognormal(0, 1.2, (2000, 1))
    assert data_report(logn).unit_suspects == {}


def test_outlier_rules_match_their_definitions():
    X = np.random.default_rng(3).standard_t(3, size=(400, 3))
    q1, q3 = np.percentile(X, [25, 75], axis=0)
    iqr = (X < q1 - 2 * (q3 - q1)) | (X > q3 + 2 * (q3 - q1))
    np.testing.assert_array_equal(outlier_mask(X, "iqr", 2.0), iqr)
    med = np.median(X, axis=0)
    mad = np.median(np.abs(X - med), axis=0)
    np.testing.assert_array_equal(outlier_mask(X, "robust_z"), np.abs(0.6745 * (X - med) / mad) > 3.5)
    assert not outlier_mask(np.ones((5, 2))).any()  # no spread: nothing is far


def test_cleaner_fixes_equal_sklearn_transformers():
    X, _, _ = _lab_data()
    c = Cleaner(outliers=None, scale="robust").fit(X)
    kept = [0, 1, 2, 4]
    np.testing.assert_array_equal(c.kept_columns_, kept)
    ref = make_pipeline(SimpleImputer(strategy="median"), RobustScaler()).fit(X[:, kept])
    np.testing.assert_allclose(c.transform(X), ref.transform(X[:, kept]), rtol=1e-12)
    c = Cleaner(outliers=None, impute="mean", scale="standard").fit(X)
    ref = make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()).fit(X[:, kept])
    np.testing.assert_allclose(c.transform(X), ref.transform(X[:, kept]), rtol=1e-10, atol=1e-12)
    # clipping holds new data to the training fences
    c = Cleaner(outlier_method="iqr").fit(X)
    new = np.array([[1e6, 70.0, -500.0, 5.0, np.nan]])
    out = c.transform(new)
    assert out.shape == (1, 4)
    assert out[0, 0] == c.upper_[0] and out[0, 2] == c.lower_[2] and out[0, 3] == c.fill_values_[3]
    assert list(c.get_feature_names_out(NAMES)) == ["length_m", "mass_kg", "temperature_C", "pressure_kPa"]


def test_fit_resample_counts_every_dropped_row(caplog):
    X, y, missing = _lab_data()
    with caplog.at_level(logging.WARNING, logger="mlsci_fast"):
        Xc, yc = Cleaner(outliers="drop", impute=None).fit_resample(X, y)
    c = Cleaner(outliers="drop", impute=None)
    Xc2, _ = c.fit_resample(X, y)
    drop = c.dropped_rows_
    np.testing.assert_array_equal(drop["duplicate"], [900, 901, 902, 903])
    np.testing.assert_array_equal(drop["missing"], np.sort(missing))
    assert {7, 77, 777, 10, 20, 30, 40, 50} <= set(drop["outlier"].tolist())
    gone = np.unique(np.concatenate(list(drop.values())))
    assert len(Xc) == len(X) - len(gone) == len(yc)
    assert "Cleaner dropped %d of 1000 rows" % len(gone) in caplog.text
    assert f"fit_resample dropped {len(gone)} rows" in c.summary()
    assert not np.isnan(Xc).any()
    # transform never drops rows
    assert len(c.transform(X)) == len(X)


def test_pipeline_and_dataframes():
    pd = pytest.importorskip("pandas")
    X, y, _ = _lab_data()
    df = pd.DataFrame(X, columns=NAMES)
    pipe = make_pipeline(Cleaner(scale="robust"), DecisionTreeClassifier(max_depth=3)).fit(df, y)
    assert pipe.score(df, y) > 0.85
    assert list(pipe[0].get_feature_names_out()) == ["length_m", "mass_kg", "temperature_C", "pressure_kPa"]
    r = data_report(df)
    assert r.feature_names == NAMES
    with pytest.raises(TypeError, match=r"non-numeric columns \['site'\]"):
        data_report(df.assign(site="A"))


def test_plot(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y, _ = _lab_data()
    axes = data_report(X, y, feature_names=NAMES).plot()
    axes[0].figure.savefig(tmp_path / "report.png")
    assert (tmp_path / "report.png").stat().st_size > 10_000
    plt.close("all")


def test_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        data_report(np.ones(5))
    with pytest.raises(ValueError, match="empty"):
        data_report(np.ones((0, 3)))
    with pytest.raises(ValueError, match="infinity"):
        data_report(np.array([[1.0, np.inf]]))
    with pytest.raises(TypeError, match="numbers"):
        data_report([["a", "b"]])
    with pytest.raises(ValueError, match="y must be 1-D with 2"):
        data_report(np.ones((2, 2)), y=[1, 2, 3])
    with pytest.raises(ValueError, match="feature_names has 1"):
        data_report(np.ones((2, 2)), feature_names=["a"])
    with pytest.raises(ValueError, match="method"):
        outlier_mask(np.ones((3, 2)), "zscore")
    for kw, msg in [({"impute": "zero"}, "impute"), ({"outliers": "cap"}, "outliers"), ({"scale": "minmax"}, "scale")]:
        with pytest.raises(ValueError, match=msg):
            Cleaner(**kw).fit(np.ones((4, 2)))
    with pytest.raises(ValueError, match="every column is constant"):
        Cleaner().fit(np.ones((4, 2)))
    X = np.array([[1.0, 2.0], [np.nan, 3.0], [np.nan, 4.0]])
    with pytest.raises(ValueError, match="drop every row"):
        Cleaner(impute=None).fit_resample(np.array([[1.0, np.nan], [np.nan, 2.0], [3.0, np.nan], [np.nan, 4.0]]))
    c = Cleaner().fit(X)
    with pytest.raises(ValueError, match="2 features"):
        c.transform(np.ones((2, 3)))
    # an entirely missing column is dropped, not imputed with NaN
    c = Cleaner().fit(np.c_[np.arange(5.0), np.full(5, np.nan)])
    assert c.kept_columns_.tolist() == [0] and "no values at all" in str(c.report_)


@parametrize_with_checks([Cleaner(), Cleaner(scale="standard", outliers=None)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
