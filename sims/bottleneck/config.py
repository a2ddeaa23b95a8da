"""Configuration and presets of the ``bottleneck`` experiment (Littwin et al. 2021)."""


import dataclasses
from typing import Any, ClassVar

from ..harness.experiment import Config


# ----------------------------------------------------------------------------- config
@dataclasses.dataclass(frozen=True)
class BottleneckConfig(Config):
    # (a) kernel convergence
    a_widths: tuple = (64, 128, 256, 512, 1024, 2048)
    a_depth: int = 2
    a_points: int = 6
    a_draws: int = 48
    # (b) randomness of the bottleneck kernel
    b_widths: tuple = (1024, 4096, 16384)
    b_ds: tuple = (4, 16, 64, 256)
    b_draws: int = 100
    # (c) training on digits
    c_widths: tuple = (64, 256, 1024, 4096)
    limit_width: int = 16384
    cond_ratio: int = 4  # head width of the conditional limit (train_conditional_limit) over the finite width
    d: int = 4
    depth_g: int = 1
    activation: str = "relu"
    w_var: float = 2.0
    b_var: float = 0.0
    n_train: int = 128
    n_test: int = 256
    target_class: int = 0
    scales: tuple = (0.3, 6.0)
    lr: float = 0.1
    steps: int = 500
    record_every: int = 10
    loss_level: float = 0.05
    centre: bool = True  # train F - F_0 (the random initial output removed): common initial loss for every model
    c_seeds: int = 24  # draws of the bottleneck limit (h_0, f_0) for the speed-up and test-loss intervals
    # (d) deep linear analogue (this package's two-factor linear toy, theory.bottleneck.linear_flow)
    lin_taus: tuple = (0.3, 1.0, 3.0, 10.0)
    lin_ds: tuple = (3, 5, 20)
    lin_draws: int = 3

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "quick": dict(a_widths=(64, 128, 256, 512), a_points=4, a_draws=16, b_widths=(256, 1024, 4096), b_ds=(4, 16, 64),
                      b_draws=40, c_widths=(64, 256), limit_width=4096, n_train=64, n_test=128, steps=300, c_seeds=8),
        "default": {},
        "paper": dict(a_widths=(64, 128, 256, 512, 1024, 2048, 4096), a_points=8, a_draws=128, b_draws=100,
                      c_widths=(64, 256, 1024, 4096, 16384), limit_width=65536, n_train=256, n_test=448, steps=1000, c_seeds=48),
    }
