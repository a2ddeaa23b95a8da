"""theory.bottleneck: the finite-bottleneck limit, its linear reduction and the NTK baseline, against
autodiff of finite JAX networks, ODE integration and closed forms."""

from __future__ import annotations

import functools

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
from sims.substrate import kernels as EK
from sims.substrate.networks import ACTIVATION_FNS, ntk_mlp_apply, ntk_mlp_init
from sims.substrate.ode import solve
from theory import bottleneck as B
from theory import kernels as K


@pytest.fixture(autouse=True)
def _float64():
    """float64 for this module's kernel checks, scoped so other modules keep JAX's default dtype."""
    with jax.enable_x64(True):
        yield

seeds = st.integers(0, 2**31 - 1)
acts = st.sampled_from(["relu", "erf"])


def _head_dict(head):
    """sims.substrate.networks layout of a one-hidden-layer head -> theory.bottleneck layout."""
    return {"W": np.asarray(head[0]["W"]), "b": np.asarray(head[0]["b"]), "a": np.asarray(head[1]["W"]),
            "beta": np.asarray(head[1]["b"])}


# ------------------------------------------------------------------------- effective kernel = chain rule
def _fg(p, x, act):
    w, b = 1.5, 0.2
    h = ntk_mlp_apply(p["g"], x, activations=[act], w_var=w, b_var=b)
    return ntk_mlp_apply(p["f"], h, activations=[act], w_var=w, b_var=b), h


@functools.partial(jax.jit, static_argnums=2)
def _chain_rule_parts(p, x, act):
    """Jacobian contractions of f o g over f's parameters, over g's, and of g alone (one compile per shape)."""
    jf_par = jax.jacrev(lambda pf: _fg({"f": pf, "g": p["g"]}, x, act)[0])(p["f"])
    jg_par = jax.jacrev(lambda pg: _fg({"f": p["f"], "g": pg}, x, act)[0])(p["g"])
    jh_par = jax.jacrev(lambda pg: _fg({"f": p["f"], "g": pg}, x, act)[1])(p["g"])

    def contract(j):
        leaves = [a.reshape(a.shape[0], a.shape[1], -1) for a in jax.tree_util.tree_leaves(j)]
        return sum(jnp.einsum("iap,jbp->ijab", a, a) for a in leaves)

    return contract(jf_par), contract(jg_par), contract(jh_par), _fg(p, x, act)[1]


@pytest.mark.claim("bottleneck.b-random-at-fixed-d", "bottleneck.b-spread-vs-d")
@pytest.mark.parametrize("act", ["relu", "erf"])
@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize("seed", [0])
def test_effective_kernel_is_the_chain_rule_split_of_the_empirical_ntk(act, d, seed):
    """For a finite f o g, the tangent kernel over f's parameters equals theory.f_empirical_ntk, and over g's
    parameters equals J_f Theta_g J_f^T with g's own (d x d) empirical kernel: exact identities (float64)."""
    w, b, n, k = 1.5, 0.2, 32, 2
    key_g, key_f = jax.random.split(jax.random.PRNGKey(seed))
    x = jnp.asarray(np.random.default_rng(seed).standard_normal((3, 5)))
    p = {"g": ntk_mlp_init(key_g, [5, n, d], dtype=jnp.float64), "f": ntk_mlp_init(key_f, [d, n, k], dtype=jnp.float64)}
    theta_f_part, theta_g_part, theta_g_emp, h = (np.asarray(v) for v in _chain_rule_parts(p, x, act))
    hd = _head_dict(p["f"])
    _, jf = B.f_apply(hd, h, activation=act, w_var=w, b_var=b)
    # rounding only: float64 sums of ~100 terms
    np.testing.assert_allclose(np.einsum("ijaa->ij", theta_f_part) / k,
                               B.f_empirical_ntk(hd, h, h, activation=act, w_var=w, b_var=b), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(theta_g_part, np.einsum("iad,ijde,jbe->ijab", jf, theta_g_emp, jf), rtol=1e-10, atol=1e-12)
    # effective_kernel assembles Theta_f I + J Theta_g J^T (with a scalar Theta_g, as in the limit)
    tg = np.einsum("ijdd->ij", theta_g_emp) / d
    tf = np.random.default_rng(seed).standard_normal((3, 3))
    eff = B.effective_kernel(tf, jf, jf, tg)
    np.testing.assert_allclose(eff, tf[:, :, None, None] * np.eye(k) + np.einsum("iad,ij,jbd->ijab", jf, tg, jf), rtol=1e-12)


@pytest.mark.claim("bottleneck.b-random-at-fixed-d")
@settings(max_examples=10, deadline=None)
@given(acts, st.integers(1, 6), seeds)
def test_head_jacobian_matches_finite_differences(act, d, seed):
    rng = np.random.default_rng(seed)
    p = B.f_random_features(rng, d, 40, 2)
    h = rng.standard_normal((3, d))
    _, jf = B.f_apply(p, h, activation=act, w_var=1.3, b_var=0.1)
    eps = 1e-6
    for i in range(d):
        e = np.zeros(d)
        e[i] = eps
        fd = (B.f_apply(p, h + e, activation=act, w_var=1.3, b_var=0.1)[0]
              - B.f_apply(p, h - e, activation=act, w_var=1.3, b_var=0.1)[0]) / (2 * eps)
        # central differences: O(eps^2) truncation, and for ReLU a kink within eps has probability ~ 40 eps
        np.testing.assert_allclose(fd, jf[:, :, i], rtol=1e-5, atol=1e-6)


@pytest.mark.claim("bottleneck.b-random-at-fixed-d")
@pytest.mark.parametrize("act", ["relu", "erf"])
def test_head_kernel_converges_to_theta_f(act):
    """Mean over draws of the width-n head's own kernel equals Theta_f (5 standard errors)."""
    rng = np.random.default_rng(0)
    h = rng.standard_normal((3, 4))
    tf = B.f_kernels(h, activation=act, w_var=1.5, b_var=0.1)[1]
    p = B.f_random_features(rng, 4, 2048, 1, n_draws=64)
    draws = B.f_empirical_ntk(p, h, h, activation=act, w_var=1.5, b_var=0.1)
    mean, se = draws.mean(0), draws.std(0, ddof=1) / np.sqrt(draws.shape[0])
    assert np.all(np.abs(mean - tf) <= 5 * se + 1e-12)


# ------------------------------------------------------------------------- the limit model
@pytest.mark.claim("bottleneck.c-scale0.3-finite-to-limit", "bottleneck.c-scale6-finite-to-limit")
def test_limit_model_moves_features_by_theta_g():
    """Gradient descent on c moves h by -lr Theta_g[:, train] dL/dh_train: the limit equation of
    theory.bottleneck.feature_velocity (J_f from the closed-form head Jacobian)."""
    cfg = dict(d=3, depth_g=1, activation="relu", w_var=2.0, b_var=0.1, limit_width=64)
    x_all = np.random.default_rng(0).standard_normal((7, 5))
    params, R = SB.limit_model(cfg, 0, x_all)
    params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), params)
    R = jnp.asarray(R, jnp.float64)
    tr = jnp.arange(4)
    y = jnp.asarray(np.random.default_rng(1).standard_normal((4, 1)))

    def loss(p):
        return SBT._mse(SB.limit_apply(p, R, tr, cfg), y)

    gc = jax.grad(loss)(params)["c"]
    dh = -np.asarray(R @ gc)  # velocity of h(x) for all 7 points
    tg = B.g_kernels(x_all, depth_g=1, w_var=2.0, b_var=0.1)[1]
    h_tr = np.asarray(params["h0"][:4])
    out, jf = B.f_apply(_head_dict(params["f"]), h_tr, w_var=2.0, b_var=0.1)
    grad_f = (out - np.asarray(y)) / 4  # dL/dF for L = 1/(2N) sum (F - y)^2
    # R R^T = Theta_g up to the float32 rounding of R in limit_model (relative 1e-6)
    np.testing.assert_allclose(dh, B.feature_velocity(tg[:, :4], jf, grad_f), rtol=1e-4, atol=1e-5)


@pytest.mark.claim("bottleneck.c-scale0.3-finite-to-limit", "bottleneck.c-scale6-finite-to-limit")
@pytest.mark.slow  # ~15 s: compiles the training loop
def test_limit_dynamics_deterministic_given_draws():
    cfg = dict(d=2, depth_g=1, activation="relu", w_var=2.0, b_var=0.0, limit_width=32, n_train=16, n_test=8,
               target_class=0, scale=1.0, lr=0.05, steps=20, record_every=10)
    with jax.enable_x64(False):  # float32, as the experiment trains
        a, b = SB.train_limit(cfg, [3, 4]), SB.train_limit(cfg, [3])
    np.testing.assert_array_equal(a[0]["train"], b[0]["train"])  # same draws, same trajectory
    assert not np.allclose(a[0]["train"], a[1]["train"])  # other draws of f_0, h_0: another trajectory


# ------------------------------------------------------------------------- NTK baseline
@pytest.mark.claim("bottleneck.c-scale0.3-speedup", "bottleneck.c-scale6-speedup",
                   "bottleneck.c-acceleration-needs-large-targets")
@settings(max_examples=10, deadline=None)
@given(seeds, st.booleans())
def test_ntk_prediction_equals_ode_integration(seed, normalized):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((6, 3))
    th = K.ntk(x, depth=2, w_var=1.5, b_var=0.1)
    y, f0 = rng.standard_normal((4, 2)), rng.standard_normal((6, 2))
    ts = np.linspace(0.0, 3.0, 7)
    ftr, fte = B.ntk_mse_prediction(th[:4, :4], y, f0[:4], ts, lr=0.7, theta_test_train=th[4:, :4], f0_test=f0[4:],
                                    size_normalized=normalized)
    rate = 0.7 / (y.size if normalized else 1)

    def rhs(t, z):  # all 6 outputs move with the kernel against the training residual
        F = z.reshape(6, 2)
        return (-rate * th[:, :4] @ (F[:4] - y)).ravel()

    sol = solve(rhs, f0.ravel(), ts).reshape(len(ts), 6, 2)
    # scipy LSODA at rtol 1e-10 against an eigendecomposition: agreement to ~1e-8
    np.testing.assert_allclose(ftr, sol[:, :4], rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(fte, sol[:, 4:], rtol=1e-7, atol=1e-8)
    late = B.ntk_mse_prediction(th[:4, :4], y, f0[:4], [1e4 / rate])
    np.testing.assert_allclose(late[0], y, atol=1e-6)  # positive-definite kernel: interpolation


# ------------------------------------------------------------------------- linear case
@pytest.mark.claim("bottleneck.d-linear-acceleration")
@settings(max_examples=15, deadline=None)
@given(st.integers(1, 4), st.floats(0.5, 2.0), seeds)
def test_linear_rates_match_kernels(depth_g, w, seed):
    x = np.random.default_rng(seed).standard_normal((5, 4))
    h = np.random.default_rng(seed + 1).standard_normal((5, 3))
    c_g, c_f, c = B.linear_rates(depth_g=depth_g, d_in=4, d=3, w_var=w)
    np.testing.assert_allclose(B.g_kernels(x, depth_g=depth_g, activation="identity", w_var=w)[1], c_g * x @ x.T,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(B.f_kernels(h, activation="identity", w_var=w)[1], c_f * h @ h.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(B.full_ntk(x, depth_g=depth_g, activation="identity", w_var=w)[1], c * x @ x.T,
                               rtol=1e-12, atol=1e-12)


@pytest.mark.claim("bottleneck.d-linear-acceleration")
@settings(max_examples=10, deadline=None)
@given(seeds)
def test_linear_flow_is_scaled_gradient(seed):
    rng = np.random.default_rng(seed)
    A, Bm, X, Y = (rng.standard_normal((3, 5)), rng.standard_normal((2, 3)), rng.standard_normal((7, 5)),
                   rng.standard_normal((7, 2)))
    dA, dB = B.linear_flow(A, Bm, X, Y, c_g=0.3, c_f=1.7)
    gA, gB = jax.grad(lambda a, b: 0.5 * jnp.sum((X @ a.T @ b.T - Y) ** 2), argnums=(0, 1))(jnp.asarray(A), jnp.asarray(Bm))
    np.testing.assert_allclose(dA, -0.3 * np.asarray(gA), rtol=1e-12, atol=1e-12)  # autodiff: same math, float64
    np.testing.assert_allclose(dB, -1.7 * np.asarray(gB), rtol=1e-12, atol=1e-12)


@pytest.mark.claim("bottleneck.d-linear-acceleration")
@settings(max_examples=8, deadline=None)
@given(st.floats(0.5, 10.0), st.floats(0.02, 0.5), st.floats(0.3, 3.0), st.floats(0.3, 3.0))
def test_balanced_mode_of_matrix_flow_is_logistic(tau_, u0_frac, c_g, c_f):
    """Integrate the full matrix flow (d0 = k = 3, d = 2) from a balanced aligned init with a rank-1 target;
    the mode follows the ModeModel logistic; a zero-target direction stays at zero."""
    u0 = u0_frac * tau_
    kap = np.sqrt(c_g * c_f)
    alpha0 = np.sqrt(u0 / kap)  # balanced: a = sqrt(c_g) s, b = sqrt(c_f) s, u = kappa s^2
    e = np.eye(3)
    A0 = np.zeros((2, 3))
    A0[0, 0] = np.sqrt(c_g) * alpha0
    B0 = np.zeros((3, 2))
    B0[0, 0] = np.sqrt(c_f) * alpha0
    X, Y = e, tau_ * np.outer(e[0], e[0])  # whitened inputs (lambda = 1), target gain tau on the first direction

    def rhs(t, z):
        dA, dB = B.linear_flow(z[:6].reshape(2, 3), z[6:].reshape(3, 2), X, Y, c_g=c_g, c_f=c_f)
        return np.concatenate([dA.ravel(), dB.ravel()])

    T = B.linear_time_to_fraction(1e-3, u0=u0, tau_=tau_, kappa_=kap)
    ts = np.linspace(0, 1.5 * T, 30)
    z = solve(rhs, np.concatenate([A0.ravel(), B0.ravel()]), ts)
    W = np.einsum("tij,tjk->tik", z[:, 6:].reshape(-1, 3, 2), z[:, :6].reshape(-1, 2, 3))
    sol = sp.lambdify((B.t, sp.Symbol("u0", positive=True), B.tau, B.kappa, B.lam), B.linear_mode_solution())
    np.testing.assert_allclose(W[:, 0, 0], sol(ts, u0, tau_, kap, 1.0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(W[:, 1:, :], 0.0, atol=1e-12)
    # the loss fraction reaches 1e-3 at the predicted time (interpolated on a fine grid)
    z2 = solve(rhs, np.concatenate([A0.ravel(), B0.ravel()]), np.array([0.0, T]))
    u_T = (z2[-1, 6:].reshape(3, 2) @ z2[-1, :6].reshape(2, 3))[0, 0]
    np.testing.assert_allclose((tau_ - u_T) ** 2 / (tau_ - u0) ** 2, 1e-3, rtol=1e-5)


# ------------------------------------------------------------------------- bad input
def test_bad_input_raises():
    x = np.ones((3, 2))
    with pytest.raises(ValueError, match="depth_g"):
        B.g_kernels(x, depth_g=0)
    with pytest.raises(ValueError, match="d \\(bottleneck width\\)"):
        B.linear_rates(depth_g=1, d_in=2, d=0)
    with pytest.raises(ValueError, match="d \\(bottleneck width\\)"):
        B.f_random_features(np.random.default_rng(0), 0, 8)
    with pytest.raises(ValueError, match="w_var"):
        B.full_ntk(x, depth_g=1, w_var=-1.0)
    with pytest.raises(ValueError, match="shapes"):
        B.effective_kernel(np.ones((2, 2)), np.ones((2, 1, 3)), np.ones((2, 1, 4)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="shapes"):
        B.ntk_mse_prediction(np.eye(3), np.ones((2, 1)), np.ones((2, 1)), [0.0])
    with pytest.raises(ValueError, match="lr"):
        B.ntk_mse_prediction(np.eye(2), np.ones((2, 1)), np.ones((2, 1)), [0.0], lr=0.0)
    with pytest.raises(ValueError, match="u0"):
        B.linear_time_to_fraction(0.1, u0=2.0, tau_=1.0)


# ------------------------------------------------------------------------- experiment machinery
@settings(max_examples=4, deadline=None)
@given(st.sampled_from([("relu", "relu"), ("erf", "identity"), ("identity", "erf")]), st.sampled_from([1, 3]),
       st.sampled_from([0.0, 0.3]), seeds)
@pytest.mark.claim("bottleneck.a-ntk-rate", "bottleneck.a-nngp-rate")
def test_structured_empirical_kernels_equal_jacobian_contraction(acts_, k, b, seed):
    """The layer-structure NTK of the experiment (forward features x backward signals) against the generic
    Jacobian contraction of sims.substrate.kernels.empirical_ntk; the NNGP against the readout's input features."""
    w = 1.7
    x = jnp.asarray(np.random.default_rng(seed).standard_normal((5, 4)))
    p = ntk_mlp_init(jax.random.PRNGKey(seed % 1000), [4, 7, 6, k], dtype=jnp.float64)
    kk, tt = SB.mlp_empirical_kernels(p, x, activations=acts_, w_var=w, b_var=b)
    ref = EK.empirical_ntk(lambda q, z: ntk_mlp_apply(q, z, activations=list(acts_), w_var=w, b_var=b), p, x)
    feats = ntk_mlp_apply(p[:-1], x, activations=list(acts_[:-1]), w_var=w, b_var=b)
    phi = np.asarray(ACTIVATION_FNS[acts_[-1]](feats))
    # two float64 evaluations of the same sums: rounding only
    np.testing.assert_allclose(np.asarray(tt), ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(kk), w * phi @ phi.T / 6 + b, rtol=1e-10, atol=1e-12)


@pytest.mark.claim("bottleneck.c-scale0.3-finite-to-limit", "bottleneck.c-scale6-finite-to-limit")
def test_coupled_bottleneck_layer_has_features_sqrt_k_xi_and_standard_normal_law():
    """couple_bottleneck_layer: h_0 equals the symmetric square root (by eigh, a second method) of the
    network's empirical K_g times xi, and the redrawn layer is N(0, I) given the first layer (sample
    covariance over 4000 independent columns (d = 4000) within 5/sqrt(4000) of I)."""
    w, b, n, d = 2.0, 0.2, 9, 4000
    x = np.random.default_rng(0).standard_normal((6, 3))
    cfg = dict(depth_g=1, activation="relu", w_var=w, b_var=b)
    with jax.enable_x64(False):
        p = SBT._init(jax.random.PRNGKey(1), (3, n, d, 2, 1))
        xi = np.random.default_rng(2).standard_normal((6, d))
        q = SB.couple_bottleneck_layer(p, x, xi, cfg)
        h = np.asarray(ntk_mlp_apply(q[:2], jnp.asarray(x, jnp.float32), activations=["relu"], w_var=w, b_var=b), float)
        phi = np.asarray(jax.nn.relu(ntk_mlp_apply(q[:1], jnp.asarray(x, jnp.float32), activations=[], w_var=w, b_var=b)), float)
    kg = w * phi @ phi.T / n + b
    ev, V = np.linalg.eigh(kg)
    sq = (V * np.sqrt(np.maximum(ev, 0))) @ V.T
    np.testing.assert_allclose(h, sq @ xi, rtol=1e-4, atol=1e-4 * np.abs(h).max())  # float32 layer
    layer = np.concatenate([np.asarray(q[1]["W"], float), np.asarray(q[1]["b"], float)[None]])  # (n + 1, d)
    cov = layer @ layer.T / d
    assert np.abs(cov - np.eye(n + 1)).max() < 5 / np.sqrt(d)
    np.testing.assert_array_equal(np.asarray(q[0]["W"]), np.asarray(p[0]["W"]))  # layers below untouched


@pytest.mark.claim("bottleneck.c-scale0.3-finite-to-limit", "bottleneck.c-scale6-finite-to-limit")
def test_conditional_limit_starts_at_the_finite_network_with_the_limit_kernel():
    """conditional_limit_model: at initialisation its outputs are the finite network's own (f_0 is the
    network's head, h_0 its g_0(x), u - u_init = 0), and its tangent kernel is the limit's given those draws:
    the c-part Theta_g (analytic, B.g_kernels) times J_f0(h_i).J_f0(h_j) (closed-form head Jacobian,
    B.f_apply), the u-part the width-M head's own kernel in closed form (B.f_empirical_ntk, which
    test_head_kernel_converges_to_theta_f ties to Theta_f). Autodiff vs closed forms; h_0 and R are float32,
    hence rtol 1e-4."""
    w, b = 2.0, 0.1
    cfg = dict(d=3, depth_g=1, activation="relu", w_var=w, b_var=b, width=16, limit_width=64)
    x_all = np.random.default_rng(0).standard_normal((7, 5))
    with jax.enable_x64(False):  # float32 initialisation, as the experiment trains
        fp = SB.finite_init(cfg, 0, x_all)
        params, R = SB.conditional_limit_model(cfg, fp, x_all, 0)
    f64 = functools.partial(jax.tree_util.tree_map, lambda a: jnp.asarray(a, jnp.float64))
    fp, params, R = f64(fp), f64(params), jnp.asarray(R, jnp.float64)
    idx = jnp.arange(7)
    np.testing.assert_allclose(np.asarray(SBT.conditional_apply(params, R, idx, cfg)),
                               np.asarray(SB.finite_apply(fp, jnp.asarray(x_all), cfg)), rtol=1e-4, atol=1e-5)
    tr = jnp.arange(4)

    def out(c, u):
        return SBT.conditional_apply(dict(params, c=c, u=u), R, tr, cfg)[:, 0]

    jc, ju = jax.jacrev(out, argnums=(0, 1))(params["c"], params["u"])
    k_c = np.einsum("ink,jnk->ij", np.asarray(jc), np.asarray(jc))
    k_u = sum(np.asarray(a).reshape(4, -1) @ np.asarray(a).reshape(4, -1).T for a in jax.tree_util.tree_leaves(ju))
    h0 = np.asarray(params["h0"][:4])
    tg = B.g_kernels(x_all[:4], depth_g=1, w_var=w, b_var=b)[1]
    jf = B.f_apply(_head_dict(params["f0"]), h0, w_var=w, b_var=b)[1][:, 0]  # (4, d)
    np.testing.assert_allclose(k_c, tg * (jf @ jf.T), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(k_u, B.f_empirical_ntk(_head_dict(params["u"]), h0, h0, w_var=w, b_var=b),
                               rtol=1e-4, atol=1e-6)


@pytest.mark.claim("bottleneck.c-scale0.3-finite-to-limit", "bottleneck.c-scale6-finite-to-limit")
def test_conditional_distance_on_synthetic_outputs():
    """_conditional_distance on synthetic outputs F_n = F_lim + c n^{-1/2} noise: the distance equals the
    closed form c n^{-1/2}/rms(F_lim) (within 2%: 3000 squared normals per seed, relative sd of the RMS
    1/sqrt(2 x 3000 x S) = 0.6%), ratios 1/2 per 4x width, slope -1/2 with a small bootstrap sd; the
    loss-curve distance is |log| of a known loss ratio."""
    rng = np.random.default_rng(0)
    widths, S, T, N, c = [64, 256, 1024], 8, 30, 100, 0.5
    cond = rng.standard_normal((S, T, N)) * 2.0
    fin = np.stack([cond + c / np.sqrt(n) * rng.standard_normal((S, T, N)) for n in widths])
    cond_w = np.broadcast_to(cond, fin.shape)
    loss_c = np.exp(rng.standard_normal((len(widths), S, T)))
    loss_f = loss_c * np.exp(np.array([0.4, 0.2, 0.1]))[:, None, None]
    r = SBE._conditional_distance(fin, cond_w, loss_f, loss_c, widths, np.random.default_rng(1))
    expected = c / np.sqrt(np.asarray(widths, float)) / np.sqrt(np.mean(cond**2))
    np.testing.assert_allclose(r["fun"], expected, rtol=0.02)
    np.testing.assert_allclose(r["fun_ratio"], 0.5, rtol=0.03)
    assert abs(r["fun_slope"] + 0.5) < 0.02 and 0 < r["fun_slope_sd"] < 0.01
    np.testing.assert_allclose(r["loss"], [0.4, 0.2, 0.1], rtol=1e-12)
    assert abs(r["loss_slope"] + 0.5) < 1e-12


def test_issue17_bad_input_never_gets_nan():
    """Issue 17 cases: a negative weight variance gave arrays of NaN from f_apply/f_empirical_ntk, non-finite
    targets gave NaN mixed with numbers from ntk_mse_prediction; now each is a ValueError/TypeError naming the
    argument. Huge tau_ / tiny frac in linear_time_to_fraction are answered in log space: the value equals the
    direct formula where that one is representable (rtol 1e-12)."""
    params = B.f_random_features(np.random.default_rng(0), 2, 3)
    h = np.array([[1.0, 0.0], [0.6, 0.8]])
    cases = [
        (lambda: B.f_apply(params, h, w_var=-1.0), ValueError, "w_var"),
        (lambda: B.f_empirical_ntk(params, h, h, b_var=-1.0), ValueError, "b_var"),
        (lambda: B.f_apply(params, h, activation="tanh"), ValueError, "activation"),
        (lambda: B.f_apply({"W": 1}, h), TypeError, "params"),
        (lambda: B.ntk_mse_prediction(np.eye(2), np.array([[np.nan], [1.0]]), np.zeros((2, 1)), [1.0]), ValueError,
         "y_train"),
        (lambda: B.ntk_mse_prediction(np.eye(2), np.ones((2, 1)), np.zeros((2, 1)), [1.0], lr="1"), TypeError, "lr"),
        (lambda: B.f_kernels(h * 1e300), ValueError, "h1"),
        (lambda: B.linear_time_to_fraction("0.5", u0=0.1, tau_=1.0), TypeError, "frac"),
        (lambda: B.linear_flow(np.eye(2), np.eye(2) + 1j, np.eye(2), np.eye(2), c_g=1.0, c_f=1.0), TypeError, "B"),
        (lambda: B.f_random_features(0, 2, 3), TypeError, "rng"),
    ]
    for call, err, name in cases:
        with pytest.raises(err, match=name):
            call()
    frac, u0, tau_ = 0.25, 0.1, 1.0
    us = tau_ - np.sqrt(frac) * (tau_ - u0)
    direct = np.log(us * (tau_ - u0) / (u0 * (tau_ - us))) / (2 * tau_)
    assert B.linear_time_to_fraction(frac, u0=u0, tau_=tau_) == pytest.approx(direct, rel=1e-12)
    assert np.isfinite(B.linear_time_to_fraction(1e-300, u0=0.1, tau_=1.0))
    assert np.isfinite(B.linear_time_to_fraction(0.5, u0=0.1, tau_=1e308))
