"""Shared machinery: ODE integrators, the training loop, deep-linear init, the proofs checker."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import sympy as sp

from proofs import Proof, Step, check_proof, check_step
from sims.substrate.networks import deep_linear_init, deep_linear_product
from sims.substrate.ode import ODEError, solve, solve_batch
from sims.substrate.train import DivergenceError, fit, fit_reference, minibatches
from theory.deeplinear import ModeModel, s


@pytest.fixture(autouse=True)
def _float64():
    """float64 for this module's theory checks, scoped so other modules keep JAX's default dtype."""
    with jax.enable_x64(True):
        yield


# --------------------------------------------------------------------------- ODE integration
def test_solve_matches_logistic_closed_form():
    # dy/dt = y (1 - y): y(t) = 1 / (1 + (1/y0 - 1) e^-t); rtol 1e-10 -> 1e-8 is a safe bound
    ts = np.linspace(0, 10, 11)
    y = solve(lambda t, y: y * (1 - y), [0.1], ts)[:, 0]
    assert np.allclose(y, 1 / (1 + 9 * np.exp(-ts)), rtol=1e-8)


def test_solve_batch_matches_scipy():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 2.0, 16)
    ts = np.linspace(0, 5, 21)
    y0 = rng.uniform(0.05, 0.5, (16, 1))
    with jax.enable_x64(True):
        ys = solve_batch(lambda t, y, a: a * y * (1 - y), jnp.asarray(y0), jnp.asarray(a), ts, rtol=1e-10, atol=1e-12)
    ref = np.stack([solve(lambda t, y, ai=ai: ai * y * (1 - y), y0[i], ts) for i, ai in enumerate(a)])
    # two adaptive solvers at rtol 1e-10: agreement to 1e-7 leaves margin for error accumulation
    assert np.allclose(ys, ref, rtol=1e-7, atol=1e-10)


def test_blow_up_raises_with_time():
    # dy/dt = y^2 from y0 = 1 blows up at t = 1
    with pytest.raises(ODEError) as e:
        solve(lambda t, y: y**2, [1.0], np.linspace(0, 2, 21))
    assert e.value.t is not None and e.value.t <= 1.0 + 1e-6
    with pytest.raises(ODEError, match="batch member 1"):
        with jax.enable_x64(True):
            solve_batch(lambda t, y, a: a * y**2, jnp.ones((2, 1)), jnp.array([0.1, 1.0]), np.linspace(0, 2, 5), max_steps=2000)


def test_ode_bad_input():
    with pytest.raises(ValueError, match="t_eval"):
        solve(lambda t, y: y, [1.0], [1.0, 0.5])
    with pytest.raises(ValueError, match="y0"):
        solve(lambda t, y: y, [np.nan], [0.0, 1.0])
    with pytest.raises(ValueError, match="leading axis"):
        solve_batch(lambda t, y, a: y, jnp.ones((3, 1)), jnp.ones(2), [0.0, 1.0])


# --------------------------------------------------------------------------- training loop
def _lsq():
    x = jax.random.normal(jax.random.PRNGKey(0), (40, 3))
    y = x @ jnp.array([1.0, -2.0, 0.5])
    return (x, y), lambda p, b: 0.5 * jnp.mean((b[0] @ p["w"] - b[1]) ** 2)


def test_fit_equals_eager_reference():
    data, loss = _lsq()
    p0 = {"w": jnp.zeros(3)}
    a = fit(loss, p0, optax.sgd(0.1), steps=60, data=data, record_every=10, record_fn=lambda p: p["w"])
    b = fit_reference(loss, p0, optax.sgd(0.1), steps=60, data=data, record_every=10, record_fn=lambda p: p["w"])
    # same updates in the same order: equal up to float64 rounding
    assert np.allclose(a.records, b.records, atol=1e-12) and np.allclose(a.losses, b.losses, atol=1e-12)
    assert np.array_equal(a.steps, np.arange(0, 61, 10))


def test_fit_vmapped_equals_per_seed():
    data, loss = _lsq()
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    p0 = {"w": jax.random.normal(jax.random.PRNGKey(2), (3, 3))}
    batch = jax.tree_util.tree_map(lambda a: jnp.stack([a] * 3), data)
    out = fit(loss, p0, optax.adam(0.05), steps=40, data=batch, key=keys, record_every=20, record_fn=lambda p: p["w"],
              batched=True)
    for i in range(3):
        one = fit(loss, {"w": p0["w"][i]}, optax.adam(0.05), steps=40, data=data, record_every=20, record_fn=lambda p: p["w"])
        assert np.allclose(out.records[i], one.records, atol=1e-10)


@pytest.mark.parametrize("seed_batch", [1, 2, 5])
def test_fit_seed_groups_equal_per_seed(seed_batch):
    # 5 seeds in groups of 1, 2 (the last group smaller) or all at once: each seed's run must equal its own
    # unbatched run, with a fixed batch and with a sampled one (keys per seed); same float64 updates: 1e-10
    data, loss = _lsq()
    S = 5
    keys = jax.random.split(jax.random.PRNGKey(1), S)
    p0 = {"w": jax.random.normal(jax.random.PRNGKey(2), (S, 3))}
    batch = jax.tree_util.tree_map(lambda a: jnp.stack([a * (1 + 0.1 * i) for i in range(S)]), data)
    out = fit(loss, p0, optax.adam(0.05), steps=40, data=batch, key=keys, record_every=20, record_fn=lambda p: p["w"],
              batched=True, seed_batch=seed_batch)
    sampler = minibatches(data, 8)
    out_s = fit(loss, p0, optax.sgd(0.05), steps=40, data=sampler, key=keys, record_every=20, batched=True,
                seed_batch=seed_batch)
    for i in range(S):
        one_data = jax.tree_util.tree_map(lambda a: a[i], batch)
        one = fit(loss, {"w": p0["w"][i]}, optax.adam(0.05), steps=40, data=one_data, record_every=20,
                  record_fn=lambda p: p["w"])
        assert np.allclose(out.records[i], one.records, atol=1e-10) and np.allclose(out.losses[i], one.losses, atol=1e-10)
        one_s = fit(loss, {"w": p0["w"][i]}, optax.sgd(0.05), steps=40, data=sampler, key=keys[i], record_every=20)
        assert np.allclose(out_s.losses[i], one_s.losses, atol=1e-10)


def test_fit_seed_groups_divergence_and_bad_input():
    data, loss = _lsq()
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    # the third seed's inputs are 10x larger: curvature ~100, so sgd(0.1) diverges there only; it sits in the
    # second group of two
    batch = jax.tree_util.tree_map(lambda a: jnp.stack([a, a, 10 * a]), data)
    p0 = {"w": jnp.zeros((3, 3))}
    with pytest.raises(DivergenceError) as e:
        fit(loss, p0, optax.sgd(0.1), steps=400, data=batch, key=keys, record_every=10, batched=True, seed_batch=2)
    with pytest.raises(DivergenceError) as e_all:
        fit(loss, p0, optax.sgd(0.1), steps=400, data=batch, key=keys, record_every=10, batched=True)
    # grouping changes nothing about which seed diverges or when (the all-at-once run is the reference)
    assert e.value.seed_index == e_all.value.seed_index == 2 and e.value.step == e_all.value.step
    with pytest.raises(ValueError, match="seed_batch"):
        fit(loss, {"w": jnp.zeros(3)}, optax.sgd(0.1), steps=10, data=data, seed_batch=2)
    with pytest.raises(ValueError, match="seed_batch"):
        fit(loss, p0, optax.sgd(0.1), steps=10, data=batch, key=keys, batched=True, seed_batch=0)


def test_fit_gradient_flow_limit():
    # SGD with a small step on 1/2 (w - 1)^2 is Euler for dw/dt = 1 - w: w(t) = 1 - e^-t, error O(eta)
    loss = lambda p, b: 0.5 * (p["w"] - 1.0) ** 2  # noqa: E731
    eta = 1e-3
    res = fit(loss, {"w": jnp.array(0.0)}, optax.sgd(eta), steps=2000, data=None, record_every=100, record_fn=lambda p: p["w"])
    t = res.steps * eta
    assert np.max(np.abs(res.records - (1 - np.exp(-t)))) < eta


def test_divergence_reports_step_and_keeps_records():
    data, loss = _lsq()
    with pytest.raises(DivergenceError) as e:
        fit(loss, {"w": jnp.zeros(3)}, optax.sgd(50.0), steps=400, data=data, record_every=10)
    err = e.value
    # the loss grows by a factor ~ (50 * curvature)^2 per step: overflow within a few hundred steps
    assert 0 < err.step < 400
    assert np.all(np.isfinite(err.partial.losses)) and err.partial.steps[-1] <= err.step
    # the eager loop diverges at the same step: an independent check of the reported step
    with pytest.raises(DivergenceError) as e2:
        fit_reference(loss, {"w": jnp.zeros(3)}, optax.sgd(50.0), steps=400, data=data, record_every=10)
    assert e2.value.step == err.step


def test_fit_bad_input():
    data, loss = _lsq()
    with pytest.raises(ValueError, match="multiple of record_every"):
        fit(loss, {"w": jnp.zeros(3)}, optax.sgd(0.1), steps=10, data=data, record_every=3)
    with pytest.raises(ValueError, match="steps"):
        fit(loss, {"w": jnp.zeros(3)}, optax.sgd(0.1), steps=0, data=data)
    with pytest.raises(ValueError, match="key"):
        fit(loss, {"w": jnp.zeros(3)}, optax.sgd(0.1), steps=2, data=lambda k: data)


# --------------------------------------------------------------------------- networks
@pytest.mark.parametrize("L", [1, 2, 4])
def test_deep_linear_init_is_balanced_and_aligned(L):
    p = deep_linear_init(4, L, 1e-2, key=jax.random.PRNGKey(L))
    W = [np.asarray(w, float) for w in p["W"]]
    # product telescopes to eps I (float32 storage: 1e-6 relative)
    assert np.allclose(deep_linear_product(W), 1e-2 * np.eye(4), atol=1e-7)
    for a in range(L - 1):
        assert np.allclose(W[a + 1].T @ W[a + 1], W[a] @ W[a].T, atol=1e-6)
    with pytest.raises(ValueError, match="depth"):
        deep_linear_init(4, 0, 1e-2)


# --------------------------------------------------------------------------- symbolic machinery
def test_mode_model_refuses_unbalanced_reduction():
    # a loss where the two groups' flows differ at balance: the reduction must be refused, not faked
    a = sp.Symbol("a", positive=True)
    m = ModeModel(lambda on, tg: (on["x"] - a) ** 2 + on["y"], ("x", "y"))
    with pytest.raises(ValueError, match="balanced"):
        m.balanced_flow({"x": 2, "y": 1})


def test_mode_model_matches_saxe():
    # one hidden layer, whitened input: loss 1/2 (s - w2 w1)^2 gives ds/dt = s (S - s^2) per factor
    S = sp.Symbol("S", positive=True)
    m = ModeModel(lambda on, tg: sp.Rational(1, 2) * (S - on["c"]) ** 2, ("c",))
    assert sp.expand(m.balanced_flow({"c": 2}) - s * (S - s**2)) == 0


# --------------------------------------------------------------------------- proofs checker
def test_checker_rejects_false_steps():
    x = sp.Symbol("x", positive=True)
    assert check_step(Step("true", (x + 1) ** 2, x**2 + 2 * x + 1)).ok
    bad = check_step(Step("false", (x + 1) ** 2, x**2 + 1))
    assert not bad.ok and bad.method == "failed"
    # simplify-only identity: still proved
    r = check_step(Step("trig", sp.sin(x) ** 2 + sp.cos(x) ** 2, sp.Integer(1)))
    assert r.ok and r.method == "simplify"
    n = 2
    A, B = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("B", n, n)
    assert check_step(Step("transpose", (A * B).T, B.T * A.T)).ok
    assert not check_step(Step("noncommutative", A * B, B * A)).ok
    res = check_proof(Proof("t", "mixed", [Step("ok", x, x), Step("bad", x, 2 * x)]))
    assert not res.ok and [s.ok for s in res.steps] == [True, False]


def test_balancedness_fails_without_shared_gradient():
    # negative control for proofs.jepa: if the last layer saw an extra (non-stop-gradient) term H, the
    # balancedness step must fail
    n = 2
    W1, W2, G, H = (sp.MatrixSymbol(k, n, n) for k in ("W1", "W2", "G", "H"))
    dW1 = -W2.T * G
    dW2 = -G * W1.T + H
    d = dW2.T * W2 + W2.T * dW2 - (dW1 * W1.T + W1 * dW1.T)
    assert not check_step(Step("broken", d, sp.ZeroMatrix(n, n))).ok


def test_solve_batch_chunked_equals_unchunked():
    # chunking by a sort key must only change the schedule: same results in the original order
    rng = np.random.default_rng(3)
    a = rng.uniform(0.2, 5.0, 13)
    ts = np.linspace(0, 4, 9)
    y0 = jnp.asarray(rng.uniform(0.05, 0.5, (13, 1)))
    rhs = lambda t, y, a: a * y * (1 - y)  # noqa: E731
    whole = solve_batch(rhs, y0, jnp.asarray(a), ts, rtol=1e-10, atol=1e-12)
    chunked = solve_batch(rhs, y0, jnp.asarray(a), ts, rtol=1e-10, atol=1e-12, chunk_size=4, sort_key=-a)
    # adaptive steps differ between chunks only through the lockstep schedule: 1e-8 covers rtol 1e-10 drift
    assert np.allclose(whole, chunked, rtol=1e-8, atol=1e-12)
    with pytest.raises(ValueError, match="sort_key"):
        solve_batch(rhs, y0, jnp.asarray(a), ts, chunk_size=4, sort_key=np.ones(3))


def test_first_crossing_against_dense_interpolation():
    # brute force: interpolate each trajectory on a fine grid and take the first grid point above the level
    from sims.substrate.measure import first_crossing

    rng = np.random.default_rng(5)
    t = np.linspace(0.0, 3.0, 31)
    y = np.cumsum(rng.uniform(0.0, 1.0, (4, 31)), axis=1)  # increasing trajectories
    level = np.array([2.0, 5.0, 9.0, 100.0])
    got = first_crossing(t, y, level)
    fine = np.linspace(0.0, 3.0, 300_001)
    for i in range(4):
        yi = np.interp(fine, t, y[i])
        above = np.nonzero(yi >= level[i])[0]
        if above.size == 0:
            assert np.isnan(got[i])
        else:
            assert got[i] == pytest.approx(fine[above[0]], abs=1e-5)  # fine-grid spacing 1e-5
    assert first_crossing(t, y[0], -1.0) == t[0]
    assert np.isinf(first_crossing(t, y[0], 1e9, never=np.inf))
    with pytest.raises(ValueError, match="last axis"):
        first_crossing(t, y[:, :5], 1.0)
