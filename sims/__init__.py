"""Numerics: ODE integration, JAX training, experiments (one module per paper), runs and report.

``python -m sims list | run NAME | report | bench``. Experiment modules register themselves; the
shared machinery lives in private modules (``_ode``, ``_train``, ``_networks``, ``_data``,
``_plotting``, ``_store``, ``_runner``, ``_executor``, ``_report``, ``_bench``).
"""

from ._experiment import SCALES, Claim, Config, Experiment, RunContext, get, register, registry
from ._bench import BenchResult, register_bench, timeit
from ._executor import make_executor
from ._report import write_report
from ._runner import RunRecord, SweepError, reanalyse, run_experiment

__all__ = ["SCALES", "Claim", "Config", "Experiment", "RunContext", "get", "register", "registry",
           "run_experiment", "reanalyse", "RunRecord", "SweepError", "make_executor", "write_report",
           "register_bench", "BenchResult", "timeit"]
