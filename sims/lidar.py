r"""LiDAR vs RankMe (Thilak et al., ICLR 2024): noise robustness, label-free model selection, deep linear JEPA/MAE.

Three parts, all computed with :mod:`theory.lidar`:

1. **Noise robustness**: 8 informative dimensions plus a growing number of
   dimensions of pure view noise. Prediction: RankMe grows several-fold, LiDAR barely moves (noise
   directions have LDA eigenvalue ~1/q). Also the pure-noise trap: pure noise and mis-grouped
   views give a near-maximal LiDAR with :math:`\lambda_{\max}\approx1/q`.
2. **Label-free model selection** (the paper's headline: LiDAR predicts linear-probe accuracy *better
   than RankMe* and selects near-optimal hyperparameters), tested directly. A family of small JEPA-style
   joint-embedding encoders (online MLP encoder + predictor against a stop-gradient EMA target, BYOL-style
   cosine loss) on scikit-learn's digits. The configurations are drawn at random (:func:`sample_configs`)
   over what the paper varies, as far as this encoder allows: augmentation strength (noise std, mask ratio,
   shift probability), collapse-inducing settings (decoupled weight decay; predictor none / linear / MLP,
   where "none" invites collapse) and predictor/EMA settings (EMA rate of the target from 0 to 0.999,
   predictor learning-rate multiplier), plus the learning rate. All configurations and seeds train in ONE
   vmapped :func:`sims.substrate.train.fit` (the hyperparameters are per-member leaves of the parameter
   pytree). For every checkpoint: LiDAR on ``lidar_n`` images x ``lidar_q`` augmented views (200 x 20 at the
   default scale, 1000 x 50 at the paper preset, the paper's sizes), RankMe on the embeddings of the clean
   images (the RankMe protocol; RankMe on the views and alpha-ReQ are reported beside it), and the
   linear-probe accuracy averaged over ``probe_seeds`` probes (each fitted on its own random half of the
   labelled training images). Statistics (:func:`comparison_bootstrap`): Kendall tau_b of each metric with
   the probe accuracy and the selection regret (best accuracy minus the accuracy of the metric's pick), with
   a paired bootstrap over configurations (independent draws, hence exchangeable) and probe seeds; claims
   on the interval of tau_LiDAR - tau_RankMe, of tau_LiDAR, of LiDAR's regret and of regret_LiDAR -
   regret_RankMe.

   **The regulariser delta** is set relative to the embedding scale, :math:`\delta = \delta_{\rm rel}\,s`
   with :math:`s` the mean per-dimension variance of the views (:func:`lidar_delta_sweep`), because a
   cosine-loss encoder's output scale is arbitrary and drifts during training, so an absolute delta means
   something different for every checkpoint. :math:`\delta_{\rm rel} = 10^{-3}` was fixed before looking at
   the results: on embeddings of unit mean variance it is the middle of the deltas public implementations
   use (1e-4 to 1e-3 for layer-normalised features), and comparable to the per-example ridge of the probe
   (logistic regression with C = 1 on about 670 standardised examples, 1/670 = 1.5e-3). The sweep over
   :math:`\delta_{\rm rel}` from 1e-8 (plain LDA) to 1 (towards the effective rank of the between-image
   covariance) is a figure and a record, with the best delta chosen with labels (optimistic for LiDAR).

   Measured at the default scale (56 configurations, 1 training seed, 1000 steps, 2 checkpoints, 200 x 20
   views, 3 probe seeds, 1000 bootstrap replicates; 95% intervals): Kendall tau with the probe accuracy
   0.38 [0.20, 0.54] for LiDAR (delta_rel 1e-3) against 0.51 [0.36, 0.62] for RankMe, difference
   -0.13 [-0.25, -0.01], so the paper's headline fails here; the selection regret is 0.009 [0, 0.016] for
   both (they pick configurations of equal accuracy), so LiDAR selects near-optimal hyperparameters but not
   better than RankMe. Over the delta sweep the difference rises from -0.27 (delta_rel 1e-8, plain LDA) to
   +0.11 [+0.05, +0.18] at delta_rel = 1, where LiDAR is close to its delta -> infinity limit (a covariance
   rank of the image means that ignores the within-image scatter LiDAR is built on).
   The limit itself gives +0.13 [+0.06, +0.21] over RankMe. Whole experiment at the default scale: 148 s and
   169 s of CPU time (user + sys) in two runs on the shared 2-core machine under load 15-20.
3. **Deep linear JEPA and MAE** (Littwin et al. 2024; the model of :mod:`theory.jepa` and
   :mod:`sims.jepa`) on static views with noisy high-variance and clean low-variance features: LiDAR
   and RankMe of :math:`\bar W x` along training, against the prediction from the per-mode ODE
   (:func:`sims.substrate.ode.jepa_mode_trajectories`): in the eigenbasis :math:`\Sigma_b = \mathrm{diag}(\bar w^2(s + n_v/q))`,
   :math:`\Sigma_w = \mathrm{diag}(\bar w^2 n_v)+\delta I` and singular values :math:`\propto\bar w\sigma`. With a
   tiny :math:`\delta`, LiDAR is *constant* along training (the encoder is invertible at all times and LiDAR
   is invariant to invertible linear maps) while RankMe follows the learned modes. Each seed is its own
   network (random orthogonal layer factors, balanced and aligned as the theory assumes) with its own views.

Departures from the paper (also in the experiment's ``departures`` text):

* Data and encoders: 8x8 scikit-learn digits and a three-layer MLP encoder (width 64, 32-dimensional
  embedding) trained 1000 steps, instead of ImageNet and ViT-scale I-JEPA / data2vec / DINO / VICReg models;
  the downstream task is a logistic-regression probe on the same digits.
* Hyperparameters: a random search over one BYOL/JEPA-style method (augmentation strength, EMA, weight
  decay, predictor kind and learning rate, learning rate) instead of the paper's per-method sweeps (mask
  scales, EMA schedules, loss coefficients); mask ratio and pixel noise stand in for I-JEPA's block masks.
* Surrogate task: one fixed evaluation augmentation (1-pixel shift, mask ratio 0.3, noise 0.3) for every
  model, so every model is scored on the same surrogate classes; 200 x 20 views at the default scale
  (1000 x 50, the paper's sizes, at the paper preset).
* delta: the paper's value is not known here; delta is relative to the embedding scale (see part 2) and
  swept. RankMe on the clean images' embeddings (1797 images, not 25600).
* Statistics: Kendall tau_b over all configurations, seeds and checkpoints, and regret at the final
  checkpoint, with paired bootstrap intervals; the paper reports rank correlations without intervals.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.stats

from theory import lidar as TL

from .harness import plotting as P
from .harness.bench import BenchResult, measure, register_bench
from .harness.experiment import Claim, Config, Experiment, register
from .substrate.data import digits, static_noise_for
from .substrate.networks import deep_linear_init, deep_linear_product, jepa_loss
from .substrate.ode import jepa_mode_trajectories
from .substrate.train import fit

__all__ = ["LidarConfig", "LidarExperiment", "train_digits_family", "deep_linear_unit", "lidar_per_class_loop"]


@dataclasses.dataclass(frozen=True)
class LidarConfig(Config):
    """Configuration of the ``lidar`` experiment.

    Attributes:
        noise_n, noise_q: clean samples and views of the noise-robustness data.
        noise_informative: informative dimensions (signal std 1, view std 0.3).
        noise_dims: numbers of added pure-view-noise dimensions (std 3).
        delta, eps: LiDAR's ridge and epsilon (paper variant) everywhere.
        trap_n, trap_q, trap_d: sizes of the pure-noise-trap check.
        n_configs, config_seed: the digits family's configurations, drawn independently by
            :func:`sample_configs` (random search) with this seed.
        hp_lr, hp_one_minus_tau, hp_wd, hp_pred_probs, hp_pred_lr, hp_noise, hp_mask, hp_shift: the ranges of
            the random search (see :func:`sample_configs`).
        steps, batch, hidden, emb_dim: digits training (AdamW, ``steps`` updates of ``batch`` images).
        n_checkpoints: evaluated checkpoints per run (evenly spaced, the initialisation excluded).
        digits_seeds: at most this many of the run's seeds for the digits family (training seeds).
        lidar_n, lidar_q: held-out images (surrogate classes) and views per image for LiDAR.
        eval_noise, eval_mask: the fixed augmentation of the LiDAR views (plus a random 1-pixel shift).
        delta_rel: LiDAR's regulariser relative to the embedding scale (:func:`lidar_delta_sweep`) in the
            headline comparison; deltas_rel: the delta sweep.
        probe_seeds, probe_fraction: probe seeds, each fitting the probe on its own class-stratified random
            ``probe_fraction`` of the labelled training images.
        n_boot: bootstrap replicates of the comparison.
        dl_features: ``(lambda, rho)`` of the deep linear data (noisy high-variance, clean low-variance).
        dl_depth, dl_eps, dl_eta, dl_records: deep linear training (SGD step ``dl_eta``, population
            second moments; each seed draws its own layer factors and its own LiDAR/RankMe views).
        dl_horizon: training time as a multiple of the slowest feature's time to 0.9 of its plateau.
        dl_lidar_n, dl_lidar_q: surrogate classes and views for the deep linear LiDAR.
        dl_delta_small: the tiny delta of the deep linear LiDAR (far below every learned w^2 n_v).
        dl_delta_big: a second, larger delta (comparable to the learned scale) for the deep linear LiDAR.
    """

    noise_n: int = 200
    noise_q: int = 20
    noise_informative: int = 8
    noise_dims: tuple[int, ...] = (0, 4, 8, 16, 24, 48)
    delta: float = 1e-6
    eps: float = 1e-7
    dl_delta_small: float = 1e-12
    trap_n: int = 1000
    trap_q: int = 50
    trap_d: int = 64
    n_configs: int = 56
    config_seed: int = 2024
    hp_lr: tuple[float, float] = (1e-4, 1e-2)
    hp_one_minus_tau: tuple[float, float] = (1e-3, 1.0)
    hp_wd: tuple[float, float] = (1e-3, 1.0)
    hp_pred_probs: tuple[float, float, float] = (0.2, 0.4, 0.4)
    hp_pred_lr: tuple[float, float] = (0.1, 10.0)
    hp_noise: tuple[float, float] = (0.0, 1.0)
    hp_mask: tuple[float, float] = (0.0, 0.7)
    hp_shift: tuple[float, float] = (0.0, 1.0)
    steps: int = 1000
    batch: int = 64
    hidden: int = 64
    emb_dim: int = 32
    n_checkpoints: int = 2
    digits_seeds: int = 1
    lidar_n: int = 200
    lidar_q: int = 20
    eval_noise: float = 0.3
    eval_mask: float = 0.3
    delta_rel: float = 1e-3
    deltas_rel: tuple[float, ...] = (1e-8, 1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
    probe_seeds: int = 3
    probe_fraction: float = 0.5
    n_boot: int = 1000
    dl_features: tuple[tuple[float, float], ...] = ((2.0, 0.25), (1.5, 0.3), (0.4, 0.9), (0.3, 0.95))
    dl_depth: int = 2
    dl_eps: float = 0.01
    dl_eta: float = 0.05
    dl_horizon: float = 1.3
    dl_records: int = 80
    dl_lidar_n: int = 500
    dl_lidar_q: int = 10
    dl_delta_big: float = 1e-2

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "quick": dict(steps=300, digits_seeds=1, n_configs=12, n_checkpoints=2, lidar_n=100, lidar_q=10, probe_seeds=2,
                      n_boot=200, noise_dims=(0, 8, 24), trap_n=500, dl_records=40, dl_lidar_n=300),
        "default": {},
        # paper: the paper's 1000 x 50 views; the recorded views are members x (checkpoints + 1) x 50000 x 32 float32
        # (6.4 GB here), so the family is 100 configurations x 2 seeds; untimed (no GPU run yet)
        "paper": dict(steps=4000, digits_seeds=2, n_configs=100, n_checkpoints=4, batch=128, lidar_n=1000, lidar_q=50,
                      probe_seeds=5, n_boot=1000, dl_records=200),
    }


# ============================================================================ part 1: noise robustness


def noise_unit(cfg: Mapping[str, Any], seeds: Sequence[int]) -> list[dict[str, np.ndarray]]:
    """LiDAR and RankMe with 0..K extra view-noise dimensions; one result per seed."""
    out = []
    for s in seeds:
        rows = []
        e = TL.synthetic_views(cfg["n"], cfg["q"], n_informative=cfg["informative"], n_noise=max(cfg["dims"]),
                               key=int(s))
        for k in cfg["dims"]:
            x = e[..., : cfg["informative"] + k]
            d = x.shape[-1]
            rows.append([TL.lidar(x, delta=cfg["delta"], eps=cfg["eps"]), TL.rankme(x.reshape(-1, d), eps=cfg["eps"])]
                        + [TL.lidar(x, variant=v) for v in sorted(TL.VARIANTS)])
        out.append({"values": np.array(rows)})
    return out


def trap_unit(cfg: Mapping[str, Any], seeds: Sequence[int]) -> list[dict[str, np.ndarray]]:
    """Pure noise / mis-grouped / grouped: (LiDAR, q * lambda_max) per case, per seed."""
    out = []
    for s in seeds:
        n, q, d = cfg["n"], cfg["q"], cfg["d"]
        cases = [
            TL.synthetic_views(n, q, n_informative=0, n_noise=d, noise_std=1.0, key=int(s)),
            TL.synthetic_views(n, q, n_informative=8, n_noise=d - 8, mis_group=True, key=int(s) + 10_000),
            TL.synthetic_views(n, q, n_informative=8, n_noise=d - 8, key=int(s) + 10_000),
        ]
        res = [TL.lidar(c, delta=cfg["delta"], eps=cfg["eps"], return_spectrum=True) for c in cases]
        out.append({"values": np.array([[r.value, q * r.lambda_max] for r in res])})
    return out


# ============================================================================ part 2: digits family

_SHIFTS = np.array([(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
_NO_SHIFT = 4  # index of (0, 0) in _SHIFTS

#: Per-member hyperparameters of the digits family, in the column order of :func:`sample_configs`.
HP_FIELDS = ("lr", "tau", "wd", "pred", "pred_lr", "noise", "mask", "shift")


def _shift_index() -> np.ndarray:
    """(9, 64) gather indices of the 9 one-pixel shifts of an 8x8 image (zero fill via index 64)."""
    idx = np.full((9, 64), 64)
    for k, (dy, dx) in enumerate(_SHIFTS):
        for r in range(8):
            for c in range(8):
                rs, cs = r - dy, c - dx
                if 0 <= rs < 8 and 0 <= cs < 8:
                    idx[k, r * 8 + c] = rs * 8 + cs
    return idx


def _augment(x, shift, u, noise, mask_ratio, idx, noise_std=0.3):
    """Shift by one of 9 offsets, mask pixels with u < mask_ratio, add Gaussian noise of std ``noise_std``."""
    xp = jnp.concatenate([x, jnp.zeros(x.shape[:-1] + (1,), x.dtype)], axis=-1)
    xs = jnp.take_along_axis(xp, idx[shift], axis=-1)
    return jnp.where(u < mask_ratio, 0.0, xs) + noise_std * noise


def _mlp_init(key, sizes):
    keys = jax.random.split(key, len(sizes) - 1)
    return [{"w": jax.random.normal(k, (a, b)) * jnp.sqrt(2.0 / a), "b": jnp.zeros(b)}
            for k, a, b in zip(keys, sizes[:-1], sizes[1:])]


def _mlp(layers, x):
    for i, layer in enumerate(layers):
        x = x @ layer["w"] + layer["b"]
        if i < len(layers) - 1:
            x = jax.nn.relu(x)
    return x


def _cos_loss(p, z):
    p = p / (jnp.linalg.norm(p, axis=-1, keepdims=True) + 1e-6)
    z = z / (jnp.linalg.norm(z, axis=-1, keepdims=True) + 1e-6)
    return jnp.mean(2.0 - 2.0 * jnp.sum(p * z, axis=-1))


def _predict(pred, kind, z):
    """Predictor selected per member by ``kind``: 0 none (identity, collapse-prone), 1 linear, 2 MLP d -> h -> d.

    Every branch is a parameter of every member, so configurations of any kind share ONE compiled, vmapped
    training program; an unused branch gets zero gradient (and only weight decay)."""
    return jnp.where(kind > 1.5, _mlp(pred["mlp"], z), jnp.where(kind > 0.5, _mlp(pred["lin"], z), z))


def _jepa_digits_loss(params, batch, idx):
    """BYOL/JEPA-style symmetric loss: predictor(online(v1)) vs SG(target(v2)) and vice versa.

    The member's own augmentation strength: shift with probability ``hp.shift``, mask ratio ``hp.mask``,
    noise std ``hp.noise``."""
    hp = jax.lax.stop_gradient(params["hp"])
    s1 = jnp.where(batch["w1"] < hp["shift"], batch["s1"], _NO_SHIFT)
    s2 = jnp.where(batch["w2"] < hp["shift"], batch["s2"], _NO_SHIFT)
    v1 = _augment(batch["x"], s1, batch["u1"], batch["n1"], hp["mask"], idx, hp["noise"])
    v2 = _augment(batch["x"], s2, batch["u2"], batch["n2"], hp["mask"], idx, hp["noise"])
    tgt = jax.lax.stop_gradient(params["target"])
    z1, z2 = _mlp(tgt, v1), _mlp(tgt, v2)
    p1 = _predict(params["pred"], hp["pred"], _mlp(params["enc"], v1))
    p2 = _predict(params["pred"], hp["pred"], _mlp(params["enc"], v2))
    return 0.5 * (_cos_loss(p1, z2) + _cos_loss(p2, z1))


def _ema_adam() -> optax.GradientTransformation:
    r"""AdamW on (encoder, predictor) with per-member hyperparameters, and the EMA target update.

    Encoder: :math:`\Delta\theta = -\eta(\mathrm{adam}(g) + w\,\theta)`; predictor: the same with
    :math:`\eta\,m_{\rm pred}` (predictor learning-rate multiplier); target:
    :math:`\theta_t \leftarrow \tau\theta_t + (1-\tau)\theta_o`. :math:`\eta` = ``hp.lr``, :math:`w` = ``hp.wd``
    (decoupled weight decay), :math:`m_{\rm pred}` = ``hp.pred_lr``, :math:`\tau` = ``hp.tau`` are leaves of the
    parameter pytree, so one compiled :func:`sims.substrate.train.fit` vmaps over configurations (their
    gradients are zero; their updates are set to zero)."""
    adam = optax.adam(1.0)

    def init(p):
        return adam.init({"enc": p["enc"], "pred": p["pred"]})

    def update(g, state, p):
        u, state = adam.update({"enc": g["enc"], "pred": g["pred"]}, state)
        hp = p["hp"]
        lr, wd, lr_p = hp["lr"], hp["wd"], hp["lr"] * hp["pred_lr"]
        # adam(1.0) already carries the minus sign
        enc = jax.tree_util.tree_map(lambda a, w: lr * (a - wd * w), u["enc"], p["enc"])
        pred = jax.tree_util.tree_map(lambda a, w: lr_p * (a - wd * w), u["pred"], p["pred"])
        tau = hp["tau"]
        tgt = jax.tree_util.tree_map(lambda t, o: (1.0 - tau) * (o - t), p["target"], p["enc"])
        return {"enc": enc, "pred": pred, "target": tgt, "hp": jax.tree_util.tree_map(jnp.zeros_like, hp)}, state

    return optax.GradientTransformation(init, update)


def sample_configs(n: int, seed: int, *, lr=(1e-4, 1e-2), one_minus_tau=(1e-3, 1.0), wd=(1e-3, 1.0),
                   pred_probs=(0.2, 0.4, 0.4), pred_lr=(0.1, 10.0), noise=(0.0, 1.0), mask=(0.0, 0.7),
                   shift=(0.0, 1.0)) -> np.ndarray:
    """``n`` configurations drawn independently (random search), as an ``(n, 8)`` array in :data:`HP_FIELDS` order.

    Log-uniform: learning rate, ``1 - tau`` (EMA rate of the target; ``tau = 0`` is a SimSiam-like copy),
    decoupled weight decay, predictor learning-rate multiplier. Predictor kind 0 (none: collapse-prone),
    1 (linear) or 2 (MLP) with probabilities ``pred_probs``. Uniform: augmentation noise std, mask ratio,
    shift probability. Independent draws make the configurations exchangeable units, which is what the
    bootstrap over configurations resamples.
    """
    rng = np.random.default_rng(seed)

    def logu(r):
        return 10.0 ** rng.uniform(np.log10(r[0]), np.log10(r[1]), n)

    cols = [logu(lr), 1.0 - logu(one_minus_tau), logu(wd), rng.choice(3, n, p=np.asarray(pred_probs)), logu(pred_lr),
            rng.uniform(*noise, n), rng.uniform(*mask, n), rng.uniform(*shift, n)]
    return np.stack(cols, axis=1)


def _eval_views(x: np.ndarray, q: int, seed: int, *, noise: float = 0.3, mask: float = 0.3) -> np.ndarray:
    """Fixed augmented views (random 1-pixel shift, mask ratio ``mask``, noise std ``noise``) of held-out images:
    ``(n * q, 64)``, view-major within each image (rows ``i*q .. i*q+q-1`` are image ``i``)."""
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    xs = np.repeat(np.asarray(x, dtype=np.float64), q, axis=0)
    xp = np.concatenate([xs, np.zeros((n * q, 1))], axis=1)
    shifted = np.take_along_axis(xp, _shift_index()[rng.integers(0, 9, n * q)], axis=1)
    aug = np.where(rng.uniform(size=xs.shape) < mask, 0.0, shifted) + noise * rng.standard_normal(xs.shape)
    return aug.astype(np.float32)  # same augmentation as _augment, in numpy (no per-op JAX compiles)


def _probe(ztr, ytr, zte, yte) -> float:
    """Linear-probe test accuracy: standardised features, multinomial logistic regression (L2, C=1)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    sc = StandardScaler().fit(ztr)
    clf = LogisticRegression(max_iter=200, tol=1e-3, C=1.0).fit(sc.transform(ztr), ytr)
    return float(clf.score(sc.transform(zte), yte))


def probe_subsets(y: np.ndarray, n_seeds: int, fraction: float, seed: int = 0) -> list[np.ndarray]:
    """Index sets of the probe seeds: per seed a class-stratified random ``fraction`` of the labelled images."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_seeds):
        idx = [rng.permutation(np.flatnonzero(y == c))[: max(1, int(round(fraction * np.sum(y == c))))]
               for c in np.unique(y)]
        out.append(np.sort(np.concatenate(idx)))
    return out


def _safe(fn, *a, **k) -> float:
    """A metric that is undefined (e.g. Sigma_b = 0 for a fully collapsed encoder) is NaN."""
    try:
        return float(fn(*a, **k))
    except ValueError:
        return float("nan")


def lidar_delta_sweep(e: np.ndarray, deltas_rel: Sequence[float], *, eps: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    r"""LiDAR of ``(n, q, d)`` embeddings for regularisers relative to the embedding scale.

    :math:`\delta = \delta_{\rm rel}\,s` with :math:`s = \mathrm{tr}(\hat\Sigma_b + \hat\Sigma_w)/d`, the mean
    per-dimension variance of the views; equivalently the paper's formula with :math:`\delta_{\rm rel}` on
    embeddings rescaled to unit mean per-dimension variance. LiDAR is then invariant to a global rescaling of
    the embedding (with an absolute :math:`\delta` it is not: the scale of a cosine-loss encoder's output drifts
    freely during training). The scatter matrices are computed once.

    Returns:
        ``(values, lambda_max)``, each ``(len(deltas_rel),)``; NaN where LiDAR is undefined (all clean-sample
        means equal, or :math:`s = 0`).
    """
    sb, sw = TL.scatter_matrices(e)
    d = sb.shape[0]
    s = float(np.trace(sb) + np.trace(sw)) / d
    vals, lmax = np.full(len(deltas_rel), np.nan), np.full(len(deltas_rel), np.nan)
    if not np.isfinite(s) or s <= 0:
        return vals, lmax
    for k, dr in enumerate(deltas_rel):
        try:
            lam = TL.lda_spectrum(sb / s, sw / s + float(dr) * np.eye(d))
            if lam[0] > 0:
                vals[k], lmax[k] = TL.entropy_rank(lam, eps=eps), lam[0]
        except ValueError:
            pass
    return vals, lmax


def train_digits_family(unit: Mapping[str, Any], seeds: Sequence[int]) -> list[dict[str, np.ndarray]]:
    """Train every sampled configuration, for all seeds, in ONE vmapped fit, and measure every checkpoint.

    Returns per seed a dict of arrays over ``(n_configs, n_checkpoints)``: ``probe`` (with a trailing
    probe-seed axis), ``lidar`` (trailing axis: the relative deltas ``unit["deltas_rel"]``), ``lidar_lmax``
    (same), ``lidar_limit`` (the delta -> infinity limit: effective rank of the eigenvalues of Sigma_b),
    ``rankme`` (clean images), ``rankme_views`` (the LiDAR views), ``alpha``, ``loss``; and the
    ``(n_configs, 8)`` hyperparameters ``hp`` (:data:`HP_FIELDS`).
    """
    xtr, ytr, xte, yte = digits(seed=0)
    hps = np.array(unit["hps"], dtype=np.float32)  # (C, 8)
    C, S = hps.shape[0], len(seeds)
    steps, n_ck = int(unit["steps"]), int(unit["n_checkpoints"])
    idx = jnp.asarray(_shift_index())
    n, q = int(unit["lidar_n"]), int(unit["lidar_q"])
    pool = np.concatenate([xte, xtr])  # LiDAR needs no labels: held-out images first, then training images
    if not 2 <= n <= pool.shape[0]:
        raise ValueError(f"lidar_n must be in [2, {pool.shape[0]}] (the digits images), got {n}")
    views = jnp.asarray(_eval_views(pool[:n], q, seed=1234, noise=unit["eval_noise"], mask=unit["eval_mask"]))
    xtr_j, xte_j = jnp.asarray(xtr), jnp.asarray(xte)
    h, d = int(unit["hidden"]), int(unit["emb_dim"])
    B = int(unit["batch"])

    def init(key, hp):
        ke, kp, kl = jax.random.split(key, 3)
        enc = _mlp_init(ke, [64, h, h, d])
        pred = {"lin": _mlp_init(kl, [d, d]), "mlp": _mlp_init(kp, [d, h, d])}
        return {"enc": enc, "pred": pred, "target": jax.tree_util.tree_map(jnp.array, enc),
                "hp": dict(zip(HP_FIELDS, hp))}

    keys = jnp.stack([jax.random.fold_in(jax.random.PRNGKey(int(s)), c) for s in seeds for c in range(C)])
    hp_all = jnp.asarray(np.tile(hps, (S, 1)))
    params = jax.vmap(init)(keys, hp_all)

    def data(key):
        ks = jax.random.split(key, 9)
        i = jax.random.randint(ks[0], (B,), 0, xtr_j.shape[0])
        return {"x": xtr_j[i], "s1": jax.random.randint(ks[1], (B,), 0, 9), "s2": jax.random.randint(ks[2], (B,), 0, 9),
                "w1": jax.random.uniform(ks[7], (B,)), "w2": jax.random.uniform(ks[8], (B,)),
                "u1": jax.random.uniform(ks[3], (B, 64)), "u2": jax.random.uniform(ks[4], (B, 64)),
                "n1": jax.random.normal(ks[5], (B, 64)), "n2": jax.random.normal(ks[6], (B, 64))}

    def record(p):
        return {"views": _mlp(p["enc"], views), "train": _mlp(p["enc"], xtr_j), "test": _mlp(p["enc"], xte_j)}

    res = fit(lambda p, b: _jepa_digits_loss(p, b, idx), params, _ema_adam(), steps=steps, data=data,
              key=jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys), record_every=steps // n_ck,
              record_fn=record, batched=True)
    from threadpoolctl import threadpool_limits

    subsets = probe_subsets(ytr, int(unit["probe_seeds"]), float(unit["probe_fraction"]))
    with threadpool_limits(1):  # many tiny SVD/eigh/probe problems: BLAS threads would only contend
        return _family_metrics(res.records, res.losses, hps, S, n_ck, n, q, ytr, yte, subsets,
                               tuple(unit["deltas_rel"]), float(unit["eps"]))


def _family_metrics(rec, losses, hps, S, n_ck, n, q, ytr, yte, subsets, deltas_rel, eps) -> list[dict[str, np.ndarray]]:
    C, P, D = hps.shape[0], len(subsets), len(deltas_rel)
    out = []
    for si in range(S):
        m = {k: np.full((C, n_ck), np.nan) for k in ("rankme", "rankme_views", "alpha", "loss", "lidar_limit")}
        m["probe"] = np.full((C, n_ck, P), np.nan)
        m["lidar"] = np.full((C, n_ck, D), np.nan)
        m["lidar_lmax"] = np.full((C, n_ck, D), np.nan)
        for c in range(C):
            b = si * C + c
            for j in range(n_ck):
                r = j + 1  # record 0 is the initialisation
                v = np.asarray(rec["views"][b, r], dtype=np.float64)
                ztr = np.asarray(rec["train"][b, r], np.float64)
                zte = np.asarray(rec["test"][b, r], np.float64)
                m["loss"][c, j] = float(losses[b, r])
                if not (np.all(np.isfinite(v)) and np.all(np.isfinite(ztr)) and np.all(np.isfinite(zte))):
                    continue
                m["lidar"][c, j], m["lidar_lmax"][c, j] = lidar_delta_sweep(v.reshape(n, q, -1), deltas_rel, eps=eps)
                # the delta -> infinity limit of LiDAR: effective rank of the eigenvalues of Sigma_b alone
                m["lidar_limit"][c, j] = _safe(lambda e: TL.entropy_rank(np.linalg.eigvalsh(TL.scatter_matrices(e)[0])
                                                                         .clip(0.0), eps=eps), v.reshape(n, q, -1))
                m["rankme"][c, j] = _safe(TL.rankme, np.concatenate([ztr, zte]), eps=eps)
                m["rankme_views"][c, j] = _safe(TL.rankme, v, eps=eps)
                m["alpha"][c, j] = _safe(lambda z: TL.alpha_req(z, fit_range=(2, z.shape[1]))[0], v)
                for pi, sub in enumerate(subsets):
                    m["probe"][c, j, pi] = _probe(ztr[sub], ytr[sub], zte, yte)
        m["hp"] = hps.astype(np.float64)
        out.append(m)
    return out


# ---------------------------------------------------------------------------- statistics of the comparison


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> float:
    r"""Kendall's :math:`\tau_b` of two 1-D arrays (ties handled), by the pairwise sign matrices:
    :math:`\sum_{ij}s^x_{ij}s^y_{ij}/\sqrt{\sum|s^x_{ij}|\sum|s^y_{ij}|}`, :math:`s^x_{ij}=\mathrm{sign}(x_i-x_j)`.
    ``O(N^2)`` memory, vectorised (fast for the few hundred models of the bootstrap). NaN if either is constant."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    sx = np.sign(x[:, None] - x[None, :])
    sy = np.sign(y[:, None] - y[None, :])
    den = np.sqrt(np.abs(sx).sum() * np.abs(sy).sum())
    return float((sx * sy).sum() / den) if den > 0 else float("nan")


def _rank_fill(m: np.ndarray) -> np.ndarray:
    """Undefined metric values (NaN: a fully collapsed or diverged encoder) rank below every defined one."""
    m = np.array(m, dtype=float)
    bad = ~np.isfinite(m)
    if bad.any():
        lo = np.nanmin(m[~bad]) if (~bad).any() else 0.0
        m[bad] = lo - 1.0
    return m


def _selection_regret(metric: np.ndarray, acc: np.ndarray) -> float:
    """Mean over training seeds of (best accuracy - accuracy of the metric's argmax); metric, acc: ``(S, C)``."""
    pick = np.argmax(metric, axis=1)
    return float(np.mean(acc.max(axis=1) - acc[np.arange(acc.shape[0]), pick]))


def comparison_bootstrap(metrics: Mapping[str, np.ndarray], probe: np.ndarray, *, n_boot: int, seed: int = 0,
                         level: float = 0.95, pairs: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    r"""Paired bootstrap over configurations and probe seeds of Kendall :math:`\tau` and selection regret.

    Args:
        metrics: name -> ``(S, C, K)`` metric values (training seeds, configurations, checkpoints); NaN ranks
            lowest (:func:`_rank_fill`).
        probe: ``(S, C, K, P)`` probe accuracies (P probe seeds).
        n_boot: bootstrap replicates; each resamples the C configurations (with all their seeds and checkpoints)
            and the P probe seeds with replacement, and evaluates every metric on the SAME resample (paired).
        pairs: ``(a, b)`` names whose differences ``tau_a - tau_b`` and ``regret_a - regret_b`` are reported.

    Returns:
        ``{"tau": {name: (point, lo, hi)}, "regret": {...}, "tau_diff": {"a-b": (point, lo, hi)},
        "regret_diff": {...}, "boot_tau_diff": {"a-b": replicates}}``: point estimates on the full data,
        percentile intervals at ``level``. :math:`\tau` pools all seeds, configurations and checkpoints
        against the probe-seed-mean accuracy; regret uses the final checkpoint, per training seed
        (best accuracy minus that of the metric-selected configuration), averaged over seeds.
    """
    probe = np.asarray(probe, dtype=float)
    S, C, K, P = probe.shape
    ms = {k: _rank_fill(np.asarray(v, dtype=float)) for k, v in metrics.items()}
    rng = np.random.default_rng(seed)

    def stats(ci, pi):
        acc = probe[:, ci][..., pi].mean(-1)  # (S, C', K)
        tau = {k: kendall_tau_b(m[:, ci].ravel(), acc.ravel()) for k, m in ms.items()}
        reg = {k: _selection_regret(m[:, ci, -1], acc[:, :, -1]) for k, m in ms.items()}
        return tau, reg

    tau0, reg0 = stats(np.arange(C), np.arange(P))
    bt = {k: np.empty(n_boot) for k in ms}
    br = {k: np.empty(n_boot) for k in ms}
    for b in range(n_boot):
        t, r = stats(rng.integers(0, C, C), rng.integers(0, P, P))
        for k in ms:
            bt[k][b], br[k][b] = t[k], r[k]
    a = (1.0 - level) / 2.0

    def ci(point, reps):
        reps = reps[np.isfinite(reps)]
        lo, hi = (np.quantile(reps, [a, 1.0 - a]) if reps.size else (np.nan, np.nan))
        return (float(point), float(lo), float(hi))

    out: dict[str, Any] = {"tau": {k: ci(tau0[k], bt[k]) for k in ms}, "regret": {k: ci(reg0[k], br[k]) for k in ms},
                           "tau_diff": {}, "regret_diff": {}, "boot_tau_diff": {}, "n_boot": n_boot, "level": level}
    for x, y in pairs:
        key = f"{x}-{y}"
        out["tau_diff"][key] = ci(tau0[x] - tau0[y], bt[x] - bt[y])
        out["regret_diff"][key] = ci(reg0[x] - reg0[y], br[x] - br[y])
        out["boot_tau_diff"][key] = bt[x] - bt[y]
    return out


# ============================================================================ part 3: deep linear JEPA / MAE


def deep_linear_unit(unit: Mapping[str, Any], seeds: Sequence[int]) -> list[dict[str, np.ndarray]]:
    """Train one deep linear objective (vmapped over seeds) and measure LiDAR / RankMe of W x along training.

    Surrogate task: ``n`` clean samples :math:`z_i\\sim N(0, s)` with ``q`` views :math:`z_i+\\xi_{ij}`,
    :math:`\\xi\\sim N(0, n_v)` (the static-views model); embeddings :math:`\\bar W(t)(z_i+\\xi_{ij})`.

    Each seed is its own network: :func:`sims.substrate.networks.deep_linear_init` with the seed's key draws
    random orthogonal layer factors, balanced and aligned so that the product starts at :math:`\\epsilon I`
    (the per-mode theory's initialisation); the seeds also draw their own LiDAR/RankMe views. The result
    carries each seed's initial first layer (``first_layer_init``) so the tests can check the networks differ.
    """

    lam_v = np.array([f[0] for f in unit["features"]])
    rho_v = np.array([f[1] for f in unit["features"]])
    sig, nv = static_noise_for(lam_v, rho_v)
    d, depth = lam_v.size, int(unit["depth"])
    eta, steps, rec_every = float(unit["eta"]), int(unit["steps"]), int(unit["record_every"])
    keys = jnp.stack([jax.random.PRNGKey(int(s)) for s in seeds])

    # population second moments of the static-views model (x = z + xi, y = z + xi'): Sxx = Syy = diag(s + n_v),
    # Syx = diag(lambda). With finite-sample moments, JEPA trajectories over these long horizons pick up O(1)
    # off-diagonal mixing (seen with sims.jepa.train_modes too), which is not what the per-mode theory describes.
    mom = {"sxx": jnp.diag(jnp.asarray(sig + nv)), "syx": jnp.diag(jnp.asarray(lam_v)), "syy": jnp.diag(jnp.asarray(sig + nv))}
    # each seed its own network: random orthogonal layer factors (balanced and aligned, so the product starts at
    # eps I as the per-mode theory assumes); before this fix the key was unused and every seed was one network
    params = jax.vmap(lambda k: deep_linear_init(d, depth, float(unit["eps"]), key=jax.random.fold_in(k, 17)))(keys)
    data = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (len(seeds),) + a.shape), mom)
    res = fit(lambda p, b: jepa_loss(p, b, unit["objective"]), params, optax.sgd(eta), steps=steps, data=data,
              key=keys, record_every=rec_every, record_fn=lambda p: deep_linear_product(p["W"]), batched=True)
    n, q = int(unit["lidar_n"]), int(unit["lidar_q"])
    out = []
    for si, s in enumerate(seeds):
        rng = np.random.default_rng(int(s) + 777)
        views = np.sqrt(sig) * rng.standard_normal((n, 1, d)) + np.sqrt(nv) * rng.standard_normal((n, q, d))
        W = np.asarray(res.records[si], dtype=np.float64)  # (R, d, d)
        emb = np.einsum("rab,nqb->rnqa", W, views)
        lid_small, _ = TL.lidar_batched(emb, delta=unit["delta"], eps=unit["eps_metric"])
        lid_big, _ = TL.lidar_batched(emb, delta=unit["delta_big"], eps=unit["eps_metric"])
        rm = np.array([TL.rankme(e.reshape(-1, d), eps=unit["eps_metric"]) for e in emb])
        out.append({"t": res.steps * eta, "lidar": lid_small, "lidar_big": lid_big, "rankme": rm,
                    "modes": np.einsum("rii->ri", W), "first_layer_init": np.asarray(params["W"][0][si], np.float64),
                    "raw_lidar": np.array(TL.lidar(views, delta=unit["delta"], eps=unit["eps_metric"]))})
    return out


def deep_linear_theory(objective: str, depth: int, feats, eps: float, t: np.ndarray, *, q: int, n: int,
                       delta: float, delta_big: float, eps_metric: float) -> dict[str, np.ndarray]:
    """LiDAR and RankMe predicted from the per-mode ODE :math:`\\bar w_k(t)` (:func:`sims.substrate.ode.jepa_mode_trajectories`).

    Expected scatters of the diagonal encoder: :math:`\\Sigma_b = \\mathrm{diag}(\\bar w^2(s+n_v/q))`,
    :math:`\\Sigma_w = \\mathrm{diag}(\\bar w^2 n_v)`, so
    :math:`\\lambda_k = \\bar w_k^2(s_k+n_{v,k}/q)/(\\bar w_k^2n_{v,k}+\\delta)`;
    singular values of the uncentred embeddings :math:`\\propto\\bar w_k\\sigma_k`, :math:`\\sigma_k^2 = s_k+n_{v,k}`
    (finite-``n`` fluctuations of order :math:`\\sqrt{d/n}` neglected).
    """

    lam_v = np.array([f[0] for f in feats])
    rho_v = np.array([f[1] for f in feats])
    sig, nv = static_noise_for(lam_v, rho_v)
    w = np.asarray(jepa_mode_trajectories(objective, depth, feats, eps, np.asarray(t, dtype=float)), dtype=float).T  # (R, d)
    w2 = w**2
    lid = np.array([TL.entropy_rank(r * (sig + nv / q) / (r * nv + delta), eps=eps_metric) for r in w2])
    lid_big = np.array([TL.entropy_rank(r * (sig + nv / q) / (r * nv + delta_big), eps=eps_metric) for r in w2])
    rm = np.array([TL.entropy_rank(np.abs(r) * np.sqrt(sig + nv), eps=eps_metric) for r in w])
    return {"lidar": lid, "lidar_big": lid_big, "rankme": rm, "modes": w}


# ============================================================================ the experiment


def _rank_stats(metric: np.ndarray, probe: np.ndarray) -> tuple[float, float]:
    ok = np.isfinite(metric) & np.isfinite(probe)
    if ok.sum() < 3:
        return float("nan"), float("nan")
    return (float(scipy.stats.kendalltau(metric[ok], probe[ok]).statistic),
            float(scipy.stats.spearmanr(metric[ok], probe[ok]).statistic))


class LidarExperiment(Experiment):
    name = "lidar"
    paper = "Thilak et al. 2024 (ICLR), LiDAR: sensing linear probing performance in joint embedding SSL"
    description = ("LiDAR vs RankMe: robustness to view-noise dimensions, the pure-noise trap, whether LiDAR predicts "
                   "probe accuracy and selects hyperparameters better than RankMe (JEPA-style encoders on digits, "
                   "paired bootstrap), and deep linear JEPA/MAE")
    config_cls = LidarConfig
    paper_claims = (
        "Thilak et al. (2024) propose LiDAR, a label-free measure of how good a self-supervised embedding is: the "
        "effective rank of a linear discriminant analysis that treats each sample as a class and its augmented views "
        "as members. Unlike RankMe (the effective rank of the embeddings themselves), LiDAR ignores directions that "
        "only vary between views of one sample, such as noise. The paper reports that LiDAR predicts linear-probe "
        "accuracy better than RankMe when choosing hyperparameters of joint-embedding models.")
    reproduced = (
        "LiDAR and RankMe are computed on synthetic embeddings with a growing number of pure-noise dimensions, and on "
        "pure noise and mis-grouped views (where LiDAR is fooled). The paper's headline comparison is tested directly: "
        "configurations of a small JEPA-style encoder drawn at random over augmentation strength, EMA rate, weight "
        "decay, predictor kind (none, linear, MLP) and predictor learning rate are trained on scikit-learn's digits "
        "(56 configurations, 1000 steps at the default scale; 100 configurations, 2 seeds, 4000 steps at the paper "
        "scale); LiDAR (200 images x 20 views; 1000 x 50 at the paper scale), RankMe and alpha-ReQ are compared with "
        "the linear-probe accuracy averaged over probe seeds, by Kendall rank correlation and by the regret of the "
        "configuration each metric selects, with paired bootstrap intervals over configurations and probe seeds, and "
        "over a sweep of LiDAR's regulariser. Both metrics are also followed along training of deep linear JEPA and "
        "MAE networks and compared with the prediction from their learning equations.")
    departures = (
        "Small models and data: 8x8 digits and a three-layer MLP encoder trained for 1000 steps instead of "
        "ImageNet-scale I-JEPA, data2vec, DINO and VICReg models, with a logistic-regression probe on the same digits. "
        "One BYOL/JEPA-style method with a random hyperparameter search (augmentation noise, mask ratio and shift "
        "probability standing in for the paper's mask scales; EMA rate; weight decay; predictor none, linear or MLP "
        "and its learning rate; learning rate) instead of per-method sweeps. LiDAR's surrogate task uses one fixed "
        "evaluation augmentation for every model, 200 images x 20 views at the default scale (the paper's 1000 x 50 "
        "at the paper scale). The paper's regulariser delta is not known here: delta is set to 1e-3 times the "
        "embeddings' mean per-dimension variance (an output scale that a cosine loss leaves free), fixed before "
        "the results, and swept from 1e-8 to 1. RankMe uses the embeddings of the 1797 clean images, not 25600. "
        "The rank correlations and regrets carry paired bootstrap intervals (the paper gives none). The deep "
        "linear part is this package's addition, linking LiDAR to the JEPA paper's learning dynamics.")
    captions = {
        "noise_robustness": (
            "(a) LiDAR and RankMe of synthetic embeddings (8 informative dimensions) against the number of added "
            "dimensions that carry only view noise; dashed with open markers: measured, mean over seeds, band from the "
            "lowest to the highest seed. RankMe counts the noise, LiDAR does not. (b) LiDAR under the numerical "
            "conventions of public implementations (regulariser delta, entropy offset eps, normalisations), seed means; "
            "all but the row-PCA variant agree with the paper's formula."),
        "digits_selection": (
            "Linear-probe accuracy (mean over probe seeds) against (a) LiDAR with delta relative to the embedding "
            "scale, (b) RankMe of the clean images' embeddings and (c) alpha-ReQ, for every trained encoder "
            "configuration, checkpoint (darker = later) and seed of the digits family; the titles give Kendall's tau "
            "over all points with its 95% paired bootstrap interval (over configurations and probe seeds)."),
        "digits_comparison": (
            "(a) Paired bootstrap replicates of tau_LiDAR - tau_RankMe (resampling configurations and probe seeds, "
            "both metrics on the same resample); solid line: the estimate on all data, dashed: the 95% interval, grey: "
            "0. The paper's claim is that this difference is positive. (b) Selection regret (best probe accuracy minus "
            "that of the configuration with the highest metric, final checkpoint) for each metric, with 95% bootstrap "
            "intervals."),
        "digits_delta_sweep": (
            "LiDAR against its regulariser delta, given relative to the embeddings' mean per-dimension variance: (a) "
            "Kendall tau with the probe accuracy and (b) the regret of the LiDAR-selected configuration, point "
            "estimates (dashed, open markers) with 95% bootstrap bands; the horizontal line and band give RankMe; the "
            "dotted vertical line marks the delta used in the headline comparison (fixed before the results)."),
        "deep_linear": (
            "(a) RankMe and (b), (c) LiDAR with two regularisers delta along the training of deep linear JEPA (blue) and "
            "MAE (orange) networks, against gradient-flow time (symmetric log axis). Dotted: predicted from the "
            "per-feature learning equations (their exact solution); dashed with open markers: trained networks, mean "
            "over seeds, band from the lowest to the highest seed. With the tiny delta of (c) LiDAR stays at the LiDAR "
            "of the raw views (each seed's own, which the band spans), as invariance under invertible linear maps "
            "requires; the dotted line is the population value."),
    }

    def run(self, config: LidarConfig, ctx) -> dict[str, Any]:
        cfg = config
        out: dict[str, Any] = {}
        # -- part 1
        nu = {"n": cfg.noise_n, "q": cfg.noise_q, "informative": cfg.noise_informative, "dims": tuple(cfg.noise_dims),
              "delta": cfg.delta, "eps": cfg.eps}
        r = ctx.sweep(noise_unit, {"noise": nu}, desc="noise dims")["noise"]
        out["noise"] = {"dims": np.array(cfg.noise_dims), "values": np.stack([x["values"] for x in r]),
                        "variants": sorted(TL.VARIANTS)}
        tu = {"n": cfg.trap_n, "q": cfg.trap_q, "d": cfg.trap_d, "delta": cfg.delta, "eps": cfg.eps}
        r = ctx.sweep(trap_unit, {"trap": tu}, desc="pure-noise trap")["trap"]
        out["trap"] = {"values": np.stack([x["values"] for x in r])}
        # -- part 2
        seeds = list(ctx.seeds)[: cfg.digits_seeds]
        if cfg.delta_rel not in cfg.deltas_rel:
            raise ValueError(f"delta_rel {cfg.delta_rel!r} must be one of deltas_rel {cfg.deltas_rel!r}")
        hps = sample_configs(cfg.n_configs, cfg.config_seed, lr=cfg.hp_lr, one_minus_tau=cfg.hp_one_minus_tau,
                             wd=cfg.hp_wd, pred_probs=cfg.hp_pred_probs, pred_lr=cfg.hp_pred_lr, noise=cfg.hp_noise,
                             mask=cfg.hp_mask, shift=cfg.hp_shift)
        unit = dict(hps=tuple(tuple(float(v) for v in row) for row in hps), steps=cfg.steps, batch=cfg.batch,
                    hidden=cfg.hidden, emb_dim=cfg.emb_dim, n_checkpoints=cfg.n_checkpoints, lidar_n=cfg.lidar_n,
                    lidar_q=cfg.lidar_q, eval_noise=cfg.eval_noise, eval_mask=cfg.eval_mask,
                    probe_seeds=cfg.probe_seeds, probe_fraction=cfg.probe_fraction, deltas_rel=tuple(cfg.deltas_rel),
                    eps=cfg.eps)
        r = ctx.sweep(train_digits_family, {"family": unit}, seeds, desc="digits family")["family"]
        # (seeds, configs, checkpoints[, probe seeds | deltas])
        keys = ("probe", "lidar", "lidar_lmax", "lidar_limit", "rankme", "rankme_views", "alpha", "loss")
        fam: dict[str, Any] = {k: np.stack([x[k] for x in r]) for k in keys}
        fam["hp"] = np.asarray(r[0]["hp"])
        fam["deltas_rel"] = np.asarray(cfg.deltas_rel, dtype=float)
        k0 = list(cfg.deltas_rel).index(cfg.delta_rel)
        mets = {"lidar": fam["lidar"][..., k0], "rankme": fam["rankme"], "rankme_views": fam["rankme_views"],
                "alpha": fam["alpha"], "lidar_limit": fam["lidar_limit"]}
        mets.update({f"lidar_d{k}": fam["lidar"][..., k] for k in range(len(cfg.deltas_rel))})
        pairs = [("lidar", "rankme"), ("lidar_limit", "rankme")] + [(f"lidar_d{k}", "rankme")
                                                                   for k in range(len(cfg.deltas_rel))]
        bs = comparison_bootstrap(mets, fam["probe"], n_boot=cfg.n_boot, seed=cfg.config_seed, pairs=pairs)
        fam["boot"] = {"tau": bs["tau"], "regret": bs["regret"], "tau_diff": bs["tau_diff"],
                       "regret_diff": bs["regret_diff"], "tau_diff_replicates": bs["boot_tau_diff"]["lidar-rankme"],
                       "n_boot": cfg.n_boot, "level": bs["level"]}
        out["digits"] = fam
        # -- part 3
        dl = {}
        from theory import jepa as TJ

        for obj in ("jepa", "mae"):
            T = cfg.dl_horizon * max(TJ.time_to_learn(obj, cfg.dl_depth, a, b, cfg.dl_eps, 0.9) for a, b in cfg.dl_features)
            rec_every = max(1, math.ceil(T / cfg.dl_eta / cfg.dl_records))
            steps = rec_every * cfg.dl_records
            unit = dict(objective=obj, depth=cfg.dl_depth, eps=cfg.dl_eps, eta=cfg.dl_eta, steps=steps,
                        record_every=rec_every, features=tuple(cfg.dl_features),
                        lidar_n=cfg.dl_lidar_n, lidar_q=cfg.dl_lidar_q, delta=cfg.dl_delta_small, delta_big=cfg.dl_delta_big,
                        eps_metric=cfg.eps)
            rr = ctx.sweep(deep_linear_unit, {obj: unit}, desc=f"deep linear {obj}")[obj]
            t = rr[0]["t"]
            th = deep_linear_theory(obj, cfg.dl_depth, cfg.dl_features, cfg.dl_eps, t, q=cfg.dl_lidar_q,
                                    n=cfg.dl_lidar_n, delta=cfg.dl_delta_small, delta_big=cfg.dl_delta_big, eps_metric=cfg.eps)
            dl[obj] = {"t": t, **{k: np.stack([x[k] for x in rr]) for k in ("lidar", "lidar_big", "rankme", "modes")},
                       "raw_lidar": np.array([float(x["raw_lidar"]) for x in rr]),
                       "theory": th}
        out["deep_linear"] = dl
        return out

    # ------------------------------------------------------------------ claims
    def claims(self, config: LidarConfig, results: Mapping[str, Any]) -> list[Claim]:
        cfg = config
        cl: list[Claim] = []
        nz = results["noise"]
        vals = np.asarray(nz["values"])  # (S, K, 2 + variants)
        dims = list(np.asarray(nz["dims"]))
        k = dims.index(24) if 24 in dims else len(dims) - 1
        lid_ratio = vals[:, k, 0] / vals[:, 0, 0]
        rm_ratio = vals[:, k, 1] / vals[:, 0, 1]
        noise_links = {"theory": ["theory.lidar.lidar", "theory.lidar.rankme", "theory.lidar.synthetic_views"],
                       "proof": "lidar.finite_sample_leakage_lambda_s_2_v_2_1_q_pure_noise_1_q",
                       "figures": ["noise_robustness"]}
        noise_setup = (f"Synthetic embeddings: {cfg.noise_n} samples ('classes'), {cfg.noise_q} views each, "
                       f"{cfg.noise_informative} informative dimensions (signal std 1, view noise 0.3) plus k dimensions "
                       "of pure view noise (std 3); LiDAR with the paper's formula (delta "
                       f"{cfg.delta:g}, eps {cfg.eps:g}); measured at k = {dims[k]} over k = 0, per seed."
                       " Kind check: the data are drawn from the model in which the property is derived (a direction of "
                       "pure view noise has LDA eigenvalue about 1/q), so it holds by construction up to sampling error; "
                       "it checks the implementation, not the paper's claim on trained encoders (lidar.digits_*).")
        holds = bool(np.all(rm_ratio >= 3.0))
        cl.append(Claim(
            "lidar.noise_rankme",
            f"Adding {dims[k]} dimensions that carry only view noise multiplies RankMe (the effective rank of the "
            "embeddings) at least threefold, although they hold no information.",
            ">= 3x", float(rm_ratio.mean()), ">= 3", holds, {"per_seed": rm_ratio.tolist(), "tolerance_kind": "absolute"},
            kind="check", links=noise_links,
            detail=noise_setup + " Holds when RankMe(k)/RankMe(0) >= 3 on every seed.",
            finding="" if holds else
            f"RankMe grew by {np.round(rm_ratio, 2).tolist()} per seed only: the noise dimensions' variance (std 3) is "
            "not large enough against the informative ones at this sample size; a limit of the synthetic setup."))
        holds = bool(np.all(lid_ratio <= 1.2))
        cl.append(Claim(
            "lidar.noise_lidar",
            f"Adding the same {dims[k]} view-noise dimensions barely moves LiDAR (at most 20%): LiDAR only counts "
            "directions that separate samples more than they separate views of one sample.",
            "<= 1.2x", float(lid_ratio.mean()), "<= 1.2", holds,
            {"per_seed": lid_ratio.tolist(), "lambda_noise_expected": 1.0 / cfg.noise_q, "tolerance_kind": "absolute"},
            kind="check", links=noise_links,
            detail=noise_setup + f" Noise directions have an LDA eigenvalue near 1/q = {1 / cfg.noise_q:g}; holds when "
                                 "LiDAR(k)/LiDAR(0) <= 1.2 on every seed.",
            finding="" if holds else
            f"LiDAR grew by {np.round(lid_ratio, 3).tolist()} per seed: the noise directions' finite-sample eigenvalues "
            f"(about 1/q = {1 / cfg.noise_q:g} plus sampling leakage) add entropy; more views per sample would shrink it. "
            "A limit of the synthetic sample size."))
        tr = np.asarray(results["trap"]["values"])  # (S, 3, 2)
        # Sigma_lidar ~ (1/q) x (a Wishart of n-1 dof / (n-1)) for pure noise: Marchenko-Pastur upper edge
        edge = (1 + math.sqrt(cfg.trap_d / (cfg.trap_n - 1))) ** 2
        high = tr[:, :2, 0] > 0.85 * cfg.trap_d
        flat = (tr[:, :2, 1] >= 1.0) & (tr[:, :2, 1] <= 1.15 * edge)
        holds = bool(np.all(high) and np.all(flat) and np.all(tr[:, 2, 0] < 12) and np.all(tr[:, 2, 1] > 10))
        trap_meas = {"pure [LiDAR, q lmax]": tr[:, 0].mean(0).tolist(), "misgrouped": tr[:, 1].mean(0).tolist(),
                     "grouped": tr[:, 2].mean(0).tolist()}
        cl.append(Claim(
            "lidar.pure_noise_trap",
            "LiDAR can be fooled: embeddings of pure noise, or informative embeddings whose views are grouped with the "
            "wrong samples, get a near-maximal LiDAR although nothing separates the samples, while correctly grouped "
            "informative embeddings get a low LiDAR. The largest eigenvalue tells them apart: near 1/q (q views per "
            "sample) for the former, far above for the latter.",
            f"LiDAR > {0.85 * cfg.trap_d:.0f} and q*lambda_max in [1, 1.15 x MP edge {edge:.2f}]; grouped: "
            f"LiDAR < 12, q*lambda_max > 10",
            trap_meas, "see predicted", holds, {},
            kind="check",
            links={"theory": ["theory.lidar.lidar", "theory.lidar.synthetic_views"],
                   "proof": "lidar.finite_sample_leakage_lambda_s_2_v_2_1_q_pure_noise_1_q", "figures": []},
            detail=f"n = {cfg.trap_n} samples, q = {cfg.trap_q} views, d = {cfg.trap_d}. For pure noise the LDA matrix is "
                   "(1/q) times a normalised Wishart matrix, so q lambda_max lies near the Marchenko-Pastur upper edge "
                   f"(1 + sqrt(d/(n-1)))^2 = {edge:.2f}. Measured per case: [LiDAR, q lambda_max], seed means. Kind "
                   "check: a derived property evaluated on random instances of the model it is derived in.",
            finding="" if holds else
            f"Measured {trap_meas}: a case left its predicted range (pure and mis-grouped: LiDAR above "
            f"{0.85 * cfg.trap_d:.0f} with q lambda_max in [1, {1.15 * edge:.2f}]; grouped: LiDAR below 12 with q "
            "lambda_max above 10). Finite-sample fluctuation of the largest eigenvalue beyond 15% of the edge would be a "
            "limit of the sample size; a grouped LiDAR above 12, an open question about the synthetic model."))
        # -- digits
        fam = results["digits"]
        bs = fam["boot"]
        probe = np.asarray(fam["probe"])  # (S, C, K, P)
        S, n_cfg, K, P = probe.shape
        lvl = int(round(100 * float(bs["level"])))
        deltas = [float(x) for x in np.asarray(fam["deltas_rel"])]
        acc_final = probe[:, :, -1].mean(-1)
        n_undef = int(np.sum(~np.isfinite(np.asarray(fam["lidar"])[..., deltas.index(cfg.delta_rel)])))
        digits_setup = (
            f"{n_cfg} configurations drawn at random (learning rate, EMA rate of the target, weight decay, predictor "
            "none/linear/MLP and its learning-rate multiplier, augmentation noise, mask ratio and shift probability) of a "
            "small JEPA-style encoder (MLP encoder and predictor against a slowly updated copy of the encoder, cosine "
            f"loss) trained on augmented scikit-learn digits, {S} training seed(s), {cfg.steps} steps, {K} checkpoints. "
            f"Linear probe: logistic regression on the embeddings, fitted on {P} probe seeds (each a random "
            f"{cfg.probe_fraction:g} of the labelled training images), tested on the test split, accuracy averaged over "
            f"probe seeds. LiDAR on {cfg.lidar_n} images x {cfg.lidar_q} augmented views with delta = {cfg.delta_rel:g} "
            "x the mean per-dimension variance of the views; RankMe on the embeddings of the clean images. "
            f"Paired bootstrap ({bs['n_boot']} replicates) over configurations and probe seeds, {lvl}% percentile "
            f"intervals. Undefined LiDAR values (a fully collapsed encoder) rank lowest: {n_undef} of {S * n_cfg * K}.")
        digits_links = {"theory": ["theory.lidar.lidar", "theory.lidar.rankme", "theory.lidar.lda_spectrum"],
                        "figures": ["digits_selection", "digits_comparison"]}
        tl, tr_ = bs["tau"]["lidar"], bs["tau"]["rankme"]
        td = bs["tau_diff"]["lidar-rankme"]
        taus = {"lidar": list(tl), "rankme": list(tr_), "rankme_views": list(bs["tau"]["rankme_views"]),
                "alpha_req": list(bs["tau"]["alpha"])}
        sweep_pts = [bs["tau_diff"][f"lidar_d{k}-rankme"][0] for k in range(len(deltas))]
        k_lo, k_hi = int(np.argmin(sweep_pts)), int(np.argmax(sweep_pts))
        holds = bool(td[1] > 0)
        cl.append(Claim(
            "lidar.digits_lidar_beats_rankme_tau",
            "LiDAR ranks trained encoders by their linear-probe accuracy better than RankMe does: its Kendall rank "
            "correlation with the probe accuracy is higher, with a confidence interval that excludes no difference.",
            f"tau_LiDAR - tau_RankMe > 0 ({lvl}% CI lower bound)", {"point": td[0], "ci": [td[1], td[2]]}, "CI > 0", holds,
            {"tau [point, lo, hi]": taus, "tolerance_kind": "sign of the CI lower bound"},
            kind="claim", links=digits_links,
            detail=digits_setup + " Measured: Kendall tau_b between each metric and the probe accuracy over all "
                                  "configurations, seeds and checkpoints; the difference is bootstrapped in pairs (the same "
                                  "resample for both metrics). Holds when the interval's lower bound is above 0.",
            finding="" if holds else
            f"tau_LiDAR - tau_RankMe = {td[0]:+.3f}, {lvl}% CI [{td[1]:+.3f}, {td[2]:+.3f}] (tau_LiDAR {tl[0]:.3f}, "
            f"tau_RankMe {tr_[0]:.3f}). Tried: a random-search family that varies augmentation strength, EMA, weight "
            f"decay and the predictor (including none, which invites collapse), {cfg.lidar_n} x {cfg.lidar_q} views, "
            f"delta relative to the embedding scale, probe accuracy averaged over {P} probe seeds. Over the delta "
            f"sweep the difference runs from {sweep_pts[k_lo]:+.3f} (delta_rel {deltas[k_lo]:g}) to "
            f"{sweep_pts[k_hi]:+.3f} (delta_rel {deltas[k_hi]:g}); see lidar.digits_delta_sweep. At the delta fixed in "
            "advance LiDAR does not predict the probe better than RankMe on this family: a departure from the paper "
            "at this scale (small MLP encoders on 8x8 digits; the paper's encoders are ImageNet-scale)."))
        holds = bool(tl[1] > 0)
        cl.append(Claim(
            "lidar.digits_lidar_rank_correlation",
            "A higher LiDAR goes with a higher linear-probe accuracy across trained encoders (positive Kendall rank "
            "correlation, confidence interval above 0).",
            f"tau_LiDAR > 0 ({lvl}% CI lower bound)", {"point": tl[0], "ci": [tl[1], tl[2]]}, "CI > 0", holds,
            {"tau_rankme": list(tr_), "tolerance_kind": "sign of the CI lower bound"},
            kind="claim", links=digits_links,
            detail=digits_setup + " Holds when the bootstrap interval of Kendall tau_b (LiDAR vs probe accuracy) lies "
                                  "above 0.",
            finding="" if holds else
            f"tau_LiDAR = {tl[0]:+.3f}, {lvl}% CI [{tl[1]:+.3f}, {tl[2]:+.3f}]: on this family LiDAR (delta "
            f"{cfg.delta_rel:g} relative) does not rank encoders by probe accuracy; RankMe's tau is {tr_[0]:+.3f} "
            f"[{tr_[1]:+.3f}, {tr_[2]:+.3f}]. A departure from the paper at this scale."))
        rl, rr = bs["regret"]["lidar"], bs["regret"]["rankme"]
        tol_reg = 0.02
        holds = bool(rl[2] <= tol_reg)
        cl.append(Claim(
            "lidar.digits_lidar_selection",
            "Choosing the hyperparameters with the highest LiDAR, without labels, gives a model whose probe accuracy is "
            f"within {100 * tol_reg:.0f} points of the best configuration's (small regret).",
            f"regret <= {tol_reg} ({lvl}% CI upper bound)", {"point": rl[0], "ci": [rl[1], rl[2]]}, tol_reg, holds,
            {"regret_rankme": list(rr), "best_accuracy_seed_mean": float(acc_final.max(1).mean()),
             "median_accuracy_seed_mean": float(np.median(acc_final, axis=1).mean()), "tolerance_kind": "absolute"},
            kind="claim", links=digits_links,
            detail=digits_setup + " Regret, per training seed: the best probe accuracy of the configurations at the final "
                                  "checkpoint minus the accuracy of the configuration with the highest LiDAR; seed mean. "
                                  f"Holds when the interval's upper bound is at most {tol_reg} (absolute).",
            finding="" if holds else
            f"LiDAR's pick is {rl[0]:.3f} below the best configuration, {lvl}% CI [{rl[1]:.3f}, {rl[2]:.3f}] (RankMe's "
            f"pick: {rr[0]:.3f} [{rr[1]:.3f}, {rr[2]:.3f}]). The highest-LiDAR configuration is not near-optimal on this "
            "family: a departure from the paper at this scale."))
        rd = bs["regret_diff"]["lidar-rankme"]
        holds = bool(rd[2] < 0)
        cl.append(Claim(
            "lidar.digits_lidar_selects_better",
            "Hyperparameters chosen by LiDAR give a better probe accuracy than those chosen by RankMe (smaller regret, "
            "confidence interval of the difference below 0).",
            f"regret_LiDAR - regret_RankMe < 0 ({lvl}% CI upper bound)", {"point": rd[0], "ci": [rd[1], rd[2]]},
            "CI < 0", holds, {"regret_lidar": list(rl), "regret_rankme": list(rr), "tolerance_kind": "sign of the CI"},
            kind="claim", links=digits_links,
            detail=digits_setup + " Regret as in lidar.digits_lidar_selection, bootstrapped in pairs.",
            finding="" if holds else
            f"regret_LiDAR - regret_RankMe = {rd[0]:+.3f}, {lvl}% CI [{rd[1]:+.3f}, {rd[2]:+.3f}]: LiDAR's choice is not "
            "better than RankMe's on this family"
            + (" (on all data both pick configurations of the same probe accuracy)" if rd[0] == 0 else "")
            + ". An interval reaching 0 means the two choices are not distinguishable at this number of "
            "configurations. A departure from the paper at this scale."))
        sweep = [bs["tau_diff"][f"lidar_d{k}-rankme"] for k in range(len(deltas))]
        kbest = int(np.argmax([x[0] for x in sweep]))
        best = sweep[kbest]
        holds = bool(best[1] > 0)
        cl.append(Claim(
            "lidar.digits_delta_sweep",
            "Even with its regulariser delta tuned in LiDAR's favour (the delta of the sweep with the largest advantage, "
            "chosen with labels), LiDAR ranks encoders by probe accuracy better than RankMe.",
            f"max over delta of tau_LiDAR(delta) - tau_RankMe > 0 ({lvl}% CI lower bound)",
            {"best_delta_rel": deltas[kbest], "point": best[0], "ci": [best[1], best[2]]}, "CI > 0", holds,
            {"delta_rel": deltas, "tau_diff [point, lo, hi]": [list(x) for x in sweep],
             "tau_lidar [point, lo, hi]": [list(bs["tau"][f"lidar_d{k}"]) for k in range(len(deltas))],
             "regret_lidar [point, lo, hi]": [list(bs["regret"][f"lidar_d{k}"]) for k in range(len(deltas))],
             "tau_lidar_delta_to_infinity [point, lo, hi]": list(bs["tau"].get("lidar_limit", (np.nan,) * 3)),
             "tau_diff_delta_to_infinity [point, lo, hi]": list(bs["tau_diff"].get("lidar_limit-rankme", (np.nan,) * 3)),
             "note": (f"best delta_rel = {deltas[kbest]:g}: {_fmt_ci(best)}; the delta fixed in advance "
                      f"({cfg.delta_rel:g}): {_fmt_ci(td)}; delta -> infinity limit (effective rank of the between-image "
                      f"covariance eigenvalues, no within-image scatter): "
                      f"{_fmt_ci(bs['tau_diff'].get('lidar_limit-rankme'))}"),
             "tolerance_kind": "sign of the CI lower bound"},
            kind="claim", links={**digits_links, "figures": ["digits_delta_sweep"]},
            detail=digits_setup + f" delta = delta_rel x the mean per-dimension variance of the views, delta_rel in "
                                  f"{deltas}. Choosing the best delta after seeing the labels favours LiDAR (the "
                                  "interval does not account for that choice), so a failure here is strong evidence "
                                  "and a pass is weak. Large delta_rel moves LiDAR towards its delta -> infinity limit, "
                                  "the effective rank of the eigenvalues of the between-image covariance alone (no "
                                  "within-image scatter: a covariance rank like RankMe's), reported in the details; "
                                  "small delta_rel towards plain LDA.",
            finding="" if holds else
            f"At every delta tried LiDAR's advantage over RankMe has an interval reaching 0 or below; the best, "
            f"delta_rel = {deltas[kbest]:g}, gives {best[0]:+.3f} [{best[1]:+.3f}, {best[2]:+.3f}]. The comparison "
            "does not turn on the choice of delta on this family."))
        # -- deep linear
        dl = results["deep_linear"]
        for obj in ("jepa", "mae"):
            r = dl[obj]
            th = r["theory"]
            for key, tol in (("rankme", 0.05), ("lidar_big", 0.1)):
                exp_mean = np.asarray(r[key]).mean(0)
                dev = float(np.max(np.abs(exp_mean - th[key]) / th[key]))
                label = "RankMe" if key == "rankme" else f"LiDAR (delta = {cfg.dl_delta_big:g})"
                holds = bool(dev <= tol)
                cl.append(Claim(
                    f"lidar.deep_linear_{obj}_{key}",
                    f"For a deep linear {obj.upper()} network, {label} of its embeddings along training follows the "
                    "prediction from the per-feature learning equations.",
                    "ODE curve", f"max rel. dev {dev:.3f}", tol, holds, {"tolerance_kind": "relative"},
                    kind="claim",
                    links={"theory": ["theory.lidar.lidar_batched", "theory.lidar.rankme", "theory.lidar.entropy_rank",
                                      "theory.jepa.mode_rhs"],
                           "proof": "jepa.reduction_to_the_per_mode_odes_7_8", "figures": ["deep_linear"]},
                    detail=f"Static views with features (lambda, rho) = {tuple(cfg.dl_features)} (noisy high-variance and "
                           f"clean low-variance), encoder depth {cfg.dl_depth}, initial scale {cfg.dl_eps}, gradient descent "
                           "on the population moments. Predicted: the metric of a diagonal encoder whose modes follow the "
                           "per-mode ODE (sims.lidar.deep_linear_theory); measured on sampled views, seed mean; max over "
                           f"records of |measured - predicted| / predicted (relative tolerance {tol}).",
                    finding="" if holds else
                    f"Largest relative deviation {dev:.3f} (tolerance {tol}). The prediction neglects finite-sample "
                    f"fluctuations of order sqrt(d/n) (n = {cfg.dl_lidar_n} samples); where a mode rises steeply the "
                    "discrete step also shifts it in time. A limit of the scale."))
            lid = np.asarray(r["lidar"])
            raw = np.asarray(r["raw_lidar"])
            dev = float(np.max(np.abs(lid - raw[:, None]) / raw[:, None]))
            holds = bool(dev <= 1e-3)
            cl.append(Claim(
                f"lidar.deep_linear_{obj}_lidar_invariant",
                f"Theory check: with a negligible regulariser LiDAR does not change when the embeddings go through an "
                f"invertible linear map, so for the deep linear {obj.upper()} encoder it stays equal to the LiDAR of the "
                "raw views all along training, whatever the encoder learns.",
                float(raw.mean()), f"max rel. dev {dev:.2e}", 1e-3, holds, {"tolerance_kind": "relative"},
                kind="check",
                links={"theory": ["theory.lidar.lidar_batched", "theory.lidar.lda_spectrum"],
                       "proof": "lidar.lda_spectrum_invariant_under_invertible_linear_maps_delta_0",
                       "figures": ["deep_linear"]},
                detail=f"delta = {cfg.dl_delta_small:g}, far below every learned w^2 n_v; measured = max over records and "
                       "seeds of |LiDAR(t) - LiDAR(raw views)| / LiDAR(raw views) (relative tolerance 1e-3). The encoder is "
                       "invertible at every time and the LDA spectrum is invariant under invertible maps at delta = 0: "
                       "an identity evaluated numerically.",
                finding="" if holds else
                f"Largest relative deviation {dev:.2e}: delta = {cfg.dl_delta_small:g} is not negligible against the "
                "smallest learned scale (an encoder mode close to zero), or the scatter matrices are ill-conditioned in "
                "float64; not a statement about the paper."))
        return cl

    # ------------------------------------------------------------------ plots
    def plots(self, config: LidarConfig, results: Mapping[str, Any], outdir) -> list:
        cfg = config
        paths = []
        # noise robustness
        nz = results["noise"]
        vals = np.asarray(nz["values"])
        dims = np.asarray(nz["dims"])
        fig, axes = P.figure(1, 2, width=11.0, height=3.3)
        ax = axes[0, 0]
        c = P.CATEGORICAL
        for j, (lab, col) in enumerate((("LiDAR", c[0]), ("RankMe", c[1]))):
            m = vals[:, :, j]
            P.theory_and_experiment(ax, dims, None, m.mean(0), m.min(0), m.max(0), color=col, label=lab)
        ax.set_xlabel("added view-noise dimensions")
        ax.set_ylabel("metric")
        ax.set_title(f"(a) {cfg.noise_informative} informative dims (n={cfg.noise_n}, q={cfg.noise_q})")
        P.line_keys(ax, "measured")
        P.legend(ax, theory_experiment=False, fontsize=7)
        ax = axes[0, 1]
        markers = "osD^vx"
        for j, v in enumerate(nz["variants"]):
            ax.plot(dims, vals[:, :, 2 + j].mean(0), "--", color=c[j % len(c)], marker=markers[j % len(markers)],
                    mfc="none", lw=1.0, label=_variant_label(TL.VARIANTS[str(v)]))
        ax.set_xlabel("added view-noise dimensions")
        ax.set_ylabel("LiDAR (seed mean)")
        ax.set_title("(b) LiDAR conventions in public code")
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        paths.append(P.save(fig, outdir, "noise_robustness"))
        # digits
        fam = results["digits"]
        bs = fam["boot"]
        probe = np.asarray(fam["probe"]).mean(-1)  # probe-seed mean, (S, C, K)
        deltas = [float(x) for x in np.asarray(fam["deltas_rel"])]
        k0 = deltas.index(cfg.delta_rel)
        lvl_txt = f"{100 * float(bs['level']):.0f}%"
        fig, axes = P.figure(1, 3, width=10.0)
        panels = (("lidar", np.asarray(fam["lidar"])[..., k0], f"LiDAR ($\\delta_{{rel}}$ = {cfg.delta_rel:g})"),
                  ("rankme", np.asarray(fam["rankme"]), "RankMe"), ("alpha", np.asarray(fam["alpha"]), "alpha-ReQ"))
        for ax, (key, m, lab), letter in zip(axes[0], panels, "abc"):
            K = m.shape[2]
            cols = P.colors(K)
            for kk in range(K):
                ax.scatter(m[:, :, kk].ravel(), probe[:, :, kk].ravel(), s=8, color=cols[kk],
                           label=f"checkpoint {kk + 1}/{K}")
            t = bs["tau"][key]
            ax.set_title(f"({letter}) {lab}\nKendall {t[0]:.2f} [{t[1]:.2f}, {t[2]:.2f}]", fontsize=8)
            ax.set_xlabel(lab)
            ax.set_ylabel("linear-probe accuracy (probe-seed mean)")
        axes[0, 0].legend(fontsize=7)
        paths.append(P.save(fig, outdir, "digits_selection"))
        # comparison: bootstrap of the tau difference, regrets
        fig, axes = P.figure(1, 2, width=9.0, height=3.2)
        ax = axes[0, 0]
        reps = np.asarray(bs["tau_diff_replicates"])
        reps = reps[np.isfinite(reps)]
        ax.hist(reps, bins=40, color=c[0], alpha=0.7)
        td = bs["tau_diff"]["lidar-rankme"]
        for v, ls in ((td[0], "-"), (td[1], "--"), (td[2], "--")):
            ax.axvline(v, color="k", ls=ls, lw=1.0)
        ax.axvline(0.0, color="grey", lw=0.8)
        ax.set_xlabel(r"$\tau_{\rm LiDAR} - \tau_{\rm RankMe}$ (bootstrap replicates)")
        ax.set_ylabel("count")
        ax.set_title(f"(a) paired bootstrap: {td[0]:+.2f} [{td[1]:+.2f}, {td[2]:+.2f}]", fontsize=8)
        ax = axes[0, 1]
        names = [("lidar", "LiDAR"), ("rankme", "RankMe"), ("rankme_views", "RankMe (views)"), ("alpha", "alpha-ReQ")]
        for j, (key, lab) in enumerate(names):
            r = bs["regret"][key]
            ax.errorbar([j], [r[0]], yerr=[[r[0] - r[1]], [r[2] - r[0]]], fmt="o", color=c[j % len(c)], capsize=3)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([n for _, n in names], fontsize=7)
        ax.axhline(0.0, color="grey", lw=0.8)
        ax.set_ylabel("regret (best accuracy - picked)")
        ax.set_title("(b) selection regret, bootstrap interval", fontsize=8)
        paths.append(P.save(fig, outdir, "digits_comparison"))
        # delta sweep
        fig, axes = P.figure(1, 2, width=9.0, height=3.2)
        ax = axes[0, 0]
        tl = np.array([bs["tau"][f"lidar_d{k}"] for k in range(len(deltas))])
        P.theory_and_experiment(ax, np.asarray(deltas), None, tl[:, 0], tl[:, 1], tl[:, 2], color=c[0], label="LiDAR")
        tr_ = bs["tau"]["rankme"]
        ax.axhline(tr_[0], color=c[1], lw=1.0, label="RankMe")
        ax.axhspan(tr_[1], tr_[2], color=c[1], alpha=0.15)
        ax.axvline(cfg.delta_rel, color="grey", ls=":", lw=0.8)
        if "lidar_limit" in bs["tau"]:
            ax.axhline(bs["tau"]["lidar_limit"][0], color=c[0], ls=":", lw=1.0, label=r"LiDAR, $\delta\to\infty$ limit")
        ax.set_xscale("log")
        ax.set_xlabel(r"$\delta_{\rm rel}$ ($\delta$ / mean per-dimension variance)")
        ax.set_ylabel("Kendall tau with probe accuracy")
        ax.set_title("(a) rank correlation against delta", fontsize=8)
        P.line_keys(ax, "measured", labels={"measured": f"point estimate (band: {lvl_txt} bootstrap interval)"})
        P.legend(ax, theory_experiment=False, fontsize=7)
        ax = axes[0, 1]
        rl = np.array([bs["regret"][f"lidar_d{k}"] for k in range(len(deltas))])
        P.theory_and_experiment(ax, np.asarray(deltas), None, rl[:, 0], rl[:, 1], rl[:, 2], color=c[0], label="LiDAR")
        rr = bs["regret"]["rankme"]
        ax.axhline(rr[0], color=c[1], lw=1.0, label="RankMe")
        ax.axhspan(rr[1], rr[2], color=c[1], alpha=0.15)
        ax.axvline(cfg.delta_rel, color="grey", ls=":", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel(r"$\delta_{\rm rel}$")
        ax.set_ylabel("selection regret")
        ax.set_title("(b) regret of the LiDAR pick against delta", fontsize=8)
        P.line_keys(ax, "measured", labels={"measured": f"point estimate (band: {lvl_txt} bootstrap interval)"})
        P.legend(ax, theory_experiment=False, fontsize=7)
        paths.append(P.save(fig, outdir, "digits_delta_sweep"))
        # deep linear
        dl = results["deep_linear"]
        fig, axes = P.figure(1, 3, width=10.5, height=3.2)
        for ax, key, lab, letter in zip(axes[0], ("rankme", "lidar_big", "lidar"),
                                        ("RankMe", f"LiDAR, $\\delta$ = {cfg.dl_delta_big:g}",
                                         f"LiDAR, $\\delta$ = {cfg.dl_delta_small:g}"), "abc"):
            for col, obj in zip((c[0], c[1]), ("jepa", "mae")):
                r = dl[obj]
                m = np.asarray(r[key])
                ax.plot(r["t"], r["theory"][key], ":", color=col, label=obj.upper())  # per-mode ODE, closed form
                P.theory_and_experiment(ax, r["t"], None, exp_mean=m.mean(0), exp_lo=m.min(0), exp_hi=m.max(0), color=col)
            ax.set_xscale("symlog", linthresh=1.0)  # MAE learns in t ~ 10, JEPA in t ~ 1000
            ax.set_xlabel("gradient-flow time t (symlog)")
            ax.set_ylabel(lab)
            ax.set_title(f"({letter}) {lab}")
            P.line_keys(ax, "ode", "trained", labels={"ode": "predicted from the per-mode ODE (exact solution)"})
            P.legend(ax, theory_experiment=False, fontsize=6)
        paths.append(P.save(fig, outdir, "deep_linear"))
        return paths


def _fmt_ci(x) -> str:
    """``(point, lo, hi)`` as ``+0.123 [+0.010, +0.200]`` (``n/a`` when absent)."""
    if x is None:
        return "n/a"
    return f"{x[0]:+.3f} [{x[1]:+.3f}, {x[2]:+.3f}]"


def _variant_label(v: TL.LidarVariant) -> str:
    """A LiDAR convention described by what it does (not by the library it comes from)."""
    parts = []
    if v.entropy != "outside":
        parts.append({"inside": r"$\epsilon$ added to each eigenvalue", "log": r"entropy of $\log(p+\epsilon)$",
                      "drop": r"eigenvalues $\leq 0$ dropped"}[v.entropy])
    if v.spectrum == "pca_rows":
        parts.append(r"PCA of the rows ($\approx\lambda^2$)")
    if v.clamp_sw:
        parts.append(r"$\Sigma_w$ clamped")
    if v.delta_lidar:
        parts.append(r"$\delta$ added to $\Sigma_{\rm LiDAR}$")
    if v.sw_norm != "n(q-1)":
        parts.append(f"$\\Sigma_w$ / {v.sw_norm}")
    head = "paper's formula" if not parts else ", ".join(parts)
    return f"{head} ($\\delta$={v.delta:g}, $\\epsilon$={v.eps:g})"


register(LidarExperiment())


# ============================================================================ benchmark


def lidar_per_class_loop(e: np.ndarray, *, delta: float = 1e-6, eps: float = 1e-7) -> float:
    """The straightforward implementation: per-class ``np.cov``-style loops for the scatter matrices,
    ``scipy.linalg.sqrtm`` for the whitening (the benchmark baseline)."""
    import scipy.linalg

    n, q, d = e.shape
    means = np.stack([e[i].mean(axis=0) for i in range(n)])
    c = means - means.mean(axis=0)
    sb = sum(np.outer(m, m) for m in c) / (n - 1)
    sw = np.zeros((d, d))
    for i in range(n):
        x = e[i] - means[i]
        sw += x.T @ x
    sw = sw / (n * (q - 1)) + delta * np.eye(d)
    wh = np.linalg.inv(np.real(scipy.linalg.sqrtm(sw)))
    lam = np.clip(np.linalg.eigvalsh((wh @ sb @ wh + (wh @ sb @ wh).T) / 2), 0, None)
    p = lam / lam.sum() + eps
    return float(np.exp(-np.sum(p * np.log(p))))


def lidar_plain_numpy(e: np.ndarray, *, delta: float = 1e-6, eps: float = 1e-7) -> float:
    """What a user would write with numpy/scipy (the fair benchmark baseline): class means, the centred scatter of
    all views as one matrix product, ``scipy.linalg.eigh`` of the generalised problem (eigenvalues only)."""
    import scipy.linalg

    n, q, d = e.shape
    mu = e.mean(axis=1)
    c = mu - mu.mean(axis=0)
    sb = c.T @ c / (n - 1)
    x = (e - mu[:, None, :]).reshape(-1, d)
    sw = x.T @ x / (n * (q - 1)) + delta * np.eye(d)
    lam = np.clip(scipy.linalg.eigh(sb, sw, eigvals_only=True), 0, None)
    p = lam / lam.sum() + eps
    return float(np.exp(-np.sum(p * np.log(p))))


def _bench_lidar(quick: bool) -> list[BenchResult]:
    n, q, d = (200, 20, 128) if quick else (1000, 50, 512)
    e = np.random.default_rng(0).standard_normal((n, q, d))
    cand, base = measure(lambda: TL.lidar(e)), measure(lambda: lidar_plain_numpy(e))
    naive = measure(lambda: lidar_per_class_loop(e), repeat=1).median_s
    gap = abs(TL.lidar(e) - lidar_plain_numpy(e)) / lidar_plain_numpy(e)
    limit = ("both sides are bound by the same BLAS syrk of the n q x d centred views (n q d^2 flops, ~80% of "
             "the baseline's time); the package saves the centred copy, a finiteness scan and the eigenvectors, "
             "so the ratio is bounded near 1.2-1.3x, not the 2x first asked for")
    out = [BenchResult(f"LiDAR n={n} q={q} d={d} float64: theory.lidar vs plain numpy", base.median_s, cand.median_s,
                       1.0, naive_s=naive, baseline="class means, centred scatter, scipy.linalg.eigh(Sb, Sw)",
                       note=f"relative difference {gap:.1e}; naive: per-class loop with sqrtm whitening; {limit}")]
    C = 4 if quick else 8
    nb, qb, db = (200, 20, 64) if quick else (500, 20, 64)
    eb = np.random.default_rng(1).standard_normal((C, nb, qb, db))
    cand_b = measure(lambda: TL.lidar_batched(eb))
    base_b = measure(lambda: [lidar_plain_numpy(x) for x in eb])
    naive_b = measure(lambda: [lidar_per_class_loop(x) for x in eb], repeat=1).median_s
    out.append(BenchResult(f"LiDAR over {C} checkpoints (n={nb}, q={qb}, d={db}): lidar_batched vs plain numpy loop",
                           base_b.median_s, cand_b.median_s, 1.0, naive_s=naive_b,
                           baseline="lidar_plain_numpy per checkpoint",
                           note="the digits experiment's use: many checkpoints of small embeddings"))
    return out


register_bench("lidar.lidar", _bench_lidar)
