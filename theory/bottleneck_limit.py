r"""The bottleneck limit dynamics derived with sympy from the parametrisation (Littwin et al. 2021).

Derived here, not quoted from the paper (only its abstract was available). The network is the one of
:mod:`theory.bottleneck` in NTK parametrisation without biases: the bottleneck map
:math:`h_a(x) = \sqrt{\sigma_w^2/n_g}\sum_k V_{ka}\,\phi(u_k(x))`, :math:`u_k(x) = \sqrt{\sigma_w^2/d_0}\sum_i U_{ik}x_i`,
and the head :math:`f(h) = \sqrt{\sigma_w^2/n_f}\sum_m a_m\,\phi(z_m(h))`, :math:`z_m(h) = \sqrt{\sigma_w^2/d}\sum_a W_{am}h_a`,
all weights standard normal, trained by gradient flow :math:`\dot\theta = -\sum_j e_j\,\partial F(x_j)/\partial\theta`
(:math:`e_j = \partial\ell/\partial F(x_j)`).

:func:`limit_derivation` builds this network on a small instance with *symbolic* weights, inputs and loss
gradients, and derives by differentiation:

* ``dF_dt``: :math:`\dot F(x) = \sum_\theta \partial_\theta F(x)\,\dot\theta` (the composite differentiated as a whole);
* the pieces: the head's Jacobian :math:`J_f = \partial f/\partial h` at the features, the empirical kernels
  :math:`\hat\Theta_f(h, h') = \sum_{\theta_f}\partial_{\theta_f} f(h)\,\partial_{\theta_f} f(h')` and
  :math:`\hat\Theta_g(x, x')_{ab} = \sum_{\theta_g}\partial_{\theta_g} h_a(x)\,\partial_{\theta_g} h_b(x')`, and from
  them the effective kernel :math:`K_{\rm eff} = \hat\Theta_f + J_f\hat\Theta_gJ_f^\top` and the feature velocity
  :math:`-\sum_j\hat\Theta_g(x, x_j)J_f(h_j)^\top e_j`;
* ``dh_dt``: :math:`\dot h(x) = \sum_{\theta_g}\partial_{\theta_g} h(x)\,\dot\theta_g`;
* the Gaussian expectations over the readout weights (:math:`V` of ``g``, :math:`a` of ``f``): the cross terms
  :math:`a\neq b` of :math:`\hat\Theta_g` vanish, so :math:`\mathbb E_V\hat\Theta_g = \hat\theta_g I_d` with
  :math:`\hat\theta_g = \frac{\sigma_w^2}{n_g}\sum_k\big(\phi(u_k)\phi(u_k')
  + \phi'(u_k)\phi'(u_k')\,\sigma_w^2 x\cdot x'/d_0\big)`,
  an average over the :math:`n_g` units that tends to the fixed kernel :math:`\Theta_g` of
  :func:`theory.bottleneck.g_kernels` as :math:`n_g\to\infty` (law of large numbers); likewise
  :math:`\mathbb E_a\hat\Theta_f = \frac{\sigma_w^2}{n_f}\sum_m\big(\phi(z_m)\phi(z_m')
  + \phi'(z_m)\phi'(z_m')\,\sigma_w^2h\cdot h'/d\big)`
  (:func:`theory.bottleneck.f_empirical_ntk` with :math:`a_m^2\to1`), which tends to :math:`\Theta_f(h, h')`.

What stays random at finite ``d`` is :math:`J_f`: it is a function of :math:`d` directions only and does not
average out, hence :math:`K_{\rm eff}` and the features' motion are random and data dependent.
:func:`gaussian_expectation` is the moment rule used for the expectations. The proof module
``proofs.bottleneck`` checks each step on these derived expressions.
"""

from __future__ import annotations

import dataclasses
import functools

import sympy as sp

from ._validate import integer, one_of

__all__ = ["LimitDerivation", "limit_derivation", "gaussian_expectation", "ACTIVATIONS", "w"]

w = sp.Symbol("sigma_w2", positive=True)  # sigma_w^2
ACTIVATIONS = ("tanh", "erf", "identity")
_MAX = 3  # sizes above this make the symbolic expressions slow (every size enters the derivative tree)


def _phi(name: str):
    if name == "erf":
        return sp.erf
    if name == "tanh":
        return sp.tanh
    return lambda z: z


def gaussian_expectation(expr, symbols, *, max_degree: int = 8) -> sp.Expr:
    r""":math:`\mathbb E[\text{expr}]` over independent standard normal ``symbols``, for ``expr`` polynomial in them
    (coefficients may be any expressions of the other symbols), by the heat-kernel rule
    :math:`\mathbb E[p(s)] = \big(e^{\Delta/2}p\big)(0) = \sum_k \frac{(\Delta^k p)(0)}{2^k k!}`, exact for a polynomial
    (:math:`\Delta` the Laplacian in ``symbols``; it needs no expansion of the coefficients). Equivalent to the
    moment rule :math:`\mathbb E[s^k] = (k-1)!!` (even ``k``), 0 (odd ``k``) monomial by monomial.

    Args:
        expr: a sympy expression; symbols: the standard normal symbols; max_degree: the largest polynomial
            degree accepted (1..16).

    Raises:
        TypeError: ``symbols`` is not a sequence of sympy Symbols, or ``expr`` is not a sympy expression.
        ValueError: ``expr`` is not a polynomial of degree <= ``max_degree`` in ``symbols``.
    """
    max_degree = integer("max_degree", max_degree, low=1, high=16)
    try:
        syms = list(symbols)
    except TypeError:
        syms = []
    if not syms or not all(isinstance(s, sp.Symbol) for s in syms):
        raise TypeError(f"symbols must be a non-empty sequence of sympy Symbols, got {symbols!r}")
    try:
        term = sp.sympify(expr) if expr is not None else None
    except (sp.SympifyError, TypeError) as err:
        raise TypeError(f"expr must be a sympy expression, got {expr!r}") from err
    if not isinstance(term, sp.Basic):
        raise TypeError(f"expr must be a sympy expression, got {expr!r} ({type(expr).__name__})")
    zero = {s: 0 for s in syms}
    out, k = sp.Integer(0), 0
    while term.free_symbols & set(syms):
        if k > max_degree // 2:
            raise ValueError(f"expr is not a polynomial of degree <= {max_degree} in {syms}")
        out += term.subs(zero) / (2**k * sp.factorial(k))
        term = sum((sp.diff(term, s, 2) for s in syms), sp.Integer(0))
        k += 1
    return out + term / (2**k * sp.factorial(k))


@dataclasses.dataclass(frozen=True)
class LimitDerivation:
    r"""Expressions derived by :func:`limit_derivation` (one instance of the network, points :math:`x_1..x_P`).

    Attributes:
        sizes: ``(d_in, n_g, d, n_f, points)``; activation: its name.
        x: ``P`` input vectors (sympy Matrices ``d_in x 1``); e: loss gradients :math:`e_j` (symbols).
        U, V, W, a: the weight matrices (``d_in x n_g``, ``n_g x d``, ``d x n_f``, ``n_f x 1``) of symbols.
        h: ``P`` bottleneck vectors ``d x 1``; F: ``P`` outputs.
        dF_dt: ``P`` outputs' time derivatives under gradient flow on all weights (chain rule on the composite).
        dh_dt: ``P`` feature velocities ``d x 1`` (chain rule through the weights of ``g``).
        J_f: ``P`` head Jacobians ``1 x d`` at the features.
        theta_f: ``P x P`` empirical head kernel; theta_g: ``P x P`` nested list of ``d x d`` blocks.
        K_eff: ``P x P`` effective kernel :math:`\hat\Theta_f + J_f\hat\Theta_gJ_f^\top` built from the pieces.
        K_flow: ``P`` expressions :math:`-\sum_j K_{\rm eff}(x_i, x_j)e_j`.
        velocity: ``P`` vectors :math:`-\sum_j\hat\Theta_g(x_i, x_j)J_f(h_j)^\top e_j`.
        The expectations are taken for the pair of the first and last point, :math:`(x_1, x_P)` (the others are
        the same computation; one pair keeps the derivation fast):
        theta_g_V: ``d x d`` readout (``V``) part of :math:`\hat\Theta_g(x_1, x_P)`.
        theta_g_expected: ``d x d`` :math:`\mathbb E_V\hat\Theta_g(x_1, x_P)`.
        theta_g_scalar: the per-unit average :math:`\hat\theta_g(x_1, x_P)` (the claimed diagonal value).
        theta_f_expected: :math:`\mathbb E_a\hat\Theta_f(h_1, h_P)`; theta_f_scalar: its claimed form.
    """

    sizes: tuple
    activation: str
    x: list
    e: list
    U: sp.Matrix
    V: sp.Matrix
    W: sp.Matrix
    a: sp.Matrix
    h: list
    F: list
    dF_dt: list
    dh_dt: list
    J_f: list
    theta_f: sp.Matrix
    theta_g: list
    K_eff: sp.Matrix
    K_flow: list
    velocity: list
    theta_g_V: sp.Matrix
    theta_g_expected: sp.Matrix
    theta_g_scalar: sp.Expr
    theta_f_expected: sp.Expr
    theta_f_scalar: sp.Expr


def limit_derivation(activation: str = "tanh", *, d_in: int = 1, n_g: int = 2, d: int = 2, n_f: int = 2,
                     points: int = 2) -> LimitDerivation:
    r"""Derive the bottleneck network's function-space gradient flow from its parametrisation, symbolically.

    See the module docstring for the network and what is derived. Every expression is built by sympy
    differentiation of the parametrised network (nothing typed in), on an instance with ``points`` symbolic
    inputs in :math:`\mathbb R^{d_{in}}`, hidden widths ``n_g``, ``n_f`` and bottleneck ``d``.

    Args:
        activation: ``"tanh"``, ``"erf"`` or ``"identity"`` (smooth, so every derivative is explicit; ``tanh``
            keeps the expressions smallest, since its derivative is a polynomial in itself).
        d_in, n_g, d, n_f, points: sizes, each in 1..3 (the expression size grows with their product).

    Returns:
        :class:`LimitDerivation`.

    Raises:
        TypeError: a size is not an integer or ``activation`` not a string.
        ValueError: ``activation`` unknown or a size outside 1..3.
    """
    activation = one_of("activation", activation, ACTIVATIONS)
    sizes = tuple(integer(nm, v, low=1, high=_MAX) for nm, v in
                  (("d_in", d_in), ("n_g", n_g), ("d", d), ("n_f", n_f), ("points", points)))
    return _derive(activation, sizes)


@functools.cache
def _derive(activation: str, sizes: tuple) -> LimitDerivation:
    d_in, n_g, d, n_f, P = sizes
    phi = _phi(activation)
    U = sp.Matrix(d_in, n_g, lambda i, k: sp.Symbol(f"U_{i}{k}", real=True))
    V = sp.Matrix(n_g, d, lambda k, a: sp.Symbol(f"V_{k}{a}", real=True))
    W = sp.Matrix(d, n_f, lambda a, m: sp.Symbol(f"W_{a}{m}", real=True))
    a = sp.Matrix(n_f, 1, lambda m, _: sp.Symbol(f"a_{m}", real=True))
    x = [sp.Matrix(d_in, 1, lambda i, _, p=p: sp.Symbol(f"x{p}_{i}", real=True)) for p in range(P)]
    e = [sp.Symbol(f"e_{p}", real=True) for p in range(P)]
    hs = [sp.Matrix(d, 1, lambda i, _: sp.Symbol(f"hh_{i}", real=True))]  # a free point of the head's domain

    def g(xv):
        u = (sp.sqrt(w / d_in) * U.T * xv).applyfunc(phi)
        return sp.sqrt(w / n_g) * V.T * u

    def f(hv):
        z = (sp.sqrt(w / d) * W.T * hv).applyfunc(phi)
        return (sp.sqrt(w / n_f) * a.T * z)[0, 0]

    theta_g_syms, theta_f_syms = list(U) + list(V), list(W) + list(a)
    h = [g(xv) for xv in x]
    F = [f(hv) for hv in h]
    # gradient flow on every weight: theta_dot = -sum_j e_j dF(x_j)/dtheta
    dot = {s: -sum(e[j] * sp.diff(F[j], s) for j in range(P)) for s in theta_g_syms + theta_f_syms}
    dF_dt = [sum(sp.diff(F[i], s) * dot[s] for s in dot) for i in range(P)]
    dh_dt = [sp.Matrix(d, 1, lambda b, _, i=i: sum(sp.diff(h[i][b], s) * dot[s] for s in theta_g_syms)) for i in range(P)]
    # pieces: J_f at the features, the empirical kernels
    hv = hs[0]
    J_free = sp.Matrix(1, d, lambda _, b: sp.diff(f(hv), hv[b]))
    J_f = [J_free.subs(dict(zip(list(hv), list(h[i]))), simultaneous=True) for i in range(P)]
    grad_f = [[sp.diff(F[i], s) for s in theta_f_syms] for i in range(P)]  # head parameters at the features
    theta_f = sp.Matrix(P, P, lambda i, j: sum(p * q for p, q in zip(grad_f[i], grad_f[j])))
    grad_g = [[[sp.diff(h[i][b], s) for s in theta_g_syms] for b in range(d)] for i in range(P)]
    theta_g = [[sp.Matrix(d, d, lambda b, c, i=i, j=j: sum(p * q for p, q in zip(grad_g[i][b], grad_g[j][c])))
                for j in range(P)] for i in range(P)]
    K_eff = sp.Matrix(P, P, lambda i, j: theta_f[i, j] + (J_f[i] * theta_g[i][j] * J_f[j].T)[0, 0])
    K_flow = [-sum(K_eff[i, j] * e[j] for j in range(P)) for i in range(P)]
    velocity = [-sum((theta_g[i][j] * J_f[j].T * e[j] for j in range(P)), sp.zeros(d, 1)) for i in range(P)]
    # readout part of Theta_g and the expectations over the readout weights, for the pair (x_1, x_P)
    i, j = 0, P - 1
    V_syms = list(V)
    gV = [[sp.diff(h[q][b], s) for s in V_syms] for q in (i, j) for b in range(d)]
    theta_g_V = sp.Matrix(d, d, lambda b, c: sum(p * q for p, q in zip(gV[b], gV[d + c])))
    theta_g_expected = theta_g[i][j].applyfunc(lambda ex: gaussian_expectation(ex, V_syms))
    zz = sp.Symbol("zz", real=True)
    dphi = sp.Lambda(zz, sp.diff(phi(zz), zz))

    def unit_avg(xa, xb, Wm, n, din):
        ua, ub = sp.sqrt(w / din) * Wm.T * xa, sp.sqrt(w / din) * Wm.T * xb
        dot_ab = (xa.T * xb)[0, 0]
        return w / n * sum(phi(ua[k]) * phi(ub[k]) + dphi(ua[k]) * dphi(ub[k]) * w * dot_ab / din for k in range(n))

    theta_g_scalar = unit_avg(x[i], x[j], U, n_g, d_in)
    theta_f_expected = gaussian_expectation(theta_f[i, j], list(a))
    theta_f_scalar = unit_avg(h[i], h[j], W, n_f, d)
    return LimitDerivation(sizes, activation, x, e, U, V, W, a, h, F, dF_dt, dh_dt, J_f, theta_f, theta_g, K_eff,
                           K_flow, velocity, theta_g_V, theta_g_expected, theta_g_scalar, theta_f_expected,
                           theta_f_scalar)
