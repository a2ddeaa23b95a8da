r"""Derivations behind the C-VPR hop law and ACT bookkeeping (Abnar et al. 2023, arXiv:2310.08866).

The hop law of uniform C-VPR inputs is derived here, not quoted from the paper: every step compares a
first-principles computation with the expressions of :mod:`theory.hyper_ut` (``hop_tail_expr``,
``mean_hops_expr``, ``hop_tail_limit``, ``mean_hops_limit``, ``act_symbolic``).
"""

from __future__ import annotations

import sympy as sp

from theory import hyper_ut as H

from ._core import Proof, Step

PAPER = "hyper_ut"

K = H.VALUE_RANGE
k = H.HOPS


def _chains(n_hops: int) -> sp.Expr:
    """Number of increasing chains 0 < p_1 < ... < p_n <= K-1, as nested sums over the positions, evaluated."""
    ps = sp.symbols(f"q_1:{n_hops + 1}", integer=True)
    expr = sp.Integer(1)
    for i in reversed(range(n_hops)):
        lo = 1 if i == 0 else ps[i - 1] + 1
        expr = sp.summation(expr, (ps[i], lo, K - 1))
    return sp.expand(expr)


def _tail_recursion(n_hops: int) -> sp.Expr:
    r"""P(H >= n) from the Markov recursion of the hop rule: f_0(p) = 1,
    f_j(p) = (1/K) sum_{q=p+1}^{K-1} f_{j-1}(q) (a fresh uniform read lands on a later position q), at p = 0."""
    p, q = sp.symbols("p q", integer=True)
    f = sp.Integer(1)
    for _ in range(n_hops):
        f = sp.summation(f.subs(p, q), (q, p + 1, K - 1)) / K
    return sp.factor(f.subs(p, 0))


def _hop_law() -> Proof:
    steps = []
    for n in (2, 3, 4):
        steps.append(Step(
            f"#chains of {n} hops = C(K-1, {n})", _chains(n), H.hop_tail_expr(n) * K ** n,
            why="H >= n iff the first n reads form an increasing chain 0 < p_1 < ... < p_n <= K-1; nested sums over "
                "the positions count these chains (sympy evaluates the sums in closed form). The chains are the "
                f"{n}-subsets of {{1, ..., K-1}}.",
            domain={K: (3.0, 40.0)}))
    for n in (1, 2, 3, 4):
        steps.append(Step(
            f"recursion: P(H >= {n}) = C(K-1, {n}) / K^{n}", sp.expand(_tail_recursion(n)), H.hop_tail_expr(n),
            why="Positions strictly increase, so each read is a fresh uniform value on {0..K-1}: from position p the "
                "next hop happens to q > p with probability 1/K each. Unrolling this recursion n times from p = 0 "
                "gives the closed form (each chain contributes K^{-n}).",
            domain={K: (3.0, 40.0)}))
    for n in (1, 2, 3, 5):
        steps.append(Step(
            f"lim P(H >= {n}) = 1/{n}!", H.hop_tail_limit(n), 1 / sp.factorial(n, evaluate=False),
            why=f"C(K-1, {n}) / K^{n} = prod_{{i=1}}^{{{n}}} (K - i)/(i K) and each factor tends to 1/i (sympy limit).",
        ))
    return Proof(
        PAPER, "Hop law of uniform C-VPR inputs: P(H >= k) = C(K-1, k) K^-k -> 1/k!", steps,
        statement=r"For $x$ i.i.d. uniform on $\{0,\dots,K-1\}^L$ ($K\le L$), the C-VPR hop count satisfies "
                  r"$P(H\ge k)=\binom{K-1}{k}K^{-k}$, which tends to $1/k!$ as $K\to\infty$ (checked for small k; "
                  "the argument is the same for every k).",
        id="hyper_ut.hop_law",
        assumptions=["Entries of x are i.i.d. uniform on {0, ..., K-1} with K <= L.",
                     "The hop rule jumps p -> x[p] while x[p] > p, starting at p = 0."],
        claims=["hyper_ut.uniform_hops_shallow"],
    )


def _mean_hops() -> Proof:
    q = sp.symbols("q_0:5", nonnegative=True)
    mean = sum(j * q[j] for j in range(5))
    tails = sp.Add(*[sp.Add(*[q[j] for j in range(i, 5)], evaluate=False) for i in range(1, 5)], evaluate=False)
    summed = sp.Sum(H.hop_tail_expr(k), (k, 1, K - 1)).doit()  # sympy: Piecewise(closed form for K >= 1, ...)
    mean_as_tails = sp.simplify(summed.args[0][0] if isinstance(summed, sp.Piecewise) else summed)
    return Proof(
        PAPER, "Mean hop count (1 + 1/K)^(K-1) - 1 -> e - 1", [
            Step("E[H] = sum_{k>=1} P(H >= k) (tail sum)", mean, tails,
                 why="For a variable on {0, ..., 4} with P(H = j) = q_j: sum_j j q_j = sum_{k>=1} sum_{j>=k} q_j "
                     "(each j is counted once per k = 1..j); the same holds for any support.", domain="unit"),
            Step("sum_{k=1}^{K-1} C(K-1,k) K^-k = (1+1/K)^(K-1) - 1", mean_as_tails, H.mean_hops_expr(),
                 why="The tail sum with the hop law (tails vanish for k >= K), closed by sympy's summation, i.e. the "
                     "binomial theorem sum_{k=0}^{n} C(n, k) x^k = (1 + x)^n at n = K - 1, x = 1/K minus the k = 0 "
                     "term 1.",
                 domain={K: (2.0, 60.0)}),
            Step("lim E[H] = sum_k lim P(H >= k) = sum_{k>=1} 1/k!", H.mean_hops_limit(),
                 sp.Sum(1 / sp.factorial(k), (k, 1, sp.oo)),
                 why="sympy's limit of (1 + 1/K)^(K-1) - 1 equals the sum of the tail limits 1/k! (dominated "
                     "convergence: C(K-1, k) K^-k <= 1/k!), i.e. e - 1 = 1.718..."),
        ],
        statement=r"$\mathbb E[H]=\sum_{k\ge1}\binom{K-1}{k}K^{-k}=(1+1/K)^{K-1}-1\to e-1$.",
        id="hyper_ut.mean_hops",
        assumptions=["Entries of x are i.i.d. uniform on {0, ..., K-1} with K <= L."],
        claims=["hyper_ut.uniform_hops_shallow"],
    )


def _act() -> Proof:
    steps = []
    for N in (2, 3, 5):
        s = H.act_symbolic(N)
        steps.append(Step(f"N = {N}: sum of ACT weights = 1", sp.Add(*s.weights, evaluate=False), sp.Integer(1),
                          why="w_s = p_s for s < N and w_N = R = 1 - sum_{s<N} p_s: the remainder closes the sum, so "
                              "the output sum_s w_s h_s is a convex combination of the step states.", domain="unit"))
    s = H.act_symbolic(4)
    h, d = sp.symbols("h delta", real=True)
    steps += [
        Step("rho = N + R (N = 4)", s.ponder, sp.Add(4, s.remainder, evaluate=False),
             why="The ponder cost is the halting step plus the remainder, i.e. N plus the last ACT weight.",
             domain="unit"),
        Step("rho(p_1 + delta) - rho(p) = -delta", sp.Add(s.ponder.subs(s.p[0], s.p[0] + d), -s.ponder,
                                                           evaluate=False), -d,
             why="Within a region of constant N the ponder cost is linear in the early halting probabilities: raising "
                 "p_s (s < N) lowers rho one for one (what the ponder loss trains); p_N does not enter.",
             domain="unit"),
        Step("rho(p_N + delta) - rho(p) = 0", sp.Add(s.ponder.subs(s.p[-1], s.p[-1] + d), -s.ponder,
                                                      evaluate=False), sp.Integer(0),
             why="The last halting probability only decides N, not R.", domain="unit"),
        Step("equal states pass through", sp.Add(*[w * h for w in s.weights], evaluate=False), h,
             why="A convex combination of identical states h returns h.", domain="unit"),
        Step("worked case: threshold 0.99, p = 1/2", sp.Matrix([H.act([0.5] * 4).n_steps, H.act([0.5] * 4).ponder]),
             sp.Matrix([2, sp.Rational(5, 2)]),
             why="Cumulative sums 0.5, 1.0: the threshold 0.99 is first reached at N = 2, so R = 1 - 0.5 and "
                 "rho = 2 + 1/2 (theory.hyper_ut.act evaluated numerically)."),
    ]
    return Proof(
        PAPER, "ACT weights sum to one and rho = N + R", steps,
        statement=r"For halting probabilities $p_s$ and halting step $N$, the ACT weights "
                  r"$(p_1,\dots,p_{N-1},R)$ with $R=1-\sum_{s<N}p_s$ sum to one, $\rho=N+R$, and "
                  r"$\partial\rho/\partial p_s=-1$ for $s<N$.",
        id="hyper_ut.act",
        assumptions=["Graves-style ACT with threshold 1 - eps (the paper's exact variant is not confirmed)."],
        claims=["hyper_ut.act_bookkeeping"],
    )


def proofs() -> list[Proof]:
    return [_hop_law(), _mean_hops(), _act()]
