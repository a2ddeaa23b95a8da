"""Measurements on recorded trajectories, shared by the experiments."""

from __future__ import annotations

import numpy as np

__all__ = ["first_crossing"]


def first_crossing(t, y, level, *, never: float = np.nan) -> np.ndarray:
    r"""First time each trajectory reaches ``level``, linearly interpolated between records.

    Args:
        t: ``(R,)`` increasing record times.
        y: ``(..., R)`` trajectories, time on the last axis.
        level: threshold, broadcastable to ``y.shape[:-1]``.
        never: value where a trajectory never reaches ``level`` (NaN by default; ``inf`` for times).

    Returns:
        Array of shape ``y.shape[:-1]`` (a 0-d array for one trajectory); ``t[0]`` where it starts above.

    Raises:
        ValueError: when ``t`` and the last axis of ``y`` differ in length.
    """
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    if t.ndim != 1 or y.shape[-1:] != t.shape:
        raise ValueError(f"y must have time on its last axis of length {t.size}, got shapes t {t.shape}, y {y.shape}")
    level = np.broadcast_to(np.asarray(level, dtype=float), y.shape[:-1])[..., None]
    above = y >= level
    hit = above.any(axis=-1)
    k = np.argmax(above, axis=-1)
    km1 = np.maximum(k - 1, 0)
    y0 = np.take_along_axis(y, km1[..., None], -1)[..., 0]
    y1 = np.take_along_axis(y, k[..., None], -1)[..., 0]
    lev = level[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(k > 0, (lev - y0) / (y1 - y0), 0.0)
    out = t[km1] + frac * (t[k] - t[km1])
    return np.where(hit, out, never)
