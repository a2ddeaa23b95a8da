r"""Infinitely wide networks with a finite bottleneck: the limit dynamics, its linear reduction, the NTK baseline.

**Model** (Littwin et al. 2021, arXiv:2107.00364; equations reconstructed here from the parametrisation and
checked numerically, not quoted from the paper).
:math:`F = f\circ g`: :math:`g:\mathbb R^{d_0}\to\mathbb R^d` is an MLP with ``depth_g`` hidden layers and a
dense readout to the bottleneck :math:`h = g(x)`; :math:`f:\mathbb R^d\to\mathbb R^k` is one hidden layer
then a readout. NTK parametrisation (neural-tangents ``stax``), hidden widths :math:`n\to\infty`, ``d`` fixed.

**Limit gradient flow** of :math:`L = \sum_j \ell(F(x_j), y_j)`:

* :math:`g` is lazy as a map into :math:`\mathbb R^d`:
  :math:`\partial_t h(x) = -\sum_j\Theta_g(x, x_j)\,J_f(h(x_j))^\top\nabla_F\ell_j`,
  with the fixed kernel :math:`\Theta_g` = :func:`g_kernels`;
* :math:`f` is lazy as a function on :math:`\mathbb R^d`, with the fixed kernel :math:`\Theta_f(h, h')` of
  :func:`f_kernels` evaluated at the *moving* features; :math:`f_0` is a draw of the GP with kernel
  :math:`K_f`, and since ``d`` is finite :math:`f_0` and :math:`J_{f_0} = \partial_h f_0` do not self-average;
* so :math:`\partial_t F(x) = -\sum_j K_{\rm eff}(x, x_j)\nabla_F\ell_j` with the effective kernel
  (:func:`effective_kernel`) :math:`K_{\rm eff} = \Theta_f(h, h')I_k + J_f(h)\,\Theta_g(x, x')\,J_f(h')^\top`,
  which moves (the features learn) and is random (through :math:`f_0`, :math:`h_0`) at finite ``d``.

With every hidden width infinite (the bottleneck too) the network is a plain MLP with a linear layer
(:func:`full_ntk`) and trains as kernel regression (:func:`ntk_mse_prediction`).

**Linear case** (all activations the identity). An infinitely wide linear network is one matrix whose
kernel is :math:`\Theta_g(x,x') = c_g\,x\cdot x'` and :math:`\Theta_f(h,h') = c_f\,h\cdot h'`
(:func:`linear_rates`), so :math:`g(x) = Ax`, :math:`f(h) = Bh` and, with :math:`W = BA`,
:math:`\dot A = -c_g B^\top\nabla_W L`, :math:`\dot B = -c_f\nabla_W L\,A^\top` (:func:`linear_flow`), hence
:math:`\dot W = -(c_f\nabla_W L\,A^\top A + c_g BB^\top\nabla_W L)`: a two-factor deep linear model whose
preconditioners grow with :math:`\|W\|` (Arora et al. 2018). For one balanced aligned mode
(:func:`linear_mode_model`, the shared :class:`theory.deeplinear.ModeModel`) the end-to-end gain
:math:`u = \kappa ab` follows :math:`\dot u = 2\kappa\lambda u(\tau-u)`, :math:`\kappa=\sqrt{c_gc_f}`, against the lazy
:math:`\dot u = c\lambda(\tau - u)` of the infinite bottleneck (:func:`linear_mode_ode`).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.special
import sympy as sp

from . import _validate as V
from . import kernels
from .deeplinear import ModeModel
from .deeplinear import s as _s

__all__ = [
    "g_kernels", "f_kernels", "full_ntk", "effective_kernel", "feature_velocity", "f_random_features",
    "f_apply", "f_empirical_ntk", "ntk_mse_prediction", "linear_rates", "linear_flow", "linear_mode_model",
    "linear_mode_ode", "linear_mode_solution", "linear_time_to_fraction", "u", "tau", "kappa", "lam", "c_lazy", "t",
]

u, tau, t = sp.Symbol("u", positive=True), sp.Symbol("tau", positive=True), sp.Symbol("t", positive=True)
kappa, lam, c_lazy = sp.symbols("kappa lambda c", positive=True)


def _check_d(d) -> int:
    d = V.integer("d", d)
    if d < 1:
        raise ValueError(f"d (bottleneck width) must be an int >= 1, got {d!r}")
    return d


def _check_depth_g(depth_g) -> int:
    return V.integer("depth_g", depth_g, low=1, high=kernels.MAX_DEPTH - 2)


def _check_head(activation, w_var, b_var) -> tuple[float, float]:
    kernels._check_activation(activation)
    return V.real("w_var", w_var, low=0.0), V.real("b_var", b_var, low=0.0)


def _check_params(params) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(W, b, a, beta)`` of a :func:`f_random_features` dict, checked (finite float arrays of matching shapes)."""
    if not isinstance(params, dict) or not {"W", "b", "a", "beta"} <= set(params):
        raise TypeError(f"params must be a dict with keys W, b, a, beta (f_random_features), got {type(params).__name__}")
    W = V.array("params['W']", params["W"])
    b = V.array("params['b']", params["b"])
    a = V.array("params['a']", params["a"])
    beta = V.array("params['beta']", params["beta"])
    if W.ndim < 2 or b.shape != W.shape[:-2] + W.shape[-1:] or a.ndim < 2 or a.shape[-2] != W.shape[-1]:
        raise ValueError(f"params: shapes W {W.shape}, b {b.shape}, a {a.shape} do not match f_random_features")
    return W, b, a, beta


# --------------------------------------------------------------------------- kernels of the pieces
def g_kernels(x1, x2=None, *, depth_g: int, activation: str = "relu", w_var: float = 1.0, b_var: float = 0.0):
    r"""``(K_g, Theta_g)``: NNGP and NTK of each bottleneck coordinate :math:`h_a(x)` (``depth_g`` hidden layers
    and the readout into :math:`\mathbb R^d`); the coordinates are independent, so the full kernels are
    these times :math:`I_d`. Same conventions as :func:`theory.kernels.ntk`.

    Raises:
        ValueError: ``depth_g < 1`` and every error of :func:`theory.kernels.mlp_kernels`.
    """
    depth_g = _check_depth_g(depth_g)
    kernels._check_activation(activation)
    return kernels._mlp_kernels(x1, x2, [activation] * depth_g, w_var, b_var, True, act_name="activation")


def f_kernels(h1, h2=None, *, activation: str = "relu", w_var: float = 1.0, b_var: float = 0.0):
    r"""``(K_f, Theta_f)`` of the one-hidden-layer head on bottleneck features (input kernel :math:`h\cdot h'/d`)."""
    kernels._check_activation(activation)
    return kernels._mlp_kernels(h1, h2, [activation], w_var, b_var, True, names=("h1", "h2"), act_name="activation")


def full_ntk(x1, x2=None, *, depth_g: int, activation: str = "relu", w_var: float = 1.0, b_var: float = 0.0):
    r"""``(nngp, ntk)`` of the same architecture with an infinitely wide bottleneck: the MLP whose hidden
    layers are ``[activation] * depth_g + ["identity", activation]`` (the bottleneck is a linear layer)."""
    depth_g = _check_depth_g(depth_g)
    kernels._check_activation(activation)
    return kernels._mlp_kernels(x1, x2, [activation] * depth_g + ["identity", activation], w_var, b_var, True,
                                act_name="activation")


def effective_kernel(theta_f, jf1, jf2, theta_g):
    r"""The bottleneck network's tangent kernel :math:`K_{\rm eff} = \Theta_f I_k + J_f(h)\Theta_g J_f(h')^\top`.

    Args:
        theta_f: ``(n1, n2)`` kernel of ``f`` at the current features.
        jf1, jf2: ``(n1, k, d)``, ``(n2, k, d)`` Jacobians :math:`\partial f/\partial h` at the features.
        theta_g: ``(n1, n2)`` NTK of ``g``.

    Returns:
        ``(n1, n2, k, k)``.

    Raises:
        ValueError: mismatched shapes.
    """
    theta_f, theta_g = V.array("theta_f", theta_f, ndim=2), V.array("theta_g", theta_g, ndim=2)
    jf1, jf2 = V.array("jf1", jf1, ndim=3), V.array("jf2", jf2, ndim=3)
    n1, n2 = theta_f.shape
    if theta_g.shape != (n1, n2) or jf1.ndim != 3 or jf2.ndim != 3 or jf1.shape[0] != n1 or jf2.shape[0] != n2 \
            or jf1.shape[1:] != jf2.shape[1:]:
        raise ValueError(f"shapes: theta_f {theta_f.shape}, theta_g {theta_g.shape}, jf1 {jf1.shape}, jf2 {jf2.shape}")
    k = jf1.shape[1]
    return theta_f[:, :, None, None] * np.eye(k) + np.einsum("iad,ij,jbd->ijab", jf1, theta_g, jf2)


def feature_velocity(theta_g, jf, grad_f):
    r""":math:`\partial_t h(x) = -\sum_j\Theta_g(x, x_j)\,J_f(h(x_j))^\top\nabla_F\ell_j`.

    Args:
        theta_g: ``(n, N)`` NTK of ``g`` between evaluation and training inputs.
        jf: ``(N, k, d)`` Jacobians of ``f`` at the training features.
        grad_f: ``(N, k)`` loss gradients :math:`\nabla_F\ell_j`.

    Returns:
        ``(n, d)``.
    """
    theta_g, jf, grad_f = V.array("theta_g", theta_g, ndim=2), V.array("jf", jf, ndim=3), V.array("grad_f", grad_f, ndim=2)
    if theta_g.shape[1] != jf.shape[0] or grad_f.shape != jf.shape[:2]:
        raise ValueError(f"shapes: theta_g {theta_g.shape}, jf {jf.shape}, grad_f {grad_f.shape}")
    return -theta_g @ np.einsum("jkd,jk->jd", jf, grad_f)


# --------------------------------------------------------------------------- the head f at finite width
def f_random_features(rng: np.random.Generator, d: int, width: int, k: int = 1, *, n_draws: int | None = None) -> dict:
    r"""Standard-normal parameters of the head :math:`f(h) = \sqrt{\sigma_w^2/n}\,\phi(z)\,a + \sigma_b\beta`,
    :math:`z = \sqrt{\sigma_w^2/d}\,hW + \sigma_b b` (the ``stax`` layout of :func:`sims.substrate.networks.ntk_mlp_init`).

    Args:
        rng: numpy generator; d: bottleneck width >= 1; width: hidden width n >= 1; k: outputs >= 1;
        n_draws: if given, a leading axis of that many independent draws.

    Returns:
        ``{"W": (d, n), "b": (n,), "a": (n, k), "beta": (k,)}`` (with the leading draw axis if asked).
    """
    d = _check_d(d)
    width = V.integer("width", width, low=1, high=10**7)
    k = V.integer("k", k, low=1, high=10**4)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got {rng!r}")
    lead = () if n_draws is None else (V.integer("n_draws", n_draws, low=1, high=10**6),)
    if (lead[0] if lead else 1) * (d + k + 1) * width > 10**8:
        raise ValueError(f"n_draws * (d + k + 1) * width must be <= 1e8 (memory), got n_draws={n_draws}, d={d}, "
                         f"width={width}, k={k}")
    return {"W": rng.standard_normal(lead + (d, width)), "b": rng.standard_normal(lead + (width,)),
            "a": rng.standard_normal(lead + (width, k)), "beta": rng.standard_normal(lead + (k,))}


_PHI = {
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(z.dtype)),
    "erf": (lambda z: scipy.special.erf(z), lambda z: 2.0 / np.sqrt(np.pi) * np.exp(-z * z)),
    "identity": (lambda z: z, np.ones_like),
}


def f_apply(params: dict, h, *, activation: str = "relu", w_var: float = 1.0, b_var: float = 0.0):
    r"""Outputs and input Jacobians of the finite head: ``(F (..., n_pts, k), J_f (..., n_pts, k, d))``.

    :math:`J_f(h) = \sqrt{\sigma_w^2/n}\sqrt{\sigma_w^2/d}\,W\,\mathrm{diag}(\phi'(z))\,a`. Leading draw axes
    of ``params`` (see :func:`f_random_features`) broadcast.
    """
    w_var, b_var = _check_head(activation, w_var, b_var)
    W, b, a, beta = _check_params(params)
    h = V.array("h", h)
    d, n = W.shape[-2:]
    if h.ndim < 1 or h.shape[-1] != d:
        raise ValueError(f"h must have last axis d={d}, got shape {h.shape}")
    phi, dphi = _PHI[activation]
    z = np.sqrt(w_var / d) * (h @ W) + np.sqrt(b_var) * b[..., None, :]
    out = np.sqrt(w_var / n) * (phi(z) @ a) + np.sqrt(b_var) * beta[..., None, :]
    jf = np.sqrt(w_var / n) * np.sqrt(w_var / d) * np.einsum("...dn,...pn,...nk->...pkd", W, dphi(z), a, optimize=True)
    if not (np.all(np.isfinite(out)) and np.all(np.isfinite(jf))):
        raise ValueError(f"f_apply overflows float64 (max |h| = {float(np.max(np.abs(h))):.3g}, w_var = {w_var!r}, "
                         f"b_var = {b_var!r})")
    return out, jf


def f_empirical_ntk(params: dict, h1, h2, *, activation: str = "relu", w_var: float = 1.0, b_var: float = 0.0):
    r"""The part of the finite head's tangent kernel from its own parameters (``k = 1`` entry per output),
    in closed form: readout :math:`\frac{\sigma_w^2}{n}\phi(z)\cdot\phi(z') + \sigma_b^2` plus first layer
    :math:`\frac{\sigma_w^2}{n}\sum_i \bar a_i^2\phi'(z_i)\phi'(z'_i)\,(\sigma_w^2 h\cdot h'/d + \sigma_b^2)` with
    :math:`\bar a_i^2 = \frac1k\sum_c a_{ic}^2` (output-averaged as in :func:`sims.substrate.kernels.empirical_ntk`).
    Converges to :math:`\Theta_f` of :func:`f_kernels` as the width grows. Returns ``(..., n1, n2)``."""
    w_var, b_var = _check_head(activation, w_var, b_var)
    W, b, a, _ = _check_params(params)
    h1, h2 = V.array("h1", h1), V.array("h2", h2)
    d, n = W.shape[-2:]
    for name, h in (("h1", h1), ("h2", h2)):
        if h.ndim < 2 or h.shape[-1] != d:
            raise ValueError(f"{name} must have shape (..., n_pts, d={d}), got {h.shape}")
    phi, dphi = _PHI[activation]
    z1 = np.sqrt(w_var / d) * (h1 @ W) + np.sqrt(b_var) * b[..., None, :]
    z2 = np.sqrt(w_var / d) * (h2 @ W) + np.sqrt(b_var) * b[..., None, :]
    read = w_var / n * np.einsum("...in,...jn->...ij", phi(z1), phi(z2), optimize=True) + b_var
    a2 = np.mean(a * a, axis=-1)
    first = w_var / n * np.einsum("...in,...n,...jn->...ij", dphi(z1), a2, dphi(z2), optimize=True)
    out = read + first * (w_var * (h1 @ np.swapaxes(h2, -1, -2)) / d + b_var)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"f_empirical_ntk overflows float64 (max |h1|, |h2| = "
                         f"{max(float(np.max(np.abs(h1))), float(np.max(np.abs(h2)))):.3g}, w_var = {w_var!r}, "
                         f"b_var = {b_var!r})")
    return out


# --------------------------------------------------------------------------- NTK baseline
def ntk_mse_prediction(theta_train, y_train, f0_train, times, *, lr: float = 1.0, theta_test_train=None,
                       f0_test=None, size_normalized: bool = False):
    r"""Kernel-regression (infinite-width, lazy) gradient flow on :math:`L = \frac12\|F - Y\|^2`.

    :math:`F_t(X) = Y + e^{-\eta\Theta t}(F_0 - Y)` and
    :math:`F_t(x) = F_0(x) + \Theta(x, X)\Theta^{-1}(e^{-\eta\Theta t} - I)(F_0 - Y)` (Lee et al. 2019),
    by the eigendecomposition of :math:`\Theta` with negative eigenvalues clipped to zero (where
    :math:`\lambda = 0` the factor :math:`(e^{-\eta\lambda t}-1)/\lambda` is its limit :math:`-\eta t`). With
    ``size_normalized`` the rate is divided by ``y_train.size``: neural-tangents'
    ``predict.gradient_descent_mse`` (mean loss).

    Args:
        theta_train: ``(N, N)`` symmetric kernel; y_train, f0_train: ``(N, k)``; times: ``(T,)``;
        lr: :math:`\eta > 0`; theta_test_train ``(M, N)`` and f0_test ``(M, k)``: optional test predictions.

    Returns:
        ``F_train (T, N, k)`` or ``(F_train, F_test (T, M, k))``.

    Raises:
        ValueError: shapes, non-symmetric kernel, ``lr <= 0``.
    """
    th = V.array("theta_train", theta_train)
    y = V.array("y_train", y_train)
    f0 = V.array("f0_train", f0_train)
    lr = V.real("lr", lr, low=0.0, low_open=True)
    times = V.array("times", times, ndim=(0, 1))
    if th.ndim != 2 or th.shape[0] != th.shape[1] or y.shape != f0.shape or y.shape[0] != th.shape[0]:
        raise ValueError(f"shapes: theta_train {th.shape}, y_train {y.shape}, f0_train {f0.shape}")
    if not np.allclose(th, th.T, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(th).max())):
        raise ValueError("theta_train must be symmetric")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    ts = np.atleast_1d(np.asarray(times, dtype=np.float64))
    rate = lr / (y.size if size_normalized else 1.0)
    if theta_test_train is not None:
        tt = V.array("theta_test_train", theta_test_train, ndim=2)
        ft0 = V.array("f0_test", f0_test)
        if tt.shape[1] != th.shape[0] or ft0.shape != (tt.shape[0], y.shape[1]):
            raise ValueError(f"shapes: theta_test_train {tt.shape}, f0_test {ft0.shape}")
    if np.any(ts < 0):
        raise ValueError(f"times must be >= 0, got min {float(ts.min())!r}")
    ev, Q = np.linalg.eigh(th)
    ev = np.maximum(ev, 0.0)
    r0 = Q.T @ (f0 - y)  # (N, k) residual in the eigenbasis
    decay = np.exp(-rate * np.outer(ts, ev))  # (T, N)
    f_train = y[None] + np.einsum("in,tn,nk->tik", Q, decay, r0, optimize=True)
    if theta_test_train is None:
        return f_train
    with np.errstate(divide="ignore", invalid="ignore"):
        lt = np.outer(ts, ev) * rate
        factor = np.where(ev > 0, np.expm1(-lt) / np.where(ev > 0, ev, 1.0), -rate * ts[:, None])
    f_test = ft0[None] + np.einsum("mn,tn,nk->tmk", tt @ Q, factor, r0, optimize=True)
    return f_train, f_test


# --------------------------------------------------------------------------- linear case
def linear_rates(*, depth_g: int, d_in: int, d: int, w_var: float = 1.0):
    r"""Kernel constants of the linear (identity-activation, no bias) bottleneck network.

    :math:`\Theta_g(x, x') = c_g\,x\cdot x'` with :math:`c_g = (L_g+1)\sigma_w^{2(L_g+1)}/d_0` (each of the
    :math:`L_g+1` dense layers of ``g`` contributes the same :math:`\Sigma`), :math:`\Theta_f(h,h') = c_f\,h\cdot h'`
    with :math:`c_f = 2\sigma_w^4/d`, and, with the bottleneck infinitely wide, the lazy
    :math:`\Theta(x,x') = c\,x\cdot x'` with :math:`c = (L_g+3)\sigma_w^{2(L_g+3)}/d_0` (all :math:`L_g+3` layers).

    Returns:
        ``(c_g, c_f, c)`` floats.
    """
    depth_g, d = _check_depth_g(depth_g), _check_d(d)
    d_in = V.integer("d_in", d_in, low=1)
    if d_in < 1:
        raise ValueError(f"d_in must be >= 1, got {d_in!r}")
    w = kernels._check_var("w_var", w_var)
    try:
        return ((depth_g + 1) * w ** (depth_g + 1) / d_in, 2 * w**2 / d, (depth_g + 3) * w ** (depth_g + 3) / d_in)
    except OverflowError:
        raise ValueError(f"w_var ** (depth_g + 3) = {w!r} ** {depth_g + 3} overflows float64") from None


def linear_flow(A, B, X, Y, *, c_g: float, c_f: float):
    r"""``(dA/dt, dB/dt)`` of the infinite-width linear bottleneck on :math:`L = \frac12\|XA^\top B^\top - Y\|^2`.

    :math:`\dot A = -c_g B^\top G^\top X`, :math:`\dot B = -c_f G^\top XA^\top` with :math:`G = XA^\top B^\top - Y`
    (rows are samples: ``X (N, d0)``, ``Y (N, k)``, ``A (d, d0)``, ``B (k, d)``).
    """
    A, B, X, Y = (V.array(name, v, ndim=2) for name, v in (("A", A), ("B", B), ("X", X), ("Y", Y)))
    c_g, c_f = V.real("c_g", c_g, low=0.0), V.real("c_f", c_f, low=0.0)
    if A.shape[1] != X.shape[1] or B.shape[1] != A.shape[0] or Y.shape != (X.shape[0], B.shape[0]):
        raise ValueError(f"shapes: A {A.shape}, B {B.shape}, X {X.shape}, Y {Y.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        G = X @ A.T @ B.T - Y
        dA, dB = -c_g * B.T @ G.T @ X, -c_f * G.T @ X @ A.T
    if not (np.all(np.isfinite(dA)) and np.all(np.isfinite(dB))):
        raise ValueError("linear_flow overflows float64 at this state (entries of A, B, X, Y or c_g, c_f too large)")
    return dA, dB


def linear_mode_model() -> ModeModel:
    r"""One balanced aligned mode of the linear bottleneck as a shared :class:`~theory.deeplinear.ModeModel`.

    With :math:`a = \sqrt{c_g}\,\alpha` and :math:`b = \sqrt{c_f}\,\beta` the flows of :func:`linear_flow` on a
    mode of input variance :math:`\lambda` and target gain :math:`\tau` become unit-rate gradient flow of
    :math:`\ell = \frac\lambda2(\tau - \kappa\,\alpha\beta)^2`, :math:`\kappa = \sqrt{c_gc_f}`: groups ``g`` and ``f``
    of one factor each (checked in ``proofs.bottleneck``).
    """
    return _mode_model()


@functools.cache
def _mode_model() -> ModeModel:
    return ModeModel(lambda p, _: lam / 2 * (tau - kappa * p["g"] * p["f"]) ** 2, ("g", "f"), name="linear bottleneck")


@functools.cache
def linear_mode_ode(lazy: bool = False) -> sp.Expr:
    r""":math:`\dot u` of the end-to-end gain :math:`u = \kappa\alpha\beta` of a balanced mode, derived from
    :func:`linear_mode_model`: :math:`2\kappa\lambda u(\tau - u)`. With ``lazy=True`` the infinite-bottleneck
    (kernel-regression) flow :math:`c\lambda(\tau - u)`, derived from :math:`\ell = \frac\lambda2(\tau-u)^2` with
    rate :math:`c`."""
    if lazy:
        return sp.expand(-c_lazy * sp.diff(lam / 2 * (tau - u) ** 2, u))
    sdot = _mode_model().balanced_flow({"g": 1, "f": 1})
    udot = kappa * 2 * _s * sdot  # u = kappa s^2
    return sp.factor(sp.expand(udot).subs(_s, sp.sqrt(u / kappa)))


def linear_mode_solution(lazy: bool = False) -> sp.Expr:
    r"""Closed-form :math:`u(t)` from :math:`u(0) = u_0` (symbol ``u0``): logistic
    :math:`\frac{\tau u_0}{u_0 + (\tau - u_0)e^{-2\kappa\lambda\tau t}}`, or lazy :math:`\tau + (u_0-\tau)e^{-c\lambda t}`."""
    u0 = sp.Symbol("u0", positive=True)
    if lazy:
        return tau + (u0 - tau) * sp.exp(-c_lazy * lam * t)
    return tau * u0 / (u0 + (tau - u0) * sp.exp(-2 * kappa * lam * tau * t))


def linear_time_to_fraction(frac: float, *, u0: float, tau_: float, kappa_: float = 1.0, lam_: float = 1.0,
                            c: float | None = None) -> float:
    r"""Time for the mode's loss :math:`(\tau-u)^2` to fall to ``frac`` of its initial value.

    Bottleneck (``c is None``): invert the logistic, :math:`u^* = \tau - \sqrt{f}(\tau - u_0)`,
    :math:`t = \frac{1}{2\kappa\lambda\tau}\ln\frac{u^*(\tau-u_0)}{u_0(\tau-u^*)}`. Lazy (rate ``c``):
    :math:`t = -\ln f/(2c\lambda)`.

    Raises:
        ValueError: ``frac`` outside (0, 1), ``u0`` outside (0, tau), non-positive rates.
    """
    frac = V.real("frac", frac, low=0.0, high=1.0, low_open=True, high_open=True)
    u0 = V.real("u0", u0)
    tau_ = V.real("tau_", tau_, low=0.0, low_open=True)
    kappa_ = V.real("kappa_", kappa_, low=0.0, low_open=True)
    lam_ = V.real("lam_", lam_, low=0.0, low_open=True)
    if c is not None:
        c = V.real("c", c, low=0.0, low_open=True)
        return _finite_time(-math.log(frac) / (2 * c * lam_), "c, lam_")
    if not 0 < u0 < tau_:
        raise ValueError(f"u0 must be in (0, tau_), got {u0!r}")
    us = tau_ - math.sqrt(frac) * (tau_ - u0)
    # tau_ - us = sqrt(frac) (tau_ - u0): the log of the ratio in log space (no overflow at huge tau_, tiny frac)
    return _finite_time((math.log(us) - math.log(u0) - 0.5 * math.log(frac)) / (2 * kappa_ * lam_ * tau_),
                        "kappa_, lam_, tau_")


def _finite_time(t: float, names: str) -> float:
    if not math.isfinite(t):
        raise ValueError(f"linear_time_to_fraction: the time {t!r} is outside the float range ({names} too small)")
    return float(t)
