r"""Exact information in a partial view of the cycle task (Abbe et al. 2024, Section 1.1 and Fig. 1b).

**The task.** Label :math:`Y` uniform on {0, 1}. :math:`Y=1`: one directed :math:`2n`-cycle with the query
:math:`(a,b)` at distance :math:`n` along it. :math:`Y=0`: two directed :math:`n`-cycles with :math:`a` in
the first and :math:`b` in the second. Both classes have :math:`2n` vertices of in- and out-degree 1, so the
token histogram carries nothing about :math:`Y`.

**What is observed.** The edges are listed in a uniformly random order under random vertex names, so
observing :math:`m` edge slots is observing a uniformly random :math:`m`-subset of the :math:`2n` edges, up
to renaming of the vertices: the *isomorphism class* of the observed subgraph with the two query vertices
marked (a and b distinguishable and always visible; other vertices visible only when an observed edge
touches them). That class is a multiset of directed paths and cycles with the mark positions, encoded here
as sorted tuples of components

* ``(0, r, pa, pb)``: a path of ``r`` edges (``r = 0``: an isolated query vertex) with ``a`` at offset ``pa``
  and ``b`` at offset ``pb`` from its start (-1 when absent);
* ``(1, L, pa, pb)``: a complete cycle of length ``L``: ``(1, L, 0, d)`` when it holds a and b with b at
  distance d after a, ``(1, L, 0, -1)`` / ``(1, L, -1, 0)`` when it holds only a / only b,
  ``(1, L, -1, -1)`` when it holds neither.

:func:`cycle_mi` enumerates all :math:`2^{2n}` edge subsets of both classes (n <= 9; n = 8 takes about a
second) and returns the exact MI in bits. Structural facts shown by the enumeration for every n <= 8
(checked in :mod:`proofs.locality`; derived here, not quoted from the paper): the MI is exactly 0 for
:math:`m\le n-1`, exactly 1 for :math:`m\ge 2n-1`, and :math:`(2n-2)/(2n-1)` at :math:`m=2n-2`
(:func:`cycle_mi_two_missing`). The locality of the task is therefore between n and 2n edges, growing
linearly in n, which is the paper's reason for the exponential cost of learning it without a scratchpad.

**DFS scratchpad.** :func:`dfs_step_localities` computes, by exact enumeration for n <= 4, the locality of
each next-token step of the DFS scratchpad ``a > x1 > ... > x_n ; label``: each step needs O(1) tokens.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import sympy as sp

from .. import _validate as V
from .information import _codes, _entropy_of

__all__ = [
    "MAX_CYCLE_N", "MAX_DFS_N", "cycle_observation_counts", "cycle_mi", "cycle_mi_exact", "cycle_mi_table",
    "cycle_mi_two_missing", "dfs_step_localities", "dfs_witness_information_bound",
]

MAX_CYCLE_N = 9  # 2^(2n) subsets per class: n = 9 is 262144
MAX_DFS_N = 4


def _cycle_components(L: int, mask: int, pos_a: int, pos_b: int) -> list[tuple[int, int, int, int]]:
    """Components of one directed L-cycle (edge i: i -> i+1 mod L) whose observed edges are ``mask``."""
    full = (1 << L) - 1
    if mask == full:
        if pos_a >= 0 and pos_b >= 0:
            return [(1, L, 0, (pos_b - pos_a) % L)]
        if pos_a >= 0:
            return [(1, L, 0, -1)]
        if pos_b >= 0:
            return [(1, L, -1, 0)]
        return [(1, L, -1, -1)]
    # start just after an unobserved edge, so that runs do not wrap around
    j = 0
    while mask >> j & 1:
        j += 1
    out = []
    covered_a = covered_b = False
    i = 0
    while i < L:
        e = (j + 1 + i) % L
        if mask >> e & 1:
            r = 0
            while r < L and mask >> ((e + r) % L) & 1:
                r += 1
            start = e
            pa = (pos_a - start) % L if pos_a >= 0 else -1
            pb = (pos_b - start) % L if pos_b >= 0 else -1
            pa = pa if 0 <= pa <= r and pos_a >= 0 else -1
            pb = pb if 0 <= pb <= r and pos_b >= 0 else -1
            covered_a |= pa >= 0
            covered_b |= pb >= 0
            out.append((0, r, pa, pb))
            i += r
        else:
            i += 1
    if pos_a >= 0 and not covered_a:
        out.append((0, 0, 0, -1))
    if pos_b >= 0 and not covered_b:
        out.append((0, 0, -1, 0))
    return out


@functools.lru_cache(maxsize=16)
def _counts(n: int) -> tuple[dict, ...]:
    """Per m: {form: [count under Y=0, count under Y=1]} over all edge subsets."""
    tables: list[dict] = [dict() for _ in range(2 * n + 1)]
    # Y = 1: one 2n-cycle, a at 0, b at n
    for mask in range(1 << (2 * n)):
        form = tuple(sorted(_cycle_components(2 * n, mask, 0, n)))
        t = tables[mask.bit_count()]
        t.setdefault(form, [0, 0])[1] += 1
    # Y = 0: two n-cycles, a at vertex 0 of the first, b at vertex 0 of the second
    first = [(_cycle_components(n, m1, 0, -1), m1.bit_count()) for m1 in range(1 << n)]
    second = [(_cycle_components(n, m2, -1, 0), m2.bit_count()) for m2 in range(1 << n)]
    for c1, k1 in first:
        for c2, k2 in second:
            form = tuple(sorted(c1 + c2))
            t = tables[k1 + k2]
            t.setdefault(form, [0, 0])[0] += 1
    return tuple(tables)


def _check_nm(n, m) -> tuple[int, int]:
    n = V.integer("n", n, low=2, high=MAX_CYCLE_N)
    m = V.integer("m", m)
    if not 0 <= m <= 2 * n:
        raise ValueError(f"m must be in [0, 2n] = [0, {2 * n}], got {m}")
    return n, m


def cycle_observation_counts(n: int, m: int) -> dict[tuple, tuple[int, int]]:
    r"""For every isomorphism class of an observed m-subset of the cycle task's 2n edges, how many subsets
    produce it under each label (Abbe et al. 2024, cycle task; enumeration derived here).

    Args:
        n: the cycle size, 2 <= n <= 9.
        m: the number of observed edges, 0 <= m <= 2n.
    Returns:
        ``{form: (count under Y=0, count under Y=1)}``; the forms are encoded as in the module docstring and
        each label's counts sum to :math:`\binom{2n}{m}`.
    Raises:
        TypeError / ValueError: n < 2 or n > 9, m outside [0, 2n].
    """
    n, m = _check_nm(n, m)
    return {f: (c[0], c[1]) for f, c in _counts(n)[m].items()}


def _mi_from_counts(table: dict, total: int) -> float:
    s = 0.0
    for c0, c1 in table.values():
        for c in (c0, c1):
            if c:
                s += c * math.log2(2 * c / (c0 + c1))
    return max(s / (2 * total), 0.0)


def cycle_mi(n: int, m: int) -> float:
    r"""Exact :math:`I(Y;O_m)` in bits between the cycle-task label and the isomorphism class :math:`O_m` of a
    uniformly random m-subset of its 2n edges with the query marked (Abbe et al. 2024; enumeration of all
    subsets, derived here).

    .. math:: I=\frac{1}{2\binom{2n}{m}}\sum_o\Big[c_1(o)\log_2\frac{2c_1(o)}{c_0(o)+c_1(o)}
              +c_0(o)\log_2\frac{2c_0(o)}{c_0(o)+c_1(o)}\Big]

    with :math:`c_y(o)` the number of subsets giving class o under label y (:func:`cycle_observation_counts`).

    Args:
        n: the cycle size, 2 <= n <= 9 (n = 8 in about a second; the table is cached per n).
        m: the number of observed edges, 0 <= m <= 2n.
    Returns:
        the MI in bits, in [0, 1].
    Raises:
        TypeError / ValueError: n < 2 or n > 9, m outside [0, 2n].
    """
    n, m = _check_nm(n, m)
    return _mi_from_counts(_counts(n)[m], math.comb(2 * n, m))


def cycle_mi_table(n: int) -> np.ndarray:
    """:func:`cycle_mi` for m = 0..2n as an array (one enumeration per n).

    Raises:
        TypeError / ValueError: n < 2 or n > 9.
    """
    n = V.integer("n", n, low=2, high=MAX_CYCLE_N)
    tabs = _counts(n)
    return np.array([_mi_from_counts(tabs[m], math.comb(2 * n, m)) for m in range(2 * n + 1)])


def cycle_mi_exact(n: int, m: int) -> sp.Expr:
    """:func:`cycle_mi` as an exact sympy number (rationals and logarithms of rationals, in bits).

    Raises:
        TypeError / ValueError: as :func:`cycle_mi`.
    """
    n, m = _check_nm(n, m)
    total = math.comb(2 * n, m)
    terms = []
    for c0, c1 in _counts(n)[m].values():
        for c in (c0, c1):
            if c:
                terms.append(sp.Integer(c) * sp.log(sp.Rational(2 * c, c0 + c1)))
    return sp.nsimplify(sp.Add(*terms) / (2 * total * sp.log(2)))


def cycle_mi_two_missing(n) -> sp.Expr:
    r"""Closed form of the cycle-task MI with two edges unobserved, :math:`m=2n-2`:
    :math:`1-1/(2n-1)=(2n-2)/(2n-1)` bits (derived here, not quoted from the paper).

    Why: of the :math:`\binom{2n}2` missing pairs, under :math:`Y=1` only the n opposite pairs leave two
    :math:`(n-1)`-paths (a and b at the same offset p on different paths); under :math:`Y=0` one missing edge per
    cycle leaves two :math:`(n-1)`-paths with a at offset p and b at offset q. Only the n classes with p = q
    are ambiguous, each with one subset per label, so :math:`H(Y\mid O)=n\cdot 2/(2\binom{2n}2)=1/(2n-1)`.

    Args:
        n: an integer n >= 2, or a sympy symbol (then the expression is returned).
    Returns:
        the exact value as a sympy expression.
    Raises:
        TypeError / ValueError: n not an integer >= 2 (or a sympy expression).
    """
    if not isinstance(n, sp.Basic):
        n = sp.Integer(V.integer("n", n, low=2))
    return 1 - n * 2 / (2 * sp.binomial(2 * n, 2))


# --------------------------------------------------------------------------- DFS scratchpad locality


def _dfs_structure(n: int, label: int):
    """Edges (src, tgt), a, b and the DFS walk x_0..x_n of one cycle-task instance (vertex ids)."""
    if label == 1:
        edges = [(i, (i + 1) % (2 * n)) for i in range(2 * n)]
        walk = list(range(n + 1))
    else:
        edges = [(i, (i + 1) % n) for i in range(n)] + [(n + i, n + (i + 1) % n) for i in range(n)]
        walk = list(range(n)) + [0]
    return edges, 0, n, walk


def _dfs_outcomes(n: int, t: int, r: int):
    """Outcomes of DFS step t (target x_{t+1}) conditioned on a canonical histogram h0, with r edge slots.

    Names are 0..2n-1; h0: a -> 0 (count 4), {b, x_1..x_t} -> {1..t+1} (count 3), the rest -> the other
    names (count 2). Rows: (slot tokens src/tgt for r distinct edges, query a b, scratchpad x_0..x_t)."""
    rows, ys = [], []
    for label in (0, 1):
        edges, a, b, walk = _dfs_structure(n, label)
        three = [b] + walk[1:t + 1]
        rest = [v for v in range(2 * n) if v != a and v not in three]
        for p3 in itertools.permutations(range(1, t + 2)):
            for p2 in itertools.permutations(range(t + 2, 2 * n)):
                name = [0] * (2 * n)
                name[a] = 0
                for v, x in zip(three, p3):
                    name[v] = x
                for v, x in zip(rest, p2):
                    name[v] = x
                tail = [name[a], name[b]] + [name[v] for v in walk[:t + 1]]
                y = name[walk[t + 1]]
                for es in itertools.permutations(range(2 * n), r):
                    rows.append([name[edges[e][k]] for e in es for k in (0, 1)] + tail)
                    ys.append(y)
    return np.array(rows, dtype=np.int64), np.array(ys, dtype=np.int64)


def _row_codes(ctx: np.ndarray, cols: tuple[int, ...], base: int) -> np.ndarray:
    code = np.zeros(ctx.shape[0], dtype=np.int64)
    for col in cols:
        code = code * base + ctx[:, col]
    return code


def dfs_step_localities(n: int, *, c: float = 2.0, measure: str = "joint", max_size: int = 3) -> list[int | None]:
    r"""Locality of every next-token step of the DFS scratchpad of the cycle task, by exact enumeration
    (Abbe et al. 2024, Section 3.1, educated scratchpads; computation derived here).

    Tokens: the 2n edges as (source name, target name) pairs in uniformly random order, the query (a, b)
    and the scratchpad :math:`a, x_1, \dots, x_t` (constant separator tokens carry no information and are
    left out). Names are a uniformly random bijection onto 2n names. Step t (t = 0..n-1) predicts
    :math:`x_{t+1}` (the successor of :math:`x_t`; :math:`x_n` is b for label 1 and a for label 0); the last
    step predicts the label from the full walk. Step locality: the least m with
    :math:`\max_{|S|=m}I\ge n^{-c}`, where I is :math:`I(X_S,\mathrm{Hist};Y)` (``measure="joint"``, the
    paper's definition) or :math:`I(X_S;Y\mid\mathrm{Hist})` (``"beyond_histogram"``, derived here). The
    histogram is constant on the orbit of name permutations, so the law is enumerated at one canonical
    histogram (exact). Under ``"joint"`` the histogram alone already separates unvisited names from visited
    ones, so every step has locality 0; beyond the histogram the successor needs the edge leaving
    :math:`x_t`: a few tokens (see :func:`dfs_witness_information_bound`).

    Args:
        n: the cycle size, 2 <= n <= 4 (n = 4 enumerates about 5e5 outcomes per step).
        c: threshold exponent, > 0.
        measure: ``"joint"`` or ``"beyond_histogram"``.
        max_size: the largest token set searched, 0 <= max_size <= 3.
    Returns:
        a list of n + 1 localities (None where no set of size <= max_size reaches the threshold); the
        last entry is the label step (0: the histogram determines the label).
    Raises:
        TypeError / ValueError: n, c, measure or max_size out of range.
    """
    n = V.integer("n", n, low=2, high=MAX_DFS_N)
    c = V.real("c", c, low=0.0, low_open=True, high=100.0)
    measure = V.one_of("measure", measure, ("joint", "beyond_histogram"))
    max_size = V.integer("max_size", max_size, low=0, high=3)
    thr = float(n) ** (-c) * (1 - 1e-12)
    h_marginal = math.log2(2 * n)  # the next name is uniform over the 2n names before the histogram is seen
    out: list[int | None] = []
    for t in range(n):
        found = None
        for m in range(max_size + 1):
            ctx, y = _dfs_outcomes(n, t, m)
            w = np.ones(len(y))
            h_given_hist = _entropy_of(_codes(y), w)
            if measure == "beyond_histogram" and h_given_hist <= 1e-12:
                found = 0
                break
            top = -np.inf
            for S in itertools.combinations(range(ctx.shape[1]), m):
                xs = _row_codes(ctx, S, 2 * n)
                cond = _entropy_of(_codes(xs * (2 * n) + y), w) - _entropy_of(_codes(xs), w)
                ref = h_marginal if measure == "joint" else h_given_hist
                top = max(top, ref - cond)
            if top >= thr:
                found = m
                break
        out.append(found)
    # label step: the histogram differs between labels (a is counted 5 times for label 0, b 4 times for label 1)
    out.append(0)
    return out


def dfs_witness_information_bound(n: int, t: int) -> float:
    r"""Lower bound on :math:`I(X_S;x_{t+1}\mid\mathrm{Hist})` for the 3-token witness
    :math:`S=\{x_t,\ \text{source and target of one edge slot}\}` of DFS step t (derived here).

    The slot holds the edge leaving :math:`x_t` with probability :math:`1/(2n)`, independently of the names
    and of the histogram; then the successor is read off, so
    :math:`I\ge H(x_{t+1}\mid\mathrm{Hist})/(2n)`, with :math:`H(x_{t+1}\mid\mathrm{Hist})=\log_2(2n-2-t)` for
    :math:`t\le n-2` (uniform over the unvisited names other than b) and :math:`1+\tfrac12\log_2 n` at
    :math:`t=n-1` (a, or b hidden among the n names counted three times). It is at least
    :math:`\log_2(n)/(2n)`, above :math:`n^{-2}` for every n >= 2: each DFS step has O(1) locality.

    Args:
        n: cycle size, 2 <= n <= 10**6.
        t: the step, 0 <= t <= n - 1.
    Returns:
        the bound in bits.
    Raises:
        TypeError / ValueError: n or t out of range.
    """
    n = V.integer("n", n, low=2, high=10**6)
    t = V.integer("t", t, low=0, high=n - 1)
    h = math.log2(2 * n - 2 - t) if t <= n - 2 else 1 + 0.5 * math.log2(n)
    return h / (2 * n)
