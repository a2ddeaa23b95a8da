"""Configuration of the locality experiment (presets quick / default / paper)."""

from __future__ import annotations

import dataclasses

from sims.harness import Config


@dataclasses.dataclass(frozen=True)
class LocalityConfig(Config):
    """Fields are the default scale; ``PRESETS`` override them.

    Exact part: ``mi_ns`` (cycle sizes of the MI figure), ``parity_ns`` (sizes for the locality of parity families),
    ``c`` (threshold :math:`n^{-c}`), ``sparse_k``, ``ar_parity_ns``, ``dfs_ns``.
    Model (every trained run): ``d_model``, ``n_heads``, ``n_layers``, ``lr`` (AdamW, linear warm-up over
    ``warmup`` steps, then constant; betas (0.9, 0.99), ``weight_decay``), ``batch``, ``record_every``,
    ``eval_size``; ``seeds`` per configuration.
    Cycle task: ``cycle_ns`` (n of the barrier runs), ``cycle_scratchpads``, ``cycle_steps`` (horizon per run),
    ``names`` (name pool; None: exactly 2n names, every graph uses all of them).
    OOD split (trained in the same vmapped run as the cycle families, ``ood``): ``ood_total``, ``ood_short``
    (train: cycles (short, total - short) vs a total-cycle at distance short; test: (total/2, total/2) vs distance
    total/2). ``mvt_count``: sequences of the masked-vs-trimmed logit check on each trained inductive model.
    A zero ``cycle_steps`` / ``par_steps`` skips that training (the quick scale trains nothing).
    Inductive parity: ``par_slots``, ``par_k_train`` (train on 1..k_train bits), ``par_test_ks``, ``par_pool``
    (fixed training questions), ``par_steps``.
    """

    mi_ns: tuple = (2, 3, 4, 5, 6, 7, 8)
    parity_ns: tuple = (8, 16, 24, 32, 40, 48, 56, 64)
    c: float = 2.0
    sparse_k: int = 3
    ar_parity_ns: tuple = (4, 6, 8)
    dfs_ns: tuple = (2, 3)
    d_model: int = 32
    n_heads: int = 4
    n_layers: int = 2
    lr: float = 3e-3
    warmup: int = 100
    weight_decay: float = 0.1
    batch: int = 32
    record_every: int = 100
    eval_size: int = 128
    seeds: int = 1
    cycle_ns: tuple = (2,)
    cycle_scratchpads: tuple = ("none", "inductive")
    cycle_steps: int = 1400
    names: int | None = None
    ood: bool = False
    ood_total: int = 6
    ood_short: int = 2
    mvt_count: int = 2
    par_slots: int = 10
    par_k_train: int = 4
    par_test_ks: tuple = (2, 4, 5, 6, 7, 8)
    par_pool: int = 4000
    par_steps: int = 0

    PRESETS = {
        "quick": dict(mi_ns=(2, 3, 4, 5), parity_ns=(8, 16, 24, 32), ar_parity_ns=(4,), dfs_ns=(2,), d_model=16,
                      n_heads=2, cycle_steps=0, par_steps=0, par_pool=200, eval_size=64,
                      record_every=50, par_test_ks=(2, 4, 6)),
        "default": {},
        "paper": dict(d_model=64, n_heads=4, n_layers=4, lr=1e-3, batch=128, record_every=250, eval_size=512,
                      seeds=3, cycle_ns=(2, 3, 4, 5), cycle_scratchpads=("none", "dfs", "inductive"),
                      cycle_steps=10000, ood=True, ood_total=24, ood_short=6, mvt_count=3, par_slots=30,
                      par_k_train=10, par_test_ks=(5, 10, 12, 14, 16, 18, 20, 25, 30), par_pool=100_000,
                      par_steps=10000, dfs_ns=(2, 3, 4), ar_parity_ns=(4, 6, 8, 10)),
    }
