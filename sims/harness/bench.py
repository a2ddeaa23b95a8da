"""Benchmark harness: ``python -m sims bench`` runs every registered benchmark and prints speed ratios.

A paper module registers a benchmark at import time; the function measures a baseline and a candidate
in the same process (so the ratio does not depend on the machine) and returns one or more results::

    from .bench import BenchResult, register_bench, timeit

    def _bench_ode(quick: bool) -> list[BenchResult]:
        n = 256 if quick else 4096
        base = timeit(lambda: scipy_loop(n), repeat=1, warmup=0)
        cand = timeit(lambda: diffrax_batch(n), repeat=3, warmup=1)   # warmup compiles
        return [BenchResult(f"ODE, {n} modes: diffrax batch vs scipy loop", base, cand, target_ratio=20.0)]

    register_bench("jepa.ode", _bench_ode)

The ratio is ``baseline_s / candidate_s`` (> 1: the candidate is faster); a target is met when the ratio
reaches ``target_ratio``.

**Fair baselines.** ``baseline_s`` is what a competent user of the field would write without this package
(vectorised numpy/scipy; for training, a hand-written jitted JAX loop, and the natural PyTorch loop when
``torch`` is installed), measured in the same run with the same statistic as the candidate: the median of
``repeat >= 3`` calls after the warm-up, from :func:`measure`. A naive loop (the old baseline) may be kept as a
second column (``naive_s``); compilation is reported apart from run time (``compile_s``: the first, compiling
call minus the median). ``python -m sims bench --experiments`` also times every experiment at default scale,
cold (empty compilation cache) and warm.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["BenchResult", "Timing", "register_bench", "benches", "timeit", "measure", "run_benches",
           "format_bench_table", "experiment_times"]


@dataclasses.dataclass(frozen=True)
class BenchResult:
    """One measured comparison.

    Attributes:
        name: what is compared (shown in the table).
        baseline_s, candidate_s: seconds per call (from :func:`timeit`).
        target_ratio: the speed-up ``baseline_s / candidate_s`` the candidate must reach.
        note: sizes, devices, caveats.
        error: set (and the times NaN) when the benchmark function raised.
        naive_s: seconds per call of the naive loop (a second, unfair baseline), or ``None``.
        compile_s: the candidate's compilation seconds (first call minus a warm call), or ``None``.
        baseline: what the fair baseline is (shown in the notes).
    """

    name: str
    baseline_s: float
    candidate_s: float
    target_ratio: float
    note: str = ""
    error: str | None = None
    naive_s: float | None = None
    compile_s: float | None = None
    baseline: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"BenchResult: name must be a non-empty str, got {self.name!r}")
        if self.error is None:
            for n in ("baseline_s", "candidate_s"):
                v = getattr(self, n)
                if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                    raise ValueError(f"BenchResult {self.name!r}: {n} must be a positive time in seconds, got {v!r}")
        if not (isinstance(self.target_ratio, (int, float)) and self.target_ratio > 0):
            raise ValueError(f"BenchResult {self.name!r}: target_ratio must be positive, got {self.target_ratio!r}")

    @property
    def ratio(self) -> float:
        """``baseline_s / candidate_s``."""
        return self.baseline_s / self.candidate_s if self.error is None else math.nan

    @property
    def naive_ratio(self) -> float:
        """``naive_s / candidate_s`` (NaN without a naive time)."""
        return self.naive_s / self.candidate_s if self.error is None and self.naive_s else math.nan

    @property
    def met(self) -> bool:
        return self.error is None and self.ratio >= self.target_ratio


_BENCHES: dict[str, Callable[[bool], list[BenchResult]]] = {}


def _ident(fn: Any) -> Any:
    return (getattr(fn, "__module__", None), getattr(fn, "__qualname__", None) or id(fn))


def register_bench(name: str, fn: Callable[[bool], list[BenchResult]]) -> Callable[[bool], list[BenchResult]]:
    """Register ``fn(quick) -> [BenchResult, ...]`` under ``name`` (re-registering the same function is a
    no-op; returns ``fn``, so it also works as ``@functools.partial(register_bench, "name")``).

    Raises:
        ValueError: for an empty name or a name taken by another function. TypeError: ``fn`` not callable.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"register_bench: name must be a non-empty str, got {name!r}")
    if not callable(fn):
        raise TypeError(f"register_bench: fn must be callable, got {type(fn).__name__}")
    prev = _BENCHES.get(name)
    if prev is not None and _ident(prev) != _ident(fn):
        raise ValueError(f"register_bench: name {name!r} already registered for {prev!r}")
    _BENCHES[name] = fn
    return fn


def benches() -> dict[str, Callable[[bool], list[BenchResult]]]:
    """Registered benchmarks (every experiment module is imported first; the substrate's own benchmark is
    registered by ``sims.substrate``)."""
    from .experiment import _discover

    _discover()
    import sims.substrate  # noqa: F401

    return dict(_BENCHES)


def _block(x: Any) -> Any:
    if "jax" in sys.modules:
        import jax

        return jax.block_until_ready(x)
    return x


@dataclasses.dataclass(frozen=True)
class Timing:
    """What :func:`measure` saw: ``first_s`` (the first call: compilation included), ``median_s`` (median of
    the timed calls after it), ``times`` (those calls)."""

    first_s: float
    median_s: float
    times: tuple[float, ...]

    @property
    def compile_s(self) -> float:
        """First call minus a warm call (compilation and first-touch costs), at least 0."""
        return max(0.0, self.first_s - self.median_s)


def measure(fn: Callable[[], Any], *, repeat: int = 3) -> Timing:
    """Time ``fn()``: once cold (``first_s``), then ``repeat`` more calls (``median_s``: their median).

    The same procedure serves the candidate and the baselines, so both sides get the same statistic.
    JAX outputs are waited for (``jax.block_until_ready``).

    Raises:
        ValueError: for ``repeat < 1``.
    """
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"measure: repeat must be a positive int, got {repeat!r}")
    t0 = time.perf_counter()
    _block(fn())
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        _block(fn())
        times.append(time.perf_counter() - t0)
    return Timing(first, float(statistics.median(times)), tuple(times))


def timeit(fn: Callable[[], Any], *, repeat: int = 3, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeat`` calls, after ``warmup`` untimed calls (JIT compilation).

    JAX outputs are waited for (``jax.block_until_ready`` on the returned tree), so asynchronous dispatch
    does not hide work. Use the same ``repeat`` for both sides of a comparison (the median of >= 3 is the
    statistic of ``python -m sims bench``).

    Raises:
        ValueError: for ``repeat < 1`` or ``warmup < 0``.
    """
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"timeit: repeat must be a positive int, got {repeat!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"timeit: warmup must be a non-negative int, got {warmup!r}")
    for _ in range(warmup):
        _block(fn())
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        _block(fn())
        times.append(time.perf_counter() - t0)
    return float(statistics.median(times))


def run_benches(quick: bool = False, only: Sequence[str] | None = None, *, echo: bool = True) -> list[BenchResult]:
    """Run the registered benchmarks (all, or those named in ``only``); a benchmark that raises gives
    one result with ``error`` set and the others still run.

    Raises:
        ValueError: for a name in ``only`` that is not registered.
    """
    reg = benches()
    names = sorted(reg) if not only else list(only)
    unknown = [n for n in names if n not in reg]
    if unknown:
        raise ValueError(f"run_benches: unknown benchmark(s) {unknown}; registered: {sorted(reg)}")
    out: list[BenchResult] = []
    for n in names:
        if echo:
            print(f"bench {n} ...", file=sys.stderr, flush=True)
        try:
            res = list(reg[n](quick))
            if not all(isinstance(r, BenchResult) for r in res):
                raise TypeError(f"benchmark {n!r} must return a list of BenchResult")
            out += res
        except Exception as e:  # noqa: BLE001 - reported in the table
            if echo:
                traceback.print_exc()
            out.append(BenchResult(n, math.nan, math.nan, 1.0, error=f"{type(e).__name__}: {e}"))
    return out


def format_bench_table(results: Sequence[BenchResult]) -> str:
    """A plain-text table: name, package s (run), compile s, fair baseline s, ratio, target, naive s, naive
    ratio, met; then the notes (what each baseline is)."""
    head = ("benchmark", "package s", "compile s", "baseline s", "ratio", "target", "naive s", "vs naive", "met")
    rows = [head]
    for r in results:
        if r.error is not None:
            rows.append((r.name, "-", "-", "-", "-", f">={r.target_ratio:g}x", "-", "-", f"ERROR {r.error}"))
        else:
            rows.append((r.name, f"{r.candidate_s:.4g}", "-" if r.compile_s is None else f"{r.compile_s:.3g}",
                         f"{r.baseline_s:.4g}", f"{r.ratio:.1f}x", f">={r.target_ratio:g}x",
                         "-" if r.naive_s is None else f"{r.naive_s:.4g}",
                         "-" if r.naive_s is None else f"{r.naive_ratio:.1f}x", "yes" if r.met else "no"))
    k = len(head) - 1
    w = [max(len(row[i]) for row in rows) for i in range(k)]
    lines = ["  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(row[:k])) + "  " + row[k]
             for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    notes = [f"  {r.name}: " + "; ".join(x for x in (f"baseline: {r.baseline}" if r.baseline else "", r.note) if x)
             for r in results if r.note or r.baseline]
    return "\n".join(lines + (["notes:", *notes] if notes else []))


def experiment_times(names: Sequence[str] | None = None, *, scale: str = "default",
                     echo: bool = True) -> list[BenchResult]:
    """Each experiment's wall time at ``scale``, cold (a fresh, empty compilation cache) and warm (the same
    cache, a fresh run directory), each in its own ``python -m sims run`` process: ``baseline_s`` is the cold
    time, ``candidate_s`` the warm one (so the ratio is the persistent cache's speed-up). Long: minutes per
    experiment at default scale.
    """
    from .experiment import registry

    names = sorted(registry()) if not names else list(names)
    out = []
    for name in names:
        try:
            out.append(_experiment_time(name, scale, echo))
        except Exception as e:  # noqa: BLE001 - reported in the table
            out.append(BenchResult(f"experiment {name} ({scale})", math.nan, math.nan, 1.0,
                                   error=f"{type(e).__name__}: {e}"))
    return out


def _experiment_time(name: str, scale: str, echo: bool) -> BenchResult:
    import os
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        env = {**os.environ, "THEORYLAB_JAX_CACHE": os.path.join(tmp, "jax-cache")}
        secs = []
        for kind in ("cold", "warm"):
            if echo:
                print(f"bench experiment {name} ({scale}, {kind}) ...", file=sys.stderr, flush=True)
            cmd = [sys.executable, "-m", "sims", "run", name, "--scale", scale, "--out",
                   os.path.join(tmp, f"run-{kind}"), "--fresh", "--no-progress"]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            secs.append(time.perf_counter() - t0)
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
                raise RuntimeError(f"python -m sims run {name} failed ({kind}): {tail[0]}")
    over = scale == "default" and secs[0] > _BUDGET_S
    note = f"cold {secs[0]:.1f} s, warm {secs[1]:.1f} s (budget: < {_BUDGET_S:.0f} s at default scale)"
    if over:
        note += (f"; OVER the budget by {secs[0] - _BUDGET_S:.0f} s cold (the experiment's module docstring says "
                 "where its time goes)")
    return BenchResult(f"experiment {name} ({scale}): warm vs cold compilation cache", secs[0], secs[1], 1.0,
                       baseline="the same run with an empty persistent compilation cache", note=note)


_BUDGET_S = 180.0  # seconds per experiment, cold, at default scale on 2 cores
