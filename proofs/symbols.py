r"""Derivations behind abstract symbols in template tasks (Boix-Adserà et al., "When can transformers reason with
abstract symbols?", ICLR 2024).

Notation as in :mod:`theory.symbols`: strings of length k with one-hot matrices X, Y; :math:`A=XX^\top`,
:math:`B=YY^\top`, :math:`C=XY^\top`; the kernel :math:`\kappa_{X,Y}(\beta,\gamma)=\mathbb E[\mathrm{softmax}(\beta
u)^\top(C+\gamma^2I)\mathrm{softmax}(\beta v)]` with :math:`u=\zeta+\gamma p`, :math:`v=\xi+\gamma p`. The kernel
steps check the package's own expansions (:func:`theory.symbols.kernel_taylor_coefficient`, built by Wick's formula
over matchings) against hand derivations, realised on explicit symbolic 3 x 3 matrices (general symmetric A, B,
general C: the Gaussian form of the expansion, ``binary=False``). These derivations are made here from the kernel's
definition; the paper computes the same derivatives with a computer-algebra system.
"""

from __future__ import annotations

import functools

import sympy as sp

from theory import symbols as S

from ._core import Proof, Step

PAPER = "symbols"
_k = 3


@functools.cache
def _mats():
    """Explicit k x k symbolic matrices: A, B symmetric (general Gaussian covariances), C general."""
    def sym(name):
        return sp.Matrix(_k, _k, lambda i, j: sp.Symbol(f"{name}_{min(i, j)}{max(i, j)}", real=True))
    C = sp.Matrix(_k, _k, lambda i, j: sp.Symbol(f"c_{i}{j}", real=True))
    return sym("a"), sym("b"), C


def _one():
    return sp.ones(_k, 1)


def _beta2_hand(A, B, C, M):
    r"""Hand derivation of the :math:`\beta^2` coefficient. With :math:`P=I-\mathbf 1\mathbf 1^\top/k`,
    :math:`\mathrm{softmax}_a(\beta u)=\frac1k+\frac\beta k(Pu)_a+\frac{\beta^2}{2k}\big[(Pu)_a^2-\frac1k\|Pu\|^2\big]
    +O(\beta^3)`, so the coefficient of :math:`\beta^2` of :math:`\mathbb E[\mathrm{softmax}(\beta u)^\top M
    \mathrm{softmax}(\beta v)]` is :math:`k^{-2}\sum_{ab}M_{ab}(PCP)_{ab}+\frac1{2k^2}(e_A^\top M\mathbf 1+
    \mathbf 1^\top Me_B)` with :math:`e_A=\mathrm{diag}(PAP)-\mathrm{tr}(PAP)\mathbf 1/k` (Cov(u) = A,
    Cov(u, v) = C, Cov(v) = B)."""
    k = A.shape[0]
    P = sp.eye(k) - sp.ones(k, k) / k
    pcp = P * C * P
    eA = sp.Matrix([(P * A * P)[i, i] for i in range(k)]) - (P * A * P).trace() * _one() / k
    eB = sp.Matrix([(P * B * P)[i, i] for i in range(k)]) - (P * B * P).trace() * _one() / k
    t1 = sum(M[a, b] * pcp[a, b] for a in range(k) for b in range(k)) / k ** 2
    t2 = ((eA.T * M * _one())[0] + (_one().T * M * eB)[0]) / (2 * k ** 2)
    return t1 + t2


def _beta0() -> Proof:
    A, B, C = _mats()
    g = S.GAMMA
    u = sp.Matrix(sp.symbols(f"u_0:{_k}", real=True))
    sm = sp.Matrix([sp.exp(S.BETA * u[i]) for i in range(_k)]) / sum(sp.exp(S.BETA * u[i]) for i in range(_k))
    uniform = _one() / _k
    quad = (uniform.T * (C + g ** 2 * sp.eye(_k)) * uniform)[0]
    closed = S.realize_kernel_expr(S.kernel_beta0_expr(), A, B, C)
    wick = sum(g ** s * S.kernel_taylor_coefficient(0, s, binary=False) for s in range(0, 9, 2))
    return Proof(
        PAPER, "kappa(0, gamma) in closed form",
        [
            Step("softmax(beta u) at beta = 0 is uniform", sm.subs(S.BETA, 0), uniform,
                 why="Every logit is 0, so each of the k weights is e^0 / (k e^0) = 1/k, whatever u is.",
                 domain="real"),
            Step("kappa(0, gamma) = (1/k)1'(C + gamma^2 I)(1/k)1 = gamma^2/k + 1'C1/k^2", quad, closed,
                 why="With uniform weights the integrand no longer depends on the Gaussians; the quadratic form of "
                     "the uniform vector in C + gamma^2 I is gamma^2 k/k^2 plus the sum of the entries of C = XY^T "
                     "over k^2 (theory.symbols.kernel_beta0_expr, realised on a general 3 x 3 C).", domain="real"),
            Step("Wick expansion at beta^0 reproduces the closed form", S.realize_kernel_expr(wick, A, B, C), closed,
                 why="The beta^0 coefficients of the matching expansion (theory.symbols.kernel_taylor_coefficient(0, "
                     "s) for s = 0..8) sum to the closed form: no Gaussian factor survives at beta^0, the gamma^2 "
                     "comes from the delta of the value matrix C + gamma^2 I.", domain="real"),
        ],
        statement=r"At $\beta=0$, $\kappa_{X,Y}(0,\gamma)=\gamma^2/k+k^{-2}\mathbf 1^\top XY^\top\mathbf 1$: the "
                  "kernel sees the strings only through the number of position pairs holding the same token.",
        id="symbols.kernel_beta0",
        assumptions=["kappa is the transformer random-features kernel with values read through XY^T + gamma^2 I",
                     "both strings have the same length k (they share the positional draw p)"],
    )


def _beta2() -> Proof:
    A, B, C = _mats()
    g = S.GAMMA
    I3 = sp.eye(_k)
    c20 = S.realize_kernel_expr(S.kernel_taylor_coefficient(2, 0, binary=False), A, B, C)
    series = sum(g ** s * S.kernel_taylor_coefficient(2, s, binary=False) for s in range(0, 9, 2))
    shifted = _beta2_hand(A + g ** 2 * I3, B + g ** 2 * I3, C + g ** 2 * I3, C + g ** 2 * I3)
    d22 = S.kernel_derivative(2, 2)
    L = S.kernel_invariants(d22)
    tr_c = next(i.symbol for i in L if i.name == "tr(XYᵀ)")
    sum_c = next(i.symbol for i in L if i.name == "1ᵀXYᵀ1")
    P = I3 - sp.ones(_k, _k) / _k
    return Proof(
        PAPER, "Wick expansion of the first derivatives of kappa",
        [
            Step("beta^2 coefficient at gamma = 0 (Wick) = hand expansion of the softmax", c20, _beta2_hand(A, B, C, C),
                 why="Second-order expansion of both softmaxes, E[(Pu)_a (Pv)_b] = (PCP)_ab and "
                     "E[(Pu)_a^2] = (PAP)_aa; the matching enumeration of "
                     "theory.symbols.kernel_taylor_coefficient(2, 0, binary=False) "
                     "agrees term by term (general symmetric A, B and general C, k = 3).", domain="real"),
            Step("beta^2 coefficient for every gamma: A, B, C -> A + gamma^2 I, B + gamma^2 I, C + gamma^2 I",
                 S.realize_kernel_expr(series, A, B, C), shifted,
                 why="The positional draw adds gamma^2 I to every covariance (Cov(u) = A + gamma^2 I, Cov(u, v) = "
                     "C + gamma^2 I) and to the value matrix; the Wick coefficients of beta^2 gamma^s, s = 0..8, "
                     "summed, equal the hand formula with shifted matrices.", domain="real"),
            Step("the gamma^2 part: 2 tr(PC)/k^2 ... = 2 tr(C)/k^2 - 2 1'C1/k^3",
                 sp.expand((P * C * P).trace() + sum(C[a, b] * P[a, b] for a in range(_k) for b in range(_k)))
                 / _k ** 2, (2 * C.trace() - 2 * (sp.ones(1, _k) * C * sp.ones(_k, 1))[0] / _k) / _k ** 2,
                 why="Collecting gamma^2 in the shifted formula: e_{A + gamma^2 I} = e_A and 1'e_A = 0, leaving "
                     "k^-2 [tr(PCP) + sum_ab C_ab P_ab]; tr(PCP) = tr(PC) = tr(C) - 1'C1/k.", domain="real"),
            Step("d^2_beta d^2_gamma kappa(0,0) = c1 1'XY'1 + c2 tr(XY')", d22,
                 sp.Integer(4) * (2 * tr_c / S.K ** 2 - 2 * sum_c / S.K ** 3),
                 why="The derivative is 2! 2! times the coefficient of beta^2 gamma^2 (previous step, with the "
                     "invariants tr(XY^T) and 1'XY^T1): the form printed in the paper's computer-algebra companion, "
                     "here with c1 = -8/k^3, c2 = 8/k^2.", domain="positive"),
        ],
        statement=r"The $\beta^2$ Taylor coefficient of $\kappa$ is $k^{-2}\sum_{ab}M_{ab}(PC'P)_{ab}+\frac1{2k^2}"
                  r"(e_{A'}^\top M\mathbf 1+\mathbf 1^\top Me_{B'})$ with $A'=A+\gamma^2I$, $C'=M=C+\gamma^2I$, "
                  r"and $\partial_\beta^2\partial_\gamma^2\kappa(0,0)=8\,\mathrm{tr}(XY^\top)/k^2-8\,\mathbf 1^\top "
                  r"XY^\top\mathbf 1/k^3$. Both first derivatives read XY^T only: they vanish for strings with no "
                  "shared token.",
        id="symbols.kernel_wick_first_derivatives",
        assumptions=["(zeta, xi, p) jointly Gaussian, p independent of (zeta, xi) with covariance I"],
    )


def _disjoint() -> Proof:
    A, B, C = _mats()
    Z = sp.zeros(_k, _k)
    steps = []
    for s1, s2 in ((4, 2), (4, 4)):
        e = S.kernel_taylor_coefficient(s1, s2)
        d = S.disjoint_tokens(e)
        steps.append(Step(
            f"[beta^{s1} gamma^{s2}] kappa with XY^T = 0 is a function of XX^T, YY^T",
            S.realize_kernel_expr(e, A, B, Z), S.realize_kernel_expr(d, A, B, C),
            why="Left: the full expansion (theory.symbols.kernel_taylor_coefficient, strings: 0/1 entries, unit "
                "diagonals) realised with C = 0. Right: theory.symbols.disjoint_tokens of it, whose invariants read "
                f"only A = XX^T and B = YY^T ({', '.join(i.name for i in S.kernel_invariants(d)) or 'none'}); "
                "realised with a general C, which it never reads.", domain="real"))
    e = S.kernel_taylor_coefficient(2, 0)
    steps.append(Step("the beta^2 coefficient vanishes without shared tokens",
                      S.realize_kernel_expr(e, A, B, Z), sp.Integer(0),
                      why="Every term of the beta^2 coefficient carries a factor of C (the value matrix XY^T, or a "
                          "cross covariance), so strings of disjoint tokens get no beta^2 signal at all.",
                      domain="real"))
    return Proof(
        PAPER, "disjoint tokens: the kernel reads only the equality patterns",
        steps,
        statement=r"If x and y share no token then $XY^\top=0$, $\zeta$ and $\xi$ are independent, and every term of "
                  r"the expansion of $\kappa_{X,Y}$ is a polynomial in the entries of $XX^\top$ and $YY^\top$: between "
                  r"a test string of unseen tokens and a training string the kernel sees only their templates. The "
                  r"first template-dependent term appears at order $\beta^4\gamma^2$ "
                  r"($\mathbf 1^\top XX^\top YY^\top\mathbf 1/k^4$).",
        id="symbols.kernel_disjoint_tokens",
        assumptions=["x and y have no token in common", "one-hot strings: XX^T, YY^T have 0/1 entries, unit diagonal"],
    )


def _energy() -> Proof:
    n, d, q, c = sp.symbols("n d q c", positive=True)
    i = sp.Symbol("i", integer=True, positive=True)
    a, b = n / 2, (d - n) / 2
    law = S.projected_energy_expr()
    nstar = sp.solve(sp.Eq(law, q), n)[0]  # theory's n, d are the positive symbols n, d
    dd = d
    return Proof(
        PAPER, "expected projected energy n/d and the inverse scaling law",
        [
            Step("E ||P_S g||^2/||g||^2 = sum over n coordinates of E g_i^2/||g||^2", sp.Sum(1 / d, (i, 1, n)).doit(),
                 law,
                 why="Rotate S onto the first n coordinates (g ~ N(0, I_d) is rotation invariant). The d ratios "
                     "g_i^2/||g||^2 are exchangeable and sum to 1, so each has mean 1/d."),
            Step("mean of Beta(n/2, (d-n)/2) = n/d", (sp.beta(a + 1, b) / sp.beta(a, b)).rewrite(sp.gamma), n / d,
                 why="||P_S g||^2 ~ chi^2_n and ||(I - P_S) g||^2 ~ chi^2_(d-n) are independent, so the fraction is "
                     "Beta(n/2, (d-n)/2); its mean B(a+1, b)/B(a, b) = Gamma(a+1)Gamma(a+b)/(Gamma(a)Gamma(a+b+1)) "
                     "= a/(a+b) = n/d (the same value by a second route).", domain={n: (0.2, 3.0), d: (3.5, 9.0)}),
            Step("copy threshold: n/d = q gives n* = q d", nstar, q * dd,
                 why="Copying a fresh token needs a fixed fraction q of its embedding's energy in the span the "
                     "value-output map was trained on; solving n/d = q (theory.symbols.projected_energy_expr)."),
            Step("log-log slope: log n*(c d) - log n*(d) = slope * log c",
                 sp.log(nstar.subs(dd, c * dd)) - sp.log(nstar), S.INVERSE_SCALING_SLOPE * sp.log(c),
                 why="n* is linear in d, so multiplying d by c multiplies n* by c: the slope of log n* against log d "
                     "is theory.symbols.INVERSE_SCALING_SLOPE = 1 (the inverse scaling law)."),
        ],
        statement=r"For a fresh Gaussian token embedding $g\in\mathbb R^d$ and the span S of n training-token "
                  r"embeddings, $\mathbb E\|P_Sg\|^2/\|g\|^2=n/d$ exactly ($n\le d$); hence the number of training "
                  r"tokens needed to copy an unseen token grows linearly in the embedding dimension, n* = q d.",
        id="symbols.projected_energy",
        assumptions=["token embeddings i.i.d. N(0, I_d) (rotation invariant)", "n <= d",
                     "copying needs a fixed fraction q of the fresh embedding's energy in the trained span (the "
                     "mechanism is derived here, not quoted from the paper)"],
    )


def proofs() -> list[Proof]:
    return [_beta0(), _beta2(), _disjoint(), _energy()]
