"""Symbols, closed forms, definitions and exact computations (sympy / numpy / scipy only; no JAX).

Public modules (``from theory import jepa``):

* :mod:`theory.deeplinear`: symbolic gradient flow of deep linear models (shared machinery).
* :mod:`theory.jepa`: JEPA vs MAE in deep linear networks (Littwin et al. 2024).
* :mod:`theory.rft`: vanishing gradients in reinforcement finetuning (Razin et al. 2024).
* :mod:`theory.lidar`: LiDAR, RankMe and alpha-ReQ (Thilak et al. 2024).
* :mod:`theory.autoencoder`: greedy rank learning in deep linear autoencoders (Sun et al. 2021).
* :mod:`theory.kernels`, :mod:`theory.bottleneck`: NNGP/NTK kernels and the finite-bottleneck limit
  (Littwin et al. 2021); :mod:`theory.bottleneck_limit`: the limit dynamics derived by sympy from the
  parametrisation.
* :mod:`theory.rasp`: the RASP-L language, its library and the task programs (Zhou et al. 2024).
* :mod:`theory.locality`: distribution locality, the globality barrier and scratchpads (Abbe et al. 2024).
* :mod:`theory.symbols`: template tasks and the transformer kernel for abstract symbols (Boix-Adserà et al. 2024).
* :mod:`theory.hyper_ut`: multi-hop pointer retrieval and adaptive computation (Abnar et al. 2023).
* :mod:`theory.slingshot`: Adam's regimes, float32 softmax collapse and the slingshot detector (Thilak et al. 2022).

Argument checks shared by every public function: :mod:`theory._validate`.
"""

from . import (
    autoencoder,
    bottleneck,
    bottleneck_limit,
    deeplinear,
    hyper_ut,
    jepa,
    kernels,
    lidar,
    locality,
    rasp,
    rft,
    slingshot,
    symbols,
)

__all__ = [
    "autoencoder",
    "bottleneck",
    "bottleneck_limit",
    "deeplinear",
    "hyper_ut",
    "jepa",
    "kernels",
    "lidar",
    "locality",
    "rasp",
    "rft",
    "slingshot",
    "symbols",
]
