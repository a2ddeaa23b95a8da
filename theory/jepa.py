r"""JEPA vs MAE in deep linear networks: per-mode gradient flow, hitting times, learning order.

Littwin, Saremi, Advani, Thilak, Nakkiran, Huang, Susskind (2024), "How JEPA Avoids Noisy Features:
The Implicit Bias of Deep Linear Self Distillation Networks", arXiv:2407.03475 (NeurIPS 2024).

**Objectives.** A depth-:math:`L` linear encoder :math:`\bar W = W_L\cdots W_1` and a linear
predictor (JEPA) or decoder (MAE) :math:`V`:

.. math::
    \mathcal L_{\rm JEPA} = \tfrac12\mathbb E\|V\bar W x - \mathrm{SG}(\bar W y)\|^2,\qquad
    \mathcal L_{\rm MAE}  = \tfrac12\mathbb E\|V\bar W x - y\|^2 .

**Conventions** (documented because the paper's PDF was not available; derived here from the model):
in the common eigenbasis :math:`\Sigma_{xx} = \mathrm{diag}(\sigma_i^2)`,
:math:`\Sigma_{yx} = \mathbb E[yx^\top] = \mathrm{diag}(\lambda_i)`; :math:`\lambda` ("covariance",
symbol ``lam``) is the eigenvalue of :math:`\Sigma_{yx}`, :math:`\sigma^2` that of :math:`\Sigma_{xx}`, and
:math:`\rho = \lambda/\sigma^2` (symbol ``rho``) the regression coefficient ("influence"). Every
formula here is written in ``lam`` and ``rho`` (:math:`\sigma^2 = \lambda/\rho`).

**Time.** Gradient-flow time with a unit learning rate on every factor (default ``time_scale=1``), so
:math:`d\bar w/dt` carries the factor :math:`L`. ``time_scale="L"`` reports times in the other
convention found in the literature (per-layer learning rate :math:`1/L`, as in the third-party Lean
transcription of Theorem 4.5): every time is multiplied by exactly :math:`L`.

**Derivation.** The per-mode ODEs are *derived* by :class:`theory.deeplinear.ModeModel` from the
per-mode losses (stop-gradient handled by frozen copies), never typed in; the results are cached.
Under balanced aligned initialisation every factor equals :math:`s(t)`, :math:`\bar w = s^L`, and

* JEPA: :math:`\dot s = s^{2L}(\lambda - \sigma^2 s)`, :math:`\dot{\bar w} = L(\lambda\bar w^{3-1/L}-\sigma^2\bar w^3)`,
  fixed point :math:`\bar w^* = \rho^L` (the paper's eq. (7));
* MAE: :math:`\dot s = s^L(\lambda - \sigma^2 s^{L+1})`, :math:`\dot{\bar w} = L(\lambda\bar w^{2-1/L}-\sigma^2\bar w^3)`,
  fixed point :math:`\bar w^* = \rho^{L/(L+1)}` (eq. (8)).

These are derived here and agree with the full matrix flow (tests, proofs).
Initialisation: every mode of :math:`\bar W(0)` equals ``eps`` (each factor :math:`\epsilon^{1/L}`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import scipy.integrate
import sympy as sp

from . import _validate as V
from .deeplinear import ModeModel
from .deeplinear import s as _s

__all__ = [
    "OBJECTIVES",
    "CriticalTime",
    "L",
    "critical_time_expansion",
    "encoder_ode",
    "eps",
    "fixed_point",
    "full_flow",
    "full_flow_rhs",
    "hitting_antiderivative",
    "hitting_integrand",
    "hitting_time_quadrature",
    "MAX_DEPTH",
    "MAX_EXPANSION_DEPTH",
    "SYMBOLIC_DEPTH",
    "lam",
    "layer_ode",
    "learning_order",
    "learning_times",
    "mode_rhs",
    "mode_trajectories",
    "model",
    "p",
    "pack",
    "predictor_ode",
    "rho",
    "temporal_features",
    "time_to_learn",
    "u",
    "unpack",
    "v",
    "w",
]

Objective = Literal["jepa", "mae"]
OBJECTIVES: tuple[str, ...] = ("jepa", "mae")

#: encoder mode (end-to-end product of the encoder), predictor mode, covariance, regression coefficient
w = sp.Symbol("w", positive=True)
v = sp.Symbol("v", positive=True)
lam = sp.Symbol("lam", positive=True)
rho = sp.Symbol("rho", positive=True)
#: initial encoder mode, threshold fraction, normalised per-layer variable u = s / s*
eps = sp.Symbol("epsilon", positive=True)
p = sp.Symbol("p", positive=True)
u = sp.Symbol("u", positive=True)
#: symbolic depth
L = sp.Symbol("L", positive=True, integer=True)

_sigma2 = lam / rho
_RHO = rho  # alias: functions whose parameters are named like the symbols use this
_HALF = sp.Rational(1, 2)

#: Deepest encoder for which :func:`time_to_learn` integrates :math:`dt = ds/\dot s` symbolically (sympy partial
#: fractions, exact). Deeper encoders use the log-space quadrature of :func:`hitting_time_quadrature`, and the
#: ODEs come from the symbolic-depth derivation evaluated at the depth: sympy's concrete-depth work grows steeply
#: (about 1 s at depth 8, a minute at depth 48, a RecursionError at depth 64 before this path existed).
SYMBOLIC_DEPTH = 8
#: Deepest encoder :func:`time_to_learn` accepts (the quadrature's cost does not grow with depth; the bound
#: keeps the float exponents (2L-1) x of the log-space integrand far from overflow).
MAX_DEPTH = 100_000
#: Deepest encoder :func:`critical_time_expansion` accepts: its series has 2L - 1 terms and sympy's series work
#: grows with L (0.4 s at L = 32; a RecursionError at L = 64).
MAX_EXPANSION_DEPTH = 32


# ----------------------------------------------------------------------------- validation
def _check_objective(objective) -> str:
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    return objective


def _check_depth(depth, *, symbolic_ok: bool = False, high: int | None = None):
    high = MAX_DEPTH if high is None else high
    if symbolic_ok and isinstance(depth, sp.Expr) and not isinstance(depth, sp.Integer):
        if depth.is_positive is False:
            raise ValueError(f"depth must be positive, got {depth}")
        return depth
    if isinstance(depth, sp.Integer):
        depth = int(depth)
    return V.integer("depth", depth, low=1, high=high)


def _check_pos(name: str, x) -> float:
    return V.real(name, x, low=0.0, low_open=True)


def _time_factor(time_scale, depth) -> int:
    if time_scale == 1:
        return 1
    if time_scale == "L" or (isinstance(time_scale, int) and not isinstance(time_scale, bool) and time_scale == depth):
        return depth
    raise ValueError(f"time_scale must be 1 or 'L', got {time_scale!r}")


# ----------------------------------------------------------------------------- derivations
def _loss(objective: str):
    if objective == "jepa":
        # 1/2 E (v wbar x - SG(wbar) y)^2 = 1/2 (sigma^2 (v wbar)^2 - 2 lam v wbar SG(wbar) + SG(wbar)^2 E y^2)
        def loss(on, tg):
            return _HALF * (_sigma2 * (on["pred"] * on["enc"]) ** 2 - 2 * lam * on["pred"] * on["enc"] * tg["enc"])
    else:
        # 1/2 E (v wbar x - y)^2 = 1/2 (sigma^2 (v wbar)^2 - 2 lam v wbar + E y^2)
        def loss(on, tg):
            return _HALF * (_sigma2 * (on["pred"] * on["enc"]) ** 2 - 2 * lam * on["pred"] * on["enc"])
    return loss


@functools.cache
def model(objective: Objective) -> ModeModel:
    """The per-mode :class:`~theory.deeplinear.ModeModel` of an objective (groups ``enc``, ``pred``).

    The terms of :math:`\\mathbb E y^2` are dropped: they carry no parameter and (under stop-gradient)
    no gradient."""
    _check_objective(objective)
    return ModeModel(_loss(objective), ("enc", "pred"), name=objective)


def _sizes(depth):
    return {"enc": depth, "pred": 1}


def layer_ode(objective: Objective, depth) -> sp.Expr:
    r"""RHS of :math:`\dot s` for the common per-factor value :math:`s` of a balanced aligned mode.

    Args:
        objective: ``"jepa"`` or ``"mae"``.
        depth: encoder depth :math:`L` (int >= 1, or a positive sympy symbol such as :data:`L`).

    Returns:
        sympy expression in ``s`` (:data:`theory.deeplinear.s`), ``lam``, ``rho``.
    """
    _check_objective(objective)
    d = _check_depth(depth, symbolic_ok=True)
    if isinstance(d, int) and d > SYMBOLIC_DEPTH:
        # the derivation for a symbolic depth (chain rule through the group products, from the same loss),
        # evaluated at d: differentiating a product of d factor symbols one by one grows steeply with d
        return model(objective).balanced_flow(_sizes(L)).subs(L, d)
    return model(objective).balanced_flow(_sizes(d))


def encoder_ode(objective: Objective, depth, *, time_scale=1) -> sp.Expr:
    r"""RHS of :math:`d\bar w/dt` for the encoder mode :math:`\bar w` (the paper's eqs. (7)/(8)).

    JEPA: :math:`L(\lambda\bar w^{3-1/L} - \tfrac{\lambda}{\rho}\bar w^{3})`;
    MAE: :math:`L(\lambda\bar w^{2-1/L} - \tfrac{\lambda}{\rho}\bar w^{3})` (derived, not typed in).

    Args:
        objective: ``"jepa"`` or ``"mae"``.
        depth: int >= 1 or a positive sympy symbol.
        time_scale: ``1`` (unit learning rate per layer) or ``"L"`` (the RHS divided by ``L``).

    Returns:
        sympy expression in the module symbols :data:`w`, :data:`lam`, :data:`rho`.

    Raises:
        ValueError: unknown objective, depth < 1 or not an integer, bad ``time_scale``.
    """
    _check_objective(objective)
    d = _check_depth(depth, symbolic_ok=True)
    if isinstance(d, int) and d > SYMBOLIC_DEPTH:  # see layer_ode: the symbolic-depth derivation at d
        rhs = sp.expand(sp.powsimp(model(objective).product_flow("enc", _sizes(L), w).subs(L, d), force=True))
    else:
        rhs = model(objective).product_flow("enc", _sizes(d), w)
    if time_scale == 1:
        return rhs
    if time_scale == "L":
        return sp.expand(rhs / d)
    raise ValueError(f"time_scale must be 1 or 'L', got {time_scale!r}")


def predictor_ode(objective: Objective) -> sp.Expr:
    r"""RHS of :math:`\dot v` for the predictor/decoder mode, for any encoder mode :math:`\bar w`.

    JEPA: :math:`\bar w^2(\lambda - \sigma^2 v)`; MAE: :math:`\bar w(\lambda - \sigma^2 v\bar w)`.
    Returns a sympy expression in :data:`w`, :data:`v`, :data:`lam`, :data:`rho`.
    """
    m = model(_check_objective(objective))
    return sp.expand(m.free_flow("pred").subs({m.p["enc"]: w, m.p["pred"]: v}))


@functools.cache
def _layer_fixed_point(objective: str, depth) -> sp.Expr:
    if isinstance(depth, int) and depth > SYMBOLIC_DEPTH:
        return _layer_fixed_point(objective, L).subs(L, depth)
    sdot = layer_ode(objective, depth)
    # the non-zero root: divide out the power of s at the collapsed fixed point s = 0
    core = sp.factor(sdot)
    nonzero = [f for f in sp.Mul.make_args(core) if f.has(_s) and not (f.is_Pow and f.base == _s) and f != _s]
    sols = [r for f in nonzero for r in sp.solve(f, _s) if r.is_positive is not False]
    if len(sols) != 1:
        raise RuntimeError(f"{objective}: expected one positive fixed point, sympy found {sols}")
    return sp.simplify(sols[0])


def fixed_point(objective: Objective, depth, *, which: Literal["w", "v", "P"] = "w") -> sp.Expr:
    r"""The non-zero fixed point of the balanced flow (sympy).

    JEPA: :math:`\bar w^* = \rho^L,\ v^* = \rho,\ P^* = \rho^{L+1}`;
    MAE: :math:`\bar w^* = \rho^{L/(L+1)},\ v^* = \rho^{1/(L+1)},\ P^* = \rho` (the OLS coefficient).

    Args:
        which: ``"w"`` encoder mode, ``"v"`` predictor, ``"P"`` end-to-end product.
    """
    _check_objective(objective)
    d = _check_depth(depth, symbolic_ok=True)
    s_star = _layer_fixed_point(objective, d)
    power = {"w": d, "v": 1, "P": d + 1}
    if which not in power:
        raise ValueError(f"which must be 'w', 'v' or 'P', got {which!r}")
    return sp.powsimp(sp.expand_power_base(s_star ** power[which], force=True), force=True)


@V.cached
def hitting_integrand(objective: Objective, depth: int) -> tuple[sp.Expr, sp.Expr]:
    r"""Split :math:`dt = ds/\dot s` in the normalised variable :math:`u = s/s^*` as ``(C, g)``:
    :math:`dt = C(\lambda,\rho)\, g(u)\, du`.

    JEPA: :math:`C = 1/(\lambda\rho^{2L-1})`, :math:`g = 1/(u^{2L}(1-u))`;
    MAE: :math:`C = \rho^{(1-L)/(L+1)}/\lambda`, :math:`g = 1/(u^L(1-u^{L+1}))`.
    """
    d = _check_depth(depth)
    if _check_objective(objective) and d > SYMBOLIC_DEPTH:  # the symbolic-depth derivation, evaluated at d
        C, g, _, _ = _integrand_any_depth(objective)
        return C.subs(L, d), g.subs(L, d)
    s_star = _layer_fixed_point(objective, d)
    expr = sp.powsimp(sp.expand_power_base(sp.factor(s_star / layer_ode(objective, d).subs(_s, s_star * u)), force=True),
                      force=True)
    C, g = expr.as_independent(u, as_Add=False)
    if C.could_extract_minus_sign():  # keep C > 0 and g > 0 on (0, 1)
        C, g = -C, -g
    return sp.simplify(C), sp.factor(g)


@functools.cache
def _split_integrand(objective: str, depth: int):
    """``g = principal + regular``: the Laurent principal part of g at u = 0 and the bounded rest."""
    C, g = hitting_integrand(objective, depth)
    principal = sp.series(g, u, 0, 0).removeO()
    regular = sp.cancel(sp.together(g - principal))
    prim = sp.integrate(sp.expand(principal), u)  # sums of u^(1-m)/(1-m) and log(u): exact
    return C, g, sp.expand(principal), regular, prim


@functools.cache
def _numeric_parts(objective: str, depth: int):
    C, g, principal, regular, prim = _split_integrand(objective, depth)
    f_C = sp.lambdify((lam, rho), C, "math")
    f_prim = sp.lambdify(u, prim, "math")
    f_reg = sp.lambdify(u, regular, "math")
    exact_reg = None
    if objective == "jepa":
        # antiderivative of the regular part c/(1 - u): log|.| keeps it real on (0, 1)
        anti = sp.integrate(regular, u).replace(sp.log, lambda a: sp.log(sp.Abs(a)))
        exact_reg = sp.lambdify(u, anti, "math")
    return f_C, f_prim, f_reg, exact_reg


def _tidy_powers(expr: sp.Expr) -> sp.Expr:
    """Combine powers of one base and cancel their exponents (symbolic depth leaves rho^(L/(L+1)) rho^(1/(L+1)))."""
    expr = sp.powsimp(sp.expand_power_base(expr, force=True, deep=True), force=True, deep=True, combine="exp")
    return expr.replace(lambda q: q.is_Pow, lambda q: sp.Pow(q.base, sp.cancel(q.exp)))


@functools.cache
def _integrand_any_depth(objective: str):
    """``(C, g, a, r)``: :func:`hitting_integrand` derived once for the symbolic depth :data:`L`, and its split
    :math:`g = u^{-a} r(u)` with the pole order :math:`a` at :math:`u = 0` and :math:`r` finite, positive on [0, 1)."""
    s_star = _layer_fixed_point(objective, L)
    expr = sp.factor(_tidy_powers(sp.expand(s_star / layer_ode(objective, L).subs(_s, s_star * u))))
    C, g = expr.as_independent(u, as_Add=False)
    C = _tidy_powers(C)
    if C.could_extract_minus_sign():  # keep C > 0 and g > 0 on (0, 1)
        C, g = -C, -g
    a = next((-e for b, e in (f.as_base_exp() for f in sp.Mul.make_args(g)) if b == u), sp.Integer(0))
    r = sp.factor(_tidy_powers(sp.expand_power_base(g * u**a, force=True)))
    r0 = r.subs(u, 0)
    if not (r0.is_finite and r0.is_positive):
        raise RuntimeError(f"{objective}: g = u^(-a) r(u) with r(0) = {r0} is not finite and positive")
    return C, g, a, r


@functools.cache
def _quadrature_parts(objective: str):
    C, _, a, r = _integrand_any_depth(objective)
    log_C = sp.lambdify((lam, rho, L), sp.expand_log(sp.log(C), force=True), "math")
    log_s_star = sp.lambdify((rho, L), sp.expand_log(sp.log(_layer_fixed_point(objective, L)), force=True), "math")
    return log_C, sp.lambdify(L, a, "math"), sp.lambdify((u, L), r, "math"), log_s_star


def hitting_time_quadrature(objective: Objective, depth: int, lam, rho, eps, p: float = 0.5, *, time_scale=1) -> float:
    r""":func:`time_to_learn` by adaptive quadrature in log space: works at any depth (used past :data:`SYMBOLIC_DEPTH`).

    The per-layer ODE is derived once for a symbolic depth (:func:`layer_ode` with :data:`L`) and split as
    :math:`dt = C\,u^{-a} r(u)\,du` in :math:`u = s/s^*` (JEPA: :math:`a = 2L`, :math:`r = 1/(1-u)`; MAE:
    :math:`a = L`, :math:`r = 1/(1-u^{L+1})`, derived, not typed in). With :math:`u = e^{-x}`,
    :math:`x_0 = \ln s^* - \ln(\epsilon)/L`, :math:`x_1 = -\ln(p)/L` and :math:`y = x_0 - x`,

    .. math:: t = C\,e^{(a-1)x_0}\int_0^{x_0-x_1} e^{-(a-1)y}\, r(e^{-(x_0-y)})\,dy ,

    whose integrand lies in :math:`(0, r(u_1)]`, so nothing overflows at large depth (:math:`u_0^{-2L}` alone
    overflows a float near :math:`L = 200` for :math:`
ho = 6`); :math:`\log C` and :math:`(a-1)x_0` are
    added in log space. ``scipy.integrate.quad`` at relative tolerance 1e-13 (the result agrees with the
    exact symbolic path to ~1e-12, tests).

    Args and Raises: as :func:`time_to_learn` (depth up to :data:`MAX_DEPTH`); ``ArithmeticError`` when the
    time exceeds the float range (its logarithm is finite but above ~709).
    """
    d, lam_f, rho_f, eps_f, p_f = _validate_time_args(objective, depth, lam, rho, eps, p)
    if d > MAX_DEPTH:
        raise ValueError(f"depth must be <= {MAX_DEPTH}, got {depth!r}")
    factor = _time_factor(time_scale, d)
    log_C, f_a, f_r, log_s_star = _quadrature_parts(objective)
    am1 = float(f_a(d)) - 1.0
    x0 = log_s_star(rho_f, d) - math.log(eps_f) / d
    x1 = -math.log(p_f) / d
    span = x0 - x1
    if not span > 0:
        raise ValueError(f"eps must lie below p times the fixed point, got eps={eps!r}, p={p!r}")

    def integrand(y: float) -> float:
        return math.exp(-am1 * y) * f_r(math.exp(y - x0), d)

    # the exponential factor lives on the scale 1/(a-1) at y = 0; r peaks at y = span (u = u1 -> 1 at large depth)
    points = [k / am1 for k in (1.0, 5.0, 25.0) if am1 > 0 and k / am1 < span]
    integral, _ = scipy.integrate.quad(integrand, 0.0, span, epsabs=0.0, epsrel=1e-13, limit=400, points=points or None)
    log_t = log_C(lam_f, rho_f, d) + am1 * x0 + math.log(integral) + math.log(factor)
    if not math.isfinite(log_t) or log_t > 709.0:
        raise ArithmeticError(f"hitting_time_quadrature: time exp({log_t:.6g}) is not a finite float for {objective}, "
                              f"L={d}, lam={lam}, rho={rho}, eps={eps}, p={p}")
    return math.exp(log_t)


def _validate_time_args(objective, depth, lam_, rho_, eps_, p_):
    _check_objective(objective)
    d = _check_depth(depth)
    lam_f = _check_pos("lam", lam_)
    rho_f = V.real("rho", rho_)
    if rho_f <= 0:
        raise ValueError(f"rho must be finite and > 0 (a mode with rho <= 0 never grows), got {rho_!r}")
    p_f = V.real("p", p_)
    if not 0.0 < p_f < 1.0:
        raise ValueError(f"p must lie in (0, 1), got {p_!r}")
    eps_f = V.real("eps", eps_)
    wstar = float(fixed_point(objective, d).subs(rho, rho_f))
    if not (math.isfinite(wstar) and wstar > 0):
        raise ValueError(f"rho={rho_!r}: the fixed point rho**L (depth {d}) is {wstar!r}, outside the float range")
    if not (0.0 < eps_f < p_f * wstar):
        raise ValueError(f"eps must lie in (0, p * fixed point) = (0, {p_f * wstar:.6g}), got {eps_!r}")
    return d, lam_f, rho_f, eps_f, p_f


def _exact_path_in_range(d: int, lam_f: float, rho_f: float, eps_f: float) -> bool:
    """Whether every float factor of the exact path stays within e^{+-300} (no overflow, underflow or 1/0 there)."""
    u0_log = math.log(eps_f) / d - math.log(rho_f)  # ln u0 up to the objective's O(1) power of rho
    return all(abs(x) < 300.0 for x in (math.log(lam_f), 2 * d * math.log(rho_f), 2 * d * u0_log))


def time_to_learn(objective: Objective, depth: int, lam, rho, eps, p: float = 0.5, *, time_scale=1) -> float:
    r"""Time for the encoder mode to go from :math:`\bar w(0) = \epsilon` to :math:`p\,\bar w^*`.

    With :math:`u = s/s^*`, :math:`u_0 = \epsilon^{1/L}/s^*`, :math:`u_1 = p^{1/L}` and
    :math:`dt = C g(u)\,du` (:func:`hitting_integrand`), :math:`t = C\int_{u_0}^{u_1} g`.

    * JEPA, exact: the partial-fraction antiderivative
      :math:`F(\psi) = -\sum_{n=1}^{2L-1}\frac{1}{n\psi^n} + \ln\psi - \ln(1-\psi)` gives
      :math:`t = (F(p^{1/L}) - F(\epsilon^{1/L}/\rho))/(\lambda\rho^{2L-1})` (Theorem 4.4 / Lemma B.6).
    * MAE: the Laurent principal part of :math:`g` at 0 integrated exactly, the bounded remainder
      :math:`u/(1-u^{L+1})` by adaptive quadrature (relative accuracy ~1e-12).
    * Depth above :data:`SYMBOLIC_DEPTH` (both objectives): :func:`hitting_time_quadrature`, adaptive
      quadrature in :math:`x = -\ln u` of the same integrand derived for a symbolic depth; milliseconds at
      any depth up to :data:`MAX_DEPTH` (it agrees with the exact path to ~1e-14 at depths 1-8, and with
      the closed form of Theorem 4.4 in 30-digit arithmetic at depth 200: tests).

    Args:
        objective: ``"jepa"`` or ``"mae"``.
        depth: encoder depth :math:`L`, an int >= 1.
        lam: :math:`\lambda > 0`.  rho: :math:`\rho > 0`.
        eps: initial encoder mode, in :math:`(0, p\bar w^*)`.
        p: threshold as a fraction of the fixed point, in (0, 1).
        time_scale: ``1`` or ``"L"`` (multiplies the time by ``L``).

    Returns:
        The hitting time (float).

    Raises:
        ValueError: naming the offending parameter.
    """
    d, lam_f, rho_f, eps_f, p_f = _validate_time_args(objective, depth, lam, rho, eps, p)
    # past SYMBOLIC_DEPTH sympy's exact path is slow; at extreme scales its float terms (1/u0^(2L-1), lam rho^(2L-1))
    # over- or underflow: both go to the log-space quadrature of the same derived integrand
    if d > SYMBOLIC_DEPTH or not _exact_path_in_range(d, lam_f, rho_f, eps_f):
        return hitting_time_quadrature(objective, d, lam_f, rho_f, eps_f, p_f, time_scale=time_scale)
    factor = _time_factor(time_scale, d)
    f_C, f_prim, f_reg, exact_reg = _numeric_parts(objective, d)
    s_star = float(_layer_fixed_point(objective, d).subs(_RHO, rho_f))
    u0 = eps_f ** (1.0 / d) / s_star
    u1 = p_f ** (1.0 / d)
    sing = f_prim(u1) - f_prim(u0)
    if exact_reg is not None:
        reg = exact_reg(u1) - exact_reg(u0)
    else:
        reg, _ = scipy.integrate.quad(f_reg, u0, u1, epsabs=0.0, epsrel=1e-13, limit=200)
    t = f_C(lam_f, rho_f) * (sing + reg) * factor
    if not math.isfinite(t) or t <= 0:
        raise ArithmeticError(f"time_to_learn: non-finite or non-positive time {t} for {objective}, L={d}, lam={lam}, "
                              f"rho={rho}, eps={eps}, p={p}")
    return float(t)


def learning_times(
    objective: Objective, depth: int, features: Sequence[tuple[float, float]], eps: float, *, p: float = 0.5, time_scale=1
) -> np.ndarray:
    """:func:`time_to_learn` for each feature ``(lam, rho)``; a float array of the same length."""
    _check_objective(objective)
    _check_depth(depth)
    V.real("eps", eps)
    V.real("p", p)
    if isinstance(features, (str, bytes)) or not hasattr(features, "__len__"):
        raise TypeError(f"features must be a sequence of (lam, rho) pairs, got {features!r}")
    if len(features) < 1:
        raise ValueError("features must hold at least one (lam, rho) pair")
    out = []
    for i, f in enumerate(features):
        if isinstance(f, (str, bytes)) or not hasattr(f, "__len__") or len(f) != 2:
            raise ValueError(f"features[{i}] must be a (lam, rho) pair, got {f!r}")
        out.append(time_to_learn(objective, depth, f[0], f[1], eps, p, time_scale=time_scale))
    return np.array(out)


def learning_order(
    objective: Objective, depth: int, features: Sequence[tuple[float, float]], eps: float, *, p: float = 0.5
) -> list[int]:
    """Indices of ``features`` (pairs ``(lam, rho)``) in the order they are learned: by increasing
    time to reach ``p`` times their own fixed point from ``eps`` (ties keep input order).

    Raises:
        ValueError: as :func:`time_to_learn`, e.g. when ``eps >= p * rho**L`` for a low-rho JEPA
            feature (the threshold lies below the start: no order can be defined).
    """
    t = learning_times(objective, depth, features, eps, p=p)
    return [int(i) for i in np.argsort(t, kind="stable")]


# ----------------------------------------------------------------------------- asymptotics
@dataclasses.dataclass(frozen=True)
class CriticalTime:
    r"""Small-:math:`\epsilon` expansion of :func:`time_to_learn`.

    :math:`t = \sum_k c_k\,\epsilon^{-k/L} + c_{\log}\ln(1/\epsilon) + c_0 + O(\epsilon^{1/L})`.

    Attributes:
        series: the whole expansion (sympy, in ``epsilon``, ``lam``, ``rho``, ``p``).
        terms: ``[(k, c_k)]`` singular power terms, most singular first (``k/L`` is the power of
            :math:`1/\epsilon`).
        log_term: the term in :math:`\ln\epsilon` (its coefficient may depend on rho).
        constant: the O(1) term (for MAE it holds an unevaluated integral of the regular part).
        leading: the most singular term.
        first_rho_term: the most singular of the eps-dependent terms (powers and log) that depends
            on rho; ``None`` if rho enters only the constant (MAE).
        small_parameter: :math:`\psi_0 = \epsilon^{1/L}/s^*`; the expansion is asymptotic only when it is
            small (see :meth:`valid`).
    """

    objective: str
    depth: int
    series: sp.Expr
    terms: list
    log_term: sp.Expr
    constant: sp.Expr
    leading: sp.Expr
    first_rho_term: sp.Expr | None
    small_parameter: sp.Expr

    def valid(self, eps_value: float, rho_value: float, *, threshold: float = 0.1) -> bool:
        """Whether :math:`\\psi_0 = \\epsilon^{1/L}/s^* <` ``threshold`` (the series is asymptotic)."""
        psi0 = float(self.small_parameter.subs({eps: eps_value, rho: rho_value}))
        return psi0 < threshold

    def evaluate(
        self, lam_value: float, rho_value: float, eps_value: float, p_value: float = 0.5, *, strict: bool = True
    ) -> float:
        """Numeric value of :attr:`series` (constant term included, by quadrature for MAE).

        Raises:
            ValueError: if ``strict`` and the expansion is not valid there (:meth:`valid`).
        """
        if strict and not self.valid(eps_value, rho_value):
            raise ValueError(f"eps={eps_value}, rho={rho_value}: eps^(1/L)/s* is not small; the expansion is not "
                             "asymptotic there")
        val = self.series.subs({lam: lam_value, rho: rho_value, eps: eps_value, p: p_value})
        return float(sp.N(val.doit() if isinstance(val, sp.Expr) else val, 20))


@V.cached
def critical_time_expansion(objective: Objective, depth: int, *, time_scale=1) -> CriticalTime:
    r"""The small-:math:`\epsilon` asymptotic series of :func:`time_to_learn` (sympy), derived.

    Writing :math:`g = g_{\rm principal} + g_{\rm regular}` (Laurent principal part at :math:`u=0`),
    :math:`t = C[\,G(u_1) - G(u_0) + \int_{u_0}^{u_1} g_{\rm regular}]` with :math:`G' = g_{\rm principal}`;
    :math:`-C\,G(u_0)` gives the singular terms in :math:`\epsilon`, the rest the constant, with error
    :math:`O(u_0) = O(\epsilon^{1/L})`.

    JEPA (the paper's Theorem 4.5, up to the ``time_scale`` factor):
    :math:`t = \frac1\lambda\sum_{n=1}^{2L-1}\frac{1}{n\rho^{2L-1-n}\epsilon^{n/L}} +
    \frac{\ln(\rho/\epsilon^{1/L})}{\lambda\rho^{2L-1}} + O(1)`;
    the leading term :math:`\frac{1}{(2L-1)\lambda\epsilon^{(2L-1)/L}}` is independent of :math:`\rho`, and
    :math:`\rho` enters from the next term on.
    MAE: :math:`L=1`: :math:`\frac1\lambda\ln\frac1\epsilon + O(1)`; :math:`L\ge2`:
    :math:`\frac{\epsilon^{-(L-1)/L}}{(L-1)\lambda} + O(1)`, :math:`\rho` only in the constant.

    Args:
        objective, depth: as :func:`time_to_learn` (depth an int >= 1).
        time_scale: ``1`` or ``"L"``.
    """
    _check_objective(objective)
    d = _check_depth(depth, high=MAX_EXPANSION_DEPTH)
    factor = _time_factor(time_scale, d)
    C, g, principal, regular, prim = _split_integrand(objective, d)
    s_star = _layer_fixed_point(objective, d)
    u0 = eps ** sp.Rational(1, d) / s_star
    u1 = p ** sp.Rational(1, d)
    singular = sp.expand(sp.expand_log(-C * prim.subs(u, u0) * factor, force=True), force=True)
    singular = sp.powsimp(sp.expand_power_base(singular, force=True), force=True)
    if objective == "jepa":
        x = sp.Symbol("x", positive=True)  # u = 1 - x keeps the logarithm real on (0, 1)
        reg_const = sp.integrate(regular.subs(u, 1 - x), (x, 1 - u1, 1))
    else:
        reg_const = sp.Integral(regular, (u, 0, u1))
    constant = sp.expand(C * factor * (prim.subs(u, u1) + reg_const))
    terms, log_term, rest = [], sp.Integer(0), sp.Integer(0)
    for term in sp.Add.make_args(singular):
        if term.has(sp.log):
            log_term += term
            continue
        coeff, expo = term.as_coeff_exponent(eps)
        if coeff.has(eps):
            raise RuntimeError(f"critical_time_expansion: cannot separate the power of epsilon in {term}")
        k = -expo * d  # term ~ eps^(-k/L)
        if k > 0:
            terms.append((int(k), term))
        else:
            rest += term
    terms.sort(key=lambda kc: -kc[0])
    # the log term keeps only the pieces in log(eps); log(rho), log(p) pieces are constants
    log_eps = sp.expand(log_term)
    log_part = sp.Add(*[t for t in sp.Add.make_args(log_eps) if t.has(eps)])
    constant = sp.expand(constant + rest + (log_eps - log_part))
    leading = terms[0][1] if terms else log_part
    candidates = [t for _, t in terms] + ([log_part] if log_part != 0 else [])
    first_rho = next((t for t in candidates if t.has(rho)), None)
    series = sp.Add(*[t for _, t in terms]) + log_part + constant
    return CriticalTime(
        objective=objective, depth=d, series=series, terms=terms, log_term=log_part,
        constant=constant, leading=leading, first_rho_term=first_rho, small_parameter=u0,
    )


# ----------------------------------------------------------------------------- numerics
@V.cached
def mode_rhs(objective: Objective, depth: int, *, time_scale=1):
    """Numeric ``f(w, lam, rho)`` of :func:`encoder_ode` (numpy-vectorised; lambdified from sympy)."""
    return sp.lambdify((w, lam, rho), encoder_ode(objective, _check_depth(depth), time_scale=time_scale), "numpy")


def full_flow(
    objective: Objective, layers: Sequence[np.ndarray], predictor: np.ndarray, sigma_xx: np.ndarray, sigma_yx: np.ndarray
):
    r"""Full-matrix gradient flow of deep linear JEPA / MAE (numeric right-hand side).

    With :math:`G = V\bar W\Sigma_{xx} - \bar W\Sigma_{yx}` (JEPA, target branch held fixed) or
    :math:`G = V\bar W\Sigma_{xx} - \Sigma_{yx}` (MAE):
    :math:`\dot V = -G\bar W^\top`,
    :math:`\dot W_a = -(V W_L\cdots W_{a+1})^\top G\,(W_{a-1}\cdots W_1)^\top`.

    Args:
        layers: ``[W_1, ..., W_L]``, each ``(d, d)``.
        predictor: ``V``, ``(d, d)``.
        sigma_xx, sigma_yx: ``(d, d)`` second moments :math:`\mathbb E[xx^\top]`, :math:`\mathbb E[yx^\top]`.

    Returns:
        ``(dlayers, dpredictor)`` with the same shapes.
    """
    _check_objective(objective)
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__"):
        raise TypeError(f"layers must be a list of (d, d) matrices, got {layers!r}")
    if len(layers) < 1:
        raise ValueError("layers must hold at least one matrix")
    predictor = V.array("predictor", predictor, ndim=2)
    sigma_xx = V.array("sigma_xx", sigma_xx, ndim=2)
    sigma_yx = V.array("sigma_yx", sigma_yx, ndim=2)
    layers = [V.array(f"layers[{i}]", m, ndim=2) for i, m in enumerate(layers)]
    d = predictor.shape[0]
    for name, m in [("predictor", predictor), ("sigma_xx", sigma_xx), ("sigma_yx", sigma_yx),
                    *[(f"layers[{i}]", m) for i, m in enumerate(layers)]]:
        if np.shape(m) != (d, d):
            raise ValueError(f"{name} must have shape ({d}, {d}), got {np.shape(m)}")
    Lk = len(layers)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is found below and raised, not warned about
        prefix = [np.eye(d)]  # prefix[a] = W_a ... W_1
        for W in layers:
            prefix.append(W @ prefix[-1])
        wbar = prefix[-1]
        G = predictor @ wbar @ sigma_xx - (wbar @ sigma_yx if objective == "jepa" else sigma_yx)
        dV = -G @ wbar.T
        suffix = predictor  # V W_L ... W_{a+1}
        dW = [None] * Lk
        for a in range(Lk - 1, -1, -1):
            dW[a] = -suffix.T @ G @ prefix[a].T
            suffix = suffix @ layers[a]
    if not (np.all(np.isfinite(dV)) and all(np.all(np.isfinite(x)) for x in dW)):
        raise ValueError("full_flow: the flow overflows float64 at this state (layers/predictor/sigma entries too large)")
    return dW, dV


def pack(layers, predictor) -> np.ndarray:
    """Flatten ``([W_1..W_L], V)`` into one vector (for :func:`sims.substrate.ode.solve`)."""
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__"):
        raise TypeError(f"layers must be a list of matrices, got {layers!r}")
    mats = [V.array(f"layers[{i}]", m) for i, m in enumerate(layers)] + [V.array("predictor", predictor)]
    return np.concatenate([np.ravel(m) for m in mats])


def unpack(y: np.ndarray, d: int, depth: int):
    """Inverse of :func:`pack`: ``([W_1..W_L], V)``."""
    y = V.array("y", y)
    d = V.integer("d", d, low=1)
    depth = V.integer("depth", depth, low=0)
    if y.size != (depth + 1) * d * d:
        raise ValueError(f"y must have {(depth + 1) * d * d} entries for d={d}, depth={depth}, got {y.size}")
    mats = y.reshape(depth + 1, d, d)
    return list(mats[:depth]), mats[depth]


def full_flow_rhs(objective: Objective, d: int, depth: int, sigma_xx, sigma_yx):
    """``rhs(t, y)`` of :func:`full_flow` on packed vectors, for ``solve_ivp``."""
    _check_objective(objective)
    _check_depth(depth)
    d = V.integer("d", d, low=1)
    sxx = V.array("sigma_xx", sigma_xx, ndim=2)
    syx = V.array("sigma_yx", sigma_yx, ndim=2)
    for name, m in (("sigma_xx", sxx), ("sigma_yx", syx)):
        if m.shape != (d, d):
            raise ValueError(f"{name} must have shape (d, d) = ({d}, {d}) for d={d}, got {m.shape}")

    def rhs(t, y):
        Ws, V = unpack(y, d, depth)
        dW, dV = full_flow(objective, Ws, V, sxx, syx)
        return pack(dW, dV)

    return rhs


# ----------------------------------------------------------------------------- temporal (dynamic) data model
@functools.cache
def _temporal_moments():
    """Derive (lam, rho) of the stationary AR(1) feature from the model (sympy): x = z_t, y = z_{t+1} = gamma z_t + xi,
    z_t and xi independent, zero mean, variances v and q; stationarity Var(y) = Var(x) fixes q."""
    gamma, var, q = sp.symbols("gamma v q", positive=True)
    cov = sp.diag(var, q)  # covariance of (z_t, xi)
    x_c, y_c = sp.Matrix([1, 0]), sp.Matrix([gamma, 1])  # coefficients of x and y on (z_t, xi)
    q_star = sp.solve(sp.Eq((y_c.T * cov * y_c)[0], (x_c.T * cov * x_c)[0]), q)[0]
    s_yx = sp.simplify((y_c.T * cov * x_c)[0].subs(q, q_star))
    s_xx = sp.simplify((x_c.T * cov * x_c)[0])
    return gamma, var, s_yx, sp.simplify(s_yx / s_xx), sp.factor(q_star)


def temporal_features(gamma, variance) -> tuple[float, float]:
    r"""``(lam, rho)`` of a feature of the temporal (dynamic) data model: :math:`x = z_t`, :math:`y = z_{t+1}`.

    Model (derived here, not quoted from the paper: the paper has a static and a dynamic linear model whose exact
    statement was not available): each feature follows a stationary AR(1) process
    :math:`z_{t+1} = \gamma z_t + \xi_t` with :math:`\mathrm{Var}(z) = v` and independent innovations of variance
    :math:`v(1-\gamma^2)` (stationarity, derived by sympy). Then :math:`\Sigma_{yx} = \gamma v`,
    :math:`\Sigma_{xx} = v`, so :math:`\lambda = \gamma v` and :math:`\rho = \gamma`: the regression coefficient is the
    persistence (slowness). Every result of this module then applies with these (lam, rho); in particular deep
    JEPA's bias towards large rho is a bias towards slowly varying features, while MAE orders by
    :math:`\lambda = \gamma v` (variance times persistence). Checked against sampled pairs (tests) and trained
    full networks (experiment ``jepa``, claims ``jepa.temporal_full_matrix_*``).

    Args:
        gamma: persistence in (0, 1) (a non-positive gamma gives rho <= 0, a mode JEPA never learns).
        variance: stationary variance v > 0.

    Returns:
        ``(lam, rho)`` as floats.

    Raises:
        TypeError / ValueError: naming the argument.
    """
    g_f = V.real("gamma", gamma, low=0.0, high=1.0, low_open=True, high_open=True)
    v_f = V.real("variance", variance, low=0.0, low_open=True)
    g_s, v_s, s_yx, rho_e, _ = _temporal_moments()
    return float(s_yx.subs({g_s: g_f, v_s: v_f})), float(rho_e.subs({g_s: g_f, v_s: v_f}))


# ----------------------------------------------------------------------------- trajectories (closed form)
#: Largest ``z`` of the inversion coordinate (``z = ln|u/(1-u)|``): past it ``1 - u`` is below 1e-16 relative, so
#: ``u`` rounds to 1 in float64 and the mode equals its fixed point to the last bit.
_Z_MAX = 40.0
#: Gauss-Legendre nodes and weights on [0, 1] for the near-start difference form (see :func:`mode_trajectories`).
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(12)
_GL_NODES, _GL_WEIGHTS = 0.5 * (_GL_NODES + 1.0), 0.5 * _GL_WEIGHTS
#: the near-start region: ``|u - u0| <= _NEAR * min(u0, |1 - u0|)`` (every pole of g is >= 5 widths away there)
_NEAR = 0.2
#: a few float64 roundings: the residual level below which the root find stops
_ROUNDING = 8.0 * np.finfo(float).eps


@V.cached
def hitting_antiderivative(objective: Objective, depth: int) -> sp.Expr:
    r"""An antiderivative :math:`G(u)` of the hitting integrand :math:`g` of :func:`hitting_integrand`, real on
    :math:`(0,1)` and :math:`(1,\infty)`: :math:`dG/du = g`, so :math:`t(u) = C\,(G(u) - G(u_0))`.

    Derived here from the model (sympy; the per-mode ODEs (7)/(8) of Littwin et al. 2024), not quoted from the paper.
    :math:`g = P/(u^a R)` with :math:`R(0)\neq0`
    (JEPA: :math:`g = 1/(u^{2L}(1-u))`; MAE: :math:`g = 1/(u^L(1-u^{L+1}))`). The Laurent principal part of
    :math:`g` at 0 is integrated term by term (powers of :math:`u` and :math:`\ln u`); the rest :math:`P_r/R` has
    simple poles at the exact roots :math:`r` of :math:`R` (``sympy.roots``; for MAE the :math:`(L+1)`-th roots
    of unity) with residues :math:`c_r = P_r(r)/R'(r)`. A real root gives
    :math:`c_r\ln|u-r|`; a conjugate pair :math:`r = \alpha \pm i\beta` (:math:`\beta > 0`, residues
    :math:`c, \bar c`) gives :math:`2\,\mathrm{Re}[c\ln(u-r)]` up to a constant,
    :math:`\mathrm{Re}\,c\,\ln((u-\alpha)^2+\beta^2) - 2\,\mathrm{Im}\,c\,\arctan((u-\alpha)/\beta)`, real and
    smooth on the whole real line. (``sympy.integrate`` of the partial fractions leaves a ``RootSum`` for the
    degree-6 cyclotomic factors of MAE at depths 6 and 8; the residue form does not.)
    The pole at :math:`u = 1` appears as :math:`c_1\ln|1-u|` (``log(Abs(1 - u))``).

    Args:
        objective: ``"jepa"`` or ``"mae"``.
        depth: int in ``1..SYMBOLIC_DEPTH``.

    Returns:
        sympy expression in :data:`u`.

    Raises:
        ValueError: unknown objective, depth outside ``1..SYMBOLIC_DEPTH``.
        RuntimeError: if the derivation meets a repeated or missing root (not expected for either objective).
    """
    _check_objective(objective)
    d = _check_depth(depth, high=SYMBOLIC_DEPTH)
    _, g = hitting_integrand(objective, d)
    principal = sp.expand(sp.series(g, u, 0, 0).removeO())
    regular = sp.cancel(sp.together(g - principal))
    num, den = sp.fraction(regular)
    P, R = sp.Poly(num, u), sp.Poly(den, u)
    if P.degree() >= R.degree():
        raise RuntimeError(f"{objective}, depth {d}: the regular part {regular} is not a proper fraction")
    roots = sp.roots(R)
    if sum(roots.values()) != R.degree() or any(m != 1 for m in roots.values()):
        raise RuntimeError(f"{objective}, depth {d}: expected simple roots of {R.as_expr()}, sympy found {roots}")
    dR = R.diff(u)
    G = sp.integrate(principal, u)
    for r in roots:
        re_r, im_r = (sp.nsimplify(sp.simplify(x)) for x in (sp.re(r), sp.im(r)))
        c = sp.simplify(P.as_expr().subs(u, r) / dR.as_expr().subs(u, r))
        re_c, im_c = sp.simplify(sp.re(c)), sp.simplify(sp.im(c))
        if im_r == 0:
            G += c * sp.log(sp.Abs(u - r)) if r != 1 else c * sp.log(sp.Abs(1 - u))
        elif im_r.is_positive:  # the pair r, conj(r) once: the member with Im < 0 adds nothing
            G += re_c * sp.log((u - re_r) ** 2 + im_r**2) - 2 * im_c * sp.atan((u - re_r) / im_r)
    return G


@functools.cache
def _trajectory_parts(objective: str, depth: int):
    """Numeric pieces of :func:`mode_trajectories`: ``G(u, om)`` (om = |1 - u| passed separately, accurate near 1),
    ``h(u) = g u (1 - u)`` (dt/dz / C), ``g(u)``, ``C(lam, rho)``, ``s*(rho)``."""
    C, g = hitting_integrand(objective, depth)
    G = hitting_antiderivative(objective, depth)
    om = sp.Dummy("om", positive=True)
    G_om = G.subs(sp.Abs(1 - u), om).subs(sp.Abs(u - 1), om)
    if G_om.has(sp.Abs) or G_om.has(sp.I):
        raise RuntimeError(f"{objective}, depth {depth}: the antiderivative keeps Abs or I: {G_om}")
    h = sp.cancel(g * u * (1 - u))
    s_star = _layer_fixed_point(objective, depth)
    return (sp.lambdify((u, om), G_om, "numpy"), sp.lambdify(u, h, "numpy"), sp.lambdify(u, g, "numpy"),
            sp.lambdify((lam, rho), C, "numpy"), sp.lambdify(rho, s_star, "numpy"))


def _u_of_z(z: np.ndarray, above: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(u, |1 - u|)`` from the inversion coordinate: ``u = expit(z)`` below the fixed point, ``u = 1/(1 - e^{-z})``
    above it (``z > 0``); both keep ``|1 - u|`` to full relative precision."""
    with np.errstate(over="ignore"):
        u_below = 1.0 / (1.0 + np.exp(-z))  # expit(z), each of u and 1 - u from its own formula: no cancellation
        om_below = 1.0 / (1.0 + np.exp(z))
        om_above = 1.0 / np.expm1(np.where(above, z, 1.0))  # u - 1 for u = 1/(1 - e^{-z})
    om = np.where(above, om_above, om_below)
    return np.where(above, 1.0 + om, u_below), om


def mode_trajectories(objective: Objective, depth: int, lam, rho, eps, ts, *, time_scale=1) -> np.ndarray:
    r"""Encoder modes :math:`\bar w(t) = s(t)^L` of balanced aligned deep linear JEPA / MAE from
    :math:`\bar w(0) = \epsilon`, in closed form up to a scalar root find, for many modes and times at once.

    Each mode follows the scalar autonomous separable ODE :math:`\dot s` of :func:`layer_ode` (the paper's
    eqs. (7)/(8) for :math:`\bar w`). With :math:`u = s/s^*` (:math:`s^*` the layer fixed point) it splits as
    :math:`dt = C(\lambda,\rho)\,g(u)\,du` (:func:`hitting_integrand`), so with the antiderivative
    :math:`G` of :func:`hitting_antiderivative` (derived here from the model) and :math:`u_0 = \epsilon^{1/L}/s^*`,

    .. math:: t(u) = C\,\big(G(u) - G(u_0)\big),

    strictly monotone from :math:`u_0` towards 1 (from below when :math:`\epsilon < \bar w^*`, from above when
    :math:`\epsilon > \bar w^*`; :math:`\bar w \equiv \bar w^*` when they are equal). The map is inverted at every
    (mode, time) at once by a vectorised safeguarded Newton iteration in :math:`z = \ln|u/(1-u)|`, where
    :math:`dt/dz = C\,g(u)\,u(1-u) > 0` is bounded and smooth: :math:`t(z)` saturates in the early phase
    (polynomial blow-up-like) and is asymptotically linear in the late phase (exponential relaxation); :math:`u` and
    :math:`1-u` are each computed from :math:`z` by their own formula, so neither loses digits. A table of
    :math:`t` on 48 points of :math:`z` per mode gives each target a bracket and a linear starting guess;
    a Newton step that leaves the bracket is replaced by bisection; once a Newton step is below 1e-10 (1 + |z|),
    one more step is taken (quadratic convergence: the error is then at the rounding level of :math:`t(z)`).
    Near the start, :math:`|u-u_0| \le 0.2\min(u_0, |1-u_0|)`, the difference :math:`G(u) - G(u_0)` cancels
    (at :math:`\epsilon = 10^{-8}`, :math:`L = 1` it kept no correct digit of :math:`t` at :math:`t = 10^{-10}`);
    there :math:`t` is computed in difference form, :math:`C\int_{u_0}^u g` by 12-point Gauss-Legendre quadrature
    (every pole of :math:`g` is at least 5 interval widths away: error far below 1e-16), so the root find sees
    :math:`t` to full relative precision at every time. :math:`t = 0` gives :math:`\epsilon` exactly; times past
    :math:`t(z = 40)` (where :math:`|1 - u| < 10^{-17}`, so :math:`u` rounds to 1) give :math:`\bar w^*`.
    Measured accuracy: relative error of :math:`\bar w` at most 4e-15 against a 40-digit mpmath inversion of the
    same :math:`t(u)` (depths 1, 2, 3, 5, 8; :math:`\epsilon` from 1e-8 to above :math:`\bar w^*`; :math:`t` from
    1e-10 to 3000); against scipy Radau (rtol 1e-12) and diffrax (rtol 1e-9), their own tolerances (tests). In the
    steep rise of deep modes the map :math:`t \mapsto \bar w` itself is ill-conditioned (condition number
    :math:`\kappa = t\dot{\bar w}/\bar w` up to ~3e6 at :math:`L = 8`, :math:`\epsilon = 10^{-3}`): the result is then
    exact for a time within a few ulp of :math:`t` (relative error ~:math:`\kappa\cdot 10^{-16}`; 6e-10 measured
    there), and the iteration stops where the residual reaches the rounding level of :math:`t(z)`.

    Args:
        objective: ``"jepa"`` or ``"mae"``.
        depth: encoder depth :math:`L`, int in ``1..SYMBOLIC_DEPTH`` (the exact symbolic antiderivative).
        lam: :math:`\lambda > 0` per mode (scalar or 1-D array).
        rho: :math:`\rho > 0` per mode (scalar or 1-D array of the same length as ``lam``).
        eps: initial encoder mode :math:`\bar w(0) > 0` (shared by every mode).
        ts: 1-D array of times :math:`\ge 0` (any order).
        time_scale: ``1`` or ``"L"`` (times in units where every time is multiplied by ``L``).

    Returns:
        float64 array ``(n_modes, len(ts))`` of :math:`\bar w`.

    Raises:
        TypeError: an argument of the wrong type (names it).
        ValueError: bad objective, depth outside ``1..SYMBOLIC_DEPTH`` (deeper encoders: integrate the ODE,
            e.g. ``sims.substrate.ode.jepa_mode_trajectories(..., method="ode")``), non-positive or non-finite
            ``lam``/``rho``/``eps``, negative ``ts``, mismatched lengths, or parameters whose time constant,
            fixed point or :math:`G(u_0)` leave the float64 range.
        ArithmeticError: a non-finite result or an iteration that did not converge (names objective, depth and
            the mode and time).
    """
    _check_objective(objective)
    d = _check_depth(depth)
    if d > SYMBOLIC_DEPTH:
        raise ValueError(f"depth must be <= SYMBOLIC_DEPTH = {SYMBOLIC_DEPTH} for the closed form, got {depth!r}; "
                         "integrate the per-mode ODE instead")
    lam_a = V.array("lam", lam, ndim=(0, 1))
    rho_a = V.array("rho", rho, ndim=(0, 1))
    eps_f = V.real("eps", eps, low=0.0, low_open=True)
    t_a = V.array("ts", ts, ndim=1)
    factor = _time_factor(time_scale, d)
    lam_a, rho_a = np.atleast_1d(lam_a), np.atleast_1d(rho_a)
    if lam_a.shape != rho_a.shape:
        raise ValueError(f"lam and rho must have the same length, got {lam_a.size} and {rho_a.size}")
    for name, a in (("lam", lam_a), ("rho", rho_a)):
        if np.any(a <= 0):
            i = int(np.argmax(a <= 0))
            raise ValueError(f"{name} must be > 0 (a mode with {name} <= 0 never grows), got {name}[{i}] = {a[i]!r}")
    if np.any(t_a < 0):
        raise ValueError(f"ts must be >= 0 (times after the start), got {t_a[int(np.argmax(t_a < 0))]!r}")
    f_G, f_h, f_g, f_C, f_s = _trajectory_parts(objective, d)
    with np.errstate(all="ignore"):
        s_star = np.broadcast_to(np.asarray(f_s(rho_a), dtype=float), rho_a.shape)
        Cv = np.broadcast_to(np.asarray(f_C(lam_a, rho_a), dtype=float), rho_a.shape) * factor
        u0 = eps_f ** (1.0 / d) / s_star
        om0 = np.abs(s_star - eps_f ** (1.0 / d)) / s_star
        above = eps_f ** (1.0 / d) > s_star  # from the unrounded comparison (u0 itself may round to 1)
        at = om0 == 0.0
        G0 = f_G(u0, np.where(at, 1.0, om0))
    for name, val, zero_ok in (("rho (fixed point s*)", s_star, False), ("lam, rho (time constant C)", Cv, False),
                               ("eps (G(u0))", G0, True)):
        bad = ~np.isfinite(val) | ((val == 0) & (not zero_ok))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"mode_trajectories: {name} is {val[i]!r} for mode {i} (lam={lam_a[i]!r}, rho={rho_a[i]!r}, "
                             f"eps={eps!r}), outside the float64 range")
    n, T = lam_a.size, t_a.size
    with np.errstate(over="ignore", invalid="ignore"):
        z0 = np.log(u0) - np.log(np.where(at, 1.0, om0))  # z = ln|u/(1-u)| in both regimes

    def t_of(z, idx):
        """t(z) for the (flattened) modes ``idx``: closed form, or Gauss-Legendre near the start."""
        ab = above[idx]
        uu, om = _u_of_z(z, ab)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            Gu = f_G(uu, om)
            out = Cv[idx] * (Gu - G0[idx])
            noise = _ROUNDING * Cv[idx] * (np.abs(Gu) + np.abs(G0[idx]))  # the rounding level of the difference
            near = np.abs(uu - u0[idx]) <= _NEAR * np.minimum(u0[idx], om0[idx])
            if near.any():
                a, b = u0[idx][near], uu[near]
                nodes = a[:, None] + (b - a)[:, None] * _GL_NODES[None, :]
                out[near] = Cv[idx][near] * (b - a) * (f_g(nodes) @ _GL_WEIGHTS)
                noise[near] = _ROUNDING * np.abs(out[near])
        return out, uu, noise

    # per-mode table of t on a z grid (denser near z0: the early phase saturates on the scale 1/(2L-1) in z)
    J = 48
    frac = np.linspace(0.0, 1.0, J) ** 2
    zg = z0[:, None] + (_Z_MAX - z0)[:, None] * frac[None, :]
    zg[:, 0] = z0
    mode_idx = np.repeat(np.arange(n), J)
    tg = t_of(zg.ravel(), mode_idx)[0]
    tg = tg.reshape(n, J)
    tg[:, 0] = 0.0
    tg[at] = 0.0  # a mode started at its fixed point stays there: its table is not used
    if not np.all(np.isfinite(tg)):
        i = int(np.argmax(~np.all(np.isfinite(tg), axis=1)))
        raise ArithmeticError(f"mode_trajectories: non-finite t(u) table for {objective}, L={d}, mode {i} "
                              f"(lam={lam_a[i]!r}, rho={rho_a[i]!r}, eps={eps!r})")
    tg = np.maximum.accumulate(tg, axis=1)  # t is increasing in z; rounding near z0 cannot reorder the bracket
    target = np.broadcast_to(t_a[None, :], (n, T))
    k = np.empty((n, T), dtype=np.int64)  # bracket [zg[k], zg[k+1]]; modes in chunks: memory (chunk, T, J) <= 16 MB
    step = max(1, (1 << 24) // max(1, T * J))
    for a in range(0, n, step):
        k[a:a + step] = (tg[a:a + step, None, :] <= target[a:a + step, :, None]).sum(axis=2) - 1
    u = np.broadcast_to(u0[:, None], (n, T)).copy()
    past = (k >= J - 1) | at[:, None]
    active = ~past & (target > 0)
    ii, tt = np.nonzero(active)
    kk = k[ii, tt]
    lo, hi = zg[ii, kk], zg[ii, kk + 1]
    t_lo, t_hi = tg[ii, kk], tg[ii, kk + 1]
    tgt = target[ii, tt]
    with np.errstate(divide="ignore", invalid="ignore"):
        zc = lo + (hi - lo) * np.clip((tgt - t_lo) / (t_hi - t_lo), 0.0, 1.0)
    zc = np.where(np.isfinite(zc), zc, 0.5 * (lo + hi))
    todo = np.arange(ii.size)
    uc = np.empty(ii.size)
    last = np.zeros(ii.size, dtype=bool)
    for _ in range(200):
        if todo.size == 0:
            break
        m = ii[todo]
        zt = zc[todo]
        tval, uu, noise = t_of(zt, m)
        F = tval - tgt[todo]
        dF = Cv[m] * f_h(uu)
        lo[todo] = np.where(F < 0, zt, lo[todo])
        hi[todo] = np.where(F > 0, zt, hi[todo])
        with np.errstate(divide="ignore", invalid="ignore"):
            zn = zt - F / dF
        bad = ~np.isfinite(zn) | (zn < lo[todo]) | (zn > hi[todo])
        # outside the bracket: bisect, except on the final step (a step below the rounding of z keeps z)
        zn = np.where(bad, np.where(last[todo], zt, 0.5 * (lo[todo] + hi[todo])), zn)
        # a Newton step below 1e-10 (1 + |z|) leaves an error ~1e-18 after one more step (quadratic convergence): take that
        # step and stop, so that no tolerance has to sit at the rounding level of F
        small = ~bad & (np.abs(zn - zt) <= 1e-10 * (1.0 + np.abs(zt)))  # a Newton step, not a bisection
        # or stop where the residual is at the rounding level of t(z) (steps there are noise: the ill-conditioned rise
        # of deep modes, where t is the difference of two large G values)
        done = last[todo] | (np.abs(F) <= noise) | (hi[todo] - lo[todo] <= 4e-16 * (1.0 + np.abs(zt)))
        last[todo] = small
        zc[todo] = zn
        keep = ~done
        fin = todo[done]
        uc[fin] = _u_of_z(zc[fin], above[ii[fin]])[0]
        todo = todo[keep]
    if todo.size:
        j = todo[0]
        raise ArithmeticError(f"mode_trajectories: the root find did not converge for {objective}, L={d}, mode {ii[j]} "
                              f"(lam={lam_a[ii[j]]!r}, rho={rho_a[ii[j]]!r}), t={tgt[j]!r}")
    u[ii, tt] = uc
    u[past] = 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        w = (s_star[:, None] * u) ** d
    w[:, t_a == 0] = eps_f
    if not np.all(np.isfinite(w)):
        i, j = (int(x) for x in np.argwhere(~np.isfinite(w))[0])
        raise ArithmeticError(f"mode_trajectories: non-finite mode for {objective}, L={d}, mode {i} (lam={lam_a[i]!r}, "
                              f"rho={rho_a[i]!r}, eps={eps!r}) at t={t_a[j]!r}")
    return w
