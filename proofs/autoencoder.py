r"""Derivations for greedy rank learning in linear autoencoders (Sun et al. 2021, arXiv:2107.01301).

Checked: the reduction of the full matrix flow of :math:`\hat x = D W_L\cdots W_1 E x` to one ODE per
mode, :math:`\dot P = N s P^{2-2/N}(1-P)`; the conservation of balancedness; the N = 2 logistic
solution; the general-depth learning time, its split into a closed-form singular part and a bounded
remainder, and the small-initialisation asymptotics; the exact greedy time ratio; the depth-aware
learning-rate rule; the initial spectrum of default (Kaiming-uniform) against orthogonal initialisation.
The statements are derived from the model (the paper's text was not available).
"""

from __future__ import annotations

import sympy as sp

from theory import autoencoder as ae

from ._core import Proof, Step

PAPER = "autoencoder"

P, s = ae.P, ae.s
L = sp.Symbol("L", positive=True)  # bottleneck depth (real > 0 in the numeric checks; the identities are algebraic in L)
N = sp.Symbol("N", positive=True)
Q, u, u0, v = sp.symbols("Q u u_0 v", positive=True)
P0, p, eta, alpha, tt = sp.symbols("P_0 p eta alpha t", positive=True)


def _target(n):
    return n * s * P ** (2 - sp.Integer(2) / n) * (1 - P) if isinstance(n, int) else n * s * P ** (2 - 2 / n) * (1 - P)


def _reduction() -> Proof:
    steps = []
    steps.append(Step(
        "per-mode loss", ae.mode_loss(), sp.Rational(1, 2) * s * (1 - P) ** 2,
        why="E(x - Px)^2/2 with E x^2 = s: the autoencoder is regression of x on x, so rho = 1 for every mode."))
    # matrix loss separates over aligned modes
    ps = sp.symbols("P1:4", positive=True)
    ss = sp.symbols("s1:4", positive=True)
    A = sp.diag(*ps)
    S = sp.diag(*ss)
    I3 = sp.eye(3)
    steps.append(Step(
        "aligned matrix loss = sum of mode losses", sp.Rational(1, 2) * ((I3 - A) * S * (I3 - A).T).trace(),
        sum(sp.Rational(1, 2) * si * (1 - pi) ** 2 for si, pi in zip(ss, ps)),
        why="In the eigenbasis of Sigma an aligned end-to-end map is diagonal; the trace splits into one term per mode."))
    # matrix gradient formula, checked against entrywise differentiation (N = 3, 2x2 blocks)
    def mat(name):
        return sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"{name}{i}{j}", real=True))
    E, W, D = mat("e"), mat("w"), mat("d")
    a, b, c = sp.symbols("sig_a sig_b sig_c", real=True)
    Sig = sp.Matrix([[a, b], [b, c]])
    I2 = sp.eye(2)
    Aw = D * W * E
    loss = sp.Rational(1, 2) * ((I2 - Aw) * Sig * (I2 - Aw).T).trace()
    for name, Wk, above, below in (("E", E, D * W, I2), ("W_1", W, D, E), ("D", D, I2, W * E)):
        neg_grad = Wk.applyfunc(lambda w: -sp.diff(loss, w))
        steps.append(Step(
            f"matrix gradient wrt {name}", neg_grad, above.T * (I2 - Aw) * Sig * below.T,
            why="-dL/dW_k = B_k^T (I - A) Sigma C_k^T (B_k the factors above, C_k below); theory.autoencoder.matrix_gradients.",
            domain="real"))
    # balancedness conservation, matrix expressions
    n = 3
    Bm, W1, W0, Cm, Lam = (sp.MatrixSymbol(x, n, n) for x in ("B", "W_{k+1}", "W_k", "C", "G"))
    G1 = Bm.T * Lam * (W0 * Cm).T
    G0 = (Bm * W1).T * Lam * Cm.T
    steps.append(Step(
        "balancedness is conserved", W1.T * G1 - G0 * W0.T, sp.ZeroMatrix(n, n),
        why="d/dt (W_{k+1}^T W_{k+1} - W_k W_k^T) = -(W_{k+1}^T G_{k+1} - G_k W_k^T) - (...)^T, and "
            "W_{k+1}^T G_{k+1} = G_k W_k^T because B_k = B_{k+1} W_{k+1} and C_{k+1} = W_k C_k."))
    # per-factor differentiation equals the chain rule (ModeModel), depth 3
    model, sizes = ae.mode_model(3)
    steps.append(Step(
        "per-factor flow = chain rule (L = 3)", model.balanced_flow(sizes),
        model.chain_rule_flow({"E": 1, "M": L, "D": 1})["M"].subs(L, 3),
        why="Differentiating the loss in each of the 5 scalar factors and evaluating at balance gives the same "
            "flow as -dl/dp_M * a^(L-1) (ModeModel checks all factors coincide)."))
    for depth in range(0, 5):
        steps.append(Step(
            f"mode ODE, depth {depth}", ae.mode_ode(depth), _target(depth + 2),
            why=f"P = a^N, N = {depth + 2}: dP/dt = N a^(N-1) da/dt with da/dt = s (1 - a^N) a^(N-1) (derived)."))
    steps.append(Step(
        "mode ODE, symbolic depth", ae.mode_ode(L), (L + 2) * s * P ** (2 - 2 / (L + 2)) * (1 - P),
        why="The chain-rule flow with a symbolic number of bottleneck layers; N = L + 2."))
    steps.append(Step(
        "P = 1 is the fixed point", ae.mode_ode(L).subs(P, 1), sp.Integer(0),
        why="For s > 0 the only positive zero of N s P^(2-2/N)(1-P) is P = 1: every mode with variance is fully learned."))
    steps.append(Step(
        "zero-variance modes never move", ae.mode_ode(L).subs(s, 0), sp.Integer(0),
        why="A mode with s = 0 gets zero gradient at every P: its gain stays at its initial value, so the learned rank is "
            "the data rank."))
    return Proof(PAPER, "Reduction of the linear AE flow to one ODE per mode", steps,
                 statement=r"Aligned balanced init: $\dot P_i = N s_i P_i^{2-2/N}(1-P_i)$, $N = L + 2$.")


def _logistic() -> Proof:
    Pt = 1 / (1 + (1 - P0) / P0 * sp.exp(-2 * s * tt))
    tform = sp.log(p * (1 - P0) / (P0 * (1 - p))) / (2 * s)
    unit = {P0: (0.05, 0.45), p: (0.5, 0.95), s: (0.2, 3.0), tt: (0.0, 3.0)}
    steps = [
        Step("logistic solves the N = 2 ODE", sp.diff(Pt, tt), ae.mode_ode(0).subs(P, Pt),
             why="Saxe et al. (2014): dP/dt = 2 s P (1 - P).", domain=unit),
        Step("initial value", Pt.subs(tt, 0), P0, why="e^0 = 1.", domain=unit),
        Step("learning time inverts the solution", Pt.subs(tt, tform), p,
             why="t = ln(p(1-P0)/(P0(1-p)))/(2s) is the time at which P(t) = p.", domain=unit),
        Step("dt/dp = 1 / (dP/dt)", sp.diff(tform, p), 1 / ae.mode_ode(0).subs(P, p),
             why="The learning time is the integral of 1/Pdot.", domain=unit),
    ]
    return Proof(PAPER, "Depth 0 (N = 2): logistic solution and learning time", steps)


def _learning_time() -> Proof:
    rate = 1 / (N * s * Q ** (2 - 2 / N) * (1 - Q))  # dt/dQ
    dom = {N: (3.0, 10.0), u: (0.05, 0.95), s: (0.2, 3.0), P0: (0.01, 0.5)}
    steps = [
        Step("substitution Q = u^N", (rate * sp.diff(u**N, u)).subs(Q, u**N), 1 / (s * u ** (N - 1) * (1 - u**N)),
             why="dQ = N u^(N-1) du and Q^(2-2/N) = u^(2N-2).", domain=dom),
        Step("split off the singular part", 1 / (u ** (N - 1) * (1 - u**N)), u ** (1 - N) + u / (1 - u**N),
             why="u^(1-N)(1 - u^N) + u = u^(1-N): a partial-fraction split.", domain=dom),
        Step("antiderivative of the singular part", sp.diff(-(u ** (2 - N)) / (N - 2), u), u ** (1 - N),
             why="So t = [(u0^(2-N) - u^(2-N))/(N-2) + int_{u0}^{u} v/(1-v^N) dv] / s (theory.autoencoder.time_to_learn).",
             domain=dom),
        Step("leading term derivative", sp.diff(P0 ** (-(N - 2) / N) / ((N - 2) * s), P0),
             -1 / (N * s * P0 ** (2 - 2 / N)),
             why="The leading term P0^(-(N-2)/N)/((N-2)s) has the small-P0 part of the integrand as its derivative.",
             domain=dom),
        Step("remainder integrand is integrable at 0",
             1 / (N * s * P0 ** (2 - 2 / N) * (1 - P0)) - 1 / (N * s * P0 ** (2 - 2 / N)),
             P0 ** (2 / N - 1) / (N * s * (1 - P0)),
             why="The difference behaves like P0^(2/N - 1), exponent > -1: t = P0^(-(N-2)/N)/((N-2)s) + O(1/s).",
             domain=dom),
    ]
    # exact asymptotic limit for N = 3 and N = 4 (sympy antiderivatives of rational functions)
    for n in (3, 4):
        F = sp.integrate(1 / (u ** (n - 1) * (1 - u**n)), u)
        T = F.subs(u, sp.Rational(4, 5)) - F.subs(u, u0)
        steps.append(Step(
            f"t * (N-2) s P0^((N-2)/N) -> 1 (N = {n})", sp.limit(u0 ** (n - 2) * (n - 2) * T, u0, 0), sp.Integer(1),
            why="With u0 = P0^(1/N): the exact learning time (antiderivative by sympy, target u = 4/5) times the "
                "inverse leading term tends to 1 as P0 -> 0."))
    # the implementation against an independent quadrature of the defining integral
    for depth, p0_, p_ in ((1, 1e-3, 0.5), (4, 1e-2, 0.9), (8, 1e-3, 0.5)):
        n = depth + 2
        integral = sp.Integral(1 / (n * Q ** (2 - sp.Rational(2, n)) * (1 - Q)), (Q, sp.Float(p0_), sp.Float(p_)))
        steps.append(Step(
            f"time_to_learn(depth={depth}) = quadrature", sp.Float(ae.time_to_learn(depth, 1.0, p0_, p_), 17), integral,
            why="The split formula agrees with mpmath quadrature of (1/N) int dQ/(Q^(2-2/N)(1-Q)) (s = 1).",
            exact=False, rtol=1e-8))
    si, sj = sp.symbols("s_i s_j", positive=True)
    Tint = sp.Integral(1 / (N * Q ** (2 - 2 / N) * (1 - Q)), (Q, P0, p))
    steps.append(Step(
        "exact greedy time ratio", (Tint / si) / (Tint / sj), sj / si,
        why="s only rescales time: t_i/t_j = s_j/s_i at every depth and threshold; modes are learned in decreasing order "
            "of variance."))
    return Proof(PAPER, "Learning time at general depth and its asymptotics", steps,
                 statement=r"$t = \frac{1}{Ns}\int_{P_0}^{P}\frac{dQ}{Q^{2-2/N}(1-Q)} \simeq \frac{P_0^{-(N-2)/N}}{(N-2)s}$.")


def _lr_rule() -> Proof:
    Nn = L + 2
    tau, tau_ref, eta_ref = sp.symbols("tau_N tau_ref eta_ref", positive=True)
    steps = [
        Step("initial speed with step size eta", eta * ae.mode_ode(L).subs(P, alpha ** (L + 2)),
             eta * Nn * s * alpha ** (2 * (Nn - 1)) * (1 - alpha**Nn),
             why="All factors at alpha: P0 = alpha^N and the discrete flow moves P by eta * Pdot per step.",
             domain={L: (0.5, 8.0), alpha: (0.1, 0.9), s: (0.2, 3.0), eta: (0.001, 0.1)}),
        Step("steps to learn under the rule", (tau / s) / (eta_ref * tau / tau_ref), tau_ref / (eta_ref * s),
             why="A mode needs tau_N/(eta s) steps; eta(N) = eta_ref tau_N/tau_ref makes the count independent of N."),
        Step("fixed per-factor scale", (alpha**Nn) ** (-(Nn - 2) / Nn) / (Nn - 2), alpha ** (-L) / L,
             why="With P0 = alpha^N the asymptotic rule eta ∝ P0^(-(N-2)/N)/(N-2) becomes alpha^(-(N-2))/(N-2).",
             domain={L: (0.5, 8.0), alpha: (0.1, 0.9)}),
    ]
    return Proof(PAPER, "Depth-aware learning-rate rule", steps)


def _init() -> Proof:
    x, b, n_, d_, m_ = sp.symbols("x b n d m", positive=True)
    FC = lambda kk: sp.binomial((L + 1) * kk, kk) / (L * kk + 1)  # noqa: E731
    steps = [
        Step("Kaiming-uniform entry variance", sp.integrate(x**2 / (2 * b), (x, -b, b)).subs(b, 1 / sp.sqrt(n_)), 1 / (3 * n_),
             why="U(-b, b) with b = 1/sqrt(fan_in) has variance b^2/3 (PyTorch nn.Linear default)."),
        Step("Fuss-Catalan first moment", sp.expand_func(FC(1)), sp.Integer(1),
             why="(1/n) tr M M^T -> 1 for a product of L unit-variance-normalised layers."),
        Step("Fuss-Catalan second moment", sp.expand_func(FC(2)), L + 1,
             why="(1/n) tr (M M^T)^2 -> binom(2L+2, 2)/(2L+1) = L + 1."),
        Step("relative spread of sigma^2 grows with depth", sp.expand_func(FC(2)) / sp.expand_func(FC(1)) ** 2 - 1, L,
             why="Var(sigma^2)/E[sigma^2]^2 = L for default init; a scaled orthogonal product has all singular values "
                 "alpha^L (spread 0)."),
        Step("default end-to-end mean square gain", (m_ / (3 * d_)) * sp.Integer(3) ** (-L) * (d_ / (3 * m_)),
             sp.Integer(3) ** (-(L + 2)),
             why="E||Ex||^2 = m/(3d)||x||^2, each square layer 1/3, decoder d/(3m): E||Ax||^2 = 3^(-N)||x||^2."),
    ]
    return Proof(PAPER, "Initial spectrum: default against orthogonal initialisation", steps)


def proofs() -> list[Proof]:
    return [_reduction(), _logistic(), _learning_time(), _lr_rule(), _init()]
