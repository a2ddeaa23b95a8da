"""LiDAR and RankMe (Thilak et al. 2024; Garrido et al. 2023): theory.lidar against closed forms,
an independent per-class reference implementation, and the invariances of proofs.lidar."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import lidar as L

SET = settings(deadline=None, max_examples=25, derandomize=True)
seeds = st.integers(0, 2**31 - 1)


# --------------------------------------------------------------------------- independent reference


def reference_lidar(e, *, delta, eps, variant="paper"):
    """Straightforward re-implementation from the paper's definition (eqs. 1-3) and the variants' documented
    conventions (theory.lidar.LidarVariant): explicit per-class loops,
    the inverse square root from scipy.linalg.sqrtm, entropy written out per variant. Independent of
    theory.lidar's vectorised code path."""
    e = np.asarray(e, dtype=float)
    n, q, d = e.shape
    means = [e[i].mean(axis=0) for i in range(n)]
    grand = sum(means) / n
    sb = sum(np.outer(m - grand, m - grand) for m in means)
    sw = np.zeros((d, d))
    for i in range(n):
        for j in range(q):
            sw += np.outer(e[i, j] - means[i], e[i, j] - means[i])
    sb_norm = {"paper": n - 1, "stable_pretraining": n - 1, "stable_ssl": n - 1, "einx": n - 1, "radio": n - 1, "reptrix": 1}
    sw_norm = {"paper": n * (q - 1), "stable_pretraining": n * (q - 1), "stable_ssl": n * (q - 1), "einx": n * (q - 1),
               "radio": n * q - 1, "reptrix": n}
    sb = sb / sb_norm[variant]
    sw = sw / sw_norm[variant] + delta * np.eye(d)
    if variant == "stable_pretraining":  # eigenvalues of Sigma_w clamped at eps
        w, u = np.linalg.eigh(sw)
        sw = (u * np.maximum(w, eps)) @ u.T
    wh = np.real(np.linalg.inv(scipy.linalg.sqrtm(sw)))
    m = wh @ sb @ wh
    m = (m + m.T) / 2
    if variant == "radio":
        m = m + delta * np.eye(d)
    if variant == "reptrix":
        x = m - m.mean(axis=0)
        s2 = np.linalg.svd(x, compute_uv=False) ** 2
        lam = s2 / s2.sum()
    else:
        lam = np.clip(np.linalg.eigvalsh(m), 0, None)
    if variant in ("paper", "einx", "reptrix"):
        p = lam / lam.sum() + eps
        h = -sum(pi * np.log(pi) for pi in p if pi > 0)
    elif variant == "stable_pretraining":
        p = (lam + eps) / (lam + eps).sum()
        h = -sum(pi * np.log(pi) for pi in p if pi > 0)
    elif variant == "stable_ssl":
        p = lam / (lam.sum() + eps)
        h = -sum(pi * np.log(pi + eps) for pi in p)
    else:  # radio
        lam = lam[lam > 0]
        p = lam / (lam.sum() + eps)
        h = -sum(pi * np.log(pi) for pi in p)
    return float(np.exp(h))


def random_embeddings(seed, n=12, q=5, d=6, rank_signal=None):
    """Anisotropic class signal and anisotropic (non-diagonal) view noise."""
    rng = np.random.default_rng(seed)
    k = d if rank_signal is None else rank_signal
    sig = rng.standard_normal((n, 1, k)) @ rng.standard_normal((k, d))
    noise = rng.standard_normal((n, q, d)) @ (rng.standard_normal((d, d)) / np.sqrt(d) + 0.5 * np.eye(d))
    return sig + noise + rng.standard_normal(d)


def random_invertible(rng, d, smin=0.3, smax=3.0):
    """A = Q1 diag(s) Q2 with singular values spread over [smin, smax]: cond(A) <= 10."""
    q1 = np.linalg.qr(rng.standard_normal((d, d)))[0]
    q2 = np.linalg.qr(rng.standard_normal((d, d)))[0]
    s = np.linspace(smin, smax, d)
    return q1 @ np.diag(s) @ q2


# --------------------------------------------------------------------------- hand-computed example


def toy():
    """n = 4 classes, q = 2 views, d = 2, worked by hand. Class means (1,0), (-1,0), (0,1), (0,-1);
    views mu_i +- u_i with u = (1,0) for classes 1-2 and u = (0,2) for classes 3-4."""
    mu = np.array([[1, 0], [-1, 0], [0, 1], [0, -1]], dtype=float)
    u = np.array([[1, 0], [1, 0], [0, 2], [0, 2]], dtype=float)
    return np.stack([mu + u, mu - u], axis=1)


def test_hand_computed_example():
    # By hand: the grand mean is 0, so Sigma_b = (1/3) sum_i m_i m_i^T = (1/3) diag(2, 2) = diag(2/3, 2/3).
    # Within-class deviations are +-u_i: Sigma_w = 1/(4*1) * [2*(1,0)(1,0)^T * 2 + 2*(0,2)(0,2)^T * 2]
    #   = (1/4) diag(4, 16) = diag(1, 4).
    # Sigma_lidar = diag(2/3 / 1, 2/3 / 4) = diag(2/3, 1/6); p = (4/5, 1/5);
    # LiDAR = exp(-(0.8 ln 0.8 + 0.2 ln 0.2)) = 0.8^-0.8 * 0.2^-0.2.
    e = toy()
    sb, sw = L.scatter_matrices(e, delta=0.0)
    np.testing.assert_allclose(sb, np.diag([2 / 3, 2 / 3]), atol=1e-15)  # exact dyadic/rational arithmetic: round-off only
    np.testing.assert_allclose(sw, np.diag([1.0, 4.0]), atol=1e-15)
    r = L.lidar(e, delta=0.0, eps=0.0, return_spectrum=True)
    np.testing.assert_allclose(r.spectrum, [2 / 3, 1 / 6], rtol=1e-14)
    assert r.value == pytest.approx(0.8**-0.8 * 0.2**-0.2, rel=1e-14)

    # delta sweep: Sigma_lidar(delta) = diag((2/3)/(1+delta), (2/3)/(4+delta)), so p_1 = (4+delta)/(5+2 delta)
    # decreases to 1/2 and LiDAR increases monotonically to erank_eig(Sigma_b) = 2 (equal eigenvalues).
    values = []
    for delta in (1e-6, 1e-3, 1e-1):
        p1 = (4 + delta) / (5 + 2 * delta)
        expected = np.exp(-(p1 * np.log(p1) + (1 - p1) * np.log(1 - p1)))
        values.append(L.lidar(e, delta=delta, eps=0.0))
        assert values[-1] == pytest.approx(expected, rel=1e-12)  # closed form vs eigen-solver: round-off
    big = L.lidar(e, delta=1e8, eps=0.0)
    assert values[0] < values[1] < values[2] < big <= 2.0
    # (4+1e8)/(5+2e8) = 1/2 + O(1e-8); H is flat at the max: O(1e-16)
    assert big == pytest.approx(L.effective_rank(np.linalg.eigvalsh(sb)), abs=1e-12)
    assert L.effective_rank(np.linalg.eigvalsh(sb)) == pytest.approx(2.0, rel=1e-14)

    # RankMe of the 8 x 2 uncentred view matrix: the views are (2,0),(0,0),(0,0),(-2,0),(0,3),(0,-1),(0,1),(0,-3);
    # Z^T Z = diag(8, 20) (columns orthogonal), so sigma = (sqrt 8, sqrt 20).
    z = e.reshape(-1, 2)
    s = np.array([np.sqrt(8), np.sqrt(20)])
    p = s / s.sum()
    assert L.rankme(z, eps=0.0) == pytest.approx(np.exp(-(p * np.log(p)).sum()), rel=1e-13)
    # After +5 on every coordinate: column sums of Z are 0, so Z'^T Z' = diag(8, 20) + 25*8*[[1,1],[1,1]]
    # = [[208, 200], [200, 220]]; eigenvalues 214 +- sqrt(214^2 - 5760), sigma = their square roots.
    ev = 214 + np.array([1, -1]) * np.sqrt(214**2 - (208 * 220 - 200**2))
    s5 = np.sqrt(ev)
    p5 = s5 / s5.sum()
    assert L.rankme(z + 5, eps=0.0) == pytest.approx(np.exp(-(p5 * np.log(p5)).sum()), rel=1e-12)
    assert abs(L.rankme(z + 5, eps=0.0) - L.rankme(z, eps=0.0)) > 0.1  # RankMe changes ...
    assert L.lidar(e + 5, delta=0.0, eps=0.0) == pytest.approx(r.value, rel=1e-13)  # ... LiDAR does not


# --------------------------------------------------------------------------- against the reference implementation


@SET
@given(seeds, st.sampled_from(sorted(L.VARIANTS)), st.sampled_from([0.0, 1e-6, 1e-2]), st.sampled_from([0.0, 1e-7, 1e-4]))
def test_variants_match_reference_implementation(seed, variant, delta, eps):
    e = random_embeddings(seed, n=9, q=4, d=5)
    if variant == "stable_pretraining" and delta == 0.0 and eps == 0.0:
        eps = 1e-8
    got = L.lidar(e, delta=delta, eps=eps, variant=variant)
    want = reference_lidar(e, delta=delta, eps=eps, variant=variant)
    # two float64 pipelines (chunked matmul + eigh vs loops + sqrtm); cond(Sigma_w) <~ 1e3 here: 1e-9 relative
    assert got == pytest.approx(want, rel=1e-9)


@SET
@given(seeds, st.sampled_from(["paper", "radio", "reptrix", "stable_pretraining"]))
def test_batched_equals_loop(seed, variant):
    rng = np.random.default_rng(seed)
    stack = np.stack([random_embeddings(int(s), n=10, q=4, d=6) for s in rng.integers(0, 2**31, 4)])
    vals, spectra = L.lidar_batched(stack, variant=variant)
    for k in range(stack.shape[0]):
        r = L.lidar(stack[k], variant=variant, return_spectrum=True)
        assert vals[k] == pytest.approx(r.value, rel=1e-10)  # same math, different BLAS batching: round-off
        np.testing.assert_allclose(spectra[k], r.spectrum, rtol=1e-8, atol=1e-12 * r.spectrum[0])


# --------------------------------------------------------------------------- invariances


@pytest.mark.claim("lidar.deep_linear_jepa_lidar_invariant", "lidar.deep_linear_mae_lidar_invariant")
@SET
@given(seeds)
def test_linear_invariance_lidar_not_rankme(seed):
    rng = np.random.default_rng(seed)
    e = random_embeddings(seed, n=15, q=4, d=6)
    a = random_invertible(rng, 6)
    ea = e @ a.T
    # delta = 0: exact invariance (proofs.lidar); cond(A)^2 <= 100 amplifies round-off ~1e-14 -> 1e-8 is safe
    assert L.lidar(ea, delta=0.0, eps=0.0) == pytest.approx(L.lidar(e, delta=0.0, eps=0.0), abs=1e-8)
    # RankMe is not invariant: singular values spread by a factor 10 change the normalised spectrum
    z, za = e.reshape(-1, 6), ea.reshape(-1, 6)
    assert abs(L.rankme(za, eps=0.0) - L.rankme(z, eps=0.0)) > 1e-3


@SET
@given(seeds, st.floats(0.1, 10.0), st.floats(-5.0, 5.0))
def test_orthogonal_scale_translation(seed, c, shift):
    rng = np.random.default_rng(seed)
    e = random_embeddings(seed, n=10, q=3, d=5)
    qm = np.linalg.qr(rng.standard_normal((5, 5)))[0]
    b = shift * rng.standard_normal(5)
    base = L.lidar(e, delta=0.0, eps=1e-7)
    z = e.reshape(-1, 5)
    rm = L.rankme(z)
    # orthogonal maps: both invariant (round-off, 1e-10)
    assert L.lidar(e @ qm.T, delta=0.0, eps=1e-7) == pytest.approx(base, rel=1e-10)
    assert L.rankme(z @ qm.T) == pytest.approx(rm, rel=1e-10)
    # scaling: LiDAR at delta = 0 and RankMe are invariant
    assert L.lidar(c * e, delta=0.0, eps=1e-7) == pytest.approx(base, rel=1e-10)
    assert L.rankme(c * z) == pytest.approx(rm, rel=1e-10)
    # translation: LiDAR invariant for any delta; RankMe is not (uncentred)
    assert L.lidar(e + b, delta=1e-2, eps=1e-7) == pytest.approx(L.lidar(e, delta=1e-2, eps=1e-7), rel=1e-10)
    if np.linalg.norm(b) > 1.0:
        assert abs(L.rankme(z + b) - rm) > 1e-4


@SET
@given(seeds)
def test_permutation_invariance(seed):
    rng = np.random.default_rng(seed)
    e = random_embeddings(seed, n=10, q=4, d=5)
    base = L.lidar(e)
    perm_classes = e[rng.permutation(10)]
    perm_views = np.stack([x[rng.permutation(4)] for x in e])
    assert L.lidar(perm_classes) == pytest.approx(base, rel=1e-11)  # sums reordered: round-off
    assert L.lidar(perm_views) == pytest.approx(base, rel=1e-11)
    assert L.rankme(perm_views.reshape(-1, 5)) == pytest.approx(L.rankme(e.reshape(-1, 5)), rel=1e-11)


@SET
@given(seeds, st.sampled_from([0.0, 1e-3, 1.0]))
def test_sigma_b_normaliser_does_not_matter(seed, delta):
    e = random_embeddings(seed, n=8, q=3, d=4)
    one_over_n = dataclasses.replace(L.VARIANTS["paper"], name="paper_1/n", sb_norm="n")
    unnormalised = dataclasses.replace(L.VARIANTS["paper"], name="paper_sum", sb_norm="sum")
    base = L.lidar(e, delta=delta, eps=1e-7)
    # a scale of Sigma_b (proofs.lidar): identical up to round-off
    assert L.lidar(e, delta=delta, eps=1e-7, variant=one_over_n) == pytest.approx(base, rel=1e-12)
    assert L.lidar(e, delta=delta, eps=1e-7, variant=unnormalised) == pytest.approx(base, rel=1e-12)


# --------------------------------------------------------------------------- bounds, flat spectra, routes


@settings(deadline=None, max_examples=40, derandomize=True)
@given(seeds, st.integers(2, 20), st.integers(2, 10), st.integers(1, 30))
def test_bounds(seed, n, q, d):
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((n, 1, d)) * rng.uniform(0.1, 3, d) + rng.standard_normal((n, q, d))
    # eps = 0: 1 <= LiDAR <= min(d, n - 1); delta = 1e-3 keeps Sigma_w invertible when d > n(q-1)
    v = L.lidar(e, delta=1e-3, eps=0.0)
    assert 1.0 - 1e-12 <= v <= min(d, n - 1) * (1 + 1e-9)  # round-off eigenvalues beyond the rank: ~1e-15 each
    # eps > 0: -x log x is subadditive, so H_eps <= H + d * eps |log eps| and LiDAR <= K exp(d eps |log eps|)
    eps = 1e-4
    ve = L.lidar(e, delta=1e-3, eps=eps)
    assert ve <= min(d, n - 1) * np.exp(d * eps * abs(np.log(eps))) * (1 + 1e-9)
    # RankMe with eps = 0 lies in [1, min(N, K)]
    r = L.rankme(e.reshape(-1, d), eps=0.0)
    assert 1.0 - 1e-12 <= r <= min(n * q, d) * (1 + 1e-12)


@SET
@given(seeds, st.integers(1, 5), st.integers(0, 3), st.floats(0.3, 3.0), st.floats(0.3, 3.0))
def test_flat_spectrum_of_k_equal_eigenvalues_gives_k(seed, k, extra, a, b):
    # Exact design: 2k classes with means +-a e_m (m < k), so Sigma_b = 2a^2/(2k-1) * P_k (rank k, equal
    # eigenvalues); q = 2d views mu_i +- b e_m (m < d), so Sigma_w = 2b^2/(2d-1) I. Then Sigma_lidar is a
    # multiple of P_k: k equal non-zero eigenvalues, LiDAR = k exactly. A random rotation is applied on top.
    d = k + extra
    eye = np.eye(d)
    means = np.concatenate([a * eye[:k], -a * eye[:k]])
    dev = np.concatenate([b * eye, -b * eye])
    e = means[:, None, :] + dev[None, :, :]
    rot = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))[0]
    r = L.lidar(e @ rot.T, delta=0.0, eps=0.0, return_spectrum=True)
    assert r.value == pytest.approx(k, rel=1e-12)  # round-off in the zero eigenvalues only
    np.testing.assert_allclose(r.spectrum[:k], (2 * a**2 / (2 * k - 1)) / (2 * b**2 / (2 * d - 1)), rtol=1e-12)
    assert np.all(np.isfinite(r.spectrum)) and np.all(r.spectrum[k:] <= 1e-12 * r.spectrum[0])


@SET
@given(seeds, st.sampled_from([0.0, 1e-6]))
def test_three_eigen_routes_agree(seed, delta):
    e = random_embeddings(seed, n=20, q=4, d=8, rank_signal=3)  # Sigma_b of rank 3: exact zero eigenvalues too
    sb, sw = L.scatter_matrices(e, delta=delta)
    routes = [L.lda_spectrum(sb, sw, method=m) for m in ("whiten", "generalized", "eig")]
    scale = routes[0][0]
    for r in routes[1:]:
        # three LAPACK paths on a well-conditioned Sigma_w: agreement at the 1e-9 * lambda_max level
        np.testing.assert_allclose(r, routes[0], rtol=0, atol=1e-9 * scale)
    raw = scipy.linalg.eigh(sb, sw, eigvals_only=True)
    assert raw.min() >= -1e-12 * scale  # negatives are round-off only (clamped at 0 by lda_spectrum)
    assert np.all(routes[0] >= 0)
    # and the generalised route is the one lidar uses (Cholesky of Sigma_w, eigenvalues only)
    np.testing.assert_allclose(L.lidar(e, delta=delta, return_spectrum=True).spectrum, routes[1], rtol=0, atol=1e-12 * scale)


# --------------------------------------------------------------------------- delta limits


@SET
@given(seeds)
def test_delta_limits(seed):
    e = random_embeddings(seed, n=12, q=4, d=5)
    sb, _ = L.scatter_matrices(e)
    erank_b = L.effective_rank(np.linalg.eigvalsh(sb))
    # delta -> inf: LiDAR -> erank_eig(Sigma_b); the gap is O(||Sigma_w|| / delta) ~ 1e-6 at delta = 1e7
    assert L.lidar(e, delta=1e7, eps=0.0) == pytest.approx(erank_b, rel=1e-5)
    # delta -> 0: continuity at 0 for non-singular Sigma_w; O(delta cond) change
    assert L.lidar(e, delta=1e-12, eps=0.0) == pytest.approx(L.lidar(e, delta=0.0, eps=0.0), rel=1e-8)
    # Sigma_w = 0 (perfectly invariant encoder: all views equal): LiDAR = erank_eig(Sigma_b) for every delta
    inv = np.repeat(e.mean(axis=1, keepdims=True), 4, axis=1)
    sb_inv, _ = L.scatter_matrices(inv)
    for delta in (1e-6, 1.0, 1e3):
        assert L.lidar(inv, delta=delta, eps=0.0) == pytest.approx(L.effective_rank(np.linalg.eigvalsh(sb_inv)), rel=1e-10)


# --------------------------------------------------------------------------- the paper's qualitative claims


@pytest.mark.claim("lidar.noise_rankme", "lidar.noise_lidar")
def test_noise_dimensions_move_rankme_not_lidar():
    # the experiment's setup (seed 1): 8 informative dims, +24 dims of pure view noise with std 3
    e = L.synthetic_views(200, 20, n_informative=8, n_noise=24, key=1)
    clean = e[..., :8]
    lid_ratio = L.lidar(e, delta=1e-6, eps=1e-7) / L.lidar(clean, delta=1e-6, eps=1e-7)
    rm_ratio = L.rankme(e.reshape(-1, 32)) / L.rankme(clean.reshape(-1, 8))
    # expected: noise dims have lambda ~ 1/q = 0.05 vs ~11 informative: LiDAR rises by ~24*0.05/(8*11) of mass
    # (a few %); RankMe counts the 24 high-variance dims: ratio ~ 32/8 at most, well above 2
    assert lid_ratio < 1.2
    assert rm_ratio > 3.0


@pytest.mark.claim("lidar.pure_noise_trap")
def test_pure_noise_trap():
    # n = 500 (the experiment's default: 1000), q = 50, d = 64. lambda ~ 1/q plus Marchenko-Pastur spread
    # (d/(n-1) = 0.128: upper edge (1 + sqrt(0.128))^2 = 1.84)
    n, q = 500, 50
    cases = {
        "pure": L.synthetic_views(n, q, n_informative=0, n_noise=64, noise_std=1.0, key=3),
        "misgrouped": L.synthetic_views(n, q, n_informative=8, n_noise=56, mis_group=True, key=4),
        "grouped": L.synthetic_views(n, q, n_informative=8, n_noise=56, key=4),
    }
    res = {k: L.lidar(v, delta=1e-6, eps=1e-7, return_spectrum=True) for k, v in cases.items()}
    for k in ("pure", "misgrouped"):
        assert res[k].value > 0.85 * 64  # near the maximum min(d, n-1) = 64
        assert 1.0 <= res[k].lambda_max * q <= 1.15 * 1.84  # ~1/q up to the MP upper edge (+ 15 % fluctuation)
    assert res["grouped"].value < 12  # ~ the 8 informative dims (+ leakage of the 56 noise dims)
    assert res["grouped"].lambda_max > 5  # s^2/v^2 + 1/q = 1/0.09 + 0.02 ~ 11


# --------------------------------------------------------------------------- RankMe / alpha-ReQ / entropy


@SET
@given(seeds, st.integers(1, 6))
def test_rankme_closed_form_and_alpha_req(seed, k):
    rng = np.random.default_rng(seed)
    s = rng.uniform(0.1, 5.0, k)
    u = np.linalg.qr(rng.standard_normal((20, k)))[0]
    v = np.linalg.qr(rng.standard_normal((8, k)))[0]
    z = u @ np.diag(s) @ v.T
    # RankMe sums over min(N, K) = 8 singular values: 8 - k exact zeros, each contributing p = eps
    p = np.concatenate([s, np.zeros(8 - k)]) / s.sum() + 1e-7
    assert L.rankme(z, eps=1e-7) == pytest.approx(np.exp(-(p * np.log(p)).sum()), rel=1e-10)
    # alpha-ReQ on an exact power law lambda_k = 3 k^-alpha is exact with R^2 = 1
    alpha = rng.uniform(0.3, 3.0)
    spec = 3.0 * np.arange(1, 60, dtype=float) ** -alpha
    a, r2 = L.alpha_req(spec, spectrum=True, fit_range=(5, 50))
    assert a == pytest.approx(alpha, rel=1e-10) and r2 == pytest.approx(1.0, abs=1e-12)


def test_zero_eigenvalues_are_not_nan():
    # d = 10 > n - 1 = 3: Sigma_b has 6 exact zero eigenvalues; 0 log 0 = 0 (xlogy), never NaN
    e = np.random.default_rng(0).standard_normal((4, 8, 10))
    for variant in L.VARIANTS:
        v = L.lidar(e, eps=0.0, variant=variant)
        assert np.isfinite(v) and 1.0 <= v <= 3.0 + 1e-9
    assert L.entropy_rank(np.array([1.0, 1.0, 0.0, 0.0])) == pytest.approx(2.0, rel=1e-15)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: np.ones((1, 3, 2)), "n >= 2"),
        (lambda: np.ones((3, 1, 2)), "q >= 2"),
        (lambda: np.ones((3, 2)), "rank 3"),
        (lambda: np.ones((2, 3, 3, 2)), "rank 3"),
        (lambda: np.where(np.arange(12).reshape(2, 3, 2) == 5, np.nan, 1.0), "NaN"),
    ],
)
def test_bad_embeddings(make, match):
    with pytest.raises(ValueError, match=match):
        L.lidar(make())


def test_bad_parameters_and_singular_sigma_w():
    e = random_embeddings(0, n=5, q=2, d=4)
    # d = 8 > n(q-1) = 5: Sigma_w is rank-deficient; with delta = 0 that is an error, with delta > 0 fine
    wide = np.random.default_rng(1).standard_normal((5, 2, 8))
    with pytest.raises(ValueError, match="singular"):
        L.lidar(wide, delta=0.0)
    assert np.isfinite(L.lidar(wide, delta=1e-3))
    with pytest.raises(ValueError, match="delta"):
        L.lidar(e, delta=-1.0)
    with pytest.raises(ValueError, match="eps"):
        L.lidar(e, eps=float("nan"))
    with pytest.raises(ValueError, match="variant"):
        L.lidar(e, variant="nope")
    with pytest.raises(ValueError, match="Sigma_b is zero"):
        L.lidar(np.repeat(np.random.default_rng(2).standard_normal((1, 3, 2)), 4, axis=0), delta=1e-6)
    with pytest.raises(ValueError, match="checkpoint 1"):
        L.lidar_batched(np.stack([e[:, :, :4], np.repeat(e[:, :1], 2, axis=1)]), delta=0.0)
    with pytest.raises(ValueError, match="shape"):
        L.rankme(np.ones(3))
    with pytest.raises(ValueError, match="fit_range"):
        L.alpha_req(np.ones(10), spectrum=True, fit_range=(5, 2))


# --------------------------------------------------------------------------- the experiment's machinery (sims.lidar)


def test_bench_baseline_computes_the_same_lidar():
    from sims.lidar import lidar_per_class_loop

    e = random_embeddings(5, n=30, q=6, d=12)
    # the benchmark compares like with like: per-class loop + sqrtm vs chunked matmul + eigh, round-off only
    assert lidar_per_class_loop(e, delta=1e-6, eps=1e-7) == pytest.approx(L.lidar(e, delta=1e-6, eps=1e-7), rel=1e-10)


DIGITS_CLAIMS = ("lidar.digits_lidar_beats_rankme_tau", "lidar.digits_lidar_rank_correlation", "lidar.digits_lidar_selection",
                 "lidar.digits_lidar_selects_better", "lidar.digits_delta_sweep")


@pytest.mark.claim(*DIGITS_CLAIMS)
def test_shift_augmentation_matches_slicing():
    import jax.numpy as jnp

    from sims.lidar import _SHIFTS, _augment, _shift_index

    x = np.random.default_rng(0).standard_normal((9, 64)).astype(np.float32)
    got = np.asarray(_augment(jnp.asarray(x), jnp.arange(9), jnp.ones((9, 64)), jnp.zeros((9, 64)), 0.0,
                              jnp.asarray(_shift_index())))
    for k, (dy, dx) in enumerate(_SHIFTS):
        # independent: shift the 8x8 image by (dy, dx) with zero fill by explicit slicing
        img, want = x[k].reshape(8, 8), np.zeros((8, 8), np.float32)
        want[max(dy, 0): 8 + min(dy, 0), max(dx, 0): 8 + min(dx, 0)] = img[max(-dy, 0): 8 + min(-dy, 0),
                                                                           max(-dx, 0): 8 + min(-dx, 0)]
        np.testing.assert_array_equal(got[k], want.ravel())


@pytest.mark.claim(*DIGITS_CLAIMS)
def test_ema_adamw_first_step():
    import jax.numpy as jnp

    from sims.lidar import HP_FIELDS, _ema_adam

    rng = np.random.default_rng(0)
    hp = dict(zip(HP_FIELDS, (0.01, 0.9, 0.5, 1.0, 3.0, 0.3, 0.2, 0.5)))
    enc_w = rng.standard_normal((3, 2))
    p = {"enc": [{"w": jnp.asarray(enc_w), "b": jnp.zeros(2)}],
         "pred": {"lin": [{"w": jnp.ones((2, 2)), "b": jnp.zeros(2)}]},
         "target": [{"w": jnp.asarray(rng.standard_normal((3, 2))), "b": jnp.ones(2)}],
         "hp": {k: jnp.asarray(v) for k, v in hp.items()}}
    g = {"enc": [{"w": jnp.asarray(rng.standard_normal((3, 2))), "b": jnp.full(2, 0.5)}],
         "pred": {"lin": [{"w": jnp.full((2, 2), -2.0), "b": jnp.zeros(2)}]},
         "target": [{"w": jnp.zeros((3, 2)), "b": jnp.zeros(2)}],
         "hp": {k: jnp.asarray(0.0) for k in hp}}
    opt = _ema_adam()
    u, _ = opt.update(g, opt.init(p), p)
    # AdamW's first step (bias-corrected Adam direction g / (|g| + 1e-8)) written out by hand:
    # encoder -lr (g/|g| + wd w), predictor -lr m_pred (g/|g| + wd w), EMA target (1 - tau)(online - target).
    # rtol 2e-5: float32 bias correction 1 - 0.999 carries a 1.3e-5 relative rounding error (-> 6e-6 after sqrt)
    gw = np.asarray(g["enc"][0]["w"])
    np.testing.assert_allclose(u["enc"][0]["w"], -0.01 * (gw / (np.abs(gw) + 1e-8) + 0.5 * enc_w), rtol=2e-5)
    np.testing.assert_allclose(u["pred"]["lin"][0]["w"], np.full((2, 2), 0.03 * (1.0 - 0.5)), rtol=2e-5)
    np.testing.assert_allclose(u["target"][0]["w"], 0.1 * (enc_w - np.asarray(p["target"][0]["w"])), rtol=1e-6)
    np.testing.assert_allclose(u["target"][0]["b"], 0.1 * (0.0 - 1.0) * np.ones(2), rtol=1e-6)
    assert all(float(v) == 0.0 for v in u["hp"].values())


@pytest.mark.claim(*DIGITS_CLAIMS)
def test_predictor_kinds_and_shift_probability():
    import jax
    import jax.numpy as jnp

    from sims.lidar import _jepa_digits_loss, _mlp_init, _predict, _shift_index

    z = jnp.asarray(np.random.default_rng(1).standard_normal((5, 4)), jnp.float32)
    pred = {"lin": _mlp_init(jax.random.PRNGKey(0), [4, 4]), "mlp": _mlp_init(jax.random.PRNGKey(1), [4, 6, 4])}
    np.testing.assert_array_equal(_predict(pred, 0.0, z), z)  # kind 0: no predictor
    lin = np.asarray(z) @ np.asarray(pred["lin"][0]["w"]) + np.asarray(pred["lin"][0]["b"])
    np.testing.assert_allclose(_predict(pred, 1.0, z), lin, rtol=1e-5, atol=1e-6)
    h = np.maximum(np.asarray(z) @ np.asarray(pred["mlp"][0]["w"]), 0.0) @ np.asarray(pred["mlp"][1]["w"])
    np.testing.assert_allclose(_predict(pred, 2.0, z), h, rtol=1e-5, atol=1e-6)
    # shift probability 0, no mask, no noise: both views are the clean image, so with an identity target and no
    # predictor the loss is exactly 0 whatever shifts were drawn
    enc = [{"w": jnp.eye(64), "b": jnp.zeros(64)}]
    pred64 = {"lin": _mlp_init(jax.random.PRNGKey(2), [64, 64]), "mlp": _mlp_init(jax.random.PRNGKey(3), [64, 8, 64])}
    params = {"enc": enc, "target": enc, "pred": pred64,
              "hp": {"pred": 0.0, "shift": 0.0, "mask": 0.0, "noise": 0.0}}
    x = jnp.asarray(np.random.default_rng(2).standard_normal((3, 64)), jnp.float32)
    batch = {"x": x, "s1": jnp.array([0, 2, 8]), "s2": jnp.array([1, 3, 7]), "w1": jnp.full(3, 0.5),
             "w2": jnp.full(3, 0.5), "u1": jnp.ones((3, 64)), "u2": jnp.ones((3, 64)), "n1": jnp.ones((3, 64)),
             "n2": jnp.ones((3, 64))}
    # abs 1e-5: the 1e-6 in the cosine normaliser leaves ~4e-6 / |z| with |z| ~ 8, plus float32 rounding
    assert float(_jepa_digits_loss(params, batch, jnp.asarray(_shift_index()))) == pytest.approx(0.0, abs=1e-5)
    params["hp"]["shift"] = 1.0  # now every view is shifted, differently: the loss is positive
    assert float(_jepa_digits_loss(params, batch, jnp.asarray(_shift_index()))) > 1e-3


def test_sample_configs_ranges_and_probe_subsets():
    from sims.lidar import HP_FIELDS, probe_subsets, sample_configs

    h = sample_configs(500, 3)
    assert h.shape == (500, len(HP_FIELDS))
    np.testing.assert_array_equal(h, sample_configs(500, 3))  # deterministic in the seed
    col = dict(zip(HP_FIELDS, h.T))
    assert np.all((col["lr"] >= 1e-4) & (col["lr"] <= 1e-2))
    assert np.all((col["tau"] >= 0.0) & (col["tau"] <= 0.999 + 1e-12))
    assert set(np.unique(col["pred"])) == {0.0, 1.0, 2.0}
    assert np.all((col["mask"] >= 0) & (col["mask"] <= 0.7))
    # log-uniform lr: the median of 500 draws is near the geometric mean 1e-3 (a factor 1.5 is > 4 standard errors)
    assert 1e-3 / 1.5 < np.median(col["lr"]) < 1e-3 * 1.5
    y = np.repeat(np.arange(10), [30, 31, 32, 33, 34, 35, 36, 37, 38, 39])
    subs = probe_subsets(y, 3, 0.5)
    assert len(subs) == 3 and not np.array_equal(subs[0], subs[1])
    for sub in subs:
        np.testing.assert_array_equal(np.bincount(y[sub]), np.round(0.5 * np.bincount(y)).astype(int))


@given(st.lists(st.integers(0, 4), min_size=3, max_size=30), seeds)
@SET
def test_kendall_tau_b_matches_scipy(xs, seed):
    import scipy.stats

    from sims.lidar import kendall_tau_b

    x = np.asarray(xs, float)  # small integers: many ties, which tau_b must handle
    y = np.random.default_rng(seed).integers(0, 4, x.size).astype(float)
    want = scipy.stats.kendalltau(x, y).statistic  # scipy's tau_b: an independent implementation
    got = kendall_tau_b(x, y)
    if np.isnan(want):
        assert np.isnan(got)
    else:
        assert got == pytest.approx(want, abs=1e-12)


@pytest.mark.claim(*DIGITS_CLAIMS)
def test_comparison_bootstrap_on_known_cases():
    from sims.lidar import comparison_bootstrap, kendall_tau_b

    rng = np.random.default_rng(0)
    S, C, K, P = 2, 30, 2, 3
    # per-model accuracy plus a small probe-seed spread (a metric built from the seed-mean must stay close to every
    # resampled mean, else the resampling of probe seeds itself lowers its tau)
    probe = rng.uniform(0.5, 0.9, (S, C, K, 1)) + 0.002 * rng.standard_normal((S, C, K, P))
    acc = probe.mean(-1)
    good = acc + 1e-3 * rng.standard_normal(acc.shape)  # orders the models almost exactly like the probe
    noise = rng.standard_normal(acc.shape)  # unrelated to the probe
    undefined = good.copy()
    undefined[0, 0, 0] = np.nan
    out = comparison_bootstrap({"good": good, "noise": noise, "same": good, "undef": undefined}, probe, n_boot=300,
                               pairs=[("good", "noise"), ("good", "same")])
    # point estimates are the direct computation on the full data
    assert out["tau"]["good"][0] == pytest.approx(kendall_tau_b(good.ravel(), acc.ravel()))
    assert out["tau"]["good"][0] > 0.95
    best = acc[:, :, -1].max(1)
    want_regret = np.mean(best - acc[np.arange(S), np.argmax(noise[:, :, -1], axis=1), -1])
    assert out["regret"]["noise"][0] == pytest.approx(want_regret)
    # tau of noise: |tau| ~ 1/sqrt(N) with N = 120 models, so the CI straddles 0; the paired difference is positive
    lo, hi = out["tau"]["noise"][1:]
    assert lo < 0 < hi
    assert out["tau_diff"]["good-noise"][1] > 0.5
    # identical metrics: every paired replicate differs by exactly 0 (the pairing is what makes the test sharp)
    assert out["tau_diff"]["good-same"] == (0.0, 0.0, 0.0)
    # an undefined value ranks lowest: it behaves as the minimum (the model is the worst by that metric)
    filled = good.copy()
    filled[0, 0, 0] = good.min() - 1
    assert out["tau"]["undef"][0] == pytest.approx(kendall_tau_b(filled.ravel(), acc.ravel()))


@given(seeds, st.floats(0.01, 100.0))
@SET
def test_lidar_delta_sweep_is_lidar_of_rescaled_embeddings(seed, c):
    from sims.lidar import lidar_delta_sweep

    e = random_embeddings(seed, n=20, q=5, d=6)
    deltas = (1e-6, 1e-2, 1.0)
    vals, lmax = lidar_delta_sweep(e, deltas)
    sb, sw = L.scatter_matrices(e)
    s = (np.trace(sb) + np.trace(sw)) / 6
    # independent route: the paper's formula on embeddings rescaled to unit mean per-dimension variance
    want = [L.lidar(e / np.sqrt(s), delta=d, eps=1e-7) for d in deltas]
    np.testing.assert_allclose(vals, want, rtol=1e-9)
    # relative delta: invariant to a global rescaling of the embedding (round-off only)
    np.testing.assert_allclose(lidar_delta_sweep(c * e, deltas)[0], vals, rtol=1e-8)
    assert np.all(np.diff(lmax) < 0)  # a larger ridge shrinks every LDA eigenvalue
    # delta -> infinity: Sigma_w + delta I ~ delta I, so LiDAR -> effective rank of the eigenvalues of Sigma_b (the
    # limit the experiment reports beside the sweep); at delta_rel = 1e8 the relative correction is ~1e-8
    limit = L.entropy_rank(np.linalg.eigvalsh(sb).clip(0.0), eps=1e-7)
    assert lidar_delta_sweep(e, (1e8,))[0][0] == pytest.approx(limit, rel=1e-6)


def test_deep_linear_seeds_are_different_networks():
    from sims.lidar import deep_linear_unit

    feats = ((2.0, 0.25), (0.4, 0.9))
    unit = dict(objective="jepa", depth=2, eps=0.01, eta=0.05, steps=4, record_every=2, features=feats,
                lidar_n=50, lidar_q=4, delta=1e-12, delta_big=1e-2, eps_metric=1e-7)
    r0, r1 = deep_linear_unit(unit, [0, 1])
    # the layers differ between seeds (the seed key reaches deep_linear_init) ...
    assert np.max(np.abs(r0["first_layer_init"] - r1["first_layer_init"])) > 1e-3
    # ... while each is balanced and aligned: singular values eps^(1/2), product eps I (the per-mode theory's start)
    for r in (r0, r1):
        np.testing.assert_allclose(np.linalg.svd(r["first_layer_init"], compute_uv=False), 0.1, rtol=1e-5)
        np.testing.assert_allclose(r["modes"][0], 0.01, rtol=1e-5)


@pytest.mark.claim("lidar.deep_linear_mae_rankme", "lidar.deep_linear_mae_lidar_big")
@pytest.mark.slow
def test_deep_linear_mae_metrics_follow_the_mode_ode():
    from sims.lidar import deep_linear_theory, deep_linear_unit

    feats = ((2.0, 0.25), (0.4, 0.9))
    unit = dict(objective="mae", depth=2, eps=0.01, eta=0.05, steps=600, record_every=60, features=feats,
                lidar_n=400, lidar_q=10, delta=1e-12, delta_big=1e-2, eps_metric=1e-7)
    r = deep_linear_unit(unit, [0])[0]
    th = deep_linear_theory("mae", 2, feats, 0.01, r["t"], q=10, n=400, delta=1e-12, delta_big=1e-2, eps_metric=1e-7)
    # trained modes vs the per-mode ODE: forward Euler with eta = 0.05 on rates <= 4: O(eta) ~ 2 % error
    np.testing.assert_allclose(r["modes"], th["modes"], atol=0.03)
    # metrics from 4000 sampled views vs expected scatters: sampling error O(sqrt(d/n)) ~ a few %
    np.testing.assert_allclose(r["rankme"], th["rankme"], rtol=0.05)
    np.testing.assert_allclose(r["lidar_big"], th["lidar_big"], rtol=0.1)
    np.testing.assert_allclose(r["lidar"], r["raw_lidar"], rtol=1e-5)  # invertible encoder: LiDAR constant


def test_issue17_extreme_scales_and_bad_types():
    """Issue 17: the entropy rank is scale-free, so [1e308, 1e308] has rank 2 exactly (it overflowed to 1.0);
    eps added to probabilities is refused above 1 (eps=1e308 gave LiDAR and RankMe 0.0, below the rank's minimum
    of 1); strings and complex input are TypeErrors naming the argument. The value-level eps of mode 'inside'
    scales with the values: scaling both by 2 leaves the rank unchanged (rtol 1e-12)."""
    from theory import lidar as Ld

    assert Ld.entropy_rank([1e308, 1e308]) == pytest.approx(2.0, rel=1e-12)
    assert Ld.effective_rank([1e308, 1e308, 0.0]) == pytest.approx(2.0, rel=1e-12)
    assert Ld.entropy_rank([6.0, 4.0, 2.0], eps=1.0, mode="inside") == pytest.approx(
        Ld.entropy_rank([3.0, 2.0, 1.0], eps=0.5, mode="inside"), rel=1e-12)
    e = np.random.default_rng(0).normal(size=(4, 3, 2))
    z = np.random.default_rng(0).normal(size=(6, 3))
    cases = [
        (lambda: Ld.lidar(e, eps=1e308), ValueError, "eps"),
        (lambda: Ld.rankme(z, eps=1e308), ValueError, "eps"),
        (lambda: Ld.entropy_rank("abc"), TypeError, "values"),
        (lambda: Ld.rankme(z + 1j), TypeError, "z"),
        (lambda: Ld.lda_spectrum(np.eye(2) + 1j, np.eye(2)), TypeError, "sb"),
        (lambda: Ld.synthetic_views(4, 3, n_informative=2, view_std="0.3"), TypeError, "view_std"),
        (lambda: Ld.synthetic_views(4, 3, n_informative=2, key=-1), ValueError, "key"),
    ]
    for call, err, name in cases:
        with pytest.raises(err, match=name):
            call()
