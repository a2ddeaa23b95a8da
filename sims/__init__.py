"""Numerics: experiments (one module per paper) on shared machinery.

* :mod:`sims.harness`: how runs happen (experiment contract, runner, run store, executors, report,
  plotting style, bench, the ``python -m sims`` command line).
* :mod:`sims.substrate`: what runs (ODE solving, the one training loop, networks, data, measurements).
* ``sims/<paper>.py``: one experiment per paper, registered at import; experiments never import each
  other -- what two share lives in the substrate.

``python -m sims list | run NAME | report | bench``.
"""

from .harness import (
                      KINDS,
                      SCALES,
                      BenchResult,
                      Claim,
                      Config,
                      Experiment,
                      RunContext,
                      RunRecord,
                      SweepError,
                      get,
                      make_executor,
                      reanalyse,
                      register,
                      register_bench,
                      registry,
                      run_experiment,
                      timeit,
                      write_report,
)

__all__ = ["KINDS", "SCALES", "Claim", "Config", "Experiment", "RunContext", "get", "register", "registry",
           "run_experiment", "reanalyse", "RunRecord", "SweepError", "make_executor", "write_report",
           "register_bench", "BenchResult", "timeit"]
