"""Symbols, closed forms, definitions and exact computations (sympy / numpy / scipy only).

Public modules (``from theory import jepa``):

* :mod:`theory.deeplinear`: symbolic gradient flow of deep linear models (shared machinery).
* :mod:`theory.jepa`: JEPA vs MAE in deep linear networks (Littwin et al. 2024).
* :mod:`theory.rft`: vanishing gradients in reinforcement finetuning (Razin et al. 2024).
* :mod:`theory.lidar`: LiDAR, RankMe and alpha-ReQ (Thilak et al. 2024).
* :mod:`theory.autoencoder`: greedy rank learning in deep linear autoencoders (Sun et al. 2021).
* :mod:`theory.kernels`, :mod:`theory.bottleneck`: NNGP/NTK kernels and the finite-bottleneck limit
  (Littwin et al. 2021).
"""

from . import autoencoder, bottleneck, deeplinear, jepa, kernels, lidar, rft

__all__ = ["autoencoder", "bottleneck", "deeplinear", "jepa", "kernels", "lidar", "rft"]
