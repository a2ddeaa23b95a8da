"""theory.kernels: infinite-width NNGP/NTK recursions against closed forms, Monte Carlo and finite networks."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from sims.substrate import kernels as EK
from sims.substrate.networks import ntk_mlp_apply, ntk_mlp_init
from theory import kernels as K


@pytest.fixture(autouse=True)
def _float64():
    """float64 for this module's kernel checks, scoped so other modules keep JAX's default dtype."""
    with jax.enable_x64(True):
        yield

acts = st.sampled_from(K.ACTIVATIONS)
seeds = st.integers(0, 2**31 - 1)
wv = st.floats(0.5, 2.5)
bv = st.floats(0.0, 0.5)


def _x(seed, n=7, d=5):
    return np.random.default_rng(seed).standard_normal((n, d))


# ------------------------------------------------------------------------- structure
@settings(max_examples=15, deadline=None)
@given(acts, st.integers(1, 4), wv, bv, seeds)
def test_symmetric_psd(act, depth, w, b, seed):
    x = _x(seed)
    for fn in (K.nngp, K.ntk):
        k = fn(x, x, depth=depth, activation=act, w_var=w, b_var=b)
        # symmetry: the recursion is elementwise on a symmetric input kernel, so exact up to rounding
        np.testing.assert_allclose(k, k.T, rtol=1e-12, atol=1e-12)
        # PSD: a covariance (NNGP) / Gram matrix of gradients (NTK); eigenvalues >= -1e-10 * scale (rounding)
        ev = np.linalg.eigvalsh(k)
        assert ev.min() >= -1e-10 * max(ev.max(), 1.0)


@settings(max_examples=10, deadline=None)
@given(acts, st.integers(1, 3), wv, bv, seeds)
def test_blocked_threaded_path_equals_single_block(act, depth, w, b, seed):
    x1, x2 = _x(seed, 23, 4), _x(seed + 1, 19, 4)
    big = K.mlp_kernels(x1, x2, activations=[act] * depth, w_var=w, b_var=b)
    old = K._BLOCK_ELEMS
    K._BLOCK_ELEMS = 40  # 2 rows per block: many blocks spread over threads
    try:
        small = K.mlp_kernels(x1, x2, activations=[act] * depth, w_var=w, b_var=b)
    finally:
        K._BLOCK_ELEMS = old
    for a, c in zip(big, small):
        np.testing.assert_allclose(a, c, rtol=1e-13, atol=1e-14)  # same arithmetic, different blocking


# ------------------------------------------------------------------------- closed forms
@settings(max_examples=25, deadline=None)
@given(seeds, st.integers(1, 9))
def test_one_relu_layer_is_the_arccos_kernel(seed, d):
    x1, x2 = _x(seed, 6, d), _x(seed + 7, 5, d)
    # Cho & Saul: k1 = 2 E[relu(w.x) relu(w.y)], w ~ N(0, I); the first layer sees x / sqrt(d): factor 1/(2d)
    k1 = K.arccos_kernel(x1, x2, degree=1) / (2 * d)
    # the reference uses arccos, whose error at |cos| ~ 1 (parallel inputs, always so for d = 1) is
    # sqrt(machine eps) ~ 1.5e-8 in theta; hence an absolute tolerance of 1e-7 times the kernel scale
    atol = 1e-7 * (1 + np.abs(k1).max())
    np.testing.assert_allclose(K.nngp(x1, x2, depth=1), k1, rtol=1e-10, atol=atol)
    # NTK of one hidden layer: readout term (the NNGP) + first-layer term (x.x'/d) E[step step] = k0 / 2
    t1 = k1 + (x1 @ x2.T / d) * K.arccos_kernel(x1, x2, degree=0) / 2
    np.testing.assert_allclose(K.ntk(x1, x2, depth=1), t1, rtol=1e-10, atol=atol)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 5), wv, seeds)
def test_identity_network_closed_form(depth, w, seed):
    x = _x(seed)
    lin = x @ x.T / x.shape[1]
    # a deep linear net: Sigma = w^(L+1) x.x'/d, and each of the L+1 layers contributes the same: (L+1) Sigma
    np.testing.assert_allclose(K.nngp(x, depth=depth, activation="identity", w_var=w), w ** (depth + 1) * lin, rtol=1e-12)
    np.testing.assert_allclose(K.ntk(x, depth=depth, activation="identity", w_var=w),
                               (depth + 1) * w ** (depth + 1) * lin, rtol=1e-12, atol=1e-13)


@functools.cache
def _derived(act):
    e = K.gaussian_expectations(act)
    return sp.lambdify((K.q11, K.q22, K.q12), [e["nngp"], e["dot"], e["diag"]], "mpmath")


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["relu", "erf"]), st.floats(0.1, 3.0), st.floats(0.1, 3.0), st.floats(-0.97, 0.97))
def test_numpy_moments_equal_sympy_derivation(act, a, b, rho):
    c = rho * np.sqrt(a * b)
    f = _derived(act)
    k, dot, d1, _ = K.activation_moments(act, np.array([[c]]), np.array([a]), np.array([b]))
    want = [float(v) for v in f(a, b, c)]
    # two evaluations of the same closed form (sympy-derived expression in mpmath vs numpy with arctan2)
    np.testing.assert_allclose([k[0, 0], dot[0, 0], d1[0]], want, rtol=1e-9, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(acts, st.floats(0.2, 3.0), st.floats(0.2, 3.0), st.floats(-0.95, 0.95))
def test_price_theorem(act, a, b, rho):
    """d E[phi phi] / d q12 = E[phi' phi'] (Price 1958): central differences of the numpy code."""
    c, h = rho * np.sqrt(a * b), 1e-6
    f = lambda cc: K.activation_moments(act, np.array([[cc]]), np.array([a]), np.array([b]))[0][0, 0]  # noqa: E731
    fd = (f(c + h) - f(c - h)) / (2 * h)
    dot = K.activation_moments(act, np.array([[c]]), np.array([a]), np.array([b]))[1][0, 0]
    # central-difference error O(h^2 f''') ~ 1e-11, plus rounding eps/h ~ 1e-10
    assert abs(fd - dot) <= 1e-7 * max(1.0, abs(dot))


# ------------------------------------------------------------------------- Monte Carlo
@settings(max_examples=10, deadline=None)
@given(acts, st.floats(0.2, 3.0), st.floats(0.2, 3.0), st.floats(-0.95, 0.95), seeds)
def test_moments_match_monte_carlo(act, a, b, rho, seed):
    n = 200_000
    rng = np.random.default_rng(seed)
    z1, z2 = rng.standard_normal((2, n))
    u = np.sqrt(a) * z1
    v = np.sqrt(b) * (rho * z1 + np.sqrt(1 - rho**2) * z2)
    from scipy.special import erf

    phi = {"relu": lambda s: np.maximum(s, 0), "erf": erf, "identity": lambda s: s}[act]
    dphi = {"relu": lambda s: (s > 0) * 1.0, "erf": lambda s: 2 / np.sqrt(np.pi) * np.exp(-s * s),
            "identity": np.ones_like}[act]
    k, dot, _, _ = K.activation_moments(act, np.array([[rho * np.sqrt(a * b)]]), np.array([a]), np.array([b]))
    for samples, want in ((phi(u) * phi(v), k[0, 0]), (dphi(u) * dphi(v), dot[0, 0])):
        se = samples.std() / np.sqrt(n)
        # 5 standard errors: a false failure has probability ~ 6e-7 per comparison
        assert abs(samples.mean() - want) <= 5 * se + 1e-12


def _apply(p, x, *, acts, w, b):
    return ntk_mlp_apply(p, x, activations=list(acts), w_var=w, b_var=b)


@pytest.mark.claim("bottleneck.a-ntk-rate", "bottleneck.a-nngp-rate")
@pytest.mark.parametrize("act", ["relu", "erf"])
def test_finite_networks_converge_to_analytic_kernels(act):
    """Mean over seeds of the empirical NNGP (hidden features) and NTK (Jacobian contraction) of width-n
    networks equals the analytic kernels within 5 standard errors of the seed mean plus an O(1/n) bias."""
    depth, width, n_seeds, w, b = 2, 512, 10, 1.7, 0.1
    x = _x(3, 4, 6)
    acts_ = [act] * depth
    k_an, t_an = K.mlp_kernels(x, x, activations=acts_, w_var=w, b_var=b)
    nngp_s, ntk_s = [], []
    apply = functools.partial(_apply, acts=tuple(acts_), w=w, b=b)  # one function: one compilation
    init = jax.jit(functools.partial(ntk_mlp_init, sizes=(6,) + (width,) * depth + (1,), dtype=jnp.float64))
    for s in range(n_seeds):
        params = init(jax.random.PRNGKey(s))
        # NNGP from the last hidden layer's features (the readout's input covariance)
        feats = ntk_mlp_apply(params[:-1], jnp.asarray(x), activations=acts_[:-1], w_var=w, b_var=b)
        phi = np.asarray(jax.nn.relu(feats) if act == "relu" else jax.scipy.special.erf(feats))
        nngp_s.append(w * phi @ phi.T / width + b)
        ntk_s.append(EK.empirical_ntk(apply, params, x))
    for samples, an in ((np.array(nngp_s), k_an), (np.array(ntk_s), t_an)):
        mean, se = samples.mean(0), samples.std(0, ddof=1) / np.sqrt(n_seeds)
        assert np.all(np.abs(mean - an) <= 5 * se + 4.0 / width * np.abs(an).max())


def test_empirical_ntk_of_linear_model_is_exact():
    """f(x) = x W (k outputs): the Jacobian contraction is x.x' delta_ab exactly."""
    x1, x2 = _x(0, 5, 3), _x(1, 4, 3)
    W = jnp.asarray(np.random.default_rng(2).standard_normal((3, 2)))
    full = EK.empirical_ntk(lambda p, x: x @ p, W, x1, x2, full=True)
    want = np.einsum("ij,ab->ijab", x1 @ x2.T, np.eye(2))
    np.testing.assert_allclose(full, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(EK.empirical_ntk(lambda p, x: x @ p, W, x1, x2), x1 @ x2.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(EK.empirical_nngp(lambda p, x: x @ p, W, x1, x2), (x1 @ W) @ (x2 @ W).T / 2, rtol=1e-12)


# ------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(depth=0), "depth"),
        (dict(depth=-2), "depth"),
        (dict(depth=1, w_var=-1.0), "w_var"),
        (dict(depth=1, b_var=-0.1), "b_var"),
        (dict(depth=1, activation="tanh"), "activation"),
    ],
)
def test_bad_input_raises(kw, match):
    x = _x(0)
    for fn in (K.nngp, K.ntk):
        with pytest.raises(ValueError, match=match):
            fn(x, x, **kw)


def test_mismatched_shapes_raise():
    with pytest.raises(ValueError, match="d_in"):
        K.ntk(_x(0, 4, 3), _x(0, 4, 5), depth=1)
    with pytest.raises(ValueError, match="2-D"):
        K.nngp(np.ones(3), np.ones(3), depth=1)
    with pytest.raises(TypeError, match="depth"):
        K.nngp(_x(0), depth=1.5)


def test_bad_input_is_refused_clearly():
    """Issue 17: strings/complex are TypeErrors naming the argument; huge inputs either answer (the degree-0
    arc-cosine kernel is scale-free, so x * 1e300 gives the same kernel: exact up to a few roundings, rtol 1e-12)
    or are refused with the reason (a kernel beyond the float range), never inf/NaN; the depth is bounded."""
    x = np.array([[1.0, 0.0], [0.6, 0.8]])
    np.testing.assert_allclose(K.arccos_kernel(x * 1e300, degree=0), K.arccos_kernel(x, degree=0), rtol=1e-12)
    cases = [
        (lambda: K.ntk("abc", depth=2), TypeError, "x1"),
        (lambda: K.nngp(x, x + 1j, depth=2), TypeError, "x2"),
        (lambda: K.ntk(x, depth=2, w_var="1.0"), TypeError, "w_var"),
        (lambda: K.ntk(x * 1e300, depth=2), ValueError, "overflows"),
        (lambda: K.nngp(x, depth=2, b_var=1e308), ValueError, "b_var"),
        (lambda: K.arccos_kernel(x * 1e300, degree=1), ValueError, "overflows"),
        (lambda: K.ntk(x, depth=10**6), ValueError, "depth"),
        (lambda: K.mlp_kernels(x, activations="relu"), TypeError, "activations"),
        (lambda: K.mlp_kernels(x, activations=["relu", "tanh"]), ValueError, r"activations\[1\]"),
        (lambda: K.activation_moments("relu", np.array([[np.nan]]), np.array([1.0]), np.array([1.0])), ValueError, "cov"),
        (lambda: K.activation_moments("relu", np.array([[0.5]]), np.array([1.0, 2.0]), np.array([1.0])), ValueError, "var1"),
    ]
    for call, err, name in cases:
        with pytest.raises(err, match=name):
            call()
