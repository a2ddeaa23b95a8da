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
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["BenchResult", "register_bench", "benches", "timeit", "run_benches", "format_bench_table"]


@dataclasses.dataclass(frozen=True)
class BenchResult:
    """One measured comparison.

    Attributes:
        name: what is compared (shown in the table).
        baseline_s, candidate_s: seconds per call (from :func:`timeit`).
        target_ratio: the speed-up ``baseline_s / candidate_s`` the candidate must reach.
        note: sizes, devices, caveats.
        error: set (and the times NaN) when the benchmark function raised.
    """

    name: str
    baseline_s: float
    candidate_s: float
    target_ratio: float
    note: str = ""
    error: str | None = None

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
    """Registered benchmarks (every experiment module is imported first)."""
    from .experiment import _discover

    _discover()
    return dict(_BENCHES)


def _block(x: Any) -> Any:
    if "jax" in sys.modules:
        import jax

        return jax.block_until_ready(x)
    return x


def timeit(fn: Callable[[], Any], *, repeat: int = 3, warmup: int = 1) -> float:
    """Best wall time of ``fn()`` over ``repeat`` calls, after ``warmup`` untimed calls (JIT compilation).

    JAX outputs are waited for (``jax.block_until_ready`` on the returned tree), so asynchronous dispatch
    does not hide work. The minimum is the least noisy estimate of the cost on a shared machine.

    Raises:
        ValueError: for ``repeat < 1`` or ``warmup < 0``.
    """
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"timeit: repeat must be a positive int, got {repeat!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"timeit: warmup must be a non-negative int, got {warmup!r}")
    for _ in range(warmup):
        _block(fn())
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        _block(fn())
        best = min(best, time.perf_counter() - t0)
    return best


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
    """A plain-text table: name, baseline s, candidate s, ratio, target, met."""
    rows = [("benchmark", "baseline s", "candidate s", "ratio", "target", "met")]
    for r in results:
        if r.error is not None:
            rows.append((r.name, "-", "-", "-", f">={r.target_ratio:g}x", f"ERROR {r.error}"))
        else:
            rows.append((r.name, f"{r.baseline_s:.4g}", f"{r.candidate_s:.4g}", f"{r.ratio:.1f}x",
                         f">={r.target_ratio:g}x", "yes" if r.met else "no"))
    w = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(row[:5])) + "  " + row[5]
             for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    notes = [f"  {r.name}: {r.note}" for r in results if r.note]
    return "\n".join(lines + (["notes:", *notes] if notes else []))
