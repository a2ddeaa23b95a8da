"""What runs: the numerics every experiment shares.

* :mod:`~sims.substrate.ode`: ODE solving (scipy reference, batched diffrax) and the one sympy -> JAX
  bridge for right-hand sides derived in :mod:`theory`.
* :mod:`~sims.substrate.train`: the one training loop (``lax.scan`` over steps, ``vmap`` over seeds).
* :mod:`~sims.substrate.networks`: deep linear networks, linear autoencoders, NTK-parametrised MLPs.
* :mod:`~sims.substrate.kernels`: empirical NTK / NNGP of finite JAX networks.
* :mod:`~sims.substrate.data`: data generators and the small real data sets.
* :mod:`~sims.substrate.measure`: measurements on recorded trajectories.
"""

from . import data, kernels, measure, networks, ode, train
from .kernels import empirical_nngp, empirical_ntk
from .measure import first_crossing
from .ode import ODEError, jepa_mode_trajectories, solve, solve_batch, sympy_rhs
from .train import DivergenceError, TrainResult, fit, fit_reference

__all__ = [
           "DivergenceError",
           "ODEError",
           "TrainResult",
           "data",
           "empirical_nngp",
           "empirical_ntk",
           "first_crossing",
           "fit",
           "fit_reference",
           "jepa_mode_trajectories",
           "kernels",
           "measure",
           "networks",
           "ode",
           "solve",
           "solve_batch",
           "sympy_rhs",
           "train",
]
