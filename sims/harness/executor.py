"""Executors for sweeps: in-process (default), a thread pool, or a ``dask.distributed`` cluster.

All three have the ``concurrent.futures`` shape the runner needs::

    with make_executor(scheduler, workers) as ex:
        futures = [ex.submit(fn, cfg, seeds) for ...]
        for fut in ex.as_completed(futures):
            fut.result()

* :class:`LocalExecutor` (default) runs each task in this process, one after the other, when
  :meth:`~LocalExecutor.as_completed` reaches it (or ``result()`` is asked for). JAX already uses every
  core inside one computation, and staying in-process keeps its compilation caches warm; running
  lazily lets the runner store each result before the next task starts.
* :class:`ProcessExecutor` (``--workers N``, ``N > 1``): ``N`` spawned processes; functions and arguments must be
  picklable (module-level functions), as for Dask. Each process limits its BLAS threads to its share of the cores
  and uses this process's persistent compilation cache.
* :class:`ThreadExecutor`: a ``ThreadPoolExecutor``, for functions that release the GIL. Not for JAX programs on
  the CPU (a jaxlib deadlock, see the class); ``--workers`` used it before 2026-12-02.
* :class:`DaskExecutor`: ``dask.distributed.Client(address)`` (``--scheduler ADDRESS``); functions and
  arguments must be picklable (module-level functions). Needs the ``distributed`` extra.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["Executor", "LocalExecutor", "ProcessExecutor", "ThreadExecutor", "DaskExecutor", "make_executor"]


class Executor:
    """Base: ``submit``, ``as_completed``, ``shutdown`` and the context-manager protocol."""

    description: str = "executor"

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def shutdown(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description})"


class _LazyFuture(cf.Future):
    """A future whose task runs in the calling thread the first time its result is needed."""

    def __init__(self, fn: Callable, args: tuple, kwargs: dict):
        super().__init__()
        self._task = (fn, args, kwargs)

    def _run(self) -> None:
        if self._task is None:
            return
        fn, args, kwargs = self._task
        self._task = None
        if not self.set_running_or_notify_cancel():
            return
        try:
            res = fn(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001 - delivered through the future
            self.set_exception(e)
            if not isinstance(e, Exception):  # KeyboardInterrupt, SystemExit: stop now
                raise
        else:
            self.set_result(res)

    def result(self, timeout: float | None = None) -> Any:
        self._run()
        return super().result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._run()
        return super().exception(timeout)


class LocalExecutor(Executor):
    """Run tasks in this process, sequentially and lazily (see the module docstring)."""

    description = "local, in-process, sequential"

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> cf.Future:
        if not callable(fn):
            raise TypeError(f"submit: fn must be callable, got {type(fn).__name__}")
        return _LazyFuture(fn, args, kwargs)

    def as_completed(self, futures: Iterable[cf.Future]) -> Iterator[cf.Future]:
        """Run the futures' tasks in submission order, yielding each when done."""
        for f in list(futures):
            if isinstance(f, _LazyFuture):
                f._run()
            yield f


def share_cores(jobs: int) -> None:
    """Limit this process's BLAS/LAPACK threads to its share of the cores when ``jobs`` processes run at once (the
    initialiser of :class:`ProcessExecutor` and of the report's processes). With every core busy, multithreaded
    OpenBLAS spins: ``numpy.linalg.eigh`` of a 384 x 384 matrix took 0.5-2.2 s with two other busy processes on
    the 2-core machine against 0.06 s on one thread."""
    import os

    from threadpoolctl import threadpool_limits

    threadpool_limits(max(1, (os.cpu_count() or 1) // jobs), user_api="blas")


def _process_setup(jobs: int, cache: str | None) -> None:
    share_cores(jobs)
    if cache:
        from .compilation import enable_compile_cache

        enable_compile_cache(cache)


class ProcessExecutor(Executor):
    """A ``concurrent.futures.ProcessPoolExecutor`` of ``workers`` spawned processes (JAX does not survive a fork).

    Functions and arguments cross the process boundary pickled: ``fn`` must be a module-level function (as for
    :class:`DaskExecutor`). Each process limits its BLAS threads to its share of the cores (:func:`share_cores`)
    and, with ``compile_cache``, uses the persistent compilation cache directory of this process, so a program
    compiled by one worker is read by the others. Processes do not share XLA's thread pool, which threads do (see
    :class:`ThreadExecutor`).

    Raises:
        ValueError: ``workers`` not a positive int.
    """

    def __init__(self, workers: int, *, compile_cache: bool = True):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"ProcessExecutor: workers must be a positive int, got {workers!r}")
        import multiprocessing

        cache = None
        if compile_cache:
            import jax

            cache = jax.config.jax_compilation_cache_dir
        self._pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_process_setup, initargs=(workers, cache))
        self.description = f"local, {workers} processes"

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> cf.Future:
        if not callable(fn):
            raise TypeError(f"submit: fn must be callable, got {type(fn).__name__}")
        return self._pool.submit(fn, *args, **kwargs)

    def as_completed(self, futures: Iterable[cf.Future]) -> Iterator[cf.Future]:
        return cf.as_completed(list(futures))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class ThreadExecutor(Executor):
    """A ``concurrent.futures.ThreadPoolExecutor`` with ``workers`` threads.

    Known defect (found 2026-12-02; in jaxlib, not fixable here): JAX programs that run at the same time in two
    threads can deadlock on the CPU. jaxlib 0.10's batched LAPACK kernels (e.g. ``eigvalsh`` of a stack of matrices,
    ``lapack_ssyevd_ffi``) split the batch over XLA's intra-op thread pool and block a pool thread until the parts
    finish; with two such kernels running and a pool of two threads (a 2-core machine) both wait for a free thread
    forever. The ``autoencoder`` experiment (a vmapped ``eigvalsh`` in its record function) hung this way in threads
    (the old ``--workers 2``) every time it was tried (3 of 3, gdb stacks in ``jax::ParallelBatchMap``); a small
    script of two threads each running a scan with a batched ``eigvalsh`` hung in 1 of 3 tries. Processes do not
    share the pool, so ``--workers`` now means :class:`ProcessExecutor` (the autoencoder ran with ``--workers 2``
    that way)."""

    def __init__(self, workers: int):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"ThreadExecutor: workers must be a positive int, got {workers!r}")
        self._pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sims")
        self.description = f"local, {workers} threads"

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> cf.Future:
        return self._pool.submit(fn, *args, **kwargs)

    def as_completed(self, futures: Iterable[cf.Future]) -> Iterator[cf.Future]:
        return cf.as_completed(list(futures))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _import_distributed():
    try:
        import distributed
    except ImportError as e:
        raise ImportError(
            "a Dask scheduler needs dask.distributed; install it with "
            "`python -m pip install 'theorylab[distributed]'`"
        ) from e
    return distributed


class DaskExecutor(Executor):
    """Submit tasks to a ``dask.distributed`` cluster.

    Args:
        scheduler: the scheduler address (``"tcp://host:8786"``), or an existing ``distributed.Client``
            (then it is not closed by :meth:`shutdown`).
        compile_cache: turn on JAX's persistent compilation cache on every worker, present and future
            (:func:`~sims.harness.compilation.enable_compile_cache` run there, in the worker's own cache
            directory: its ``$THEORYLAB_JAX_CACHE`` or home), so a sweep's programs compile once per worker
            machine rather than once per task and run.

    Raises:
        ImportError: if ``distributed`` is not installed. TypeError: for another ``scheduler`` type.
    """

    def __init__(self, scheduler: Any, *, compile_cache: bool = True):
        distributed = _import_distributed()
        self._distributed = distributed
        if isinstance(scheduler, distributed.Client):
            self.client, self._owns = scheduler, False
        elif isinstance(scheduler, str) and scheduler:
            self.client, self._owns = distributed.Client(scheduler), True
        else:
            raise TypeError(f"DaskExecutor: scheduler must be an address string or a Client, got {scheduler!r}")
        self.description = f"dask {self.client.scheduler.address}"
        if compile_cache:
            self.client.register_worker_callbacks(setup=_enable_worker_compile_cache)

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Any:
        # pure=False: never deduplicate two submissions (a seed list is cheap to hash, a result is not)
        return self.client.submit(fn, *args, pure=False, **kwargs)

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        return iter(self._distributed.as_completed(list(futures)))

    def shutdown(self) -> None:
        if self._owns:
            self.client.close()


def _enable_worker_compile_cache() -> None:
    """Worker setup of :class:`DaskExecutor`: the persistent compilation cache, as the CLI turns it on locally."""
    from .compilation import enable_compile_cache

    enable_compile_cache()


def make_executor(scheduler: Any = None, workers: int | None = None, *, compile_cache: bool = True) -> Executor:
    """The executor for ``--scheduler`` / ``--workers``.

    Args:
        scheduler: ``None`` for local execution, or a Dask scheduler address (``"tcp://host:8786"``) or
            ``distributed.Client``.
        workers: local processes (:class:`ProcessExecutor`); ``None`` or 1 runs in-process sequentially. Not
            allowed with ``scheduler`` (the cluster decides its workers).
        compile_cache: turn on the persistent compilation cache on the workers of a Dask scheduler; local
            processes use this process's setting unless it is ``False``.

    Returns:
        :class:`LocalExecutor`, :class:`ProcessExecutor` or :class:`DaskExecutor`.

    Raises:
        ValueError: for ``workers`` not a positive int, or given together with ``scheduler``.
        ImportError: for a scheduler without ``distributed`` installed.
    """
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"make_executor: workers must be a positive int or None, got {workers!r}")
    if scheduler is not None:
        if workers not in (None,):
            raise ValueError(f"make_executor: workers={workers!r} cannot be combined with scheduler={scheduler!r}")
        return DaskExecutor(scheduler, compile_cache=compile_cache)
    if workers is None or workers == 1:
        return LocalExecutor()
    return ProcessExecutor(workers, compile_cache=compile_cache)
