"""The `mlsci-fast` long-run commands: ising (one T, scans, tempering) and mcmc (built-in targets
and a user's file), their output files, checkpoint/resume, and bad arguments."""

import csv

import numpy as np
import pytest

from mlsci_fast import cli, ising, mcmc


def rows(path):
    with open(path) as f:
        return list(csv.reader(f))


def test_ising_single_temperature_writes_results(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert cli.main(["ising", "16", "2.269", "400", "--seed", "3", "--quiet", "--out", out]) == 0
    text = capsys.readouterr().out
    assert "seed 3" in text and "abs_magnetization" in text and "wrote" in text
    r = ising.load(out + ".npz")
    np.testing.assert_array_equal(r.energy, ising.simulate(16, 2.269, 400, seed=3).energy)
    table = rows(out + ".csv")
    assert table[0] == ["measurement", "energy", "magnetization"] and len(table) == 401
    assert (tmp_path / "run.png").stat().st_size > 10_000


def test_ising_checkpoint_and_resume(tmp_path, capsys):
    ck = str(tmp_path / "ck.npz")
    assert cli.main(["ising", "16", "2.5", "300", "--seed", "4", "--quiet", "--checkpoint", ck,
                     "--checkpoint-every", "100"]) == 0
    assert cli.main(["ising", "--resume", ck, "--quiet"]) == 0  # a finished run resumes to itself
    assert "seed 4" in capsys.readouterr().out
    assert ising.load(ck).sweeps_done == 300


def test_ising_scan_and_tempering(tmp_path, capsys):
    out = str(tmp_path / "scan")
    assert cli.main(["ising", "8", "2.0", "3.0", "200", "--seed", "1", "--quiet", "--out", out]) == 0
    table = rows(out + ".csv")
    assert table[0][:2] == ["T", "energy"] and [float(r[0]) for r in table[1:]] == [2.0, 3.0]
    out = str(tmp_path / "pt")
    assert cli.main(["ising", "8", "2.0", "2.4", "2.8", "300", "--tempering", "--seed", "1", "--quiet",
                     "--out", out]) == 0
    assert "swap acceptance" in capsys.readouterr().out
    r = ising.load(out + ".npz")
    assert isinstance(r, ising.TemperingResult) and r.energy.shape == (300, 3)


def test_mcmc_builtin_target(tmp_path, capsys):
    out = str(tmp_path / "g")
    assert cli.main(["mcmc", "gaussian", "--ndim", "3", "--steps", "1000", "--seed", "5", "--quiet",
                     "--out", out]) == 0
    text = capsys.readouterr().out
    assert "r_hat" in text and "acceptance fraction" in text
    flat = np.array(rows(out + ".csv")[1:], dtype=float)
    assert flat.shape == (32 * 800, 3)  # 1000 steps, the first fifth discarded
    assert np.all(np.abs(flat.mean(0)) < 0.2) and np.all(np.abs(flat.std(0) - 1) < 0.15)
    back = mcmc.EnsembleSampler.load(out + ".npz")
    assert back.iteration == 1000


def test_mcmc_python_file_with_nuts_and_ensemble(tmp_path, capsys):
    model = tmp_path / "model.py"
    model.write_text(
        "import numpy as np\n"
        "def log_prob(x):\n"
        "    return -0.5 * np.sum((x - 2.0) ** 2, axis=-1)\n"
        "def with_grad(x):\n"
        "    return float(log_prob(x)), -(x - 2.0)\n"
    )
    out = str(tmp_path / "n")
    assert cli.main(["mcmc", "--python", str(model), "--function", "with_grad", "--ndim", "2", "--sampler",
                     "nuts", "--steps", "400", "--chains", "2", "--seed", "1", "--quiet", "--out", out]) == 0
    table = rows(out + ".csv")
    assert table[0][0] == "chain" and len(table) == 1 + 2 * 400
    draws = np.array(table[1:], dtype=float)[:, 1:]
    assert np.all(np.abs(draws.mean(0) - 2.0) < 0.25)
    assert cli.main(["mcmc", "--python", str(model), "--ndim", "2", "--vectorize", "--steps", "500",
                     "--seed", "1", "--quiet"]) == 0
    assert "acceptance fraction" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, match",
    [
        (["ising"], "give L, one or more temperatures"),
        (["ising", "16", "2.0", "10.5"], "sweep count"),
        (["mcmc"], "give a built-in target"),
        (["mcmc", "--python", "nowhere.py", "--ndim", "2"], "no such file"),
        (["mcmc", "gaussian", "--python", "x.py"], "give a built-in target"),
    ],
)
def test_bad_arguments(argv, match):
    with pytest.raises(SystemExit, match=match):
        cli.main(argv)


def test_missing_function_and_ndim(tmp_path):
    model = tmp_path / "m.py"
    model.write_text("def other(x):\n    return 0.0\n")
    with pytest.raises(SystemExit, match="defines no function 'log_prob'"):
        cli.main(["mcmc", "--python", str(model), "--ndim", "1"])
    with pytest.raises(SystemExit, match="needs --ndim"):
        cli.main(["mcmc", "--python", str(model), "--function", "other"])


def test_ga_builtin_problem_writes_results(tmp_path, capsys):
    from mlsci_fast.ga import GeneticAlgorithm, problems

    out = str(tmp_path / "ga")
    assert cli.main(["ga", "rastrigin", "--dim", "6", "--generations", "80", "--seed", "2", "--quiet",
                     "--out", out]) == 0
    text = capsys.readouterr().out
    ref = GeneticAlgorithm(problems.Rastrigin(6), seed=2).run(80)
    assert f"best fitness {ref.best_fitness:.10g}" in text and "seed 2" in text
    table = rows(out + ".csv")
    assert table[0] == ["generation", "best", "mean", "std"] and len(table) == 82
    assert float(table[-1][1]) == pytest.approx(ref.best_fitness)
    assert GeneticAlgorithm.load(out + ".npz").run  # a loadable run
    assert (tmp_path / "ga.png").stat().st_size > 10_000


def test_ga_python_fitness_checkpoint_resume_and_errors(tmp_path, capsys):
    from mlsci_fast.ga import GeneticAlgorithm

    src = tmp_path / "fit.py"
    src.write_text("import numpy as np\ndef fitness(X):\n    return np.sum((X - 0.5) ** 2, axis=1)\n")
    ck = str(tmp_path / "ga.npz")
    assert cli.main(["ga", "--python", str(src), "--bounds", "-2", "2", "--dim", "4", "--generations", "60",
                     "--seed", "5", "--quiet", "--checkpoint", ck, "--checkpoint-every", "20"]) == 0
    first = capsys.readouterr().out
    assert cli.main(["ga", "--python", str(src), "--resume", ck, "--quiet"]) == 0
    assert capsys.readouterr().out == first  # the finished run resumes to itself
    ref = GeneticAlgorithm(lambda X: np.sum((X - 0.5) ** 2, axis=1), [[-2, 2]] * 4, seed=5).run(60)
    assert f"best fitness {ref.best_fitness:.10g}" in first
    with pytest.raises(SystemExit, match="--bounds"):
        cli.main(["ga", "--python", str(src), "--dim", "4"])
    with pytest.raises(SystemExit, match="built-in problem or --python"):
        cli.main(["ga", "--quiet"])
    with pytest.raises(SystemExit, match="no function 'nope'"):
        cli.main(["ga", "--python", str(src), "--function", "nope", "--bounds", "0", "1"])


def test_bench_runs_selected_benchmarks_and_prints_ratios(tmp_path, capsys, monkeypatch):
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    out = tmp_path / "b.json"
    assert cli.main(["bench", "--path", str(root / "benchmarks"), "-k", "fastica", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "fastica-480000x3" in text and "sklearn" in text and "x" in text
    assert out.stat().st_size > 1000
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match="source checkout"):
        cli.main(["bench"])


def test_ga_islands_on_a_local_scheduler(tmp_path, capsys):
    pytest.importorskip("dask.distributed")
    args = ["ga", "sphere", "--dim", "3", "--generations", "12", "--islands", "2", "--migration-interval", "4",
            "--seed", "9", "--quiet"]
    assert cli.main(args) == 0
    here = capsys.readouterr().out
    assert cli.main(args + ["--scheduler", "local"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == here.splitlines()[1]  # the same best x
    with pytest.raises(SystemExit, match="--islands 2 or more"):
        cli.main(["ga", "sphere", "--scheduler", "local", "--quiet"])
