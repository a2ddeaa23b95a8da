"""Numerics: ODE integration, JAX training, experiments (one module per paper), runs and report.

``python -m sims list | run NAME | report | bench``. Experiment modules register themselves; the
shared machinery lives in private modules (``_ode``, ``_train``, ``_networks``, ``_data``,
``_plotting``, ``_store``, ``_runner``, ``_executor``, ``_report``, ``_bench``).
"""

from ._experiment import SCALES, Claim, Config, Experiment, RunContext, get, register, registry

__all__ = ["SCALES", "Claim", "Config", "Experiment", "RunContext", "get", "register", "registry"]
