"""Networks shared by the experiments (equinox modules or plain pytrees of arrays).

Engineers add their networks here (small additive edits). Generic MLPs: use ``equinox.nn.MLP``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["deep_linear_init", "deep_linear_product"]


def deep_linear_product(layers) -> jax.Array:
    r"""End-to-end map :math:`\bar W = W_L \cdots W_1` of a list ``[W_1, ..., W_L]``."""
    out = layers[0]
    for w in layers[1:]:
        out = w @ out
    return out


def deep_linear_init(d: int, depth: int, eps: float, *, key: jax.Array | None = None, predictor: bool = True) -> dict:
    r"""Balanced, aligned, small initialisation of a depth-``depth`` linear encoder (+ predictor).

    Every factor has all singular values :math:`\epsilon^{1/L}`. With ``key=None`` all factors are
    :math:`\epsilon^{1/L} I`. With a key, the factors are random-orthogonal but telescoping,
    :math:`W_a = \epsilon^{1/L} O_a O_{a-1}^\top` with :math:`O_0 = O_L = I` and random orthogonal
    :math:`O_1..O_{L-1}` (the predictor :math:`V = \epsilon^{1/L} I`), so the layers are balanced
    (:math:`W_{a+1}^\top W_{a+1} = W_a W_a^\top = \epsilon^{2/L} I`) and the product
    :math:`\bar W(0) = \epsilon I` is aligned with the data eigenbasis (Assumption 4.1 of Littwin et
    al. 2024, with non-trivial layers).

    Returns:
        ``{"W": [W_1, ..., W_L], "V": V}`` (``"V"`` only when ``predictor``), float32.
    """
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be an int >= 1, got {depth!r}")
    if not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be an int >= 1, got {d!r}")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps!r}")
    c = float(eps) ** (1.0 / depth)
    eye = jnp.eye(d)
    if key is None:
        Os = [eye] * (depth + 1)
    else:
        keys = jax.random.split(key, max(depth - 1, 1))
        Os = [eye] + [jnp.linalg.qr(jax.random.normal(k, (d, d)))[0] for k in keys[: depth - 1]] + [eye]
    layers = [c * (Os[a + 1] @ Os[a].T) for a in range(depth)]
    out = {"W": layers}
    if predictor:
        out["V"] = c * eye
    return out
