r"""Derivations behind the exact locality calculators of :mod:`theory.locality` (Abbe, Bengio, Lotfi, Sandon,
Saremi, "How Far Can Transformers Reason? The Globality Barrier and Inductive Scratchpad", NeurIPS 2024).

Notation: X uniform on {0,1}^n, W its weight (the histogram), Y the parity of an index set T, S the observed
indices, A = T \ S, N = n - |S|, a = |A|, s the weight of the N unobserved bits, M = N - 2s the sum of their
signs, and :math:`\beta_s=\mathbb E[(-1)^{|X_A|}\mid s]`. The closed form
:math:`I(X_S,W;Y)=\mathbb E_s[1-h(\frac{1+\beta_s}2)]` and the cycle-task statements are derived here (and
by exhaustive enumeration), not quoted from the paper.
"""

from __future__ import annotations

import math

import sympy as sp

from theory import locality as L

from ._core import Proof, Step

PAPER = "locality"

N = sp.Symbol("N", positive=True)
M = sp.Symbol("M", real=True)
z = sp.Symbol("z", real=True)
x = sp.Symbol("x", positive=True)
b = sp.Symbol("beta", real=True)
d = sp.Symbol("delta", positive=True)
t = sp.Symbol("t", real=True)
ncyc = sp.Symbol("n", positive=True)
sw = sp.Symbol("s", real=True)


def _rademacher_moment(k: int):
    """E[M^k] for M a sum of N independent signs: the k-th derivative of cosh(t)^N at 0."""
    return sp.simplify(sp.diff(sp.cosh(t) ** N, t, k).subs(t, 0))


def _expect_over_weight(poly):
    """E over s ~ Bin(N, 1/2) of a polynomial in M = N - 2s (moments substituted term by term)."""
    p = sp.Poly(sp.expand(poly), M)
    return sum(coeff * _rademacher_moment(k) for (k,), coeff in p.terms())


def _unevaluated_inverse_binomial(n: int, k: int):
    return sp.Pow(sp.binomial(n, k, evaluate=False), -1, evaluate=False)


def _beta_squared() -> Proof:
    n_check = 8
    steps = []
    for a in (2, 3):
        points = [(s, sp.Rational(v.numerator, v.denominator)) for s, v in enumerate(L.hypergeometric_betas(n_check, a))]
        lhs = sp.expand(sp.interpolate(points, sw))
        rhs = L.beta_polynomial(a, N=n_check, M=n_check - 2 * sw)
        steps.append(Step(
            f"Krawtchouk betas = e_{a}(signs)/C(N,{a}) at N = {n_check}", lhs, rhs,
            why="Given the weight s the a-subsets of the unobserved bits are exchangeable, so beta_s = E[chi_A | s] is "
                "the symmetrisation e_a(eps)/C(N,a), a function of M = sum of the signs. theory.locality computes beta_s "
                "from the coefficients of (1-z)^a (1+z)^(N-a); beta_polynomial uses Newton's identities with power sums "
                "p_odd = M, p_even = N. Left: the polynomial in s interpolating the N + 1 Krawtchouk values; "
                "right: Newton's identities at M = N - 2s.", domain="real"))
    for a in (1, 2, 3):
        steps.append(Step(
            f"E_s[beta_s^2] = 1/C(N,{a}) for symbolic N", _expect_over_weight(L.beta_polynomial(a) ** 2),
            1 / sp.binomial(N, a, evaluate=False),
            why="Average the square of the polynomial in M over s ~ Bin(N, 1/2) with the moments of a sum of N signs "
                "(derivatives of cosh(t)^N at 0). In general: E[e_a^2] = sum over pairs of a-subsets of "
                "E[chi_B chi_B'] = C(N,a) by orthonormality of characters, so E[beta^2] = C(N,a)/C(N,a)^2.",
            domain={N: (4.0, 30.0)}))
    cases = [(4, 2), (6, 3), (8, 4), (10, 5), (10, 1), (10, 2), (20, 10), (40, 20)]
    lhs = sp.Matrix([sp.Rational(L.beta_squared_mean(n, a).numerator, L.beta_squared_mean(n, a).denominator)
                     for n, a in cases])
    rhs = sp.Matrix([_unevaluated_inverse_binomial(n, a) for n, a in cases])
    steps.append(Step(
        "beta_squared_mean(N, a) = 1/C(N, a), exact rationals", lhs, rhs,
        why="theory.locality.beta_squared_mean sums K_s^2 / (C(N,s) 2^N) in exact rational arithmetic for (N, a) = "
            + ", ".join(f"({n},{a})" for n, a in cases) + "."))
    return Proof(
        PAPER, "Mean squared hypergeometric bias E[beta^2] = 1/C(N, a)", steps,
        statement=r"For s ~ Bin(N, 1/2), $\mathbb E_s[\beta_s^2]=1/\binom Na$: $\beta_s$ is the orthogonal projection "
                  r"of the character $\chi_A$ on the symmetric functions of the N unobserved bits.",
        id="locality.beta_squared_mean",
        assumptions=["X uniform on {0,1}^n; the histogram of a binary string is its weight."],
        claims=["locality.parity_mi_closed_form"])


def _small_mi() -> Proof:
    expr = L.bit_information_expr(b)
    series = sp.series(expr, b, 0, 12).removeO()
    coeffs = sum(sp.Rational(L.bit_information_series_coefficient(k).numerator,
                             L.bit_information_series_coefficient(k).denominator) * b ** (2 * k) for k in range(1, 6))
    n_big, k_big = 200, 3
    ratio = L.sparse_parity_mi(n_big, range(k_big), []) * 2 * math.log(2) * math.comb(n_big, k_big)
    return Proof(
        PAPER, "Small-bias expansion 1 - h((1+beta)/2) = beta^2/(2 ln 2) + O(beta^4)",
        [
            Step("Taylor series of 1 - h((1+beta)/2) to order beta^10", series, coeffs / sp.log(2),
                 why="[(1+b) ln(1+b) + (1-b) ln(1-b)]/2 = sum_k b^(2k)/(2k(2k-1)): the odd terms cancel, and the "
                     "leading term is b^2/(2 ln 2), so a small MI is E[beta^2]/(2 ln 2) = 1/(2 ln 2 C(N,a)) up to "
                     "O(E beta^4). theory.locality evaluates small biases by this series (no cancellation), larger "
                     "ones by the closed form.",
                 domain={b: (-0.5, 0.5)}),
            Step(f"sparse_parity_mi({n_big}, |T|={k_big}, S=empty) x 2 ln 2 C({n_big},{k_big})", sp.Float(ratio, 17),
                 sp.Integer(1),
                 why="The closed form against its leading term at N = 200, a = 3: the relative correction is "
                     "O(E beta^4 / E beta^2) = O(1/N), here 1.1e-5. (For a near N/2 the extreme weights, e.g. "
                     "beta_0 = 1, keep it at 8-11% for N = 30..60: the leading term is a small-a approximation.)",
                 exact=False, rtol=1e-4),
        ],
        statement=r"$1-h(\tfrac{1+\beta}2)=\sum_{k\ge1}\frac{\beta^{2k}}{2k(2k-1)\ln2}=\frac{\beta^2}{2\ln 2}+O(\beta^4)$, "
                  r"so $I(X_S,W;Y)\approx 1/(2\ln2\binom Na)$ when $a\ll N$.",
        id="locality.small_mi_expansion",
        claims=["locality.parity_mi_closed_form"])


def _full_information() -> Proof:
    n7 = 7
    k0 = L.krawtchouk_coefficients(n7, 0)
    kN = L.krawtchouk_coefficients(n7, n7)
    ones = [L.sparse_parity_mi(6, [0, 1, 2], S) for S in ([0, 1, 2], [0, 1, 2, 4], [3, 4, 5], [1, 3, 4, 5])]
    return Proof(
        PAPER, "MI is one bit when S contains T or its complement",
        [
            Step(f"a = 0: sum_s K_s z^s = (1+z)^{n7}", sum(c * z ** s for s, c in enumerate(k0)),
                 sp.Pow(1 + z, n7, evaluate=False),
                 why="With every parity bit observed (S contains T), A is empty: K_s = C(N,s), so beta_s = 1 for every s.",
                 domain="real"),
            Step(f"a = N: sum_s K_s z^s = (1-z)^{n7}", sum(c * z ** s for s, c in enumerate(kN)),
                 sp.Pow(1 - z, n7, evaluate=False),
                 why="With S containing T's complement, every unobserved bit is in A: K_s = (-1)^s C(N,s), "
                     "beta_s = (-1)^s: the histogram (total weight) then reveals the parity.", domain="real"),
            Step("1 - h((1+beta)/2) at beta = 1 - delta", L.bit_information_expr(1 - d),
                 (2 - d) * sp.log(2 - d) / (2 * sp.log(2)) + d * sp.log(d) / (2 * sp.log(2)),
                 why="As delta -> 0 the first term tends to 2 ln 2 / (2 ln 2) = 1 and delta ln delta -> 0: a bias of "
                     "+-1 carries one bit, so the expectation over s is 1.", domain={d: (0.01, 0.9)}),
            Step("sparse_parity_mi(6, T={0,1,2}, S) for S = T, T+{4}, T^c, T^c+{1}", sp.Matrix([sp.Float(v) for v in ones]),
                 sp.Matrix([1, 1, 1, 1]), why="The implementation returns exactly one bit in all four cases."),
        ],
        statement=r"$I(X_S,W;Y)=1$ bit when $S\supseteq T$ or $S\supseteq T^c$ (T non-empty).",
        id="locality.full_information",
        claims=["locality.parity_mi_closed_form"])


def _count_difference_polynomial(n: int):
    """sum_m x^m sum_o |c_1(o) - c_0(o)| over the observed classes of m of the 2n edges (theory counts)."""
    return sum(x ** m * sum(abs(c1 - c0) for c0, c1 in L.cycle_observation_counts(n, m).values())
               for m in range(2 * n + 1))


def _cycle() -> Proof:
    ns = range(2, 9)
    polys = [_count_difference_polynomial(n) for n in ns]
    lhs_zero = sp.Matrix(polys)
    rhs_zero = sp.Matrix([sp.Mul(x ** n, sp.expand(p / x ** n), evaluate=False) for n, p in zip(ns, polys)])
    top = sp.Matrix([L.cycle_mi_exact(n, 2 * n - 2) for n in ns])
    top_rhs = sp.Matrix([sp.Subs(L.cycle_mi_two_missing(ncyc), ncyc, n) for n in ns])
    three = sp.Matrix([L.cycle_mi_exact(n, 2 * n - 3) for n in range(3, 9)])
    three_rhs = sp.Matrix([sp.Subs((2 * ncyc - 4) / (2 * ncyc - 1), ncyc, n) for n in range(3, 9)])
    sep = sp.Matrix([sum(abs(c1 - c0) for c0, c1 in L.cycle_observation_counts(n, m).values())
                     for n in ns for m in (2 * n - 1, 2 * n)])
    sep_rhs = sp.Matrix([2 * sp.binomial(2 * n, m, evaluate=False) for n in ns for m in (2 * n - 1, 2 * n)])
    return Proof(
        PAPER, "Cycle task: no information below n edges, all of it from 2n - 1 edges",
        [
            Step("x^n divides sum_m x^m sum_o |c_1(o) - c_0(o)| (n = 2..8)", lhs_zero, rhs_zero,
                 why="c_y(o) counts the m-subsets of the 2n edges whose marked observed subgraph has isomorphism class o "
                     "under label y (theory.locality.cycle_observation_counts, exhaustive). A vanishing coefficient of "
                     "x^m means both labels induce the same law of the observation, i.e. I(Y; O_m) = 0 exactly: for every "
                     "m <= n - 1. Reason: fewer than n edges never join a and b (distance n in the 2n-cycle) and never "
                     "close a cycle, and the paths around a and around b have the same law under both labels."),
            Step("sum_o |c_1 - c_0| = 2 C(2n, m) for m = 2n-1, 2n (n = 2..8)", sep, sep_rhs,
                 why="The two labels never produce the same class: with one edge missing, label 0 shows a complete "
                     "n-cycle and label 1 a path of 2n - 1 edges. Total variation 1 means I(Y; O_m) = H(Y) = 1 bit."),
            Step("I(2n-2) = 1 - n/C(2n,2) for n = 2..8", top, top_rhs,
                 why="theory.locality.cycle_mi_exact (enumeration) against the closed form cycle_mi_two_missing."),
            Step("closed form at m = 2n-2: 1 - n / C(2n, 2) = (2n-2)/(2n-1)", L.cycle_mi_two_missing(ncyc),
                 (2 * ncyc - 2) / (2 * ncyc - 1),
                 why="Two missing edges: of the C(2n,2) pairs, label 1 leaves two (n-1)-paths with a and b at the same "
                     "offset p only for the n opposite pairs; label 0 leaves two (n-1)-paths with a at offset p and b "
                     "at q for the n^2 pairs with one edge per cycle (and a complete cycle otherwise). Only the n classes "
                     "p = q are ambiguous, one subset per label each, so H(Y|O) = n * 2/(2 C(2n,2)) = 1/(2n-1).",
                 domain={ncyc: (2.0, 20.0)}),
            Step("I(2n-3) = (2n-4)/(2n-1) for n = 3..8 (observed pattern)", three, three_rhs,
                 why="With three edges missing every ambiguous class again has equal counts under both labels, and "
                     "the enumeration gives H(Y|O) = 3/(2n-1) for every n <= 8; a proof for general n is not given here."),
        ],
        statement="For the cycle task with a uniformly random m-subset of the 2n edges observed (query marked), "
                  "I(Y; O_m) = 0 exactly for m <= n - 1, = 1 bit for m >= 2n - 1, and = (2n-2)/(2n-1) at m = 2n - 2 "
                  "(enumeration for n = 2..8; the m = 2n - 2 value also by a counting argument for every n). The "
                  "locality of the task therefore lies strictly between n - 1 and 2n - 1 edges.",
        id="locality.cycle_mi",
        assumptions=["Edges are listed in uniformly random order under random names, so observing m edge slots is "
                     "observing a uniform m-subset up to isomorphism; the query vertices are always visible."],
        claims=["locality.cycle_mi_barrier"])


def _dfs_bound() -> Proof:
    nn = sp.Symbol("n", positive=True)
    return Proof(
        PAPER, "A DFS step is fixed by three tokens with probability 1/(2n)",
        [
            Step("dfs_witness_information_bound(16, t) for t = 0, 7, 14, 15",
                 sp.Matrix([sp.Float(L.dfs_witness_information_bound(16, tt), 17) for tt in (0, 7, 14, 15)]),
                 sp.Matrix([sp.log(30 - tt, 2) / 32 for tt in (0, 7, 14)] + [(1 + sp.log(16, 2) / 2) / 32]),
                 why="The slot holds the edge leaving x_t with probability 1/(2n), independently of the names and the "
                     "histogram, and then reveals the next name, so I >= H(next | hist)/(2n). Given the histogram the "
                     "next name is uniform over the 2n - 2 - t unvisited names other than b (t <= n - 2), or at the "
                     "last step a (probability 1/2) or b hidden among the n names counted three times: "
                     "H = 1 + log2(n)/2. Both are at least log2(n)/(2n).",
                 exact=False),
            Step("log2(n)/(2n) >= n^-2 for n >= 2", sp.log(nn, 2) / (2 * nn) - nn ** -2,
                 (nn * sp.log(nn) - 2 * sp.log(2)) / (2 * nn ** 2 * sp.log(2)),
                 why="n ln n >= 2 ln 2 for n >= 2, so the witness information is above the n^-2 threshold at every n: "
                     "each DFS step has locality at most 3 (beyond the histogram), independent of n.",
                 domain={nn: (2.0, 100.0)}),
        ],
        statement=r"For the witness S = {x_t, the source and target of one edge slot}, "
                  r"$I(X_S;x_{t+1}\mid\mathrm{Hist})\ge H(x_{t+1}\mid\mathrm{Hist})/(2n)\ge\log_2(n)/(2n)$.",
        id="locality.dfs_witness",
        claims=["locality.ar_locality_scratchpads"])


def proofs() -> list[Proof]:
    return [_beta_squared(), _small_mi(), _full_information(), _cycle(), _dfs_bound()]
