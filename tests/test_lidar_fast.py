"""theory.lidar's one-pass scatter and generalised eigen-solve against the reference it replaced.

The reference below is the previous implementation written out in plain numpy (a centred copy of all views,
``x.T @ x``, whitening by a full ``eigh`` of Sigma_w, ``eigvalsh`` of the whitened Sigma_b). The package now
accumulates Sigma_w chunk by chunk with BLAS ``syrk``, finds non-finite entries through the class means, and
solves Sigma_b v = lambda Sigma_w v (Cholesky, eigenvalues only). Both are backward-stable float64 computations of
the same eigenvalues; with Sigma_w well conditioned (here: views with unit noise, cond ~ 10) the spectra agree to
~1e-15 relative, so 1e-12 leaves three orders of margin while still catching any change of formula (a wrong
normaliser moves LiDAR by O(1)).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import theory.lidar as TL


def reference_lidar(e, *, variant="paper", delta=None, eps=None):
    """The previous implementation: centred scatter of all views at once, symmetric whitening, eigvalsh."""
    v = TL.VARIANTS[variant]
    delta = v.delta if delta is None else delta
    eps = v.eps if eps is None else eps
    e = np.asarray(e, dtype=np.float64)
    n, q, d = e.shape
    nb = {"n-1": n - 1.0, "n": float(n), "sum": 1.0}[v.sb_norm]
    nw = {"n(q-1)": n * (q - 1.0), "nq-1": n * q - 1.0, "nq": float(n * q), "n": float(n)}[v.sw_norm]
    mu = e.mean(axis=1)
    c = mu - mu.mean(axis=0)
    sb = c.T @ c / nb
    x = (e - mu[:, None, :]).reshape(-1, d)
    sw = x.T @ x / nw + delta * np.eye(d)
    w, u = np.linalg.eigh(sw)
    if v.clamp_sw:
        w = np.maximum(w, eps)
    wh = (u / np.sqrt(w)) @ u.T
    m = wh @ sb @ wh
    m = 0.5 * (m + m.T)
    if v.delta_lidar:
        m = m + delta * np.eye(d)
    if v.spectrum == "pca_rows":
        s = np.linalg.svd(m - m.mean(axis=0), compute_uv=False)
        lam = np.sort(s**2 / np.sum(s**2))[::-1]
    else:
        lam = np.maximum(np.sort(np.linalg.eigvalsh(m))[::-1], 0.0)
    return TL.entropy_rank(lam, eps=eps, mode=v.entropy), lam


TOL = 1e-12  # see the module docstring


@pytest.mark.parametrize("variant", sorted(TL.VARIANTS))
def test_every_variant_matches_reference(variant):
    e = TL.synthetic_views(60, 6, n_informative=10, n_noise=14, key=3)
    got = TL.lidar(e, variant=variant, return_spectrum=True)
    val, lam = reference_lidar(e, variant=variant)
    assert abs(got.value - val) <= TOL * val
    assert np.allclose(got.spectrum, lam, rtol=TOL, atol=TOL * lam[0])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), offset=st.floats(-10.0, 10.0), scale=st.floats(0.1, 10.0))
def test_random_embeddings_match_reference(seed, offset, scale):
    # offset/scale: a common shift and scale of all embeddings (LiDAR's invariances), well inside float64 range
    e = offset + scale * TL.synthetic_views(40, 5, n_informative=6, n_noise=6, key=seed)
    got = TL.lidar(e)
    want, _ = reference_lidar(e)
    assert abs(got - want) <= TOL * want


def test_large_chunked_matches_reference(monkeypatch):
    # force several chunks (and a short last one) through the syrk accumulation
    monkeypatch.setattr(TL, "_CHUNK_ELEMS", 7 * 4 * 16)
    e = TL.synthetic_views(45, 4, n_informative=8, n_noise=8, key=11)
    got = TL.lidar(e)
    want, _ = reference_lidar(e)
    assert abs(got - want) <= TOL * want
    sb, sw = TL.scatter_matrices(e)
    x = (e - e.mean(axis=1, keepdims=True)).reshape(-1, 16)
    assert np.allclose(sw, x.T @ x / (45 * 3), rtol=1e-13, atol=1e-15)
    assert np.array_equal(sw, sw.T)


def test_float32_and_int_inputs_are_read_as_float64():
    e = TL.synthetic_views(50, 5, n_informative=6, n_noise=4, key=5)
    e32 = e.astype(np.float32)
    got = TL.lidar(e32)
    want, _ = reference_lidar(e32.astype(np.float64))  # the float32 values, exactly, in float64
    assert abs(got - want) <= TOL * want
    ei = np.round(10 * e).astype(np.int32)
    assert abs(TL.lidar(ei) - reference_lidar(ei)[0]) <= TOL * reference_lidar(ei)[0]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_entry_is_named(bad):
    e = TL.synthetic_views(10, 3, n_informative=2, n_noise=2, key=0)
    e[4, 1, 2] = bad
    with pytest.raises(ValueError, match=r"NaN/inf \(first at index \(4, 1, 2\)\)"):
        TL.lidar(e)
    with pytest.raises(ValueError, match="NaN/inf"):
        TL.scatter_matrices(e)


def test_overflowing_sums_are_refused():
    e = np.full((3, 2, 2), 1e308)
    e[:, 1] = -1e308  # finite, but the float64 class sums overflow
    e[0, 0, 0] = 1.7e308
    with pytest.raises(ValueError, match="overflow"):
        TL.lidar(np.concatenate([e, e], axis=1))


def test_singular_within_scatter_still_raises():
    # d = 12 features, n (q - 1) = 8 < d: Sigma_w has rank <= 8, singular with delta = 0
    e = TL.synthetic_views(8, 2, n_informative=6, n_noise=6, key=2)
    with pytest.raises(ValueError, match="singular or not positive definite"):
        TL.lidar(e, delta=0.0)
    assert np.isfinite(TL.lidar(e))  # the default ridge makes it definite
