r"""The RASP-L library (Zhou et al. 2024, Listing 2 of the ICLR version), built from the core primitives only.

Every function returns an :class:`~theory.rasp.core.SOp`; ``i`` is the query position and every set is
restricted to :math:`j \le i` (causality):

==================  ===========================================================================================
``shift_right``     :math:`x_{i-n}` if :math:`i \ge n`, else ``default``
``cumsum``          :math:`\#\{j \le i : b_j \ne 0\}`
``where``           :math:`a_i` if :math:`c_i \ne 0` else :math:`b_i`; ``mask(x, m, val)`` = ``where(m, x, val)``
``maximum``         :math:`\max_{j \le i} x_j`; ``minimum`` likewise
``num_prev``        :math:`\#\{j \le i : x_j = q_i\}`; ``has_seen`` :math:`= \mathbf 1[\exists j \le i : x_j = q_i]`
``firsts``          :math:`\min\{j \le i : x_j = q_i\}`; ``lasts`` with max (``default`` if none)
``index_select``    :math:`x_{\mathrm{idx}_i}` if :math:`0 \le \mathrm{idx}_i \le i`, else ``default``
``first_true``      :math:`\min\{j \le i : x_j \ne 0\}`
``induct_kqv``      :math:`v_{j^*}`, :math:`j^* = \min\{j \le i : j \ge \mathrm{offset},\ k_{j-\mathrm{offset}} = q_i\}`
``induct``          ``induct_kqv(k, q, k, offset)``: the token ``offset`` after the first occurrence of :math:`q_i`
``induct_prev``     :math:`k` at (first occurrence of :math:`q_i`) + ``offset``
``argmax``          :math:`\max\{j \le i : x_j = \max_{l \le i} x_l\}` (the *last* index of the running max)
``argmin``          the last index of the running min
``mode``            :math:`x_{j^*}`, :math:`j^* = ` ``argmax(num_prev(x, x))``
``binary_mode``     1 if more 1s than 0s so far, else 0
==================  ===========================================================================================

``argmax`` is the corrected one: the official library calls ``kqv`` without a predicate (a ``TypeError``) and
swaps keys and queries; here ``argmax(x) = kqv(x, maximum(x), indices, EQ, "max")``. ``index_select`` and
``shift_right`` aggregate with ``"max"`` (their selectors pick at most one position, so mean, max and min agree),
which keeps them usable on index-valued s-ops under :func:`theory.rasp.check`'s rule that index-derived values
are never averaged.
"""

from __future__ import annotations

import functools

import numpy as np

from .._validate import integer
from .core import EQ, TRUE, Predicate, SOp, _sop, full, indices, kqv, sel_width, select, seq_map, tok_map

__all__ = [
    "NULL", "KEY_TRUE", "shift_right", "cumsum", "where", "mask", "maximum", "minimum", "num_prev", "has_seen",
    "firsts", "lasts", "index_select", "first_true", "induct_kqv", "induct", "induct_prev", "argmax", "argmin",
    "mode", "binary_mode",
]

NULL = -(2**40)
"""Sentinel value outside every input range (inputs satisfy ``|x| < 2**31``): marks 'no key' positions."""

KEY_TRUE = Predicate("KEY_TRUE", lambda k, q: np.broadcast_to(k != 0, np.broadcast_shapes(np.shape(k), np.shape(q))))
"""Predicate selecting every key that is non-zero (the query is ignored)."""


@functools.cache
def _add_const(c: int):
    def shift(v: int) -> int:
        return v + c
    shift.__name__ = f"add_{c}" if c >= 0 else f"sub_{-c}"
    return shift


def _pack(c: int, v: int) -> int:
    return v if c else NULL


def _unpack(p: int, w: int) -> int:
    return w if p == NULL else p


@functools.cache
def _mask_fn(val: int):
    def keep(m: int, v: int) -> int:
        return v if m else val
    keep.__name__ = f"keep_or_{val}"
    return keep


def shift_right(x: SOp, n: int, default: int = 0) -> SOp:
    """:math:`x_{i-n}` where :math:`i \\ge n`, else ``default``: ``kqv(indices + n, indices, x, EQ, "max")``.

    Args:
        x: the s-op to shift.
        n: the shift, ``0 <= n <= 4096``.
        default: the value of the first ``n`` positions.

    Returns:
        An :class:`SOp`.

    Raises:
        TypeError, ValueError: ``x`` not an s-op; ``n`` or ``default`` not an integer, ``n`` out of range.

    Paper: Zhou et al. 2024 (library ``shift_right``).
    """
    _sop("x", x)
    n = integer("n", n, low=0, high=4096)
    default = integer("default", default)
    return kqv(tok_map(indices, _add_const(n)), indices, x, EQ, default=default, reduction="max")


def cumsum(b: SOp) -> SOp:
    """:math:`\\#\\{j \\le i : b_j \\ne 0\\}`, the width of ``select(b, b, KEY_TRUE)``.

    Args:
        b: a 0/1 (or any integer, non-zero = true) s-op.

    Returns:
        An :class:`SOp`.

    Raises:
        TypeError: ``b`` is not an s-op.

    Paper: Zhou et al. 2024 (library ``cumsum``).
    """
    _sop("b", b)
    return sel_width(select(b, b, KEY_TRUE))


def where(c: SOp, a: SOp, b: SOp) -> SOp:
    """:math:`a_i` where :math:`c_i \\ne 0`, else :math:`b_i`.

    Built from two ``seq_map`` s: ``p = (a if c else NULL)`` then ``(b if p == NULL else p)`` (the sentinel
    keeps each map a plain case split, so the checker sees a shift by 0 on index-valued branches).

    Args:
        c: the condition s-op; a, b: the two branches.

    Returns:
        An :class:`SOp`.

    Raises:
        TypeError: an argument is not an s-op.

    Paper: Zhou et al. 2024 (library ``where``; there built from three ``seq_map`` s, same function).
    """
    _sop("c", c)
    _sop("a", a)
    _sop("b", b)
    return seq_map(seq_map(c, a, _pack), b, _unpack)


def mask(x: SOp, m: SOp, val: int = 0) -> SOp:
    """``where(m, x, full(val))`` as one ``seq_map``: :math:`x_i` where :math:`m_i \\ne 0`, else ``val``.

    Args:
        x: the s-op; m: the mask; val: the replacement value.

    Returns:
        An :class:`SOp`.

    Raises:
        TypeError: wrong argument types.

    Paper: Zhou et al. 2024 (library ``mask``).
    """
    _sop("x", x)
    _sop("m", m)
    val = integer("val", val)
    return seq_map(m, x, _mask_fn(val))


def maximum(x: SOp) -> SOp:
    """The running maximum :math:`\\max_{j \\le i} x_j` (``kqv(x, x, x, TRUE, "max")``).

    Raises:
        TypeError: ``x`` is not an s-op.

    Paper: Zhou et al. 2024 (library ``maximum``).
    """
    _sop("x", x)
    return kqv(x, x, x, TRUE, reduction="max")


def minimum(x: SOp) -> SOp:
    """The running minimum :math:`\\min_{j \\le i} x_j` (``kqv(x, x, x, TRUE, "min")``).

    Raises:
        TypeError: ``x`` is not an s-op.

    Paper: Zhou et al. 2024 (library ``minimum``).
    """
    _sop("x", x)
    return kqv(x, x, x, TRUE, reduction="min")


def num_prev(x: SOp, q: SOp) -> SOp:
    """:math:`\\#\\{j \\le i : x_j = q_i\\}` (``sel_width(select(x, q, EQ))``).

    Raises:
        TypeError: an argument is not an s-op.

    Paper: Zhou et al. 2024 (library ``num_prev``).
    """
    return sel_width(select(_sop("x", x), _sop("q", q), EQ))


def has_seen(x: SOp, q: SOp) -> SOp:
    """:math:`\\mathbf 1[\\exists j \\le i : x_j = q_i]` (``kqv(x, q, full(1), EQ, default=0, "max")``).

    Raises:
        TypeError: an argument is not an s-op.

    Paper: Zhou et al. 2024 (library ``has_seen``).
    """
    return kqv(_sop("x", x), _sop("q", q), full(1), EQ, default=0, reduction="max")


def firsts(x: SOp, q: SOp, default: int = -1) -> SOp:
    """:math:`\\min\\{j \\le i : x_j = q_i\\}`, or ``default`` (``kqv(x, q, indices, EQ, "min")``).

    Raises:
        TypeError: wrong argument types.

    Paper: Zhou et al. 2024 (library ``firsts``).
    """
    return kqv(_sop("x", x), _sop("q", q), indices, EQ, default=default, reduction="min")


def lasts(x: SOp, q: SOp, default: int = -1) -> SOp:
    """:math:`\\max\\{j \\le i : x_j = q_i\\}`, or ``default`` (``kqv(x, q, indices, EQ, "max")``).

    Raises:
        TypeError: wrong argument types.

    Paper: Zhou et al. 2024 (library ``lasts``).
    """
    return kqv(_sop("x", x), _sop("q", q), indices, EQ, default=default, reduction="max")


def index_select(x: SOp, idx: SOp, default: int = 0) -> SOp:
    """:math:`x_{\\mathrm{idx}_i}` where :math:`0 \\le \\mathrm{idx}_i \\le i`, else ``default``.

    Built as ``kqv(indices, idx, x, EQ, default, "max")`` (at most one key matches).

    Raises:
        TypeError: wrong argument types.

    Paper: Zhou et al. 2024 (library ``index_select``).
    """
    return kqv(indices, _sop("idx", idx), _sop("x", x), EQ, default=default, reduction="max")


def first_true(x: SOp, default: int = -1) -> SOp:
    """:math:`\\min\\{j \\le i : x_j \\ne 0\\}`, or ``default`` (``kqv(x, x, indices, KEY_TRUE, "min")``).

    Raises:
        TypeError: wrong argument types.

    Paper: Zhou et al. 2024 (library ``first_true``).
    """
    return kqv(_sop("x", x), x, indices, KEY_TRUE, default=default, reduction="min")


def induct_kqv(k: SOp, q: SOp, v: SOp, offset: int, default: int = 0, null: int = NULL) -> SOp:
    """The induction head: :math:`v_{j^*}` with :math:`j^* = \\min\\{j \\le i : k_{j-\\mathrm{offset}} = q_i\\}`.

    ``shift_right(k, offset, null)`` gives every position its key ``offset`` earlier (the first ``offset``
    positions get the sentinel ``null``), ``firsts`` finds the first match and ``index_select`` reads ``v``
    there: "find where the query appeared first and read ``offset`` positions later".

    Args:
        k, q, v: key, query and value s-ops.
        offset: ``0 <= offset <= 4096``.
        default: value when there is no match.
        null: the sentinel key of the first ``offset`` positions.

    Returns:
        An :class:`SOp`.

    Raises:
        TypeError, ValueError: wrong argument types or ``offset`` out of range.

    Paper: Zhou et al. 2024 (library ``induct_kqv``).
    """
    _sop("k", k)
    _sop("q", q)
    _sop("v", v)
    offset = integer("offset", offset, low=0, high=4096)
    default = integer("default", default)
    null = integer("null", null)
    j = firsts(shift_right(k, offset, default=null), q, default=-1)
    return index_select(v, j, default=default)


def induct(k: SOp, q: SOp, offset: int, default: int = 0) -> SOp:
    """``induct_kqv(k, q, k, offset)``: the token ``offset`` after the first occurrence of :math:`q_i` in ``k``.

    Raises:
        TypeError, ValueError: as :func:`induct_kqv`.

    Paper: Zhou et al. 2024 (library ``induct``).
    """
    return induct_kqv(k, q, k, offset, default=default)


def induct_prev(k: SOp, q: SOp, offset: int, default: int = 0) -> SOp:
    """:math:`k` at (the first occurrence of :math:`q_i` in ``k``) + ``offset`` (``default`` outside ``[0, i]``).

    Args:
        k, q: key and query s-ops.
        offset: any integer in ``[-4096, 4096]`` (the library uses negative offsets; parity uses +2).
        default: value when there is no match or the target position is out of range.

    Raises:
        TypeError, ValueError: wrong argument types or ``offset`` out of range.

    Paper: Zhou et al. 2024 (library ``induct_prev``).
    """
    _sop("k", k)
    _sop("q", q)
    offset = integer("offset", offset, low=-4096, high=4096)
    first = firsts(k, q, default=NULL)
    return index_select(k, tok_map(first, _add_const(offset)), default=default)


def argmax(x: SOp) -> SOp:
    """The last index of the running maximum, :math:`\\max\\{j \\le i : x_j = \\max_{l \\le i} x_l\\}`.

    ``kqv(x, maximum(x), indices, EQ, "max")``: keys are the values, the query is the running max. The
    official library's version omits the predicate (a ``TypeError``) and swaps keys and queries; this one
    matches the Haskell re-implementation (raskell).

    Raises:
        TypeError: ``x`` is not an s-op.

    Paper: Zhou et al. 2024 (library ``argmax``, corrected).
    """
    _sop("x", x)
    return kqv(x, maximum(x), indices, EQ, reduction="max")


def argmin(x: SOp) -> SOp:
    """The last index of the running minimum (``kqv(x, minimum(x), indices, EQ, "max")``).

    Raises:
        TypeError: ``x`` is not an s-op.

    Paper: Zhou et al. 2024 (library ``argmin``, the raskell convention).
    """
    _sop("x", x)
    return kqv(x, minimum(x), indices, EQ, reduction="max")


def mode(x: SOp) -> SOp:
    """The most frequent value of the prefix: :math:`x_{j^*}` with :math:`j^* = ` ``argmax(num_prev(x, x))``.

    Tie rule: ``num_prev(x, x)_j`` is the count of :math:`x_j` up to :math:`j`, so each of the most frequent
    values reaches the top count :math:`M` exactly once (at its last occurrence); ``argmax`` takes the last such
    position, i.e. among the tied values the one seen most recently.

    Raises:
        TypeError: ``x`` is not an s-op.

    Paper: Zhou et al. 2024 (library ``mode``, with the corrected argmax).
    """
    _sop("x", x)
    return index_select(x, argmax(num_prev(x, x)))


def _more_ones(c0: int, c1: int) -> int:
    return int(c1 > c0)


def binary_mode(x: SOp) -> SOp:
    """1 where the prefix has more 1s than 0s, else 0 (ties give 0).

    Raises:
        TypeError: ``x`` is not an s-op.

    Paper: Zhou et al. 2024 (library ``binary_mode``).
    """
    _sop("x", x)
    return seq_map(num_prev(x, full(0)), num_prev(x, full(1)), _more_ones)
