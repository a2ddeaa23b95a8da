"""The experiment contract: configs with presets, claims, and the registry.

An experiment module (``sims/<paper>.py``, or a package ``sims/<paper>/`` for several sub-experiments) defines a
:class:`Config` subclass (a frozen dataclass with ``PRESETS`` for ``quick`` / ``default`` / ``paper``) and an
:class:`Experiment` subclass, and calls :func:`register` on an instance at import time. the registry imports every
experiment module, so ``python -m sims list`` sees them all.

The runner (:mod:`sims.harness.runner`) gives :meth:`Experiment.run` a :class:`RunContext`: the run directory,
the executor, progress, and :meth:`RunContext.sweep`, which evaluates ``fn(config, seeds)`` for each
configuration, reusing the seeds an interrupted run already finished.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Protocol

__all__ = ["KINDS", "Claim", "Config", "Experiment", "RunContext", "register", "registry", "get", "SCALES"]

SCALES = ("quick", "default", "paper")


def _jsonable(x):
    """Plain-JSON version of numbers, arrays and nested containers."""
    try:
        import numpy as np

        if isinstance(x, np.ndarray):
            return _jsonable(x.tolist())
        if isinstance(x, np.generic):
            return _jsonable(x.item())
    except ImportError:  # pragma: no cover
        pass
    if isinstance(x, float):
        return x if math.isfinite(x) else str(x)
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    return x


KINDS = ("claim", "check")


@dataclasses.dataclass(frozen=True)
class Claim:
    """One record of an experiment's evidence: a prediction checked against a measurement.

    Attributes:
        id: stable identifier, ``"<experiment>.<short-name>"``; the same key names the proof, tests and
            figure behind the record (see ``links``).
        statement: the claim in plain words, for a reader who has not read the paper.
        predicted: the predicted value (number, list, or a short string such as ``"A before B"``).
        measured: the measured value, same kind as ``predicted``.
        tolerance: the allowed discrepancy, a number or a description (``"sign"``, ``"order"``); say in
            ``statement`` or ``detail`` whether a number is absolute or relative.
        holds: whether the measurement agrees with the prediction within the tolerance.
        details: anything else worth keeping (per-seed values, spreads, units).
        kind: ``"claim"`` -- a prediction of the paper or of the theory that the measurement could
            refute -- or ``"check"`` -- a consistency check that holds by construction (an identity
            evaluated numerically). They are counted separately.
        links: ``{"theory": [dotted names], "proof": proof id, "tests": [pytest node ids],
            "figures": [figure names]}`` -- the evidence behind the record.
        finding: required when the record does not hold: what was measured, why it departs from the
            prediction, and whether that is a departure from the paper, a limit of the scale, or an open
            question.
        detail: the technical statement (notation, protocol), shown on demand beside ``statement``.
    """

    id: str
    statement: str
    predicted: Any
    measured: Any
    tolerance: Any
    holds: bool
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    kind: str = "claim"
    links: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    finding: str = ""
    detail: str = ""

    def __post_init__(self):
        if not isinstance(self.holds, bool):
            object.__setattr__(self, "holds", bool(self.holds))
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r} (claim {self.id!r})")
        bad = sorted(set(self.links) - {"theory", "proof", "tests", "figures"})
        if bad:
            raise ValueError(f"links: unknown key(s) {bad} in claim {self.id!r}; "
                             "allowed: theory, proof, tests, figures")

    def to_dict(self) -> dict:
        return _jsonable(dataclasses.asdict(self))


@dataclasses.dataclass(frozen=True)
class Config:
    """Base of experiment configurations: a frozen dataclass plus named presets.

    Subclasses add fields with defaults equal to the ``default`` scale and set ``PRESETS`` to a dict
    ``scale -> {field: value}`` of overrides; :meth:`preset` builds one.
    """

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"quick": {}, "default": {}, "paper": {}}

    @classmethod
    def preset(cls, scale: str = "default", **overrides) -> Config:
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
        fields = {f.name for f in dataclasses.fields(cls)}
        bad = sorted(set(overrides) - fields)
        if bad:
            raise ValueError(f"unknown config field(s) {bad} for {cls.__name__}; fields: {sorted(fields)}")
        kw = dict(cls.PRESETS.get(scale, {}))
        kw.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**kw)

    def to_dict(self) -> dict:
        return _jsonable(dataclasses.asdict(self))


class RunContext(Protocol):
    """What the runner hands to :meth:`Experiment.run` (implemented in ``sims.harness.runner``)."""

    out: Any  # pathlib.Path of the run directory
    seeds: Sequence[int]
    scale: str

    def sweep(
        self,
        fn: Callable[[Any, Sequence[int]], Sequence[Any]],
        configs: Mapping[str, Any],
        seeds: Sequence[int] | None = None,
        *,
        desc: str = "",
    ) -> dict[str, list[Any]]:
        """``{key: [fn(configs[key], [seed])... per seed]}``: ``fn(cfg, seeds)`` returns one result per
        seed (a pytree of numpy arrays / floats), is called once per configuration with the seeds not
        yet stored, through the executor; each seed's result is stored atomically as it arrives and
        reused on a re-run. ``fn`` must be a picklable module-level function for a Dask executor."""
        ...

    def progress(self, iterable, *, desc: str = "", total: int | None = None):
        """Wrap an iterable with a progress bar (tqdm), silent when not interactive."""
        ...

    def log(self, msg: str) -> None: ...


class Experiment(abc.ABC):
    """One paper's reproduction: run, claims, plots.

    Subclasses set ``name`` (CLI name), ``paper`` (short citation), ``description`` and
    ``config_cls``, and implement the three methods.
    """

    name: ClassVar[str]
    paper: ClassVar[str]
    description: ClassVar[str] = ""
    config_cls: ClassVar[type[Config]]
    #: The three opening paragraphs of the experiment's report section, in plain words: what the paper
    #: claims, what is reproduced here and at which scale, and where this departs from the paper.
    paper_claims: ClassVar[str] = ""
    reproduced: ClassVar[str] = ""
    departures: ClassVar[str] = ""
    #: ``{figure stem: caption}``: what each figure shows and what its line styles mean.
    captions: ClassVar[Mapping[str, str]] = {}

    def intro_paragraphs(self) -> dict[str, str]:
        """``{"paper", "reproduced", "departures"}`` paragraphs for the report (empty strings when unset)."""
        return {"paper": self.paper_claims, "reproduced": self.reproduced, "departures": self.departures}

    @abc.abstractmethod
    def run(self, config: Config, ctx: RunContext) -> dict[str, Any]:
        """Compute everything (theory curves and experiments). Returns a dict of numpy arrays /
        numbers / nested dicts that the runner saves as ``results.npz``/``results.json``."""

    @abc.abstractmethod
    def claims(self, config: Config, results: Mapping[str, Any]) -> list[Claim]:
        """Predicted against measured, from ``results`` alone (so claims can be recomputed)."""

    @abc.abstractmethod
    def plots(self, config: Config, results: Mapping[str, Any], outdir) -> list:
        """Write figures (PNG and PDF, through ``sims.harness.plotting.save``) into ``outdir``; return the
        paths of the PNGs."""


_REGISTRY: dict[str, Experiment] = {}


def register(exp: Experiment) -> Experiment:
    """Add an experiment instance to the registry (idempotent for the same class)."""
    if not isinstance(exp, Experiment):
        raise TypeError(f"exp must be an Experiment instance, got {type(exp).__name__}")
    prev = _REGISTRY.get(exp.name)
    if prev is not None and type(prev) is not type(exp):
        raise ValueError(f"experiment name {exp.name!r} registered twice ({type(prev).__name__}, {type(exp).__name__})")
    _REGISTRY[exp.name] = exp
    return exp


_MACHINERY = ("harness", "substrate")  # sims packages that are machinery, not experiments


def _discover() -> None:
    """Import every experiment of ``sims`` (each public module or package other than the machinery
    registers itself at import)."""
    import importlib
    import pkgutil

    import sims

    for m in pkgutil.iter_modules(sims.__path__):
        if not m.name.startswith("_") and m.name not in _MACHINERY:
            importlib.import_module(f"sims.{m.name}")


def registry() -> dict[str, Experiment]:
    """Registered experiments by name (every public ``sims`` module is imported first)."""
    _discover()
    return dict(_REGISTRY)


def get(name: str) -> Experiment:
    _discover()
    if name not in _REGISTRY:
        raise ValueError(f"experiment: unknown name {name!r}; registered: {sorted(_REGISTRY)}")
    return _REGISTRY[name]
