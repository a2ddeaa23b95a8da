"""Datasets and data generators shared by the experiments.

* :func:`digits`: scikit-learn's 8x8 digits (ships with scikit-learn, no download), split and scaled.
* :func:`static_views`, :func:`temporal_pairs`: the two linear generative models of the JEPA vs MAE
  reference (Littwin et al. 2024, a reconstruction derived here), with
  per-feature (lambda, rho) chosen by the caller; :func:`moments` turns samples into the empirical
  second moments that a quadratic loss depends on.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "digits",
    "low_rank_gaussian",
    "moments",
    "static_noise_for",
    "static_views",
    "temporal_pairs",
    "temporal_params_for",
]


def digits(*, test_fraction: float = 0.25, seed: int = 0, standardize: bool = True):
    """scikit-learn's digits (1797 images of 8x8 pixels, labels 0-9), as float32 arrays.

    Args:
        test_fraction: fraction held out, stratified by label, in (0, 1).
        seed: seed of the split.
        standardize: scale pixels to zero mean / unit variance with the *training* statistics
            (constant pixels are left at zero).

    Returns:
        ``(x_train, y_train, x_test, y_test)``; x of shape ``(n, 64)`` float32, y int32.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    ds = load_digits()
    x = ds.data.astype(np.float64)
    y = ds.target.astype(np.int32)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y)
    if standardize:
        mu, sd = xtr.mean(0), xtr.std(0)
        sd = np.where(sd > 0, sd, 1.0)
        xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    return xtr.astype(np.float32), ytr, xte.astype(np.float32), yte


def _check_features(lam, rho, *, rho_max: float | None) -> tuple[np.ndarray, np.ndarray]:
    lam = np.atleast_1d(np.asarray(lam, dtype=float))
    rho = np.atleast_1d(np.asarray(rho, dtype=float))
    if lam.shape != rho.shape or lam.ndim != 1:
        raise ValueError(f"lam and rho must be 1-D of equal length, got shapes {lam.shape}, {rho.shape}")
    if np.any(lam <= 0) or not np.all(np.isfinite(lam)):
        raise ValueError(f"lam must be finite and > 0, got {lam}")
    if np.any(rho <= 0) or (rho_max is not None and np.any(rho > rho_max)):
        raise ValueError(f"rho must lie in (0, {rho_max}] for this generator, got {rho}")
    return lam, rho


def static_noise_for(lam, rho, gain=None) -> tuple[np.ndarray, np.ndarray]:
    r"""Signal and noise variances of the static-views model that give the requested (lambda, rho).

    Static views: :math:`x = z + \xi,\ y = c\,(z + \xi')` with :math:`z_i \sim N(0, s_i)`, independent
    noises of variance :math:`n_i` and a target gain :math:`c_i` (1 in the plain model):
    :math:`\lambda_i = c_i s_i`, :math:`\sigma_i^2 = s_i + n_i`, :math:`\rho_i = c_i s_i/(s_i+n_i) \in (0, c_i]`.
    Hence :math:`s = \lambda/c`, :math:`n = \lambda/\rho - \lambda/c`. With ``c = 1`` a noisy feature has
    high variance and low rho; a gain ``c > 1`` (target view at another scale) reaches rho > 1.

    Args:
        lam, rho: per-feature targets (1-D).
        gain: per-feature target gain c >= rho (default 1).

    Returns:
        ``(s, n)`` signal and noise variances.

    Raises:
        ValueError: lambda <= 0, rho <= 0, or rho > gain.
    """
    lam, rho = _check_features(lam, rho, rho_max=None)
    c = np.ones_like(lam) if gain is None else np.broadcast_to(np.asarray(gain, dtype=float), lam.shape)
    if np.any(rho > c * (1 + 1e-12)):
        raise ValueError(f"rho must lie in (0, gain] for the static-views model (gain={c}), got {rho}")
    return lam / c, np.maximum(lam / rho - lam / c, 0.0)


def temporal_params_for(lam, rho) -> tuple[np.ndarray, np.ndarray]:
    r"""Persistence and stationary variance of the temporal model for the requested (lambda, rho).

    Temporal: :math:`x = z_t,\ y = z_{t+1}`, :math:`z_{t+1} = \gamma z_t + \xi` stationary with
    variance :math:`v`: :math:`\Sigma_{yx} = \gamma v`, :math:`\Sigma_{xx} = v`, so
    :math:`\rho = \gamma`, :math:`\lambda = \gamma v`, i.e. :math:`\gamma = \rho,\ v = \lambda/\rho`.

    Raises:
        ValueError: lambda <= 0, or rho outside (0, 1).
    """
    lam, rho = _check_features(lam, rho, rho_max=1.0)
    if np.any(rho >= 1.0):
        raise ValueError(f"rho must be < 1 for a stationary temporal model, got {rho}")
    return rho, lam / rho


def static_views(lam, rho, n: int, *, key: jax.Array, gain=None) -> tuple[jax.Array, jax.Array]:
    """Sample ``n`` pairs of the static-views model with per-feature ``(lam, rho)`` and target gain
    (see :func:`static_noise_for`). Returns ``(x, y)`` each ``(n, d)``."""
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    sig, noise = static_noise_for(lam, rho, gain)
    c = np.ones_like(sig) if gain is None else np.broadcast_to(np.asarray(gain, dtype=float), sig.shape)
    k1, k2, k3 = jax.random.split(key, 3)
    d = sig.size
    z = jax.random.normal(k1, (n, d)) * jnp.sqrt(sig)
    x = z + jax.random.normal(k2, (n, d)) * jnp.sqrt(noise)
    y = c * (z + jax.random.normal(k3, (n, d)) * jnp.sqrt(noise))
    return x, y


def temporal_pairs(lam, rho, n: int, *, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Sample ``n`` consecutive pairs ``(z_t, z_{t+1})`` of the stationary temporal model (see
    :func:`temporal_params_for`); ``z_t`` drawn from the stationary law. Returns ``(x, y)``."""
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    gamma, v = temporal_params_for(lam, rho)
    k1, k2 = jax.random.split(key)
    d = gamma.size
    x = jax.random.normal(k1, (n, d)) * jnp.sqrt(v)
    y = gamma * x + jax.random.normal(k2, (n, d)) * jnp.sqrt(v * (1.0 - gamma**2))
    return x, y


def moments(x: jax.Array, y: jax.Array) -> dict[str, jax.Array]:
    r"""Empirical second moments :math:`\hat\Sigma_{xx} = X^\top X/n`, :math:`\hat\Sigma_{yx} = Y^\top X/n`,
    :math:`\hat\Sigma_{yy} = Y^\top Y/n` (uncentred, as in the loss :math:`\tfrac12\hat{\mathbb E}\|\cdot\|^2`).

    A quadratic loss of a linear model depends on a sample only through these, so full-batch
    gradient descent on the sample equals gradient descent on the moments, at ``O(d^2)`` per step.
    """
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"x and y must be (n, d) of equal shape, got {x.shape}, {y.shape}")
    n = x.shape[0]
    return {"sxx": x.T @ x / n, "syx": y.T @ x / n, "syy": y.T @ y / n}


def low_rank_gaussian(variances, d: int, noise: float, n: int, *, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    r"""Samples of known rank plus isotropic noise: :math:`x = Q\,\mathrm{diag}(\sqrt{s})\,z + \sqrt{\nu}\,\xi`
    with a random orthonormal :math:`Q \in \mathbb R^{d\times r}`, :math:`z, \xi` standard normal
    (the synthetic data of the linear-autoencoder experiment, Sun et al. 2021).

    Args:
        variances: the ``r`` signal variances ``s_i > 0``. d: dimension (>= r). noise: noise variance >= 0.
        n: samples (>= 2). key: PRNG key.

    Returns:
        ``(x, Q)``: ``x`` of shape ``(n, d)`` float32 and the signal directions ``Q`` ``(d, r)``.
    """
    s = np.atleast_1d(np.asarray(variances, dtype=float))
    if s.ndim != 1 or np.any(s <= 0):
        raise ValueError(f"variances must be a 1-D array of positive values, got {variances!r}")
    if not isinstance(d, int) or d < s.size:
        raise ValueError(f"d must be an int >= len(variances) = {s.size}, got {d!r}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    k1, k2, k3 = jax.random.split(key, 3)
    Q = jnp.linalg.qr(jax.random.normal(k1, (d, s.size)))[0]
    z = jax.random.normal(k2, (n, s.size)) * jnp.sqrt(jnp.asarray(s, dtype=jnp.float32))
    x = z @ Q.T + jnp.sqrt(noise) * jax.random.normal(k3, (n, d))
    return x.astype(jnp.float32), Q
