"""(a) Kernel convergence: empirical NTK / NNGP of finite NTK-parametrised MLPs against the analytic limit
(Littwin et al. 2021; Jacot et al. 2018), and the kernel benchmark."""


import functools
import math
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from theory import kernels as K

from ..harness.bench import BenchResult, measure, register_bench
from ..substrate.networks import ACTIVATION_FNS, ntk_mlp_init
from .training import digits_task


# ----------------------------------------------------------------------------- (a)
def mlp_empirical_kernels(params, x, *, activations, w_var: float, b_var: float):
    r"""Empirical NNGP and NTK of one finite MLP (layout of :func:`sims.substrate.networks.ntk_mlp_apply`) by its
    layer structure, without materialising the Jacobian.

    With :math:`a^0 = x`, :math:`z^{l+1} = s_l\,a^lW^l + \sigma_b b^l`, :math:`s_l = \sqrt{\sigma_w^2/n_l}`,
    :math:`a^{l} = \phi_l(z^{l})` and backward signals :math:`\delta^{L+1} = e_c` (output ``c``),
    :math:`\delta^l = \phi_l'(z^l)\odot(s_l W^l\delta^{l+1})`, the gradient of output ``c`` with respect to
    :math:`W^l` is :math:`s_l\,a^l\otimes\delta^{l+1}`, so

    .. math:: \hat\Theta(x, x') = \frac1k\sum_c\sum_l \big(s_l^2\,a^l(x)\cdot a^l(x') + \sigma_b^2\big)
              \,\delta^{l+1}_c(x)\cdot\delta^{l+1}_c(x'),

    the output-averaged Jacobian contraction of :func:`sims.substrate.kernels.empirical_ntk` (tested equal to it).
    The empirical NNGP is the readout's input kernel :math:`s_L^2\,a^L(x)\cdot a^L(x') + \sigma_b^2`.
    Cost: one forward and one backward pass per input, so many draws of wide networks are cheap.

    Args:
        params: from :func:`sims.substrate.networks.ntk_mlp_init`; x: ``(m, d_in)``; activations: one name per hidden
            layer; w_var, b_var: :math:`\sigma_w^2`, :math:`\sigma_b^2`.

    Returns:
        ``(nngp (m, m), ntk (m, m))`` JAX arrays.
    """
    if len(activations) != len(params) - 1:
        raise ValueError(f"activations must have len(params) - 1 = {len(params) - 1} entries, got {len(activations)}")
    acts, zs = [x], []
    for i, layer in enumerate(params):
        z = jnp.sqrt(w_var / layer["W"].shape[0]) * acts[-1] @ layer["W"] + jnp.sqrt(b_var) * layer["b"]
        if i < len(params) - 1:
            zs.append(z)
            acts.append(ACTIVATION_FNS[activations[i]](z))
    k = params[-1]["W"].shape[1]
    delta = jnp.broadcast_to(jnp.eye(k), (x.shape[0], k, k))  # (m, output c, unit j) for z^{L+1}
    ntk = 0.0
    for i in range(len(params) - 1, -1, -1):
        s2 = w_var / params[i]["W"].shape[0]
        dd = jnp.einsum("icj,kcj->ik", delta, delta) / k
        ntk = ntk + (s2 * acts[i] @ acts[i].T + b_var) * dd
        if i > 0:
            dphi = jax.vmap(jax.vmap(jax.grad(ACTIVATION_FNS[activations[i - 1]])))(zs[i - 1])
            delta = dphi[:, None, :] * (jnp.sqrt(s2) * jnp.einsum("icj,nj->icn", delta, params[i]["W"]))
    nngp = w_var / params[-1]["W"].shape[0] * acts[-1] @ acts[-1].T + b_var
    return nngp, ntk


@functools.partial(jax.jit, static_argnames=("sizes", "acts", "w_var", "b_var"))
def _kernel_draws(keys, x, *, sizes, acts, w_var, b_var):
    """Empirical (NNGP, NTK) of one fresh network per key, one draw at a time (``lax.map``: memory of one draw)."""
    def one(key):
        p = ntk_mlp_init(key, sizes)
        return mlp_empirical_kernels(p, x, activations=acts, w_var=w_var, b_var=b_var)

    return jax.lax.map(one, keys)


def kernel_errors(cfg: Mapping, seeds) -> list[dict]:
    r"""Errors of the empirical NTK / NNGP of width-n ReLU MLPs against the analytic kernels, one result per seed.

    ``cfg``: widths, depth, points, draws, w_var, b_var, activation. Each seed is a batch of ``draws``
    independent networks per width (float32; :func:`mlp_empirical_kernels`). Per draw the relative Frobenius
    error :math:`\|\hat K_n - K\|_F/\|K\|_F`; per batch also :math:`\|\overline{\hat K_n} - K\|_F/\|K\|_F` of the
    batch mean (the finite-width bias :math:`O(1/n)` plus fluctuations shrunk by :math:`1/\sqrt{draws}`).

    Returns:
        per seed ``{"ntk": (draws, W), "nngp": (draws, W), "ntk_mean": (W,), "nngp_mean": (W,)}``.
    """
    x = digits_task(cfg["points"], 1, 0, 1.0)[0]
    acts = tuple([cfg["activation"]] * cfg["depth"])
    k_an, t_an = K.mlp_kernels(x, x, activations=acts, w_var=cfg["w_var"], b_var=cfg["b_var"])
    xj = jnp.asarray(x, jnp.float32)
    out = []
    for s in seeds:
        res = {"ntk": np.zeros((cfg["draws"], len(cfg["widths"]))), "nngp": np.zeros((cfg["draws"], len(cfg["widths"]))),
               "ntk_mean": np.zeros(len(cfg["widths"])), "nngp_mean": np.zeros(len(cfg["widths"]))}
        for i, n in enumerate(cfg["widths"]):
            keys = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(s), i), cfg["draws"])
            kk, tt = _kernel_draws(keys, xj, sizes=tuple([x.shape[1]] + [n] * cfg["depth"] + [1]), acts=acts,
                                   w_var=float(cfg["w_var"]), b_var=float(cfg["b_var"]))
            for name, emp, an in (("ntk", tt, t_an), ("nngp", kk, k_an)):
                emp = np.asarray(emp, np.float64)
                res[name][:, i] = np.linalg.norm(emp - an, axis=(1, 2)) / np.linalg.norm(an)
                res[f"{name}_mean"][i] = np.linalg.norm(emp.mean(0) - an) / np.linalg.norm(an)
        out.append(res)
    return out






# ----------------------------------------------------------------------------- benchmark
def _naive_ntk(x1, x2, depth):
    """Baseline: the same ReLU recursion written per pair of inputs in plain Python (scalar math)."""
    d = x1.shape[1]
    out = np.empty((x1.shape[0], x2.shape[0]))
    for i in range(x1.shape[0]):
        a = x1[i]
        qa0 = float(a @ a) / d
        for j in range(x2.shape[0]):
            b = x2[j]
            q11, q22, q12, th = qa0, float(b @ b) / d, float(a @ b) / d, 0.0
            for lay in range(depth):
                th = q12 if lay == 0 else th + q12
                r = math.sqrt(max(q11 * q22 - q12 * q12, 0.0))
                ang = math.atan2(r, q12)
                q12 = (r + (math.pi - ang) * q12) / (2 * math.pi)
                th *= (math.pi - ang) / (2 * math.pi)
                q11, q22 = q11 / 2, q22 / 2
            out[i, j] = th + q12
    return out


def _numpy_kernels(x, depth):
    """Fair baseline: the ReLU NNGP and NTK recursions written with whole-matrix numpy (arc-cosine closed forms),
    both from one recursion, as a user of the field would write them."""
    d = x.shape[1]
    k = x @ x.T / d
    diag = np.diag(k).copy()
    t = None
    for lay in range(depth):
        t = k.copy() if lay == 0 else t + k
        nn = np.sqrt(np.outer(diag, diag))
        cos = np.clip(k / nn, -1.0, 1.0)
        th = np.arccos(cos)
        dot = (np.pi - th) / (2 * np.pi)
        k = nn * (np.sin(th) + (np.pi - th) * cos) / (2 * np.pi)
        t = t * dot
        diag = diag / 2
    return k, t + k


def _bench_kernels(quick: bool) -> list[BenchResult]:
    n, depth = (500, 3) if quick else (2000, 3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 64))
    m = 100 if quick else 200  # the naive loop on an m x m block, scaled to n x n (it is O(n^2) exactly)
    naive = measure(lambda: _naive_ntk(x[:m], x[:m], depth), repeat=1).median_s * (n / m) ** 2
    both = measure(lambda: K.mlp_kernels(x, x, activations=["relu"] * depth))
    base = measure(lambda: _numpy_kernels(x, depth))
    separate = measure(lambda: (K.nngp(x, x, depth=depth), K.ntk(x, x, depth=depth)))
    k_p, t_p = K.mlp_kernels(x, x, activations=["relu"] * depth)
    k_b, t_b = _numpy_kernels(x, depth)
    gap = max(float(np.max(np.abs(k_p - k_b))), float(np.max(np.abs(t_p - t_b))))
    note = (f"max |difference| {gap:.1e}; nngp() + ntk() called separately: {separate.median_s:.3g} s "
            f"({base.median_s / separate.median_s:.1f}x); naive: per-pair Python loop on {m}x{m}, scaled by (n/m)^2")
    return [BenchResult(f"ReLU NNGP+NTK {n}x{n}, depth {depth}: mlp_kernels (one recursion) vs vectorised numpy",
                        base.median_s, both.median_s, 2.0, naive_s=naive,
                        baseline="whole-matrix numpy recursion for both kernels", note=note)]


register_bench("bottleneck.kernels", _bench_kernels)
