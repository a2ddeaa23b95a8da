r"""Exact mutual information and distribution locality for parity targets (Abbe et al. 2024).

Setting (Abbe, Bengio, Lotfi, Sandon, Saremi, "How Far Can Transformers Reason? The Globality Barrier and
Inductive Scratchpad", NeurIPS 2024, arXiv:2406.06467, Section 2.1): :math:`X` uniform on
:math:`\{0,1\}^n`, the histogram of a binary string is its weight :math:`W=\sum_i X_i`, and the target is
the parity :math:`Y=\bigoplus_{i\in T}X_i` of an index set :math:`T`.

**Closed form** (derived here, not quoted from the paper). For an observed index set :math:`S` put
:math:`A=T\setminus S`, :math:`N=n-|S|`, :math:`a=|A|` and :math:`s=\sum_{i\notin S}X_i`. Then
:math:`(X_S,W)` carries the same information as :math:`(X_S,s)`, :math:`(s,X_A)` is independent of
:math:`X_S`, and given :math:`s` the unobserved bits are a uniform weight-:math:`s` string, so

.. math::
    I(X_S,W;Y) = \mathbb E_{s\sim\mathrm{Bin}(N,1/2)}\Big[1-h\Big(\tfrac{1+\beta_s}{2}\Big)\Big],\qquad
    \beta_s=\mathbb E\big[(-1)^{|X_A|}\,\big|\,s\big]
          =\frac{1}{\binom Ns}\sum_j(-1)^j\binom aj\binom{N-a}{s-j},

with :math:`h` the binary entropy in bits. The numerator is the coefficient of :math:`z^s` in
:math:`(1-z)^a(1+z)^{N-a}` (a Krawtchouk polynomial). :math:`\beta_s` is the projection of the character
:math:`\chi_A` on the symmetric functions, hence :math:`\mathbb E_s[\beta_s^2]=1/\binom Na` exactly, and
:math:`1-h(\tfrac{1+\beta}2)=\sum_{k\ge1}\beta^{2k}/(2k(2k-1)\ln 2)=\beta^2/(2\ln2)+O(\beta^4)`, so for
:math:`a\ll N` the MI is close to :math:`1/(2\ln 2\binom Na)` (relative error O(1/N); for :math:`a\approx N/2`
the rare extreme weights keep it 8-11% above at N = 30..60). Both identities are proved in
:mod:`proofs.locality`.

**Locality** (the paper's distribution locality, called globality degree in arXiv v3): the least number of
observed tokens whose MI with the target, together with the histogram, is non-negligible, i.e. at least
:math:`n^{-c}` (the constant :math:`c` is a parameter here; the paper's definition is asymptotic).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterable
from fractions import Fraction
from typing import Literal

import numpy as np
import sympy as sp

from .. import _validate as V

__all__ = [
    "MAX_PARITY_N", "MAX_BRUTE_N", "binary_entropy", "bit_information", "bit_information_expr",
    "bit_information_series_coefficient", "krawtchouk_coefficients", "hypergeometric_betas",
    "beta_squared_mean", "beta_polynomial", "sparse_parity_mi", "sparse_parity_mi_brute", "parity_mi_by_split",
    "max_mi_by_size", "locality", "exact_locality", "mutual_information", "cumulative_parity_step_localities",
    "ar_locality", "MAX_AR_PARITY_N",
]

MAX_PARITY_N = 2000  # closed form: O(n^2) big-integer work
MAX_BRUTE_N = 20  # brute force: 2^n strings
MAX_AR_PARITY_N = 10  # cumulative-parity scratchpad: 2^n inputs, C(2n, 2) token pairs per step

_LN2 = math.log(2.0)


# --------------------------------------------------------------------------- entropy helpers


def binary_entropy(p: float) -> float:
    """Binary entropy :math:`h(p)=-p\\log_2p-(1-p)\\log_2(1-p)` in bits, with :math:`0\\log0=0`.

    Args:
        p: a probability in [0, 1].
    Returns:
        h(p) in bits, in [0, 1].
    Raises:
        TypeError / ValueError: ``p`` is not a real number in [0, 1].
    """
    p = V.real("p", p, low=0.0, high=1.0)
    if p in (0.0, 1.0):
        return 0.0
    return float(-(p * math.log2(p) + (1 - p) * math.log2(1 - p)))


def bit_information_series_coefficient(k: int) -> Fraction:
    r"""Coefficient of :math:`\beta^{2k}/\ln 2` in :math:`1-h(\tfrac{1+\beta}2)`: :math:`1/(2k(2k-1))`.

    From :math:`\tfrac12[(1+\beta)\ln(1+\beta)+(1-\beta)\ln(1-\beta)]=\sum_{k\ge1}\beta^{2k}/(2k(2k-1))`
    (derived here; checked against the Taylor series in :mod:`proofs.locality`).

    Raises:
        TypeError / ValueError: ``k`` is not an integer in [1, 10000].
    """
    k = V.integer("k", k, low=1, high=10_000)
    return Fraction(1, 2 * k * (2 * k - 1))


def bit_information(beta: float) -> float:
    r"""The information one bit of bias :math:`\beta` carries: :math:`1-h(\tfrac{1+\beta}2)` in bits.

    This is :math:`I(Z;Y)` for a uniform bit :math:`Y` observed through a channel with
    :math:`\mathbb E[(-1)^Y\mid Z]=\pm\beta`. Computed without cancellation: by the series
    :math:`\sum_k\beta^{2k}/(2k(2k-1)\ln2)` for :math:`|\beta|<0.3` (relative error < 1e-15) and by
    :math:`[(1+\beta)\log_2(1+\beta)+(1-\beta)\log_2(1-\beta)]/2` otherwise. Paper: Abbe et al. 2024 (the
    closed form of the parity MI, derived here).

    Args:
        beta: a correlation in [-1, 1].
    Returns:
        the information in bits, in [0, 1]; exactly 1 at :math:`|\beta|=1` and 0 at :math:`\beta=0`.
    Raises:
        TypeError / ValueError: ``beta`` is not a real number in [-1, 1].
    """
    b = abs(V.real("beta", beta, low=-1.0, high=1.0))
    return _bit_information(b)


def _bit_information(b: float) -> float:
    b = abs(b)
    if b == 1.0:
        return 1.0
    if b < 0.3:
        b2 = b * b
        term, total, k = b2, 0.0, 1
        while True:
            add = term / (2 * k * (2 * k - 1))
            total += add
            if add < 1e-18 * total or k > 60:
                break
            term *= b2
            k += 1
        return total / _LN2
    return ((1 + b) * math.log1p(b) + (1 - b) * math.log1p(-b)) / (2 * _LN2)


def bit_information_expr(beta):
    r"""Sympy expression of :math:`1-h(\tfrac{1+\beta}2)` in bits:
    :math:`[(1+\beta)\log(1+\beta)+(1-\beta)\log(1-\beta)]/(2\log 2)`.

    Args:
        beta: a sympy expression or symbol (numbers are sympified).
    Returns:
        the sympy expression (valid for :math:`|\beta|<1`; the limit at :math:`\pm1` is 1).
    Raises:
        TypeError: ``beta`` cannot be sympified.
    """
    try:
        b = sp.sympify(beta) if beta is not None else None
    except (sp.SympifyError, TypeError) as err:
        raise TypeError(f"beta must be a sympy expression or number, got {beta!r}") from err
    if not isinstance(b, sp.Expr):
        raise TypeError(f"beta must be a sympy expression or number, got {beta!r} ({type(beta).__name__})")
    return ((1 + b) * sp.log(1 + b) + (1 - b) * sp.log(1 - b)) / (2 * sp.log(2))


# --------------------------------------------------------------------------- hypergeometric betas


@functools.lru_cache(maxsize=4096)
def _kraw(N: int, a: int) -> tuple[int, ...]:
    minus = [(-1) ** j * math.comb(a, j) for j in range(a + 1)]
    plus = [math.comb(N - a, j) for j in range(N - a + 1)]
    out = [0] * (N + 1)
    for i, u in enumerate(minus):
        for j, v in enumerate(plus):
            out[i + j] += u * v
    return tuple(out)


def _check_Na(N, a, high: int = MAX_PARITY_N) -> tuple[int, int]:
    N = V.integer("N", N, low=0, high=high)
    a = V.integer("a", a, low=0)
    if a > N:
        raise ValueError(f"a must be <= N = {N}, got {a}")
    return N, a


def krawtchouk_coefficients(N: int, a: int) -> list[int]:
    r"""Coefficients :math:`K_s=\sum_j(-1)^j\binom aj\binom{N-a}{s-j}` of :math:`(1-z)^a(1+z)^{N-a}`, s = 0..N.

    :math:`K_s/\binom Ns=\beta_s` is the conditional correlation of a parity of :math:`a` of :math:`N`
    unobserved bits with itself given their weight :math:`s` (Abbe et al. 2024; derived here).

    Args:
        N: number of unobserved bits, 0 <= N <= 2000.
        a: number of unobserved bits in the parity, 0 <= a <= N.
    Returns:
        a list of N + 1 exact integers.
    Raises:
        TypeError / ValueError: N or a not integers in range.
    """
    N, a = _check_Na(N, a)
    return list(_kraw(N, a))


def hypergeometric_betas(N: int, a: int) -> list[Fraction]:
    r"""Exact :math:`\beta_s=\mathbb E[(-1)^{|X_A|}\mid s]` for s = 0..N (hypergeometric count of ones in A).

    Args / Raises: as :func:`krawtchouk_coefficients`.
    Returns:
        a list of N + 1 fractions in [-1, 1]; all 1 when a = 0 and :math:`(-1)^s` when a = N.
    """
    N, a = _check_Na(N, a)
    return [Fraction(k, math.comb(N, s)) for s, k in enumerate(_kraw(N, a))]


def beta_squared_mean(N: int, a: int) -> Fraction:
    r""":math:`\mathbb E_{s\sim\mathrm{Bin}(N,1/2)}[\beta_s^2]` as an exact rational; it equals
    :math:`1/\binom Na` (the squared norm of the projection of a character of degree :math:`a` on the
    symmetric functions; proved in :mod:`proofs.locality`). Abbe et al. 2024 (the identity is derived here).

    Args:
        N: 0 <= N <= 2000.
        a: 0 <= a <= N.
    Returns:
        a :class:`fractions.Fraction`.
    Raises:
        TypeError / ValueError: N or a not integers in range.
    """
    N, a = _check_Na(N, a)
    return sum((Fraction(k * k, math.comb(N, s)) for s, k in enumerate(_kraw(N, a))), Fraction(0)) / 2 ** N


def beta_polynomial(a: int, N=None, M=None) -> sp.Expr:
    r""":math:`\beta_s` as a polynomial in :math:`M=N-2s`: :math:`e_a(\varepsilon)/\binom Na`, with
    :math:`e_a` the a-th elementary symmetric polynomial of the N signs :math:`\varepsilon_i=(-1)^{X_i}`.

    Given the weight, the a-subsets of the unobserved bits are exchangeable, so
    :math:`\mathbb E[\chi_A\mid s]=e_a(\varepsilon)/\binom Na`, and :math:`e_a` follows from the power sums
    :math:`p_j=\sum_i\varepsilon_i^j` (M for odd j, N for even j) by Newton's identities (derived here; a
    second route to :func:`hypergeometric_betas`, compared in :mod:`proofs.locality`).

    Args:
        a: the parity size, 0 <= a <= 12.
        N, M: sympy expressions or symbols (default: symbols ``N``, ``M``).
    Returns:
        a sympy expression, polynomial in M with coefficients rational in N.
    Raises:
        TypeError / ValueError: a not an integer in [0, 12].
    """
    a = V.integer("a", a, low=0, high=12)
    N = sp.Symbol("N", positive=True) if N is None else sp.sympify(N)
    M = sp.Symbol("M", real=True) if M is None else sp.sympify(M)
    p = [None] + [M if j % 2 else N for j in range(1, a + 1)]
    e = [sp.Integer(1)]
    for k in range(1, a + 1):
        e.append(sp.expand(sum((-1) ** (i - 1) * e[k - i] * p[i] for i in range(1, k + 1)) / k))
    return sp.factor(e[a] * sp.factorial(a)) / sp.factor(sp.expand_func(sp.ff(N, a)))


@functools.lru_cache(maxsize=65536)
def _mi_Na(N: int, a: int) -> float:
    """I(X_S, W; Y) in bits for N unobserved bits of which a are in the parity (the parity non-empty)."""
    if a == 0 or a == N:
        return 1.0
    total = 0.0
    two_n = 2 ** N
    for s, k in enumerate(_kraw(N, a)):
        c = math.comb(N, s)
        if k == 0:
            continue
        total += (c / two_n) * _bit_information(k / c)
    return min(total, 1.0)


def _index_set(name: str, x, n: int) -> frozenset[int]:
    if isinstance(x, (str, bytes)) or not isinstance(x, Iterable):
        raise TypeError(f"{name} must be an iterable of integer indices, got {x!r}")
    items = [V.integer(f"{name} element", i) for i in x]
    bad = [i for i in items if not 0 <= i < n]
    if bad:
        raise ValueError(f"{name} must hold indices in [0, {n - 1}] (n = {n}), got {bad[0]} in {sorted(items)}")
    if len(set(items)) != len(items):
        raise ValueError(f"{name} must not repeat indices, got {sorted(items)}")
    return frozenset(items)


def sparse_parity_mi(n: int, T: Iterable[int], S: Iterable[int]) -> float:
    r""":math:`I(X_S,W;Y)` in bits for :math:`X` uniform on :math:`\{0,1\}^n`, :math:`W=\sum_iX_i` (the
    histogram), :math:`Y=\bigoplus_{i\in T}X_i`, by the closed form of the module docstring
    (Abbe et al. 2024, Section 2.1 setting; closed form derived here).

    Args:
        n: number of bits, 1 <= n <= 2000.
        T: the parity's index set (indices in [0, n), no repeats). An empty T gives a constant Y: 0 bits.
        S: the observed index set (indices in [0, n), no repeats).
    Returns:
        the MI in bits, in [0, 1]; exactly 1 when :math:`S\supseteq T` or :math:`S\supseteq T^c`
        (and T non-empty). It depends on S only through :math:`|S\cap T|` and :math:`|S\setminus T|`.
    Raises:
        TypeError: n not an integer, T or S not iterables of integers.
        ValueError: n out of range, an index outside [0, n), or a repeated index.
    """
    n = V.integer("n", n, low=1, high=MAX_PARITY_N)
    T = _index_set("T", T, n)
    S = _index_set("S", S, n)
    if not T:
        return 0.0
    return _mi_Na(n - len(S), len(T - S))


def sparse_parity_mi_brute(n: int, T: Iterable[int], S: Iterable[int]) -> float:
    r"""The same MI as :func:`sparse_parity_mi`, by enumeration of all :math:`2^n` strings (the test reference).

    Args:
        n: 1 <= n <= 20.
        T, S: as in :func:`sparse_parity_mi`.
    Returns:
        the MI in bits.
    Raises:
        TypeError / ValueError: as :func:`sparse_parity_mi`, and n > 20.
    """
    n = V.integer("n", n, low=1, high=MAX_BRUTE_N)
    T = _index_set("T", T, n)
    S = _index_set("S", S, n)
    x = (np.arange(2 ** n)[:, None] >> np.arange(n)[None, :]) & 1
    y = np.bitwise_xor.reduce(x[:, sorted(T)], axis=1) if T else np.zeros(2 ** n, dtype=np.int64)
    w = x.sum(axis=1)
    xs = (x[:, sorted(S)] << np.arange(len(S))[None, :]).sum(axis=1) if S else np.zeros(2 ** n, dtype=np.int64)
    key = xs * (n + 1) + w
    return mutual_information(key, y)


def parity_mi_by_split(n: int, k: int) -> np.ndarray:
    r"""Table :math:`M[i,j]=I(X_S,W;Y)` for a :math:`k`-parity when S holds i indices of T and j outside T.

    Args:
        n: 1 <= n <= 2000.
        k: the parity's size, 0 <= k <= n.
    Returns:
        an array of shape (k + 1, n - k + 1), float64 bits.
    Raises:
        TypeError / ValueError: n, k out of range.
    """
    n = V.integer("n", n, low=1, high=MAX_PARITY_N)
    k = V.integer("k", k, low=0, high=n)
    out = np.zeros((k + 1, n - k + 1))
    if k == 0:
        return out
    for i in range(k + 1):
        for j in range(n - k + 1):
            out[i, j] = _mi_Na(n - i - j, k - i)
    return out


def max_mi_by_size(n: int, k: int) -> np.ndarray:
    r""":math:`\max_{|S|=m}I(X_S,W;Y)` for a :math:`k`-parity on n bits, m = 0..n (bits).

    Args / Raises: as :func:`parity_mi_by_split`.
    Returns:
        an array of n + 1 floats, non-decreasing in m, ending at 1 (0 everywhere when k = 0).
    """
    n = V.integer("n", n, low=1, high=MAX_PARITY_N)
    k = V.integer("k", k, low=0, high=n)
    out = np.zeros(n + 1)
    if k == 0:
        return out
    for m in range(n + 1):
        out[m] = max(_mi_Na(n - m, k - i) for i in range(max(0, m - (n - k)), min(k, m) + 1))
    return out


Family = Literal["full_parity", "sparse_parity", "half_parity", "cycle"]


def locality(family: Family, n: int, *, k: int | None = None, c: float = 2.0) -> int:
    r"""Distribution locality (globality degree) of a task family at size n (Abbe et al. 2024, Section 2.1):

    .. math:: \mathrm{loc}=\min\{m:\ \max_{|S|=m}I(X_S,\mathrm{Hist}(X);Y)\ge n^{-c}\}.

    Families:

    * ``"full_parity"``: parity of all n bits (the histogram determines it: loc = 0);
    * ``"sparse_parity"``: parity of k fixed bits (needs ``k``); loc = 0 once :math:`c` exceeds about k,
      since :math:`I(W;Y)\approx k!/(2\ln2\,n^k)`;
    * ``"half_parity"``: parity of :math:`\lfloor n/2\rfloor` bits, loc = n/2 - O(1);
    * ``"cycle"``: the cycle task (two n-cycles vs one 2n-cycle); m counts observed *edges* (two name tokens
      each) and the query vertices are always visible (see :func:`theory.locality.cycle_mi`; n <= 9).

    For parities S ranges over index sets of size m; for the cycle task every set of m edge slots is
    equivalent (the edge order is uniform), so the maximum is the MI of a uniform m-subset of edges.
    The threshold constant ``c`` is a choice: the paper's definition is asymptotic (:math:`n^{-O(1)}`).

    Args:
        family: one of the names above.
        n: the size (parities: 1 <= n <= 2000; cycle: 2 <= n <= 9).
        k: the parity size for ``"sparse_parity"`` (1 <= k <= n); must be None otherwise.
        c: the threshold exponent, c > 0.
    Returns:
        the locality, an integer in [0, n] (parities, in bits) or [0, 2n] (cycle, in edges).
    Raises:
        TypeError / ValueError: a bad family, n, k or c (k given for a family without one, or missing).
    """
    family = V.one_of("family", family, ("full_parity", "sparse_parity", "half_parity", "cycle"))
    c = V.real("c", c, low=0.0, low_open=True, high=100.0)
    if family != "sparse_parity" and k is not None:
        raise ValueError(f"k is only used by family 'sparse_parity', got k={k!r} for {family!r}")
    if family == "cycle":
        from .cycles import MAX_CYCLE_N, cycle_mi_table

        n = V.integer("n", n, low=2, high=MAX_CYCLE_N)
        curve = cycle_mi_table(n)
    else:
        n = V.integer("n", n, low=1, high=MAX_PARITY_N)
        if family == "sparse_parity":
            if k is None:
                raise ValueError("k must be given for family 'sparse_parity', got None")
            k = V.integer("k", k, low=1, high=n)
        else:
            k = n if family == "full_parity" else max(1, n // 2)
        thr = float(n) ** (-c) * (1 - 1e-12)
        for m in range(n + 1):  # scan upwards and stop at the first size reaching the threshold
            if max(_mi_Na(n - m, k - i) for i in range(max(0, m - (n - k)), min(k, m) + 1)) >= thr:
                return m
        raise AssertionError("unreachable: |S| = n gives one bit")  # pragma: no cover
    thr = float(n) ** (-c)
    hits = np.nonzero(curve >= thr * (1 - 1e-12))[0]
    return int(hits[0])


# --------------------------------------------------------------------------- generic exact engine


def mutual_information(x, y, weights=None) -> float:
    """Exact :math:`I(X;Y)` in bits of a finite joint law given as outcome arrays.

    Args:
        x: integer codes of X per outcome, shape (M,) or (M, d) (rows are joint values).
        y: integer codes of Y per outcome, shape (M,).
        weights: outcome probabilities (non-negative, any scale; default uniform).
    Returns:
        the MI in bits (>= 0; round-off below 1e-15 clipped to 0).
    Raises:
        TypeError / ValueError: non-integer codes, mismatched lengths, negative or all-zero weights.
    """
    x = V.array("x", x, ndim=(1, 2), dtype="int", min_size=1)
    y = V.array("y", y, ndim=1, dtype="int")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same number of outcomes, got {x.shape[0]} and {y.shape[0]}")
    if weights is None:
        w = np.ones(y.shape[0])
    else:
        w = V.array("weights", weights, shape=(y.shape[0],))
        if np.any(w < 0) or w.sum() <= 0:
            raise ValueError("weights must be non-negative with a positive sum")
    return _mi(x, y, w)


def _codes(x: np.ndarray) -> np.ndarray:
    if x.ndim == 1:
        return np.unique(x, return_inverse=True)[1].ravel()
    return np.unique(x, axis=0, return_inverse=True)[1].ravel()


def _entropy_of(codes: np.ndarray, w: np.ndarray) -> float:
    p = np.bincount(codes, weights=w)
    p = p[p > 0] / w.sum()
    return float(-(p * np.log2(p)).sum())


def _mi(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    cx, cy = _codes(x), _codes(y)
    cxy = cx * (int(cy.max()) + 1) + cy
    val = _entropy_of(cx, w) + _entropy_of(cy, w) - _entropy_of(_codes(cxy), w)
    return max(val, 0.0) if val > -1e-12 else val


def _histogram_codes(contexts: np.ndarray) -> np.ndarray:
    vocab = np.unique(contexts)
    counts = (contexts[:, :, None] == vocab[None, None, :]).sum(axis=1)
    return _codes(counts)


def exact_locality(contexts, targets, *, threshold: float, max_size: int = 3, weights=None,
                   measure: Literal["joint", "beyond_histogram"] = "joint") -> tuple[int | None, np.ndarray]:
    r"""Locality of a finite, fully enumerated distribution (Abbe et al. 2024, Section 2.1).

    ``measure="joint"`` is the paper's definition: the least m with
    :math:`\max_{|S|=m}I(X_S,\mathrm{Hist}(X);Y)\ge` ``threshold``. ``"beyond_histogram"`` uses the
    conditional information :math:`I(X_S;Y\mid\mathrm{Hist}(X))` instead (the tokens needed *in addition
    to* what the histogram already says; derived here, not the paper's definition).

    Args:
        contexts: integer tokens, shape (M, L): one row per outcome.
        targets: integer target per outcome, shape (M,).
        threshold: the MI (bits) that counts as non-negligible, > 0.
        max_size: the largest |S| searched, 0 <= max_size <= min(L, 6); the search costs C(L, m) MIs.
        weights: outcome probabilities (default uniform).
        measure: ``"joint"`` or ``"beyond_histogram"``.
    Returns:
        ``(loc, best)``: loc is the least m reaching the threshold (None when no m <= max_size does) and
        ``best[m]`` the maximal information at each searched size m (bits).
    Raises:
        TypeError / ValueError: bad shapes, codes, threshold or max_size.
    """
    ctx = V.array("contexts", contexts, ndim=2, dtype="int", min_size=1)
    y = V.array("targets", targets, shape=(ctx.shape[0],), dtype="int")
    thr = V.real("threshold", threshold, low=0.0, low_open=True)
    max_size = V.integer("max_size", max_size, low=0, high=min(ctx.shape[1], 6))
    measure = V.one_of("measure", measure, ("joint", "beyond_histogram"))
    w = np.ones(ctx.shape[0]) if weights is None else V.array("weights", weights, shape=(ctx.shape[0],))
    if np.any(w < 0) or w.sum() <= 0:
        raise ValueError("weights must be non-negative with a positive sum")
    return _exact_locality(ctx, y, thr, max_size, w, measure)


def _exact_locality(ctx, y, thr, max_size, w, measure):
    hist = _histogram_codes(ctx)
    base = _mi(hist, y, w)
    best = []
    for m in range(max_size + 1):
        top = 0.0
        for S in itertools.combinations(range(ctx.shape[1]), m):
            joint = np.column_stack([ctx[:, list(S)], hist]) if S else hist
            val = _mi(joint, y, w)
            val = val - base if measure == "beyond_histogram" else val
            top = max(top, val)
        best.append(top)
        if top >= thr * (1 - 1e-12):
            return m, np.array(best)
    return None, np.array(best)


# --------------------------------------------------------------------------- autoregressive locality


def cumulative_parity_step_localities(n: int, *, k: int | None = None, c: float = 2.0,
                                      measure: Literal["joint", "beyond_histogram"] = "joint",
                                      max_size: int = 2) -> list[int | None]:
    r"""Locality of every step of the cumulative-parity scratchpad, by exact enumeration of :math:`\{0,1\}^n`
    (Abbe et al. 2024, Section 3.1 and App. B: the scratchpad of running parities).

    The target is the parity of the first k bits; the scratchpad writes :math:`y_i=y_{i-1}\oplus x_i` for
    i = 1..k (:math:`y_k` is the answer). Step i predicts :math:`y_i` from the context
    :math:`(x_1..x_n, y_1..y_{i-1})`, all tokens in one binary vocabulary as in the paper's character-level
    format, so the histogram is the number of ones in the context. Each step is fixed by the two tokens
    :math:`y_{i-1}, x_i`, so every step has locality <= 2.

    Args:
        n: number of input bits, 1 <= n <= 10.
        k: parity size, 1 <= k <= n (default n).
        c: threshold exponent (threshold :math:`n^{-c}`), > 0.
        measure: ``"joint"`` (the paper's definition) or ``"beyond_histogram"`` (see :func:`exact_locality`).
        max_size: the largest token set searched, 0 <= max_size <= 3.
    Returns:
        k step localities (None where none of size <= max_size reaches the threshold).
    Raises:
        TypeError / ValueError: arguments out of range.
    """
    n = V.integer("n", n, low=1, high=MAX_AR_PARITY_N)
    k = n if k is None else V.integer("k", k, low=1, high=n)
    c = V.real("c", c, low=0.0, low_open=True, high=100.0)
    measure = V.one_of("measure", measure, ("joint", "beyond_histogram"))
    max_size = V.integer("max_size", max_size, low=0, high=3)
    x = (np.arange(2 ** n)[:, None] >> np.arange(n)[None, :]) & 1
    y = np.cumsum(x[:, :k], axis=1) % 2
    thr = float(n) ** (-c)
    w = np.ones(2 ** n)
    out: list[int | None] = []
    for i in range(k):
        ctx = np.column_stack([x, y[:, :i]]) if i else x
        target = y[:, i]
        if measure == "beyond_histogram" and _mi(_histogram_codes(ctx), target, w) >= 1 - 1e-12:
            out.append(0)  # the histogram alone determines the step: nothing beyond it is needed
            continue
        loc, _ = _exact_locality(ctx, target, thr, min(max_size, ctx.shape[1]), w, measure)
        out.append(loc)
    return out


def ar_locality(scratchpad: Literal["cumulative_parity", "dfs"], n: int, *, c: float = 2.0,
                measure: Literal["joint", "beyond_histogram"] = "joint", k: int | None = None) -> int | None:
    r"""Autoregressive locality of a scratchpad: the largest locality of any of its next-token steps
    (Abbe et al. 2024, Section 2.1: :math:`\mathrm{loc}_{AR}=\max_i\mathrm{loc}(X,Y_{<i}\mapsto Y_i)`).

    * ``"cumulative_parity"``: running parities of the first k bits of n (default k = n);
      :func:`cumulative_parity_step_localities`, n <= 10. At most 2.
    * ``"dfs"``: the DFS walk of the cycle task; :func:`theory.locality.dfs_step_localities`, n <= 4.
      0 under the joint measure (the histogram tells visited from unvisited names), a few tokens beyond it.

    Args:
        scratchpad: ``"cumulative_parity"`` or ``"dfs"``.
        n: the size (see above).
        c: threshold exponent, > 0.
        measure: ``"joint"`` or ``"beyond_histogram"``.
        k: parity size for ``"cumulative_parity"`` only.
    Returns:
        the AR locality (None when some step needs more than the searched 3 tokens).
    Raises:
        TypeError / ValueError: bad scratchpad name or out-of-range arguments.
    """
    scratchpad = V.one_of("scratchpad", scratchpad, ("cumulative_parity", "dfs"))
    if scratchpad == "dfs":
        if k is not None:
            raise ValueError(f"k is only used by scratchpad 'cumulative_parity', got k={k!r}")
        from .cycles import dfs_step_localities

        steps = dfs_step_localities(n, c=c, measure=measure)
    else:
        steps = cumulative_parity_step_localities(n, k=k, c=c, measure=measure, max_size=3)
    return None if any(s is None for s in steps) else max(steps)
