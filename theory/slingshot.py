r"""The Slingshot mechanism: Adam's update regimes, norm growth on separable data, float32 softmax collapse.

**Paper.** Thilak, Littwin, Zhai, Saremi, Paiss, Susskind, "The Slingshot Mechanism: An Empirical Study of
Adaptive Optimizers and the Grokking Phenomenon", arXiv:2206.04817 (2022). The paper is *empirical* and has
no theorem. Its statements, from the abstract and the Figure 1 caption: late in training, adaptive optimizers
(Adam and relatives) show "cyclic phase transitions between stable and unstable training regimes", visible in
"the cyclic behavior of the norm of the last layers weights"; one slingshot is "a period of rapid growth of
the last layer weights, an ensuing training loss spike, and a norm plateau"; and without explicit
regularization "Grokking ... almost exclusively happens at the onset of Slingshots".

**What is where.** Nothing below is quoted from the paper beyond those statements. Each part says whether
it is *derived here* (from the model, checked by :mod:`proofs.slingshot` and the tests) or taken from
*later work*:

* Adam's regimes (:func:`adam_steady_step`, :func:`adam_updates`, :func:`adam_regime`): derived here from
  the Adam update of Kingma & Ba (2015). For a steady gradient the bias-corrected moments are exact,
  :math:`\hat m_t = g`, :math:`\hat v_t = g^2`, so the step is :math:`-\eta g/(|g|+\varepsilon)`: sign
  descent for :math:`|g|\gg\varepsilon`, gradient descent with rate :math:`\eta/\varepsilon` for
  :math:`|g|\ll\varepsilon`.
* Norm growth on the separable logistic toy (:func:`logistic_toy`, :func:`toy_margin`,
  :func:`toy_time_to_margin`, :func:`sign_regime_end`, :func:`adam_tail_rate`): derived here. Gradient
  descent's logarithmic growth is the one-point case of Soudry, Hoffer, Nacson, Gunasekar & Srebro (2018);
  the linear growth of Adam in the sign regime, the loss level at which it ends and the :math:`\beta_2` cap
  on the growth rate are derived here, not quoted.
* The float32 trigger (:func:`softmax_cross_entropy`, :func:`collapse_gap`, :func:`collapse_gap_estimate`):
  the mechanism ("Softmax Collapse": floating-point absorption zeroes the correct-class gradient) is from
  later work, Prieto, Barsbey, Mediano & Birdal (2025), "Grokking at the Edge of Numerical Stability"
  (ICLR 2025); the non-zero gradient sum that follows (the classifier drifts) is from "Grokking or
  Glitching? How Low-Precision Drives Slingshot Loss Spikes" (2026). The gap :math:`\Delta^*` is found here
  by scanning this module's own loss implementation; the estimate from the float resolution near 1 is
  derived here.
* StableMax and ⊥Grad (:func:`stablemax`, :func:`stablemax_cross_entropy`, :func:`ortho_grad`): the two
  remedies of Prieto et al. (2025), written here as numpy references.
* The slingshot detector (:func:`detect_slingshots`): the paper gives no formula; the operational definition
  (norm-growth onset, loss spike > 100x the running minimum above a floor, norm plateau, cycles with merging,
  grokking at onset) is this package's, chosen to match the paper's verbal description.
* The data (:func:`modular_equations`, :func:`train_rows`, :func:`batch_size`, :func:`learning_rate`): the
  equations, split rule, batch-size rule and warm-up of Power, Burda, Edwards, Babuschkin & Misra (2022),
  "Grokking: Generalization Beyond Overfitting on Small Algorithmic Datasets", as in their released code
  (openai/grok). Which of these settings the Slingshot paper used is not stated in what was read.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections import deque
from typing import Literal

import numpy as np
import scipy.optimize
import scipy.special
import sympy as sp

from ._validate import array, integer, one_of, real

__all__ = [
    # Adam regimes
    "adam_steady_step",
    "adam_updates",
    "adam_regime",
    "adam_step_expressions",
    "AdamStepExpressions",
    # separable logistic toy
    "logistic_toy",
    "LogisticToy",
    "toy_margin",
    "toy_time_to_margin",
    "sign_regime_end",
    "SignRegimeEnd",
    "adam_tail_rate",
    "adam_tail_expressions",
    "AdamTailExpressions",
    # finite precision, remedies
    "FLOAT_DTYPES",
    "absorption_threshold",
    "softmax_cross_entropy",
    "correct_class_collapsed",
    "collapse_gap",
    "CollapseScan",
    "collapse_gap_estimate",
    "stablemax_s",
    "stablemax",
    "stablemax_cross_entropy",
    "stablemax_s_expression",
    "softmax_cross_entropy_expression",
    "collapse_gap_expression",
    "ortho_grad",
    "ortho_grad_expression",
    # detector
    "detect_slingshots",
    "SlingshotEvents",
    "Onset",
    "Spike",
    "Plateau",
    "Cycle",
    # Power et al. data
    "OPERATIONS",
    "MODULUS",
    "modular_equations",
    "n_equations",
    "train_rows",
    "split_equations",
    "batch_size",
    "learning_rate",
    "POWER_DEFAULTS",
]

_MAX_ENTRIES = 50_000_000  # bound on arrays built from user arguments (float64: 400 MB)

# =============================================================================================
# Adam's update regimes


def _adam_hyper(lr, b1, b2, eps):
    return (real("lr", lr, low=0.0, low_open=True), real("b1", b1, low=0.0, high=1.0, high_open=True),
            real("b2", b2, low=0.0, high=1.0, high_open=True), real("eps", eps, low=0.0))


def adam_steady_step(g, lr: float = 1e-3, eps: float = 1e-8) -> np.ndarray:
    r"""Adam's per-coordinate parameter change for a gradient held fixed at ``g``.

    With a constant gradient the bias-corrected moments are exact at every step,
    :math:`\hat m_t = g` and :math:`\hat v_t = g^2` (because :math:`m_t=(1-\beta_1^t)g` and
    :math:`v_t=(1-\beta_2^t)g^2`), so the update is, independently of :math:`\beta_1,\beta_2` and of t,

    .. math:: \Delta\theta = -\eta\,\frac{g}{|g|+\varepsilon}.

    For :math:`|g|\gg\varepsilon` this is :math:`-\eta\,\mathrm{sign}(g)` (sign descent: a step of size
    :math:`\eta` however small the gradient); for :math:`|g|\ll\varepsilon` it is :math:`-(\eta/\varepsilon)g`
    (gradient descent with learning rate :math:`\eta/\varepsilon`). Derived here from Adam's update
    (Kingma & Ba 2015); proved in :mod:`proofs.slingshot` (``slingshot.adam_steady_step``).

    Args:
        g: gradient, scalar or array of any shape (finite reals).
        lr: learning rate :math:`\eta > 0`.
        eps: Adam's :math:`\varepsilon \ge 0` (added to :math:`\sqrt{\hat v}`, as in optax and PyTorch).

    Returns:
        float64 array of the shape of ``g``; at ``g = 0`` with ``eps = 0`` the step is 0 (the limit along
        the axis is undefined; the convention sign(0) = 0 is used).

    Raises:
        TypeError, ValueError: bad types or values (non-finite ``g``, ``lr <= 0``, ``eps < 0``).
    """
    g = array("g", g, ndim=None)
    lr = real("lr", lr, low=0.0, low_open=True)
    eps = real("eps", eps, low=0.0)
    den = np.abs(g) + eps
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        # g / (|g| + eps) lies in [-1, 1]: form it first, then scale by lr (lr * g alone can overflow)
        out = np.where(den > 0, -lr * (g / np.where(den > 0, den, 1.0)), 0.0)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"lr={lr!r} times the unit-bounded step overflows float64 (lr too large)")
    return out


def adam_updates(grads, lr=1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
                 eps_root: float = 0.0) -> np.ndarray:
    r"""Exact bias-corrected Adam updates for a given sequence of gradients (float64).

    For t = 1..T, with :math:`m_0=v_0=0`,

    .. math::
        m_t=\beta_1 m_{t-1}+(1-\beta_1)g_t,\quad v_t=\beta_2 v_{t-1}+(1-\beta_2)g_t^2,\quad
        \Delta\theta_t=-\eta_t\,\frac{m_t/(1-\beta_1^t)}{\sqrt{v_t/(1-\beta_2^t)+\varepsilon_{root}}+\varepsilon},

    per coordinate (Kingma & Ba 2015; the convention of optax's ``adam`` and PyTorch's ``Adam``). The
    gradients are *given*, not recomputed from parameters, so this isolates the optimizer's transfer
    function: a steady gradient gives :func:`adam_steady_step` from the first step on; a gradient that
    decays geometrically gives the lagged step of :func:`adam_tail_rate`.

    Args:
        grads: array of shape (T,) or (T, d): the gradient at each step.
        lr: learning rate, a positive float or an array of shape (T,) (a schedule).
        b1, b2: decay rates in [0, 1).
        eps: added to :math:`\sqrt{\hat v}`; eps_root: added to :math:`\hat v` inside the root (both >= 0).

    Returns:
        float64 array of the shape of ``grads``: the parameter change at each step (already multiplied by
        :math:`-\eta_t`). Where the denominator is exactly 0 (zero gradient history with eps = eps_root = 0)
        the update is 0.

    Raises:
        TypeError, ValueError: bad arguments; more than 5e7 entries.
    """
    g = array("grads", grads, ndim=(1, 2), min_size=1)
    if g.size > _MAX_ENTRIES:
        raise ValueError(f"grads must have at most {_MAX_ENTRIES} entries, got {g.size}")
    T = g.shape[0]
    if T > 10**6:
        raise ValueError(f"grads must have at most 10**6 steps (rows), got {T}")
    if np.ndim(lr) == 0:
        lr_t = np.full(T, real("lr", lr, low=0.0, low_open=True))
    else:
        lr_t = array("lr", lr, shape=(T,))
        if np.any(lr_t < 0):
            raise ValueError(f"lr must be >= 0 at every step, got min {lr_t.min()!r}")
    b1 = real("b1", b1, low=0.0, high=1.0, high_open=True)
    b2 = real("b2", b2, low=0.0, high=1.0, high_open=True)
    eps = real("eps", eps, low=0.0)
    eps_root = real("eps_root", eps_root, low=0.0)
    # Adam's update is invariant to g -> g/c with eps -> eps/c, eps_root -> eps_root/c^2: work with the gradients
    # scaled to max |g| = 1, so g^2 neither overflows nor underflows
    c = float(np.max(np.abs(g)))
    c = c if c > 0 else 1.0
    g2 = g.reshape(T, -1) / c
    eps_c, root_c = eps / c, (eps_root / c) / c
    m = np.zeros(g2.shape[1])
    v = np.zeros(g2.shape[1])
    out = np.empty_like(g2)
    for t in range(T):
        m = b1 * m + (1 - b1) * g2[t]
        v = b2 * v + (1 - b2) * g2[t] ** 2
        mh = m / (1 - b1 ** (t + 1))
        vh = v / (1 - b2 ** (t + 1))
        den = np.sqrt(vh + root_c) + eps_c
        out[t] = np.where(den > 0, -lr_t[t] * mh / np.where(den > 0, den, 1.0), 0.0)
    return out.reshape(g.shape)


def adam_regime(g, eps: float = 1e-8, *, width: float = 10.0) -> np.ndarray:
    r"""Which of Adam's two regimes a steady gradient ``g`` is in, per coordinate.

    The steady step is :math:`\eta\,\rho` with :math:`\rho=|g|/(|g|+\varepsilon)` the fraction of the sign
    step (:func:`adam_steady_step`). The regime boundary is :math:`|g|=\varepsilon` (:math:`\rho=1/2`).
    Derived here.

    Args:
        g: gradient (scalar or array).
        eps: Adam's :math:`\varepsilon > 0`.
        width: factor defining the two regimes: ``"sign"`` where :math:`|g|\ge w\varepsilon`
            (:math:`\rho\ge w/(w+1)`), ``"gd"`` where :math:`|g|\le\varepsilon/w` (:math:`\rho\le 1/(w+1)`),
            ``"boundary"`` in between. Must be >= 1.

    Returns:
        numpy array of strings (``"sign"``, ``"boundary"``, ``"gd"``) of the shape of ``g``.

    Raises:
        TypeError, ValueError: bad arguments (``eps <= 0``, ``width < 1``).
    """
    g = np.abs(array("g", g, ndim=None))
    eps = real("eps", eps, low=0.0, low_open=True)
    width = real("width", width, low=1.0)
    out = np.full(g.shape, "boundary", dtype="<U8")
    out[g >= width * eps] = "sign"
    out[g <= eps / width] = "gd"
    return out


@dataclasses.dataclass(frozen=True)
class AdamStepExpressions:
    r"""Symbolic Adam for a steady gradient (used by :mod:`proofs.slingshot`).

    Attributes:
        g, eta, eps, beta1, beta2, t: the symbols (g > 0; the step for g < 0 is the mirror image).
        m_t, v_t: closed forms :math:`(1-\beta_1^t)g`, :math:`(1-\beta_2^t)g^2` of the moment recursions.
        m_hat, v_hat: the bias-corrected moments (:math:`m_t/(1-\beta_1^t)`, :math:`v_t/(1-\beta_2^t)`).
        step: the update :math:`-\eta\,\hat m/(\sqrt{\hat v}+\varepsilon)` built from ``m_hat``, ``v_hat``.
        steady: the simplified form :math:`-\eta g/(g+\varepsilon)`.
    """

    g: sp.Symbol
    eta: sp.Symbol
    eps: sp.Symbol
    beta1: sp.Symbol
    beta2: sp.Symbol
    t: sp.Symbol
    m_t: sp.Expr
    v_t: sp.Expr
    m_hat: sp.Expr
    v_hat: sp.Expr
    step: sp.Expr
    steady: sp.Expr


@functools.lru_cache(maxsize=1)
def adam_step_expressions() -> AdamStepExpressions:
    r"""The symbolic steady-gradient Adam step (see :class:`AdamStepExpressions`). Derived here."""
    g, eta, eps, b1, b2 = sp.symbols("g eta epsilon beta_1 beta_2", positive=True)
    t = sp.Symbol("t", positive=True, integer=True)
    m_t = (1 - b1**t) * g
    v_t = (1 - b2**t) * g**2
    m_hat = sp.Mul(m_t, sp.Pow(1 - b1**t, -1, evaluate=False), evaluate=False)  # kept unevaluated: shown as built
    v_hat = sp.Mul(v_t, sp.Pow(1 - b2**t, -1, evaluate=False), evaluate=False)
    step = -eta * m_hat / (sp.sqrt(v_hat) + eps)
    return AdamStepExpressions(g, eta, eps, b1, b2, t, m_t, v_t, m_hat, v_hat, step, -eta * g / (g + eps))


# =============================================================================================
# the separable logistic toy


@dataclasses.dataclass(frozen=True)
class LogisticToy:
    r"""Symbolic flows of the separable logistic toy (derived here; used by :mod:`proofs.slingshot`).

    One training point with feature :math:`x>0` and label +1, weight :math:`w`, margin :math:`z=xw`,
    loss :math:`L(z)=\log(1+e^{-z})`, gradient :math:`\partial L/\partial w=-x/(1+e^z)`. In continuous time:

    * gradient descent :math:`\dot w=-\eta\,\partial_w L`: :math:`\dot z = x^2\eta/(1+e^z)`, whose invariant
      :math:`F_{GD}(z)=z+e^z` grows at the constant rate :math:`x^2\eta`; so
      :math:`e^{z}\approx x^2\eta t` and the norm :math:`|w|=z/x` grows like :math:`\log t`
      (the one-point case of Soudry et al. 2018);
    * Adam with instantly tracked moments (:math:`\beta_1=\beta_2=0`, or a gradient that varies slowly on the
      moments' time scale): :math:`\dot w = \eta|g|/(|g|+\varepsilon)`, :math:`\dot z = x\eta|g|/(|g|+\varepsilon)`
      with :math:`|g|=x/(1+e^z)`. Its invariant :math:`F_{A}(z)=(1+\varepsilon/x)z+(\varepsilon/x)e^z` grows at
      rate :math:`x\eta`: for :math:`\varepsilon\to0` the margin (and the norm) grows *linearly*,
      :math:`z=z_0+x\eta t`, and the loss falls exponentially; once :math:`(\varepsilon/x)e^z` dominates the
      flow is gradient descent with rate :math:`\eta/\varepsilon` (logarithmic again).
    * the sign regime ends where :math:`|g|=\varepsilon`: margin :math:`z^*=\log(x/\varepsilon-1)`, loss
      :math:`L^*=\log(x/(x-\varepsilon))=\varepsilon/x+O(\varepsilon^2)`: a larger :math:`\varepsilon` ends
      the rapid growth at a larger loss.

    Attributes:
        z, z0, t, eta, eps, x: symbols (all positive).
        loss: :math:`L(z)`; grad_w: :math:`\partial L/\partial w` at :math:`z`.
        gd_rhs, adam_rhs: :math:`\dot z` under each flow.
        gd_invariant, adam_invariant: :math:`F_{GD}(z)`, :math:`F_A(z)`.
        gd_rate, adam_rate: their constant growth rates :math:`x^2\eta`, :math:`x\eta`.
        gd_time, adam_time: time to reach margin z from z0.
        regime_end_margin, regime_end_loss: :math:`z^*` and :math:`L^*`.
    """

    z: sp.Symbol
    z0: sp.Symbol
    t: sp.Symbol
    eta: sp.Symbol
    eps: sp.Symbol
    x: sp.Symbol
    loss: sp.Expr
    grad_w: sp.Expr
    gd_rhs: sp.Expr
    adam_rhs: sp.Expr
    gd_invariant: sp.Expr
    adam_invariant: sp.Expr
    gd_rate: sp.Expr
    adam_rate: sp.Expr
    gd_time: sp.Expr
    adam_time: sp.Expr
    regime_end_margin: sp.Expr
    regime_end_loss: sp.Expr


@functools.lru_cache(maxsize=1)
def logistic_toy() -> LogisticToy:
    """The symbolic logistic toy (see :class:`LogisticToy`): loss, flows, invariants, regime end. Derived here."""
    z, z0, t, eta, eps, x = sp.symbols("z z_0 t eta epsilon x", positive=True)
    loss = sp.log(1 + sp.exp(-z))
    grad_w = -x / (1 + sp.exp(z))
    gabs = -grad_w
    gd_rhs = x * eta * gabs
    adam_rhs = x * eta * gabs / (gabs + eps)
    f_gd = z + sp.exp(z)
    f_a = (1 + eps / x) * z + (eps / x) * sp.exp(z)
    gd_rate, adam_rate = x**2 * eta, x * eta
    zs = sp.log(x / eps - 1)
    return LogisticToy(
        z, z0, t, eta, eps, x, loss, grad_w, gd_rhs, adam_rhs, f_gd, f_a, gd_rate, adam_rate,
        (f_gd - f_gd.subs(z, z0)) / gd_rate, (f_a - f_a.subs(z, z0)) / adam_rate,
        zs, sp.log(x / (x - eps)),
    )


def _toy_args(lr, x, eps, z0, optimizer):
    optimizer = one_of("optimizer", optimizer, ("gd", "adam"))
    lr = real("lr", lr, low=0.0, low_open=True)
    x = real("x", x, low=0.0, low_open=True)
    eps = real("eps", eps, low=0.0)
    z0 = real("z0", z0, low=-700.0, high=700.0)
    return optimizer, lr, x, eps, z0


def toy_margin(t, *, optimizer: Literal["gd", "adam"] = "adam", lr: float = 1e-3, eps: float = 1e-8,
               x: float = 1.0, z0: float = 0.0) -> np.ndarray:
    r"""The margin :math:`z(t)=x\,w(t)` of the logistic toy under gradient flow or quasi-static Adam flow.

    Closed forms of the flows of :class:`LogisticToy` (derived here), both of the shape
    :math:`a z+b e^z=K(t)` with :math:`K` linear in t, solved with the Wright omega function
    :math:`\omega(y)=W(e^y)` (:math:`W` the Lambert function) as :math:`z=\log(a/b)+\log\omega(\log(b/a)+K/a)`,
    which is stable at both ends:

    * ``"gd"``: :math:`a=b=1`, :math:`K=z_0+e^{z_0}+x^2\eta t`; :math:`z(t)=\log\omega(K)\sim\log(x^2\eta t)`.
    * ``"adam"``: :math:`a=1+\varepsilon/x`, :math:`b=\varepsilon/x`, :math:`K=a z_0+b e^{z_0}+x\eta t`; with
      ``eps = 0`` exactly :math:`z=z_0+x\eta t`.

    Args:
        t: time (number of steps in the continuous-time limit), scalar or array, >= 0.
        optimizer: ``"gd"`` or ``"adam"``.
        lr: :math:`\eta>0`; eps: Adam's :math:`\varepsilon\ge0` (ignored for ``"gd"``); x: feature :math:`x>0`;
        z0: initial margin (|z0| <= 700).

    Returns:
        float64 array of the shape of ``t``.

    Raises:
        TypeError, ValueError: bad arguments (negative times, ``lr <= 0``, ``x <= 0``).
    """
    t = array("t", t, ndim=None)
    if np.any(t < 0):
        raise ValueError(f"t must be >= 0, got min {t.min()!r}")
    optimizer, lr, x, eps, z0 = _toy_args(lr, x, eps, z0, optimizer)
    if optimizer == "gd":
        a = b = 1.0
        k = z0 + math.exp(z0) + x * x * lr * t
    else:
        a, b = 1 + eps / x, eps / x
        k = a * z0 + b * math.exp(z0) + x * lr * t
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if optimizer == "adam" and eps == 0.0:
            out = z0 + x * lr * t
        else:
            y = math.log(b / a) + k / a if b > 0 else math.inf
            out = math.log(a / b) + np.log(scipy.special.wrightomega(y).real) if b > 0 else np.full_like(t, math.inf)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"the margin overflows float64 for x={x!r}, lr={lr!r}, eps={eps!r}, z0={z0!r} "
                         f"(x * lr * t or x**2 * lr * t too large)")
    return out


def toy_time_to_margin(z, *, optimizer: Literal["gd", "adam"] = "adam", lr: float = 1e-3, eps: float = 1e-8,
                       x: float = 1.0, z0: float = 0.0) -> np.ndarray:
    r"""Time for the logistic toy's margin to grow from ``z0`` to ``z`` (the inverse of :func:`toy_margin`).

    :math:`t(z)=(F(z)-F(z_0))/\text{rate}` with the invariants of :class:`LogisticToy`:
    ``"gd"``: :math:`(z+e^z-z_0-e^{z_0})/(x^2\eta)`; ``"adam"``:
    :math:`[(1+\varepsilon/x)(z-z_0)+(\varepsilon/x)(e^z-e^{z_0})]/(x\eta)`. Derived here.

    Args:
        z: target margin(s) >= z0 (and <= 700 unless ``optimizer="adam"`` with ``eps = 0``: e^z would
            overflow); other args as in :func:`toy_margin`.

    Returns:
        float64 array of the shape of ``z``.

    Raises:
        TypeError, ValueError: bad arguments (``z < z0``, or ``z > 700`` where e^z enters).
    """
    z = array("z", z, ndim=None)
    optimizer, lr, x, eps, z0 = _toy_args(lr, x, eps, z0, optimizer)
    linear = optimizer == "adam" and eps == 0.0
    if np.any(z < z0) or (not linear and np.any(z > 700)):
        top = "inf" if linear else "700"
        raise ValueError(f"z must lie in [z0, {top}] = [{z0}, {top}] (e^z overflows beyond 700), "
                         f"got range [{z.min()!r}, {z.max()!r}]")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if linear:
            out = (z - z0) / (x * lr)
        elif optimizer == "gd":
            out = (z - z0 + np.exp(z) - math.exp(z0)) / (x * x * lr)
        else:
            out = ((1 + eps / x) * (z - z0) + (eps / x) * (np.exp(z) - math.exp(z0))) / (x * lr)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"the time overflows float64 for x={x!r}, lr={lr!r}, eps={eps!r}, z0={z0!r} "
                         f"(eps / x or 1 / (x * lr) too large)")
    return out


@dataclasses.dataclass(frozen=True)
class SignRegimeEnd:
    r"""Where Adam's sign regime ends on the logistic toy (see :func:`sign_regime_end`).

    Attributes:
        grad: gradient magnitude at the end, :math:`|g^*|`.
        margin: the margin :math:`z^*`; loss: the loss :math:`L^*`.
        step: the steady per-step parameter change in the sign regime (``adam_tail_rate``; ``lr`` when
            the moments are instantaneous).
        time: steps to reach :math:`z^*` from ``z0``: the quasi-static flow of :class:`LogisticToy` with the
            lagged step, :math:`\dot w=s|g|/(|g|+|g^*|)` (exact for ``b1 = b2 = 0``; None if ``z0 >= z*``).
    """

    grad: float
    margin: float
    loss: float
    step: float
    time: float | None


def sign_regime_end(eps: float, *, x: float = 1.0, lr: float = 1e-3, b1: float = 0.0, b2: float = 0.0,
                    z0: float = 0.0) -> SignRegimeEnd:
    r"""The gradient, margin and loss at which Adam's sign regime ends on the logistic toy. Derived here.

    The sign regime ends where :math:`\sqrt{\hat v}` reaches :math:`\varepsilon`. With instantaneous moments
    (``b1 = b2 = 0``, the default) that is :math:`|g^*|=\varepsilon`: :math:`z^*=\log(x/\varepsilon-1)`,
    :math:`L^*=\log(x/(x-\varepsilon))\approx\varepsilon/x`. With moment averaging, in the steady sign
    regime the gradient decays geometrically and :math:`\sqrt{\hat v}=c_v|g|` with
    :math:`c_v=\sqrt{(1-\beta_2)/(1-\beta_2e^{2xs})}` (see :func:`adam_tail_rate`), so
    :math:`|g^*|=\varepsilon/c_v` (the end comes at a smaller gradient, hence a smaller loss).
    :math:`L^*=-\log(1-|g^*|/x)`, :math:`z^*=\log(x/|g^*|-1)`. In the lagged state the step is
    :math:`\eta c_m|g|/(c_v|g|+\varepsilon)=s\,|g|/(|g|+|g^*|)`: the quasi-static flow with rate s and
    :math:`\varepsilon` replaced by :math:`|g^*|`, which gives the time to the end.

    Args:
        eps: Adam's :math:`\varepsilon`, ``1e-300 <= eps < x`` (for eps >= x the toy never enters the sign
            regime).
        x: feature :math:`x>0`; lr: :math:`\eta`; b1, b2: Adam's decay rates in [0, 1); z0: initial margin.

    Returns:
        :class:`SignRegimeEnd`.

    Raises:
        TypeError, ValueError: bad arguments; ``eps >= x``.
    """
    eps = real("eps", eps, low=1e-300)
    x = real("x", x, low=0.0, low_open=True)
    lr, b1, b2, _ = _adam_hyper(lr, b1, b2, 0.0)
    z0 = real("z0", z0, low=-700.0, high=700.0)
    if eps >= x:
        raise ValueError(f"eps must be < x (the gradient magnitude is below x), got eps={eps!r}, x={x!r}")
    s = adam_tail_rate(lr, b1=b1, b2=b2, x=x)
    cv = math.sqrt((1 - b2) / (1 - b2 * math.exp(2 * x * s))) if b2 > 0 else 1.0
    gs = eps / cv
    if not math.isfinite(x / gs):
        raise ValueError(f"x / eps overflows float64 (x={x!r}, eps={eps!r}): the end margin log(x/eps - 1) is not finite")
    zs = math.log(x / gs - 1)
    loss = -math.log1p(-gs / x)
    t_end = float(toy_time_to_margin(zs, optimizer="adam", lr=s, eps=gs, x=x, z0=z0)) if zs > z0 else None
    return SignRegimeEnd(gs, zs, loss, s, t_end)


def adam_tail_rate(lr: float = 1e-3, *, b1: float = 0.9, b2: float = 0.999, x: float = 1.0) -> float:
    r"""Adam's steady per-step parameter change on an exponential loss tail (sign regime). Derived here.

    On the tail :math:`|g(w)|\propto e^{-xw}` a steady step s per iteration makes the gradient decay
    geometrically, :math:`g_{t-k}=g_t e^{xsk}`; the moments then lag it by constant factors,

    .. math::
        \hat m_t\to c_m g_t,\ c_m=\frac{1-\beta_1}{1-\beta_1e^{xs}},\qquad
        \sqrt{\hat v_t}\to c_v|g_t|,\ c_v=\sqrt{\frac{1-\beta_2}{1-\beta_2e^{2xs}}},

    (for :math:`|g|\gg\varepsilon`, late enough that the bias corrections are 1), and self-consistency
    :math:`s=\eta c_m(s)/c_v(s)` fixes s. For :math:`\eta\ll(1-\beta_2)/(2x)` it is :math:`s\approx\eta`
    (the sign step); for larger :math:`\eta` the second moment, dominated by older, larger gradients, caps
    it below :math:`-\log\beta_2/(2x)`. The margin then grows by :math:`xs` per step (linear norm growth)
    and the loss falls by the factor :math:`e^{-xs}` per step.

    Args:
        lr: :math:`\eta\ge10^{-300}`; b1, b2: decay rates in [0, 1); x: the tail's exponent :math:`x>0` (the
            feature norm of the toy). ``b1 = b2 = 0`` gives exactly ``lr``.

    Returns:
        the step s (float, 0 < s <= lr * c_m).

    Raises:
        TypeError, ValueError: bad arguments.
    """
    lr, b1, b2, _ = _adam_hyper(lr, b1, b2, 0.0)
    lr = real("lr", lr, low=1e-300)
    x = real("x", x, low=0.0, low_open=True)
    if b2 == 0.0 and b1 == 0.0:
        return lr
    s_max = -math.log(b2) / (2 * x) if b2 > 0 else math.inf
    if b1 > 0:
        s_max = min(s_max, -math.log(b1) / x)

    def f(s: float) -> float:
        cm = (1 - b1) / (1 - b1 * math.exp(x * s))
        cv = math.sqrt((1 - b2) / (1 - b2 * math.exp(2 * x * s))) if b2 > 0 else 1.0
        return lr * cm / cv - s

    hi = s_max * (1 - 1e-12) if math.isfinite(s_max) else 10 * lr + 1.0
    if hi < 1e-290:
        raise ValueError(f"the step cap -log(b)/x = {hi!r} underflows float64 for x={x!r} (x too large for b1={b1!r}, "
                         f"b2={b2!r})")
    # the smallest root: f(0) = lr > 0; scan a geometric grid for the first sign change (with b2 = 0 and b1 > 0,
    # f turns positive again near the b1 cap, so a bracket on [0, hi] alone could miss the root)
    grid = np.geomspace(max(min(lr, hi) * 1e-9, 1e-300), hi, 2000)
    fv = np.array([f(s) for s in grid])
    neg = np.flatnonzero(fv <= 0)
    if neg.size == 0:  # the step reaches the cap
        return hi
    j = int(neg[0])
    if fv[j] == 0:
        return float(grid[j])
    lo = float(grid[j - 1]) if j > 0 else 0.0
    return float(scipy.optimize.brentq(f, lo, float(grid[j]), xtol=max(1e-15 * lr, 1e-300), rtol=1e-13))


@dataclasses.dataclass(frozen=True)
class AdamTailExpressions:
    r"""Symbolic stationary moments of Adam on a geometrically decaying gradient (see :func:`adam_tail_rate`).

    Attributes:
        s, x, eta, beta1, beta2: symbols (step per iteration, tail exponent, learning rate, decay rates).
        c_m, c_v: :math:`(1-\beta_1)/(1-\beta_1e^{xs})` and :math:`\sqrt{(1-\beta_2)/(1-\beta_2e^{2xs})}`.
        step: :math:`\eta c_m/c_v` (the self-consistent step solves ``step = s``).
    """

    s: sp.Symbol
    x: sp.Symbol
    eta: sp.Symbol
    beta1: sp.Symbol
    beta2: sp.Symbol
    c_m: sp.Expr
    c_v: sp.Expr
    step: sp.Expr


@functools.lru_cache(maxsize=1)
def adam_tail_expressions() -> AdamTailExpressions:
    """The symbolic lag factors of :func:`adam_tail_rate` (see :class:`AdamTailExpressions`). Derived here."""
    s, x, eta = sp.symbols("s x eta", positive=True)
    b1, b2 = sp.symbols("beta_1 beta_2", positive=True)
    c_m = (1 - b1) / (1 - b1 * sp.exp(x * s))
    c_v = sp.sqrt((1 - b2) / (1 - b2 * sp.exp(2 * x * s)))
    return AdamTailExpressions(s, x, eta, b1, b2, c_m, c_v, eta * c_m / c_v)


# =============================================================================================
# finite precision: softmax collapse, StableMax, orthogonal gradient

FLOAT_DTYPES = ("float16", "float32", "float64")


def absorption_threshold(dtype: str = "float32") -> float:
    r"""The largest :math:`\delta` for which :math:`1+\delta` rounds to exactly 1 in ``dtype``.

    Round-to-nearest-even: half a unit in the last place of 1, :math:`2^{-p}` with p the significand
    precision in bits excluding the implicit bit plus one (float16: :math:`2^{-11}`, float32:
    :math:`2^{-24}\approx5.96\cdot10^{-8}`, float64: :math:`2^{-53}`); the tie rounds to 1 (even).

    Args:
        dtype: ``"float16"``, ``"float32"`` or ``"float64"``.

    Returns:
        the threshold as a float.

    Raises:
        ValueError: unknown dtype.
    """
    dtype = one_of("dtype", dtype, FLOAT_DTYPES)
    return float(np.finfo(dtype).eps) / 2


def _logits_labels(logits, labels, dtype):
    dtype = one_of("dtype", dtype, FLOAT_DTYPES)
    lg = array("logits", logits, ndim=(1, 2), min_size=2)
    single = lg.ndim == 1
    lg2 = lg[None] if single else lg
    if lg2.shape[1] < 2:
        raise ValueError(f"logits must have at least 2 classes, got shape {lg.shape}")
    if lg2.size > _MAX_ENTRIES:
        raise ValueError(f"logits must have at most {_MAX_ENTRIES} entries, got {lg2.size}")
    lab = array("labels", labels, ndim=(0, 1), dtype="int")
    lab = np.broadcast_to(lab, (lg2.shape[0],)) if lab.ndim == 0 else lab
    if lab.shape != (lg2.shape[0],):
        raise ValueError(f"labels must have shape ({lg2.shape[0]},), got {lab.shape}")
    if np.any(lab < 0) or np.any(lab >= lg2.shape[1]):
        raise ValueError(f"labels must lie in [0, {lg2.shape[1] - 1}], got range [{lab.min()}, {lab.max()}]")
    x = lg2.astype(dtype)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"logits overflow in {dtype} (|logit| too large)")
    return x, lab, single


def softmax_cross_entropy(logits, labels, *, dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    r"""Softmax cross-entropy and its logit gradient, evaluated entirely in ``dtype`` (this package's loss).

    Per example (row): :math:`u=l-\max_j l_j`, :math:`S=\sum_j e^{u_j}` (numpy's row sum),
    :math:`L=\log S-u_c`, :math:`\partial L/\partial l_j=e^{u_j}/S-[j=c]`. Every operation is done in
    ``dtype``, so in float32 the correct-class gradient :math:`p_c-1` is *exactly* 0 once the wrong-class mass
    is absorbed in :math:`S` (Softmax Collapse, Prieto et al. 2025), while the wrong-class entries
    :math:`p_j=e^{u_j}/S>0` stay representable: the gradient no longer sums to 0 (the drift of "Grokking or
    Glitching?", 2026). In exact arithmetic the gradient sums to 0 (softmax is shift invariant).

    Args:
        logits: array (K,) or (n, K), K >= 2 (finite; cast to ``dtype`` first).
        labels: the correct class, an int or an int array (n,), in [0, K).
        dtype: ``"float16"``, ``"float32"`` (default) or ``"float64"``.

    Returns:
        (loss, grad): ``loss`` shape (n,) (a 0-d array for 1-D logits), ``grad`` the shape of ``logits``;
        both in ``dtype``.

    Raises:
        TypeError, ValueError: bad arguments (labels out of range, logits that overflow ``dtype``).
    """
    x, lab, single = _logits_labels(logits, labels, dtype)
    rows = np.arange(x.shape[0])
    u = x - x.max(axis=1, keepdims=True)
    e = np.exp(u)
    s = e.sum(axis=1, keepdims=True)
    p = e / s
    loss = np.log(s[:, 0]) - u[rows, lab]
    grad = p.copy()
    grad[rows, lab] -= np.asarray(1, dtype=x.dtype)
    if single:
        return loss[0], grad[0]
    return loss, grad


def correct_class_collapsed(logits, labels, *, dtype: str = "float32") -> np.ndarray:
    r"""Per example: is the correct-class gradient of :func:`softmax_cross_entropy` exactly 0 in ``dtype``?

    Args: as :func:`softmax_cross_entropy`.

    Returns:
        boolean array (n,) (0-d for 1-D logits).
    """
    _, lab, _ = _logits_labels(logits, labels, dtype)
    _, g = softmax_cross_entropy(logits, labels, dtype=dtype)
    g2 = g[None] if g.ndim == 1 else g
    out = g2[np.arange(g2.shape[0]), lab] == 0
    return out[0] if g.ndim == 1 else out


@dataclasses.dataclass(frozen=True)
class CollapseScan:
    r"""Result of :func:`collapse_gap`.

    Attributes:
        n_classes, dtype, label: the scanned configuration (the correct class sits at index ``label``; every
            wrong class has logit :math:`-\Delta` relative to it).
        gap_star: :math:`\Delta^*`, the smallest scanned gap from which on (up to ``gap_underflow``) the
            correct-class gradient is exactly 0 while the wrong-class gradients are > 0.
        gap_first: the smallest scanned gap with an exactly-zero correct-class gradient (``< gap_star`` when
            rounding makes the onset non-monotone).
        gap_underflow: the smallest scanned gap where the wrong-class gradients underflow to 0 too (the
            gradient is then all zero again).
        monotone: ``gap_first == gap_star``.
        estimate_grouped, estimate_sequential: :func:`collapse_gap_estimate` for the two summation orders.
        resolution: grid spacing of the scan.
    """

    n_classes: int
    dtype: str
    label: int
    gap_star: float
    gap_first: float
    gap_underflow: float
    monotone: bool
    estimate_grouped: float
    estimate_sequential: float
    resolution: float


def collapse_gap(n_classes: int = 2, *, dtype: str = "float32", label: int = 0,
                 resolution: float = 2.0**-10) -> CollapseScan:
    r"""Scan the logit gap at which :func:`softmax_cross_entropy` collapses in ``dtype``.

    Logits: :math:`\Delta` at the correct class ``label``, 0 at the other K-1 classes; :math:`\Delta` runs over a
    grid of spacing ``resolution`` from 0 to past the underflow of :math:`e^{-\Delta}` in ``dtype``. At each
    gap the package's own float loss gives the correct-class gradient; :math:`\Delta^*` is where it becomes
    exactly 0 for good. Between :math:`\Delta^*` and the underflow gap the wrong-class gradients are
    :math:`e^{-\Delta}>0`, so the computed gradient sums to :math:`(K-1)e^{-\Delta}\ne0`. The mechanism is from
    Prieto et al. (2025); the scan and its numbers are this package's.

    Args:
        n_classes: K in [2, 1024].
        dtype: ``"float16"``, ``"float32"`` or ``"float64"``.
        label: position of the correct class in [0, K) (matters through the summation order).
        resolution: grid spacing in (0, 0.1], at least ``2**-16``.

    Returns:
        :class:`CollapseScan` (cached per argument set: the scan is deterministic).

    Raises:
        TypeError, ValueError: bad arguments; RuntimeError if the gradient never collapses on the grid.
    """
    k = integer("n_classes", n_classes, low=2, high=1024)
    dtype = one_of("dtype", dtype, FLOAT_DTYPES)
    label = integer("label", label, low=0, high=k - 1)
    resolution = real("resolution", resolution, low=2.0**-16, high=0.1)
    return _collapse_scan(k, dtype, label, resolution)


@functools.lru_cache(maxsize=64)
def _collapse_scan(k: int, dtype: str, label: int, resolution: float) -> CollapseScan:
    tiny = float(np.finfo(dtype).smallest_subnormal)
    hi = -math.log(tiny) + 2.0
    gaps = np.arange(0.0, hi, resolution)
    if gaps.size * k > _MAX_ENTRIES:
        raise ValueError(f"resolution={resolution!r} gives {gaps.size * k} entries for K={k}, dtype={dtype}; "
                         f"use a coarser grid (at most {_MAX_ENTRIES})")
    gaps = np.unique(gaps.astype(dtype).astype(np.float64))  # the gaps as the dtype represents them
    logits = np.zeros((gaps.size, k))
    logits[:, label] = gaps
    _, grad = softmax_cross_entropy(logits, label, dtype=dtype)
    gc = grad[:, label]
    wrong = np.delete(grad, label, axis=1)
    zero_c = gc == 0
    wrong_pos = np.all(wrong > 0, axis=1)
    under = np.flatnonzero(~wrong_pos & (gaps > 0))
    i_under = int(under[0]) if under.size else gaps.size
    collapsed = zero_c[:i_under]
    if not collapsed.any():
        raise RuntimeError(f"no collapse found for K={k} in {dtype} below gap {gaps[min(i_under, gaps.size - 1)]}")
    i_first = int(np.argmax(collapsed))
    not_c = np.flatnonzero(~collapsed)
    i_star = int(not_c[-1]) + 1 if not_c.size else 0
    if i_star >= i_under:
        raise RuntimeError(f"the correct-class gradient of K={k} in {dtype} does not stay collapsed before underflow")
    return CollapseScan(k, dtype, label, float(gaps[i_star]), float(gaps[i_first]),
                        float(gaps[i_under]) if i_under < gaps.size else math.inf, i_first == i_star,
                        collapse_gap_estimate(k, dtype=dtype, summation="grouped"),
                        collapse_gap_estimate(k, dtype=dtype, summation="sequential"), resolution)


def collapse_gap_estimate(n_classes: int = 2, *, dtype: str = "float32",
                          summation: Literal["grouped", "sequential"] = "grouped") -> float:
    r"""Analytic estimate of the collapse gap :math:`\Delta^*` from the float resolution near 1. Derived here.

    With max subtraction the correct class contributes exactly 1 to :math:`S=1+\sum_{j\ne c}e^{-\Delta_j}`,
    and :math:`p_c=1/S` is exactly 1 (gradient exactly 0) iff :math:`S` rounds to 1, i.e. iff the wrong-class
    mass added to 1 is at most :math:`u=` :func:`absorption_threshold` (:math:`2^{-24}` in float32). With all
    K-1 wrong classes at gap :math:`\Delta`:

    * ``"grouped"`` (the wrong-class terms are summed first, then added to 1):
      :math:`(K-1)e^{-\Delta}\le u`, :math:`\Delta^*=\log((K-1)/u)` (float32: :math:`24\log2+\log(K-1)`,
      16.64 for K = 2);
    * ``"sequential"`` (each term is added to the running sum starting at 1, and is absorbed alone):
      :math:`e^{-\Delta}\le u`, :math:`\Delta^*=\log(1/u)`, independent of K.

    Real summation (numpy's pairwise sum, XLA's reductions) lies between the two, depending on where the
    correct class sits; :func:`collapse_gap` finds the actual value.

    Args:
        n_classes: K in [2, 10**9]; dtype: as :func:`absorption_threshold`; summation: the order.

    Returns:
        the estimate (float).
    """
    k = integer("n_classes", n_classes, low=2, high=10**9)
    dtype = one_of("dtype", dtype, FLOAT_DTYPES)
    summation = one_of("summation", summation, ("grouped", "sequential"))
    u = absorption_threshold(dtype)
    return math.log((k - 1) / u) if summation == "grouped" else -math.log(u)


def softmax_cross_entropy_expression(n_classes: int = 3) -> tuple[tuple[sp.Symbol, ...], sp.Expr]:
    r"""Symbolic softmax cross-entropy with correct class 0: :math:`L=\log\sum_je^{l_j}-l_0`.

    Args:
        n_classes: K in [2, 16].

    Returns:
        (logits, L): the K real logit symbols and the expression.
    """
    k = integer("n_classes", n_classes, low=2, high=16)
    ls = sp.symbols(f"l_0:{k}", real=True)
    return ls, sp.log(sum(sp.exp(li) for li in ls)) - ls[0]


def collapse_gap_expression() -> tuple[sp.Symbol, sp.Symbol, sp.Expr]:
    r"""Symbolic grouped-summation estimate :math:`\Delta^*=\log(K-1)+p\log2` (:func:`collapse_gap_estimate`
    with :math:`u=2^{-p}`; p = 24 in float32, 53 in float64).

    Returns:
        (K, p, expression).
    """
    k, p = sp.symbols("K p", positive=True)
    return k, p, sp.log(k - 1) + p * sp.log(2)


def ortho_grad_expression(w: sp.Matrix, g: sp.Matrix) -> sp.Matrix:
    r"""⊥Grad of :func:`ortho_grad` on symbolic column vectors: :math:`g_\perp\|g\|/\|g_\perp\|` with
    :math:`g_\perp=g-(w^\top g/w^\top w)w` (generic case :math:`w\ne0`, :math:`g_\perp\ne0`).

    Args:
        w, g: sympy column matrices of equal shape.

    Returns:
        the rescaled projection (sympy Matrix).
    """
    if not (isinstance(w, sp.MatrixBase) and isinstance(g, sp.MatrixBase)):
        raise TypeError(f"w and g must be sympy matrices, got {type(w).__name__} and {type(g).__name__}")
    if w.shape != g.shape or w.shape[1] != 1:
        raise ValueError(f"w and g must be column vectors of the same shape, got {w.shape} and {g.shape}")
    gp = g - (w.dot(g) / w.dot(w)) * w
    return gp * sp.sqrt(g.dot(g)) / sp.sqrt(gp.dot(gp))


def stablemax_s(x) -> np.ndarray:
    r"""StableMax's elementwise map (Prieto et al. 2025): :math:`s(x)=x+1` for :math:`x\ge0`,
    :math:`s(x)=1/(1-x)` for :math:`x<0`.

    Positive, increasing, :math:`C^1` at 0 (:math:`s(0)=1`, :math:`s'(0^\pm)=1`), linear growth instead of
    exponential (no overflow, no absorption at the gaps where softmax collapses).

    Args:
        x: finite array-like.

    Returns:
        float64 array of the shape of ``x``.
    """
    x = array("x", x, ndim=None)
    return np.where(x >= 0, x + 1.0, 1.0 / (1.0 - np.minimum(x, 0.0)))


def stablemax(x, axis: int = -1) -> np.ndarray:
    r""":math:`\mathrm{StableMax}(x)_i=s(x_i)/\sum_js(x_j)` along ``axis`` (Prieto et al. 2025); sums to 1.

    Args:
        x: finite array-like with at least one entry; axis: the class axis.

    Returns:
        float64 array of the shape of ``x``.
    """
    x = array("x", x, ndim=None, min_size=1)
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension")
    axis = integer("axis", axis, low=-x.ndim, high=x.ndim - 1)
    sx = stablemax_s(x)
    tot = sx.sum(axis=axis, keepdims=True)
    if not np.all(np.isfinite(tot)):
        raise ValueError("x overflows float64 in the StableMax normaliser (entries too large)")
    return sx / tot


def stablemax_s_expression(x: sp.Symbol | None = None) -> sp.Piecewise:
    """The symbolic StableMax map :math:`s(x)` (a sympy Piecewise), for :mod:`proofs.slingshot`."""
    if x is None:
        x = sp.Symbol("x", real=True)
    elif not isinstance(x, sp.Expr) or isinstance(x, sp.Tuple):
        raise TypeError(f"x must be a sympy symbol or expression, got {x!r} ({type(x).__name__})")
    return sp.Piecewise((x + 1, x >= 0), (1 / (1 - x), True))


def stablemax_cross_entropy(logits, labels, *, dtype: str = "float64") -> tuple[np.ndarray, np.ndarray]:
    r"""StableMax cross-entropy :math:`L=-\log(s(l_c)/\sum_js(l_j))` and its logit gradient, in ``dtype``.

    Gradient (derived here): :math:`\partial L/\partial l_i=s'(l_i)/\sum_js(l_j)-[i=c]\,s'(l_c)/s(l_c)` with
    :math:`s'(x)=1` for :math:`x\ge0` and :math:`1/(1-x)^2` for :math:`x<0`. StableMax is not shift invariant,
    so this gradient does *not* sum to 0 in exact arithmetic (unlike softmax's); what it fixes is the
    absorption: the correct-class term stays non-zero at gaps where float32 softmax gives exactly 0.
    Prieto et al. (2025) evaluate it in float64 (the default here).

    Args:
        logits: (K,) or (n, K) finite; labels: int or (n,) ints in [0, K); dtype: float dtype name.

    Returns:
        (loss, grad) as :func:`softmax_cross_entropy`.

    Raises:
        TypeError, ValueError: bad arguments.
    """
    x, lab, single = _logits_labels(logits, labels, dtype)
    rows = np.arange(x.shape[0])
    one = np.asarray(1, dtype=x.dtype)
    neg = np.minimum(x, 0)
    s = np.where(x >= 0, x + one, one / (one - neg))
    ds = np.where(x >= 0, one, one / (one - neg) ** 2)
    tot = s.sum(axis=1, keepdims=True)
    if not np.all(np.isfinite(tot)):
        raise ValueError(f"logits overflow {dtype} in the StableMax normaliser (entries too large)")
    loss = np.log(tot[:, 0]) - np.log(s[rows, lab])
    grad = ds / tot
    grad[rows, lab] -= ds[rows, lab] / s[rows, lab]
    if single:
        return loss[0], grad[0]
    return loss, grad


def ortho_grad(w, g) -> np.ndarray:
    r"""⊥Grad (Prieto et al. 2025): the gradient with its component along the weights removed, rescaled.

    .. math:: g_\perp=g-\frac{\langle w,g\rangle}{\|w\|^2}w,\qquad \tilde g=g_\perp\,\frac{\|g\|}{\|g_\perp\|}

    over the whole tensor (flattened), so :math:`\langle w,\tilde g\rangle=0` and
    :math:`\|\tilde g\|=\|g\|`: the step cannot grow the weights by scaling the logits (the "naive loss
    minimisation" direction). Edge cases: :math:`w=0` returns ``g``; :math:`g_\perp=0` (``g`` parallel to
    ``w``, or ``g = 0``) returns zeros, so the norm is then *not* preserved (Prieto et al.'s code divides by
    :math:`\|g_\perp\|+10^{-30}` and so rescales rounding noise instead).

    Args:
        w, g: arrays of the same shape (finite).

    Returns:
        float64 array of the shape of ``g``.

    Raises:
        TypeError, ValueError: bad arguments (shape mismatch).
    """
    w = array("w", w, ndim=None)
    g = array("g", g, ndim=None)
    if w.shape != g.shape:
        raise ValueError(f"w and g must have the same shape, got {w.shape} and {g.shape}")
    wf, gf = w.ravel(), g.ravel()
    scale_w, scale_g = float(np.max(np.abs(wf), initial=0.0)), float(np.max(np.abs(gf), initial=0.0))
    if scale_w > 0:  # the projection and the norms are scale invariant in w and homogeneous in g: rescale
        wf = wf / scale_w
    if scale_g > 0:
        gf = gf / scale_g
    ww = float(wf @ wf)
    if ww == 0.0:
        return g.copy()
    gp = gf - (float(wf @ gf) / ww) * wf
    npn = float(np.linalg.norm(gp))
    if npn == 0.0:
        return np.zeros_like(g)
    return (gp * (float(np.linalg.norm(gf)) / npn * scale_g)).reshape(g.shape)


# =============================================================================================
# the slingshot detector


@dataclasses.dataclass(frozen=True)
class Onset:
    """A norm-growth onset (phase A): first step of a run where the log-norm growth rate exceeds
    ``growth_factor`` x its median over the preceding window (and ``min_growth_rate``) while the loss is small.
    ``rate``: the growth rate there (per step); ``baseline``: the preceding median."""

    step: int
    rate: float
    baseline: float


@dataclasses.dataclass(frozen=True)
class Spike:
    """A loss-spike cluster (phase B): spikes less than ``merge_gap`` steps apart merged.

    ``step``: first spike of the cluster; ``peak_step``/``peak_loss``: its maximum; ``ratio``: the largest
    loss / running-minimum ratio; ``n_raw``: number of spiking records merged."""

    step: int
    peak_step: int
    peak_loss: float
    ratio: float
    n_raw: int


@dataclasses.dataclass(frozen=True)
class Plateau:
    """A norm plateau (phase C): the norm stays within ``plateau_tol`` of its value at ``start`` until ``end``
    (>= ``plateau_len`` steps). ``loss_decays``: the loss at ``end`` is below the loss at ``start``."""

    start: int
    end: int
    level: float
    loss_decays: bool


@dataclasses.dataclass(frozen=True)
class Cycle:
    """One slingshot: a spike cluster with the onset before it (since the previous cluster) and the plateau
    after it (before the next cluster); ``complete`` when both exist."""

    spike: Spike
    onset: Onset | None
    plateau: Plateau | None

    @property
    def complete(self) -> bool:
        return self.onset is not None and self.plateau is not None


@dataclasses.dataclass(frozen=True)
class SlingshotEvents:
    """What :func:`detect_slingshots` found.

    Attributes:
        onsets, spikes, plateaus: every event found (plateaus: the first one after each spike cluster).
        cycles: one per spike cluster (the paper's cycle count is ``n_cycles = len(cycles)``).
        n_complete: cycles with onset, spike and plateau.
        grok_step: first step with validation accuracy above the threshold (None: never, or no val trace).
        grokking_at_onset: whether ``grok_step`` falls within ``grok_window`` steps after an onset (None when
            there is no validation trace or no grokking).
        grok_onset: the onset it follows (None otherwise).
    """

    onsets: tuple[Onset, ...]
    spikes: tuple[Spike, ...]
    plateaus: tuple[Plateau, ...]
    cycles: tuple[Cycle, ...]
    grok_step: int | None
    grokking_at_onset: bool | None
    grok_onset: Onset | None

    @property
    def n_cycles(self) -> int:
        return len(self.cycles)

    @property
    def n_complete(self) -> int:
        return sum(c.complete for c in self.cycles)


def _running_min_before(steps: np.ndarray, loss: np.ndarray, window: float) -> np.ndarray:
    """min of loss over records with step in [steps[i] - window, steps[i]); inf where empty (monotone deque)."""
    out = np.full(loss.shape, np.inf)
    dq: deque[int] = deque()
    for i in range(len(loss)):
        while dq and steps[dq[0]] < steps[i] - window:
            dq.popleft()
        if dq:
            out[i] = loss[dq[0]]
        while dq and loss[dq[-1]] >= loss[i]:
            dq.pop()
        dq.append(i)
    return out


def _clusters(idx: np.ndarray, steps: np.ndarray, gap: float) -> list[np.ndarray]:
    if idx.size == 0:
        return []
    cut = np.flatnonzero(np.diff(steps[idx]) >= gap) + 1
    return np.split(idx, cut)


def detect_slingshots(steps, loss, norm, val_acc=None, *, spike_factor: float = 100.0, spike_window: float = 200,
                      loss_floor: float = 1e-4, merge_gap: float = 50, growth_factor: float = 5.0,
                      growth_window: float = 1000, rate_window: float = 50, min_growth_rate: float = 1e-4,
                      onset_max_loss: float = 1e-2, plateau_tol: float = 0.01, plateau_len: float = 1000,
                      grok_threshold: float = 0.9, grok_window: float = 2000) -> SlingshotEvents:
    r"""Find slingshots in recorded training traces (the package's operational definition).

    The paper describes a slingshot in words ("a period of rapid growth of the last layer weights, an ensuing
    training loss spike, and a norm plateau", Thilak et al. 2022, Fig. 1) and gives no formula. This
    definition is this package's:

    * **onset (phase A)**: with the growth rate over the preceding ``rate_window`` steps,
      :math:`r_i=(\log\|W\|_i-\log\|W\|_{i'})/(t_i-t_{i'})`, :math:`t_{i'}` the first record at or after
      :math:`t_i-` ``rate_window`` (smoothing out record-to-record noise), record i is an onset
      candidate when :math:`r_i>` ``growth_factor`` :math:`\times\max(0,\mathrm{median}\{r_j: t_i-`
      ``growth_window`` :math:`\le t_j<t_i\})`, :math:`r_i>` ``min_growth_rate`` and the loss is at most
      ``onset_max_loss`` (growth *after* the data are fit); an onset is the first record of a run of
      candidates, runs less than ``merge_gap`` apart merged;
    * **spike (phase B)**: :math:`L_i>` ``spike_factor`` :math:`\times\min\{L_j: t_i-` ``spike_window``
      :math:`\le t_j<t_i\}` and :math:`L_i>` ``loss_floor``; spikes less than ``merge_gap`` steps apart are
      one cluster;
    * **plateau (phase C)**: the first record at or after a cluster's peak from which the norm stays within
      :math:`\pm` ``plateau_tol`` (relative) for at least ``plateau_len`` steps, before the next cluster;
    * **cycle**: one per spike cluster (the cycle count), with the last onset since the previous cluster and
      the plateau after it;
    * **grokking at onset**: the first step with validation accuracy > ``grok_threshold`` lies within
      ``grok_window`` steps after an onset.

    Args:
        steps: strictly increasing step numbers (2 <= n <= 200000; records need not be evenly spaced).
        loss: training loss per record (finite, >= 0); norm: last-layer norm per record (finite, > 0).
        val_acc: optional validation accuracy per record (in [0, 1]).
        others: the thresholds above (windows and gaps in steps; factors > 1; tolerances in (0, 1)).

    Returns:
        :class:`SlingshotEvents`.

    Raises:
        TypeError, ValueError: bad arguments (shapes, non-increasing steps, non-positive norms, ...).
    """
    steps = array("steps", steps, ndim=1, min_size=2)
    n = steps.size
    if n > 200_000:
        raise ValueError(f"steps must have at most 200000 records (subsample longer traces), got {n}")
    if np.any(np.diff(steps) <= 0):
        raise ValueError("steps must be strictly increasing")
    loss = array("loss", loss, shape=(n,))
    norm = array("norm", norm, shape=(n,))
    if np.any(loss < 0):
        raise ValueError(f"loss must be >= 0, got min {loss.min()!r}")
    if np.any(norm <= 0):
        raise ValueError(f"norm must be > 0, got min {norm.min()!r}")
    va = None
    if val_acc is not None:
        va = array("val_acc", val_acc, shape=(n,))
        if np.any(va < 0) or np.any(va > 1):
            raise ValueError("val_acc must lie in [0, 1]")
    spike_factor = real("spike_factor", spike_factor, low=1.0, low_open=True)
    spike_window = real("spike_window", spike_window, low=0.0, low_open=True)
    loss_floor = real("loss_floor", loss_floor, low=0.0)
    merge_gap = real("merge_gap", merge_gap, low=0.0)
    growth_factor = real("growth_factor", growth_factor, low=1.0)
    growth_window = real("growth_window", growth_window, low=0.0, low_open=True)
    rate_window = real("rate_window", rate_window, low=0.0, low_open=True)
    min_growth_rate = real("min_growth_rate", min_growth_rate, low=0.0)
    onset_max_loss = real("onset_max_loss", onset_max_loss, low=0.0, finite=False)
    plateau_tol = real("plateau_tol", plateau_tol, low=0.0, low_open=True, high=1.0, high_open=True)
    plateau_len = real("plateau_len", plateau_len, low=0.0, low_open=True)
    grok_threshold = real("grok_threshold", grok_threshold, low=0.0, high=1.0)
    grok_window = real("grok_window", grok_window, low=0.0)

    # spikes
    rmin = _running_min_before(steps, loss, spike_window)
    is_spike = np.isfinite(rmin) & (loss > spike_factor * rmin) & (loss > loss_floor)
    spikes = []
    for c in _clusters(np.flatnonzero(is_spike), steps, merge_gap):
        pk = int(c[np.argmax(loss[c])])
        with np.errstate(divide="ignore"):
            ratio = float(np.max(np.where(rmin[c] > 0, loss[c] / np.where(rmin[c] > 0, rmin[c], 1.0), np.inf)))
        spikes.append(Spike(int(steps[c[0]]), int(steps[pk]), float(loss[pk]), ratio, int(c.size)))

    # onsets
    lg = np.log(norm)
    back = np.searchsorted(steps, steps - rate_window, side="left")  # record at or just after t_i - rate_window
    span = steps - steps[back]
    r = np.zeros(n)
    has = span > 0
    r[has] = (lg[has] - lg[back[has]]) / span[has]
    cand = np.flatnonzero(has & (r > min_growth_rate) & (loss <= onset_max_loss))
    ok = []
    for i in cand:
        j0 = int(np.searchsorted(steps, steps[i] - growth_window, side="left"))
        if i - j0 < 3:  # too little history for a baseline
            continue
        base = max(0.0, float(np.median(r[j0:i])))
        if r[i] > growth_factor * base:
            ok.append((int(i), base))
    onsets = []
    if ok:
        idx = np.array([i for i, _ in ok])
        bases = dict(ok)
        for c in _clusters(idx, steps, max(merge_gap, 1e-12)):
            # a run of candidates: consecutive records, or records less than merge_gap apart
            i0 = int(c[0])
            onsets.append(Onset(int(steps[i0]), float(r[i0]), bases[i0]))

    # plateaus and cycles
    plateaus, cycles = [], []
    for k, sp_ in enumerate(spikes):
        nxt = spikes[k + 1].step if k + 1 < len(spikes) else math.inf
        prev = spikes[k - 1].step if k > 0 else -math.inf
        i = int(np.searchsorted(steps, sp_.peak_step))
        plat = None
        while i < n and steps[i] + plateau_len <= steps[-1] and steps[i] + plateau_len < nxt:
            j = int(np.searchsorted(steps, steps[i] + plateau_len, side="right"))
            if np.all(np.abs(norm[i:j] / norm[i] - 1.0) <= plateau_tol):
                stop = int(np.searchsorted(steps, nxt, side="left")) if math.isfinite(nxt) else n
                out = np.flatnonzero(np.abs(norm[j:stop] / norm[i] - 1.0) > plateau_tol)
                end = j + int(out[0]) if out.size else stop
                plat = Plateau(int(steps[i]), int(steps[end - 1]), float(norm[i]), bool(loss[end - 1] < loss[i]))
                break
            i += 1
        if plat is not None:
            plateaus.append(plat)
        before = [o for o in onsets if prev < o.step <= sp_.step]
        cycles.append(Cycle(sp_, before[-1] if before else None, plat))

    grok_step, at_onset, grok_onset = None, None, None
    if va is not None:
        hit = np.flatnonzero(va > grok_threshold)
        if hit.size:
            grok_step = int(steps[hit[0]])
            prior = [o for o in onsets if 0 <= grok_step - o.step <= grok_window]
            at_onset = bool(prior)
            grok_onset = prior[-1] if prior else None
    return SlingshotEvents(tuple(onsets), tuple(spikes), tuple(plateaus), tuple(cycles), grok_step, at_onset,
                           grok_onset)


# =============================================================================================
# Power et al. (2022) modular-arithmetic data

MODULUS = 97

#: The binary operations of Power et al.'s released code (openai/grok ``grok/data.py``) over Z_p, with the
#: code's operator strings as keys; each maps (a, b) arrays to the answer c. Division is generated as in the
#: code: for b != 0 and every c, the equation is (b*c mod p) / b = c. The S5 permutation tasks and "mix1"
#: are not included (not modular arithmetic; "mix1" relies on the Mod class's floor division).
OPERATIONS: dict[str, str] = {
    "+": "addition",
    "-": "subtraction",
    "*": "multiplication",
    "/": "division",
    "**2+": "squarepoly",
    "**3+": "cubepoly",
    "x**2+y**2": "quad1",
    "x**2+y**2+x*y": "quad2",
    "x**2+y**2+x*y+x": "quad3",
    "x**3+x*y": "cube1",
    "x**3+x*y**2+y": "cube2",
    "+*": "even-addition_odd-multiplication",
    "+-": "even-addition_odd-subtraction",
}


def _answer(op: str, a: np.ndarray, b: np.ndarray, p: int) -> np.ndarray:
    if op == "+":
        return (a + b) % p
    if op == "-":
        return (a - b) % p
    if op == "*":
        return (a * b) % p
    if op == "**2+":
        return (a**2 + b) % p
    if op == "**3+":
        return (a**3 + b) % p
    if op == "x**2+y**2":
        return (a**2 + b**2) % p
    if op == "x**2+y**2+x*y":
        return (a**2 + b**2 + a * b) % p
    if op == "x**2+y**2+x*y+x":
        return (a**2 + b**2 + a * b + a) % p
    if op == "x**3+x*y":
        return (a**3 + a * b) % p
    if op == "x**3+x*y**2+y":
        return (a**3 + a * b**2 + b) % p
    if op == "+*":
        return np.where(a % 2 == 0, (a + b) % p, (a * b) % p)
    if op == "+-":
        return np.where(a % 2 == 0, (a + b) % p, (a - b) % p)
    raise AssertionError(op)  # pragma: no cover


def modular_equations(op: str = "/", p: int = MODULUS, *, shuffle: bool = False, seed: int = 0) -> np.ndarray:
    r"""The equations :math:`a\circ b=c` of Power et al. (2022) over :math:`\mathbb Z_p`, as an int array (N, 3).

    Every pair :math:`(a,b)\in\{0..p-1\}^2` in the code's order (a major), except for division, which follows
    the code: for each :math:`b\ne0` and each answer :math:`c`, the equation is :math:`a/b=c` with
    :math:`a=b\,c \bmod p` (so :math:`a\equiv b\,c`, :math:`b\ne0`; for prime p this is :math:`c=a b^{-1}`).
    Sizes: :math:`p^2` (9409 for p = 97), division :math:`p(p-1)` (9312).

    Args:
        op: a key of :data:`OPERATIONS`.
        p: modulus in [2, 1000] (the code uses 97; division needs a prime for c to be the unique quotient).
        shuffle: shuffle the rows (numpy ``RandomState(seed).shuffle``, the code's generator; the code shuffles
            the rendered strings, so row order equals the code's only in distribution).
        seed: seed for the shuffle (>= 0).

    Returns:
        int64 array (N, 3) with columns a, b, c.

    Raises:
        TypeError, ValueError: unknown operation, p out of range, or a non-prime p for division.
    """
    op = one_of("op", op, tuple(OPERATIONS))
    p = integer("p", p, low=2, high=1000)
    seed = integer("seed", seed, low=0, high=2**32 - 1)
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle must be a bool, got {shuffle!r}")
    if op == "/" and any(p % q == 0 for q in range(2, int(math.isqrt(p)) + 1)):
        raise ValueError(f"p must be prime for division (unique quotient), got {p}")
    first, second = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    first, second = first.ravel(), second.ravel()
    if op == "/":
        keep = second != 0
        c, b = first[keep], second[keep]  # the code's loop variables (a, b) -> answer c = a, lhs a = b*c
        a = (b * c) % p
        eq = np.stack([a, b, c], axis=1)
    else:
        eq = np.stack([first, second, _answer(op, first, second, p)], axis=1)
    eq = eq.astype(np.int64)
    if shuffle:
        np.random.RandomState(seed).shuffle(eq)
    return eq


def n_equations(op: str = "/", p: int = MODULUS) -> int:
    """Number of equations of :func:`modular_equations` (p**2; p*(p-1) for division), without building them."""
    op = one_of("op", op, tuple(OPERATIONS))
    p = integer("p", p, low=2, high=10**6)
    return p * (p - 1) if op == "/" else p * p


def train_rows(n: int, train_pct: float) -> int:
    """Training-set size of Power et al.'s code: ``round(n * train_pct / 100)`` (Python's round, half to even).

    Args:
        n: number of equations (>= 1); train_pct: percentage in (0, 100) (the code asserts this range).

    Returns:
        the number of training rows (the first rows of the shuffled equations).
    """
    n = integer("n", n, low=1, high=10**9)
    train_pct = real("train_pct", train_pct, low=0.0, high=100.0, low_open=True, high_open=True)
    return int(round(n * (train_pct / 100.0)))


def split_equations(eq, train_pct: float, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle the equations with ``RandomState(seed)`` and split off the first :func:`train_rows` rows for training.

    Args:
        eq: int array (N, 3) from :func:`modular_equations`; train_pct: in (0, 100); seed: >= 0.

    Returns:
        (train, val) int arrays.
    """
    eq = array("eq", eq, ndim=2, dtype="int", min_size=1)
    if eq.shape[1] != 3:
        raise ValueError(f"eq must have shape (N, 3), got {eq.shape}")
    k = train_rows(eq.shape[0], train_pct)
    seed = integer("seed", seed, low=0, high=2**32 - 1)
    perm = np.random.RandomState(seed).permutation(eq.shape[0])
    return eq[perm[:k]], eq[perm[k:]]


def batch_size(n_train: int) -> int:
    """The default batch size of Power et al.'s code: ``min(512, ceil(n_train / 2))``.

    Args:
        n_train: training-set size (>= 1).
    """
    n_train = integer("n_train", n_train, low=1, high=10**12)
    return min(512, math.ceil(n_train / 2.0))


def learning_rate(step, *, max_lr: float = 1e-3, warmup_steps: int = 10) -> np.ndarray:
    """The learning rate of Power et al.'s code without annealing: ``step / warmup * max_lr`` for
    ``step <= warmup_steps``, then ``max_lr`` (so 0 at step 0).

    Args:
        step: int or int array (>= 0); max_lr: > 0; warmup_steps: >= 0 (0: constant; the code divides by
            ``max(warmup, 1)``).

    Returns:
        float64 array of the shape of ``step``.
    """
    s = array("step", step, ndim=None, dtype="int")
    if np.any(s < 0):
        raise ValueError(f"step must be >= 0, got min {s.min()}")
    max_lr = real("max_lr", max_lr, low=0.0, low_open=True)
    warmup_steps = integer("warmup_steps", warmup_steps, low=0, high=10**9)
    return np.where(s <= warmup_steps, s / max(warmup_steps, 1) * max_lr, max_lr).astype(float)


#: The training defaults of Power et al.'s code (openai/grok ``grok/training.py``): Adam(W) with betas
#: (0.9, 0.98), eps 1e-8, weight decay 0 by default (the Power et al. paper's headline runs use 1), max
#: learning rate 1e-3, 10 linear warm-up steps, 1e5 steps, 5% training data by default; a 2-layer decoder-only
#: transformer, width 128, 4 heads, no dropout. The Slingshot paper trains without weight decay.
POWER_DEFAULTS: dict[str, float | int | tuple[float, float]] = {
    "modulus": 97, "betas": (0.9, 0.98), "eps": 1e-8, "weight_decay": 0.0, "max_lr": 1e-3, "warmup_steps": 10,
    "max_steps": 100_000, "train_data_pct": 5.0, "n_layers": 2, "d_model": 128, "n_heads": 4, "dropout": 0.0,
}
