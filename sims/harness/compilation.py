"""JAX compilation: the persistent compilation cache and compile-time accounting.

``python -m sims run | report | bench`` turn on JAX's persistent compilation cache
(:func:`enable_compile_cache`), so a program compiled by one run is read back from disk by the next one
instead of being compiled again. The cache lives in the user's cache directory:

* ``$THEORYLAB_JAX_CACHE`` when set (``off``, ``0`` or an empty value turn the cache off);
* else ``$XDG_CACHE_HOME/theorylab/jax``;
* else ``~/.cache/theorylab/jax``.

The command-line flag ``--no-compile-cache`` turns it off for one command. Entries are keyed by JAX on the
program, the JAX/XLA versions and the device, so a stale entry is never used; deleting the directory is
always safe.

:class:`CompileStats` counts XLA compilations (and their seconds) and persistent-cache hits from
``jax.monitoring`` events; the runner records them in each run's ``meta.json``.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import threading

__all__ = ["CACHE_ENV", "cache_dir", "enable_compile_cache", "CompileStats", "compile_counters"]

#: environment variable overriding the cache directory (``off``/``0``/empty: no cache)
CACHE_ENV = "THEORYLAB_JAX_CACHE"
_OFF = {"", "0", "off", "false", "no", "none"}


def cache_dir() -> pathlib.Path | None:
    """The persistent-cache directory this environment asks for, or ``None`` when it asks for none."""
    env = os.environ.get(CACHE_ENV)
    if env is not None:
        return None if env.strip().lower() in _OFF else pathlib.Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "theorylab" / "jax"


def enable_compile_cache(path: str | os.PathLike | None = None) -> pathlib.Path | None:
    """Turn on JAX's persistent compilation cache in ``path`` (default: :func:`cache_dir`).

    Every compiled program is cached (no minimum compile time or size): on the CPU most programs of the
    experiments compile in well under JAX's default threshold of one second, and together they are most of
    a quick run's time.

    Returns:
        The directory used, or ``None`` when the environment turns the cache off (or the directory cannot be
        created, e.g. a read-only home: then the run simply compiles as usual).
    """
    target = pathlib.Path(path).expanduser() if path is not None else cache_dir()
    if target is None:
        return None
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    import jax

    jax.config.update("jax_compilation_cache_dir", str(target))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return target


@dataclasses.dataclass
class _Counters:
    compiles: int = 0
    compile_s: float = 0.0
    trace_s: float = 0.0
    lower_s: float = 0.0
    cache_hits: int = 0
    saved_s: float = 0.0


_COUNTERS = _Counters()
_LOCK = threading.Lock()
_INSTALLED = False

_EVENTS = {
    "/jax/core/compile/backend_compile_duration": "compile",
    "/jax/core/compile/jaxpr_trace_duration": "trace",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
    "/jax/compilation_cache/compile_time_saved_sec": "saved",
}


def _on_duration(event: str, secs: float, **_kw) -> None:
    kind = _EVENTS.get(event)
    if kind is None:
        return
    with _LOCK:
        if kind == "compile":
            _COUNTERS.compiles += 1
            _COUNTERS.compile_s += secs
        elif kind == "trace":
            _COUNTERS.trace_s += secs
        elif kind == "lower":
            _COUNTERS.lower_s += secs
        else:
            _COUNTERS.saved_s += secs


def _on_event(event: str, **_kw) -> None:
    if event == "/jax/compilation_cache/cache_hits":
        with _LOCK:
            _COUNTERS.cache_hits += 1


def compile_counters() -> dict[str, float]:
    """Process-wide totals so far (listeners installed on first use): ``compiles``, ``compile_s`` (XLA
    backend compilation, including programs read from the persistent cache), ``trace_s``, ``lower_s``,
    ``cache_hits``, ``saved_s`` (compile time the persistent cache saved, as JAX estimates it)."""
    global _INSTALLED
    if not _INSTALLED:
        import jax.monitoring

        with _LOCK:
            if not _INSTALLED:
                jax.monitoring.register_event_duration_secs_listener(_on_duration)
                jax.monitoring.register_event_listener(_on_event)
                _INSTALLED = True
    with _LOCK:
        return dataclasses.asdict(_COUNTERS)


class CompileStats:
    """Compilations during a ``with`` block (process-wide, so threads running other work are counted too)::

        with CompileStats() as cs:
            run()
        cs.result  # {"compiles": 12, "compile_s": 3.1, "trace_s": ..., "lower_s": ..., "cache_hits": 9, ...}
    """

    def __init__(self) -> None:
        self.result: dict[str, float] = {}
        self._start: dict[str, float] = {}

    def __enter__(self) -> CompileStats:
        self._start = compile_counters()
        return self

    def __exit__(self, *exc) -> None:
        end = compile_counters()
        self.result = {k: (round(end[k] - self._start[k], 4) if isinstance(end[k], float) else end[k] - self._start[k])
                       for k in end}
