r"""LiDAR, RankMe and alpha-ReQ: label-free measures of representation quality.

**LiDAR** (Thilak et al., "LiDAR: Sensing Linear Probing Performance in Joint Embedding SSL
Architectures", ICLR 2024, arXiv:2312.04000). Every *clean* sample is its own class (a *surrogate
class*) and its augmented views are the class members. For embeddings :math:`e_{ij}\in\mathbb R^d`
of :math:`n` clean samples with :math:`q` views each,

.. math::
    \hat\mu_i = \tfrac1q\textstyle\sum_j e_{ij},\quad \hat\mu = \tfrac1n\sum_i\hat\mu_i,\quad
    \hat\Sigma_b = \tfrac{1}{n-1}\sum_i(\hat\mu_i-\hat\mu)(\hat\mu_i-\hat\mu)^\top,\quad
    \hat\Sigma_w = \tfrac{1}{n(q-1)}\sum_{i,j}(e_{ij}-\hat\mu_i)(e_{ij}-\hat\mu_i)^\top + \delta I,

.. math::
    \Sigma_{\rm lidar} = \hat\Sigma_w^{-1/2}\hat\Sigma_b\hat\Sigma_w^{-1/2},\qquad
    p_k = \frac{\lambda_k}{\|\lambda\|_1} + \epsilon,\qquad
    \mathrm{LiDAR} = \exp\Big(-\sum_k p_k\log p_k\Big),

with the :math:`\lambda_k\ge0` the eigenvalues of :math:`\Sigma_{\rm lidar}` (the Fisher/LDA
discriminant ratios, i.e. the generalised eigenvalues of :math:`\hat\Sigma_b v = \lambda\hat\Sigma_w v`),
natural logarithm and :math:`0\log 0 = 0`. The unbiased estimators are quoted from the paper; the
rest of the formula is assembled from second-hand restatements of the paper and derived here. The
paper's default :math:`\delta, \epsilon` are unknown; the
defaults here (:math:`\delta=10^{-6}`, :math:`\epsilon=10^{-7}`) are a choice, not a quote.

**Properties** (proved in :mod:`proofs.lidar`, tested in ``tests/test_lidar.py``): with
:math:`\delta=0` the spectrum is invariant under every invertible linear map of the embedding;
LiDAR is invariant to translations and to the scale of :math:`\Sigma_b`; with :math:`\epsilon=0`,
:math:`1\le\mathrm{LiDAR}\le\mathrm{rank}\,\Sigma_b\le\min(d, n-1)`; as :math:`\delta\to\infty` LiDAR tends
to the effective rank of the eigenvalues of :math:`\Sigma_b`. LiDAR is scale free: features with no
discriminability give a *flat* spectrum :math:`\lambda\approx 1/q` and hence a *high* LiDAR (the
pure-noise trap): views must be grouped by their clean sample.

**RankMe** (Garrido, Balestriero, Najman, LeCun, ICML 2023, arXiv:2210.02885): the effective rank
(Roy & Vetterli 2007) of the singular values of the uncentred embedding matrix, plus :math:`\epsilon`.

**alpha-ReQ** (Agrawal et al., NeurIPS 2022): the exponent :math:`\alpha` of a power law
:math:`\lambda_k\propto k^{-\alpha}` fitted to the eigenspectrum of the feature covariance.

Public implementations differ in normalisers and in where :math:`\epsilon` goes; they are available as
named :data:`VARIANTS` (the paper's formula is the default ``"paper"``).
"""

from __future__ import annotations

import dataclasses
from typing import Literal, NamedTuple

import numpy as np
import scipy.linalg
from scipy.special import xlogy

from . import _validate as V

__all__ = [
    "LidarVariant",
    "VARIANTS",
    "LidarResult",
    "lidar",
    "lidar_batched",
    "scatter_matrices",
    "lda_spectrum",
    "entropy_rank",
    "effective_rank",
    "rankme",
    "alpha_req",
    "synthetic_views",
]


# ---------------------------------------------------------------------------------------------
# variants


@dataclasses.dataclass(frozen=True)
class LidarVariant:
    r"""The numeric conventions of one LiDAR implementation.

    Attributes:
        name: key in :data:`VARIANTS`.
        sb_norm: normaliser of :math:`\Sigma_b`: ``"n-1"`` (unbiased), ``"n"``, or ``"sum"`` (none).
            LiDAR does not depend on it (it is a scale of :math:`\Sigma_b`; proved in ``proofs.lidar``).
        sw_norm: normaliser of :math:`\Sigma_w`: ``"n(q-1)"`` (unbiased), ``"nq-1"``, ``"nq"``, or ``"n"``
            (mean over classes of the unnormalised per-class scatter). Matters only through :math:`\delta`.
        entropy: where :math:`\epsilon` goes:
            ``"outside"``: :math:`p=\lambda/\sum\lambda+\epsilon`, :math:`H=-\sum p\log p` (paper, RankMe style);
            ``"inside"``: :math:`p=(\lambda+\epsilon)/\sum(\lambda+\epsilon)`, :math:`H=-\sum p\log p`;
            ``"log"``: :math:`p=\lambda/(\sum\lambda+\epsilon)`, :math:`H=-\sum p\log(p+\epsilon)`;
            ``"drop"``: drop :math:`\lambda\le0`, :math:`p=\lambda/(\sum\lambda+\epsilon)`, :math:`H=-\sum p\log p`.
        spectrum: ``"eig"``: eigenvalues of :math:`\Sigma_{\rm lidar}`; ``"pca_rows"``: explained-variance
            ratios of a PCA of the *rows* of :math:`\Sigma_{\rm lidar}` (:math:`\propto` squared singular
            values of the row-centred matrix, i.e. :math:`\sim\lambda^2`, not :math:`\lambda`).
        clamp_sw: clamp the eigenvalues of :math:`\Sigma_w+\delta I` below at :math:`\epsilon` before the inverse
            square root.
        delta_lidar: also add :math:`\delta I` to :math:`\Sigma_{\rm lidar}` before its eigenvalues.
        delta, eps: the implementation's defaults.
        source: where the convention comes from (the public implementations' conventions, from their source code).
    """

    name: str
    sb_norm: Literal["n-1", "n", "sum"]
    sw_norm: Literal["n(q-1)", "nq-1", "nq", "n"]
    entropy: Literal["outside", "inside", "log", "drop"]
    spectrum: Literal["eig", "pca_rows"]
    clamp_sw: bool
    delta_lidar: bool
    delta: float
    eps: float
    source: str


#: Named conventions. ``"paper"`` follows the paper's formula; the others reproduce the choices of
#: public implementations (from their source code;
#: not re-run here against those packages).
VARIANTS: dict[str, LidarVariant] = {
    v.name: v
    for v in (
        LidarVariant("paper", "n-1", "n(q-1)", "outside", "eig", False, False, 1e-6, 1e-7,
                     "Thilak et al. 2024, eqs. 1-3 with unbiased estimators; delta/eps defaults are a choice"),
        LidarVariant("stable_pretraining", "n-1", "n(q-1)", "inside", "eig", True, False, 1e-4, 1e-8,
                     "stable-pretraining callbacks/lidar.py"),
        LidarVariant("stable_ssl", "n-1", "n(q-1)", "log", "eig", False, False, 1e-3, 1e-7,
                     "stable_ssl monitors.py LiDAR"),
        LidarVariant("einx", "n-1", "n(q-1)", "outside", "eig", False, False, 1e-6, 1e-6,
                     "einx-based compute_lidar_score"),
        LidarVariant("radio", "n-1", "nq-1", "drop", "eig", False, True, 1e-8, 1e-7,
                     "NVlabs/RADIO examples/ssl_metrics.py"),
        LidarVariant("reptrix", "sum", "n", "outside", "pca_rows", False, False, 1e-6, 1e-7,
                     "arnab39/reptrix lidar.py (PCA of the rows of Sigma_lidar)"),
    )
}


def _variant(variant) -> LidarVariant:
    if isinstance(variant, LidarVariant):
        return variant
    if not isinstance(variant, str) or variant not in VARIANTS:
        raise ValueError(f"variant must be one of {sorted(VARIANTS)} or a LidarVariant, got {variant!r}")
    return VARIANTS[variant]


# ---------------------------------------------------------------------------------------------
# checks


def _check_scalar(name: str, x, *, allow_none: bool = True) -> float | None:
    if x is None and allow_none:
        return None
    return V.real(name, x, low=0.0)


def _check_embeddings(embeddings, *, batched: bool, convert: bool = True) -> np.ndarray:
    """Shape and dtype checks; with ``convert`` also a float64 copy (if needed) and a finiteness scan (the
    single-array path :func:`_scatter_one` does neither: it converts chunk by chunk and finds non-finite
    entries through the class means, see :func:`_nonfinite_error`)."""
    e = np.asarray(embeddings)
    if not (np.issubdtype(e.dtype, np.floating) or np.issubdtype(e.dtype, np.integer)):
        raise TypeError(f"embeddings must be a real array, got dtype {e.dtype}")
    want = 4 if batched else 3
    shape = "(checkpoints, n, q, d)" if batched else "(n, q, d)"
    if e.ndim != want:
        raise ValueError(f"embeddings must have rank {want} {shape}, got shape {e.shape}")
    n, q, d = e.shape[-3:]
    if n < 2:
        raise ValueError(f"embeddings: need n >= 2 surrogate classes (clean samples), got n={n}")
    if q < 2:
        raise ValueError(f"embeddings: need q >= 2 views per clean sample for a within-class covariance, got q={q}")
    if d < 1:
        raise ValueError(f"embeddings: need d >= 1 features, got d={d}")
    if batched and e.shape[0] < 1:
        raise ValueError(f"embeddings: need at least one checkpoint, got shape {e.shape}")
    if not convert:
        return e
    e = e.astype(np.float64, copy=False)
    if not np.all(np.isfinite(e)):
        _nonfinite_error(e)
    return e


def _nonfinite_error(e: np.ndarray):
    """Raise the ValueError for non-finite embeddings (naming the first bad index), or for finite embeddings
    whose float64 sums overflow."""
    bad = np.argwhere(~np.isfinite(e))
    if bad.size:
        raise ValueError(f"embeddings contain NaN/inf (first at index {tuple(int(i) for i in bad[0])})")
    raise ValueError(f"embeddings are too large: their float64 class sums overflow (max |e| = {np.max(np.abs(e)):.3g})")


# ---------------------------------------------------------------------------------------------
# scatter matrices and the LDA spectrum


def _norms(v: LidarVariant, n: int, q: int) -> tuple[float, float]:
    nb = {"n-1": n - 1.0, "n": float(n), "sum": 1.0}[v.sb_norm]
    nw = {"n(q-1)": n * (q - 1.0), "nq-1": n * q - 1.0, "nq": float(n * q), "n": float(n)}[v.sw_norm]
    return nb, nw


_CHUNK_ELEMS = 1 << 24  # float64 elements of the centred-views buffer (128 MB): bounded memory, few BLAS calls


def _scatter_one(e: np.ndarray, v: LidarVariant) -> tuple[np.ndarray, np.ndarray]:
    """Unregularised (Sb, Sw) of one (n, q, d) real array (any float/int dtype; never copied whole).

    The class means are one float64-accumulating pass; a non-finite entry anywhere makes its class mean
    non-finite, so checking the ``(n, d)`` means replaces a scan of the whole array. The within-class scatter
    is accumulated chunk by chunk: each chunk of classes is centred (and converted to float64) into one reused
    buffer and added as ``x.T @ x`` (which numpy computes with BLAS ``syrk``, one triangle).
    """
    n, q, d = e.shape
    nb, nw = _norms(v, n, q)
    with np.errstate(over="ignore", invalid="ignore"):  # reported just below
        mu_i = e.mean(axis=1, dtype=np.float64)
    if not np.all(np.isfinite(mu_i)):
        _nonfinite_error(e)
    c = mu_i - mu_i.mean(axis=0)
    sb = (c.T @ c) / nb
    step = max(1, min(n, _CHUNK_ELEMS // (q * d)))
    buf = np.empty((step, q, d))
    sw = None
    for s in range(0, n, step):
        k = min(step, n - s)
        x = buf[:k]
        np.subtract(e[s : s + k], mu_i[s : s + k, None, :], out=x)
        x = x.reshape(-1, d)
        # numpy sends x.T @ x (one buffer, transposed) to BLAS syrk; numpy's own BLAS, so no second thread pool
        sw = x.T @ x if sw is None else sw.__iadd__(x.T @ x)
    sw /= nw
    if not (np.all(np.isfinite(sb)) and np.all(np.isfinite(sw))):
        _scatter_overflow(e)
    return 0.5 * (sb + sb.T), 0.5 * (sw + sw.T)


def _scatter_overflow(e: np.ndarray):
    raise ValueError(f"embeddings are too large: their float64 scatter matrices overflow (max |e| = "
                     f"{float(np.max(np.abs(e))):.3g}; rescale them)")


def scatter_matrices(embeddings, *, delta: float = 0.0, variant: str | LidarVariant = "paper"):
    r"""Between-class and within-class covariances of the LiDAR surrogate task.

    .. math::
        \hat\Sigma_b = \tfrac{1}{n-1}\textstyle\sum_i(\hat\mu_i-\hat\mu)(\hat\mu_i-\hat\mu)^\top,\qquad
        \hat\Sigma_w = \tfrac{1}{n(q-1)}\sum_{i,j}(e_{ij}-\hat\mu_i)(e_{ij}-\hat\mu_i)^\top + \delta I

    (normalisers per ``variant``).

    Args:
        embeddings: ``(n, q, d)`` array, ``n >= 2`` clean samples, ``q >= 2`` views each.
        delta: ridge added to :math:`\Sigma_w` (``>= 0``).
        variant: a key of :data:`VARIANTS` or a :class:`LidarVariant` (normalisers only).

    Returns:
        ``(Sb, Sw)``, each ``(d, d)`` float64 and exactly symmetric.

    Raises:
        ValueError: wrong rank, ``n < 2``, ``q < 2``, non-finite entries, ``delta < 0``.
    """
    delta = _check_scalar("delta", delta, allow_none=False)
    v = _variant(variant)
    e = _check_embeddings(embeddings, batched=False, convert=False)
    sb, sw = _scatter_one(e, v)
    sw[np.diag_indices_from(sw)] += delta
    return sb, sw


def _whitener(sw: np.ndarray, *, clamp: float | None, where: str) -> np.ndarray:
    """Symmetric inverse square root of an SPD matrix; raises if it is singular."""
    w, u = np.linalg.eigh(sw)
    if clamp is not None:
        w = np.maximum(w, clamp)
    d = sw.shape[-1]
    scale = max(float(np.max(np.abs(w))), np.finfo(float).tiny)
    tol = 10.0 * d * np.finfo(float).eps * scale
    if np.min(w) <= tol:
        raise ValueError(
            f"{where}: the within-class covariance Sigma_w (+ delta I) is singular or not positive definite "
            f"(smallest eigenvalue {np.min(w):.3g}, largest {np.max(w):.3g}); use delta > 0 or fewer features "
            f"than n(q-1)"
        )
    return (u * (1.0 / np.sqrt(w))) @ u.T


def _clean_spectrum(lam: np.ndarray, *, where: str) -> np.ndarray:
    """Sort descending and set round-off negatives to zero; raise on a genuinely negative one."""
    lam = np.sort(np.asarray(lam, dtype=float))[::-1]
    scale = max(float(np.max(np.abs(lam))), np.finfo(float).tiny) if lam.size else 1.0
    if lam.size and lam[-1] < -1e-8 * scale:
        raise ValueError(f"{where}: LDA spectrum has a negative eigenvalue {lam[-1]:.3g} (scale {scale:.3g})")
    return np.maximum(lam, 0.0)


def lda_spectrum(sb, sw, *, method: Literal["whiten", "generalized", "eig"] = "whiten") -> np.ndarray:
    r"""Eigenvalues of :math:`\Sigma_w^{-1/2}\Sigma_b\Sigma_w^{-1/2}` (the LDA discriminant ratios).

    Three mathematically equivalent routes (the tests check that they agree):

    * ``"whiten"``: :math:`W=\Sigma_w^{-1/2}` from ``eigh``, then ``eigvalsh`` of the symmetrised
      :math:`W\Sigma_bW` (the paper's definition);
    * ``"generalized"``: ``scipy.linalg.eigh(Sb, Sw, eigvals_only=True)`` (:math:`\Sigma_bv=\lambda\Sigma_wv`;
      the route :func:`lidar` uses for the ``"eig"`` variants without clamping: a Cholesky instead of a full
      eigendecomposition);
    * ``"eig"``: real parts of ``numpy.linalg.eig(solve(Sw, Sb))`` (similar to the symmetric form).

    Args:
        sb: ``(d, d)`` symmetric positive semi-definite.
        sw: ``(d, d)`` symmetric positive definite (already including any ``delta``).
        method: one of the routes above.

    Returns:
        ``(d,)`` eigenvalues, descending, round-off negatives set to 0.

    Raises:
        ValueError: shapes, non-finite entries, singular ``sw``, unknown ``method``.
    """
    sb = V.array("sb", sb)
    sw = V.array("sw", sw)
    if sb.ndim != 2 or sb.shape[0] != sb.shape[1] or sw.shape != sb.shape:
        raise ValueError(f"sb and sw must be square of equal shape, got {sb.shape}, {sw.shape}")
    if not (np.all(np.isfinite(sb)) and np.all(np.isfinite(sw))):
        raise ValueError("sb and sw must be finite")
    if method == "whiten":
        w = _whitener(sw, clamp=None, where="lda_spectrum: sw")
        m = w @ sb @ w
        lam = np.linalg.eigvalsh(0.5 * (m + m.T))
    elif method == "generalized":
        _whitener(sw, clamp=None, where="lda_spectrum: sw")  # same singularity check
        lam = scipy.linalg.eigh(sb, sw, eigvals_only=True)
    elif method == "eig":
        _whitener(sw, clamp=None, where="lda_spectrum: sw")
        lam = np.linalg.eigvals(np.linalg.solve(sw, sb)).real
    else:
        raise ValueError(f"method must be 'whiten', 'generalized' or 'eig', got {method!r}")
    # sw is positive definite here, so a negative eigenvalue means sb is not positive semi-definite
    return _clean_spectrum(lam, where="lda_spectrum: sb must be positive semi-definite")


# ---------------------------------------------------------------------------------------------
# entropy ranks


def entropy_rank(values, *, eps: float = 0.0, mode: Literal["outside", "inside", "log", "drop"] = "outside") -> float:
    r"""Exponential of the Shannon entropy of a normalised non-negative spectrum.

    ``mode="outside"`` (default): :math:`p = v/\|v\|_1 + \epsilon`, :math:`\exp(-\sum p\log p)` with
    :math:`0\log0 = 0` (``scipy.special.xlogy``); with :math:`\epsilon = 0` this is the Roy-Vetterli effective
    rank: :math:`1\le\cdot\le\#\{v_k>0\}`, equal to :math:`k` for :math:`k` equal non-zero values. Other
    modes: see :class:`LidarVariant`.

    Args:
        values: 1-D array of non-negative numbers, not all zero.
        eps: the :math:`\epsilon` (``>= 0``).
        mode: where :math:`\epsilon` goes.

    Returns:
        The entropy rank (float).

    Raises:
        ValueError: not 1-D, empty, negative or non-finite values, all zero, ``eps < 0``, unknown mode.
    """
    eps = _check_scalar("eps", eps, allow_none=False)
    if mode in ("outside", "log") and eps > 1.0:  # eps is added to probabilities there
        raise ValueError(f"eps must be in [0, 1] for mode {mode!r} (it is added to probabilities), got {eps!r}")
    v = V.array("values", values)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"values must be a non-empty 1-D array, got shape {v.shape}")
    if np.any(v < 0):
        raise ValueError(f"values must be >= 0, got min {np.min(v)!r}")
    if float(v.max()) <= 0:
        raise ValueError("values are all zero: the entropy rank is undefined (no between-class variation?)")
    # scale first (the rank is scale-free; [1e308, 1e308] overflowed the sum): the value-level eps scales with v,
    # the probability-level eps of 'outside'/'log' (p + eps) does not
    m = max(float(v.max()), eps)
    v, eps_v = v / m, eps / m
    total = float(v.sum())
    if mode == "outside":
        p = v / total + eps
        h = -np.sum(xlogy(p, p))
    elif mode == "inside":
        p = (v + eps_v) / np.sum(v + eps_v)
        h = -np.sum(xlogy(p, p))
    elif mode == "log":
        p = v / (total + eps_v)
        h = -np.sum(p * np.log(p + eps)) if eps > 0 else -np.sum(xlogy(p, p))
    elif mode == "drop":
        v = v[v > 0]
        p = v / (total + eps_v)
        h = -np.sum(p * np.log(p))
    else:
        raise ValueError(f"mode must be 'outside', 'inside', 'log' or 'drop', got {mode!r}")
    return float(np.exp(h))


def effective_rank(values) -> float:
    r"""Roy-Vetterli effective rank :math:`\exp(-\sum p\log p)`, :math:`p = v/\|v\|_1`, of non-negative values
    (:func:`entropy_rank` with :math:`\epsilon = 0`; round-off negatives above :math:`-10^{-12}\max|v|` count
    as 0). E.g. :math:`\mathrm{erank}_{\rm eig}(\Sigma_b)` = ``effective_rank(eigvalsh(Sb))``, the
    :math:`\delta\to\infty` limit of LiDAR.

    Raises:
        ValueError: as :func:`entropy_rank`.
    """
    v = V.array("values", values)
    if v.ndim == 1 and v.size and np.all(np.isfinite(v)):
        tol = 1e-12 * float(np.max(np.abs(v)))
        v = np.where((v < 0) & (v >= -tol), 0.0, v)
    return entropy_rank(v)


# ---------------------------------------------------------------------------------------------
# LiDAR


class LidarResult(NamedTuple):
    """LiDAR with its spectrum.

    Attributes:
        value: the LiDAR value.
        spectrum: ``(d,)`` eigenvalues of :math:`\\Sigma_{\\rm lidar}` (descending), or the PCA
            explained-variance ratios for the ``"reptrix"`` variant.
    """

    value: float
    spectrum: np.ndarray

    @property
    def lambda_max(self) -> float:
        return float(self.spectrum[0])


def _generalized_spectrum(sb: np.ndarray, sw: np.ndarray, *, where: str) -> np.ndarray:
    r"""Eigenvalues of :math:`\Sigma_w^{-1/2}\Sigma_b\Sigma_w^{-1/2}` as the generalised symmetric problem
    :math:`\Sigma_b v = \lambda\Sigma_w v` (Cholesky of :math:`\Sigma_w`, no eigenvectors): the same eigenvalues as
    the whitening of :func:`_whitener`, for a fraction of its cost. The singularity test is :func:`_whitener`'s
    exactly: a Cholesky failure or a small condition estimate (LAPACK ``pocon``, cheap) sends ``sw`` to the
    eigenvalue check of :func:`_whitener`, which raises when it is singular."""
    d = sw.shape[-1]
    chol, info = scipy.linalg.lapack.dpotrf(sw, lower=0, clean=1)
    if info == 0:
        rcond, _ = scipy.linalg.lapack.dpocon(chol, float(np.max(np.sum(np.abs(sw), axis=0))))
    if info != 0 or rcond <= 100.0 * d * d * np.finfo(float).eps:  # margin: a 1-norm estimate, within d of 1/cond_2
        _whitener(sw, clamp=None, where=where)  # raises when singular; else the matrix is merely ill-conditioned
    lam = scipy.linalg.eigh(sb, sw, eigvals_only=True, check_finite=False)
    return _clean_spectrum(lam, where=where)


def _lidar_from_scatter(sb, sw, v: LidarVariant, delta: float, eps: float, where: str) -> LidarResult:
    d = sb.shape[-1]
    sw = sw + delta * np.eye(d)
    if v.spectrum == "eig" and not v.clamp_sw:
        lam = _generalized_spectrum(sb, sw, where=where)
        if v.delta_lidar:  # spec(M + delta I) = spec(M) + delta
            lam = lam + delta
        if not lam.size or lam[0] <= 0:
            raise ValueError(f"{where}: Sigma_b is zero (all clean-sample means of embeddings coincide, or their spread "
                             "underflows float64); LiDAR is undefined")
        return LidarResult(entropy_rank(lam, eps=eps, mode=v.entropy), lam)
    w = _whitener(sw, clamp=eps if v.clamp_sw else None, where=where)
    m = w @ sb @ w
    m = 0.5 * (m + m.T)
    if v.delta_lidar:
        m = m + delta * np.eye(d)
    if v.spectrum == "pca_rows":
        x = m - m.mean(axis=0)
        s = np.linalg.svd(x, compute_uv=False)
        tot = float(np.sum(s**2))
        if tot <= 0:
            raise ValueError(f"{where}: Sigma_lidar has constant rows; its PCA spectrum is undefined")
        lam = np.sort(s**2 / tot)[::-1]
    else:
        lam = _clean_spectrum(np.linalg.eigvalsh(m), where=where)
    if not lam.size or lam[0] <= 0:
        raise ValueError(f"{where}: Sigma_b is zero (all clean-sample means of embeddings coincide, or their spread "
                             "underflows float64); LiDAR is undefined")
    return LidarResult(entropy_rank(lam, eps=eps, mode=v.entropy), lam)


def lidar(embeddings, *, delta: float | None = None, eps: float | None = None,
          variant: str | LidarVariant = "paper", return_spectrum: bool = False):
    r"""LiDAR of embeddings grouped by clean sample (Thilak et al., ICLR 2024).

    .. math::
        \mathrm{LiDAR} = \exp\Big(-\sum_k p_k\log p_k\Big),\quad
        p_k = \frac{\lambda_k}{\|\lambda\|_1}+\epsilon,\quad
        \lambda = \mathrm{spec}\big((\hat\Sigma_w+\delta I)^{-1/2}\hat\Sigma_b(\hat\Sigma_w+\delta I)^{-1/2}\big),

    with the unbiased estimators of :func:`scatter_matrices`, a symmetric float64 eigensolver and
    :math:`0\log0=0`. Cost :math:`O(nqd^2 + d^3)`: one float64-accumulating pass for the class means, the
    within-class scatter as chunked symmetric rank-k updates (BLAS ``syrk``; float32 input is converted chunk
    by chunk, never copied whole), and the spectrum as the generalised problem
    :math:`\hat\Sigma_bv=\lambda(\hat\Sigma_w+\delta I)v` (Cholesky, eigenvalues only), which has the same
    eigenvalues as the whitened matrix.

    Args:
        embeddings: ``(n, q, d)``: ``n >= 2`` clean samples (surrogate classes), ``q >= 2`` views of
            each, ``d`` features. Views of one clean sample must share the first index (a mis-grouped
            array gives the high "pure-noise" LiDAR, not a low one).
        delta: ridge :math:`\delta\ge0` added to :math:`\hat\Sigma_w` (default: the variant's, ``1e-6``
            for ``"paper"``). With ``delta=0``, :math:`\hat\Sigma_w` must be non-singular (needs
            :math:`d\le n(q-1)` and non-degenerate views).
        eps: :math:`\epsilon\ge0` (default: the variant's, ``1e-7`` for ``"paper"``).
        variant: a key of :data:`VARIANTS` (``"paper"`` default) or a :class:`LidarVariant`.
        return_spectrum: also return the spectrum (``lambda_max`` matters: ~``1/q`` means no
            discriminability at all).

    Returns:
        ``float``, or a :class:`LidarResult` ``(value, spectrum)`` with ``return_spectrum=True``.

    Raises:
        ValueError: wrong rank, ``n < 2``, ``q < 2``, NaN/inf, negative ``delta``/``eps``, singular
            :math:`\Sigma_w` with ``delta=0``, zero :math:`\Sigma_b`, unknown variant.
        TypeError: non-numeric input.
    """
    v = _variant(variant)
    delta = v.delta if delta is None else _check_scalar("delta", delta)
    eps = v.eps if eps is None else _check_scalar("eps", eps)
    e = _check_embeddings(embeddings, batched=False, convert=False)
    sb, sw = _scatter_one(e, v)
    res = _lidar_from_scatter(sb, sw, v, delta, eps, "lidar")
    return res if return_spectrum else res.value


def lidar_batched(embeddings, *, delta: float | None = None, eps: float | None = None,
                  variant: str | LidarVariant = "paper") -> tuple[np.ndarray, np.ndarray]:
    r"""LiDAR of many checkpoints at once: :func:`lidar` over a leading axis.

    The whole batch is validated first (so a bad checkpoint fails before any work); each checkpoint then
    takes :func:`lidar`'s path: chunked ``syrk`` scatter and the Cholesky-based generalised eigenvalue
    problem, no eigenvectors. (A stacked version, ``matmul`` scatters and batched ``eigh`` whitening, was
    measured 7x slower than a loop of plain numpy on 8 checkpoints of 500 x 20 x 64: stacked ``matmul`` does
    the ``syrk``'s work twice, and ``eigh`` with eigenvectors is the slowest LAPACK call here, pathologically so
    when the BLAS threads compete for cores: 0.3 s against 0.01 s for 8 matrices of 64 x 64 on a busy 2-core
    machine.)

    Args:
        embeddings: ``(C, n, q, d)``: the same clean samples and views embedded by ``C`` checkpoints.
        delta, eps, variant: as in :func:`lidar`.

    Returns:
        ``(values, spectra)``: ``(C,)`` LiDAR values and ``(C, d)`` spectra (descending).

    Raises:
        ValueError: as :func:`lidar`, naming the checkpoint that fails.
    """
    v = _variant(variant)
    delta = v.delta if delta is None else _check_scalar("delta", delta)
    eps = v.eps if eps is None else _check_scalar("eps", eps)
    e = _check_embeddings(embeddings, batched=True)  # float64 and finite: a bad checkpoint fails before any work
    c, d = e.shape[0], e.shape[-1]
    values = np.empty(c)
    spectra = np.empty((c, d))
    for k in range(c):
        sb, sw = _scatter_one(e[k], v)
        r = _lidar_from_scatter(sb, sw, v, delta, eps, f"lidar_batched: checkpoint {k}")
        values[k], spectra[k] = r.value, r.spectrum
    return values, spectra


# ---------------------------------------------------------------------------------------------
# RankMe and alpha-ReQ


def rankme(z, *, eps: float = 1e-7, variant: Literal["paper", "reptrix"] = "paper") -> float:
    r"""RankMe (Garrido et al., ICML 2023): effective rank of the singular values of the *uncentred*
    embedding matrix.

    .. math:: \mathrm{RankMe}(Z) = \exp\Big(-\sum_{k=1}^{\min(N,K)} p_k\log p_k\Big),\qquad
              p_k = \frac{\sigma_k(Z)}{\|\sigma(Z)\|_1} + \epsilon.

    Args:
        z: ``(N, K)`` embeddings (rows are samples); not centred.
        eps: :math:`\epsilon\ge0` (``1e-7`` as in stable_ssl / reptrix).
        variant: ``"paper"`` (singular values) or ``"reptrix"`` (PCA explained-variance ratios of
            the centred matrix, i.e. squared singular values; as in arnab39/reptrix).

    Returns:
        RankMe (float); with ``eps=0`` it lies in ``[1, min(N, K)]``.

    Raises:
        ValueError: not 2-D, empty, non-finite, all-zero ``z``, ``eps < 0``, unknown variant.
    """
    eps = _check_scalar("eps", eps, allow_none=False)
    if eps > 1.0:
        raise ValueError(f"eps must be in [0, 1] (it is added to the normalised singular values), got {eps!r}")
    z = V.array("z", z)
    if z.ndim != 2 or z.size == 0:
        raise ValueError(f"z must be a non-empty (N, K) array, got shape {z.shape}")
    if variant == "paper":
        s = np.linalg.svd(z, compute_uv=False)
    elif variant == "reptrix":
        s = np.linalg.svd(z - z.mean(axis=0), compute_uv=False) ** 2
    else:
        raise ValueError(f"variant must be 'paper' or 'reptrix', got {variant!r}")
    if np.max(s) <= 0:
        raise ValueError("z is zero: RankMe is undefined")
    return entropy_rank(s, eps=eps)


def alpha_req(z, *, fit_range: tuple[int, int] | None = None, spectrum: bool = False) -> tuple[float, float]:
    r"""alpha-ReQ (Agrawal et al., NeurIPS 2022): power-law exponent of the feature-covariance spectrum.

    Fits :math:`\log\lambda_k = c - \alpha\log k` by least squares weighted by :math:`1/k` over ranks
    :math:`k\in[k_0, k_1]` (1-based, descending eigenvalues), as in reptrix ``alpha.py`` (whose default
    range is :math:`k=5..99`; here the default is all ranks with :math:`\lambda_k>0`, capped at 99,
    because small embeddings have fewer than 100 eigenvalues).

    Args:
        z: ``(N, K)`` embeddings (covariance of the centred rows is used), or with ``spectrum=True``
            a 1-D array of eigenvalues.
        fit_range: ``(k0, k1)`` inclusive 1-based ranks; ranks beyond the positive eigenvalues are dropped.
        spectrum: interpret ``z`` as an eigenvalue spectrum.

    Returns:
        ``(alpha, r2)``: exponent and the weighted coefficient of determination of the fit.

    Raises:
        ValueError: bad shapes, non-finite input, fewer than 3 usable ranks, bad ``fit_range``.
    """
    z = V.array("z", z)
    if not np.all(np.isfinite(z)):
        raise ValueError("z contains NaN/inf")
    if spectrum:
        if z.ndim != 1:
            raise ValueError(f"spectrum must be 1-D, got shape {z.shape}")
        lam = np.sort(z)[::-1]
    else:
        if z.ndim != 2 or z.shape[0] < 2:
            raise ValueError(f"z must be (N >= 2, K), got shape {z.shape}")
        zmax = float(np.max(np.abs(z)))
        if 0.0 < zmax and not 1e-100 <= zmax <= 1e100:  # alpha and r2 are scale invariant: rescale extreme z
            z = z / zmax
        x = z - z.mean(axis=0)
        lam = np.linalg.eigvalsh(x.T @ x / (z.shape[0] - 1))[::-1]
    pos = int(np.sum(lam > 1e-12 * max(float(lam[0]) if lam.size else 0.0, np.finfo(float).tiny)))
    if fit_range is not None and (isinstance(fit_range, (str, bytes)) or not hasattr(fit_range, "__len__")
                                  or len(fit_range) != 2):
        raise TypeError(f"fit_range must be a pair (k0, k1) of integers, got {fit_range!r}")
    k0, k1 = (1, 99) if fit_range is None else fit_range
    if not (isinstance(k0, (int, np.integer)) and isinstance(k1, (int, np.integer)) and 1 <= k0 < k1):
        raise ValueError(f"fit_range must be integers 1 <= k0 < k1, got {fit_range!r}")
    k1 = min(int(k1), pos)
    k = np.arange(int(k0), k1 + 1)
    if k.size < 3:
        raise ValueError(f"alpha_req: z has {pos} positive eigenvalues; need >= 3 of them in fit_range "
                         f"(got {k.size})")
    xk, yk, wk = -np.log(k), np.log(lam[k - 1]), 1.0 / k
    wsum = wk.sum()
    xm, ym = (wk * xk).sum() / wsum, (wk * yk).sum() / wsum
    alpha = float((wk * (xk - xm) * (yk - ym)).sum() / (wk * (xk - xm) ** 2).sum())
    resid = yk - (ym + alpha * (xk - xm))
    sst = float((wk * (yk - ym) ** 2).sum())
    r2 = 1.0 - float((wk * resid**2).sum()) / sst if sst > 0 else 1.0
    return alpha, r2


# ---------------------------------------------------------------------------------------------
# synthetic data


def synthetic_views(n: int, q: int, *, n_informative: int, n_noise: int = 0, signal_std: float = 1.0,
                    view_std: float = 0.3, noise_std: float = 3.0, mis_group: bool = False,
                    key: int | np.random.Generator = 0) -> np.ndarray:
    r"""Synthetic surrogate-class embeddings: informative dimensions plus view-noise-only dimensions.

    Informative coordinates: :math:`e_{ij} = s_i + \nu_{ij}` with :math:`s_i\sim N(0,\sigma_s^2)` per clean
    sample and view noise :math:`\nu_{ij}\sim N(0,\sigma_v^2)`; for these :math:`\mathbb E\hat\Sigma_b =
    \sigma_s^2+\sigma_v^2/q` and :math:`\mathbb E\hat\Sigma_w = \sigma_v^2`, so :math:`\lambda\approx\sigma_s^2/\sigma_v^2 + 1/q`.
    Noise coordinates: pure view noise :math:`N(0,\sigma_n^2)`, independent for every view, so
    :math:`\lambda\approx1/q`. ``n_informative=0`` gives pure noise; ``mis_group=True`` shuffles all
    views across clean samples (the grouping is lost).

    Args:
        n, q: clean samples and views (``>= 2``).
        n_informative, n_noise: numbers of informative and noise dimensions (``>= 0``, sum ``>= 1``).
        signal_std, view_std, noise_std: :math:`\sigma_s, \sigma_v, \sigma_n` (``> 0``).
        mis_group: shuffle views across clean samples.
        key: seed or ``numpy.random.Generator``.

    Returns:
        ``(n, q, n_informative + n_noise)`` float64.
    """
    for name, val in (("n", n), ("q", q)):
        if not isinstance(val, (int, np.integer)) or val < 2:
            raise ValueError(f"{name} must be an int >= 2, got {val!r}")
    for name, val in (("n_informative", n_informative), ("n_noise", n_noise)):
        if not isinstance(val, (int, np.integer)) or val < 0:
            raise ValueError(f"{name} must be an int >= 0, got {val!r}")
    if n_informative + n_noise < 1:
        raise ValueError("n_informative + n_noise must be >= 1")
    for name, val in (("signal_std", signal_std), ("view_std", view_std), ("noise_std", noise_std)):
        val = V.real(name, val, high=1e150)
        if not val > 0:
            raise ValueError(f"{name} must be finite and > 0, got {val!r}")
    rng = key if isinstance(key, np.random.Generator) else np.random.default_rng(V.integer("key", key, low=0))
    inf = signal_std * rng.standard_normal((n, 1, n_informative)) + view_std * rng.standard_normal((n, q, n_informative))
    noise = noise_std * rng.standard_normal((n, q, n_noise))
    e = np.concatenate([inf, noise], axis=-1)
    if mis_group:
        flat = e.reshape(n * q, -1)
        e = flat[rng.permutation(n * q)].reshape(n, q, -1)
    return e
