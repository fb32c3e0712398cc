"""Training sets: reference structures (energies, forces) and relative energies, saved and
loaded as .npz, read and written as extended XYZ; their energies and forces under a parameter
set, computed in C++ with neighbour lists built once."""

from __future__ import annotations

import dataclasses
import io
import math
import numbers
import os
from typing import Any, Iterable, Sequence

import numpy as np

from .. import _core, _threads
from .._io import atomic_savez, atomic_write, check_meta, load_npz
from .._validation import as_float_array, check_scalar
from .parameters import _Parameters

_FORMAT = "mlsci_fast.TrainingSet/1"

# --------------------------------------------------------------------------------------------
# Training sets


@dataclasses.dataclass(eq=False)
class Structure:
    """One reference structure. `cell` rows are the cell vectors (Å); `energy` total or None;
    `forces` (n_atoms, 3) per Å or None, both in the energy unit of the parameters they are fitted
    with (eV for Tersoff, kcal/mol for ReaxFF); `weight` scales its energy and force errors."""

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
    """A relative energy: sum of coeff * E(structure) over `terms` should equal `reference`."""

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
        """Ask that sum(coeff * E[structure]) over `terms` equals `reference` (in the energy unit of
        the parameters), e.g. a point of a dissociation curve relative to its minimum:
        ``{"SiC_r2.1": 1, "SiC_r1.8": -1}``, or a reaction energy."""
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
            self._cache[key] = _core.forcefield.Dataset(len(elements), float(cutoff), counts, types, pos, cells, pbc,
                                                  _threads.resolve(n_threads))
        return self._cache[key]

    def compute(self, parameters: _Parameters, *, forces: bool = True,
                n_threads: int | None = None) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """Energies (one per structure) and forces (a list of (n_atoms, 3) arrays, per Å) that
        `parameters` give, in their `energy_unit` (eV for Tersoff, kcal/mol for ReaxFF, whose
        charges are equilibrated for each structure)."""
        from .reaxff import ReaxFFParameters

        if not isinstance(parameters, (_Parameters, ReaxFFParameters)):
            raise TypeError("parameters must be TersoffParameters or ReaxFFParameters")
        elements = parameters._dataset_elements(self.elements)
        data = self._dataset(elements, parameters.cutoff(), n_threads)
        e, f = parameters._compute(data, elements, bool(forces), _threads.resolve(n_threads))
        if f is None:
            return e, None
        split = np.cumsum([s.n_atoms for s in self.structures])[:-1]
        return e, np.split(f, split)

    def errors(self, parameters: _Parameters, *, n_threads: int | None = None) -> dict[str, float]:
        """Root-mean-square errors of `parameters` against the references: energy per atom,
        force components (per Å), relative energies, in the parameters' energy unit;
        NaN where there is none."""
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

        with resources.as_file(resources.files("mlsci_fast.forcefield") / "data" / "sic_tersoff1994.npz") as p:
            return cls.load(p)

    @classmethod
    def cho_reaxff_reference(cls) -> "TrainingSet":
        """The C/H/O ReaxFF training set that ships with the package, in kcal/mol: LAMMPS with
        ``ffield.reax.cho`` (Chenoweth, van Duin & Goddard 2008) and QEq on relaxed molecules,
        C-H, C-C and O-H dissociation curves, H-C-H and H-O-H angle and H-C-C-H torsion scans
        (relative to the relaxed molecules), six reaction energies (H abstraction CH4 + OH ->
        CH3 + H2O, C2H6 -> 2 CH3, ...) and rattled molecules with forces (made by
        ``examples/reaxff_reference.py``)."""
        from importlib import resources

        with resources.as_file(resources.files("mlsci_fast.forcefield") / "data" / "cho_reaxff.npz") as p:
            return cls.load(p)
