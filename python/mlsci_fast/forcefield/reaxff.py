"""ReaxFF parameter files (the ``ffield`` format that LAMMPS's ``pair_style reaxff`` reads).

A file has a title line and seven sections, each opened by a count: general parameters (one
value a line, with a comment), atoms (four lines of eight values each, the first starting with
the element's symbol; a fifth line of two values in the low-gradient ``lg`` extension), bonds
(two lines of eight values after the two atom indices), off-diagonal pairs (six values; seven
with ``lg``), valence angles (seven), torsions (seven; index 0 is a wildcard) and hydrogen bonds
(four). Indices are 1-based positions in the atom section. `ReaxFFParameters.read` checks all of
it and names the line of any problem; `write` gives a file that LAMMPS reads to the same
numbers (each value is written with the shortest text that reads back as the same double).

Parameters are addressed as genes, as the Tersoff ones are: ``"r_s:C"`` (an atom parameter),
``"p_be1:C-H"`` (a bond; both orders), ``"r_vdw:C-H"`` (an off-diagonal pair), ``"theta_00:H-C-H"``
(an angle, the centre in the middle), ``"V2:H-C-C-H"`` or ``"V2:X-C-C-X"`` (a torsion, X the
wildcard), ``"r0_hb:O-H-O"`` (a hydrogen bond) and ``"general:2"`` (the second general
parameter). Names follow LAMMPS's ReaxFF parameter structures; ``n_u<k>`` marks a value the
model does not use.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from typing import Iterator

import numpy as np
from numpy.typing import ArrayLike

from .. import _core
from .._io import atomic_write
from .._validation import as_float_array, check_scalar
from .training import Structure, _check_image_count

__all__ = ["ATOM_NAMES", "TERMS", "ReaxFFParameters", "ReaxFFResult", "evaluate"]

ATOM_NAMES = (
    "r_s", "valency", "mass", "r_vdw", "epsilon", "gamma", "r_pi", "valency_e",
    "alpha", "gamma_w", "valency_boc", "p_ovun5", "n_u1", "chi", "eta", "p_hbond",
    "r_pi_pi", "p_lp2", "n_u2", "b_o_131", "b_o_132", "b_o_133", "bcut_acks2", "n_u3",
    "p_ovun2", "p_val3", "n_u4", "valency_val", "p_val5", "rcore2", "ecore2", "acore2",
)
LG_ATOM_NAMES = ("lgcij", "lgre")
BOND_NAMES = (
    "De_s", "De_p", "De_pp", "p_be1", "p_bo5", "v13cor", "p_bo6", "p_ovun1",
    "p_be2", "p_bo3", "p_bo4", "n_u1", "p_bo1", "p_bo2", "ovc", "n_u2",
)
OFFDIAG_NAMES = ("D", "r_vdw", "alpha", "r_s", "r_p", "r_pp")
LG_OFFDIAG_NAMES = ("lgcij",)
ANGLE_NAMES = ("theta_00", "p_val1", "p_val2", "p_coa1", "p_val7", "p_pen1", "p_val4")
TORSION_NAMES = ("V1", "V2", "V3", "p_tor1", "p_cot1", "n_u1", "n_u2")
HBOND_NAMES = ("r0_hb", "p_hb1", "p_hb2", "p_hb3")

# The largest ffield read: real files are tens of kilobytes.
_MAX_FILE = 16 * 2**20


class _Lines:
    """The file's lines with their numbers, read front to back; errors name the line."""

    def __init__(self, path: str, lines: list[str]):
        self.path, self.lines, self.at = path, lines, 0

    def error(self, what: str, line: int | None = None) -> ValueError:
        n = self.at if line is None else line
        return ValueError(f"{self.path}, line {n}: {what}")

    def next(self, what: str) -> tuple[int, str]:
        while self.at < len(self.lines):
            self.at += 1
            text = self.lines[self.at - 1]
            if text.strip():
                return self.at, text
        raise ValueError(f"{self.path}: the file ends where {what} should be (after line {self.at})")

    def numbers(self, what: str, count: int, *, skip: int = 0) -> tuple[int, list[str], list[float]]:
        """The next line's first `skip` words as they are and the `count` numbers after them."""
        n, text = self.next(what)
        words = text.split("!", 1)[0].split()
        if len(words) < skip + count:
            raise self.error(f"{what} needs {skip + count} values, the line has {len(words)}: {text.strip()!r}", n)
        try:
            values = [float(w) for w in words[skip:skip + count]]
        except ValueError:
            raise self.error(f"{what} has a value that is not a number: {text.strip()!r}", n) from None
        if not all(math.isfinite(v) for v in values):
            raise self.error(f"{what} has a value that is not finite: {text.strip()!r}", n)
        return n, words[:skip], values

    def count(self, section: str, comment_lines: int) -> tuple[int, int]:
        n, text = self.next(f"the number of {section}")
        word = text.split("!", 1)[0].split()[:1]
        if not word or not word[0].isdigit():
            raise self.error(f"expected the number of {section}, got {text.strip()!r}", n)
        k = int(word[0])
        if k > 100_000:
            raise self.error(f"{k} {section} is more than any force field has", n)
        for _ in range(comment_lines):
            self.next(f"the header of the {section} section")
        return k, n


class ReaxFFParameters:
    """A ReaxFF force field: the contents of an ``ffield`` file.

    Attributes
    ----------
    title : str
        The first line.
    general : ndarray (n_general,)
        General parameters, in the file's order.
    general_comments : list of str
        The comment after each general parameter (kept for writing).
    elements : list of str
        Element symbols in the atom section's order.
    atoms : ndarray (n_elements, 32) or (n_elements, 34) with ``lg``
        Per-element parameters, named by `ATOM_NAMES` (+ lgcij, lgre).
    bonds, offdiagonal, angles, torsions, hbonds : list of (key, ndarray)
        The entries in the file's order, keys 0-based element-index tuples ((i, j); (i, j);
        (i, j, k) with j the centre; (i, j, k, l) with -1 for a torsion wildcard; (i, j, k)),
        values named by `BOND_NAMES`, `OFFDIAG_NAMES`, `ANGLE_NAMES`, `TORSION_NAMES`,
        `HBOND_NAMES`. An index past the atom section is kept (``ffield.reax.rdx`` has angles of
        a fifth type that its four atoms lack) and, as in LAMMPS, never used. A key may repeat:
        real files give a valence angle two parameter sets (LAMMPS sums their energies; for
        the other sections its last entry wins).
    lg : bool
        Whether the file has the low-gradient dispersion extension.
    """

    def __init__(self, title: str, general: np.ndarray, general_comments: list[str], elements: list[str],
                 atoms: np.ndarray, bonds: list, offdiagonal: list, angles: list, torsions: list, hbonds: list,
                 lg: bool = False):
        self.title = title
        self.general = np.asarray(general, dtype=np.float64)
        self.general_comments = list(general_comments)
        self.elements = list(elements)
        self.atoms = np.asarray(atoms, dtype=np.float64)
        self.bonds, self.offdiagonal, self.angles = list(bonds), list(offdiagonal), list(angles)
        self.torsions, self.hbonds = list(torsions), list(hbonds)
        self.lg = bool(lg)

    # ---- files

    @classmethod
    def read(cls, path: str | os.PathLike, *, lg: bool | None = None) -> ReaxFFParameters:
        """Read an ``ffield`` file. `lg`: whether it has the low-gradient extension (None:
        decided from the first atom's fifth line, as only lg files have one of two values)."""
        path = os.fspath(path)
        size = os.path.getsize(path)
        if size > _MAX_FILE:
            raise ValueError(f"{path} is {size} bytes; ReaxFF files are kilobytes (at most {_MAX_FILE} are read)")
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except UnicodeDecodeError:
            raise ValueError(f"{path} is not a text file") from None
        if not lines:
            raise ValueError(f"{path} is empty")
        src = _Lines(path, lines)
        title = lines[0].rstrip()
        src.at = 1

        n_general, _ = src.count("general parameters", 0)
        general, comments = [], []
        for k in range(n_general):
            n, _, (v,) = src.numbers(f"general parameter {k + 1}", 1)
            general.append(v)
            text = lines[n - 1]
            comments.append(text.split("!", 1)[1].strip() if "!" in text else "")

        n_atoms, _ = src.count("atoms", 3)
        if n_atoms < 1:
            raise src.error("a force field needs at least one atom type")
        if lg is None:
            lg = cls._looks_lg(lines, src.at)
        elements, atoms = [], []
        for a in range(n_atoms):
            n, (symbol,), row = src.numbers(f"line 1 of atom {a + 1}", 8, skip=1)
            if not symbol[:1].isalpha():
                raise src.error(f"atom {a + 1} must start with its element's symbol, got {symbol!r}", n)
            if symbol in elements:
                raise src.error(f"the element {symbol} appears twice in the atom section", n)
            for part in range(3):
                row += src.numbers(f"line {part + 2} of atom {symbol}", 8)[2]
            if lg:
                row += src.numbers(f"the lg line of atom {symbol}", 2)[2]
            elements.append(symbol)
            atoms.append(row)

        def entries(section: str, n_idx: int, n_values: int, lines_per: int, header: int, wildcard: bool = False):
            count, _ = src.count(section, header)
            out: list[tuple[tuple[int, ...], np.ndarray]] = []
            for e in range(count):
                first = n_values if lines_per == 1 else 8
                n, idx_words, row = src.numbers(f"{section} entry {e + 1}", first, skip=n_idx)
                for _ in range(lines_per - 1):
                    row += src.numbers(f"line 2 of {section} entry {e + 1}", n_values - first)[2]
                key = []
                for w in idx_words:
                    if not w.lstrip("-").isdigit():
                        raise src.error(f"{section} entry {e + 1}: atom index {w!r} is not an integer", n)
                    i = int(w)
                    if wildcard and i == 0:
                        key.append(-1)
                    elif i < 1:
                        raise src.error(f"{section} entry {e + 1}: atom index {i} must be >= 1"
                                        f"{' (or 0, the wildcard)' if wildcard else ''}", n)
                    else:
                        key.append(i - 1)
                out.append((tuple(key), np.array(row)))
            return out

        bonds = entries("bonds", 2, 16, 2, 1)
        offdiagonal = entries("off-diagonal terms", 2, 7 if lg else 6, 1, 0)
        angles = entries("angles", 3, 7, 1, 0)
        torsions = entries("torsions", 4, 7, 1, 0, wildcard=True)
        hbonds = entries("hydrogen bonds", 3, 4, 1, 0)
        return cls(title, np.array(general), comments, elements, np.array(atoms), bonds, offdiagonal, angles,
                   torsions, hbonds, lg)

    @staticmethod
    def _looks_lg(lines: list[str], at: int) -> bool:
        """Whether the atom section's first atom has a fifth line of two numbers."""
        rest = [ln for ln in lines[at:at + 12] if ln.strip()]
        if len(rest) < 5:
            return False
        words = rest[4].split("!", 1)[0].split()
        try:
            [float(w) for w in words]
        except ValueError:
            return False
        return len(words) == 2

    def write(self, path: str | os.PathLike) -> None:
        """Write an ``ffield`` file (atomically) that LAMMPS reads to the same numbers."""
        atomic_write(path, lambda f: f.write("".join(self._lines()).encode("utf-8")), ".ffield")

    def _lines(self) -> Iterator[str]:
        def num(v: float) -> str:
            text = repr(float(v))
            return text[:-2] if text.endswith(".0") and "e" not in text else text

        def row(values) -> str:  # at least one space before every value, however long its text
            return "".join(f" {num(v):>9}" for v in values)

        def idx(key) -> str:
            return "".join(f" {i + 1:>2}" for i in key)

        yield self.title + "\n"
        yield f"{len(self.general):3d}       ! Number of general parameters\n"
        for v, c in zip(self.general, self.general_comments):
            yield f" {num(v):>9} !{c}\n"
        names = ATOM_NAMES + (LG_ATOM_NAMES if self.lg else ())
        yield f"{len(self.elements):3d}    ! Nr of atoms; " + ";".join(names[:8]) + "\n"
        for k in range(1, 4):
            yield "            " + ";".join(names[8 * k:8 * k + 8]) + "\n"
        for symbol, values in zip(self.elements, self.atoms):
            yield f" {symbol:<2}" + row(values[:8]) + "\n"
            for k in range(1, 4):
                yield "   " + row(values[8 * k:8 * k + 8]) + "\n"
            if self.lg:
                yield "   " + row(values[32:34]) + "\n"
        yield f"{len(self.bonds):3d}    ! Nr of bonds; " + ";".join(BOND_NAMES[:8]) + "\n"
        yield "            " + ";".join(BOND_NAMES[8:]) + "\n"
        for key, values in self.bonds:
            yield idx(key) + row(values[:8]) + "\n"
            yield "      " + row(values[8:]) + "\n"
        off = OFFDIAG_NAMES + (LG_OFFDIAG_NAMES if self.lg else ())
        for title, table, names_ in (("off-diagonal terms", self.offdiagonal, off),
                                     ("angles", self.angles, ANGLE_NAMES),
                                     ("torsions", self.torsions, TORSION_NAMES),
                                     ("hydrogen bonds", self.hbonds, HBOND_NAMES)):
            yield f"{len(table):3d}    ! Nr of {title}; " + ";".join(names_) + "\n"
            for key, values in table:
                yield idx(key) + row(values) + "\n"

    def vdw_type(self) -> int:
        """LAMMPS's van der Waals form, from the atom section: 1 shielded, 2 inner wall, 3 both,
        as the first atom type has it (LAMMPS keeps the first and warns about the others)."""
        col = {name: k for k, name in enumerate(ATOM_NAMES)}
        for symbol, row in zip(self.elements, self.atoms):
            wall = row[col["rcore2"]] > 0.01 and row[col["acore2"]] > 0.01
            shielded = row[col["gamma_w"]] > 0.5
            if not (wall or shielded):
                raise ValueError(f"element {symbol}: inconsistent van der Waals parameters (neither shielding, "
                                 "gamma_w > 0.5, nor an inner wall, rcore2 and acore2 > 0.01)")
            return 3 if wall and shielded else 2 if wall else 1
        raise ValueError("the force field has no atom types")

    # ---- comparison

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ReaxFFParameters):
            return NotImplemented
        tables = ("bonds", "offdiagonal", "angles", "torsions", "hbonds")
        return (self.elements == other.elements and self.lg == other.lg
                and np.array_equal(self.general, other.general) and np.array_equal(self.atoms, other.atoms)
                and all(len(getattr(self, t)) == len(getattr(other, t))
                        and all(ka == kb and np.array_equal(a, b)
                                for (ka, a), (kb, b) in zip(getattr(self, t), getattr(other, t)))
                        for t in tables))

    def __repr__(self) -> str:
        return (f"ReaxFFParameters(elements={self.elements}, bonds={len(self.bonds)}, "
                f"angles={len(self.angles)}, torsions={len(self.torsions)}, hbonds={len(self.hbonds)}"
                f"{', lg' if self.lg else ''})")

    # ---- genes: every value of the file as one flat vector

    model = "reaxff"
    _SECTIONS = ("bonds", "offdiagonal", "angles", "torsions", "hbonds")

    def copy(self) -> ReaxFFParameters:
        return ReaxFFParameters(self.title, self.general.copy(), self.general_comments, self.elements,
                                self.atoms.copy(), *([(k, v.copy()) for k, v in getattr(self, t)]
                                                     for t in self._SECTIONS), lg=self.lg)

    @property
    def table(self) -> np.ndarray:
        """Every value of the file, in file order (general, atoms, bonds, off-diagonal, angles,
        torsions, hydrogen bonds), as one vector: what genes index. A copy."""
        parts = [self.general, self.atoms.ravel()]
        for t in self._SECTIONS:
            parts += [v for _, v in getattr(self, t)]
        return np.concatenate(parts)

    def _with_table(self, table: np.ndarray) -> ReaxFFParameters:
        """A copy with the values of `table` (a vector like `table`)."""
        out = self.copy()
        table = np.asarray(table, dtype=np.float64)
        out.general[:] = table[:len(self.general)]
        at = len(self.general)
        out.atoms[:] = table[at:at + self.atoms.size].reshape(self.atoms.shape)
        at += self.atoms.size
        for t in self._SECTIONS:
            for _, v in getattr(out, t):
                v[:] = table[at:at + len(v)]
                at += len(v)
        return out

    def gene_slots(self, gene: str) -> np.ndarray:
        """Positions in `table` of a gene: ``"general:2"`` (1-based), ``"r_s:C"``,
        ``"p_be1:C-H"`` (a bond, either order), ``"r_vdw:C-H"`` (off-diagonal),
        ``"theta_00:H-C-H"`` (an angle, either direction), ``"V2:X-C-C-X"`` (a torsion, X the
        wildcard, either direction), ``"r0_hb:O-H-O"`` (a hydrogen bond). A section that repeats
        a key (two parameter sets of one angle) is addressed as ``"theta_00:H-C-H#2"``."""
        if not isinstance(gene, str) or gene.count(":") != 1:
            raise ValueError(f"gene {gene!r} must read 'name:where', e.g. 'p_be1:C-H' or 'general:2'")
        name, where = gene.split(":")
        if name == "general":
            if not where.isdigit() or not 1 <= int(where) <= len(self.general):
                raise ValueError(f"gene {gene!r}: the general parameters are numbered 1..{len(self.general)}")
            return np.array([int(where) - 1])
        which = None
        if "#" in where:
            where, _, k = where.partition("#")
            if not k.isdigit() or int(k) < 1:
                raise ValueError(f"gene {gene!r}: '#k' selects the k-th entry, k >= 1")
            which = int(k) - 1
        symbols = where.split("-")
        idx = []
        for sym in symbols:
            if sym == "X" and len(symbols) == 4:
                idx.append(-1)
            elif sym in self.elements:
                idx.append(self.elements.index(sym))
            else:
                raise ValueError(f"gene {gene!r}: element {sym!r} is not one of {self.elements}")
        if name.startswith("n_u"):
            raise ValueError(f"gene {gene!r}: {name} is a value the model does not use")
        at = len(self.general)
        if len(idx) == 1:
            names = ATOM_NAMES + (LG_ATOM_NAMES if self.lg else ())
            if name not in names:
                raise ValueError(f"gene {gene!r}: an atom parameter is one of {list(names)}")
            return np.array([at + idx[0] * self.atoms.shape[1] + names.index(name)])
        at += self.atoms.size
        kinds = {2: [("bonds", BOND_NAMES), ("offdiagonal", OFFDIAG_NAMES + (LG_OFFDIAG_NAMES if self.lg else ()))],
                 3: [("angles", ANGLE_NAMES), ("hbonds", HBOND_NAMES)], 4: [("torsions", TORSION_NAMES)]}
        if len(idx) not in kinds:
            raise ValueError(f"gene {gene!r}: name one to four elements joined by '-'")
        section = next(((t, names) for t, names in kinds[len(idx)] if name in names), None)
        if section is None:
            allowed = [n for _, names in kinds[len(idx)] for n in names if not n.startswith("n_u")]
            raise ValueError(f"gene {gene!r}: {len(idx)} elements name one of {allowed}")
        keys = {tuple(idx)} if section[0] == "hbonds" else {tuple(idx), tuple(reversed(idx))}
        hits = []
        for t in self._SECTIONS:
            for key, v in getattr(self, t):
                if t == section[0] and key in keys:
                    hits.append(at + section[1].index(name))
                at += len(v)
        if not hits:
            raise ValueError(f"gene {gene!r}: the {section[0]} section has no entry {where}")
        if which is None and len(hits) > 1:
            raise ValueError(f"gene {gene!r}: the {section[0]} section has {len(hits)} entries {where}; "
                             f"name one as '{name}:{where}#1' to '#{len(hits)}'")
        if which is not None and which >= len(hits):
            raise ValueError(f"gene {gene!r}: the {section[0]} section has {len(hits)} entries {where}")
        return np.array([hits[which or 0]])

    # Values a fit must keep positive (a term is undefined at or below 0: the QEq and van der
    # Waals shielding, the hardness, the bond energy's exponent), and values whose sign switches
    # a term on or off (a radius <= 0 switches its bond order off; an off-diagonal value <= 0
    # falls back to the mixed one; an exponent's sign turns decay into growth).
    _POSITIVE = {"gamma", "gamma_w", "eta", "r_vdw", "alpha", "p_be2"}
    _SIGN_KEPT = {"r_s", "r_pi", "r_pi_pi", "r_p", "r_pp", "D", "p_bo1", "p_bo2", "p_bo3", "p_bo4", "p_bo5",
                  "p_bo6"}

    def _check_gene_bounds(self, genes, bounds: np.ndarray) -> None:
        """Refuse bounds that let a gene make a term undefined or switch it on or off."""
        for gene, (lo, hi) in zip(genes, bounds):
            name = gene.split(":")[0]
            if name in self._POSITIVE and not lo > 0:
                raise ValueError(f"gene {gene!r}: bounds [{lo}, {hi}] reach {name} <= 0, where ReaxFF is undefined; "
                                 "keep the lower bound > 0")
            if name in self._SIGN_KEPT and self.get(gene) != 0 and not lo * hi > 0:
                raise ValueError(f"gene {gene!r}: bounds [{lo}, {hi}] cross 0, which switches the term on or off "
                                 f"(a {name} <= 0 means 'none' in the ffield format); keep them on one side of 0")
            if gene in ("general:12", "general:13"):
                raise ValueError(f"gene {gene!r}: the taper radii are not fitted (they set the neighbour lists)")

    def get(self, gene: str) -> float:
        """The value of a gene, e.g. ``p.get("p_be1:C-H")``."""
        return float(self.table[self.gene_slots(gene)[0]])

    def set(self, gene: str, value: float) -> None:
        """Set a gene's value in place, e.g. ``p.set("p_be1:C-H", -0.5)``."""
        t = self.table
        t[self.gene_slots(gene)] = float(value)
        new = self._with_table(t)
        self.general, self.atoms = new.general, new.atoms
        for sec in self._SECTIONS:
            setattr(self, sec, getattr(new, sec))

    def with_genes(self, genes, X: np.ndarray) -> np.ndarray:
        """Tables for a population: X (n, len(genes)) -> (n, len(table))."""
        out = np.repeat(self.table[None, :], X.shape[0], axis=0)
        for g, gene in enumerate(genes):
            out[:, self.gene_slots(gene)] = X[:, g:g + 1]
        return out

    def cutoff(self) -> float:
        """The neighbour-list reach evaluate needs: the bond (5 Å) and hydrogen-bond (7.5 Å)
        cut-offs and the taper radius."""
        return max(5.0, 7.5, float(self.general[12]))

    def _population(self, data, elements: list[str], tables: np.ndarray, want_forces: np.ndarray,
                    ref_forces: np.ndarray, n_threads: int, with_forces: bool = False):
        """Energies and force errors of each row of `tables` over `data` (typed by `elements`),
        charges equilibrated for each (set, structure), in C++."""
        parts = [self._with_table(t).tables(elements) for t in tables]
        stacked = [np.ascontiguousarray(np.stack([p[k].ravel() for p in parts])) for k in range(6)]
        vdw, lg = self.vdw_type(), self.lg
        return _core.forcefield.reaxff_population(data, *stacked, vdw, lg, None, 0.0, 5.0, 7.5, want_forces,
                                                  ref_forces, with_forces, n_threads)

    energy_unit = "kcal/mol"  # LAMMPS "real" units

    def _compute(self, data, elements: list[str], forces: bool, n_threads: int):
        n = data.n_structures
        e, _, f, _ = self._population(data, elements, self.table[None], np.zeros(n, np.uint8),
                                      np.zeros((data.n_atoms_total, 3)), n_threads, with_forces=bool(forces))
        return e[0], None if f is None else f[0]

    def _dataset_elements(self, present) -> list[str]:
        """The file's elements that a training set has, in the file's order (the dataset's types)."""
        return [e for e in self.elements if e in set(present)]

    # ---- the model's tables

    def tables(self, elements: list[str] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The C++ kernels' inputs for `elements` (default: all of the file's): the general
        parameters, a per-element table and a per-pair table, mixed as LAMMPS mixes them
        (arithmetic means of radii, geometric means of the 1-3 correction parameters, then the
        bond section and the off-diagonal section's positive values; valency_val set to
        valency_boc for elements lighter than 21 u, as LAMMPS does)."""
        elements = list(self.elements) if elements is None else list(elements)
        missing = [e for e in elements if e not in self.elements]
        if missing:
            raise ValueError(f"the force field has no parameters for element(s) {missing}; it has {self.elements}")
        if len(self.general) < _GENERAL_NEEDED:
            raise ValueError(f"the force field has {len(self.general)} general parameters; ReaxFF needs "
                             f"{_GENERAL_NEEDED}")
        idx = [self.elements.index(e) for e in elements]
        a = self.atoms[idx]
        col = {name: k for k, name in enumerate(ATOM_NAMES)}
        valency_val = a[:, col["valency_val"]].copy()
        first_row = (a[:, col["mass"]] < 21) & (valency_val != a[:, col["valency_boc"]])
        valency_val[first_row] = a[first_row, col["valency_boc"]]
        is_carbon = np.array([float(self.elements[i].upper() == "C") for i in idx])
        atom = np.column_stack([a[:, col["r_s"]], a[:, col["r_pi"]], a[:, col["r_pi_pi"]], a[:, col["valency"]],
                                valency_val, a[:, col["mass"]], a[:, col["valency_e"]], a[:, col["p_lp2"]],
                                a[:, col["p_ovun2"]], a[:, col["p_ovun5"]], is_carbon, a[:, col["valency_boc"]],
                                a[:, col["p_val3"]], a[:, col["p_val5"]], np.trunc(a[:, col["p_hbond"]]),
                                a[:, col["chi"]], 2.0 * a[:, col["eta"]]])
        n = len(idx)
        pair = np.zeros((n, n, len(_PAIR_FIELDS)))
        f = {name: k for k, name in enumerate(_PAIR_FIELDS)}
        with np.errstate(invalid="ignore", divide="ignore"):  # NaN or inf: refused by the kernel's check
            for out, radius in (("r_s", "r_s"), ("r_p", "r_pi"), ("r_pp", "r_pi_pi")):
                r = a[:, col[radius]]
                pair[:, :, f[out]] = 0.5 * (r[:, None] + r[None, :])
            for out, name in (("p_boc3", "b_o_132"), ("p_boc4", "b_o_131"), ("p_boc5", "b_o_133")):
                v = a[:, col[name]]
                pair[:, :, f[out]] = np.sqrt(v[:, None] * v[None, :])
            # van der Waals and Coulomb shielding, mixed as LAMMPS mixes them
            lg = a[:, 32:34] if self.lg else np.zeros((n, 2))
            for out, name, scale in (("D", "epsilon", 1.0), ("alpha_vdw", "alpha", 1.0), ("r_vdw", "r_vdw", 2.0),
                                     ("gamma_w", "gamma_w", 1.0), ("rcore", "rcore2", 1.0), ("ecore", "ecore2", 1.0),
                                     ("acore", "acore2", 1.0)):
                v = a[:, col[name]]
                pair[:, :, f[out]] = scale * np.sqrt(v[:, None] * v[None, :])
            g = a[:, col["gamma"]]
            pair[:, :, f["gamma_shield"]] = (g[:, None] * g[None, :]) ** -1.5
            pair[:, :, f["lgcij"]] = np.sqrt(lg[:, 0][:, None] * lg[:, 0][None, :])
            pair[:, :, f["lgre"]] = 2.0 * self.general[35] * np.sqrt(lg[:, 1][:, None] * lg[:, 1][None, :])
        where = {k: i for i, k in enumerate(idx)}
        bond_col = {name: k for k, name in enumerate(BOND_NAMES)}
        for (x, y), values in self.bonds:
            if x in where and y in where:
                for name in _BOND_FIELDS:
                    pair[where[x], where[y], f[name]] = pair[where[y], where[x], f[name]] = values[bond_col[name]]
        for (x, y), values in self.offdiagonal:
            if x in where and y in where:
                for name, k, scale in (("D", 0, 1.0), ("r_vdw", 1, 2.0), ("alpha_vdw", 2, 1.0), ("r_s", 3, 1.0),
                                       ("r_p", 4, 1.0), ("r_pp", 5, 1.0)):
                    if values[k] > 0:
                        pair[where[x], where[y], f[name]] = pair[where[y], where[x], f[name]] = scale * values[k]
                if self.lg and values[6] >= 0:
                    pair[where[x], where[y], f["lgcij"]] = pair[where[y], where[x], f["lgcij"]] = values[6]
        # valence angles: every parameter set of a triple (i, j, k), and of (k, j, i), in file order
        angle = np.zeros((n, n, n, 1 + _MAX_ANGLE_SETS * len(ANGLE_NAMES)))
        for (x, y, z), values in self.angles:
            if x in where and y in where and z in where:
                for key in {(where[x], where[y], where[z]), (where[z], where[y], where[x])}:
                    c = int(angle[key][0])
                    if c == _MAX_ANGLE_SETS:
                        raise ValueError(f"more than {_MAX_ANGLE_SETS} valence-angle entries for "
                                         f"{'-'.join(self.elements[v] for v in (x, y, z))}")
                    angle[key][1 + c * len(ANGLE_NAMES):1 + (c + 1) * len(ANGLE_NAMES)] = values
                    angle[key][0] = c + 1
        # torsions: an explicit i-j-k-l entry (and l-k-j-i) wins over a wildcard X-j-k-X one, whatever
        # their order in the file; a later wildcard replaces an earlier one (LAMMPS's rules)
        torsion = np.zeros((n, n, n, n, 6))
        explicit = np.zeros((n, n, n, n), dtype=bool)
        for (w, x, y, z), values in self.torsions:
            row = np.concatenate([[1.0], values[:5]])
            if w >= 0 and z >= 0:
                if all(v in where for v in (w, x, y, z)):
                    W, X, Y, Z = (where[v] for v in (w, x, y, z))
                    torsion[W, X, Y, Z] = torsion[Z, Y, X, W] = row
                    explicit[W, X, Y, Z] = explicit[Z, Y, X, W] = True
            elif x in where and y in where:
                X, Y = where[x], where[y]
                torsion[:, X, Y, :][~explicit[:, X, Y, :]] = row
                torsion[:, Y, X, :][~explicit[:, Y, X, :]] = row
        # hydrogen bonds (donor, H, acceptor): the last entry of a triple wins; r0_hb = -1: none
        hbond = np.zeros((n, n, n, len(HBOND_NAMES)))
        hbond[..., 0] = -1.0
        for (x, y, z), values in self.hbonds:
            if x in where and y in where and z in where:
                hbond[where[x], where[y], where[z]] = values
        return (np.ascontiguousarray(self.general), np.ascontiguousarray(atom),
                np.ascontiguousarray(pair.reshape(n * n, -1)), np.ascontiguousarray(angle.reshape(n**3, -1)),
                np.ascontiguousarray(torsion.reshape(n**4, -1)), np.ascontiguousarray(hbond.reshape(n**3, -1)))


_GENERAL_NEEDED = 39
_QEQ_DENSE_MAX = 3000  # atoms QEq solves by a dense factorisation (cpp reaxff.hpp kQeqDenseMax)
_MAX_ANGLE_SETS = 5  # as LAMMPS (REAX_MAX_3BODY_PARAM)
# The C++ pair table's fields, in order (cpp/mlsci/forcefield/reaxff.hpp, PairField).
_PAIR_FIELDS = ("r_s", "r_p", "r_pp", "p_bo1", "p_bo2", "p_bo3", "p_bo4", "p_bo5", "p_bo6", "De_s", "De_p",
                "De_pp", "p_be1", "p_be2", "v13cor", "ovc", "p_boc3", "p_boc4", "p_boc5", "p_ovun1", "D", "alpha_vdw",
                "r_vdw", "gamma_w", "gamma_shield", "rcore", "ecore", "acore", "lgcij", "lgre")
_BOND_FIELDS = ("p_bo1", "p_bo2", "p_bo3", "p_bo4", "p_bo5", "p_bo6", "De_s", "De_p", "De_pp", "p_be1", "p_be2",
                "v13cor", "ovc", "p_ovun1")


# LAMMPS's names of the energy terms (compute pair reaxff), in its order; emol and efi are always 0.
TERMS = ("eb", "ea", "elp", "emol", "ev", "epen", "ecoa", "ehb", "et", "eco", "ew", "ep", "efi", "eqeq")


@dataclasses.dataclass(frozen=True)
class ReaxFFResult:
    """ReaxFF of one structure (LAMMPS's "real" units: kcal/mol, Å, e).

    `energy` is the total; `terms` its parts, keyed as LAMMPS's ``compute pair reaxff`` names
    them: ``eb`` bonds (with the C-O triple-bond term), ``ea`` over/under-coordination, ``elp``
    lone pairs, ``ev`` valence angles, ``epen`` penalty, ``ecoa`` coalition, ``ehb`` hydrogen
    bonds, ``et`` torsions, ``eco`` four-body conjugation, ``ew`` van der Waals, ``ep`` Coulomb,
    ``eqeq`` the charges' polarisation energy (``emol`` and ``efi`` are 0, as in LAMMPS).
    `forces` (n_atoms x 3, kcal/mol/Å) are the exact negative gradient of `energy` at fixed
    charges, which with equilibrated charges is also what LAMMPS reports (it adds no dq/dx
    term). `charges` are the charges used. Bonds: one row per ordered pair (i, j) whose uncorrected
    bond order reaches the file's cut-off (every bond twice, once from each end): `i`, `j`,
    `vector` (from i to the image of j, Å), the corrected bond order `bo` and its `bo_s`, `bo_pi`,
    `bo_pi2` parts; `total_bond_order` per atom."""

    energy: float
    terms: dict
    forces: np.ndarray
    charges: np.ndarray
    i: np.ndarray
    j: np.ndarray
    vector: np.ndarray
    bo: np.ndarray
    bo_s: np.ndarray
    bo_pi: np.ndarray
    bo_pi2: np.ndarray
    total_bond_order: np.ndarray


def evaluate(structure: Structure, parameters: ReaxFFParameters, *, charges: ArrayLike | str = "qeq",
             qeq_tolerance: float | None = None, bond_cut: float = 5.0, hbond_cut: float = 7.5) -> ReaxFFResult:
    """The ReaxFF energy of `structure` (a `Structure` or an ASE ``Atoms``; molecules and periodic
    cells) under `parameters`, term by term as LAMMPS's ``pair_style reaxff`` computes it, with
    its default cut-offs (bonds 5 Å, hydrogen bonds 7.5 Å, the file's taper radius for the
    non-bonded terms). `charges`: "qeq" (default) equilibrates them as LAMMPS's ``fix
    qeq/reaxff`` does, or give one per atom (e), e.g. zeros for LAMMPS's ``checkqeq no``.
    `qeq_tolerance`: None (default) solves QEq exactly (a dense factorisation up to 3,000 atoms,
    conjugate gradients to 1e-12 above); a value iterates conjugate gradients with the diagonal
    preconditioner to that tolerance, with fix qeq/reaxff's criterion (its usual 1e-6 to
    1e-10), on the sparse matrix: linear memory for large cells.

    Returns a `ReaxFFResult`: energy, terms, forces (the exact gradient at fixed charges),
    charges and the bond orders."""
    if not isinstance(parameters, ReaxFFParameters):
        raise TypeError(f"parameters must be ReaxFFParameters, got {type(parameters).__name__}")
    if not isinstance(structure, Structure):
        if hasattr(structure, "get_chemical_symbols"):  # ASE Atoms
            structure = Structure(structure.get_chemical_symbols(), structure.get_positions(),
                                  np.array(structure.cell), tuple(structure.pbc))
        else:
            raise TypeError(f"structure must be a Structure or an ASE Atoms, got {type(structure).__name__}")
    tol = 0.0 if qeq_tolerance is None else float(
        check_scalar(qeq_tolerance, "qeq_tolerance", numbers.Real, min_val=0.0, max_val=1.0, include_min=False,
                     include_max=False))
    bond_cut = float(check_scalar(bond_cut, "bond_cut", numbers.Real, min_val=0.0, include_min=False))
    hbond_cut = float(check_scalar(hbond_cut, "hbond_cut", numbers.Real, min_val=0.0, include_min=False))
    if isinstance(charges, str):
        if charges != "qeq":
            raise ValueError(f"charges must be 'qeq' or one value per atom, got {charges!r}")
        q = None
    else:
        q = as_float_array(charges, "charges", ndim=1)
        if q.shape != (structure.n_atoms,):
            raise ValueError(f"charges must have one value per atom ({structure.n_atoms}), got shape {q.shape}")
    elements = sorted(set(structure.symbols), key=structure.symbols.index)
    tables = parameters.tables(elements)
    vdw_type = parameters.vdw_type()
    cutoff = max(bond_cut, hbond_cut, float(parameters.general[12]))
    _check_image_count(structure, cutoff, 0)
    types = np.array([elements.index(e) for e in structure.symbols], dtype=np.int32)
    counts = np.array([structure.n_atoms], dtype=np.int64)
    pbc = np.array([structure.pbc], dtype=np.uint8)
    data = _core.forcefield.Dataset(len(elements), cutoff, counts, types, np.ascontiguousarray(structure.positions),
                                    np.ascontiguousarray(structure.cell[None]), pbc, 1)
    i, j, vec, bo, bo_s, bo_pi, bo_pi2, total, q, e, forces = _core.forcefield.reaxff_bonds(
        data, 0, *tables, vdw_type, parameters.lg, q, tol, bond_cut, hbond_cut)
    eb, elp, ea, ev, epen, ecoa, et, eco, ehb, ew, ep, eqeq = (float(v) for v in e)
    terms = dict(eb=eb, ea=ea, elp=elp, emol=0.0, ev=ev, epen=epen, ecoa=ecoa, ehb=ehb, et=et, eco=eco, ew=ew,
                 ep=ep, efi=0.0, eqeq=eqeq)
    return ReaxFFResult(float(sum(terms.values())), terms, forces, q, i, j, vec, bo, bo_s, bo_pi, bo_pi2, total)
