r"""Derivations behind the Slingshot mechanism (Thilak et al. 2022), step by step.

The paper is empirical and has no theorem; every derivation here is [derived] in this package (from Adam's
update, the logistic loss and float rounding) or checks a definition of the later peer work (StableMax and
⊥Grad: Prieto, Barsbey, Mediano & Birdal 2025). Five proofs, each on the expressions of
:mod:`theory.slingshot`:

1. Adam's step for a steady gradient, :math:`-\eta g/(|g|+\varepsilon)`, and its two limits (sign descent,
   gradient descent with rate :math:`\eta/\varepsilon`); the boundary :math:`|g|=\varepsilon`.
2. The separable logistic toy: gradient descent grows the margin like :math:`\log t`, Adam in the sign
   regime linearly; the sign regime ends at the loss :math:`\log(x/(x-\varepsilon))\approx\varepsilon/x`; the
   moment lags that fix Adam's growth rate on an exponential tail.
3. The float absorption threshold: softmax cross-entropy gradients sum to zero in exact arithmetic; once the
   wrong-class mass :math:`(K-1)e^{-\Delta}` is below :math:`2^{-p}`, :math:`p_c` rounds to 1 and the sum is
   the wrong-class mass.
4. StableMax's map is :math:`C^1` at 0 and its outputs sum to one.
5. ⊥Grad is orthogonal to the weights and keeps the gradient norm.
"""

from __future__ import annotations

import sympy as sp

from theory import slingshot as S

from ._core import Proof, Step

PAPER = "slingshot"


def _adam_steady() -> Proof:
    E = S.adam_step_expressions()
    g, eta, eps, b1, b2, t = E.g, E.eta, E.eps, E.beta1, E.beta2, E.t
    return Proof(
        PAPER,
        "Adam's step for a steady gradient and its two limits",
        [
            Step("m_t = b1 m_{t-1} + (1-b1) g with m_t = (1-b1^t) g", b1 * E.m_t.subs(t, t - 1) + (1 - b1) * g, E.m_t,
                 why="Adam's first-moment recursion from m_0 = 0 with a constant gradient g; the closed form "
                     "(1 - beta_1^t) g satisfies it (and m_0 = 0), so it is the solution.",
                 domain={b1: (0.05, 0.95), g: (0.2, 3.0), t: (1.0, 20.0)}),
            Step("v_t = b2 v_{t-1} + (1-b2) g^2 with v_t = (1-b2^t) g^2", b2 * E.v_t.subs(t, t - 1) + (1 - b2) * g**2,
                 E.v_t, why="The same for the second moment with g^2.",
                 domain={b2: (0.05, 0.95), g: (0.2, 3.0), t: (1.0, 20.0)}),
            Step("bias correction is exact: m_hat = g", E.m_hat, g,
                 why="m_hat = m_t / (1 - beta_1^t) cancels the factor exactly at every t (not only as t -> oo).",
                 domain={b1: (0.05, 0.95), g: (0.2, 3.0), t: (1.0, 20.0)}),
            Step("step = -eta m_hat/(sqrt(v_hat)+eps) = -eta g/(g+eps)", E.step, E.steady,
                 why="v_hat = g^2 and sqrt(g^2) = |g| (= g for g > 0; g < 0 is the mirror image), independently of "
                     "beta_1, beta_2 and t.",
                 domain={b1: (0.05, 0.95), b2: (0.05, 0.95), t: (1.0, 20.0)}),
            Step("|g| >> eps: sign descent", sp.limit(E.steady, eps, 0, "+"), -eta,
                 why="eps -> 0: the step is -eta sign(g), of size eta however small the gradient."),
            Step("|g| << eps: gradient descent with rate eta/eps", sp.limit(E.steady / g, g, 0, "+"), -eta / eps,
                 why="g -> 0: step / g -> -eta / eps, i.e. the step is -(eta/eps) g."),
            Step("boundary |g| = eps: half the sign step", E.steady.subs(g, eps), -eta / 2,
                 why="At |g| = eps the step is eta/2: the boundary between the two regimes."),
        ],
        statement="For a gradient held at g, bias-corrected Adam moves each coordinate by -eta g/(|g| + eps) at "
                  "every step: sign descent (step eta) for |g| >> eps and gradient descent with learning rate eta/eps "
                  "for |g| << eps; |g| = eps is the boundary (step eta/2).",
        id="slingshot.adam_steady_step",
        assumptions=["the gradient is constant (steady) over the moments' memory", "m_0 = v_0 = 0"],
        claims=["slingshot.sign_step", "slingshot.no_slingshot_eps"],
    )


def _toy() -> Proof:
    T = S.logistic_toy()
    z, z0, eta, eps, x = T.z, T.z0, T.eta, T.eps, T.x
    A = S.adam_tail_expressions()
    s = A.s
    gabs = -T.grad_w
    return Proof(
        PAPER,
        "Norm growth on the separable logistic toy: log t for GD, linear for Adam until the loss reaches eps/x",
        [
            Step("dL/dw = x dL/dz = -x/(1+e^z)", x * sp.diff(T.loss, z), T.grad_w,
                 why="L = log(1 + e^{-z}) with z = x w (chain rule)."),
            Step("GD: dF_GD/dz * dz/dt = x^2 eta", sp.diff(T.gd_invariant, z) * T.gd_rhs, T.gd_rate,
                 why="Under gradient flow dz/dt = x dw/dt = x^2 eta/(1+e^z); F_GD = z + e^z has derivative 1 + e^z, "
                     "so F_GD(z(t)) = F_GD(z0) + x^2 eta t exactly."),
            Step("GD: log t(z) / z -> 1 (norm ~ log t)", sp.limit(sp.log(T.gd_time) / z, z, sp.oo), sp.Integer(1),
                 why="t(z) = (z + e^z - z0 - e^{z0})/(x^2 eta) grows like e^z, so z(t) ~ log t: the weight norm z/x "
                     "grows logarithmically (the one-point case of Soudry et al. 2018)."),
            Step("Adam flow: dF_A/dz * dz/dt = x eta", sp.diff(T.adam_invariant, z) * T.adam_rhs, T.adam_rate,
                 why="With instantly tracked moments dw/dt = eta |g|/(|g| + eps), |g| = x/(1+e^z); F_A = (1 + eps/x) z "
                     "+ (eps/x) e^z has derivative (|g| + eps)/|g|, so F_A grows at the constant rate x eta."),
            Step("Adam, eps -> 0: t(z) = (z - z0)/(x eta) (linear growth)", sp.limit(T.adam_time, eps, 0, "+"),
                 (z - z0) / (x * eta),
                 why="In the sign regime the margin grows by x eta per unit time: z = z0 + x eta t, the norm linearly, "
                     "and the loss log(1 + e^{-z}) falls exponentially."),
            Step("Adam, z -> oo: GD with learning rate eta/eps", sp.limit(T.adam_time / T.gd_time.subs(eta, eta / eps),
                                                                       z, sp.oo), sp.Integer(1),
                 why="Once (eps/x) e^z dominates F_A, the time to reach z is that of gradient flow with rate eta/eps: "
                     "growth is logarithmic again."),
            Step("the regime boundary |g| = eps sits at z* = log(x/eps - 1)", gabs.subs(z, T.regime_end_margin), eps,
                 why="x/(1 + e^{z*}) = x/(x/eps) = eps.", domain={eps: (0.01, 0.5), x: (1.0, 3.0)}),
            Step("loss at the boundary L* = log(x/(x - eps))", T.loss.subs(z, T.regime_end_margin), T.regime_end_loss,
                 why="log(1 + e^{-z*}) = log(1 + eps/(x - eps)).", domain={eps: (0.01, 0.5), x: (1.0, 3.0)}),
            Step("L* = eps/x + O(eps^2)", sp.series(T.regime_end_loss, eps, 0, 2).removeO(), eps / x,
                 why="The sign regime (rapid norm growth) ends when the loss reaches about eps/x: a larger eps ends "
                     "it at a larger loss."),
            Step("lagged first moment: c_m = b1 c_m e^{xs} + (1 - b1)", A.beta1 * A.c_m * sp.exp(x * s) + 1 - A.beta1,
                 A.c_m.subs(A.x, x),
                 why="On the tail |g| ~ e^{-xw}, a steady step s per iteration gives g_{t-1} = g_t e^{xs}; the "
                     "stationary ratio m_t/g_t = c_m solves the first-moment recursion.",
                 domain={A.beta1: (0.05, 0.9), s: (0.001, 0.05), x: (0.2, 2.0)}),
            Step("lagged second moment: c_v^2 = b2 c_v^2 e^{2xs} + (1 - b2)",
                 A.beta2 * A.c_v.subs(A.x, x)**2 * sp.exp(2 * x * s) + 1 - A.beta2, A.c_v.subs(A.x, x)**2,
                 why="The same for v_t/g_t^2 (valid while b2 e^{2xs} < 1: otherwise v is dominated by old gradients "
                     "and the step shrinks, capping s below -log(b2)/(2x)).",
                 domain={A.beta2: (0.05, 0.9), s: (0.001, 0.05), x: (0.2, 2.0)}),
            Step("s -> 0: the lagged step is eta (the sign step)", sp.limit(A.step, s, 0, "+"), A.eta,
                 why="Without decay of the gradient the lags vanish: adam_tail_rate solves s = eta c_m(s)/c_v(s), which "
                     "is close to eta when eta << (1 - b2)/(2x)."),
        ],
        statement="On one separable logistic point with feature x: gradient flow grows the margin like log t; Adam "
                  "with tracked moments grows it linearly, z = z0 + x eta t, until |g| = eps, i.e. until the loss is "
                  "log(x/(x - eps)) ~ eps/x, and then behaves as gradient flow with rate eta/eps. With moment "
                  "averaging the linear rate is the root of s = eta c_m(s)/c_v(s).",
        id="slingshot.toy_norm_growth",
        assumptions=["one training point, label +1, feature x > 0 (separable)", "continuous time (flows)",
                     "Adam's moments track the gradient instantly (beta -> 0), except in the last three steps, "
                     "which take a geometrically decaying gradient"],
        claims=["slingshot.growth_rate", "slingshot.toy_tail_rate", "slingshot.no_slingshot_eps"],
    )


def _absorption() -> Proof:
    ls, ce = S.softmax_cross_entropy_expression(3)
    grads = [sp.diff(ce, li) for li in ls]
    K, p, est = S.collapse_gap_expression()
    d = sp.Symbol("Delta", positive=True)
    k = sp.Symbol("k", positive=True)
    gap = {ls[0]: d, ls[1]: 0, ls[2]: 0}
    pc = sp.exp(d) / (sp.exp(d) + k - 1)
    S_ = sp.Symbol("S", positive=True)
    gsum = 1 / S_ - 1 + (k - 1) * sp.exp(-d) / S_  # computed entries p_c - 1 and (K-1) x p_j, as functions of S
    return Proof(
        PAPER,
        "Float absorption: the softmax gradient sums to zero exactly, and stops doing so once p_c rounds to 1",
        [
            Step("exact arithmetic: sum_j dL/dl_j = 0", sp.Add(*grads), sp.Integer(0), domain="real",
                 why="dL/dl_j = p_j - [j = c] and sum_j p_j = 1: softmax is shift invariant (K = 3, class 0)."),
            Step("gap Delta: dL/dl_c = -(wrong mass)/(1 + wrong mass)", grads[0].subs(gap),
                 -2 * sp.exp(-d) / (1 + 2 * sp.exp(-d)),
                 why="Logits (Delta, 0, 0): p_c = 1/(1 + 2 e^{-Delta}) and dL/dl_c = p_c - 1."),
            Step("p_c = 1/S with S = 1 + (K-1) e^{-Delta}", pc, 1 / (1 + (k - 1) * sp.exp(-d)),
                 why="After max subtraction the correct class contributes exactly 1 to S. In float arithmetic p_c is "
                     "exactly 1, and dL/dl_c = p_c - 1 exactly 0, iff S rounds to 1, i.e. iff the wrong-class mass "
                     "(K-1) e^{-Delta} is at most u = 2^{-p} (half an ulp of 1).", domain={k: (2.0, 20.0)}),
            Step("grouped estimate: (K-1) e^{-Delta*} = 2^{-p}", (K - 1) * sp.exp(-est), 2**(-p),
                 why="Delta* = log(K - 1) + p log 2 is where the wrong-class mass reaches the absorption threshold; "
                     "float32 has p = 24.", domain={K: (2.0, 50.0), p: (10.0, 60.0)}),
            Step("float32, K = 2: Delta* = 24 log 2 = 16.636", sp.Float(S.collapse_gap_estimate(2), 30),
                 est.subs({K: 2, p: 24}), exact=False,
                 why="The package's collapse_gap_estimate against the closed form (the scan of the float32 loss, "
                     "collapse_gap, finds 16.636 on a 2^-10 grid)."),
            Step("unrounded S: p_c - 1 + (K-1) p_j = 0", gsum.subs(S_, 1 + (k - 1) * sp.exp(-d)), sp.Integer(0),
                 domain={k: (2.0, 20.0)},
                 why="With p_c = 1/S, p_j = e^{-Delta}/S and S = 1 + (K-1) e^{-Delta} the gradient entries sum to 0."),
            Step("S rounded to 1: the computed gradient sums to the wrong-class mass", sp.Subs(gsum, S_, 1),
                 (k - 1) * sp.exp(-d), domain={k: (2.0, 20.0)},
                 why="Once S rounds to 1, the entries are p_c - 1 = 0 (correct class) and e^{-Delta} > 0 (each wrong "
                     "class; representable far below 2^{-24}): the sum (K-1) e^{-Delta} is no longer 0, so every step "
                     "moves the classifier along a fixed direction (the drift of 'Grokking or Glitching?', 2026)."),
        ],
        statement="In exact arithmetic the softmax cross-entropy gradient sums to zero over the logits. In float "
                  "arithmetic with precision 2^{-p} the correct-class gradient is exactly zero once (K-1) e^{-Delta} "
                  "<= 2^{-p}, i.e. Delta >= log(K - 1) + p log 2 when the wrong classes are summed first (float32, "
                  "K = 2: 16.64), while the wrong-class entries stay positive.",
        id="slingshot.float_absorption",
        assumptions=["max-subtracted softmax; every wrong class at gap Delta", "round to nearest even"],
        claims=["slingshot.collapse_before_spike", "slingshot.absorption_threshold", "slingshot.no_slingshot_float64"],
    )


def _stablemax() -> Proof:
    x = sp.Symbol("x", real=True)
    s = S.stablemax_s_expression(x)
    xs = sp.symbols("x_0:3", real=True)
    svals = [S.stablemax_s_expression(xi) for xi in xs]
    tot = sp.Add(*svals)
    neg, pos = 1 / (1 - x), x + 1  # the two branches, read off the package's Piecewise
    return Proof(
        PAPER,
        "StableMax: s is C^1 at 0 and the outputs sum to one",
        [
            Step("the branches of s", sp.Matrix([s.args[0][0], s.args[1][0]]), sp.Matrix([pos, neg]), domain="real",
                 why="s(x) = x + 1 for x >= 0 and 1/(1 - x) for x < 0 (Prieto et al. 2025)."),
            Step("continuous at 0: s(0-) = s(0+) = 1", sp.Matrix([sp.limit(s, x, 0, "-"), sp.limit(s, x, 0, "+")]),
                 sp.Matrix([1, 1]), why="Both branches equal 1 at 0."),
            Step("C^1 at 0: s'(0-) = s'(0+) = 1", sp.Matrix([sp.diff(neg, x).subs(x, 0), sp.diff(pos, x).subs(x, 0)]),
                 sp.Matrix([1, 1]), why="d/dx 1/(1-x) = 1/(1-x)^2 = 1 at 0, and d/dx (x+1) = 1."),
            Step("s > 0 and increasing on x < 0", sp.diff(neg, x) * (1 - x)**2, sp.Integer(1),
                 domain={x: (-5.0, -0.01)},
                 why="s' = 1/(1-x)^2 > 0 and s = 1/(1-x) > 0 for x < 0 (and s' = 1, s >= 1 for x >= 0)."),
            Step("outputs sum to one", sp.Add(*[si / tot for si in svals]), sp.Integer(1), domain="real",
                 why="StableMax(x)_i = s(x_i)/sum_j s(x_j): a normalised positive vector (K = 3)."),
        ],
        statement="StableMax's map s is positive, increasing and continuously differentiable at 0 (s(0) = 1, "
                  "s'(0) = 1 from both sides), and StableMax(x) sums to one.",
        id="slingshot.stablemax",
        assumptions=["real logits"],
        claims=["slingshot.no_slingshot_stablemax"],
    )


def _ortho() -> Proof:
    w = sp.Matrix(sp.symbols("w_0:3", real=True))
    g = sp.Matrix(sp.symbols("g_0:3", real=True))
    gt = S.ortho_grad_expression(w, g)
    gp = g - (w.dot(g) / w.dot(w)) * w
    return Proof(
        PAPER,
        "⊥Grad is orthogonal to the weights and keeps the gradient norm",
        [
            Step("<w, g_perp> = 0", w.dot(gp), sp.Integer(0), domain="real",
                 why="g_perp = g - (w.g / w.w) w removes the component of g along w."),
            Step("<w, g~> = 0", w.dot(gt), sp.Integer(0), domain="real",
                 why="The rescaling multiplies g_perp by a scalar."),
            Step("||g~||^2 = ||g||^2", gt.dot(gt), g.dot(g), domain="real",
                 why="g~ = g_perp ||g|| / ||g_perp||: same norm as g (generic g not parallel to w)."),
            Step("||g_perp||^2 = ||g||^2 - (w.g)^2/||w||^2", gp.dot(gp), g.dot(g) - w.dot(g)**2 / w.dot(w),
                 domain="real",
                 why="Pythagoras: the rescaling factor ||g||/||g_perp|| >= 1, equal to 1 iff g is orthogonal to w."),
        ],
        statement="For w != 0 and g not parallel to w, ⊥Grad's output is orthogonal to w and has the norm of g.",
        id="slingshot.ortho_grad",
        assumptions=["w != 0, g not parallel to w (3-vectors; the identities are coordinate-wise the same in any "
                     "dimension)"],
        claims=["slingshot.no_slingshot_orthograd"],
    )


def proofs() -> list[Proof]:
    return [_adam_steady(), _toy(), _absorption(), _stablemax(), _ortho()]
