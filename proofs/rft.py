"""Derivations of vanishing gradients in reinforcement finetuning (Razin et al., ICLR 2024), step by step.

Four proofs: (1) the policy-gradient identity with baseline and the softmax chain rule, for one step
(explicit ``K = 3``) and two steps (``K = 2``, every logit of every prefix), against sympy's derivative of
the enumerated expected reward; (2) the bounds: token-level norm, martingale increments, Jensen,
Cauchy-Schwarz, and the implication to the paper's ``6 L gamma STD^(2/3)`` form when ``STD <= 1``;
(3) exponent 1 is attained (``K = 2``); (4) the RFT/SFT gradient-flow ODEs and their ``K = 2`` time
integrals with their asymptotics.

Inequalities are proved through an identity whose one side is manifestly non-negative (a sum of squares
or of products of non-negative numbers); the ``why`` says which. The martingale route is [derived] (the
derivation is reconstructed here; the paper's own proof is not available).
"""

from __future__ import annotations

import itertools

import sympy as sp

from theory import rft as R

from ._core import Proof, Step

PAPER = "rft"


def _softmax(zs):
    Z = sum(sp.exp(z) for z in zs)
    return [sp.exp(z) / Z for z in zs]


def _single_step() -> Proof:
    K = 3
    z = sp.symbols(f"z0:{K}", real=True)
    r = sp.symbols(f"r0:{K}", real=True)
    pi = _softmax(z)
    V = sum(p * rr for p, rr in zip(pi, r))
    grad = sp.Matrix([sp.diff(V, zj) for zj in z])
    dlog = sp.Matrix(K, K, lambda k, j: sp.diff(sp.log(pi[k]), z[j]))  # row k: d log pi_k / d z_j
    steps = [
        Step("softmax Jacobian: dlog pi_k/dz_j = delta_kj - pi_j", dlog,
             sp.Matrix(K, K, lambda k, j: (1 if k == j else 0) - pi[j]), domain="real",
             why="log pi_k = z_k - log sum_u exp(z_u); differentiate."),
        Step("log-derivative trick: dV/dz = E[r dlog p]", grad,
             sp.Matrix([sum(pi[k] * r[k] * dlog[k, j] for k in range(K)) for j in range(K)]), domain="real",
             why="dp_k = p_k dlog p_k, so grad sum_k p_k r_k = sum_k p_k r_k grad log p_k."),
        Step("baseline: E[dlog p] = 0", sp.Matrix([sum(pi[k] * dlog[k, j] for k in range(K)) for j in range(K)]),
             sp.zeros(K, 1), domain="real",
             why="sum_k p_k grad log p_k = grad sum_k p_k = grad 1 = 0; so any constant baseline may be subtracted."),
        Step("single step: dV/dz = pi * (r - V)", grad, sp.Matrix([pi[j] * (r[j] - V) for j in range(K)]),
             domain="real", why="Insert delta_kj - pi_j into the log-derivative form: pi_j r_j - pi_j V."),
        Step("shift invariance: 1^T dV/dz = 0", sum(grad), sp.Integer(0), domain="real",
             why="sum_j pi_j (r_j - V) = V - V; softmax is invariant to adding a constant to all logits."),
    ]
    pg = R.policy_gradient_identity(2, 2)
    # martingale (recursion) form of the same gradient, L = 2, K = 2, built from Q-values independently
    zz = pg["symbols"]["logits"]  # order: level 0 (2), level 1 prefix 0 (2), prefix 1 (2)
    rr = pg["symbols"]["rewards"]  # r_00, r_01, r_10, r_11
    pi0 = _softmax(zz[0:2])
    pi1 = [_softmax(zz[2:4]), _softmax(zz[4:6])]
    Q1 = [pi1[h][0] * rr[2 * h] + pi1[h][1] * rr[2 * h + 1] for h in range(2)]
    Q0 = pi0[0] * Q1[0] + pi0[1] * Q1[1]
    mart = [pi0[v] * (Q1[v] - Q0) for v in range(2)]
    for h in range(2):
        mart += [pi0[h] * pi1[h][v] * (rr[2 * h + v] - Q1[h]) for v in range(2)]
    steps += [
        Step("L=2 identity: autodiff of enumerated V = E[(r-V) sum_l J_l^T(e - pi_l)]", pg["lhs"], pg["rhs"],
             domain="real", why="Product rule over the L factors of p(y): grad log p = sum_l J_l^T (e_{y_l} - pi_l), "
                                "with the baseline V subtracted (step 'baseline')."),
        Step("L=2 martingale form: grad_{f(h)} V = P(h) pi(.|h) * (Q(h.) - Q(h))", pg["lhs"], sp.Matrix(mart),
             domain="real", why="Condition the l-th term on y_<l: E[(r - V)|y_<=l] = G_l, and "
                                "sum_v pi_v G_l(v)(e_v - pi) = pi * (G_l(.) - G_{l-1})."),
    ]
    return Proof(PAPER, "Policy-gradient identity, softmax chain rule", steps,
                 statement=r"$\nabla V=\mathbb E_y[(r-V)\nabla\ln p(y)]$, $\nabla_z\ln\pi_k=e_k-\pi$.")


def _bounds() -> Proof:
    steps = []
    # token-level: ||e_v - pi||^2 <= 2 (1 - pi_v)^2, K = 4, v = 0, pi_0 = 1 - sum of the others
    q = sp.symbols("q1:4", positive=True)
    pv = 1 - sum(q)
    norm2 = (1 - pv) ** 2 + sum(x ** 2 for x in q)
    steps.append(Step("token-level: 2(1-pi_v)^2 - ||e_v - pi||^2 = 2 sum_{u<w, u,w != v} pi_u pi_w",
                      2 * (1 - pv) ** 2 - norm2, 2 * sum(a * b for a, b in itertools.combinations(q, 2)),
                      domain="unit", why="(sum_u pi_u)^2 - sum_u pi_u^2 = 2 sum_{u<w} pi_u pi_w >= 0; hence "
                                         "||e_v - pi|| <= sqrt(2) (1 - pi_v) <= sqrt(2) and ||grad log p|| <= sqrt(2) L gamma."))
    # martingale increments, L = 2, K = 2: first token prob a, second-token probs b0, b1 (per prefix)
    a, b0, b1 = sp.symbols("a b0 b1", positive=True)
    r = sp.symbols("r00 r01 r10 r11", real=True)
    pa = [a, 1 - a]
    pb = [[b0, 1 - b0], [b1, 1 - b1]]
    p = {(i, j): pa[i] * pb[i][j] for i in range(2) for j in range(2)}
    rr = {(i, j): r[2 * i + j] for i in range(2) for j in range(2)}
    V = sum(p[y] * rr[y] for y in p)
    G1 = {i: sum(pb[i][j] * rr[(i, j)] for j in range(2)) - V for i in range(2)}  # E[r - V | y_1]
    dom = {a: (0.05, 0.95), b0: (0.05, 0.95), b1: (0.05, 0.95), **{x: (-1, 1) for x in r}}
    inc1 = sum(pa[i] * G1[i] ** 2 for i in range(2))
    inc2 = sum(p[y] * (rr[y] - V - G1[y[0]]) ** 2 for y in p)
    steps += [
        Step("martingale: G_0 = E[r - V] = 0", sum(pa[i] * G1[i] for i in range(2)), sp.Integer(0), domain=dom,
             why="The first increment has mean zero (tower rule)."),
        Step("martingale increments orthogonal: E[(G_1 - G_0)(G_2 - G_1)] = 0",
             sum(p[y] * G1[y[0]] * (rr[y] - V - G1[y[0]]) for y in p), sp.Integer(0), domain=dom,
             why="E[G_2 - G_1 | y_1] = 0, and G_1 - G_0 is a function of y_1."),
        Step("variance decomposition: sum_l E(G_l - G_{l-1})^2 = STD^2", inc1 + inc2,
             sum(p[y] * (rr[y] - V) ** 2 for y in p), domain=dom,
             why="Pythagoras for orthogonal increments; G_L = r - V, so the sum is E(r - V)^2 = STD^2."),
    ]
    # ||w||_2 <= ||w||_1 and Jensen, K = 3
    w = sp.symbols("w0:3", positive=True)
    steps.append(Step("||w||_1^2 - ||w||_2^2 = 2 sum_{u<v} |w_u||w_v| >= 0", sum(w) ** 2 - sum(x ** 2 for x in w),
                      2 * sum(x * y for x, y in itertools.combinations(w, 2)),
                      why="With w_l = pi * (G_l(.) - G_{l-1}) (martingale form), ||w_l||_1 = E[|G_l - G_{l-1}| | y_<l], "
                          "and ||J_l^T w_l|| <= gamma ||w_l||_2 <= gamma ||w_l||_1."))
    pp = sp.symbols("p1:3", positive=True)
    pr = [pp[0], pp[1], 1 - pp[0] - pp[1]]
    x = sp.symbols("x0:3", positive=True)
    m = sum(pi * xi for pi, xi in zip(pr, x))
    steps.append(Step("Jensen: E X^2 - (E X)^2 = E (X - E X)^2 >= 0 (X = |G_l - G_{l-1}|)",
                      sum(pi * xi ** 2 for pi, xi in zip(pr, x)) - m ** 2,
                      sum(pi * (xi - m) ** 2 for pi, xi in zip(pr, x)),
                      domain={pp[0]: (0.05, 0.45), pp[1]: (0.05, 0.45), **{xi: (0.0, 2.0) for xi in x}},
                      why="Probabilities sum to 1; so E|G_l - G_{l-1}| <= (E(G_l - G_{l-1})^2)^(1/2)."))
    s = sp.symbols("s1:4", positive=True)
    steps.append(Step("Cauchy-Schwarz: L sum s_l^2 - (sum s_l)^2 = sum_{l<m} (s_l - s_m)^2 (L=3)",
                      3 * sum(x ** 2 for x in s) - sum(s) ** 2,
                      sum((x - y) ** 2 for x, y in itertools.combinations(s, 2)),
                      why="With s_l = (E(G_l - G_{l-1})^2)^(1/2): ||grad V|| <= gamma sum_l s_l <= gamma sqrt(L) "
                          "(sum_l s_l^2)^(1/2) = sqrt(L) gamma STD."))
    Ls, g, sd = sp.symbols("L gamma STD", positive=True)
    steps += [
        Step("martingale <= crude: sqrt(2) L g S - sqrt(L) g S = sqrt(L) g S (sqrt(2L) - 1)",
             sp.sqrt(2) * Ls * g * sd - sp.sqrt(Ls) * g * sd, sp.sqrt(Ls) * g * sd * (sp.sqrt(2 * Ls) - 1),
             domain={Ls: (1, 8), g: (0.1, 3), sd: (0.01, 1)},
             why="sqrt(2L) >= 1 for L >= 1: the martingale bound is the sharper one."),
        Step("paper's form: 6 L g S^(2/3) - sqrt(L) g S = sqrt(L) g S^(2/3) (6 sqrt(L) - S^(1/3))",
             6 * Ls * g * sd ** sp.Rational(2, 3) - sp.sqrt(Ls) * g * sd,
             sp.sqrt(Ls) * g * sd ** sp.Rational(2, 3) * (6 * sp.sqrt(Ls) - sd ** sp.Rational(1, 3)),
             domain={Ls: (1, 8), g: (0.1, 3), sd: (0.01, 1)},
             why="For rewards in [-1, 1], STD <= 1, so STD^(1/3) <= 1 < 6 <= 6 sqrt(L): Theorem 1 as stated "
                 "follows from sqrt(L) gamma STD (and from sqrt(2) L gamma STD likewise, as 6 sqrt(L) > sqrt(2))."),
    ]
    return Proof(PAPER, "Gradient bounds: martingale and Theorem 1", steps,
                 statement=r"$\|\nabla V\|\le\sqrt L\gamma\,\mathrm{STD}\le\sqrt2L\gamma\,\mathrm{STD}"
                           r"\le 6L\gamma\,\mathrm{STD}^{2/3}$ ($\mathrm{STD}\le1$).")


def _exponent() -> Proof:
    p1, d = sp.symbols("pi1 Delta", positive=True)
    pi = [p1, 1 - p1]
    r = [d / 2, -d / 2]
    V = sum(a * b for a, b in zip(pi, r))
    grad = [a * (b - V) for a, b in zip(pi, r)]
    std2 = sum(a * (b - V) ** 2 for a, b in zip(pi, r))
    steps = [
        Step("K=2: STD^2 = pi1 pi2 Delta^2", std2, p1 * (1 - p1) * d ** 2, domain={p1: (0.05, 0.95), d: (0.01, 2)},
             why="Two-point distribution with gap Delta."),
        Step("K=2: ||grad_z V||^2 = 2 pi1^2 pi2^2 Delta^2", sum(x ** 2 for x in grad), 2 * p1 ** 2 * (1 - p1) ** 2 * d ** 2,
             domain={p1: (0.05, 0.95), d: (0.01, 2)}, why="grad = pi * (r - V) = (pi1 pi2 Delta, -pi1 pi2 Delta)."),
        Step("ratio ||grad||^2 / STD^2 = 2 pi1 pi2 (independent of Delta)",
             sp.cancel(sum(x ** 2 for x in grad) / std2), 2 * p1 * (1 - p1), domain={p1: (0.05, 0.95), d: (0.01, 2)},
             why="At fixed pi the gradient is proportional to STD: exponent 1 is attained, so STD^(2/3) is not tight "
                 "(||grad||/STD^(2/3) = sqrt(2 pi1 pi2) STD^(1/3) -> 0 as Delta -> 0)."),
    ]
    return Proof(PAPER, "Exponent 1 is attained (L=1, K=2)", steps)


def _flows() -> Proof:
    p, p0 = R.p_sym, sp.Symbol("p0", positive=True)
    half = sp.Rational(1, 2)
    t_rft_ref = sp.log((1 - p0) / p0) + (half - p0) / (p0 * (1 - p0))
    t_sft_ref = half * (sp.log((1 - p0) / p0) + 2 - 1 / (1 - p0))
    F_r, F_s = R._antiderivative("rft", 2, 1), R._antiderivative("sft", 2, 1)
    t_r = F_r.subs(p, half) - F_r.subs(p, p0)
    t_s = F_s.subs(p, half) - F_s.subs(p, p0)
    dom = {p: (0.05, 0.95), p0: (0.01, 0.45)}
    steps = [
        Step("RFT flow (K=2): dp/dt = 2 p^2 (1-p)^2", R.flow_ode("rft", 2), 2 * p ** 2 * (1 - p) ** 2, domain=dom,
             why="z' = grad_z pi_c = pi * (e_c - p), p' = grad_z pi_c . z' (derived by sympy in theory.rft.flow_ode)."),
        Step("SFT flow (K=2): dp/dt = 2 p (1-p)^2", R.flow_ode("sft", 2), 2 * p * (1 - p) ** 2, domain=dom,
             why="z' = grad_z log pi_c = e_c - pi."),
        Step("RFT flow (K=10, other logits equal) = (10/9) p^2 (1-p)^2", R.flow_ode("rft", 10),
             sp.Rational(10, 9) * p ** 2 * (1 - p) ** 2, domain=dom,
             why="(1-p)^2 + (K-1)((1-p)/(K-1))^2 = (1-p)^2 K/(K-1): same shape, factor K/(K-1)."),
        Step("SFT flow (K=10, other logits equal) = (10/9) p (1-p)^2", R.flow_ode("sft", 10),
             sp.Rational(10, 9) * p * (1 - p) ** 2, domain=dom, why="Same factor K/(K-1)."),
        Step("partial fractions RFT", 1 / (p ** 2 * (1 - p) ** 2),
             1 / p ** 2 + 2 / p + 1 / (1 - p) ** 2 + 2 / (1 - p), domain=dom,
             why="Partial-fraction decomposition (derived here; sympy apart gives the same)."),
        Step("partial fractions SFT", 1 / (p * (1 - p) ** 2), 1 / p + 1 / (1 - p) + 1 / (1 - p) ** 2, domain=dom,
             why="Partial-fraction decomposition (derived here; sympy apart gives the same)."),
        Step("antiderivative RFT: dF/dp = 1 / p'", sp.diff(F_r, p), 1 / (2 * p ** 2 * (1 - p) ** 2), domain=dom,
             why="F is sympy's integral of the partial fractions (log(p-1) written log(1-p) on (0, 1))."),
        Step("antiderivative SFT: dF/dp = 1 / p'", sp.diff(F_s, p), 1 / (2 * p * (1 - p) ** 2), domain=dom, why=""),
        Step("t_RFT(p0 -> 1/2) closed form", t_r, t_rft_ref, domain=dom,
             why="F(1/2) - F(p0) equals the reference formula ln((1-p0)/p0) + (1/2 - p0)/(p0(1-p0))."),
        Step("t_SFT(p0 -> 1/2) closed form", t_s, t_sft_ref, domain=dom,
             why="F(1/2) - F(p0) = (1/2)[ln((1-p0)/p0) + 2 - 1/(1-p0)]."),
        Step("RFT asymptotics: p0 t_RFT -> 1/2", sp.limit(p0 * t_rft_ref, p0, 0), half,
             why="t_RFT ~ 1/(2 p0) ~ 1/(2 STD0^2) since STD0^2 = p0(1-p0): Theta(STD0^-2)."),
        Step("SFT asymptotics: t_SFT / ln(1/p0) -> 1/2", sp.limit(t_sft_ref / sp.log(1 / p0), p0, 0), half,
             why="t_SFT ~ (1/2) ln(1/p0) ~ ln(1/STD0): Theta(log 1/STD0); the separation t_RFT/t_SFT -> infinity."),
        Step("separation: t_SFT / t_RFT -> 0 as p0 -> 0", sp.limit(t_sft_ref / t_rft_ref, p0, 0), sp.Integer(0),
             why="ln(1/p0) against 1/p0: the RFT time is unboundedly larger (exponential separation in STD0)."),
        Step("general K, gap Delta: p0 t_RFT -> (K-1)/(K Delta)", R.time_asymptotics("rft").in_p0 * R.p0_sym,
             (R.K_sym - 1) / (R.K_sym * R._gap), domain={R.K_sym: (2, 12)},
             why="sympy limit (theory.rft.time_asymptotics) of the antiderivative of 1/((K/(K-1)) Delta p^2 (1-p)^2); "
                 "in STD0 = Delta sqrt(p0(1-p0)): t_RFT ~ (K-1) Delta / (K STD0^2)."),
        Step("general K: t_SFT / ln(1/p0) -> (K-1)/K", R.time_asymptotics("sft").in_p0 / sp.log(1 / R.p0_sym),
             (R.K_sym - 1) / R.K_sym, domain={R.K_sym: (2, 12), R.p0_sym: (0.01, 0.4)},
             why="Same for 1/((K/(K-1)) p (1-p)^2); t_SFT ~ 2 (K-1)/K ln(1/STD0)."),
    ]
    return Proof(PAPER, "RFT vs SFT gradient flow: times and asymptotics", steps,
                 statement=r"$t_{\rm RFT}=\Theta(\mathrm{STD}_0^{-2})$, $t_{\rm SFT}=\Theta(\ln 1/\mathrm{STD}_0)$.")


def _groups() -> Proof:
    G = 4
    c = sp.Symbol("c", real=True)
    z = sp.symbols("z0:3", real=True)
    pi = _softmax(z)
    ys = (0, 2, 2, 1)  # any sampled tokens
    r = [c] * G
    rbar = sum(r) / G
    grad_eq = sp.Matrix([sum((r[i] - rbar) * ((1 if ys[i] == j else 0) - pi[j]) for i in range(G)) / G
                         for j in range(3)])
    p, q, d = R.p_sym, sp.Symbol("q", positive=True), sp.Symbol("d", positive=True)
    steps = [Step("all-equal group: (1/G) sum_i (r_i - rbar)(e_{y_i} - pi) = 0", grad_eq, sp.zeros(3, 1),
                  domain="real", why="r_i = c for all i gives rbar = c, so every group advantage r_i - rbar is 0, "
                                     "whatever the normalisation (r_i - rbar)/(s + eps): the group gradient vanishes.")]
    # general finite reward distribution, three values: Var = (1/2) sum_jk q_j q_k (v_j - v_k)^2
    qs = sp.symbols("q1:3", positive=True)
    qq = [qs[0], qs[1], 1 - qs[0] - qs[1]]
    v = sp.symbols("v0:3", real=True)
    mean = sum(a * b for a, b in zip(qq, v))
    steps.append(Step("Var r = (1/2) sum_{j,k} q_j q_k (v_j - v_k)^2 (three values)",
                      sum(a * (b - mean) ** 2 for a, b in zip(qq, v)),
                      sp.Rational(1, 2) * sum(qq[j] * qq[k] * (v[j] - v[k]) ** 2 for j in range(3) for k in range(3)),
                      domain={qs[0]: (0.05, 0.45), qs[1]: (0.05, 0.45), **{x: (-1, 1) for x in v}},
                      why="Two independent draws: E(r - r')^2 = 2 Var r. Each (v_j - v_k)^2 >= delta^2 for j != k, so "
                          "1 - sum_j q_j^2 <= 2 STD^2/delta^2; a group of G is not all-equal only if one of the G - 1 "
                          "later draws differs from the first: P_0(G) >= 1 - 2(G-1) STD^2/delta^2 "
                          "(theory.rft.group_zero_lower_bound)."))
    for Gs in (2, 3, 6):
        e = R.group_zero_symbolic(Gs)
        steps.append(Step(f"binary, G={Gs}: P_0 as a function of s = p(1-p) is p^G + (1-p)^G",
                          e["s"].subs(R.s_sym, (1 - d ** 2) / 4), e["p"].subs(p, (1 - d) / 2), domain={d: (0.01, 0.99)},
                          why="With p = (1 - d)/2 (d = sqrt(1 - 4s) = |1 - 2p|; the form is symmetric in p <-> 1 - p), "
                              "(1 +- d)/2 are 1 - p and p: P_0 depends on the policy only through the reward std."))
    e6 = R.group_zero_symbolic(6)
    steps.append(Step("small std: P_0(G) = 1 - G s + O(s^2) (G=6)", sp.series(e6["s"], R.s_sym, 0, 2).removeO(),
                      1 - 6 * R.s_sym, domain={R.s_sym: (0.0, 0.25)},
                      why="Expand the closed form at s = 0: a group of G carries a gradient with probability about "
                          "G (STD/Delta)^2, so small-std inputs give almost only zero-gradient groups."))
    Gs = 5
    e5 = R.group_zero_symbolic(Gs)
    # (p + q)^G (P_0 - bound) at p -> p/(p + q): the homogenised difference of theory's two expressions
    diff = e5["p"] - e5["bound"].subs(R.s_sym, p * (1 - p))
    lhs = sp.expand(sp.cancel((p + q) ** Gs * diff.subs(p, p / (p + q))))
    rhs = sum(sp.binomial(Gs - 2, k - 1) * (Gs - 1) * (2 * k * (Gs - k) - Gs) / (k * (Gs - k)) * p ** k * q ** (Gs - k)
              for k in range(1, Gs))
    steps.append(Step("lower bound, binary G=5: P_0 - (1 - 2(G-1)pq), homogenised by p + q = 1, has "
                      "non-negative coefficients", lhs, rhs, domain={p: (0.05, 0.95), q: (0.05, 0.95)},
                      why="Coefficient of p^k q^(G-k): 2(G-1) C(G-2,k-1) - C(G,k) = C(G-2,k-1)(G-1)(2k(G-k) - G)/(k(G-k)) "
                          ">= 0 since k(G-k) >= G-1 >= G/2 for 1 <= k <= G-1 (any G): so P_0(G) >= "
                          "theory.rft.group_zero_symbolic(G)['bound'] at s = pq."))
    steps.append(Step("the bound in s: 1 - 2(G-1) s at s = p(1-p) (G=5)", e5["bound"].subs(R.s_sym, p * (1 - p)),
                      1 - 2 * (Gs - 1) * p + 2 * (Gs - 1) * p ** 2, domain="unit",
                      why="The expression theory.rft.group_zero_lower_bound evaluates, with delta = Delta."))
    return Proof(PAPER, "GRPO-style groups: zero gradient when all rewards are equal", steps,
                 id="rft.grpo_groups",
                 statement=r"A group of $G$ samples with equal rewards has zero group-normalised advantage, hence zero "
                           r"gradient; $P_0(G)=\sum_j q_j^G$, for binary rewards $p^G+(1-p)^G$, a function of "
                           r"$s=(\mathrm{STD}/\Delta)^2$ equal to $1-Gs+O(s^2)$ and $\ge 1-2(G-1)s$.",
                 assumptions=["Rewards take finitely many values; the G outputs are i.i.d. from the policy (on-policy, "
                              "first step: no clipping or KL term)."],
                 claims=["rft.grpo_zero_groups", "rft.grpo_small_std_groups"])


def _bounds_general_L() -> Proof:
    B = R.bound_expressions()
    L, g, S = R.L_sym, R.gamma_sym, R.std_bound_sym
    T, Q, x, a = sp.symbols("T Q x a", nonnegative=True)
    S1, S2 = sp.symbols("S1 S2", nonnegative=True)
    u, w = sp.symbols("u w", nonnegative=True)
    l = sp.Symbol("l", integer=True, positive=True)
    Lint = sp.Symbol("L", integer=True, positive=True)
    q1, q2 = sp.symbols("q1 q2", positive=True)
    pi = [q1, q2, 1 - q1 - q2]
    Qv = sp.symbols("Q0:3", real=True)
    D = [Qv[v] - sum(pi[k] * Qv[k] for k in range(3)) for v in range(3)]  # increments G_l(h v) - G_{l-1}(h)
    pdom = {q1: (0.05, 0.45), q2: (0.05, 0.45), a: (-1, 1), **{z: (-1, 1) for z in Qv}}
    pos = {u: (0.0, 10.0), w: (0.0, 10.0), g: (0.1, 3.0)}
    steps = [
        Step("token level, any K (induction on the other tokens): (T + x)^2 - (Q + x^2) = (T^2 - Q) + 2 T x",
             (T + x) ** 2 - (Q + x ** 2), (T ** 2 - Q) + 2 * T * x,
             why="T = sum of the other tokens' probabilities so far, Q = sum of their squares; adding a token keeps "
                 "T^2 - Q >= 0 (it starts at 0 with one token). So sum_{u != v} pi_u^2 <= (1 - pi_v)^2 and "
                 "||e_v - pi||^2 = (1 - pi_v)^2 + sum_{u != v} pi_u^2 <= 2 (1 - pi_v)^2 <= 2, for every K."),
        Step("score norm, any L: sum_{l=1}^L sqrt(2) gamma STD = the crude bound", sp.summation(
            sp.sqrt(2) * g * S, (l, 1, Lint)), B["crude"].subs(L, Lint),
             why="||grad log p(y)|| <= sum_l ||J_l^T (e_{y_l} - pi_l)|| <= sum_l gamma sqrt(2); with the baseline and "
                 "Jensen (E|r - V| <= STD) this is theory.rft.crude_bound for every L."),
        Step("martingale increment, any prefix: sum_v pi_v (Q(hv) - sum_u pi_u Q(hu)) = 0", sum(
            pi[v] * D[v] for v in range(3)), sp.Integer(0), domain=pdom,
             why="E[G_l - G_{l-1} | y_<l] = 0 for the Doob martingale G_l = E[r - V | y_<=l] (K = 3 shown; the same "
                 "cancellation for any K)."),
        Step("Pythagoras for one increment: E[(a + D)^2 | y_<l] = a^2 + E[D^2 | y_<l]",
             sum(pi[v] * (a + D[v]) ** 2 for v in range(3)), a ** 2 + sum(pi[v] * D[v] ** 2 for v in range(3)),
             domain=pdom,
             why="a = G_{l-1}(y_<l) is fixed given the prefix and the increment has conditional mean 0 (previous step), "
                 "so the cross term vanishes. By induction on l, E G_L^2 = sum_{l=1}^L E(G_l - G_{l-1})^2 for every L; "
                 "G_L = r - V, so the increments' second moments s_l^2 sum to STD^2."),
        Step("Cauchy-Schwarz, any L (induction): A_{L+1} - A_L = S2 - 2 x S1 + L x^2",
             ((L + 1) * (S2 + x ** 2) - (S1 + x) ** 2) - (L * S2 - S1 ** 2), S2 - 2 * x * S1 + L * x ** 2,
             why="A_L = L sum_{l<=L} s_l^2 - (sum_{l<=L} s_l)^2 with S1 = sum s_l, S2 = sum s_l^2; the right side is "
                 "sum_{l<=L} (x - s_l)^2 >= 0 and A_1 = 0, so (sum_l s_l)^2 <= L sum_l s_l^2 for every L."),
        Step("chain, any L: gamma sqrt(L sum_l s_l^2) = gamma sqrt(L) STD (the martingale bound)",
             g * sp.sqrt(L * S ** 2), B["martingale"],
             why="||grad V|| <= gamma sum_l E|G_l - G_{l-1}| (martingale form, ||w_l||_2 <= ||w_l||_1) <= gamma sum_l s_l "
                 "(Jensen) <= gamma sqrt(L sum_l s_l^2) (previous step) with sum_l s_l^2 = STD^2: "
                 "theory.rft.martingale_bound."),
        Step("martingale <= crude, any L >= 1 (L = 1 + u): the difference is a product of non-negative factors",
             (B["crude"] - B["martingale"]).subs(L, 1 + u),
             sp.sqrt(1 + u) * g * S * (1 + 2 * u) / (sp.sqrt(2 + 2 * u) + 1), domain={**pos, S: (0.0, 5.0)},
             why="sqrt(2L) - 1 = (2L - 1)/(sqrt(2L) + 1) with 2L - 1 = 1 + 2u >= 1: every factor is >= 0."),
        Step("crude <= paper's form, any L >= 1, STD <= 1 (L = 1 + u, STD = (1 + w)^-3)",
             (B["paper"] - B["crude"]).subs({L: 1 + u, S: (1 + w) ** -3}),
             (1 + u) * g * (1 + w) ** -2 * ((6 - sp.sqrt(2)) + sp.sqrt(2) * w / (1 + w)), domain=pos,
             why="L gamma STD^(2/3) (6 - sqrt(2) STD^(1/3)) with STD^(1/3) = 1/(1 + w) <= 1: every term is >= 0, so "
                 "Theorem 1 as stated follows from the crude bound whenever STD <= 1 (rewards in [-1, 1])."),
        Step("martingale <= paper's form, any L >= 1, STD <= 1",
             (B["paper"] - B["martingale"]).subs({L: 1 + u, S: (1 + w) ** -3}),
             sp.sqrt(1 + u) * g * (1 + w) ** -2 * (5 + 6 * u / (sp.sqrt(1 + u) + 1) + w / (1 + w)), domain=pos,
             why="sqrt(L) gamma STD^(2/3) (6 sqrt(L) - STD^(1/3)), and 6 sqrt(1 + u) - 1/(1 + w) = 5 + 6 u/(sqrt(1 + u) "
                 "+ 1) + w/(1 + w): manifestly >= 0."),
    ]
    return Proof(PAPER, "Gradient bounds for any output length L", steps, id="rft.bounds_any_L",
                 statement=r"For every $L\ge1$, $K\ge2$: $\|\nabla V\|\le\sqrt L\gamma\,\mathrm{STD}\le\sqrt2L\gamma"
                           r"\,\mathrm{STD}\le6L\gamma\,\mathrm{STD}^{2/3}$ when $\mathrm{STD}\le1$.",
                 assumptions=["Softmax policy with logit Jacobians bounded by gamma along every prefix; rewards in "
                              "[-1, 1] for the last inequality (STD <= 1).",
                              "The induction steps are identities in the running sums (T, Q, S1, S2), so they hold for "
                              "every K and L; the martingale steps are shown for K = 3 with generic probabilities."],
                 claims=["rft.theorem1", "rft.martingale_bound"])


def proofs() -> list[Proof]:
    return [_single_step(), _bounds(), _bounds_general_L(), _exponent(), _flows(), _groups()]
