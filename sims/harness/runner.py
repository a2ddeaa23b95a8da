"""Running an experiment into a run directory: the :class:`RunContext` and :func:`run_experiment`.

``run_experiment("jepa", scale="quick", seeds=3, out="runs/jepa-quick")`` builds the preset Config, hands
the experiment a :class:`Context` (run directory, seeds, executor, progress, resumable sweeps), and
stores ``config.json``, ``meta.json``, ``results.npz``/``results.json``, ``claims.json`` and the figures
(layout: :mod:`sims.harness.store`). Running again with the same ``out`` reuses every sweep seed the previous
(possibly interrupted) run finished; ``fresh=True`` starts from an empty directory.
:func:`reanalyse` recomputes claims and figures from a stored run without running anything.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
import sys
import time
import traceback
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .compilation import CompileStats
from .evidence import attach_tests
from .executor import Executor, make_executor
from .experiment import SCALES, Claim, Config, Experiment, get
from .store import RunStore, normalize, now, run_metadata

__all__ = ["Context", "RunRecord", "SweepError", "DEFAULT_SEEDS", "run_experiment", "reanalyse", "check_seeds"]

#: number of seeds used when ``run_experiment(seeds=None)``, per scale
DEFAULT_SEEDS = {"quick": 2, "default": 5, "paper": 10}


class SweepError(RuntimeError):
    """A sweep configuration failed; the results of the others were stored first.

    Attributes:
        failures: ``{config key: exception}`` for every configuration that raised.
    """

    def __init__(self, msg: str, failures: dict[str, BaseException]):
        super().__init__(msg)
        self.failures = failures


def check_seeds(seeds: Any, name: str = "seeds") -> tuple[int, ...]:
    """``int n`` -> ``(0, ..., n-1)``; a sequence of distinct ints -> that tuple.

    Raises:
        ValueError: for a count < 1, an empty list, repeated seeds; TypeError for non-integers.
    """
    import numpy as np

    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"{name} must be a positive count or a list of ints, got {seeds!r}")
        return tuple(range(int(seeds)))
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise TypeError(f"{name} must be a positive count or a list of ints, got {seeds!r}")
    out = tuple(seeds)
    if not out:
        raise ValueError(f"{name} must not be empty")
    if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) for s in out):
        raise TypeError(f"{name} must hold ints, got {out!r}")
    out = tuple(int(s) for s in out)
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must be distinct, got {out!r}")
    return out


_BARS = [True]  # progress bars allowed in this process (off in the report's worker processes)


def _interactive() -> bool:
    return _BARS[0] and bool(getattr(sys.stderr, "isatty", lambda: False)())


class Context:
    """The :class:`~sims.harness.experiment.RunContext` given to ``Experiment.run``.

    Attributes:
        out: the run directory (``pathlib.Path``).
        seeds: the run's seeds.
        scale: ``"quick"``, ``"default"`` or ``"paper"``.
        executor: where :meth:`sweep` sends its tasks (also usable directly).
        store: the :class:`~sims.harness.store.RunStore` of ``out``.
    """

    def __init__(self, out: str | os.PathLike, *, seeds: Sequence[int], scale: str,
                 executor: Executor | None = None, progress: bool = True):
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
        self.store = RunStore(out)
        self.out = self.store.root
        self.seeds = check_seeds(seeds)
        self.scale = scale
        self.executor = executor if executor is not None else make_executor()
        self.verbose = bool(progress)
        self._bars = self.verbose and _interactive()

    def progress(self, iterable: Iterable, *, desc: str = "", total: int | None = None):
        """``iterable`` wrapped in a tqdm bar (silent when not interactive or ``progress=False``)."""
        from tqdm.auto import tqdm

        return tqdm(iterable, desc=desc, total=total, disable=not self._bars, leave=False, dynamic_ncols=True)

    def log(self, msg: str) -> None:
        """Append ``msg`` to ``<out>/log.txt`` and print it (to stderr) when verbose."""
        self.store.log(msg)
        if self.verbose:
            from tqdm.auto import tqdm

            tqdm.write(f"[{self.out.name}] {msg}", file=sys.stderr)

    def _note(self, msg: str) -> None:
        """Log to the file; print only where no progress bar shows the same."""
        self.store.log(msg)
        if self.verbose and not self._bars:
            print(f"[{self.out.name}] {msg}", file=sys.stderr, flush=True)

    def sweep(self, fn: Callable[[Any, Sequence[int]], Sequence[Any]], configs: Mapping[str, Any],
              seeds: Sequence[int] | None = None, *, desc: str = "") -> dict[str, list[Any]]:
        """Evaluate ``fn(cfg, seeds)`` per configuration, resumably.

        For each ``key, cfg`` of ``configs`` the seeds already stored under
        ``<out>/units/<key>/<hash(fn, key, cfg)>/`` are reused, and ``fn(cfg, missing_seeds)`` is
        submitted once (through the executor) for the rest; it must return one result per seed (a
        pytree of arrays / numbers), each stored atomically as soon as its call returns.

        Args:
            fn: ``fn(cfg, seeds) -> [result per seed]``; a module-level function for a Dask executor.
            configs: ``{key: cfg}``; keys are ``str``.
            seeds: defaults to the run's seeds.
            desc: label of the progress bar.

        Returns:
            ``{key: [result for seed in seeds]}``, every result as read back from the store (numpy).

        Raises:
            SweepError: if some configuration's call raised (chained to the first exception); every
            other configuration's results are stored before it is raised.
            ValueError / TypeError: for bad ``configs`` / ``seeds``, or ``fn`` returning the wrong number
            of results.
        """
        if not callable(fn):
            raise TypeError(f"sweep: fn must be callable, got {type(fn).__name__}")
        if not isinstance(configs, Mapping):
            raise TypeError(f"sweep: configs must be a mapping key -> config, got {type(configs).__name__}")
        bad = [k for k in configs if not isinstance(k, str)]
        if bad:
            raise TypeError(f"sweep: configs keys must be str, got {bad!r}")
        seeds = self.seeds if seeds is None else check_seeds(seeds)
        name = desc or getattr(fn, "__name__", "sweep")
        results: dict[str, dict[int, Any]] = {k: {} for k in configs}
        pending: dict[Any, tuple[str, list[int]]] = {}
        for key, cfg in configs.items():
            for s in self.store.stored_seeds(fn, key, cfg, seeds):
                try:
                    results[key][s] = self.store.load_unit(fn, key, cfg, s)
                except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:  # unreadable: compute again
                    self.log(f"{name}: ignoring unreadable stored result {key!r} seed {s}: {e}")
        todo = {k: [s for s in seeds if s not in results[k]] for k in configs}
        n_done = sum(len(v) for v in results.values())
        n_todo = sum(len(v) for v in todo.values())
        if n_done:
            self.log(f"{name}: reusing {n_done} stored seed result(s), computing {n_todo}")
        for key, missing in todo.items():
            if missing:
                pending[self.executor.submit(fn, configs[key], list(missing))] = (key, missing)
        failures: dict[str, BaseException] = {}
        from tqdm.auto import tqdm

        with tqdm(desc=name, total=n_done + n_todo, initial=n_done, disable=not self._bars, leave=False,
                  dynamic_ncols=True) as bar:
            for fut in self.executor.as_completed(list(pending)):
                key, missing = pending[fut]
                try:
                    out = fut.result()
                    if isinstance(out, (str, bytes, Mapping)) or not isinstance(out, Sequence) \
                            or len(out) != len(missing):
                        raise ValueError(f"sweep: {getattr(fn, '__name__', fn)}(cfg[{key!r}], seeds={missing}) must "
                                         f"return a list of {len(missing)} per-seed results, got {_short(out)}")
                    for s, r in zip(missing, out):
                        self.store.save_unit(fn, key, configs[key], s, r)
                        results[key][s] = normalize(r)
                    self._note(f"{name}: {key} done ({len(missing)} seed(s))")
                except Exception as e:  # noqa: BLE001 - re-raised below, after the others are stored
                    failures[key] = e
                    self.log(f"{name}: config {key!r} failed: {type(e).__name__}: {e}")
                bar.update(len(missing))
        if failures:
            first = next(iter(failures))
            raise SweepError(f"sweep {name!r}: {len(failures)} of {len(configs)} configuration(s) failed "
                             f"({sorted(failures)}); the others are stored in {self.out}",
                             failures) from failures[first]
        return {k: [results[k][s] for s in seeds] for k in configs}


def _short(x: Any) -> str:
    r = repr(x)
    return r if len(r) < 80 else r[:77] + "..."


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """What :func:`run_experiment` did.

    Attributes:
        name: the experiment.
        out: the run directory.
        claims: the claims, computed from the stored results.
        figures: paths of the PNGs.
        seconds: wall time of the whole run (run + claims + plots).
        scale, seeds: as run.
        compile: XLA compilations during the run (:class:`~sims.harness.compilation.CompileStats`: ``compiles``,
            ``compile_s``, ``trace_s``, ``lower_s``, ``cache_hits``, ``saved_s``), also in ``meta.json``.
    """

    name: str
    out: pathlib.Path
    claims: list[Claim]
    figures: list[pathlib.Path]
    seconds: float
    scale: str = "default"
    seeds: tuple[int, ...] = ()
    compile: Mapping[str, float] | None = None

    @property
    def n_hold(self) -> int:
        return sum(c.holds for c in self.claims)


def _resolve(name_or_exp: str | Experiment) -> Experiment:
    if isinstance(name_or_exp, Experiment):
        return name_or_exp
    if isinstance(name_or_exp, str):
        return get(name_or_exp)
    raise TypeError(f"name_or_exp must be an experiment name or an Experiment, got {type(name_or_exp).__name__}")


def _finish(
    exp: Experiment, config: Config, results: Mapping[str, Any], store: RunStore
) -> tuple[list[Claim], list[pathlib.Path]]:
    claims = list(exp.claims(config, results))
    bad = [c for c in claims if not isinstance(c, Claim)]
    if bad:
        raise TypeError(f"{exp.name}.claims must return Claim objects, got {type(bad[0]).__name__}")
    claims = attach_tests(claims)  # the tests marked @pytest.mark.claim(<id>) join each record's links
    store.write_json("claims.json", [c.to_dict() for c in claims])
    store.figures.mkdir(parents=True, exist_ok=True)
    figures = [pathlib.Path(p) for p in (exp.plots(config, results, store.figures) or [])]
    missing = [str(p) for p in figures if not p.exists()]
    if missing:
        raise FileNotFoundError(f"{exp.name}.plots returned paths that do not exist: {missing}")
    return claims, figures


def run_experiment(name_or_exp: str | Experiment, *, scale: str = "default", seeds: int | Sequence[int] | None = None,
                   out: str | os.PathLike | None = None, executor: Executor | None = None, progress: bool = True,
                   fresh: bool = False, config: Config | None = None) -> RunRecord:
    """Run one experiment into a run directory.

    Args:
        name_or_exp: a registered name or an :class:`~sims.harness.experiment.Experiment`.
        scale: the Config preset, ``"quick"``, ``"default"`` or ``"paper"``.
        seeds: a count ``n`` (seeds ``0..n-1``) or a list of ints; ``None``: ``DEFAULT_SEEDS[scale]``.
        out: the run directory; default ``runs/<name>-<scale>``.
        executor: from :func:`~sims.harness.executor.make_executor`; default in-process (closed afterwards;
            a given executor is left open).
        progress: progress bars (when interactive) and log lines on stderr.
        fresh: delete the run directory first instead of reusing its stored sweep results.
        config: run this Config instead of ``config_cls.preset(scale)`` (must be of ``config_cls``).

    Returns:
        :class:`RunRecord`; ``<out>/meta.json`` says ``"status": "ok"``.

    Raises:
        ValueError / TypeError: for bad arguments, before any work (and for ``fresh=True`` on a non-empty
        directory that is not a run directory). Whatever the experiment raises, after recording
        ``"status": "failed"`` and the traceback in ``meta.json`` (finished sweep seeds stay stored).
    """
    exp = _resolve(name_or_exp)
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    seeds = check_seeds(DEFAULT_SEEDS[scale] if seeds is None else seeds)
    if config is None:
        config = exp.config_cls.preset(scale)
    elif not isinstance(config, exp.config_cls):
        raise TypeError(f"config must be a {exp.config_cls.__name__}, got {type(config).__name__}")
    store = RunStore(out if out is not None else pathlib.Path("runs") / f"{exp.name}-{scale}")
    if fresh and store.root.exists():
        if any(store.root.iterdir()) and not store.is_run_dir():
            raise ValueError(f"fresh=True: {store.root} is not empty and is not a run directory; refusing to delete it")
        shutil.rmtree(store.root)
    store.root.mkdir(parents=True, exist_ok=True)

    own = executor is None
    executor = make_executor() if own else executor
    t0, started = time.perf_counter(), now()
    meta = dict(experiment=exp.name, paper=exp.paper, scale=scale, seeds=list(seeds), started=started,
                executor=getattr(executor, "description", repr(executor)))
    store.write_json("config.json", {"experiment": exp.name, "scale": scale, "config_class": type(config).__qualname__,
                                     "config": config.to_dict()})
    store.write_json("meta.json", run_metadata(**meta, status="running"))
    ctx = Context(store.root, seeds=seeds, scale=scale, executor=executor, progress=progress)
    compile_stats = CompileStats()
    try:
        ctx.log(f"run {exp.name} scale={scale} seeds={list(seeds)} on {meta['executor']}")
        with compile_stats:
            results = exp.run(config, ctx)
            if not isinstance(results, Mapping):
                raise TypeError(f"{exp.name}.run must return a dict, got {type(results).__name__}")
            store.save_results(results)
            claims, figures = _finish(exp, config, normalize(dict(results)), store)
    except BaseException as e:
        store.write_json("meta.json", run_metadata(**meta, status="failed", finished=now(),
                                                   seconds=time.perf_counter() - t0,
                                                   error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc()))
        raise
    finally:
        if own:
            executor.shutdown()
    seconds = time.perf_counter() - t0
    store.write_json("meta.json", run_metadata(**meta, status="ok", finished=now(), seconds=seconds,
                                               claims_hold=sum(c.holds for c in claims), claims_total=len(claims),
                                               compile=compile_stats.result,
                                               figures=[str(p.relative_to(store.root)) if p.is_relative_to(store.root)
                                                        else str(p) for p in figures]))
    ctx.log(f"done in {seconds:.1f} s: {sum(c.holds for c in claims)}/{len(claims)} claims hold; "
            f"{compile_stats.result['compiles']} XLA compilations, {compile_stats.result['compile_s']:.1f} s")
    return RunRecord(exp.name, store.root, claims, figures, seconds, scale, seeds, compile_stats.result)


def _config_from(cls: type[Config], fields: Mapping[str, Any]) -> Config:
    """Rebuild a Config from its JSON fields (JSON lists become tuples, as frozen configs use)."""

    def tup(x):
        return tuple(tup(v) for v in x) if isinstance(x, list) else x

    return cls(**{k: tup(v) for k, v in fields.items()})


def reanalyse(out: str | os.PathLike, experiment: str | Experiment | None = None) -> RunRecord:
    """Recompute claims and figures of a stored run from ``results.npz`` and ``config.json`` (no running).

    Args:
        out: a run directory written by :func:`run_experiment`.
        experiment: the experiment (default: the one named in ``config.json``).

    Returns:
        :class:`RunRecord` with the recomputed claims (``claims.json`` and figures rewritten).

    Raises:
        FileNotFoundError: if ``out`` holds no finished run.
    """
    store = RunStore(out)
    if not (store.root / "results.npz").exists():
        raise FileNotFoundError(f"reanalyse: no results.npz in {store.root}")
    cfg = store.read_json("config.json")
    exp = _resolve(experiment if experiment is not None else cfg["experiment"])
    config = _config_from(exp.config_cls, cfg["config"])
    t0 = time.perf_counter()
    claims, figures = _finish(exp, config, store.load_results(), store)
    meta = store.read_json("meta.json") if (store.root / "meta.json").exists() else {}
    return RunRecord(exp.name, store.root, claims, figures, time.perf_counter() - t0, cfg.get("scale", "default"),
                     tuple(meta.get("seeds", ())))
