"""Empirical kernels of finite JAX networks: the tangent kernel (Jacobian contraction) and the NNGP.

Averaged over independent draws they estimate the infinite-width kernels of :mod:`theory.kernels`
(Jacot et al. 2018; Lee et al. 2019), against which the tests compare them; they live here, on the
numeric side, because they run JAX.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["empirical_nngp", "empirical_ntk"]


def empirical_ntk(apply_fn: Callable, params, x1, x2=None, *, full: bool = False):
    r"""Empirical NTK of a finite network by Jacobian contraction (JAX).

    :math:`\hat\Theta_{ab}(x, x') = \sum_p \partial_p f_a(x)\,\partial_p f_b(x')` over every inexact
    array leaf ``p`` of ``params``. As in neural-tangents' ``empirical_ntk_fn`` with the default
    ``trace_axes=(-1,)``, the output axis is averaged: :math:`\frac1k\sum_a\hat\Theta_{aa}`.

    Args:
        apply_fn: ``apply_fn(params, x) -> (n, k)`` outputs (or ``(n,)``).
        params: a pytree of arrays.
        x1, x2: ``(n1, d_in)``, ``(n2, d_in)`` (default ``x1``).
        full: return the full ``(n1, n2, k, k)`` kernel instead of the output-averaged ``(n1, n2)``.

    Returns:
        a numpy array.
    """
    x2 = x1 if x2 is None else x2
    out = np.asarray(_jitted_ntk(apply_fn)(params, jnp.asarray(x1), jnp.asarray(x2)))
    return out if full else np.einsum("ijaa->ij", out) / out.shape[-1]


@functools.lru_cache(maxsize=64)
def _jitted_ntk(apply_fn: Callable):
    """A jitted Jacobian contraction for one ``apply_fn`` (compiled once per function and shapes)."""

    def f(p, x):
        out = apply_fn(p, x)
        return out[:, None] if out.ndim == 1 else out

    def contract(params, x1, x2):
        j1 = jax.jacrev(f)(params, x1)
        j2 = jax.jacrev(f)(params, x2)
        out = 0.0
        for a, b in zip(jax.tree_util.tree_leaves(j1), jax.tree_util.tree_leaves(j2)):
            a = a.reshape(a.shape[0], a.shape[1], -1)
            b = b.reshape(b.shape[0], b.shape[1], -1)
            out = out + jnp.einsum("iap,jbp->ijab", a, b)
        return out

    return jax.jit(contract)


def empirical_nngp(apply_fn: Callable, params, x1, x2=None) -> np.ndarray:
    r"""Empirical NNGP of one finite network: :math:`\frac1k f(x_1)\,f(x_2)^\top` (neural-tangents'
    ``empirical_nngp_fn`` with ``trace_axes=(-1,)``). Averaging it over independent draws estimates the NNGP."""
    x2 = x1 if x2 is None else x2
    f1 = apply_fn(params, jnp.asarray(x1))
    f2 = apply_fn(params, jnp.asarray(x2))
    f1 = f1[:, None] if f1.ndim == 1 else f1
    f2 = f2[:, None] if f2.ndim == 1 else f2
    return np.asarray(f1 @ f2.T) / f1.shape[-1]
