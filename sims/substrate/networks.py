"""Networks shared by the experiments (equinox modules or plain pytrees of arrays).

Engineers add their networks here (small additive edits). Generic MLPs: use ``equinox.nn.MLP``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["deep_linear_init", "deep_linear_product", "jepa_loss", "linear_ae_factors", "linear_ae_init"]


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


def _haar_orthogonal(key: jax.Array, n: int) -> jax.Array:
    """A Haar-random ``n x n`` orthogonal matrix (QR of a Gaussian with the sign fix)."""
    q, r = jnp.linalg.qr(jax.random.normal(key, (n, n)))
    return q * jnp.sign(jnp.diagonal(r))


def linear_ae_init(key: jax.Array, d: int, m: int, depth: int, *, kind: str, gain: float | None = None,
                   basis: jax.Array | None = None) -> dict:
    r"""Factors of a linear autoencoder :math:`\hat x = D W_L \cdots W_1 E x` (Sun et al. 2021).

    Kinds:

    * ``"aligned"``: balanced and aligned with the columns of ``basis`` (``(d, d)`` orthogonal, e.g. the
      data covariance's eigenvectors, decreasing variance): every factor has singular values
      :math:`g^{1/N}`, :math:`E = c\,O_0 U_m^\top`, :math:`W_a = c\,O_a O_{a-1}^\top`, :math:`D = c\,U_m O_L^\top`
      with random orthogonal :math:`O_a`, so :math:`A(0) = g\,U_m U_m^\top` (the setting of the per-mode ODE).
    * ``"orthogonal"``: every factor :math:`c` times an independent random (semi-)orthogonal matrix,
      :math:`c = g^{1/N}`: balanced, flat spectrum :math:`g`, not aligned with the data.
    * ``"default"``: PyTorch ``nn.Linear`` default, entries uniform in :math:`\pm 1/\sqrt{\text{fan\_in}}`
      (``gain`` unused).

    Args:
        key: PRNG key. d: data dimension. m: latent width (<= d). depth: bottleneck layers L >= 0.
        kind: ``"aligned"``, ``"orthogonal"`` or ``"default"``.
        gain: end-to-end initial gain :math:`g > 0` (``aligned``/``orthogonal``).
        basis: ``(d, d)`` orthogonal matrix (``aligned`` only).

    Returns:
        ``{"E": (m, d), "W": [(m, m)] * L, "D": (d, m)}``.
    """
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 0:
        raise ValueError(f"depth must be an int >= 0, got {depth!r}")
    if not (isinstance(d, int) and isinstance(m, int)) or not 1 <= m <= d:
        raise ValueError(f"need ints 1 <= m <= d, got d={d!r}, m={m!r}")
    if kind not in ("aligned", "orthogonal", "default"):
        raise ValueError(f"kind must be 'aligned', 'orthogonal' or 'default', got {kind!r}")
    n = depth + 2
    keys = jax.random.split(key, depth + 3)
    if kind == "default":
        def unif(k, shape, fan_in):
            b = 1.0 / np.sqrt(fan_in)
            return jax.random.uniform(k, shape, minval=-b, maxval=b)

        return {"E": unif(keys[0], (m, d), d), "W": [unif(keys[1 + a], (m, m), m) for a in range(depth)],
                "D": unif(keys[-1], (d, m), m)}
    if gain is None or not gain > 0:
        raise ValueError(f"gain must be > 0 for kind={kind!r}, got {gain!r}")
    c = float(gain) ** (1.0 / n)
    if kind == "aligned":
        if basis is None or basis.shape != (d, d):
            raise ValueError(f"basis must be a ({d}, {d}) orthogonal matrix for kind='aligned'")
        Um = jnp.asarray(basis)[:, :m]
        Os = [_haar_orthogonal(keys[a], m) for a in range(depth + 1)]
        return {"E": c * Os[0] @ Um.T, "W": [c * Os[a + 1] @ Os[a].T for a in range(depth)], "D": c * Um @ Os[depth].T}
    return {"E": c * _haar_orthogonal(keys[0], d)[:m], "W": [c * _haar_orthogonal(keys[1 + a], m) for a in range(depth)],
            "D": c * _haar_orthogonal(keys[-1], d)[:, :m]}


def linear_ae_factors(params: dict) -> list:
    """``[E, W_1, ..., W_L, D]`` of :func:`linear_ae_init` parameters (applied first to last)."""
    return [params["E"], *params["W"], params["D"]]


# --------------------------------------------------------------------------- deep linear JEPA / MAE
def jepa_loss(params: dict, batch: dict, objective: str) -> jax.Array:
    r"""Population (or full-sample) loss from second moments.

    JEPA: :math:`\tfrac12\mathrm{tr}(P\Sigma_{xx}P^\top) - \mathrm{tr}(T\Sigma_{yx}P^\top) +
    \tfrac12\mathrm{tr}(T\Sigma_{yy}T^\top)`
    with :math:`P = V\bar W` and the target :math:`T = \mathrm{SG}(\bar W)`; MAE: the same with :math:`T = I`.
    Equals :math:`\tfrac12\hat{\mathbb E}\|Px - Ty\|^2` exactly. ``params``: ``{"W": [layers], "V": predictor}``
    (:func:`deep_linear_init` layers); ``batch``: second moments ``sxx``, ``syx``, ``syy``
    (:func:`sims.substrate.data.moments`). Littwin et al. 2024 (JEPA vs MAE in deep linear networks).
    """
    wbar = deep_linear_product(params["W"])
    Pm = params["V"] @ wbar
    T = jax.lax.stop_gradient(wbar) if objective == "jepa" else jnp.eye(wbar.shape[0], dtype=wbar.dtype)
    return (0.5 * jnp.trace(Pm @ batch["sxx"] @ Pm.T) - jnp.trace(T @ batch["syx"] @ Pm.T)
            + 0.5 * jnp.trace(T @ batch["syy"] @ T.T))


# --------------------------------------------------------------------------- NTK-parametrised MLPs
__all__ += ["ACTIVATION_FNS", "ntk_mlp_apply", "ntk_mlp_init"]

#: Elementwise activations by name (the names of ``theory.kernels.ACTIVATIONS``).
ACTIVATION_FNS = {"relu": jax.nn.relu, "erf": jax.scipy.special.erf, "identity": lambda z: z}


def ntk_mlp_init(key: jax.Array, sizes, *, dtype=jnp.float32) -> list[dict]:
    r"""Standard-normal weights of an MLP in NTK parametrisation (neural-tangents ``stax.Dense``).

    Args:
        key: PRNG key.
        sizes: ``[d_in, n_1, ..., n_L, k]``, layer widths including input and output.
        dtype: float dtype (float64 for kernel checks).

    Returns:
        ``[{"W": (n_{l}, n_{l+1}), "b": (n_{l+1},)}, ...]``, every entry :math:`\mathcal N(0, 1)`.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must list >= 2 positive widths, got {sizes!r}")
    keys = jax.random.split(key, 2 * (len(sizes) - 1))
    return [{"W": jax.random.normal(keys[2 * i], (sizes[i], sizes[i + 1]), dtype),
             "b": jax.random.normal(keys[2 * i + 1], (sizes[i + 1],), dtype)} for i in range(len(sizes) - 1)]


def ntk_mlp_apply(params: list[dict], x: jax.Array, *, activations, w_var: float = 1.0, b_var: float = 0.0) -> jax.Array:
    r"""Forward pass :math:`z^{l+1} = \sqrt{\sigma_w^2/n_l}\,\phi_l(z^l) W^{l+1} + \sigma_b b^{l+1}`, no activation after
    the last layer.

    Args:
        params: from :func:`ntk_mlp_init`.
        x: ``(n, d_in)`` inputs.
        activations: one name per hidden layer (``len(params) - 1`` of them), from :data:`ACTIVATION_FNS`;
            ``"identity"`` marks a linear layer (e.g. a bottleneck).
        w_var, b_var: :math:`\sigma_w^2`, :math:`\sigma_b^2`.

    Returns:
        ``(n, k)`` outputs. The infinite-width kernels of this network are ``theory.kernels.mlp_kernels``.
    """
    if len(activations) != len(params) - 1:
        raise ValueError(f"activations must have len(params) - 1 = {len(params) - 1} entries, got {len(activations)}")
    h = x
    for i, layer in enumerate(params):
        if i > 0:
            h = ACTIVATION_FNS[activations[i - 1]](h)
        h = (jnp.sqrt(w_var / layer["W"].shape[0]) * h) @ layer["W"] + jnp.sqrt(b_var) * layer["b"]
    return h
