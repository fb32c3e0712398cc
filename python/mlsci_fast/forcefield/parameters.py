"""Force-field parameters: Tersoff (LAMMPS ``.tersoff`` files), with genes (the values a fit
searches) named ``"name:elements"``. ReaxFF's are in `reaxff`."""

from __future__ import annotations

import os
import time
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .._io import atomic_write

TERSOFF_NAMES = ("m", "gamma", "lambda3", "c", "d", "costheta0", "n", "beta", "lambda2", "B", "R", "D", "lambda1", "A")
# Read by LAMMPS from the entry (i, j, j) of a pair i-j only.
_TERSOFF_PAIR = ("lambda2", "B", "lambda1", "A")
# Cut-offs: entry (i, j, k) holds the i-k cut-off.
_TERSOFF_CUT = ("R", "D")
_MODEL = {"tersoff": 0}
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

# --------------------------------------------------------------------------------------------
# Parameters


# The largest parameter file read (.tersoff): files of real potentials are kilobytes.
_MAX_PARAMETER_FILE = 16 * 2**20

class _Parameters:
    """A model whose parameters are a table per element tuple: elements, the table, genes that tie
    values together (Tersoff's; ReaxFF keeps its file's sections, `reaxff.ReaxFFParameters`)."""

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

    energy_unit = "eV"  # LAMMPS "metal" units

    def _check_gene_bounds(self, genes, bounds: np.ndarray) -> None:
        """Refuse bounds that no parameter set may take (ReaxFF's rules; Tersoff's are checked
        on the bounds' corners by the kernel, see Objective)."""

    def _with_table(self, table: np.ndarray):
        return type(self)(self.elements, table)

    def _dataset_elements(self, present) -> list[str]:
        return list(self.elements)

    def _population(self, data, elements: list[str], tables: np.ndarray, want_forces: np.ndarray,
                    ref_forces: np.ndarray, n_threads: int):
        """Energies and force errors (n_sets x n_structures) of each table over `data`, in C++."""
        return data.evaluate_population(_MODEL[self.model], np.ascontiguousarray(tables), want_forces, ref_forces,
                                        n_threads)

    def _compute(self, data, elements: list[str], forces: bool, n_threads: int):
        """Energies of every structure and (optionally) all forces, (n_atoms_total, 3)."""
        return data.compute(_MODEL[self.model], np.ascontiguousarray(self.table), bool(forces), n_threads)

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
        _atomic_text(path, self._text(comment))

    def _text(self, comment: str = "") -> str:
        lines = ["# DATE: " + time.strftime("%Y-%m-%d") + " UNITS: metal CONTRIBUTOR: mlsci_fast",
                 "# " + (comment or "Tersoff parameters written by mlsci_fast"),
                 "# el1 el2 el3  " + " ".join(TERSOFF_NAMES)]
        for idx in np.ndindex(*self.table.shape[:3]):
            v = self.table[idx]
            lines.append(" ".join(self.elements[i] for i in idx) + "  " + " ".join(f"{x:.17g}" for x in v))
        return "\n".join(lines) + "\n"

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
