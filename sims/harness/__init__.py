"""How runs happen: the experiment contract, runner, run store, executors, report, plotting style, bench, CLI.

Nothing here computes a result of a paper; the numerics live in :mod:`sims.substrate`, the experiments in
``sims/<paper>.py``.
"""

from .bench import BenchResult, register_bench, timeit
from .executor import make_executor
from .experiment import (
           KINDS,
           SCALES,
           Claim,
           Config,
           Experiment,
           RunContext,
           get,
           register,
           registry,
)
from .report import write_report
from .runner import RunRecord, SweepError, reanalyse, run_experiment

__all__ = ["KINDS", "SCALES", "Claim", "Config", "Experiment", "RunContext", "get", "register", "registry",
           "run_experiment", "reanalyse", "RunRecord", "SweepError", "make_executor", "write_report",
           "register_bench", "BenchResult", "timeit"]
