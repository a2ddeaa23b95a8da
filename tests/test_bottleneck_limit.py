"""theory.bottleneck_limit (the limit dynamics derived by sympy) and the centred-output comparison of
sims.bottleneck: the derived flow against finite differences of a numpy network, the Gaussian expectation
against the monomial moment rule, the limit's initial kernel against autodiff, and the small-target
(lazy) prediction against training."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from sims import bottleneck as SB
from sims.bottleneck import experiment as SBE
from sims.bottleneck import training as SBT
from theory import bottleneck_limit as BL


# ------------------------------------------------------------------------- gaussian_expectation
def _moment_rule(expr, syms):
    """Independent method: expand, then E[prod s^k] = prod (k-1)!! (even k), 0 (odd k), monomial by monomial."""
    poly = sp.Poly(sp.expand(expr), *syms)
    out = sp.Integer(0)
    for powers, coeff in poly.terms():
        out += coeff * sp.prod([0 if k % 2 else sp.factorial2(k - 1) for k in powers])
    return sp.expand(out)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(-3, 3), min_size=10, max_size=10), st.integers(0, 2**31 - 1))
def test_gaussian_expectation_equals_the_moment_rule(coeffs, seed):
    a, b, c = sp.symbols("a b c", real=True)
    rng = np.random.default_rng(seed)
    monos = [a**i * b**j for i, j in itertools.product(range(4), range(3))]
    picks = rng.choice(len(monos), size=10, replace=False)
    expr = sum(k * monos[i] * (1 + c * sp.tanh(c)) for k, i in zip(coeffs, picks))
    assert sp.expand(BL.gaussian_expectation(expr, [a, b]) - _moment_rule(expr, [a, b])) == 0


def test_gaussian_expectation_against_monte_carlo():
    """E[(a + 2b)^2 a^2] = E[a^4] + 4 E[a^2 b^2] = 3 + 4 = 7; Monte Carlo with 4e5 draws has sd ~
    sqrt(Var)/sqrt(n) ~ 0.05, so 0.3 is a 6-sd tolerance."""
    a, b = sp.symbols("a b", real=True)
    e = BL.gaussian_expectation((a + 2 * b) ** 2 * a**2, [a, b])
    z = np.random.default_rng(0).standard_normal((2, 400_000))
    assert e == 7 and abs(np.mean((z[0] + 2 * z[1]) ** 2 * z[0] ** 2) - 7) < 0.3


def test_bad_arguments_raise():
    a = sp.Symbol("a")
    with pytest.raises(ValueError):
        BL.gaussian_expectation(sp.exp(a), [a])  # not a polynomial
    with pytest.raises(TypeError):
        BL.gaussian_expectation(a**2, ["a"])
    with pytest.raises(ValueError):
        BL.limit_derivation("relu")
    with pytest.raises(ValueError):
        BL.limit_derivation(n_g=9)  # bounded: the expressions grow with every size
    with pytest.raises(TypeError):
        BL.limit_derivation(d=2.0)


# ------------------------------------------------------------------------- the derived flow
def _numpy_net(vals, D, x):
    """The same network in numpy (the parametrisation of theory.bottleneck_limit, tanh, no biases)."""
    d_in, n_g, d, n_f, _ = D.sizes
    w = vals["w"]
    U = np.array([[vals[f"U_{i}{k}"] for k in range(n_g)] for i in range(d_in)])
    V = np.array([[vals[f"V_{k}{a}"] for a in range(d)] for k in range(n_g)])
    W = np.array([[vals[f"W_{a}{m}"] for m in range(n_f)] for a in range(d)])
    av = np.array([vals[f"a_{m}"] for m in range(n_f)])
    h = np.sqrt(w / n_g) * V.T @ np.tanh(np.sqrt(w / d_in) * U.T @ x)
    return np.sqrt(w / n_f) * av @ np.tanh(np.sqrt(w / d) * W.T @ h)


@pytest.mark.claim("bottleneck.c-small-target-lazy")
def test_derived_flow_matches_finite_differences_of_a_numpy_network():
    """dF(x_1)/dt of limit_derivation at random values against the gradient flow computed by central
    differences of an independent numpy implementation: dF_i/dt = -sum_j e_j grad F_i . grad F_j.
    Central differences with step 1e-5 have error ~1e-10 relative: tolerance 1e-6."""
    D = BL.limit_derivation(n_f=1)
    rng = np.random.default_rng(3)
    weights = list(D.U) + list(D.V) + list(D.W) + list(D.a)
    vals = {str(s): rng.standard_normal() for s in weights}
    vals["w"] = 1.7
    xs = [rng.standard_normal(D.sizes[0]) for _ in D.x]
    es = rng.standard_normal(len(D.e))
    subs = {BL.w: vals["w"], **{s: vals[str(s)] for s in weights}}
    for p, xv in enumerate(D.x):
        subs.update({xv[i]: xs[p][i] for i in range(D.sizes[0])})
    subs.update(dict(zip(D.e, es)))
    names = [str(s) for s in weights]

    def grad(x):
        g = np.zeros(len(names))
        for k, nm in enumerate(names):
            hi, lo = dict(vals), dict(vals)
            hi[nm] += 1e-5
            lo[nm] -= 1e-5
            g[k] = (_numpy_net(hi, D, x) - _numpy_net(lo, D, x)) / 2e-5
        return g

    gs = [grad(x) for x in xs]
    for i in range(len(xs)):
        expected = -sum(es[j] * gs[i] @ gs[j] for j in range(len(xs)))
        got = float(D.dF_dt[i].subs(subs))
        assert abs(got - expected) <= 1e-6 * max(1.0, abs(expected))
        assert abs(float(D.K_flow[i].subs(subs)) - expected) <= 1e-6 * max(1.0, abs(expected))


# ------------------------------------------------------------------------- centred comparison (sims)
_CFG = dict(d=3, depth_g=1, n_train=24, n_test=16, target_class=0, lr=0.1, steps=200, record_every=10,
            activation="relu", w_var=2.0, b_var=0.0, limit_width=512, centre=True)


@pytest.mark.claim("bottleneck.c-small-target-lazy")
def test_limit_initial_kernel_equals_autodiff_ntk():
    """limit_initial_kernel (theory.bottleneck pieces, float64) against the Jacobian contraction of the limit
    model's outputs in its parameters (c and the head), by JAX autodiff in float32: rtol 1e-4."""
    xtr, _, xte, _ = SB.digits_task(_CFG["n_train"], _CFG["n_test"], 0, 1.0)
    x_all = np.concatenate([xtr, xte])
    k = SB.limit_initial_kernel(_CFG, 2, x_all)
    params, R = SB.limit_model(_CFG, 2, x_all)
    idx = jnp.arange(x_all.shape[0])
    jac = jax.jacobian(lambda c, f: SB.limit_apply(dict(params, c=c, f=f), R, idx, _CFG)[:, 0],
                       argnums=(0, 1))(params["c"], params["f"])
    flat = [np.asarray(a, np.float64).reshape(len(x_all), -1) for a in jax.tree_util.tree_leaves(jac)]
    kj = sum(f @ f.T for f in flat)
    np.testing.assert_allclose(k, kj, rtol=1e-4, atol=1e-4 * np.abs(kj).max())
    kc = SB.limit_initial_kernel(_CFG, 2, x_all, n_cols=5)
    np.testing.assert_allclose(kc, k[:, :5], rtol=1e-12)


@pytest.mark.claim("bottleneck.c-small-target-lazy")
@pytest.mark.slow  # ~20 s: compiles the training loop
def test_small_target_limit_follows_its_lazy_model():
    """At target scale 0.01 the centred limit's training loss follows kernel regression with its own initial
    kernel (lazy_limit): the times to 5% and 1% of the initial loss (the claim's quantity) agree within 3%. The
    features move by O(scale) = 1%; the rest is gradient descent (lr 0.1) against the closed-form gradient flow of
    the lazy model, which shifts the late curve by a few percent (measured max curve deviation 4%). At scale 6
    the lazy model is wrong (the features move): the trained loss at the end is far below the lazy one."""
    for scale, close in ((0.01, True), (6.0, False)):
        cfg = dict(_CFG, scale=scale)
        tr = np.asarray(SB.train_limit(cfg, [0])[0]["train"])
        lz = SB.lazy_limit(cfg, [0])[0]["train"]
        # centred outputs: both start at 1/2 mean(y^2), the NTK model too
        ntk = SB.ntk_baseline(cfg, [0])[0]["train"]
        y = SB.digits_task(cfg["n_train"], cfg["n_test"], 0, scale)[1]
        np.testing.assert_allclose([tr[0], lz[0], ntk[0]], 0.5 * np.mean(y**2), rtol=1e-5)
        t = np.arange(len(tr)) * cfg["lr"] * cfg["record_every"]
        times = [(SBE._time_to(t, tr, f * tr[0]), SBE._time_to(t, lz, f * lz[0])) for f in (0.05, 0.01)]
        rel = max(abs(a / b - 1) for a, b in times)
        assert (rel < 0.03) if close else (tr[-1] < 0.5 * lz[-1]), (scale, times, tr[-1], lz[-1])


def test_centred_finite_network_starts_at_the_target_energy():
    """train_finite with centre=True: the output at step 0 is exactly 0 (F - F_0), so the initial loss is
    1/2 mean(y^2) on the training set and on the test set (float32: rtol 1e-5)."""
    cfg = dict(_CFG, width=32, steps=10, record_every=10, scale=2.0)
    r = SB.train_finite(cfg, [0])[0]
    _, ytr, _, yte = SB.digits_task(cfg["n_train"], cfg["n_test"], 0, 2.0)
    np.testing.assert_allclose(r["train"][0], 0.5 * np.mean(ytr**2), rtol=1e-5)
    np.testing.assert_allclose(r["test"][0], 0.5 * np.mean(yte**2), rtol=1e-5)
    assert np.abs(r["out_train"][0]).max() == 0.0


@pytest.mark.claim("bottleneck.c-scale0.3-speedup", "bottleneck.c-scale6-speedup", "bottleneck.c-scale0.3-test-loss",
                   "bottleneck.c-scale6-test-loss")
def test_speed_stats_on_synthetic_exponential_curves():
    """_speed_stats on curves L(t) = L0 exp(-r t): the time to 5% is ln(20)/r, so the speed-up is the rate ratio
    exactly (log interpolation between records is exact for exponentials); the median of per-draw ratios and a
    bootstrap interval that contains it; the test-loss ratio of constant curves; a draw that never reaches the
    level is censored at the run's end (speed-up t_ntk / t_end)."""
    t = np.linspace(0, 20, 101)
    rates = np.array([1.0, 2.0, 4.0, 0.5])
    r = {"t": t, "ntk_train": np.exp(-t)[None], "limit_train": np.exp(-np.outer(rates, t)),
         "finite_train": np.exp(-np.outer(rates, t))[None], "ntk_test": np.full((1, 101), 2.0),
         "limit_test": np.outer(rates, np.ones(101)), "finite_test": np.ones((1, 4, 101)),
         "lazy_train": np.exp(-np.outer(rates / 2, t))}
    sc = SBE._speed_stats(r, 0.05, np.random.default_rng(0), n_boot=500)
    np.testing.assert_allclose(sc["per_seed"], rates, rtol=1e-9)
    np.testing.assert_allclose(sc["speedup"], np.median(rates), rtol=1e-9)
    assert sc["speedup_ci"][0] <= sc["speedup"] <= sc["speedup_ci"][1]
    np.testing.assert_allclose(sc["test_ratio_per_seed"], rates / 2.0)
    np.testing.assert_allclose(sc["lazy_per_seed"], rates / 2, rtol=1e-9)
    np.testing.assert_allclose(sc["lazy_ratio"], 2.0, rtol=1e-9)
    r["limit_train"][3] = np.exp(-0.01 * t)  # never reaches 5% within t = 20
    sc = SBE._speed_stats(r, 0.05, np.random.default_rng(0), n_boot=50)
    assert sc["censored"] == 1 and sc["per_seed"][3] == pytest.approx(np.log(20) / 20)


def test_centre_flag_reaches_every_model():
    """With centre=False nothing changes (F_0 kept): the limit's initial loss differs between draws."""
    cfg = dict(_CFG, centre=False, steps=10, record_every=10, scale=0.3)
    a = SB.train_limit(cfg, [0, 1])
    assert a[0]["train"][0] != pytest.approx(a[1]["train"][0], rel=1e-3)
    b = SBT.ntk_baseline(cfg, [0, 1])
    assert b[0]["train"][0] != pytest.approx(b[1]["train"][0], rel=1e-3)
