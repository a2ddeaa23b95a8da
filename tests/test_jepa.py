"""JEPA vs MAE (Littwin et al. 2024): theory.jepa against integration, the full matrix flow and training."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.integrate
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from sims.substrate.data import moments, static_noise_for, static_views, temporal_pairs
from sims.substrate.networks import deep_linear_init, deep_linear_product
from sims.substrate.ode import solve
from sims.substrate.train import fit
from theory import jepa as J


@pytest.fixture(autouse=True)
def _float64():
    """float64 for this module's theory checks, scoped so other modules keep JAX's default dtype."""
    with jax.enable_x64(True):
        yield

objectives = st.sampled_from(J.OBJECTIVES)
depths = st.integers(1, 4)
lams = st.floats(0.2, 5.0)
rhos = st.floats(0.3, 3.0)


def hitting_time_by_integration(obj, L, lam, rho, eps, p):
    """Independent method: integrate the lambdified ODE with LSODA until wbar = p * wbar*."""
    f = J.mode_rhs(obj, L)
    target = p * float(J.fixed_point(obj, L).subs(J.rho, rho))
    ev = lambda t, y: y[0] - target  # noqa: E731
    ev.terminal = True
    horizon = 5 * J.time_to_learn(obj, L, lam, rho, eps, p)
    _, sol = solve(lambda t, y: f(y, lam, rho), [eps], [0.0, horizon], events=ev, rtol=1e-12, atol=1e-30)
    assert sol.t_events[0].size == 1, "the threshold was never reached"
    return float(sol.t_events[0][0])


# --------------------------------------------------------------------------- symbolic API
def test_repl_contract_and_paper_odes():
    # the REPL contract of the issue, against the paper's eq. (7) written out by hand for L = 3
    expr = J.encoder_ode("jepa", depth=3)
    assert expr.free_symbols == {J.w, J.lam, J.rho}
    paper7 = 3 * (J.lam * J.w ** sp.Rational(8, 3) - J.lam / J.rho * J.w**3)
    assert sp.expand(expr - paper7) == 0
    paper8 = 3 * (J.lam * J.w ** sp.Rational(5, 3) - J.lam / J.rho * J.w**3)
    assert sp.expand(J.encoder_ode("mae", 3) - paper8) == 0
    assert J.fixed_point("jepa", 3) == J.rho**3
    assert sp.simplify(J.fixed_point("mae", 3) - J.rho ** sp.Rational(3, 4)) == 0
    t = J.time_to_learn("jepa", depth=3, lam=1.0, rho=2.0, eps=1e-3, p=0.5)
    assert isinstance(t, float)


@pytest.mark.parametrize("obj", J.OBJECTIVES)
def test_symbolic_depth_matches_concrete(obj):
    sym = J.encoder_ode(obj, J.L)
    for k in (1, 2, 5):
        assert sp.simplify(sym.subs(J.L, k) - J.encoder_ode(obj, k)) == 0


def test_predictor_odes():
    # JEPA: wbar^2 (lam - sigma^2 v); MAE: wbar (lam - sigma^2 v wbar), sigma^2 = lam / rho
    s2 = J.lam / J.rho
    assert sp.expand(J.predictor_ode("jepa") - J.w**2 * (J.lam - s2 * J.v)) == 0
    assert sp.expand(J.predictor_ode("mae") - J.w * (J.lam - s2 * J.v * J.w)) == 0


# --------------------------------------------------------------------------- hitting times
@pytest.mark.claim("jepa.rho_bias_grows_with_depth", "jepa.critical_depth_vs_eps")
@settings(max_examples=25, deadline=None)
@given(obj=objectives, L=depths, lam=lams, rho=rhos, log_eps=st.floats(-5, -2), p=st.floats(0.2, 0.9))
def test_time_equals_integration(obj, L, lam, rho, log_eps, p):
    eps = 10.0**log_eps
    wstar = float(J.fixed_point(obj, L).subs(J.rho, rho))
    if eps >= 0.5 * p * wstar:
        eps = 0.01 * p * wstar  # keep eps inside (0, p w*) with room
    exact = J.time_to_learn(obj, L, lam, rho, eps, p)
    numeric = hitting_time_by_integration(obj, L, lam, rho, eps, p)
    # LSODA at rtol 1e-12 over stiff plateaus: 1e-6 relative leaves two orders of margin over observed errors
    assert exact == pytest.approx(numeric, rel=1e-6)


@pytest.mark.parametrize("obj,L,lam,rho,eps,p", [
    ("jepa", 1, 1, 1, 1e-3, 0.5), ("jepa", 2, 1, 2, 1e-3, 0.5), ("jepa", 3, 0.7, 1.5, 1e-4, 0.9), ("jepa", 4, 2, 3, 1e-5, 0.5),
    ("mae", 1, 1, 1, 1e-3, 0.5), ("mae", 2, 1, 1, 1e-4, 0.5), ("mae", 2, 1, 1, 1e-6, 0.5), ("mae", 3, 1, 1, 1e-6, 0.5),
    ("mae", 3, 0.7, 1.5, 1e-4, 0.9),
])
def test_fixed_cross_check_tuples(obj, L, lam, rho, eps, p):
    # fixed cross-check tuples (both objectives, depths 1-4, eps down to 1e-6, p = 0.5 and 0.9)
    assert J.time_to_learn(obj, L, lam, rho, eps, p) == pytest.approx(
        hitting_time_by_integration(obj, L, lam, rho, eps, p), rel=1e-6)


def test_mae_l1_equals_saxe_closed_form():
    # Saxe et al. (2014): tau du/dt = 2u(s - u) with u = P, s = rho, tau = 2/(2 sigma^2)... for L = 1 the
    # product P = v wbar follows dP/dt = 2 sigma^2 P (rho - P); its hitting time from P0 to Pf is
    # (1/(2 sigma^2 rho)) ln(Pf (rho - P0) / (P0 (rho - Pf))). With balanced factors P = wbar^2.
    lam, rho, eps, p = 0.8, 1.7, 1e-3, 0.6
    s2 = lam / rho
    P0, Pf = eps**2, (p * np.sqrt(rho)) ** 2
    saxe = np.log(Pf * (rho - P0) / (P0 * (rho - Pf))) / (2 * s2 * rho)
    assert J.time_to_learn("mae", 1, lam, rho, eps, p) == pytest.approx(saxe, rel=1e-10)


# --------------------------------------------------------------------------- any depth (log-space quadrature)
@pytest.mark.parametrize("obj", J.OBJECTIVES)
@pytest.mark.parametrize("L", [1, 2, 5, 8])
def test_quadrature_equals_symbolic_path(obj, L):
    # the quadrature used past SYMBOLIC_DEPTH against the exact sympy path where both run. quad works at
    # epsrel 1e-13 and the exponent (a-1) x0 (< 60 here) is exponentiated once (rounding ~60 * 2e-16): 1e-11
    # relative leaves two orders of margin over both (observed: 4e-15)
    for lam, rho, eps, p in [(1.0, 1.0, 1e-3, 0.5), (0.7, 1.5, 1e-4, 0.9), (2.0, 3.0, 1e-5, 0.5), (1.0, 0.6, 1e-6, 0.3)]:
        if eps >= p * float(J.fixed_point(obj, L).subs(J.rho, rho)):
            continue
        assert L <= J.SYMBOLIC_DEPTH
        exact = J.time_to_learn(obj, L, lam, rho, eps, p)
        assert J.hitting_time_quadrature(obj, L, lam, rho, eps, p) == pytest.approx(exact, rel=1e-11)


def _jepa_theorem_4_4(L, lam, rho, eps, p):
    """The paper's closed form (Theorem 4.4), typed in independently, in 40-digit arithmetic:
    t = (F(p^(1/L)) - F(eps^(1/L)/rho)) / (lam rho^(2L-1)), F(psi) = -sum_n 1/(n psi^n) + ln psi - ln(1-psi)."""
    import mpmath as mp

    with mp.workdps(40):
        def F(psi):
            return -mp.fsum(1 / (n * psi**n) for n in range(1, 2 * L)) + mp.log(psi) - mp.log(1 - psi)
        t = (F(mp.mpf(p) ** (mp.mpf(1) / L)) - F(mp.mpf(eps) ** (mp.mpf(1) / L) / rho)) / (lam * mp.mpf(rho) ** (2 * L - 1))
        return float(t)


def _mae_series(L, lam, rho, eps, p):
    """MAE time from its integral C int u^-L / (1 - u^(L+1)) du expanded in the geometric series
    sum_k u^(k(L+1) - L) and integrated term by term (40 digits; terms fall like p^k)."""
    import mpmath as mp

    with mp.workdps(40):
        u0 = mp.mpf(eps) ** (mp.mpf(1) / L) * mp.mpf(rho) ** (-mp.mpf(1) / (L + 1))
        u1 = mp.mpf(p) ** (mp.mpf(1) / L)
        total = mp.fsum((u1**m - u0**m) / m for m in (k * (L + 1) - L + 1 for k in range(400)))
        return float(mp.mpf(rho) ** (mp.mpf(1 - L) / (L + 1)) / lam * total)


@pytest.mark.parametrize("lam,rho,eps,p", [(1.0, 1.0, 1e-3, 0.5), (0.5, 2.0, 1e-8, 0.9), (2.0, 6.0, 1e-2, 0.5),
                                           (1.0, 0.99, 1e-5, 0.3)])
def test_depth_200_against_closed_forms(lam, rho, eps, p):
    # depth 200 (sympy's exact path raised RecursionError from depth 64): the quadrature against the paper's
    # closed form for JEPA and the term-by-term series for MAE, both in 40-digit arithmetic (independent of
    # the quadrature and of sympy). rho = 6 puts u0^(-2L) = rho^400 / eps^2 ~ 1e315 past the float range, so
    # the log-space evaluation is exercised. 1e-10 relative: quad's 1e-13 plus the rounding of exp(log t) with
    # log t up to ~700 (700 * 2e-16 = 1.5e-13), with margin.
    L = 200
    assert J.time_to_learn("jepa", L, lam, rho, eps, p) == pytest.approx(_jepa_theorem_4_4(L, lam, rho, eps, p), rel=1e-10)
    assert J.time_to_learn("mae", L, lam, rho, eps, p) == pytest.approx(_mae_series(L, lam, rho, eps, p), rel=1e-10)


@pytest.mark.parametrize("obj,L", [("jepa", 12), ("mae", 12), ("jepa", 30), ("mae", 64)])
def test_deep_time_equals_integration(obj, L):
    # past SYMBOLIC_DEPTH: the quadrature against LSODA on the lambdified encoder ODE (the ODE itself comes
    # from the symbolic-depth derivation at L); tolerance as in test_time_equals_integration
    assert L > J.SYMBOLIC_DEPTH
    assert J.time_to_learn(obj, L, 0.8, 1.3, 1e-3, 0.6) == pytest.approx(
        hitting_time_by_integration(obj, L, 0.8, 1.3, 1e-3, 0.6), rel=1e-6)


def test_symbolic_depth_derivation_equals_concrete_past_the_switch():
    # past SYMBOLIC_DEPTH the per-layer ODE is the symbolic-depth derivation evaluated at L; at L = 9 it must
    # equal the factor-by-factor derivation (differentiating the loss in 9 layer symbols)
    L = J.SYMBOLIC_DEPTH + 1
    for obj in J.OBJECTIVES:
        concrete = J.model(obj).balanced_flow({"enc": L, "pred": 1})
        assert sp.simplify(J.layer_ode(obj, L) - concrete) == 0
        assert sp.simplify(J.fixed_point(obj, L) - J.fixed_point(obj, J.L).subs(J.L, L)) == 0
    with pytest.raises(ValueError, match="depth"):
        J.time_to_learn("jepa", J.MAX_DEPTH + 1, 1.0, 1.0, 0.5, 0.9)


@pytest.mark.claim("jepa.greedy_in_lambda")
@settings(max_examples=20, deadline=None)
@given(obj=objectives, L=depths, lam=lams, rho=rhos, c=st.floats(0.1, 10.0))
def test_time_scales_as_one_over_lambda(obj, L, lam, rho, c):
    eps = 1e-3 * min(1.0, float(J.fixed_point(obj, L).subs(J.rho, rho)))
    # both right-hand sides are proportional to lam at fixed rho: t(c lam) = t(lam)/c up to rounding
    assert J.time_to_learn(obj, L, c * lam, rho, eps) == pytest.approx(J.time_to_learn(obj, L, lam, rho, eps) / c, rel=1e-10)


@pytest.mark.claim("jepa.greedy_in_rho_only_jepa")
@settings(max_examples=15, deadline=None)
@given(L=st.integers(2, 5), lam=lams, r1=st.floats(0.5, 1.5), dr=st.floats(0.1, 1.5))
def test_only_jepa_is_greedy_in_rho(L, lam, r1, dr):
    r2 = r1 + dr
    eps = 1e-3 * min(1.0, r1**L)
    tj1, tj2 = J.time_to_learn("jepa", L, lam, r1, eps), J.time_to_learn("jepa", L, lam, r2, eps)
    tm1, tm2 = J.time_to_learn("mae", L, lam, r1, eps), J.time_to_learn("mae", L, lam, r2, eps)
    assert tj2 < tj1  # JEPA: higher rho learned strictly sooner
    assert tm2 >= tm1 * (1 - 1e-9)  # MAE: not sooner (flat or slightly later)


@pytest.mark.claim("jepa.rho_bias_grows_with_depth")
def test_jepa_rho_spread_grows_with_depth():
    # small-initialisation regime: lam = 1, rho in {0.5, 1, 2}, eps = 1e-3
    spread = []
    for L in (1, 2, 3, 5):
        t = [J.time_to_learn("jepa", L, 1.0, r, 1e-3) for r in (0.5, 1.0, 2.0)]
        assert t[0] > t[1] > t[2]
        spread.append(t[0] / t[2])
    assert all(b > a for a, b in zip(spread, spread[1:]))


@pytest.mark.claim("jepa.depth_inverts_order", "jepa.critical_depth_vs_eps")
def test_learning_order_inversion_with_depth():
    A, B = (1.0, 0.5), (0.5, 2.0)  # A: noisy high-covariance; B: clean high-influence
    for eps in (1e-3, 1e-4):
        orders_j = [J.learning_order("jepa", L, [A, B], eps) for L in range(1, 8)]
        orders_m = [J.learning_order("mae", L, [A, B], eps) for L in range(1, 8)]
        assert all(o == [0, 1] for o in orders_m)  # MAE learns A first at every depth
        assert orders_j[0] == [0, 1] and orders_j[-1] == [1, 0]
        flip = next(i for i, o in enumerate(orders_j) if o == [1, 0])
        assert all(o == [1, 0] for o in orders_j[flip:])  # stays B-first once flipped
    # the experiment's own pair and initial scale (sims.jepa): MAE A-first at every trained depth, JEPA A-first at
    # depth 1 and B-first at the deepest default depth
    from sims.jepa import FEATURE_CLEAN, FEATURE_NOISY, JepaConfig

    cfg = JepaConfig()
    pair = [FEATURE_NOISY, FEATURE_CLEAN]
    assert all(J.learning_order("mae", L, pair, cfg.eps, p=cfg.p) == [0, 1] for L in cfg.depths)
    assert J.learning_order("jepa", 1, pair, cfg.eps, p=cfg.p) == [0, 1]
    assert J.learning_order("jepa", max(cfg.depths), pair, cfg.eps, p=cfg.p) == [1, 0]


def test_time_scale_multiplies_by_depth():
    for L in (1, 2, 4):
        a = J.time_to_learn("jepa", L, 1.3, 0.9, 1e-4, time_scale=1)
        b = J.time_to_learn("jepa", L, 1.3, 0.9, 1e-4, time_scale="L")
        assert b == pytest.approx(L * a, rel=1e-12)


# --------------------------------------------------------------------------- asymptotics
@pytest.mark.parametrize("L", [1, 2, 3, 4])
@pytest.mark.parametrize("rho_v", [0.5, 1.0, 2.0])
def test_jepa_laurent_residual_is_logarithmic(L, rho_v):
    ct = J.critical_time_expansion("jepa", L)
    laurent = sp.lambdify((J.lam, J.rho, J.eps), sp.Add(*[t for _, t in ct.terms]))
    for eps in (1e-3, 1e-4, 1e-6):
        if not ct.valid(eps, rho_v):
            continue
        exact = J.time_to_learn("jepa", L, 1.0, rho_v, eps)
        resid = exact - laurent(1.0, rho_v, eps)
        # the remainder is (log(rho/eps^(1/L)) + O(1)) / rho^(2L-1): bound it by 3 log(1/eps) / rho^(2L-1) + 10
        assert abs(resid) <= (3 * np.log(1 / eps) + 10) / rho_v ** (2 * L - 1)


@pytest.mark.parametrize("obj", J.OBJECTIVES)
@pytest.mark.parametrize("L", [1, 2, 3])
def test_full_expansion_matches_exact_time(obj, L):
    ct = J.critical_time_expansion(obj, L)
    eps = 1e-8
    exact = J.time_to_learn(obj, L, 1.1, 1.4, eps)
    # the dropped remainder is O(eps^(1/L)) relative to O(1) terms; the singular part dominates the value
    assert ct.evaluate(1.1, 1.4, eps) == pytest.approx(exact, rel=5 * eps ** (1 / L) + 1e-9)


@pytest.mark.parametrize("L", [1, 2, 3])
def test_leading_term_is_rho_independent(L):
    # t lam eps^((2L-1)/L) -> 1/(2L-1) for any rho (a detector of the lam = eig(Sigma_yx) convention)
    for rho_v in (0.5, 2.0):
        vals = [J.time_to_learn("jepa", L, 1.0, rho_v, e) * e ** ((2 * L - 1) / L) for e in (1e-8, 1e-10)]
        # the first correction is relative O(eps^(1/L)/rho), so at eps = 1e-10 it is below 3e-3 (L <= 3)
        assert vals[-1] == pytest.approx(1 / (2 * L - 1), rel=3e-2)
        assert abs(vals[-1] - 1 / (2 * L - 1)) < abs(vals[0] - 1 / (2 * L - 1)) + 1e-12  # converging


def test_mae_asymptotics():
    # L = 1: lam t - ln(1/eps) = O(1); L >= 2: (L-1) lam eps^((L-1)/L) t -> 1
    d = [J.time_to_learn("mae", 1, 1.0, 1.0, e) - np.log(1 / e) for e in (1e-4, 1e-8, 1e-12)]
    assert max(d) - min(d) < 1e-3
    for L in (2, 3):
        r = (L - 1) * 1e-12 ** ((L - 1) / L) * J.time_to_learn("mae", L, 1.0, 1.0, 1e-12)
        assert r == pytest.approx(1.0, rel=1e-2)


def test_expansion_flags_invalid_region():
    ct = J.critical_time_expansion("jepa", 3)
    assert not ct.valid(1e-2, 0.5)  # eps^(1/3)/rho = 0.43: not small
    with pytest.raises(ValueError, match="not asymptotic"):
        ct.evaluate(1.0, 0.5, 1e-2)
    assert ct.first_rho_term is not None and sp.diff(ct.leading, J.rho) == 0
    assert J.critical_time_expansion("mae", 3).first_rho_term is None


# --------------------------------------------------------------------------- full matrix flow
def _aligned_init(d, L, eps, rho_pred=None, key=None):
    p = deep_linear_init(d, L, eps, key=key)
    Ws = [np.asarray(w, float) for w in p["W"]]
    V = np.asarray(p["V"], float) if rho_pred is None else np.diag(rho_pred)
    return Ws, V


@pytest.mark.claim("jepa.trained_follow_ode")
@pytest.mark.parametrize("obj,eps", [("jepa", 1e-2), ("mae", 1e-3)])
@pytest.mark.parametrize("L", [1, 2, 3])
def test_per_mode_ode_equals_full_matrix_flow(obj, eps, L):
    # the per-mode reduction against the full matrix flow: d = 3, lam = (1, 1, .5), rho = (1, 2, 3), layers eps^(1/L) I
    lam_v, rho_v = np.array([1.0, 1.0, 0.5]), np.array([1.0, 2.0, 3.0])
    sxx, syx = np.diag(lam_v / rho_v), np.diag(lam_v)
    Ws, V = _aligned_init(3, L, eps)  # every layer eps^(1/L) I
    horizon = 1.5 * max(J.time_to_learn(obj, L, a, b, eps, 0.99) for a, b in zip(lam_v, rho_v))
    ts = np.linspace(0, horizon, 60)
    Y = solve(J.full_flow_rhs(obj, 3, L, sxx, syx), J.pack(Ws, V), ts, rtol=1e-11, atol=1e-13)
    f = J.mode_rhs(obj, L)
    for i in range(3):
        mode = solve(lambda t, y: f(y, lam_v[i], rho_v[i]), [eps], ts, rtol=1e-11, atol=1e-14)[:, 0]
        # the mode is the norm of wbar's column i (equal to the diagonal entry here; invariant under the
        # output rotations wbar -> Q wbar, V -> Q V Q^T that leave the JEPA loss unchanged)
        full = np.array([np.linalg.norm(deep_linear_product(J.unpack(y, 3, L)[0])[:, i]) for y in Y])
        wstar = float(J.fixed_point(obj, L).subs(J.rho, rho_v[i]))
        # both integrators at rtol 1e-11: agreement to 1e-6 of the plateau leaves ample margin
        assert np.max(np.abs(full - mode)) <= 1e-6 * wstar
        assert full[-1] == pytest.approx(wstar, rel=1e-3)  # converged to the plateau
    Ws_end, V_end = J.unpack(Y[-1], 3, L)
    vstar = [float(J.fixed_point(obj, L, which="v").subs(J.rho, r)) for r in rho_v]
    assert np.allclose(np.sort(np.linalg.svd(V_end, compute_uv=False)), np.sort(vstar), rtol=1e-3)


@pytest.mark.parametrize("L", [2, 3])
def test_random_orthogonal_layers_reach_the_predicted_plateaus(L):
    # Balanced random-orthogonal layers with an aligned product: JEPA's loss is invariant under output
    # rotations (wbar -> Q wbar, V -> Q V Q^T), and along the way the full flow drifts in that direction
    # (round-off grows; the rows of wbar end up permuted), so only rotation-invariant quantities are
    # compared: the column norms of wbar (input side, pinned by the data) and the singular values of V.
    lam_v, rho_v = np.array([1.0, 1.0, 0.5]), np.array([1.0, 2.0, 3.0])
    eps = 1e-2
    Ws, V = _aligned_init(3, L, eps, key=jax.random.PRNGKey(L))
    horizon = 1.5 * max(J.time_to_learn("jepa", L, a, b, eps, 0.99) for a, b in zip(lam_v, rho_v))
    Y = solve(J.full_flow_rhs("jepa", 3, L, np.diag(lam_v / rho_v), np.diag(lam_v)), J.pack(Ws, V), [0.0, horizon],
              rtol=1e-11, atol=1e-13)
    W_end, V_end = J.unpack(Y[-1], 3, L)
    wstar = np.array([float(J.fixed_point("jepa", L).subs(J.rho, r)) for r in rho_v])
    # converged to within 1e-3 of each plateau (the horizon is 1.5 x the time to 99%)
    assert np.allclose(np.linalg.norm(deep_linear_product(W_end), axis=0), wstar, rtol=1e-3)
    assert np.allclose(np.sort(np.linalg.svd(V_end, compute_uv=False)), np.sort(rho_v), rtol=1e-3)


@pytest.mark.parametrize("obj", J.OBJECTIVES)
def test_balancedness_conserved(obj):
    L, d, eps = 3, 3, 1e-2
    lam_v, rho_v = np.array([1.0, 0.7, 0.5]), np.array([1.5, 1.0, 2.0])
    Ws, V = _aligned_init(d, L, eps, key=jax.random.PRNGKey(7))
    horizon = J.time_to_learn(obj, L, 1.0, 1.5, eps, 0.9)
    Y = solve(J.full_flow_rhs(obj, d, L, np.diag(lam_v / rho_v), np.diag(lam_v)), J.pack(Ws, V), np.linspace(0, horizon, 20),
              rtol=1e-11, atol=1e-14)
    for y in Y:
        Wt, Vt = J.unpack(y, d, L)
        chain = [*Wt, Vt]
        for a in range(L):
            gap = chain[a + 1].T @ chain[a + 1] - chain[a] @ chain[a].T
            # zero up to integration error (rtol 1e-11 on entries of size <= rho)
            assert np.max(np.abs(gap)) < 1e-7


def test_stop_gradient_predictor_at_rho_freezes_encoder():
    # with v(0) = rho per mode the stop-gradient JEPA encoder must not move (the predictor already matches the target)
    L, d, eps = 2, 3, 1e-2
    rho_v = np.array([0.8, 1.5, 2.0])
    Ws, V = _aligned_init(d, L, eps, rho_pred=rho_v)
    dW, dV = J.full_flow("jepa", Ws, V, np.eye(d), np.diag(rho_v))
    assert max(np.max(np.abs(x)) for x in dW) == 0.0 and np.max(np.abs(dV)) == 0.0
    # MAE (no stop-gradient, target y) does move from the same state: a negative control
    dWm, _ = J.full_flow("mae", Ws, V, np.eye(d), np.diag(rho_v))
    assert max(np.max(np.abs(x)) for x in dWm) > 1e-3


def test_nonpositive_rho_mode_never_grows():
    # Sigma_yx entry <= 0 (rho <= 0): that mode's wbar does not increase (and rho <= 0 is refused by the API)
    L, d, eps = 2, 2, 1e-1
    Ws, V = _aligned_init(d, L, eps)
    Y = solve(J.full_flow_rhs("jepa", d, L, np.eye(d), np.diag([1.0, -0.5])), J.pack(Ws, V), np.linspace(0, 200, 30),
              rtol=1e-10, atol=1e-14)
    modes = np.array([deep_linear_product(J.unpack(y, d, L)[0])[1, 1] for y in Y])
    assert np.all(np.diff(modes) <= 1e-14) and modes[-1] < eps
    with pytest.raises(ValueError, match="rho"):
        J.time_to_learn("jepa", 2, 1.0, -0.5, 1e-3)


@pytest.mark.parametrize("L", [1, 2, 3])
def test_mode_above_plateau_decays_to_it(L):
    rho_v = 0.6
    w0 = 1.5 * rho_v**L
    f = J.mode_rhs("jepa", L)
    ys = solve(lambda t, y: f(y, 1.0, rho_v), [w0], np.linspace(0, 400, 200))[:, 0]
    assert np.all(np.diff(ys) <= 1e-9 * rho_v**L)  # monotone decrease (up to the solver tolerance at the plateau)
    assert ys[-1] == pytest.approx(rho_v**L, rel=1e-4)


# --------------------------------------------------------------------------- data and training
@pytest.mark.parametrize("gen", [static_views, temporal_pairs])
def test_generators_give_requested_moments(gen):
    lam_v, rho_v = np.array([1.0, 0.5, 2.0]), np.array([0.5, 0.9, 0.25])
    n = 200_000
    m = moments(*gen(lam_v, rho_v, n, key=jax.random.PRNGKey(0)))
    sxx, syx = np.asarray(m["sxx"]), np.asarray(m["syx"])
    # empirical moments converge at rate n^-1/2: 6 standard errors of a variance estimate ~ 6 * 2 * var / sqrt(n)
    tol = 6 * 2 * np.max(lam_v / rho_v) / np.sqrt(n)
    assert np.allclose(np.diag(syx), lam_v, atol=tol)
    assert np.allclose(np.diag(sxx), lam_v / rho_v, atol=tol)
    assert np.max(np.abs(syx - np.diag(np.diag(syx)))) < tol
    sig, noise = static_noise_for(lam_v, rho_v)
    assert np.allclose(sig / (sig + noise), rho_v)


def test_generators_reject_bad_features():
    with pytest.raises(ValueError, match="rho"):
        static_views([1.0], [1.5], 10, key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="lam"):
        temporal_pairs([-1.0], [0.5], 10, key=jax.random.PRNGKey(0))


@pytest.mark.claim("jepa.trained_follow_ode")
def test_trained_network_follows_the_ode():
    # gradient descent with a small step on the population moments is Euler on the full flow: it must
    # track the per-mode ODE; Euler's global error is O(eta), so 2% of the plateau at eta = 0.02
    from sims.substrate.networks import jepa_loss

    L, eps, eta = 2, 0.05, 0.02
    lam_v, rho_v = np.array([1.0, 0.5]), np.array([1.0, 0.8])
    data = {"sxx": jnp.diag(jnp.asarray(lam_v / rho_v)), "syx": jnp.diag(jnp.asarray(lam_v)), "syy": jnp.eye(2)}
    T = 1.2 * J.time_to_learn("jepa", L, 0.5, 0.8, eps, 0.9)
    steps = int(np.ceil(T / eta / 50)) * 50
    res = fit(lambda p, b: jepa_loss(p, b, "jepa"), deep_linear_init(2, L, eps), optax.sgd(eta), steps=steps, data=data,
              record_every=50, record_fn=lambda p: jnp.diag(deep_linear_product(p["W"])))
    ts = res.steps * eta
    f = J.mode_rhs("jepa", L)
    for i in range(2):
        ode = solve(lambda t, y: f(y, lam_v[i], rho_v[i]), [eps], ts)[:, 0]
        assert np.max(np.abs(res.records[:, i] - ode)) <= 0.02 * rho_v[i] ** L


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs,name", [
    (dict(depth=0), "depth"), (dict(depth=2.5), "depth"), (dict(depth=True), "depth"), (dict(lam=0.0), "lam"),
    (dict(lam=-1.0), "lam"), (dict(eps=0.0), "eps"), (dict(eps=0.9), "eps"), (dict(p=1.0), "p"), (dict(p=0.0), "p"),
    (dict(objective="byol"), "objective"), (dict(rho=float("nan")), "rho"), (dict(time_scale=3), "time_scale"),
])
def test_bad_input_names_the_parameter(kwargs, name):
    args = dict(objective="jepa", depth=2, lam=1.0, rho=1.0, eps=1e-3, p=0.5)
    args.update(kwargs)
    with pytest.raises((TypeError, ValueError), match=name):  # TypeError for a bad type (depth=2.5, True)
        J.time_to_learn(**args)


@pytest.mark.parametrize("kwargs,name", [
    (dict(lam="1.0"), "lam"), (dict(rho="2"), "rho"), (dict(eps=1e-3 + 0j), "eps"), (dict(p=None), "p"),
    (dict(depth="2"), "depth"), (dict(depth=[2]), "depth"),
])
def test_bad_types_are_type_errors(kwargs, name):
    """Issue 17: numeric strings, complex numbers and None are a TypeError naming the argument everywhere."""
    args = dict(objective="jepa", depth=2, lam=1.0, rho=2.0, eps=1e-3, p=0.5)
    args.update(kwargs)
    with pytest.raises(TypeError, match=name):
        J.time_to_learn(**args)


def test_extreme_input_is_answered_or_refused_clearly():
    """Issue 17 cases. lam = 1e308 is legal: the time is the lam = 1 time / 1e308 (t is exactly 1/lam-homogeneous;
    relative 1e-12 from the quadrature path it now takes). eps = 1e-300 needs a time ~1e450: refused with the
    reason (was a ZeroDivisionError from lambdified code), also through learning_times/learning_order. Symbolic
    work is bounded: depth 10**6 is refused up front (was a hang), the unhashable depth [2] of a cached function
    is a TypeError naming depth (was an lru_cache error)."""
    t1 = J.time_to_learn("jepa", 2, 1.0, 2.0, 0.01)
    assert J.time_to_learn("jepa", 2, 1e308, 2.0, 0.01) == pytest.approx(t1 / 1e308, rel=1e-12)
    feats = [(1.0, 0.5), (0.7, 1.2)]
    for call in (lambda: J.time_to_learn("jepa", 2, 1.0, 2.0, 1e-300), lambda: J.learning_times("jepa", 2, feats, 1e-300),
                 lambda: J.learning_order("jepa", 2, feats, 1e-300)):
        with pytest.raises(ArithmeticError, match="eps=1e-300") as info:
            call()
        assert not isinstance(info.value, ZeroDivisionError)
    for call in (lambda: J.layer_ode("jepa", 10**6), lambda: J.encoder_ode("mae", 10**6),
                 lambda: J.critical_time_expansion("jepa", J.MAX_EXPANSION_DEPTH + 1)):
        with pytest.raises(ValueError, match="depth"):
            call()
    for call in (lambda: J.mode_rhs("jepa", [2]), lambda: J.hitting_integrand("jepa", [2]),
                 lambda: J.critical_time_expansion("jepa", 2, time_scale=[1])):
        with pytest.raises(TypeError, match="depth|time_scale"):
            call()
    with pytest.raises(ValueError, match="rho"):
        J.time_to_learn("jepa", 2, 1.0, 1e308, 0.01)  # the fixed point rho**L overflows: refused, named


def test_full_flow_accepts_array_likes_and_refuses_non_finite():
    rng = np.random.default_rng(0)
    layers, pred = [rng.normal(size=(2, 2)) for _ in range(2)], rng.normal(size=(2, 2))
    sxx, syx = np.eye(2), np.diag([1.0, 0.5])
    dW, dV = J.full_flow("jepa", layers, pred, sxx, syx)
    dW2, dV2 = J.full_flow("jepa", [m.tolist() for m in layers], pred.tolist(), sxx.tolist(), syx.tolist())
    np.testing.assert_array_equal(dV, dV2)
    for a, b in zip(dW, dW2):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"predictor"):
        J.full_flow("jepa", layers, np.full((2, 2), np.nan), sxx, syx)
    with pytest.raises(ValueError, match="overflows"):
        J.full_flow("jepa", layers, pred * 1e300, sxx, syx)
    with pytest.raises(TypeError, match="sigma_yx"):
        J.full_flow("jepa", layers, pred, sxx, syx + 1j)


def test_bad_shapes_and_symbolic_input():
    with pytest.raises(ValueError, match="objective"):
        J.encoder_ode("simclr", 2)
    with pytest.raises(ValueError, match="depth"):
        J.encoder_ode("jepa", 0)
    with pytest.raises(ValueError, match=r"sigma_xx"):
        J.full_flow("jepa", [np.eye(2)], np.eye(2), np.eye(3), np.eye(2))
    with pytest.raises(ValueError, match="layers"):
        J.full_flow("jepa", [np.eye(2), np.eye(3)], np.eye(2), np.eye(2), np.eye(2))
    with pytest.raises(ValueError, match="features"):
        J.learning_order("jepa", 2, [(1.0, 1.0, 3.0)], 1e-3)


def test_end_to_end_fixed_point_is_the_product_and_the_flow_limit():
    # which="P" (the end-to-end map) against two independent facts: MAE's end-to-end map converges to the OLS
    # coefficient rho at every depth, and for both objectives P* = wbar* v* is where the per-mode flow of the
    # encoder and predictor settles (integrated numerically from a small balanced start; rtol 1e-6 is the
    # integrator's accuracy at t = 50 critical times, far past the plateau).
    for L in (1, 2, 3, 4):
        assert sp.simplify(J.fixed_point("mae", L, which="P") - J.rho) == 0
        for obj in ("jepa", "mae"):
            P = J.fixed_point(obj, L, which="P")
            assert sp.simplify(P - J.fixed_point(obj, L, which="w") * J.fixed_point(obj, L, which="v")) == 0
    rho_v, lam_v, eps, L = 1.3, 1.0, 1e-2, 3
    for obj in ("jepa", "mae"):
        f = J.mode_rhs(obj, L)
        T = 50 * J.time_to_learn(obj, L, lam_v, rho_v, eps, 0.5)
        wbar = solve(lambda t, y: f(y, lam_v, rho_v), [eps], np.array([0.0, T]))[-1, 0]
        v = float(J.fixed_point(obj, L, which="v").subs(J.rho, rho_v))  # balanced: v = s, wbar = s^L
        assert abs(wbar ** ((L + 1) / L) - float(J.fixed_point(obj, L, which="P").subs(J.rho, rho_v))) <= 1e-5
        assert abs(wbar * v - float(J.fixed_point(obj, L, which="P").subs(J.rho, rho_v))) <= 1e-5


def test_training_unit_time_axis_matches_the_ode():
    # The experiment's own training unit (not a hand-written loop): its time axis is steps * eta, so a step
    # size that drifted from the time axis (a planted mistake once went unnoticed) shows up here. The sample's
    # own (lam_hat, rho_hat) drive the ODE; Euler's global error is O(eta): 3% of the plateau at eta = 0.02
    # (measured: at most 0.7%; with eta doubled in the fit but not in the time axis the error is O(plateau)).
    from sims.jepa import train_modes

    L, eps, eta = 2, 0.05, 0.02
    feats = ((1.0, 1.0), (0.5, 0.8))
    T = 1.2 * J.time_to_learn("jepa", L, 0.5, 0.8, eps, 0.9)
    steps = int(np.ceil(T / eta / 40)) * 40
    for obj in ("jepa",):  # one objective suffices: the time axis is shared code
        unit = dict(objective=obj, depth=L, eps=eps, eta=eta, steps=steps, record_every=steps // 40, n_samples=4000,
                    features=feats, dtype="float64")
        out = train_modes(unit, [3])[0]
        f = J.mode_rhs(obj, L)
        for i in range(len(feats)):
            lam_h, rho_h = float(out["lam_hat"][i]), float(out["rho_hat"][i])
            ode = solve(lambda t, y, a=lam_h, b=rho_h: f(y, a, b), [eps], out["t"])[:, 0]
            plateau = float(J.fixed_point(obj, L).subs(J.rho, rho_h))
            err = np.max(np.abs(out["modes"][:, i] - ode))
            assert err <= 0.03 * plateau


# --------------------------------------------------------------------------- full d x d networks, temporal model
def test_temporal_features_match_sampled_pairs():
    # theory.jepa.temporal_features (derived by sympy from the AR(1) model) against Monte Carlo moments of the
    # substrate's sampler: n = 400k pairs give relative standard errors ~ sqrt((1 + gamma^2) / n) < 0.3%,
    # so 2% is > 6 standard errors
    gammas, variances = np.array([0.3, 0.6, 0.95]), np.array([2.0, 0.5, 1.0])
    lam_rho = [J.temporal_features(g, v) for g, v in zip(gammas, variances)]
    assert lam_rho == pytest.approx([(g * v, g) for g, v in zip(gammas, variances)], rel=1e-12)
    lam_v, rho_v = np.array(lam_rho).T
    x, y = temporal_pairs(lam_v, rho_v, 400_000, key=jax.random.PRNGKey(0))
    m = moments(x, y)
    assert np.diag(np.asarray(m["syx"])) == pytest.approx(lam_v, rel=0.02)
    assert np.diag(np.asarray(m["syx"])) / np.diag(np.asarray(m["sxx"])) == pytest.approx(rho_v, rel=0.02)
    assert np.diag(np.asarray(m["syy"])) == pytest.approx(variances, rel=0.02)  # stationary: Var(y) = Var(x)
    with pytest.raises(ValueError, match="gamma"):
        J.temporal_features(1.0, 1.0)


@pytest.mark.claim("jepa.full_matrix_order_jepa", "jepa.full_matrix_order_mae", "jepa.full_matrix_times",
                   "jepa.full_matrix_plateaus", "jepa.temporal_full_matrix_order_jepa")
@pytest.mark.parametrize("obj", J.OBJECTIVES)
def test_train_full_equals_the_matrix_flow(obj):
    # the experiment's full-network unit (fit, random init, sampled moments) against an independent integration
    # of the full matrix gradient flow (theory.jepa.full_flow, scipy LSODA) from the same initial weights on
    # the same moments; Euler's global error is O(eta) = a few % of a weight's scale at eta = 0.01, so 3% of
    # the largest plateau (the ODE error is ~1e-9)
    from sims.jepa import FULL_FEATURES, _random_init, train_full

    L, c, eta, steps = 2, 0.3, 0.01, 3000
    unit = dict(objective=obj, depth=L, c=c, eta=eta, steps=steps, record_every=300, n_samples=5000,
                features=FULL_FEATURES, data="static")
    out = train_full(unit, [7])[0]
    d = len(FULL_FEATURES)
    kd, ki = jax.random.split(jax.random.PRNGKey(10_000 + 7))
    p0 = _random_init(d, L, c, ki, jnp.float64)
    lam_v = np.array([f[0] for f in FULL_FEATURES])
    rho_v = np.array([f[1] for f in FULL_FEATURES])
    from sims.jepa import _gain
    x, y = static_views(lam_v, rho_v, 5000, key=kd, gain=_gain(rho_v))
    m = moments(x.astype(jnp.float64), y.astype(jnp.float64))
    rhs = J.full_flow_rhs(obj, d, L, np.asarray(m["sxx"]), np.asarray(m["syx"]))
    ys = solve(rhs, J.pack([np.asarray(w) for w in p0["W"]], np.asarray(p0["V"])), out["t"], rtol=1e-9, atol=1e-12)
    proj_ode = np.array([np.linalg.norm(np.linalg.multi_dot(J.unpack(yk, d, L)[0][::-1]), axis=0) for yk in ys])
    assert out["proj"][0] == pytest.approx(proj_ode[0], abs=1e-12)
    plateau = max(float(J.fixed_point(obj, L).subs(J.rho, r)) for r in rho_v)
    assert np.max(np.abs(out["proj"] - proj_ode)) <= 0.03 * plateau
    wstar = np.array([float(J.fixed_point(obj, L).subs(J.rho, r)) for r in rho_v])
    assert np.max(out["proj"][-1] / wstar) > 0.5  # the run is long enough to leave the small start


def test_random_init_is_small_unaligned_and_unbalanced():
    # E ||Wbar(0) e_i||^2 = c^(2L) for i.i.d. N(0, c^2/d) layers (each layer preserves the expected squared norm):
    # Monte Carlo over 2000 draws (relative standard error of the mean ~ 3%, tolerance 15%); and the start is
    # neither balanced nor diagonal
    from sims.jepa import _random_init

    d, L, c = 4, 3, 0.3
    inits = jax.vmap(lambda k: _random_init(d, L, c, k, jnp.float64))(jax.random.split(jax.random.PRNGKey(1), 2000))
    wbar = jax.vmap(lambda W: deep_linear_product(W))(inits["W"])
    assert float(jnp.mean(jnp.sum(wbar**2, axis=1))) == pytest.approx(c ** (2 * L), rel=0.15)
    W1, W2 = inits["W"][0][0], inits["W"][1][0]
    assert float(jnp.linalg.norm(W2.T @ W2 - W1 @ W1.T)) > 0.1 * c**2
    assert float(jnp.linalg.norm(wbar[0] - jnp.diag(jnp.diagonal(wbar[0])))) > 0.1 * c**L


# --------------------------------------------------------------------------- closed-form trajectories (issue 16)
# ranges the experiments use: features lam in [0.3, 2], rho in [0.25, 1.7], eps from 1e-3 to 0.04, depths 1-5
traj_lams = st.floats(0.3, 2.0)
traj_rhos = st.floats(0.5, 1.7)
traj_eps = st.floats(-3.0, np.log10(0.04))


def _horizon(obj, L, lam, rho, eps):
    """A horizon that covers the rise and the relaxation of every mode: twice the time to 99% of the plateau from
    below the plateau (a mode started above it relaxes on the same time constant)."""
    ts = []
    for a, b in zip(lam, rho):
        wstar = float(J.fixed_point(obj, L).subs(J.rho, b))
        ts.append(J.time_to_learn(obj, L, a, b, min(eps, 0.25 * wstar), 0.99))
    return 2.0 * max(ts)


@settings(max_examples=8, deadline=None)
@given(obj=objectives, L=st.integers(1, 5), lam=st.lists(traj_lams, min_size=4, max_size=4),
       rho=st.lists(st.floats(0.5, 1.2), min_size=4, max_size=4), log_eps=st.floats(-2.0, np.log10(0.04)))
def test_closed_form_trajectories_equal_the_diffrax_batch(obj, L, lam, rho, log_eps):
    from sims.substrate.ode import jepa_mode_trajectories

    # the experiments' trajectory ranges: eps from 1e-2 (they start at 0.01-0.02), rho up to 1.2 (their features).
    # Wider, the explicit diffrax solver runs out of steps (max_steps 1e5) on a stiff mode over the long horizon of a
    # slow one (hypothesis found lam = (2, 1, 1, 1), rho = (1.5, 1, 1, 1), L = 3, eps = 1e-3 and rho = 1.625, L = 5,
    # eps = 1e-2): one reason for the closed form. Radau below covers the wider ranges.
    eps = 10.0**log_eps
    ts = np.linspace(0.0, _horizon(obj, L, lam, rho, eps), 30)
    feats = list(zip(lam, rho))
    cf = jepa_mode_trajectories(obj, L, feats, eps, ts)
    ode = jepa_mode_trajectories(obj, L, feats, eps, ts, method="ode")
    assert cf.shape == ode.shape == (4, 30)
    # diffrax (Tsit5, rtol 1e-9) accumulates a global relative error of up to a few 1e-6 in the fast rise (measured:
    # 1.1e-6 on 256 random modes at depths 1-5, 5.4e-6 on the bench's 4096 modes at L = 3 with rho up to 2; on those
    # worst modes the closed form agrees with Radau at rtol 1e-12 to 5e-12): 1e-5
    np.testing.assert_allclose(cf, ode, rtol=1e-5, atol=0)


@settings(max_examples=8, deadline=None)
@given(obj=objectives, L=st.integers(1, 5), lam=traj_lams, rho=traj_rhos, log_eps=traj_eps)
def test_closed_form_trajectories_equal_radau(obj, L, lam, rho, log_eps):
    eps = 10.0**log_eps
    ts = np.linspace(0.0, _horizon(obj, L, [lam], [rho], eps), 25)
    w = J.mode_trajectories(obj, L, lam, rho, eps, ts)[0]
    f = J.mode_rhs(obj, L)
    ref = scipy.integrate.solve_ivp(lambda t, y: f(y, lam, rho), (0.0, ts[-1]), [eps], t_eval=ts, method="Radau",
                                    rtol=1e-12, atol=1e-20).y[0]
    # Radau's local error 1e-12 is amplified in the rise (the hitting time is sensitive to the start): its global
    # relative error measured up to 4e-11; 1e-8 leaves room and is still 3 orders below the diffrax check
    np.testing.assert_allclose(w, ref, rtol=1e-8, atol=0)


@settings(max_examples=15, deadline=None)
@given(obj=objectives, L=st.integers(1, 8), lam=traj_lams, rho=traj_rhos, log_eps=traj_eps, p=st.floats(0.1, 0.95))
def test_trajectory_at_the_hitting_time_is_p_times_the_plateau(obj, L, lam, rho, log_eps, p):
    eps = 10.0**log_eps
    wstar = float(J.fixed_point(obj, L).subs(J.rho, rho))
    if not eps < p * wstar:
        return  # no hitting time: the start lies above the threshold
    t_star = J.time_to_learn(obj, L, lam, rho, eps, p)
    w = J.mode_trajectories(obj, L, [lam], [rho], eps, [0.0, t_star])[0]
    assert w[0] == eps
    # time_to_learn is exact to ~1e-12 relative (documented); a relative time error dt/t moves w by kappa dt/t with
    # the condition number kappa = t wdot / w of t -> w, up to ~3e6 in the steep rise of deep JEPA modes (L = 8,
    # eps = 1e-3, rho = 1.7, found by hypothesis; there the closed form is within 6e-10 = kappa * 2e-16 of a 40-digit
    # inversion at the same float t): 1e-12 kappa
    kappa = t_star * J.mode_rhs(obj, L)(p * wstar, lam, rho) / (p * wstar)
    assert abs(w[1] / (p * wstar) - 1.0) < 1e-12 * max(1.0, kappa)


@pytest.mark.parametrize("obj", J.OBJECTIVES)
@pytest.mark.parametrize("L", [1, 3])
def test_closed_form_trajectories_equal_a_40_digit_inversion(obj, L):
    """The documented accuracy (a few ulp): against the same t(u) inverted in 40-digit mpmath arithmetic."""
    import mpmath as mp

    lam, rho, eps = 0.7, 1.3, 1e-4
    ts = np.array([1e-9, 1e-3, 1.0, 1e2, 1e3, 1e4, 1e6])
    w = J.mode_trajectories(obj, L, lam, rho, eps, ts)[0]
    C, g = J.hitting_integrand(obj, L)
    G = J.hitting_antiderivative(obj, L).subs(sp.Abs(1 - J.u), 1 - J.u)
    with mp.workdps(40):
        Gm, gm = sp.lambdify(J.u, G, "mpmath"), sp.lambdify(J.u, g, "mpmath")
        ss = mp.mpf(sp.N(J._layer_fixed_point(obj, L).subs(J.rho, sp.Rational(13, 10)), 50))
        c = mp.mpf(sp.N(C.subs({J.lam: sp.Rational(7, 10), J.rho: sp.Rational(13, 10)}), 50))
        u0 = mp.mpf(eps) ** (mp.mpf(1) / L) / ss
        for t, wv in zip(ts, w):
            uf = mp.mpf(wv) ** (mp.mpf(1) / L) / ss
            if uf >= 1:  # returned the plateau: right when 1 - u < 2^-53 there, i.e. t(z = 37) <= t
                u37 = 1 / (1 + mp.exp(-37))
                assert c * (Gm(u37) - Gm(u0)) <= t, (t, wv)
                continue
            z = mp.log(uf) - mp.log(1 - uf)
            for _ in range(50):  # Newton in z = logit(u) from the float answer
                uu = 1 / (1 + mp.exp(-z))
                step = (c * (Gm(uu) - Gm(u0)) - t) / (c * gm(uu) * uu * (1 - uu))
                z -= step
                if abs(step) < mp.mpf(10) ** -35 * (1 + abs(z)):
                    break
            ref = (ss / (1 + mp.exp(-z))) ** L
            # the inversion works in z: a few ulp of z (|z| up to ~15 here) and L powers: 2e-14
            assert abs(float((mp.mpf(wv) - ref) / ref)) < 2e-14, (t, wv, ref)


@pytest.mark.parametrize("obj", J.OBJECTIVES)
@pytest.mark.parametrize("L", [1, 4])
def test_closed_form_early_slope_and_late_plateau(obj, L):
    lam, rho, eps = 1.0, 0.9, 1e-3
    f = J.mode_rhs(obj, L)
    wstar = float(J.fixed_point(obj, L).subs(J.rho, rho))
    t = 1e-7 * eps / f(eps, lam, rho)  # an increment of 1e-7 eps
    w = J.mode_trajectories(obj, L, lam, rho, eps, [0.0, t, 1e12])[0]
    # the near-start difference form: w(t) - eps = t f(eps) (1 + O(t f'(eps))) with t f'(eps) ~ 3e-7; float rounding
    # of w leaves ~1e-9 of the increment
    assert abs((w[1] - eps) / (t * f(eps, lam, rho)) - 1.0) < 1e-5
    assert w[0] == eps and w[2] == pytest.approx(wstar, rel=1e-15)  # u rounds to 1 long before t = 1e12


@pytest.mark.parametrize("obj", J.OBJECTIVES)
def test_closed_form_above_and_at_the_plateau(obj):
    L, lam, rho = 3, 1.0, 0.8
    wstar = float(J.fixed_point(obj, L).subs(J.rho, rho))
    ts = np.linspace(0.0, 50.0, 11)
    w = J.mode_trajectories(obj, L, lam, rho, 2.0 * wstar, ts)[0]
    f = J.mode_rhs(obj, L)
    ref = scipy.integrate.solve_ivp(lambda t, y: f(y, lam, rho), (0.0, 50.0), [2.0 * wstar], t_eval=ts, method="Radau",
                                    rtol=1e-12, atol=1e-20).y[0]
    np.testing.assert_allclose(w, ref, rtol=1e-9, atol=0)  # decay: no amplification, Radau's tolerance + margin
    assert np.all(np.diff(w) <= 0) and np.all(w >= wstar)  # decays monotonically onto the plateau (MAE reaches it)
    for start in (np.nextafter(wstar, 0.0), wstar, np.nextafter(wstar, 1.0)):  # at the plateau, and one ulp off
        w_at = J.mode_trajectories(obj, L, lam, rho, start, ts)[0]
        np.testing.assert_allclose(w_at, wstar, rtol=1e-14)  # a few ulp: (s* u)^L rounding


def test_closed_form_time_scale_and_shapes():
    lam, rho = np.array([0.5, 1.0, 2.0]), np.array([0.9, 1.1, 1.3])
    ts = np.array([0.0, 5.0, 50.0, 500.0])
    a = J.mode_trajectories("jepa", 3, lam, rho, 0.01, ts, time_scale="L")
    b = J.mode_trajectories("jepa", 3, lam, rho, 0.01, ts / 3)
    assert a.shape == (3, 4)
    np.testing.assert_allclose(a, b, rtol=1e-14)  # every time is multiplied by L, nothing else changes
    # ts in any order: the same values, permuted
    np.testing.assert_array_equal(J.mode_trajectories("jepa", 3, lam, rho, 0.01, ts[::-1]),
                                  J.mode_trajectories("jepa", 3, lam, rho, 0.01, ts)[:, ::-1])


@pytest.mark.parametrize("L", [6, 7, 8])
@pytest.mark.parametrize("obj", J.OBJECTIVES)
def test_antiderivative_past_the_proved_depths(obj, L):
    """Depths 6-8 (MAE's degree-6 cyclotomic factors): dG/du = g at sample points in 30-digit arithmetic, both sides
    of the plateau (the proof checks depths 1-5 symbolically)."""
    G = J.hitting_antiderivative(obj, L)
    _, g = J.hitting_integrand(obj, L)
    dG = sp.diff(G, J.u)
    for x in (sp.Rational(1, 7), sp.Rational(1, 2), sp.Rational(9, 10), sp.Rational(13, 10), sp.Integer(3)):
        lhs, rhs = sp.N(dG.subs(J.u, x), 30), sp.N(g.subs(J.u, x), 30)
        assert abs(lhs - rhs) <= 1e-25 * abs(rhs)
    assert not G.has(sp.I) and not G.has(sp.RootSum)


@pytest.mark.parametrize("kwargs,exc,name", [
    (dict(depth=9), ValueError, "depth"), (dict(depth=0), ValueError, "depth"), (dict(depth=2.0), TypeError, "depth"),
    (dict(objective="byol"), ValueError, "objective"), (dict(lam=[1.0, -1.0]), ValueError, "lam"),
    (dict(lam="1"), TypeError, "lam"), (dict(rho=[1.0, 0.0]), ValueError, "rho"), (dict(rho=[1.0]), ValueError, "rho"),
    (dict(rho=[1.0, float("nan")]), ValueError, "rho"), (dict(eps=0.0), ValueError, "eps"),
    (dict(eps=float("inf")), ValueError, "eps"), (dict(eps=1e-3 + 0j), TypeError, "eps"),
    (dict(ts=[0.0, -1.0]), ValueError, "ts"), (dict(ts=[[0.0, 1.0]]), ValueError, "ts"),
    (dict(ts=[0.0, float("nan")]), ValueError, "ts"), (dict(time_scale=3), ValueError, "time_scale"),
    (dict(rho=[1.0, 1e-200]), ValueError, "rho"), (dict(eps=1e-300, depth=8), ValueError, "eps"),
])
def test_closed_form_bad_input_names_the_parameter(kwargs, exc, name):
    args = dict(objective="jepa", depth=2, lam=[1.0, 2.0], rho=[1.0, 1.5], eps=1e-3, ts=[0.0, 1.0, 10.0])
    args.update(kwargs)
    with pytest.raises(exc, match=name):
        J.mode_trajectories(**args)


def test_jepa_mode_trajectories_method_and_fallback():
    from sims.substrate.ode import jepa_mode_trajectories

    with pytest.raises(ValueError, match="method"):
        jepa_mode_trajectories("jepa", 2, [(1.0, 1.0)], 1e-2, np.linspace(0, 1, 3), method="rk4")
    with pytest.raises(ValueError, match="t_eval"):
        jepa_mode_trajectories("jepa", 2, [(1.0, 1.0)], 1e-2, np.array([0.0, 2.0, 1.0]))
    # the grid need not start at 0: every mode starts at eps at ts[0], as in the ODE path
    ts = np.linspace(10.0, 60.0, 6)
    a = jepa_mode_trajectories("mae", 2, [(1.0, 1.2)], 1e-2, ts)
    np.testing.assert_allclose(a, J.mode_trajectories("mae", 2, 1.0, 1.2, 1e-2, ts - 10.0), rtol=0, atol=0)
    # past SYMBOLIC_DEPTH the default path is the diffrax batch itself
    deep = jepa_mode_trajectories("jepa", J.SYMBOLIC_DEPTH + 2, [(1.0, 1.1)], 0.5, ts)
    np.testing.assert_array_equal(deep, jepa_mode_trajectories("jepa", J.SYMBOLIC_DEPTH + 2, [(1.0, 1.1)], 0.5, ts,
                                                               method="ode"))
