"""The Slingshot mechanism (Thilak et al. 2022): theory.slingshot against optax's Adam, discrete simulations of
the logistic toy, JAX's float32 softmax, brute-force data generation and synthetic traces with planted cycles."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import slingshot as S

SET = settings(deadline=None, max_examples=20, derandomize=True)
seeds = st.integers(0, 2**31 - 1)


# --------------------------------------------------------------------------- Adam's regimes
@jax.jit
def _optax_scan(grads, lr, b1, b2, eps):
    """optax.adam (hyperparameters injected as traced values: one compilation per shape) on a gradient sequence."""
    opt = optax.inject_hyperparams(optax.adam)(learning_rate=lr, b1=b1, b2=b2, eps=eps)
    params = jnp.zeros(grads.shape[1:], dtype=grads.dtype)

    def body(state, g):
        u, state = opt.update(g, state, params)
        return state, u

    return jax.lax.scan(body, opt.init(params), grads)[1]


def _optax_updates(grads: np.ndarray, lr, b1, b2, eps) -> np.ndarray:
    """optax.adam run on a given gradient sequence in float64, one update per row."""
    with jax.enable_x64(True):
        f = jnp.float64
        return np.asarray(_optax_scan(jnp.asarray(grads, dtype=f), f(lr), f(b1), f(b2), f(eps)))


@pytest.mark.claim("slingshot.sign_step")
@SET
@given(seeds, st.floats(1e-4, 1e-1), st.sampled_from([0.0, 0.5, 0.9]), st.sampled_from([0.9, 0.98, 0.999]),
       st.sampled_from([0.0, 1e-12, 1e-8, 1e-4]))
def test_adam_updates_match_optax(seed, lr, b1, b2, eps):
    rng = np.random.default_rng(seed)
    # gradients spanning both regimes: magnitudes from 1e-10 to 1 (|g| << eps and |g| >> eps)
    grads = rng.standard_normal((30, 4)) * 10.0 ** rng.uniform(-10, 0, (30, 4))
    ours = S.adam_updates(grads, lr, b1=b1, b2=b2, eps=eps)
    ref = _optax_updates(grads, lr, b1, b2, eps)
    # same float64 formula, different operation order: a few ulps relative to the step size lr
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-14 * lr)


@pytest.mark.claim("slingshot.sign_step")
@SET
@given(st.floats(1e-12, 1.0), st.sampled_from([1e-8, 1e-6, 1e-4]), st.sampled_from([-1.0, 1.0]))
def test_steady_gradient_step_is_exact_at_every_step(gmag, eps, sign):
    # constant gradient: bias-corrected Adam (ours and optax) equals -lr g/(|g|+eps) from the first step on
    g = sign * gmag
    grads = np.full((50, 1), g)
    pred = S.adam_steady_step(g, lr=1e-3, eps=eps)
    np.testing.assert_allclose(S.adam_updates(grads, 1e-3, b1=0.9, b2=0.999, eps=eps)[:, 0], pred, rtol=1e-12)
    # optax accumulates (1-b)^t g in a different order: rounding of the moments, ~1e-15 relative
    np.testing.assert_allclose(_optax_updates(grads, 1e-3, 0.9, 0.999, eps)[:, 0], pred, rtol=1e-12)


def test_regime_limits_after_1e4_steps():
    # the reference property: after 1e4 steps |dtheta| = eta|g|/(|g|+eps): ~eta at |g|=1e-4, ~eta|g|/eps at 1e-10
    eta, eps = 1e-3, 1e-8
    for g, expect in ((1e-4, eta), (1e-10, eta * 1e-10 / eps)):
        u = _optax_updates(np.full((10_000, 1), g), eta, 0.9, 0.999, eps)[-1, 0]
        assert abs(abs(u) - eta * g / (g + eps)) <= 1e-12 * eta
        # the two limits hold up to the neglected ratio (|g|/eps or eps/|g| = 1e-2 or 1e-4)
        assert abs(abs(u) / expect - 1) <= 1.1e-2
    assert list(S.adam_regime([1e-4, 1e-8, 1e-10, -1e-6], eps)) == ["sign", "boundary", "gd", "sign"]


@SET
@given(st.floats(-30, 0), st.sampled_from([1e-8, 1e-6]))
def test_regime_labels_match_step_fraction(log_g, eps):
    g = 10.0**log_g
    frac = abs(S.adam_steady_step(g, lr=1.0, eps=eps))
    label = str(S.adam_regime(g, eps))
    assert label == ("sign" if frac >= 10 / 11 - 1e-12 else "gd" if frac <= 1 / 11 + 1e-12 else "boundary")


# --------------------------------------------------------------------------- the separable logistic toy
def _toy_run(steps, lr, x, *, kind, eps=0.0, b1=0.0, b2=0.0, z0=0.0):
    """Discrete GD or bias-corrected Adam on L(w) = log(1 + exp(-x w)) (float64, plain numpy loop)."""
    w = z0 / x
    m = v = 0.0
    zs = np.empty(steps)
    for t in range(1, steps + 1):
        g = -x / (1 + math.exp(x * w))
        if kind == "gd":
            w -= lr * g
        else:
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            w -= lr * (m / (1 - b1**t)) / (math.sqrt(v / (1 - b2**t)) + eps)
        zs[t - 1] = x * w
    return zs


@settings(deadline=None, max_examples=10, derandomize=True)
@given(st.floats(1e-3, 5e-2), st.floats(0.5, 2.0), st.floats(-2.0, 2.0))
def test_gd_flow_matches_discrete_gd(lr, x, z0):
    k = 4000
    zs = _toy_run(k, lr, x, kind="gd", z0=z0)
    F = lambda z: z + np.exp(z)  # noqa: E731
    drift = F(zs[-1]) - F(z0) - k * x * x * lr
    # Euler's error in the invariant: F'' Delta^2/2 per step with F'' = e^z, Delta = x^2 lr/(1+e^z): at most
    # (x^2 lr)^2/8 per step (e^z/(1+e^z)^2 <= 1/4), times (1 + Delta) for the higher orders
    assert 0 <= drift <= k * (x * x * lr) ** 2 / 8 * (1 + x * x * lr)
    # the closed form (Wright omega) agrees with the flow's invariant, and log growth: z ~ log(x^2 lr t)
    zt = S.toy_margin(k, optimizer="gd", lr=lr, x=x, z0=z0)
    assert abs(F(zt) - F(z0) - k * x * x * lr) <= 1e-9 * F(zt)
    big = S.toy_margin(1e12, optimizer="gd", lr=lr, x=x, z0=z0)
    assert abs(big - math.log(x * x * lr * 1e12)) < 1e-6


@settings(deadline=None, max_examples=10, derandomize=True)
@given(st.floats(1e-3, 2e-2), st.floats(0.5, 2.0), st.sampled_from([1e-6, 1e-4, 1e-3]))
def test_adam_flow_matches_instant_moment_adam(lr, x, eps):
    # b1 = b2 = 0: Adam's step is exactly lr |g|/(|g| + eps), the Euler scheme of the quasi-static flow
    k = 3000
    zs = _toy_run(k, lr, x, kind="adam", eps=eps)
    a, b = 1 + eps / x, eps / x
    F = lambda z: a * z + b * np.exp(z)  # noqa: E731
    drift = F(zs[-1]) - F(0.0) - k * x * lr
    # per step F'' Delta^2/2 with F'' = b e^z and Delta = x lr rho: b e^z rho <= 1 gives <= (x lr)^2/2 per step
    assert 0 <= drift <= k * (x * lr) ** 2 / 2 * (1 + x * lr)
    t_pred = S.toy_time_to_margin(zs[-1], lr=lr, eps=eps, x=x)
    assert abs(t_pred - k) <= k * x * lr / 2 * (1 + x * lr) / a + 1e-9 * k


@SET
@given(st.floats(0.0, 1e7), st.sampled_from(["gd", "adam"]), st.sampled_from([0.0, 1e-8, 1e-3]), st.floats(0.3, 3.0))
def test_toy_margin_and_time_are_inverse(t, opt, eps, x):
    z = float(S.toy_margin(t, optimizer=opt, lr=1e-2, eps=eps, x=x, z0=-1.0))
    back = float(S.toy_time_to_margin(z, optimizer=opt, lr=1e-2, eps=eps, x=x, z0=-1.0))
    # the time is F(z)/rate with F ~ e^z: relative conditioning ~ z, float64 rounding ~ 1e-16 z e^z
    assert abs(back - t) <= 1e-9 * max(t, 1.0) * max(1.0, z)


@pytest.mark.claim("slingshot.toy_tail_rate", "slingshot.growth_rate")
@settings(deadline=None, max_examples=6, derandomize=True)
@given(st.sampled_from([(1e-3, 0.9, 0.999, 1.0), (1e-2, 0.9, 0.99, 1.0), (1e-3, 0.9, 0.98, 2.0),
                        (3e-3, 0.5, 0.999, 0.5), (5e-3, 0.0, 0.9, 1.0), (1e-3, 0.95, 0.999, 1.5)]))
def test_adam_tail_rate_matches_discrete_adam(case):
    lr, b1, b2, x = case
    zs = _toy_run(40_000, lr, x, kind="adam", b1=b1, b2=b2, eps=0.0)
    slope = (zs[-1] - zs[-10_001]) / 10_000 / x
    # transients decay like b2^t (< 1e-17 after 4e4 steps at b2 = 0.999) and the tail |g| ~ e^{-xw} is exact up
    # to e^{-2z} corrections (z > 15 here): agreement to 1e-5 is far outside both
    assert abs(slope / S.adam_tail_rate(lr, b1=b1, b2=b2, x=x) - 1) < 1e-5


@pytest.mark.claim("slingshot.no_slingshot_eps")
def test_sign_regime_end_loss():
    # instant moments: the step falls to half the sign step exactly where |g| = eps, i.e. at the loss L*
    for eps, x in ((1e-4, 1.0), (1e-3, 2.0), (1e-6, 0.7)):
        lr = 1e-2
        end = S.sign_regime_end(eps, x=x, lr=lr)
        zs = _toy_run(int(end.time * 1.5), lr, x, kind="adam", eps=eps)
        steps = np.diff(np.concatenate([[0.0], zs])) / x
        i = int(np.argmax(steps < lr / 2))
        loss_i = math.log1p(math.exp(-zs[i - 1]))  # the loss where the step is computed
        # one step changes the loss by a factor e^{-x lr / 2} at most around the boundary
        assert abs(loss_i / end.loss - 1) <= x * lr
        assert abs(end.loss / (eps / x) - 1) <= 2 * eps / x  # L* = eps/x + O(eps^2)
        assert abs(i - end.time) <= 0.01 * end.time + 2  # the linear phase lasts z*/(x lr) steps
    # with moment averaging (b2 = 0.999) the regime ends later, at a smaller gradient eps/c_v
    e1 = S.sign_regime_end(1e-4, lr=1e-3)
    e2 = S.sign_regime_end(1e-4, lr=1e-3, b1=0.9, b2=0.999)
    assert e2.grad < e1.grad and e2.loss < e1.loss


@pytest.mark.parametrize("case", [(1e-2, 0.9, 0.99, 1e-6, 1.0), (1e-3, 0.9, 0.999, 1e-8, 1.0),
                                  (1e-3, 0.9, 0.98, 1e-8, 1.0), (3e-3, 0.9, 0.999, 1e-5, 1.0)])
def test_sign_regime_end_with_moment_lags(case):
    # with moment averaging the end is not a sharp point: it lies between the first step where sqrt(v_hat) <= eps
    # (the criterion of the steady-state prediction) and the first step where the update falls to half the
    # steady sign-regime step s; the lagged prediction sits between the two (measured: 0.65-0.98x and
    # 1.02-1.43x of the predicted loss), while the instant-moment value eps/x is off by up to 6x
    lr, b1, b2, eps, x = case
    end = S.sign_regime_end(eps, x=x, lr=lr, b1=b1, b2=b2)
    w = m = v = 0.0
    at_v = at_half = None
    for t in range(1, 200_000):
        g = -x / (1 + math.exp(x * w))
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vh, mh = v / (1 - b2**t), m / (1 - b1**t)
        step = -lr * mh / (math.sqrt(vh) + eps)
        loss = math.log1p(math.exp(-x * w))
        if t > 100 and at_v is None and math.sqrt(vh) <= eps:
            at_v = (t, loss)
        if t > 100 and at_half is None and step < end.step / 2:
            at_half = (t, loss)
        if at_v and at_half:
            break
        w += step
    assert at_half[1] < end.loss < at_v[1]
    assert at_half[1] > end.loss / 1.6 and at_v[1] < 1.6 * end.loss
    # the flow time to the end overestimates the measured one (the step slows gradually before): within 40%
    assert 0.6 * end.time < min(at_v[0], at_half[0]) <= max(at_v[0], at_half[0]) < end.time


# --------------------------------------------------------------------------- float32 softmax collapse
def _jax_grad(logits: np.ndarray, label: int, dtype) -> np.ndarray:
    with jax.enable_x64(dtype == jnp.float64):
        f = jax.vmap(jax.grad(lambda lg: -jax.nn.log_softmax(lg)[label]))
        return np.asarray(f(jnp.asarray(logits, dtype=dtype)))


@pytest.mark.claim("slingshot.absorption_threshold")
@pytest.mark.parametrize("k", [2, 10])
def test_collapse_gap_in_analytic_bracket_for_two_implementations(k):
    scan = S.collapse_gap(k, dtype="float32")
    lo, hi = S.collapse_gap_estimate(k, summation="sequential"), S.collapse_gap_estimate(k, summation="grouped")
    # the scanned gap lies between the two summation orders' estimates (grid 2^-10, exp rounding ~1e-7)
    assert lo - 2e-3 <= scan.gap_star <= hi + 2e-3 and scan.monotone
    if k == 2:
        assert abs(scan.gap_star - 24 * math.log(2)) < 2e-3
    # an independent implementation (JAX's log_softmax gradient, XLA's reduction) collapses in the same bracket
    gaps = np.arange(10.0, 30.0, 2.0**-8)
    lg = np.zeros((gaps.size, k))
    lg[:, 0] = gaps
    gc = _jax_grad(lg, 0, jnp.float32)[:, 0]
    star = gaps[np.flatnonzero(gc != 0)[-1] + 1]
    assert lo - 5e-3 <= star <= hi + 5e-3
    assert np.all(gc[gaps > hi + 5e-3] == 0) and np.all(gc[gaps < lo - 5e-3] < 0)


@pytest.mark.claim("slingshot.collapse_before_spike", "slingshot.no_slingshot_float64")
@SET
@given(st.integers(2, 12), st.data())
def test_collapse_properties(k, data):
    label = data.draw(st.integers(0, k - 1))
    scan = S.collapse_gap(k, dtype="float32", label=label, resolution=2.0**-7)
    d_hi = data.draw(st.floats(scan.gap_star, min(scan.gap_underflow - 1.0, 100.0)))
    d_lo = data.draw(st.floats(0.0, scan.gap_star - 2.0**-7))
    for d, collapsed in ((d_hi, True), (d_lo, False)):
        lg = np.zeros(k)
        lg[label] = d
        d32 = float(np.float32(d))
        _, g32 = S.softmax_cross_entropy(lg, label, dtype="float32")
        _, g64 = S.softmax_cross_entropy(lg, label, dtype="float64")
        wrong = np.delete(g32, label)
        # wrong-class entries: e^{-Delta}/S, computed independently in float64 (float32 relative rounding ~1e-7,
        # exp of a float32 argument up to 100: relative error <= 100 * 2^-24 ~ 6e-6; beyond Delta = 87.3 the
        # values are subnormal, with absolute rounding up to the smallest subnormal 1.4e-45)
        np.testing.assert_allclose(wrong, np.delete(g64, label), rtol=1e-5,
                                   atol=float(np.finfo(np.float32).smallest_subnormal))
        assert np.all(wrong > 0)
        if collapsed:
            assert g32[label] == 0 and g32.sum(dtype=np.float64) > 0
            assert abs(g32.sum(dtype=np.float64) - (k - 1) * math.exp(-d32)) <= 1e-5 * (k - 1) * math.exp(-d32) \
                + (k - 1) * float(np.finfo(np.float32).smallest_subnormal)
        else:
            assert g32[label] < 0
        # float64 at gaps below its own collapse (36.7-38.9): the gradient sums to 0 within 1e-12
        if d < 30:
            assert abs(g64.sum()) <= 1e-12


@pytest.mark.claim("slingshot.no_slingshot_stablemax")
@SET
@given(st.integers(2, 12), st.floats(0.0, 1e4), st.data())
def test_stablemax_has_no_absorption(k, d, data):
    label = data.draw(st.integers(0, k - 1))
    lg = np.zeros(k)
    lg[label] = d
    _, g32 = S.stablemax_cross_entropy(lg, label, dtype="float32")
    _, g64 = S.stablemax_cross_entropy(lg, label, dtype="float64")
    # closed form at logits (d, 0, ..., 0): dL/dl_c = 1/(d + K) - 1/(d + 1) = -(K-1)/((d+1)(d+K)), others 1/(d+K)
    exact_c = -(k - 1) / ((d + 1) * (d + k))
    assert g32[label] < 0 and abs(g64[label] / exact_c - 1) < 1e-9
    # float32 keeps the correct-class gradient at its float64 value: the difference 1/(d+K) - 1/(d+1) loses
    # ~log2((d+1)/(K-1)) bits to cancellation (2^-24 * (d+1)/(K-1)); 1e-2 covers d <= 1e4 with margin
    assert abs(g32[label] / exact_c - 1) < max(1e-5, 4 * 2.0**-24 * (d + 1) / (k - 1))
    # StableMax is not shift invariant: its gradient sums to K/(d+K) - 1/(d+1), not 0 (a departure from the issue)
    assert abs(g64.sum() - (k / (d + k) - 1 / (d + 1))) <= 1e-12


@SET
@given(seeds)
def test_stablemax_gradient_matches_finite_differences(seed):
    rng = np.random.default_rng(seed)
    lg = rng.standard_normal((3, 6)) * 5
    lab = rng.integers(0, 6, 3)
    loss, grad = S.stablemax_cross_entropy(lg, lab)
    h = 1e-6
    for i in range(3):
        for j in range(6):
            e = np.zeros_like(lg)
            e[i, j] = h
            # central differences: O(h^2 s''') truncation + 1e-16/h rounding -> 1e-7 absolute at |logit| <~ 15
            fd = (S.stablemax_cross_entropy(lg + e, lab)[0][i] - S.stablemax_cross_entropy(lg - e, lab)[0][i]) / (2 * h)
            if abs(lg[i, j]) > 1e-3:  # s is C^1 but not C^2 at 0
                assert abs(fd - grad[i, j]) < 1e-7
    np.testing.assert_allclose(loss, -np.log(S.stablemax(lg)[np.arange(3), lab]), rtol=1e-12)
    np.testing.assert_allclose(S.stablemax(lg).sum(axis=1), 1.0, rtol=1e-14)
    s = S.stablemax_s(np.array([-1e-9, 0.0, 1e-9]))
    assert np.all(s > 0) and abs(s[0] - 1) < 2e-9 and abs(s[2] - 1) < 2e-9


@pytest.mark.claim("slingshot.no_slingshot_orthograd")
@SET
@given(seeds, st.integers(1, 40))
def test_ortho_grad_properties(seed, n):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((n, 3)) * 10.0 ** rng.uniform(-3, 3)
    g = rng.standard_normal((n, 3)) * 10.0 ** rng.uniform(-3, 3)
    out = S.ortho_grad(w, g)
    wf, gf, of = w.ravel(), g.ravel(), out.ravel()
    # orthogonal to w (relative to |w||g|; 1e-12 for float64 rounding of the projection)
    assert abs(wf @ of) <= 1e-12 * np.linalg.norm(wf) * np.linalg.norm(gf) * math.sqrt(wf.size)
    assert abs(np.linalg.norm(of) / np.linalg.norm(gf) - 1) <= 1e-12
    # independent construction: projector onto span(w)^perp from a QR factorisation
    if wf.size > 1:
        q, _ = np.linalg.qr(wf[:, None])
        gp = gf - q[:, 0] * (q[:, 0] @ gf)
        np.testing.assert_allclose(of, gp * np.linalg.norm(gf) / np.linalg.norm(gp), rtol=1e-9,
                                   atol=1e-12 * np.linalg.norm(gf))
    # edge cases: w = 0 returns g; g parallel to w returns zeros
    np.testing.assert_array_equal(S.ortho_grad(np.zeros_like(g), g), g)
    np.testing.assert_array_equal(S.ortho_grad(w, 2.0 * w * 0.0), np.zeros_like(w))


# --------------------------------------------------------------------------- the detector
def _synthetic(onsets: list[int], n: int = 9000, *, double: list[bool] | None = None, seed: int = 0,
               smooth: bool = False):
    """Planted slingshots: at each onset the norm grows 1e-3/step for 400 steps, then the loss spikes (to 1e-1)
    and decays back over ~150 steps while the norm stays flat (a plateau) until the next onset. The base loss
    decays from 1 to 1e-7 with 5% multiplicative noise; the norm carries 0.05% noise per record."""
    rng = np.random.default_rng(seed)
    steps = np.arange(n)
    loss = np.exp(-steps / 200.0) + 1e-7
    lognorm = 0.3 * (1 - np.exp(-steps / 300.0))  # early growth while the loss is not yet small, then flat
    spikes = []
    for k, t0 in enumerate(onsets):
        ramp = np.clip(steps - t0, 0, 400) * 1e-3
        lognorm = lognorm + ramp
        ts = t0 + 400
        spikes.append(ts)
        bump = 1e-1 * np.exp(-np.clip(steps - ts, 0, None) / 30.0) * (steps >= ts)
        loss = loss + bump
        if double and double[k]:  # a second spike 30 steps later: one cluster
            loss = loss + 5e-2 * np.exp(-np.clip(steps - ts - 30, 0, None) / 30.0) * (steps >= ts + 30)
    loss = loss * np.exp(0.05 * rng.standard_normal(n))
    norm = np.exp(lognorm + 5e-4 * rng.standard_normal(n))
    if smooth:
        return steps, np.exp(-steps / 200.0) + 1e-7, np.exp(0.3 * (1 - np.exp(-steps / 300.0))), spikes
    return steps, loss, norm, spikes


@pytest.mark.claim("slingshot.cycle_float32")
@settings(deadline=None, max_examples=12, derandomize=True)
@given(st.integers(0, 3), st.lists(st.booleans(), min_size=3, max_size=3), seeds)
def test_detector_finds_planted_cycles(n_cycles, double, seed):
    onsets = [3000 + 2000 * i for i in range(n_cycles)]
    steps, loss, norm, spikes = _synthetic(onsets, double=double, seed=seed)
    ev = S.detect_slingshots(steps, loss, norm)
    assert ev.n_cycles == n_cycles == ev.n_complete
    for c, t0, ts in zip(ev.cycles, onsets, spikes):
        assert abs(c.spike.step - ts) <= 1  # the spike is found at its step
        assert t0 <= c.onset.step <= t0 + 50  # the onset within 50 steps of the planted one (noise in the norm)
        assert ts <= c.plateau.start <= ts + 100 and c.plateau.end >= c.plateau.start + 1000
    # a val jump 300 steps after the first onset is "grokking at onset"; one before any onset is not
    va = (steps >= (onsets[0] + 300 if onsets else 1000)).astype(float)
    ev2 = S.detect_slingshots(steps, loss, norm, va)
    assert ev2.grokking_at_onset is bool(onsets)


def test_detector_finds_nothing_in_smooth_traces():
    steps, loss, norm, _ = _synthetic([], smooth=True)
    ev = S.detect_slingshots(steps, loss, norm)
    assert ev.n_cycles == 0 and not ev.onsets and not ev.spikes
    # noisy but spike-free: 5% loss noise never reaches 100x
    steps, loss, norm, _ = _synthetic([], seed=3)
    assert S.detect_slingshots(steps, loss, norm).n_cycles == 0


def test_detector_merges_and_floors():
    steps = np.arange(2000)
    loss = np.full(2000, 1e-7)
    loss[500] = loss[540] = 1e-2  # < 50 apart: one cluster
    loss[1000] = 1e-2  # separate
    loss[1500] = 5e-5  # 500x the minimum but below the 1e-4 floor: not a spike
    ev = S.detect_slingshots(steps, loss, np.ones(2000))
    assert [s.step for s in ev.spikes] == [500, 1000] and ev.spikes[0].n_raw == 2
    assert S.detect_slingshots(steps, loss, np.ones(2000), merge_gap=30).n_cycles == 3


# --------------------------------------------------------------------------- Power et al. data
@pytest.mark.claim("slingshot.grokking_at_onset")
def test_dataset_sizes_and_division_rule():
    assert S.n_equations("/") == 9312 == len(S.modular_equations("/"))
    assert S.n_equations("+") == 9409 == len(S.modular_equations("+"))
    eq = S.modular_equations("/")
    a, b, c = eq.T
    assert np.all(b != 0) and np.all((b * c - a) % 97 == 0)
    # c is the quotient a * b^{-1} (modular inverse by Fermat, independent of the generator)
    assert np.all(c == (a * np.array([pow(int(x), 95, 97) for x in b])) % 97)
    assert len({(int(x), int(y)) for x, y in zip(a, b)}) == 9312  # every (a, b != 0) exactly once


@pytest.mark.parametrize("op", list(S.OPERATIONS))
def test_operations_against_brute_force(op):
    p = 11
    if op == "/":
        ref = {(b * c % p, b, c) for b in range(1, p) for c in range(p)}
    else:
        f = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "**2+": lambda a, b: a**2 + b,
             "**3+": lambda a, b: a**3 + b, "x**2+y**2": lambda a, b: a**2 + b**2,
             "x**2+y**2+x*y": lambda a, b: a**2 + b**2 + a * b, "x**2+y**2+x*y+x": lambda a, b: a**2 + b**2 + a * b + a,
             "x**3+x*y": lambda a, b: a**3 + a * b, "x**3+x*y**2+y": lambda a, b: a**3 + a * b**2 + b,
             "+*": lambda a, b: a + b if a % 2 == 0 else a * b, "+-": lambda a, b: a + b if a % 2 == 0 else a - b}[op]
        ref = {(a, b, f(a, b) % p) for a in range(p) for b in range(p)}
    got = S.modular_equations(op, p)
    assert {tuple(map(int, r)) for r in got} == ref and len(got) == len(ref) == S.n_equations(op, p)


@SET
@given(st.integers(1, 20000), st.floats(0.5, 99.5))
def test_split_batch_and_warmup_rules(n, pct):
    k = S.train_rows(n, pct)
    assert k == round(n * pct / 100)
    assert S.batch_size(k if k else 1) == min(512, -(-max(k, 1) // 2))
    eq = S.modular_equations("+", 13)
    tr, va = S.split_equations(eq, pct, seed=1)
    assert len(tr) == S.train_rows(len(eq), pct) and len(tr) + len(va) == len(eq)
    assert {tuple(r) for r in tr} | {tuple(r) for r in va} == {tuple(r) for r in eq}
    lr = S.learning_rate(np.arange(0, 30))
    np.testing.assert_allclose(lr[:11], np.arange(11) / 10 * 1e-3)
    assert np.all(lr[10:] == 1e-3)


def test_bad_arguments():
    with pytest.raises(ValueError, match="eps"):
        S.adam_steady_step(1.0, eps=-1.0)
    with pytest.raises(TypeError, match="lr"):
        S.adam_updates([[1.0]], lr="0.1")
    with pytest.raises(ValueError, match="n_classes"):
        S.collapse_gap(1)
    with pytest.raises(ValueError, match="labels"):
        S.softmax_cross_entropy([0.0, 1.0], 2)
    with pytest.raises(ValueError, match="op"):
        S.modular_equations("%")
    with pytest.raises(ValueError, match="p must be prime"):
        S.modular_equations("/", 12)
    with pytest.raises(ValueError, match="steps"):
        S.detect_slingshots([0, 0, 1], [1, 1, 1], [1, 1, 1])
    with pytest.raises(ValueError, match="eps must be < x"):
        S.sign_regime_end(2.0, x=1.0)
    with pytest.raises(ValueError, match="shape"):
        S.ortho_grad([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="train_pct"):
        S.train_rows(10, 100)


# --------------------------------------------------------------------------- substrate: JAX losses and OrthoGrad
@functools.partial(jax.jit, static_argnames="name")
def _loss_and_grad(z, y, name):
    from sims.substrate.losses import LOSSES, logit_gradients

    return LOSSES[name](z, y), logit_gradients(name, z, y)


@pytest.mark.claim("slingshot.no_slingshot_stablemax")
@settings(deadline=None, max_examples=8, derandomize=True)
@given(seeds)
def test_jax_stablemax_and_softmax_match_numpy_reference(seed):
    rng = np.random.default_rng(seed)
    lg = rng.standard_normal((5, 7)) * 8
    lab = rng.integers(0, 7, 5)
    with jax.enable_x64(True):
        z, y = jnp.asarray(lg), jnp.asarray(lab)
        for name, ref in (("stablemax", S.stablemax_cross_entropy), ("softmax", S.softmax_cross_entropy)):
            loss_ref, grad_ref = ref(lg, lab, dtype="float64")
            loss, grad = _loss_and_grad(z, y, name)
            # two float64 implementations of the same formula: agreement to rounding (1e-12 relative)
            np.testing.assert_allclose(np.asarray(loss), loss_ref, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(np.asarray(grad), grad_ref, rtol=1e-10, atol=1e-14)


def test_jax_float32_collapse_matches_theory_bracket():
    from sims.substrate.losses import logit_gradients

    # the gradient the experiment measures (autodiff of the summed float32 loss) collapses inside the analytic
    # bracket of theory.slingshot.collapse_gap_estimate for 10 classes, and never for StableMax
    gaps = np.arange(14.0, 24.0, 2.0**-6)
    lg = np.zeros((gaps.size, 10), np.float32)
    lg[:, 3] = gaps
    y = jnp.full(gaps.size, 3)
    gc = np.asarray(logit_gradients("softmax", jnp.asarray(lg), y))[:, 3]
    lo, hi = S.collapse_gap_estimate(10, summation="sequential"), S.collapse_gap_estimate(10)
    assert np.all(gc[gaps < lo - 0.02] < 0) and np.all(gc[gaps > hi + 0.02] == 0)
    assert np.all(np.asarray(logit_gradients("stablemax", jnp.asarray(lg), y))[:, 3] < 0)
    with pytest.raises(ValueError, match="loss"):
        logit_gradients("hinge", jnp.asarray(lg), y)


@pytest.mark.claim("slingshot.no_slingshot_orthograd")
@settings(deadline=None, max_examples=8, derandomize=True)
@given(seeds)
def test_orthograd_transformation_matches_numpy_reference(seed):
    from sims.substrate.losses import orthograd

    rng = np.random.default_rng(seed)
    params = {"a": rng.standard_normal((4, 3)), "b": rng.standard_normal(5)}
    grads = {"a": rng.standard_normal((4, 3)), "b": rng.standard_normal(5)}
    with jax.enable_x64(True):
        tx = orthograd()
        p = jax.tree_util.tree_map(jnp.asarray, params)
        out, _ = tx.update(jax.tree_util.tree_map(jnp.asarray, grads), tx.init(p), p)
        # per array, the numpy reference; the 1e-30 guards change nothing at these magnitudes (1e-12 relative)
        for k in params:
            np.testing.assert_allclose(np.asarray(out[k]), S.ortho_grad(params[k], grads[k]), rtol=1e-10, atol=1e-13)
        # chained before Adam it trains (the update is finite) and needs params
        opt = optax.chain(orthograd(), optax.adam(1e-3))
        u, _ = opt.update(out, opt.init(p), p)
        assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree_util.tree_leaves(u))
        with pytest.raises(ValueError, match="params"):
            tx.update(out, tx.init(p))


# --------------------------------------------------------------------------- the experiment
@pytest.mark.claim("slingshot.sign_step")
def test_fcn_unit_records_and_regimes():
    # a short run of the experiment's unit: records have the right shapes and the measured Adam step is
    # bounded by the steady-gradient value sqrt(v)/(sqrt(v)+eps) read from the same state (|m_hat| <= sqrt(v_hat)
    # up to the moment lag; 1.05 allows for m_hat exceeding sqrt(v_hat) when the gradient shrinks)
    from sims.slingshot import SlingshotConfig, fcn_unit

    cfg = SlingshotConfig.preset("quick")
    base = {k: getattr(cfg, k) for k in ("n_train", "d_in", "width", "n_classes", "record_every", "lr", "b1", "b2")}
    (r,) = fcn_unit({**base, "steps": 200, "condition": "f32_eps1e-8"}, [0])
    assert r["loss"].shape == r["norm"].shape == r["steps"].shape == (21,)
    assert np.all((r["collapsed"] >= 0) & (r["collapsed"] <= 1)) and r["collapsed"][-1] == 0  # far from collapse
    rho = r["rms_over_eps"] / (1 + r["rms_over_eps"])
    assert np.all(r["step_frac"][1:] <= 1.05 * np.maximum(rho[1:], 1e-12) + 1e-6)
    # the first-order norm change agrees with the recorded norms: ||W_{t+1}|| - ||W_t|| ~ <W, dW>/||W|| per step
    dn = np.diff(r["norm"]) / 10
    assert np.corrcoef(dn[5:], r["growth"][6:])[0, 1] > 0.9


@pytest.mark.slow
def test_quick_run_produces_complete_claims(tmp_path):
    from sims.harness.runner import run_experiment

    rec = run_experiment("slingshot", scale="quick", seeds=1, out=tmp_path)
    claims = rec.claims
    ids = {c.id for c in claims}
    assert {"slingshot.cycle_float32", "slingshot.no_slingshot_eps", "slingshot.collapse_before_spike",
            "slingshot.sign_step", "slingshot.growth_rate", "slingshot.grokking_at_onset"} <= ids
    for c in claims:
        assert c.statement and c.kind in ("claim", "check") and isinstance(c.holds, bool)
        assert c.holds or c.finding, c.id
        assert c.links.get("theory"), c.id


@pytest.mark.slow
def test_grok_unit_runs_at_tiny_scale():
    # the transformer path of the paper preset (not run at the default scale), at a tiny size
    from sims.slingshot import grok_unit

    out = grok_unit({"op": "+", "fraction": 0.3, "steps": 40, "record_every": 20, "d_model": 16, "heads": 2,
                     "layers": 1}, [0, 1])
    assert len(out) == 2 and out[0]["val_acc"].shape == (3,) and out[0]["n_train"] == S.train_rows(9409, 30.0)
    assert out[0]["batch_size"] == 512 and np.all(np.isfinite(out[1]["norm"]))
