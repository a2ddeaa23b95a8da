r"""Greedy rank learning in linear autoencoders with a deep linear bottleneck.

Sun, Thilak, Littwin, Saremi, Susskind (2021), "Implicit Greedy Rank Learning in Autoencoders via
Overparameterized Linear Networks", arXiv:2107.01301. Only the paper's abstract was available; the
statements below are *derived* from the model (and checked in ``proofs.autoencoder`` and
``tests/test_autoencoder.py``), not quoted from the paper.

**Model.** :math:`\hat x = D\,W_L\cdots W_1\,E\,x` with encoder :math:`E\in\mathbb R^{m\times d}`, a
bottleneck sub-network :math:`M = W_L\cdots W_1` of ``depth`` :math:`= L \ge 0` square layers and a
decoder :math:`D\in\mathbb R^{d\times m}`: :math:`N = L + 2` linear factors and the end-to-end map
:math:`A = D M E`. Loss :math:`\mathcal L = \tfrac12\mathbb E\|x - A x\|^2 =
\tfrac12\operatorname{tr}\big((I-A)\Sigma(I-A)^\top\big)` with data covariance
:math:`\Sigma = \sum_i s_i u_i u_i^\top`. Gradient flow with unit rate on every factor.

**Per-mode reduction.** This is deep linear regression with :math:`y = x`: every mode has regression
coefficient 1 and variance :math:`s_i`; the per-mode loss is :math:`\tfrac12 s(1-P)^2`. Under balanced
aligned initialisation (every factor's singular value on mode :math:`i` equal to :math:`a_i`) the
end-to-end gain :math:`P_i = a_i^N` obeys (derived by :class:`theory.deeplinear.ModeModel`)

.. math::  \dot P = N\,s\,P^{2-2/N}\,(1-P).

**Learning time** from :math:`P_0` to :math:`P` (same side of the fixed point 1), with
:math:`u = P^{1/N}`:

.. math::
    t = \frac{1}{N s}\int_{P_0}^{P}\frac{dQ}{Q^{2-2/N}(1-Q)}
      = \frac1s\Big[\frac{u_0^{2-N}-u^{2-N}}{N-2} + \int_{u_0}^{u}\frac{v\,dv}{1-v^N}\Big]\quad(N\ge3),
    \qquad t = \frac{1}{2s}\ln\frac{P(1-P_0)}{P_0(1-P)}\quad(N=2).

The last integral is bounded as :math:`P_0\to0`, so :math:`t \simeq P_0^{-(N-2)/N}/((N-2)s)`; the
ratio :math:`t_i/t_j = s_j/s_i` is exact at every depth (greedy order by variance) and modes with
:math:`s_i = 0` never move.

References:
    Saxe, McClelland, Ganguli (2014), arXiv:1312.6120 (the N = 2 logistic law);
    Arora, Cohen, Hu, Luo (2019), arXiv:1905.13655 (the balanced singular-value law);
    Jing, Zbontar, LeCun (2020), arXiv:2010.00679 (IRMAE, PyTorch default initialisation).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import numpy as np
import scipy.integrate
import sympy as sp

from . import _validate as V
from . import deeplinear
from . import lidar as _lidar

__all__ = [
    "P", "s", "t",
    "n_factors", "mode_model", "mode_loss", "mode_ode", "mode_rhs",
    "logistic_gain", "time_to_learn", "time_to_learn_asymptotic", "learning_order", "learned_rank",
    "matrix_loss", "matrix_gradients", "matrix_flow", "balancedness",
    "kaiming_uniform_variance", "fuss_catalan", "default_init_moment", "default_init_scale",
    "default_init_spread", "default_init_edge", "default_init_gain", "orthogonal_init_spectrum",
    "misaligned_gain", "orthogonal_effective_gain",
    "orthogonal_invariants", "orthogonal_mode_factors", "sample_orthogonal_invariants", "gain_for_time",
    "depth_lr", "LR_RULES", "threshold_rank", "entropy_rank",
]

#: End-to-end gain of one mode (positive under aligned initialisation).
P = sp.Symbol("P", positive=True)
#: Data variance of the mode (zero allowed: such a mode never moves).
s = sp.Symbol("s", nonnegative=True)
#: Time.
t = sp.Symbol("t", nonnegative=True)

_X = sp.Symbol("x", real=True)  # the data coordinate along the mode, E[x^2] = s

LR_RULES = ("exact", "asymptotic", "inverse_depth")


# --------------------------------------------------------------------------- validation
#: Deepest bottleneck for which :func:`mode_ode` differentiates the loss factor by factor (sympy's cost grows
#: steeply with the depth: 7 s at depth 10, 160 s at depth 16 on a loaded CPU). Deeper bottlenecks use the
#: derivation for a symbolic depth evaluated at the depth (the same expression, tests).
CONCRETE_DEPTH = 8
#: Largest integer depth :func:`mode_ode` / :func:`mode_rhs` accept (refused above it, stated up front).
MAX_SYMBOLIC_DEPTH = 100_000
_L = sp.Dummy("L", positive=True, integer=True)  # symbolic bottleneck depth of the deep path (unique)
#: Largest depth of the numeric closed forms (beyond it every gain over- or underflows float64 anyway).
MAX_DEPTH = 10**6


def _check_depth(depth, *, symbolic: bool = False, name: str = "depth", high: int = MAX_DEPTH) -> None:
    if symbolic and isinstance(depth, sp.Expr) and not isinstance(depth, sp.Number):
        if depth.is_nonnegative is False:
            raise ValueError(f"{name} must be nonnegative, got {depth}")
        return
    V.integer(name, depth, low=0, high=high)


def _check_positive(name: str, x) -> float:
    return V.real(name, x, low=0.0, low_open=True)


def _check_variance(variance, name: str = "variance") -> np.ndarray:
    v = V.array(name, variance)
    if np.any(v < 0):
        raise ValueError(f"{name} must be >= 0, got {variance!r}")
    return v


def n_factors(depth: int | sp.Expr):
    """Number of linear factors :math:`N = L + 2` (encoder, ``depth`` bottleneck layers, decoder)."""
    _check_depth(depth, symbolic=True)
    return depth + 2


# --------------------------------------------------------------------------- symbolic derivation
def mode_loss() -> sp.Expr:
    r"""Per-mode expected loss :math:`\tfrac12\mathbb E(x - Px)^2 = \tfrac12 s(1-P)^2`, derived by
    expanding the square and replacing :math:`\mathbb E x^2` by ``s`` (the mode's variance)."""
    return _mode_loss_of(P)


def _mode_loss_of(prod) -> sp.Expr:
    sq = sp.expand(sp.Rational(1, 2) * (_X - prod * _X) ** 2)
    return sp.factor(sq.subs(_X**2, s))


@functools.cache
def _model(with_mid: bool) -> deeplinear.ModeModel:
    groups = ("E", "M", "D") if with_mid else ("E", "D")

    def loss(online, target):
        return _mode_loss_of(sp.Mul(*[online[g] for g in groups]))

    return deeplinear.ModeModel(loss, groups, name="linear autoencoder")


def mode_model(depth: int | sp.Expr) -> tuple[deeplinear.ModeModel, dict]:
    """The shared :class:`~theory.deeplinear.ModeModel` of one mode and its group sizes.

    Groups: encoder ``E`` (1 factor), bottleneck ``M`` (``depth`` factors, omitted when depth = 0),
    decoder ``D`` (1 factor). The loss is :func:`mode_loss` of the product of all factors.

    Args:
        depth: number of bottleneck layers, an int >= 0 or a sympy symbol (then ``depth >= 1`` is assumed).

    Returns:
        ``(model, sizes)``.
    """
    _check_depth(depth, symbolic=True)
    if isinstance(depth, (int, np.integer)) and depth == 0:
        return _model(False), {"E": 1, "D": 1}
    d = int(depth) if isinstance(depth, (int, np.integer)) else depth
    return _model(True), {"E": 1, "M": d, "D": 1}


@functools.cache
def _mode_ode_cached(depth) -> sp.Expr:
    if isinstance(depth, int) and depth > CONCRETE_DEPTH:  # the symbolic-depth derivation, evaluated at depth
        return sp.factor(sp.powsimp(_mode_ode_cached(_L).subs(_L, depth), force=True))
    model, sizes = mode_model(depth)
    n = n_factors(depth)
    a = deeplinear.s  # the common per-factor singular value of the balanced mode
    adot = model.balanced_flow(sizes)
    pdot = (n * a ** (n - 1) * adot).subs(a, P ** (sp.Integer(1) / n))
    return sp.factor(sp.powsimp(sp.expand(pdot), force=True))


def mode_ode(depth: int | sp.Expr) -> sp.Expr:
    r"""Right-hand side of :math:`dP/dt` for one mode of the balanced aligned linear autoencoder.

    Derived, not typed in: the per-mode loss :func:`mode_loss` of the product of the ``N = depth + 2``
    factors goes through :meth:`theory.deeplinear.ModeModel.balanced_flow` (each factor's gradient,
    checked equal across factors), and :math:`\dot P = N a^{N-1}\dot a` at :math:`a = P^{1/N}`. The
    result equals :math:`N s P^{2-2/N}(1-P)` (``proofs.autoencoder``).

    Args:
        depth: number of linear layers of the bottleneck sub-network, int >= 0 (a sympy symbol is
            accepted for symbolic depth).

    Returns:
        sympy expression in the module symbols :data:`P` and :data:`s`.

    Raises:
        ValueError: ``depth < 0`` or above :data:`MAX_SYMBOLIC_DEPTH`. TypeError: ``depth`` not an int.

    Past :data:`CONCRETE_DEPTH` the derivation runs once for a symbolic depth and is evaluated at ``depth``
    (milliseconds at any depth; the same expression, ``tests/test_autoencoder.py``).
    """
    _check_depth(depth, symbolic=True, high=MAX_SYMBOLIC_DEPTH)
    key = int(depth) if isinstance(depth, (int, np.integer)) else depth
    return _mode_ode_cached(key)


def mode_rhs(depth: int) -> Callable:
    """:func:`mode_ode` compiled to a numpy function ``f(P, s)`` with ``sympy.lambdify``, vectorised over
    arrays (a JAX version for batched solves: :func:`sims.substrate.ode.sympy_rhs` of :func:`mode_ode`).
    Cached per depth; ``depth`` is an int in [0, :data:`MAX_SYMBOLIC_DEPTH`]."""
    _check_depth(depth, high=MAX_SYMBOLIC_DEPTH)
    return _mode_rhs_cached(int(depth))


@functools.cache
def _mode_rhs_cached(depth: int) -> Callable:
    return sp.lambdify((P, s), mode_ode(depth), modules="numpy")


# --------------------------------------------------------------------------- closed forms
def logistic_gain(variance, p0: float, time) -> np.ndarray:
    r"""Exact solution for ``depth = 0`` (N = 2, Saxe et al. 2014):
    :math:`P(t) = \big(1 + \tfrac{1-P_0}{P_0} e^{-2st}\big)^{-1}`.

    Args:
        variance: the mode's variance ``s >= 0`` (array-like, broadcast with ``time``).
        p0: initial gain, > 0.
        time: times >= 0 (array-like).

    Raises:
        ValueError: negative variance or time, ``p0 <= 0``.
    """
    v = _check_variance(variance)
    p0 = _check_positive("p0", p0)
    tt = V.array("time", time)
    if np.any(tt < 0):
        raise ValueError(f"time must be >= 0, got {time!r}")
    return 1.0 / (1.0 + (1.0 - p0) / p0 * np.exp(-2.0 * v * tt))


def _check_targets(p0, p) -> tuple[float, float]:
    p0 = _check_positive("p0", p0)
    p = _check_positive("p", p)
    if p0 == 1.0:
        if p != 1.0:
            raise ValueError(f"p={p} is unreachable from the fixed point p0=1")
        return p0, p
    lo, hi = (p0, 1.0) if p0 < 1.0 else (1.0, p0)
    if not (lo <= p <= hi) or p == 1.0:
        raise ValueError(f"p must lie between p0={p0} and the fixed point 1 (excluded), got p={p}")
    return p0, p


def _unit_time(n: int, p0: float, p: float) -> float:
    """``s * t`` for going from p0 to p with N = n factors."""
    if p == p0:
        return 0.0
    if n == 2:
        return 0.5 * (math.log(p / p0) - math.log((1.0 - p) / (1.0 - p0)))
    u0, u = p0 ** (1.0 / n), p ** (1.0 / n)
    sing = (u0 ** (2 - n) - u ** (2 - n)) / (n - 2)
    rem, err = scipy.integrate.quad(lambda v: v / (1.0 - v**n), u0, u, epsabs=1e-14, epsrel=1e-12, limit=200)
    return sing + rem


def time_to_learn(depth: int, variance, p0: float, p: float):
    r"""Time for a mode's gain to go from ``p0`` to ``p`` under :math:`\dot P = N s P^{2-2/N}(1-P)`.

    .. math::  t = \frac{1}{Ns}\int_{p_0}^{p}\frac{dQ}{Q^{2-2/N}(1-Q)}

    evaluated as the logistic closed form for N = 2 and, for N >= 3, as the exact split
    :math:`\frac1s[(u_0^{2-N}-u^{2-N})/(N-2) + \int_{u_0}^{u} v/(1-v^N)\,dv]`, :math:`u = P^{1/N}`
    (the singular part in closed form, the bounded remainder by quadrature).

    Args:
        depth: bottleneck layers, int >= 0 (N = depth + 2).
        variance: the mode's data variance ``s >= 0``; scalar or array (the time scales as ``1/s``).
            A zero-variance mode never moves: its time is ``inf`` (``0`` when ``p == p0``).
        p0: initial gain, > 0, ``!= 1``.
        p: target gain, between ``p0`` and 1 (1 itself is reached only as t -> inf).

    Returns:
        float (or array shaped like ``variance``).

    Raises:
        ValueError: ``depth < 0``, negative variance, ``p0``/``p`` not positive, or ``p`` not
        reachable from ``p0``.
    """
    _check_depth(depth)
    v = _check_variance(variance)
    p0, p = _check_targets(p0, p)
    unit = _unit_time(int(depth) + 2, p0, p)
    with np.errstate(divide="ignore"):
        out = np.where(v > 0, unit / np.where(v > 0, v, 1.0), 0.0 if unit == 0 else np.inf)
    return float(out) if out.ndim == 0 else out


def time_to_learn_asymptotic(depth: int, variance, p0: float, p: float | None = None):
    r"""Small-initialisation asymptotics of :func:`time_to_learn`.

    Leading term (``p=None``): :math:`P_0^{-(N-2)/N}/((N-2)s)` for N >= 3 and
    :math:`\ln(1/P_0)/(2s)` for N = 2. With ``p`` given, the two-term form

    .. math::  t = \frac1s\Big[\frac{P_0^{-(N-2)/N} - P^{-(N-2)/N}}{N-2} + \int_0^{P^{1/N}}\frac{v\,dv}{1-v^N}\Big]
               + O\big(P_0^{2/N}/s\big),

    (for N = 2: :math:`\frac1{2s}[\ln\frac{1}{P_0} + \ln\frac{P}{1-P}]`), whose error is the dropped
    :math:`\int_0^{u_0} v/(1-v^N)dv \approx u_0^2/2`.

    Raises:
        ValueError: as :func:`time_to_learn`; ``p0`` must be in (0, 1) and ``p`` in (p0, 1).
    """
    _check_depth(depth)
    v = _check_variance(variance)
    p0 = _check_positive("p0", p0)
    if p0 >= 1:
        raise ValueError(f"p0 must be in (0, 1) for the small-initialisation asymptotics, got {p0}")
    n = int(depth) + 2
    if n == 2:
        unit = math.log(1.0 / p0) / 2
    else:
        unit = p0 ** (-(n - 2) / n) / (n - 2)
    if p is not None:
        _check_targets(p0, p)
        if n == 2:
            unit += 0.5 * math.log(p / (1 - p))
        else:
            u = p ** (1.0 / n)
            unit += -(u ** (2 - n)) / (n - 2) + scipy.integrate.quad(lambda w: w / (1 - w**n), 0.0, u, epsrel=1e-12)[0]
    with np.errstate(divide="ignore"):
        out = np.where(v > 0, unit / np.where(v > 0, v, 1.0), np.inf)
    return float(out) if out.ndim == 0 else out


def learning_order(variances) -> np.ndarray:
    """Indices of the modes in the order they are learned: decreasing variance (ties keep index
    order); zero-variance modes, which never move, are left out. From ``t_i/t_j = s_j/s_i``."""
    v = _check_variance(variances, "variances")
    if v.ndim != 1:
        raise ValueError(f"variances must be 1-D, got shape {v.shape}")
    order = np.argsort(-v, kind="stable")
    return order[v[order] > 0]


def learned_rank(depth: int, variances, p0: float, times, p: float = 0.5) -> np.ndarray:
    """Predicted number of modes with gain above ``p`` at each of ``times`` (all modes start at
    ``p0 < p``): the greedy staircase ``#{i : time_to_learn(depth, s_i, p0, p) <= t}``."""
    _check_depth(depth)
    v = _check_variance(variances, "variances")
    tt = V.array("times", times)
    tl = np.atleast_1d(time_to_learn(depth, v, p0, p))
    return (tl[None, :] <= tt.reshape(-1, 1)).sum(axis=1).reshape(tt.shape)


# --------------------------------------------------------------------------- matrix flow
def _chain(factors: Sequence[np.ndarray]) -> list[np.ndarray]:
    """``factors`` as a list of finite float matrices (array-likes accepted) chaining shape-wise."""
    if isinstance(factors, (str, bytes, np.ndarray)) or not isinstance(factors, Sequence):
        raise TypeError(f"factors must be a list of matrices [E, W_1, ..., D], got {type(factors).__name__}")
    if len(factors) < 2:
        raise ValueError(f"factors must hold at least E and D (>= 2 matrices), got {len(factors)}")
    fs = [V.array(f"factors[{k}]", f, ndim=2) for k, f in enumerate(factors)]
    for k in range(1, len(fs)):
        if fs[k].shape[1] != fs[k - 1].shape[0]:
            raise ValueError(f"factors: shape mismatch between factor {k-1} {fs[k-1].shape} and {k} {fs[k].shape}")
    return fs


def _product(factors) -> np.ndarray:
    out = factors[0]
    for f in factors[1:]:
        out = f @ out
    return out


def matrix_loss(factors: Sequence[np.ndarray], cov: np.ndarray) -> float:
    r""":math:`\tfrac12\operatorname{tr}((I-A)\Sigma(I-A)^\top)`, :math:`A = W_N\cdots W_1` with
    ``factors = [E, W_1, ..., W_L, D]`` (applied first to last)."""
    fs = _chain(factors)
    A = _product(fs)
    cov = V.array("cov", cov, ndim=2)
    if cov.shape != (A.shape[0], A.shape[0]) or A.shape[0] != A.shape[1]:
        raise ValueError(f"cov must be ({A.shape[1]}, {A.shape[1]}) and the product square, got cov {cov.shape}, A {A.shape}")
    R = np.eye(A.shape[0]) - A
    return 0.5 * float(np.trace(R @ cov @ R.T))


def matrix_gradients(factors: Sequence[np.ndarray], cov: np.ndarray) -> list[np.ndarray]:
    r"""The full matrix gradient flow :math:`\dot W_k = -\partial\mathcal L/\partial W_k` of the
    autoencoder loss.

    With :math:`A = W_N\cdots W_1`, :math:`B_k = W_N\cdots W_{k+1}`, :math:`C_k = W_{k-1}\cdots W_1`:

    .. math::  -\frac{\partial\mathcal L}{\partial W_k} = B_k^\top (I - A)\Sigma\, C_k^\top.

    (``proofs.autoencoder`` checks this against sympy differentiation of the loss.)

    Args:
        factors: ``[E, W_1, ..., W_L, D]``, shapes ``(m, d), (m, m)..., (d, m)``.
        cov: ``(d, d)`` data covariance (symmetric).

    Returns:
        list of arrays shaped like ``factors``.

    Raises:
        ValueError: on shapes.
    """
    fs = _chain(factors)
    A = _product(fs)
    cov = V.array("cov", cov, ndim=2)
    if cov.shape != (A.shape[0], A.shape[0]) or A.shape[0] != A.shape[1]:
        raise ValueError(f"cov must be ({A.shape[1]}, {A.shape[1]}) and the product square, got cov {cov.shape}, A {A.shape}")
    return _gradients(fs, cov)


def _gradients(fs: list[np.ndarray], cov: np.ndarray) -> list[np.ndarray]:
    """:func:`matrix_gradients` on checked factors, with the products above and below every factor accumulated once
    (O(N) matrix products instead of O(N^2): this is the right-hand side that the flows integrate)."""
    n = len(fs)
    below = [np.eye(fs[0].shape[1])]  # below[k] = W_{k-1} ... W_1 (C_k), below[n] = A
    for f in fs:
        below.append(f @ below[-1])
    G = (np.eye(fs[-1].shape[0]) - below[n]) @ cov
    out = [None] * n
    above = np.eye(fs[-1].shape[0])  # B_k = W_N ... W_{k+1}, built from the top
    for k in range(n - 1, -1, -1):
        out[k] = above.T @ G @ below[k].T
        above = above @ fs[k]
    return out


def matrix_flow(factors: Sequence[np.ndarray], cov: np.ndarray):
    r"""The full matrix flow of :func:`matrix_gradients` on one flat vector, for
    :func:`sims.substrate.ode.solve` (``solve_ivp``).

    Args:
        factors: initial ``[E, W_1, ..., W_L, D]`` (their shapes fix the packing).
        cov: ``(d, d)`` data covariance.

    Returns:
        ``(rhs, y0, unpack)``: ``rhs(t, y)`` the packed flow, ``y0`` the packed ``factors``, and
        ``unpack(y)`` the list of factor matrices of a packed vector.

    Raises:
        ValueError: on shapes (checked once here, before any integration).
    """
    fs = _chain(factors)
    matrix_gradients(fs, cov)  # shape checks, eagerly
    shapes = [f.shape for f in fs]
    ends = np.cumsum([f.size for f in fs])[:-1]

    def unpack(y):
        return [part.reshape(sh) for part, sh in zip(np.split(np.asarray(y), ends), shapes)]

    cov = V.array("cov", cov, ndim=2)

    def rhs(_t, y):
        return np.concatenate([g.ravel() for g in _gradients(unpack(y), cov)])

    return rhs, np.concatenate([f.ravel() for f in fs]), unpack


def balancedness(factors: Sequence[np.ndarray]) -> list[np.ndarray]:
    r""":math:`W_{k+1}^\top W_{k+1} - W_k W_k^\top` for consecutive factors: conserved by the gradient
    flow (zero for balanced initialisation)."""
    fs = _chain(factors)
    return [fs[k + 1].T @ fs[k + 1] - fs[k] @ fs[k].T for k in range(len(fs) - 1)]


# --------------------------------------------------------------------------- initialisation
def kaiming_uniform_variance(fan_in: int) -> float:
    r"""Entry variance of PyTorch's default ``nn.Linear`` initialisation, Kaiming-uniform with bound
    :math:`b = 1/\sqrt{\text{fan\_in}}`: :math:`b^2/3 = 1/(3\,\text{fan\_in})`."""
    fan_in = V.integer("fan_in", fan_in, low=1)
    return 1.0 / (3.0 * fan_in)


def fuss_catalan(depth: int, k: int) -> int:
    r"""Fuss–Catalan number :math:`\binom{(L+1)k}{k}/(Lk+1)`: the large-width limit of
    :math:`\tfrac1n\operatorname{tr}\,(MM^\top)^k` for a product :math:`M` of ``depth`` = L independent
    square matrices with i.i.d. zero-mean entries of variance :math:`1/n` (free multiplicative
    convolution of Marchenko–Pastur laws; universal in the entry law)."""
    _check_depth(depth)
    k = V.integer("k", k, low=0)
    L = int(depth)
    if (L + 1) * k > MAX_FUSS_CATALAN_N:
        raise ValueError(f"(depth + 1) * k must be <= {MAX_FUSS_CATALAN_N} (exact big-integer binomial), "
                         f"got depth={L}, k={k}")
    return math.comb((L + 1) * k, k) // (L * k + 1)


#: Largest :math:`(L+1)k` of the exact integer :func:`fuss_catalan` (its cost grows with it).
MAX_FUSS_CATALAN_N = 100_000


def default_init_moment(depth: int, k: int) -> float:
    r"""Large-width :math:`\tfrac1n\operatorname{tr}(MM^\top)^k` of a product of ``depth`` square layers
    with PyTorch default initialisation (entry variance :math:`1/(3n)`): :math:`3^{-Lk}\,FC_L(k)`, evaluated in
    log space (``lgamma``), so large ``depth * k`` gives the float answer or a clear overflow error."""
    _check_depth(depth)
    k = V.integer("k", k, low=0)
    L = int(depth)
    if k == 0:
        return 1.0
    log_fc = math.lgamma((L + 1) * k + 1) - math.lgamma(k + 1) - math.lgamma(L * k + 1) - math.log(L * k + 1)
    log_m = log_fc - L * k * math.log(3.0)
    if log_m > 709.0:
        raise ValueError(f"default_init_moment(depth={L}, k={k}) = exp({log_m:.1f}) overflows float64")
    return math.exp(log_m)


def default_init_scale(depth: int) -> float:
    r"""RMS singular value :math:`3^{-L/2}` of the product of ``depth`` default-initialised square layers."""
    _check_depth(depth)
    return 3.0 ** (-int(depth) / 2)


def default_init_spread(depth: int) -> float:
    r"""Relative variance of the squared singular values of the default-initialised product,
    :math:`\mathrm{Var}(\sigma^2)/\mathbb E[\sigma^2]^2 = FC_L(2)/FC_L(1)^2 - 1 = L` (large width): the
    spectral spread grows linearly with depth. A scaled orthogonal product has spread 0."""
    _check_depth(depth)
    return float(fuss_catalan(depth, 2) / fuss_catalan(depth, 1) ** 2 - 1)


def default_init_edge(depth: int) -> float:
    r"""Large-width largest singular value of the default-initialised product of ``depth`` >= 1
    layers: :math:`3^{-L/2}\sqrt{(L+1)^{L+1}/L^L}` (right edge of the Fuss–Catalan law)."""
    _check_depth(depth)
    L = int(depth)
    if L == 0:
        return 1.0
    # log space: (L+1)^(L+1)/L^L overflows float64 (and is a huge exact integer) for large L
    return math.exp(-L / 2 * math.log(3.0) + 0.5 * ((L + 1) * math.log(L + 1) - L * math.log(L)))


def default_init_gain(depth: int, d: int, m: int) -> float:
    r"""RMS nonzero singular value of :math:`A = DME` with every factor default-initialised
    (encoder fan-in ``d``, bottleneck and decoder fan-in ``m <= d``).

    :math:`\mathbb E\|Ax\|^2 = \tfrac{m}{3d}\,3^{-L}\,\tfrac{d}{3m}\|x\|^2 = 3^{-N}\|x\|^2` and ``A`` has
    rank ``m``, so the mean squared nonzero singular value is :math:`3^{-N} d/m`. This is the
    "initial gain" that the depth rule needs for a default initialisation.
    """
    _check_depth(depth)
    d = V.integer("d", d, low=1)
    m = V.integer("m", m, low=1)
    if m > d:
        raise ValueError(f"need ints 1 <= m <= d, got d={d}, m={m}")
    return math.sqrt(3.0 ** (-(int(depth) + 2)) * d / m)


def orthogonal_init_spectrum(width: int, depth: int, alpha: float) -> np.ndarray:
    r"""Singular values of a product of ``depth`` factors :math:`\alpha O_a` with orthogonal
    :math:`O_a`: all equal to :math:`\alpha^L` (no spectral spread)."""
    _check_depth(depth)
    width = V.integer("width", width, low=1, high=10**8)
    alpha = _check_positive("alpha", alpha)
    log_sv = int(depth) * math.log(alpha)
    if log_sv > 709.0:
        raise ValueError(f"alpha ** depth = {alpha!r} ** {int(depth)} overflows float64")
    return np.full(width, math.exp(log_sv))


def misaligned_gain(factors: Sequence[np.ndarray], directions: np.ndarray) -> np.ndarray:
    r"""Effective initial gain of each data mode for a balanced but *misaligned* small initialisation.

    Derived for N = 2 (``factors = [E, D]``) in the small-gain regime, where :math:`I - A \approx I`
    and the flow is linear: with :math:`e_i = E u_i` and :math:`d_i = D^\top u_i` (latent vectors),
    :math:`\dot e_i = s_i d_i`, :math:`\dot d_i = s_i e_i` (exactly decoupled across modes, since
    :math:`\Sigma` is diagonal in the :math:`u_i`), so :math:`w_\pm = (e_i \pm d_i)/2` grow/decay as
    :math:`e^{\pm s_i t}` and the mode gain :math:`u_i^\top A u_i = e_i\cdot d_i = |w_+|^2 - |w_-|^2`
    becomes :math:`|w_+(0)|^2 e^{2 s_i t}`: the aligned solution started from

    .. math::  P_{\rm eff} = \tfrac14\,|E u_i + D^\top u_i|^2
               = \tfrac14\big(\|E u_i\|^2 + \|D^\top u_i\|^2 + 2\,u_i^\top A(0) u_i\big).

    In terms of the per-factor scale :math:`c` (:math:`p_0 = c^N`) and the normalised projections
    :math:`\alpha_i = \|Eu_i\|^2/c^2`, :math:`\beta_i = \|D^\top u_i\|^2/c^2`,
    :math:`\gamma_i = u_i^\top A(0)u_i/p_0`, this is :math:`P_{\rm eff} = p_0(\alpha_i+\beta_i+2\gamma_i)/4`
    (aligned: :math:`\alpha=\beta=\gamma=1`, :math:`P_{\rm eff}=p_0`). For N >= 3 the same expression
    of the normalised projections is used: a heuristic (the early flow is then not linear), checked
    numerically in ``tests/test_autoencoder.py`` (full matrix flow, one mode) and in the
    ``autoencoder`` experiment: it predicts too late, increasingly with depth (one mode, d=8, m=4: 2-20%;
    top mode at d=32, m=16: ~6-10% at N=3 to ~30% at N=10), as the chain aligns while it grows. It also
    ignores the coupling of modes through shared latent directions, which scatters the learning times
    of later modes around it. The exact one-mode statement for every N is :func:`orthogonal_mode_factors`
    (the time depends on :math:`(\alpha,\beta,\gamma)` only, but for N >= 3 not through this combination).

    Args:
        factors: ``[E, W_1, ..., W_L, D]`` (applied first to last), balanced with a flat spectrum
            (every factor a scaled (semi-)orthogonal matrix).
        directions: ``(d, k)`` orthonormal data directions :math:`u_i` (columns).

    Returns:
        ``(k,)`` effective gains (float; may be ~0 for a mode whose image and back-image cancel).

    Raises:
        ValueError: on shapes.
    """
    fs = _chain(factors)
    alpha, beta, gamma = orthogonal_invariants(fs, directions)
    p0 = float(np.mean(np.sum(fs[0] ** 2, axis=1))) ** (len(fs) / 2.0)  # rows of E have norm c, p0 = c^N
    out = p0 * (alpha + beta + 2.0 * gamma) / 4.0
    if not np.all(np.isfinite(out)):
        raise ValueError(f"factors: the effective gain overflows float64 (end-to-end scale p0 = {p0!r})")
    return out


def orthogonal_effective_gain(p0: float, d: int, m: int) -> float:
    r"""Expected :func:`misaligned_gain` of a random scaled-orthogonal initialisation at end-to-end gain
    ``p0`` (every factor :math:`p_0^{1/N}` times an independent Haar (semi-)orthogonal matrix, latent
    width ``m`` in dimension ``d``): :math:`\mathbb E\|E_o u\|^2 = \mathbb E\|D_o^\top u\|^2 = m/d` and
    :math:`\mathbb E\,u^\top Q u = 0`, so :math:`\mathbb E P_{\rm eff} = p_0\,m/(2d)` at every depth.
    The gain to give :func:`depth_lr` for a misaligned orthogonal initialisation for N = 2; for N >= 3 the
    heuristic is biased with depth, and the gain with the Haar-mean time of the exact reduction
    (:func:`orthogonal_mode_factors`, :func:`sample_orthogonal_invariants`, :func:`gain_for_time`) replaces
    it (at d=32, m=16, p0=1e-3: 2.64e-4 (N=3) to 3.00e-4 (N=10), against 2.5e-4 here)."""
    p0 = _check_positive("p0", p0)
    d = V.integer("d", d, low=1)
    m = V.integer("m", m, low=1)
    if m > d:
        raise ValueError(f"need ints 1 <= m <= d, got d={d}, m={m}")
    return p0 * (m / (2.0 * d))


def orthogonal_invariants(factors: Sequence[np.ndarray], directions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The three invariants that fix the one-mode flow from a balanced scaled-orthogonal initialisation.

    For factors :math:`E = cE_o`, :math:`W_a = cO_a`, :math:`D = cD_o` (:math:`E_oE_o^\top = I_m`,
    :math:`D_o^\top D_o = I_m`, :math:`O_a` orthogonal, :math:`p_0 = c^N`) and a unit data direction
    :math:`u`: :math:`\alpha = \|E_o u\|^2`, :math:`\beta = \|D_o^\top u\|^2`,
    :math:`\gamma = u^\top A(0) u/p_0`, with :math:`\alpha,\beta\in[0,1]`, :math:`\gamma^2\le\alpha\beta`.

    Args:
        factors: ``[E, W_1, ..., W_L, D]`` (applied first to last), scaled (semi-)orthogonal.
        directions: ``(d, k)`` orthonormal data directions (columns).

    Returns:
        ``(alpha, beta, gamma)``, each ``(k,)``.

    Raises:
        ValueError: on shapes.
    """
    fs = _chain(factors)
    U = V.array("directions", directions, ndim=2)
    d = fs[0].shape[1]
    if U.shape[0] != d:
        raise ValueError(f"directions must be (d, k) = ({d}, k), got shape {U.shape}")
    n = len(fs)
    c2 = float(np.mean(np.sum(fs[0] ** 2, axis=1)))  # rows of E have norm c
    p0 = c2 ** (n / 2.0)
    if not (math.isfinite(c2) and c2 > 0 and 0 < p0 < math.inf):
        raise ValueError(f"factors: the encoder scale c^2 = {c2!r} (p0 = c^N = {p0!r}) must be positive and finite "
                         "(a zero or overflowing E has no orthogonal invariants)")
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked (and reported) just below
        alpha = np.sum((fs[0] @ U) ** 2, axis=0) / c2
        beta = np.sum((fs[-1].T @ U) ** 2, axis=0) / c2
        gamma = np.einsum("ij,ik,kj->j", U, _product(fs), U) / p0
    if not all(np.all(np.isfinite(x)) for x in (alpha, beta, gamma)):
        raise ValueError("directions: the invariants overflow float64; directions must be orthonormal columns")
    return alpha, beta, gamma


def orthogonal_mode_factors(depth: int, alpha: float, beta: float, gamma: float, p0: float) -> list[np.ndarray]:
    r"""A minimal balanced scaled-orthogonal autoencoder (``d = 3``, ``m = 2``, data direction
    :math:`e_1`) with the given :func:`orthogonal_invariants`: the exact reduction of one data mode.

    **Derived (exact).** With one data mode :math:`\Sigma = s\,uu^\top` the flow only moves, in each
    latent space between factors, the span of the forward image :math:`F_k = W_k\cdots W_1E\,u` and the
    backward image :math:`G_k = W_{k+1}^\top\cdots D^\top u` (every update is
    :math:`\dot W_k \propto G_k F_{k-1}^\top`, and by the conserved balancedness
    :math:`W_k^\top W_k = W_{k-1}W_{k-1}^\top = c^2 I + (\text{terms in that span})` every layer maps these
    spans into each other); the data-space residual only enters through
    :math:`D^\top(I-A)u` and :math:`u^\top(I-A)u`. At :math:`t = 0` the Gram matrices of
    :math:`(F_k, G_k)` are :math:`\big(\begin{smallmatrix} c^{2k}\alpha & p_0\gamma\\ p_0\gamma &
    c^{2(N-k)}\beta\end{smallmatrix}\big)` in every latent space, so the trajectory of
    :math:`u^\top A u` (and every other invariant of the mode) is a function of
    :math:`(\alpha,\beta,\gamma, p_0, s, N)` only, not of the widths or of the rest of the random
    matrices. Here :math:`E_o = [a\,|\,(I-aa^\top)^{1/2}]`, :math:`D_o^\top = [b\,|\,(I-bb^\top)^{1/2}]`,
    :math:`W_a = cI_2`, with :math:`a = \sqrt\alpha\,e_1`, :math:`b = \sqrt\beta(\cos\theta,\sin\theta)`,
    :math:`\cos\theta = \gamma/\sqrt{\alpha\beta}`. ``tests/test_autoencoder.py`` checks that the full
    matrix flow of a random ``(d, m) = (8, 4)`` init and this one cross 1/2 at the same time (1e-6).

    With several data modes the reduction does *not* hold: modes couple through the shared latent
    directions (for N = 2 only after the small-gain phase; for N >= 3 from the start), so a mode's time
    also depends on the other modes' variances and cross-projections (measured at d=32, m=16, six modes
    of variance 2*0.75^i: the top mode is learned 0-6% earlier than its one-mode reduction, later
    modes up to ~50% later, more with depth).

    Args:
        depth: bottleneck layers L >= 0 (N = L + 2 factors).
        alpha, beta: in [0, 1]. gamma: with gamma^2 <= alpha beta (up to 1e-12).
        p0: end-to-end scale, > 0 (every factor has scale :math:`c = p_0^{1/N}`).

    Returns:
        ``[E (2, 3), W_1 (2, 2), ..., W_L, D (3, 2)]``; the data direction is ``e_1`` of R^3.

    Raises:
        ValueError: invariants out of range, bad depth or p0.
    """
    _check_depth(depth, high=10**4)  # builds depth matrices
    p0 = _check_positive("p0", p0)
    a_ = V.real("alpha", alpha, low=0.0, high=1.0)
    b_ = V.real("beta", beta, low=0.0, high=1.0)
    g_ = V.real("gamma", gamma)
    if g_ * g_ > a_ * b_ + 1e-12:
        raise ValueError(f"gamma must satisfy gamma^2 <= alpha*beta = {a_ * b_}, got {gamma!r}")
    n = int(depth) + 2
    c = p0 ** (1.0 / n)
    cth = float(np.clip(g_ / math.sqrt(a_ * b_), -1.0, 1.0)) if a_ * b_ > 0 else 1.0
    a = np.array([math.sqrt(a_), 0.0])
    b = math.sqrt(b_) * np.array([cth, math.sqrt(max(0.0, 1.0 - cth * cth))])

    def psd_sqrt(M):
        w, V = np.linalg.eigh(M)
        return (V * np.sqrt(np.clip(w, 0.0, None))) @ V.T

    Eo = np.zeros((2, 3))
    Eo[:, 0], Eo[:, 1:] = a, psd_sqrt(np.eye(2) - np.outer(a, a))
    Do = np.zeros((3, 2))
    Do[0, :], Do[1:, :] = b, psd_sqrt(np.eye(2) - np.outer(b, b)).T
    return [c * Eo] + [c * np.eye(2) for _ in range(int(depth))] + [c * Do]


def sample_orthogonal_invariants(d: int, m: int, n: int, *, rng: np.random.Generator):
    r"""``n`` draws of :func:`orthogonal_invariants` for one fixed data direction under independent Haar
    factors (width ``m`` in dimension ``d``), from their exact law (derived):

    :math:`\alpha = \|E_ou\|^2` and :math:`\beta = \|D_o^\top u\|^2` are the squared norms of the projection
    of a uniform unit vector of :math:`\mathbb R^d` onto an ``m``-plane, independent
    :math:`\mathrm{Beta}(m/2, (d-m)/2)` (:math:`\alpha = 1` when ``m = d``); the bottleneck product
    :math:`O_L\cdots O_1` is Haar on :math:`O(m)` whatever the depth, so :math:`\gamma = \sqrt{\alpha\beta}\cos\theta`
    with :math:`\cos\theta` a coordinate of a uniform unit vector of :math:`\mathbb R^m`, independent of
    both: :math:`(1+\cos\theta)/2\sim\mathrm{Beta}((m-1)/2, (m-1)/2)` (:math:`\cos\theta = \pm1` for m = 1).
    The law does not depend on the depth. (Monte Carlo check in ``tests/test_autoencoder.py``.)

    Returns:
        ``(alpha, beta, gamma)``, each ``(n,)``.

    Raises:
        ValueError: unless ``1 <= m <= d`` and ``n >= 1`` are ints.
    """
    d = V.integer("d", d, low=1)
    m = V.integer("m", m, low=1)
    if m > d:
        raise ValueError(f"need ints 1 <= m <= d, got d={d}, m={m}")
    n = V.integer("n", n, low=1, high=10**8)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got {rng!r}")
    if m == d:
        alpha, beta = np.ones(n), np.ones(n)
    else:
        alpha, beta = rng.beta(m / 2, (d - m) / 2, n), rng.beta(m / 2, (d - m) / 2, n)
    cth = rng.choice([-1.0, 1.0], n) if m == 1 else 2.0 * rng.beta((m - 1) / 2, (m - 1) / 2, n) - 1.0
    return alpha, beta, np.sqrt(alpha * beta) * cth


def gain_for_time(depth: int, unit_time: float, p: float = 0.5) -> float:
    r"""The aligned initial gain :math:`P_0` whose learning time to ``p`` at unit variance is
    ``unit_time``: the inverse of ``time_to_learn(depth, 1, P_0, p)`` in :math:`P_0\in(0, p)` (Brent's
    method; the time decreases strictly in :math:`P_0`). It turns a measured or expected learning time
    of a misaligned init into the gain that :func:`depth_lr` takes.

    Raises:
        ValueError: bad depth, ``p`` outside (0, 1), ``unit_time <= 0``.
    """
    import scipy.optimize

    _check_depth(depth)
    unit_time = _check_positive("unit_time", unit_time)
    p = _check_positive("p", p)
    if p >= 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    f = lambda lg: time_to_learn(depth, 1.0, math.exp(lg), p) - unit_time  # noqa: E731
    lo = math.log(p) - 1.0
    while f(lo) < 0:
        lo -= 5.0
        if lo < -700:
            raise ValueError(f"unit_time={unit_time} is beyond any representable initial gain")
    return math.exp(scipy.optimize.brentq(f, lo, math.log(p), xtol=1e-14, rtol=1e-13))


# --------------------------------------------------------------------------- learning-rate rules
def depth_lr(depth: int, *, base_lr: float, p0: float | None = None, alpha: float | None = None,
             ref_depth: int = 1, p: float = 0.5, rule: str = "exact") -> float:
    r"""A learning rate for bottleneck depth ``depth`` that makes the learning time, in optimiser
    steps, independent of depth.

    With step size :math:`\eta` the discrete flow follows the ODE in time :math:`\eta\cdot\text{step}`,
    so a mode is learned after :math:`\tau_N/(\eta s)` steps, :math:`\tau_N = s\,t_N(P_0\to p)`. Making
    the step count depth-independent requires :math:`\eta(N) = \eta_{\rm ref}\,\tau_N/\tau_{N_{\rm ref}}`
    (derived; the paper's own rule is unknown). Rules:

    * ``"exact"``: :math:`\tau_N` from :func:`time_to_learn` (collapse is exact under gradient flow);
    * ``"asymptotic"``: the leading term :math:`\tau_N \approx P_0^{-(N-2)/N}/(N-2)` (``ln(1/P_0)/2`` for
      N = 2); with a fixed per-layer scale :math:`P_0 = \alpha^N` this is :math:`\alpha^{-(N-2)}/(N-2)`;
    * ``"inverse_depth"``: :math:`\eta \propto 1/N`, which cancels the preconditioner's factor N but not
      the dependence on :math:`P_0` (a candidate rule considered here; it does not collapse).

    Args:
        depth: bottleneck layers (N = depth + 2).
        base_lr: the learning rate at ``ref_depth``, > 0.
        p0: initial end-to-end gain in (0, 1): a number (fixed across depth) or a callable
            ``depth -> gain`` (e.g. :func:`default_init_gain` for a default initialisation); or
        alpha: initial per-factor scale, in (0, 1), so that :math:`P_0 = \alpha^N` (exactly one of the two).
        ref_depth: the depth that gets ``base_lr``.
        p: the gain that defines "learned" (``exact`` rule), in (P_0, 1).
        rule: one of :data:`LR_RULES`.

    Raises:
        ValueError: bad depth, rule, or scale arguments.
    """
    _check_depth(depth)
    _check_depth(ref_depth, name="ref_depth")
    base_lr = _check_positive("base_lr", base_lr)
    p = _check_positive("p", p)
    if rule not in LR_RULES:
        raise ValueError(f"rule must be one of {LR_RULES}, got {rule!r}")
    if (p0 is None) == (alpha is None):
        raise ValueError("give exactly one of p0 (fixed end-to-end gain) and alpha (fixed per-factor scale)")
    if p0 is not None:
        p0_of = p0 if callable(p0) else (lambda L, _g=_check_positive("p0", p0): _g)
    else:
        alpha = _check_positive("alpha", alpha)
        if alpha >= 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        p0_of = lambda L: alpha ** (L + 2)  # noqa: E731

    def gain(L):
        g = _check_positive("p0", p0_of(L))
        if g >= 1:
            raise ValueError(f"p0 must be in (0, 1), got {g} at depth {L}")
        return g

    def tau(L):
        if rule == "exact":
            return time_to_learn(L, 1.0, gain(L), p)
        if rule == "asymptotic":
            return time_to_learn_asymptotic(L, 1.0, gain(L))
        return 1.0 / (L + 2)

    return base_lr * tau(int(depth)) / tau(int(ref_depth))


# --------------------------------------------------------------------------- rank metrics
def threshold_rank(spectrum, threshold: float = 0.01) -> int:
    """Number of values of a nonnegative spectrum (e.g. eigenvalues of the latent covariance) above
    ``threshold`` times the largest; 0 for an all-zero spectrum. Round-off negatives (down to 1e-5 of
    the largest) are accepted.

    Raises:
        ValueError: not 1-D, clearly negative values, or ``threshold`` outside (0, 1).
    """
    sv = V.array("spectrum", spectrum)
    threshold = V.real("threshold", threshold)
    # eigenvalues from float32 eigh can be slightly negative: tolerate round-off of 1e-5 of the largest
    if sv.ndim != 1 or np.any(sv < -1e-5 * (float(np.max(np.abs(sv))) if sv.size else 1.0)):
        raise ValueError(f"spectrum must be a 1-D nonnegative array, got {spectrum!r}")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
    top = float(np.max(sv)) if sv.size else 0.0
    return int(np.sum(sv > threshold * top)) if top > 0 else 0


def entropy_rank(spectrum) -> float:
    r"""Roy–Vetterli effective rank :math:`\exp(-\sum_i p_i\ln p_i)`, :math:`p_i = \sigma_i/\sum_j\sigma_j`
    (as in RankMe), in [1, n] for a nonzero spectrum: :func:`theory.lidar.effective_rank` after clipping
    round-off negatives of float32 eigenvalues to 0."""
    sv = V.array("spectrum", spectrum, ndim=1, min_size=1)
    try:
        return _lidar.effective_rank(np.clip(sv, 0.0, None))
    except ValueError as err:
        raise ValueError(f"spectrum: {err}") from None
