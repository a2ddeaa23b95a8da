"""Bottleneck NTK (Littwin et al. 2021): kernel Gaussian expectations (ReLU, erf) and the linear-case reduction."""

from __future__ import annotations

import sympy as sp

from theory import bottleneck as B
from theory import bottleneck_limit as BL
from theory import kernels as K

from ._core import Proof, Step

PAPER = "bottleneck"

q11, q22, q12 = K.q11, K.q22, K.q12
# |q12| < sqrt(q11 q22) on this domain: a valid covariance
COV = {q11: (1.0, 3.0), q22: (1.0, 3.0), q12: (-0.9, 0.9)}


def _relu() -> Proof:
    th = sp.Symbol("theta", positive=True)
    phi, r = sp.Symbol("varphi", real=True), sp.Symbol("r", positive=True)
    region = (phi, th - sp.pi / 2, sp.pi / 2)
    ang_uv = sp.Integral(sp.cos(phi) * sp.cos(phi - th), region)
    ang_1 = sp.Integral(1, region)
    rad3 = sp.Integral(r**3 * sp.exp(-r**2 / 2), (r, 0, sp.oo))
    rad1 = sp.Integral(r * sp.exp(-r**2 / 2), (r, 0, sp.oo))
    ang_uv_cf = ((sp.pi - th) * sp.cos(th) + sp.sin(th)) / 2
    theta_q = sp.acos(q12 / sp.sqrt(q11 * q22))
    e = K.gaussian_expectations("relu")
    nngp_theta = sp.sqrt(q11 * q22) / (2 * sp.pi) * (sp.sin(th) + (sp.pi - th) * sp.cos(th))
    steps = [
        Step("angular integral, u v > 0 region (numeric quadrature)", ang_uv, ang_uv_cf, exact=False,
             domain={th: (0.05, 3.1)}, rtol=1e-9,
             why="Polar coordinates of (z1, z2): u = sqrt(q11) r cos(phi), v = sqrt(q22) r cos(phi - theta); both "
                 "are positive exactly for phi in (theta - pi/2, pi/2). Checked by quadrature at random theta."),
        Step("angular integral, closed form by sympy", ang_uv.doit(), ang_uv_cf, domain={th: (0.05, 3.1)},
             why="The same integral evaluated symbolically."),
        Step("radial moment 3", rad3.doit(), sp.Integer(2), why="int_0^oo r^3 exp(-r^2/2) dr = 2."),
        Step("radial moment 1", rad1.doit(), sp.Integer(1), why="int_0^oo r exp(-r^2/2) dr = 1."),
        Step("E[relu(u) relu(v)] in theta", sp.sqrt(q11 * q22) * rad3.doit() * ang_uv.doit() / (2 * sp.pi), nngp_theta,
             domain={th: (0.05, 3.1), q11: (0.2, 3), q22: (0.2, 3)},
             why="The Gaussian density in polar form is r exp(-r^2/2)/(2 pi) dr dphi."),
        Step("E[relu relu] in (q11, q22, q12) = theory.kernels", nngp_theta.subs(th, theta_q), e["nngp"], domain=COV,
             why="cos(theta) = q12/sqrt(q11 q22), sin(theta) = sqrt(q11 q22 - q12^2)/sqrt(q11 q22): the degree-1 "
                 "arc-cosine kernel (Cho & Saul 2009) / 2; the formula of neural-tangents' ABRelu(0, 1)."),
        Step("E[step(u) step(v)] = (pi - theta)/(2 pi) = theory.kernels",
             (rad1.doit() * ang_1.doit() / (2 * sp.pi)).subs(th, theta_q), e["dot"], domain=COV,
             why="The angular measure of the positive quadrant pair is pi - theta."),
        Step("Price's theorem: d/dq12 E[relu relu] = E[step step]", sp.diff(e["nngp"], q12), e["dot"], domain=COV,
             why="For Gaussian (u, v), dE[phi(u)phi(v)]/dq12 = E[phi'(u)phi'(v)]: an independent consistency check."),
        Step("diagonal: E[relu(u)^2] = q11/2", sp.limit(e["nngp"].subs(q22, q11), q12, q11, dir="-"), q11 / 2,
             why="theta -> 0 as q12 -> q11 = q22: half the Gaussian mass, second moment q11/2."),
    ]
    return Proof(PAPER, "ReLU kernel Gaussian expectations", steps,
                 statement="E[relu(u)relu(v)] = (sqrt(q11 q22 - q12^2) + (pi - theta) q12)/(2 pi), "
                           "E[relu'(u)relu'(v)] = (pi - theta)/(2 pi).")


def _erf() -> Proof:
    z = sp.Symbol("z", real=True)
    c, qq, p = sp.Symbol("c", positive=True), sp.Symbol("qq", positive=True), sp.Symbol("p", real=True)
    gauss = sp.exp(-z**2 / 2) / sp.sqrt(2 * sp.pi)
    scale = sp.Integral(sp.exp(-c * z**2) * gauss, (z, -sp.oo, sp.oo))
    shift = sp.Integral(sp.exp(-(p + qq * z) ** 2) * gauss, (z, -sp.oo, sp.oo))
    scale_cf = 1 / sp.sqrt(1 + 2 * c)
    shift_cf = sp.exp(-p**2 / (1 + 2 * qq**2)) / sp.sqrt(1 + 2 * qq**2)
    rho = q12 / sp.sqrt(q11 * q22)
    eta2 = 1 - rho**2
    # u = sqrt(q11) z1, v = sqrt(q22)(rho z1 + eta z2): z2 integral (shift) leaves exp(-coef z1^2)/sqrt(1 + 2 q22 eta^2)
    coef = q11 + q22 * rho**2 / (1 + 2 * q22 * eta2)
    combined = 1 / sp.sqrt(1 + 2 * q22 * eta2) / sp.sqrt(1 + 2 * coef)
    det = (1 + 2 * q11) * (1 + 2 * q22) - 4 * q12**2
    e = K.gaussian_expectations("erf")
    a = (1 + 2 * q11) * (1 + 2 * q22)
    cov_small = {q11: (1.0, 3.0), q22: (1.0, 3.0), q12: (-0.9, 0.9)}
    steps = [
        Step("E[exp(-c z^2)] (numeric quadrature)", scale, scale_cf, exact=False, domain={c: (0.1, 3)},
             why="Gaussian integral, checked by quadrature."),
        Step("E[exp(-c z^2)] = (1 + 2c)^(-1/2) by sympy", scale.doit(conds="none"), scale_cf),
        Step("E[exp(-(p + q z)^2)] (numeric quadrature)", shift, shift_cf, exact=False,
             domain={p: (-2, 2), qq: (0.1, 2)}, why="Completing the square; checked by quadrature."),
        Step("E[exp(-(p + q z)^2)] by sympy", shift.doit(conds="none"), shift_cf, domain={p: (-2, 2), qq: (0.1, 2)}),
        Step("two 1-D integrals give E[exp(-u^2 - v^2)]^(-2) = det(I + 2 Sigma)", 1 / combined**2, det,
             domain=cov_small,
             why="Integrate z2 with p = sqrt(q22) rho z1, q = sqrt(q22) eta, then z1 with the collected coefficient; "
                 "(1 + 2 q22 eta^2)(1 + 2 coef) = (1 + 2 q11)(1 + 2 q22) - 4 q12^2."),
        Step("E[erf'(u) erf'(v)] = 4/(pi sqrt(det)) = theory.kernels", 4 / sp.pi / sp.sqrt(det), e["dot"], domain=cov_small,
             why="erf'(s) = 2 exp(-s^2)/sqrt(pi)."),
        Step("Price: d/dq12 of (2/pi) asin(2 q12/sqrt(a)) = E[erf' erf']", sp.diff(e["nngp"], q12), 4 / sp.pi / sp.sqrt(det),
             domain=cov_small, why="d/dq12 E[phi phi] = E[phi' phi'] integrates to the arcsine (Williams 1997)."),
        Step("boundary value: E[erf erf] = 0 at q12 = 0", e["nngp"].subs(q12, 0), sp.Integer(0),
             why="u and v independent and erf odd."),
        Step("E[erf erf] closed form = theory.kernels", 2 / sp.pi * sp.asin(2 * q12 / sp.sqrt(a)), e["nngp"],
             domain=cov_small),
        Step("diagonal: E[erf(u)^2] = (2/pi) asin(2 q11/(1 + 2 q11))", e["diag"],
             2 / sp.pi * sp.asin(2 * q11 / (1 + 2 * q11))),
    ]
    return Proof(PAPER, "erf kernel Gaussian expectations", steps,
                 statement="E[erf(u)erf(v)] = (2/pi) asin(2 q12/sqrt((1+2q11)(1+2q22))), "
                           "E[erf'(u)erf'(v)] = 4/(pi sqrt((1+2q11)(1+2q22) - 4 q12^2)).")


def _linear() -> Proof:
    w, q, l = sp.Symbol("w", positive=True), sp.Symbol("q", positive=True), sp.Symbol("l", positive=True)
    cf, cg = sp.symbols("c_f c_g", positive=True)
    # the matrix identities are linear in c_f and c_g separately; they are checked at generic rationals
    # (the numeric stage of proofs._core substitutes matrices only)
    mcf, mcg = sp.Rational(5, 7), sp.Rational(3, 2)
    A, Bm, G, X = (sp.MatrixSymbol(s, 3, 3) for s in ("A", "B", "G", "X"))
    grad = G.T * X  # dL/dW for L = 1/2 |X A^T B^T - Y|^2, G = residual
    Adot = -mcg * Bm.T * G.T * X
    Bdot = -mcf * G.T * X * A.T
    a, b, al, be = sp.symbols("a b alpha beta", positive=True)
    tau, lam, kap, u = B.tau, B.lam, B.kappa, B.u
    adot = cg * b * lam * (tau - a * b)  # -dL/da * c_g for L = lam/2 (tau - a b)^2
    bdot = cf * a * lam * (tau - a * b)
    ell = lam / 2 * (tau - kap * al * be) ** 2
    at = {a: sp.sqrt(cg) * al, b: sp.sqrt(cf) * be}
    sol, u0 = B.linear_mode_solution(), sp.Symbol("u0", positive=True)
    lazy_sol = B.linear_mode_solution(lazy=True)
    f = sp.Symbol("f", positive=True)
    ustar = tau - sp.sqrt(f) * (tau - u0)
    tstar = sp.log(ustar * (tau - u0) / (u0 * (tau - ustar))) / (2 * kap * lam * tau)
    unit = {f: (0.05, 0.95), u0: (0.05, 0.5), tau: (1.0, 3.0)}
    # the identity network's head kernel, derived (theory.bottleneck_limit) and averaged over all head weights
    lin = BL.limit_derivation("identity", d_in=1, n_g=1, d=2, n_f=2, points=2)
    lin_f = BL.gaussian_expectation(lin.theta_f[0, 1], list(lin.W) + list(lin.a))
    hh = (lin.h[0].T * lin.h[1])[0, 0]
    # explicit 3 samples, d0 = 2 inputs, k = 2 outputs, d = 2: the sum over samples against the matrix product
    Xs = sp.Matrix(3, 2, lambda i, j: sp.Symbol(f"X_{i}{j}", real=True))
    Gs = sp.Matrix(3, 2, lambda i, j: sp.Symbol(f"G_{i}{j}", real=True))
    Bs = sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"B_{i}{j}", real=True))
    xs = sp.Matrix(2, 1, lambda i, _: sp.Symbol(f"xe_{i}", real=True))
    flow_sum = -sum((cg * (xs.T * Xs[j, :].T)[0, 0] * Bs.T * Gs[j, :].T for j in range(3)), sp.zeros(2, 1))
    flow_mat = -cg * Bs.T * Gs.T * Xs * xs
    steps = [
        Step("linear NTK recursion: Theta_(l+1) = Sigma_(l+1) + w Theta_l", w ** (l + 1) * q + w * (l * w**l * q),
             (l + 1) * w ** (l + 1) * q,
             why="Identity activations: Sigma_l = w^l x.x'/d0 and Dense adds Sigma_new + w Theta; by induction "
                 "Theta = (L+1) w^(L+1) x.x'/d0: c_g of theory.bottleneck.linear_rates (L_g + 1 layers)."),
        Step("head kernel of the identity network: E over the weights of the derived Theta_f = 2 w^2 h.h'/d",
             lin_f, 2 * BL.w**2 * hh / lin.sizes[2],
             why="theory.bottleneck_limit.limit_derivation('identity') differentiates the head f(h) = sqrt(w/n) a.(sqrt(w/d) "
                 "W^T h); the Gaussian expectation over its weights a and W (gaussian_expectation) leaves two equal "
                 "terms, the readout's and the first layer's: c_f = 2 w^2/d of theory.bottleneck.linear_rates."),
        Step("g in function space is a matrix flow: -sum_j Theta_g(x, x_j) B^T g_j = -(c_g B^T G^T X) x",
             flow_sum, flow_mat,
             why="Theta_g(x, x_j) = c_g x.x_j (rows x_j of X, residuals g_j rows of G): the sum over samples is the "
                 "matrix product, linear in x, so g_t(x) = A_t x for all t and dA/dt = -c_g B^T G^T X."),
        Step("end-to-end flow: d(BA)/dt = -(c_f grad A^T A + c_g B B^T grad)", Bdot * A + Bm * Adot,
             -(mcf * grad * A.T * A + mcg * Bm * Bm.T * grad),
             why="Product rule on W = BA: the finite-bottleneck network is a preconditioned two-factor linear model "
                 "(Arora et al. 2018, N = 2); the lazy model has dW/dt = -c grad."),
        Step("balancedness a^2/c_g - b^2/c_f is conserved", 2 * a * adot / cg - 2 * b * bdot / cf, sp.Integer(0),
             why="One aligned mode with input variance lambda and target gain tau."),
        Step("rescaling a = sqrt(c_g) alpha, b = sqrt(c_f) beta gives unit-rate flow with kappa = sqrt(c_g c_f)",
             (adot / sp.sqrt(cg)).subs(at).subs(kap, sp.sqrt(cg * cf)),
             (-sp.diff(ell, al)).subs(kap, sp.sqrt(cg * cf)),
             why="So a mode of the linear bottleneck is the shared deeplinear.ModeModel with groups g, f."),
        Step("ModeModel balanced flow: du/dt = 2 kappa lambda u (tau - u)", B.linear_mode_ode(),
             2 * kap * lam * u * (tau - u),
             why="From deeplinear.ModeModel.balanced_flow (s' for alpha = beta = s) and u = kappa s^2."),
        Step("logistic solution solves the ODE", sp.diff(sol, B.t), B.linear_mode_ode().subs(u, sol),
             why="u(t) = tau u0/(u0 + (tau - u0) exp(-2 kappa lambda tau t))."),
        Step("logistic solution: u(0) = u0", sol.subs(B.t, 0), u0),
        Step("lazy solution solves du/dt = c lambda (tau - u)", sp.diff(lazy_sol, B.t),
             B.linear_mode_ode(lazy=True).subs(u, lazy_sol)),
        Step("time to a loss fraction f: u(t*) = tau - sqrt(f)(tau - u0)", sol.subs(B.t, tstar), ustar, domain=unit,
             why="Inverting the logistic (theory.bottleneck.linear_time_to_fraction)."),
        Step("rate at the optimum: -d(du/dt)/du at u = tau is 2 kappa lambda tau",
             -sp.diff(B.linear_mode_ode(), u).subs(u, tau), 2 * kap * lam * tau,
             why="Against c lambda for the lazy model: the bottleneck is faster near convergence iff 2 kappa tau > c, "
                 "i.e. for targets large relative to the kernel scale; at small u (u0 << tau) it is slower, rate "
                 "2 kappa lambda u0 (implicit acceleration needs large targets)."),
    ]
    return Proof(PAPER, "linear bottleneck = two-factor deep linear model", steps,
                 statement="With identity activations the infinite-width bottleneck network is W = BA with "
                           "dA/dt = -c_g B^T grad, dB/dt = -c_f grad A^T; a balanced mode is logistic.")


def _limit() -> Proof:
    D = BL.limit_derivation(n_f=1)  # tanh, d_in = 1, n_g = 2, d = 2, n_f = 1, two inputs
    d = D.sizes[2]
    real = "real"
    steps = [
        Step("chain rule through the bottleneck: dF(x_1)/dt = -sum_j K_eff(x_1, x_j) e_j", D.dF_dt[0], D.K_flow[0],
             domain=real,
             why="lhs: the network F = f(g(x)) differentiated with respect to every weight and contracted with the "
                 "gradient flow of the weights; rhs: the effective kernel Theta_f(h, h') + J_f(h) Theta_g(x, x') J_f(h')^T "
                 "built from the head's parameter gradients, the head's Jacobian in h and the bottleneck map's "
                 "parameter gradients (theory.bottleneck.effective_kernel's decomposition)."),
        Step("feature flow: dh(x_1)/dt = -sum_j Theta_g(x_1, x_j) J_f(h_j)^T e_j", D.dh_dt[0], D.velocity[0], domain=real,
             why="lhs: h = g(x) differentiated through the weights of g under their gradient flow; rhs: the feature "
                 "velocity of theory.bottleneck.feature_velocity with the derived empirical Theta_g and J_f."),
        Step("the bottleneck readout's part of Theta_g is diagonal in the bottleneck coordinates",
             D.theta_g_V, sp.eye(d) * (D.theta_g_V[0, 0]), domain=real,
             why="Each coordinate h_a has its own readout weights V_{.a}: their gradients for a != b are disjoint, so the "
                 "cross terms vanish exactly, at any width."),
        Step("E over the readout weights: Theta_g = theta_g I_d, theta_g the unit average", D.theta_g_expected,
             sp.eye(d) * D.theta_g_scalar, domain=real,
             why="The lower layers' part has cross terms V_ka V_kb, with mean delta_ab (gaussian_expectation, heat-kernel "
                 "rule). theta_g = (w/n_g) sum_k [phi(u_k)phi(u_k') + phi'(u_k)phi'(u_k') w x.x'/d_0] is an average over "
                 "n_g units, which tends to the fixed NTK Theta_g of theory.bottleneck.g_kernels as n_g -> oo (law of "
                 "large numbers; the units' Gaussian expectations are the kernel recursions checked above)."),
        Step("E over the head's readout: Theta_f(h, h') is the unit average of f_empirical_ntk's form",
             D.theta_f_expected, D.theta_f_scalar, domain=real,
             why="a_m^2 -> 1: (w/n_f) sum_m [phi(z_m)phi(z_m') + phi'(z_m)phi'(z_m') w h.h'/d], the form of "
                 "theory.bottleneck.f_empirical_ntk; it tends to the fixed function Theta_f(h, h') of theory.bottleneck."
                 "f_kernels as n_f -> oo, evaluated at the moving features h_t. What remains random at finite d is J_f, "
                 "a function of d directions only."),
    ]
    return Proof(PAPER, "bottleneck limit dynamics from the parametrisation", steps,
                 statement="For F = f(g(x)) in NTK parametrisation, gradient flow on all weights gives dF/dt = -sum_j "
                           "[Theta_f(h, h_j) + J_f(h) Theta_g(x, x_j) J_f(h_j)^T] e_j and dh/dt = -sum_j Theta_g(x, x_j) "
                           "J_f(h_j)^T e_j, with E Theta_g = theta_g I_d and E Theta_f of the form of f_empirical_ntk: the "
                           "limit equations of theory.bottleneck, derived by sympy on a symbolic instance (tanh, "
                           "d_0 = 1, n_g = d = 2, n_f = 1, two inputs).",
                 assumptions=["NTK parametrisation without biases, standard normal weights, gradient flow on "
                              "L = sum_j l(F(x_j)) with e_j = dl/dF(x_j).",
                              "A smooth activation (tanh here) so that every derivative is explicit; the ReLU kernels "
                              "enter through the Gaussian expectations checked in the ReLU proof.",
                              "The width limits (unit averages -> expectations) are the law of large numbers; they are "
                              "stated, not derived symbolically."],
                 claims=["bottleneck.c-small-target-lazy", "bottleneck.c-scale0.3-speedup", "bottleneck.c-scale6-speedup"])


def proofs() -> list[Proof]:
    return [_relu(), _erf(), _linear(), _limit()]
