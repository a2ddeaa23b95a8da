"""``python -m sims list | run NAME | report | bench``: experiments, runs, the report, benchmarks.

Examples::

    python -m sims list
    python -m sims run jepa --scale quick              # -> runs/jepa-quick/
    python -m sims run jepa --scale paper --seeds 10 --out runs/jepa-paper
    python -m sims report --out report                 # every experiment -> report/index.html
    python -m sims report --jobs 1                     # one experiment at a time (default: one per core, <= 4)
    python -m sims report --scheduler tcp://host:8786  # sweeps on a Dask cluster
    python -m sims bench --quick
    python -m sims run jepa --scale quick --no-compile-cache   # compile everything afresh

Compiled JAX programs are kept in a persistent cache (see ``sims.harness.compilation``) unless
``--no-compile-cache`` is given.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

from .experiment import SCALES

__all__ = ["main", "check_out_dir"]


def _positive_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}")
    return v


def _add_exec_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scale", choices=SCALES, default="default",
                   help="config preset: quick (seconds, smoke test), default (minutes), paper (GPU-sized)")
    p.add_argument("--seeds", type=_positive_int, metavar="N",
                   help="number of seeds (0..N-1); default depends on the scale (quick 2, default 5, paper 10)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run sweeps on a dask.distributed scheduler, e.g. tcp://host:8786 "
                        "(needs the 'distributed' extra)")
    p.add_argument("--workers", type=_positive_int, metavar="N",
                   help="run sweep configurations in N local processes (spawned; default: in-process, one at a "
                        "time)")
    p.add_argument("--fresh", action="store_true", help="discard stored results of earlier (interrupted) runs")
    p.add_argument("--no-progress", action="store_true", help="no progress bars or log lines")
    _add_cache_arg(p)


def _add_cache_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-compile-cache", action="store_true",
                   help="do not use JAX's persistent compilation cache (default: on, in $THEORYLAB_JAX_CACHE, else "
                        "$XDG_CACHE_HOME/theorylab/jax or ~/.cache/theorylab/jax)")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m sims", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("list", help="registered experiments: name, paper, description")

    p = sub.add_parser("run", help="run one experiment into a run directory and print its claims")
    p.add_argument("name", help="experiment name (see `python -m sims list`)")
    p.add_argument("--out", metavar="DIR", help="run directory (default runs/<name>-<scale>); re-running resumes")
    _add_exec_args(p)

    p = sub.add_parser("report", help="run every experiment; write DIR/index.html and DIR/claims.json")
    p.add_argument("--out", metavar="DIR", default="report", help="report directory (default: report)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these experiments")
    p.add_argument("--jobs", type=_positive_int, metavar="N",
                   help="run N experiments at once, each in its own process (default: the number of CPU cores, "
                        "at most 4; 1 without --scheduler/--workers otherwise)")
    _add_exec_args(p)

    p = sub.add_parser("bench", help="run the registered benchmarks and print speed-up ratios")
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke test of the benchmarks)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    p.add_argument("--no-check", action="store_true",
                   help="exploration: exit 0 even when a target ratio is missed (by default a missed target exits 1)")
    p.add_argument("--experiments", action="store_true",
                   help="also time every experiment at default scale, cold (empty compilation cache) and warm, "
                        "each in its own process (long: minutes per experiment)")
    _add_cache_arg(p)
    return ap


class _UsageError(Exception):
    """Bad command-line input found before any work (exit status 2, no traceback)."""


def check_out_dir(flag: str, path) -> pathlib.Path:
    """``path`` as a directory the command can write into, created when missing; checked before any work
    (:func:`theory._validate.writable_directory`; ``ValueError`` naming ``flag`` and the path)."""
    from theory._validate import writable_directory

    return writable_directory(flag, path)


def _executor(args: argparse.Namespace):
    from .executor import make_executor

    try:
        return make_executor(args.scheduler, args.workers, compile_cache=not getattr(args, "no_compile_cache", False))
    except (ValueError, ImportError) as e:
        raise _UsageError(e) from e


def _cmd_list() -> int:
    from .experiment import registry

    reg = registry()
    if not reg:
        print("no experiments registered")
    w = max((len(n) for n in reg), default=0)
    for name, exp in sorted(reg.items()):
        desc = (exp.description or "").strip().splitlines()
        print(f"{name.ljust(w)}  {exp.paper}" + (f"  --  {desc[0]}" if desc else ""))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from .experiment import get
    from .report import format_claims_table
    from .runner import run_experiment

    try:
        get(args.name)
        check_out_dir("--out", f"runs/{args.name}-{args.scale}" if args.out is None else args.out)
    except ValueError as e:
        raise _UsageError(e) from e
    with _executor(args) as ex:
        rec = run_experiment(args.name, scale=args.scale, seeds=args.seeds, out=args.out, executor=ex,
                             progress=not args.no_progress, fresh=args.fresh)
    print(format_claims_table(rec.claims))
    print(f"\n{rec.name} ({rec.scale}, seeds {list(rec.seeds)}) finished in {rec.seconds:.1f} s; "
          f"{rec.n_hold}/{len(rec.claims)} claims hold")
    print(f"run directory: {rec.out}")
    for f in rec.figures:
        print(f"  figure: {f}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .experiment import registry
    from .report import write_report

    unknown = [n for n in args.only or () if n not in registry()]
    if unknown:
        raise _UsageError(f"--only: unknown experiment(s) {unknown}; registered: {sorted(registry())}")
    try:
        check_out_dir("--out", args.out)
    except ValueError as e:
        raise _UsageError(e) from e
    shared = args.scheduler is not None or args.workers is not None
    if args.jobs is not None and args.jobs > 1 and shared:
        raise _UsageError(f"--jobs {args.jobs} runs experiments in their own processes; it cannot be combined with "
                          "--scheduler or --workers")
    jobs = args.jobs if args.jobs is not None else (1 if shared else max(1, min(os.cpu_count() or 1, 4)))
    if jobs > 1:
        rep = write_report(args.out, scale=args.scale, seeds=args.seeds, only=args.only, progress=not args.no_progress,
                           fresh=args.fresh, jobs=jobs)
    else:
        with _executor(args) as ex:
            rep = write_report(args.out, scale=args.scale, seeds=args.seeds, executor=ex, only=args.only,
                               progress=not args.no_progress, fresh=args.fresh)
    from .report import _count_text

    for e in rep.entries:
        print(f"{e.name:<16} {e.status:<7} {_count_text(e.claims):<36} {e.seconds:8.1f} s")
    failed = [e.name for e in rep.entries if e.status != "ok"]
    print(f"\n{_count_text([c for e in rep.entries for c in e.claims])}; "
          f"{len(rep.entries) - len(failed)}/{len(rep.entries)} experiments ran"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    print(f"report: {pathlib.Path(rep.index)}")
    return 0 if rep.ok else 1


def _cmd_bench(args: argparse.Namespace) -> int:
    from .bench import format_bench_table, run_benches

    try:
        results = run_benches(quick=args.quick, only=args.only)
    except ValueError as e:
        raise _UsageError(e) from e
    if args.experiments:
        from .bench import experiment_times

        results += experiment_times()
    if not results:
        print("no benchmarks registered")
        return 0
    print(format_bench_table(results))
    if any(r.error for r in results):
        return 1
    return 0 if args.no_check or all(r.met for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m sims``; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command in ("run", "report", "bench") and not args.no_compile_cache:
        from .compilation import enable_compile_cache

        enable_compile_cache()
    try:
        if args.command == "list":
            return _cmd_list()
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "report":
            return _cmd_report(args)
        return _cmd_bench(args)
    except _UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a filesystem error on a user-given path (disk full, permissions changed mid-run)
        where = f" {e.filename!r}" if e.filename else ""
        print(f"error:{where} {e.strerror or e}", file=sys.stderr)
        return 2

