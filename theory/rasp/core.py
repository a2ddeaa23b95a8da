r"""RASP-L core: causal s-op expression graphs evaluated exactly with numpy.

From Zhou et al. 2024, *What Algorithms can Transformers Learn? A Study in Length Generalization* (ICLR 2024,
arXiv:2310.16028), whose RASP-L restricts RASP (Weiss, Goldberg & Yahav 2021) to what a decoder-only
Transformer runs: every selection is causal, aggregation may take the max or min as well as the mean, and there
is no ``length``.

**Objects.** An *s-op* (:class:`SOp`) is a node of an expression graph whose value on an input sequence
:math:`x = (x_0, \dots, x_{n-1})` of integers is an integer sequence of the same length. A *selector*
(:class:`Selector`) is a node whose value is an :math:`n \times n` boolean matrix :math:`A` with row = query
position :math:`i` and column = key position :math:`j`. Nodes are immutable and hash-consed: building the same
operation on the same arguments (same function objects) twice returns the same node, so a shared sub-program is
evaluated, checked and counted once.

**Semantics** (exact, integer valued; ``B`` input sequences are evaluated at once):

* :data:`tokens` :math:`= x`, :data:`indices` :math:`= (0, \dots, n-1)`, :func:`full` ``(c)`` :math:`= (c, \dots, c)`.
* :func:`tok_map` ``(a, f)`` :math:`= (f(a_i))_i`, :func:`seq_map` ``(a, b, f)`` :math:`= (f(a_i, b_i))_i`;
  results are cast to ``int`` (booleans become 0/1, reals are truncated toward zero).
* :func:`select` ``(keys, queries, pred)``: :math:`A_{ij} = \mathrm{pred}(k_j, q_i)` for :math:`j \le i` and
  ``False`` for :math:`j > i` -- the predicate takes **(key, query)** in that order.
* :func:`aggr` ``(A, v, default, reduction)`` with :math:`w_i = \sum_j A_{ij}`: ``"mean"`` gives
  :math:`\operatorname{trunc}(\sum_j A_{ij} v_j / w_i)` (truncation toward zero, computed in exact integer
  arithmetic; the paper's float division agrees whenever :math:`|\sum_j v_j| < 2^{53}`), ``"max"`` /
  ``"min"`` give :math:`\max / \min \{v_j : A_{ij}\}`; every reduction gives ``default`` on an empty row.
* :func:`kqv` ``(k, q, v, pred, ...)`` :math:`=` ``aggr(select(k, q, pred), v, ...)`` (one attention head),
  :func:`sel_width` ``(A)`` :math:`= (w_i)_i`.

:func:`length` and ``select(..., causal=False)`` are RASP, not RASP-L: they exist so that non-RASP-L programs
can be written and rejected by :func:`theory.rasp.check`.
"""

from __future__ import annotations

import dataclasses
import numbers
import weakref
from collections.abc import Callable
from typing import Literal

import numpy as np

from .._validate import array, integer, one_of

__all__ = [
    "SOp", "Selector", "Predicate", "tokens", "indices", "length", "full", "tok_map", "seq_map", "select", "aggr",
    "kqv", "sel_width", "EQ", "NEQ", "LT", "LEQ", "GT", "GEQ", "TRUE", "FALSE", "evaluate", "run", "generate",
    "MAX_LEN", "VALUE_LIMIT",
]

MAX_LEN = 2048
"""Longest sequence :func:`evaluate` accepts (selectors are ``n x n``)."""

VALUE_LIMIT = 2**31
"""Input tokens must satisfy ``|x| < VALUE_LIMIT`` (library sentinels live far outside this range)."""

Reduction = Literal["mean", "max", "min"]


# --------------------------------------------------------------------------------------------- predicates


@dataclasses.dataclass(frozen=True, eq=False)
class Predicate:
    """A select predicate ``pred(key, query) -> bool`` with a vectorised numpy form.

    ``fn(keys, queries)`` receives broadcastable integer arrays (keys along the last axis, queries along the
    one before) and returns a boolean array; ``pred(k, q)`` on scalars gives the same answer. Paper: Zhou et
    al. 2024 (the predicate order (key, query) of the RASP-L core).
    """

    name: str
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray]

    def __call__(self, key, query):
        return bool(np.asarray(self.fn(np.asarray(key), np.asarray(query))))

    def __repr__(self) -> str:
        return self.name


EQ = Predicate("EQ", np.equal)
"""key == query."""
NEQ = Predicate("NEQ", np.not_equal)
"""key != query."""
LT = Predicate("LT", np.less)
"""key < query."""
LEQ = Predicate("LEQ", np.less_equal)
"""key <= query."""
GT = Predicate("GT", np.greater)
"""key > query."""
GEQ = Predicate("GEQ", np.greater_equal)
"""key >= query."""
TRUE = Predicate("TRUE", lambda k, q: np.ones(np.broadcast_shapes(np.shape(k), np.shape(q)), dtype=bool))
"""Always true (every earlier-or-equal position)."""
FALSE = Predicate("FALSE", lambda k, q: np.zeros(np.broadcast_shapes(np.shape(k), np.shape(q)), dtype=bool))
"""Always false."""

BUILTIN_PREDICATES = (EQ, NEQ, LT, LEQ, GT, GEQ, TRUE, FALSE)


# --------------------------------------------------------------------------------------------- nodes

_CACHE: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _param_key(p):
    """Hashable identity of a node parameter: functions and predicates by identity, numbers by value."""
    if isinstance(p, (int, str, bool)) or p is None:
        return (type(p).__name__, p)
    return ("id", id(p))


class _Node:
    """Common base of s-ops and selectors: an operation ``kind`` on argument nodes with parameters."""

    __slots__ = ("kind", "args", "params", "label", "__weakref__")

    def __init__(self, kind: str, args: tuple, params: tuple, label: str | None):
        self.kind = kind
        self.args = args
        self.params = params
        self.label = label

    @classmethod
    def _make(cls, kind: str, args: tuple = (), params: tuple = (), label: str | None = None):
        key = (cls.__name__, kind, tuple(id(a) for a in args), tuple(_param_key(p) for p in params))
        node = _CACHE.get(key)
        if node is None:
            node = cls(kind, args, params, label)
            _CACHE[key] = node
        return node

    def named(self, label: str):
        """Give the node a readable label (shown by ``repr`` and in :func:`theory.rasp.check` messages)."""
        self.label = str(label)
        return self

    def describe(self) -> str:
        """One-line description: the label if set, else the operation and its function/predicate."""
        if self.label:
            return self.label
        extra = []
        for p in self.params:
            if callable(p) and not isinstance(p, Predicate):
                extra.append(getattr(p, "__name__", type(p).__name__))
            else:
                extra.append(repr(p))
        return f"{self.kind}({', '.join(extra)})" if extra else self.kind

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


class SOp(_Node):
    """A sequence operation: its value on an input of length ``n`` is an integer sequence of length ``n``.

    Build s-ops with :data:`tokens`, :data:`indices`, :func:`full`, :func:`tok_map`, :func:`seq_map`,
    :func:`aggr`, :func:`kqv`, :func:`sel_width`; evaluate them with :func:`theory.rasp.run`.
    """

    __slots__ = ()


class Selector(_Node):
    """A causal selection matrix ``A[i, j]`` (query ``i``, key ``j``); built with :func:`select`."""

    __slots__ = ()


tokens: SOp = SOp._make("tokens").named("tokens")
"""The input sequence ``x``."""
indices: SOp = SOp._make("indices").named("indices")
"""The positions ``(0, ..., n-1)``."""
length: SOp = SOp._make("length").named("length")
"""RASP's ``length`` (``(n, ..., n)``). Not RASP-L: it reads the whole input, so no causal model computes it;
:func:`theory.rasp.check` rejects any program that uses it."""


def _sop(name: str, x) -> SOp:
    if not isinstance(x, SOp):
        raise TypeError(f"{name} must be an s-op (theory.rasp.SOp), got {x!r} ({type(x).__name__})")
    return x


def _callable(name: str, f) -> Callable:
    if not callable(f) or isinstance(f, _Node):
        raise TypeError(f"{name} must be a callable, got {f!r} ({type(f).__name__})")
    return f


def full(c: int) -> SOp:
    """The constant s-op ``(c, ..., c)``.

    Args:
        c: an integer constant.

    Returns:
        An :class:`SOp`.

    Raises:
        TypeError: ``c`` is not an integer.

    Paper: Zhou et al. 2024 (RASP-L core ``full``).
    """
    c = integer("c", c)
    return SOp._make("full", (), (c,))


def tok_map(sop: SOp, f: Callable[[int], int]) -> SOp:
    """Elementwise map ``(f(a_i))_i`` of an s-op (an MLP acting on one position).

    ``f`` is called on Python ints and must return an integer, a bool or a finite real (truncated toward zero);
    it is evaluated once per distinct input value.

    Args:
        sop: the argument s-op ``a``.
        f: a function of one integer.

    Returns:
        An :class:`SOp`.

    Raises:
        TypeError: ``sop`` is not an s-op or ``f`` is not callable.

    Paper: Zhou et al. 2024 (RASP-L core ``tok_map``).
    """
    return SOp._make("tok_map", (_sop("sop", sop),), (_callable("f", f),))


def seq_map(a: SOp, b: SOp, f: Callable[[int, int], int]) -> SOp:
    """Elementwise map of two s-ops ``(f(a_i, b_i))_i``.

    Args:
        a, b: the argument s-ops.
        f: a function of two integers returning an integer, bool or finite real (truncated toward zero).

    Returns:
        An :class:`SOp`.

    Raises:
        TypeError: ``a`` or ``b`` is not an s-op, or ``f`` is not callable.

    Paper: Zhou et al. 2024 (RASP-L core ``seq_map``).
    """
    return SOp._make("seq_map", (_sop("a", a), _sop("b", b)), (_callable("f", f),))


def select(keys: SOp, queries: SOp, pred: Predicate | Callable[[int, int], bool], *, causal: bool = True) -> Selector:
    """The selector :math:`A_{ij} = \\mathrm{pred}(k_j, q_i)` for :math:`j \\le i`, ``False`` for :math:`j > i`.

    Args:
        keys: the key s-op ``k`` (read at the key position ``j``).
        queries: the query s-op ``q`` (read at the query position ``i``).
        pred: a :class:`Predicate` (``EQ``, ``LT``, ...) or any callable ``pred(key, query) -> bool``
            (evaluated once per distinct (key, query) pair).
        causal: ``True`` (RASP-L). ``False`` gives RASP's bidirectional selector, which
            :func:`theory.rasp.check` rejects.

    Returns:
        A :class:`Selector`.

    Raises:
        TypeError: ``keys``/``queries`` are not s-ops, ``pred`` is not callable, ``causal`` is not a bool.

    Paper: Zhou et al. 2024 (RASP-L core ``select``; the causal mask is the default there and everywhere in the
    library).
    """
    _sop("keys", keys)
    _sop("queries", queries)
    _callable("pred", pred)
    if not isinstance(causal, bool):
        raise TypeError(f"causal must be a bool, got {causal!r}")
    return Selector._make("select", (keys, queries), (pred, causal))


def aggr(selector: Selector, sop: SOp, default: int = 0, reduction: Reduction = "mean") -> SOp:
    """Aggregate ``sop`` over the selected positions of each row (one attention head's output).

    With :math:`w_i = \\sum_j A_{ij}`: ``"mean"`` gives :math:`\\operatorname{trunc}(\\sum_j A_{ij} v_j / w_i)`
    (toward zero), ``"max"``/``"min"`` the max/min of :math:`\\{v_j : A_{ij}\\}`, and ``default`` where
    :math:`w_i = 0`.

    Args:
        selector: a :class:`Selector`.
        sop: the value s-op ``v``.
        default: the value of empty rows.
        reduction: ``"mean"``, ``"max"`` or ``"min"``.

    Returns:
        An :class:`SOp`.

    Raises:
        TypeError: wrong argument types.
        ValueError: unknown ``reduction``.

    Paper: Zhou et al. 2024 (RASP-L core ``aggr``; ``min`` is ``-max(-v)`` there, the same function).
    """
    if not isinstance(selector, Selector):
        raise TypeError(f"selector must be a Selector (from select), got {selector!r} ({type(selector).__name__})")
    _sop("sop", sop)
    default = integer("default", default)
    one_of("reduction", reduction, ("mean", "max", "min"))
    return SOp._make("aggr", (selector, sop), (default, reduction))


def kqv(k: SOp, q: SOp, v: SOp, pred: Predicate | Callable[[int, int], bool], default: int = 0,
        reduction: Reduction = "mean") -> SOp:
    """One attention head: ``aggr(select(k, q, pred), v, default, reduction)``.

    Args:
        k, q, v: key, query and value s-ops.
        pred: the predicate, applied as ``pred(key, query)``.
        default: value of rows with no selected position.
        reduction: ``"mean"``, ``"max"`` or ``"min"``.

    Returns:
        An :class:`SOp`.

    Raises:
        TypeError, ValueError: as :func:`select` and :func:`aggr`.

    Paper: Zhou et al. 2024 (RASP-L core ``kqv``).
    """
    _sop("k", k)
    _sop("q", q)
    _sop("v", v)
    return aggr(select(k, q, pred), v, default=default, reduction=reduction)


def sel_width(selector: Selector) -> SOp:
    """The number of selected positions of each row, :math:`w_i = \\sum_{j \\le i} A_{ij}`.

    Args:
        selector: a :class:`Selector`.

    Returns:
        An :class:`SOp`.

    Raises:
        TypeError: ``selector`` is not a Selector.

    Paper: Zhou et al. 2024 (RASP-L core ``sel_width``).
    """
    if not isinstance(selector, Selector):
        raise TypeError(f"selector must be a Selector (from select), got {selector!r} ({type(selector).__name__})")
    return SOp._make("sel_width", (selector,), ())


# --------------------------------------------------------------------------------------------- evaluation


def _to_int(node: _Node, value) -> int:
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, complex):
        v = float(value)
        if not np.isfinite(v):
            raise ValueError(f"{node.describe()} returned a non-finite value {value!r}")
        return int(v)  # truncation toward zero, as the paper's astype(int)
    raise TypeError(f"{node.describe()} must return an integer, bool or real, got {value!r} ({type(value).__name__})")


def _map_unique(node: _Node, f: Callable, *cols: np.ndarray) -> np.ndarray:
    """Apply a scalar function elementwise, calling it once per distinct argument tuple."""
    shape = cols[0].shape
    if len(cols) == 1:
        u, inv = np.unique(cols[0].ravel(), return_inverse=True)
        vals = np.array([_to_int(node, f(int(a))) for a in u], dtype=np.int64)
    else:  # factorise each column, then the pairs of codes (cheaper than np.unique(axis=0))
        ua, ca = np.unique(cols[0].ravel(), return_inverse=True)
        ub, cb = np.unique(cols[1].ravel(), return_inverse=True)
        code = np.asarray(ca).ravel().astype(np.int64) * len(ub) + np.asarray(cb).ravel()
        u, inv = np.unique(code, return_inverse=True)
        vals = np.array([_to_int(node, f(int(ua[c // len(ub)]), int(ub[c % len(ub)]))) for c in u], dtype=np.int64)
    return vals[np.asarray(inv).ravel()].reshape(shape)


def _pred_matrix(node: Selector, pred, k: np.ndarray, q: np.ndarray) -> np.ndarray:
    kk, qq = k[:, None, :], q[:, :, None]
    if isinstance(pred, Predicate):
        out = np.asarray(pred.fn(kk, qq))
        if out.dtype != bool:
            out = out.astype(bool)
        return np.broadcast_to(out, (k.shape[0], k.shape[1], k.shape[1]))
    kb, qb = np.broadcast_arrays(kk, qq)
    return _map_unique(node, lambda a, b: bool(pred(a, b)), kb, qb).astype(bool)


def _eval(node: _Node, x: np.ndarray, cache: dict) -> np.ndarray:
    key = id(node)
    if key in cache:
        return cache[key]
    b, n = x.shape
    kind = node.kind
    if kind == "tokens":
        out = x
    elif kind == "indices":
        out = np.broadcast_to(np.arange(n, dtype=np.int64), (b, n))
    elif kind == "length":
        out = np.full((b, n), n, dtype=np.int64)
    elif kind == "full":
        out = np.full((b, n), node.params[0], dtype=np.int64)
    elif kind == "tok_map":
        out = _map_unique(node, node.params[0], _eval(node.args[0], x, cache))
    elif kind == "seq_map":
        out = _map_unique(node, node.params[0], _eval(node.args[0], x, cache), _eval(node.args[1], x, cache))
    elif kind == "select":
        pred, causal = node.params
        m = _pred_matrix(node, pred, _eval(node.args[0], x, cache), _eval(node.args[1], x, cache))
        out = (m & np.tril(np.ones((n, n), dtype=bool))[None]) if causal else np.array(m)
    elif kind == "sel_width":
        out = _eval(node.args[0], x, cache).sum(axis=-1).astype(np.int64)
    elif kind == "aggr":
        default, reduction = node.params
        a = _eval(node.args[0], x, cache)
        v = _eval(node.args[1], x, cache)[:, None, :]
        w = a.sum(axis=-1)
        empty = w == 0
        if reduction == "mean":
            s = np.where(a, v, 0).sum(axis=-1)
            ws = np.where(empty, 1, w)
            q = np.abs(s) // ws  # exact truncation toward zero: sign(s) * (|s| // w)
            out = np.where(empty, default, np.sign(s) * q)
        elif reduction == "max":
            out = np.where(empty, default, np.where(a, v, np.iinfo(np.int64).min).max(axis=-1))
        else:
            out = np.where(empty, default, np.where(a, v, np.iinfo(np.int64).max).min(axis=-1))
        out = out.astype(np.int64)
    else:  # pragma: no cover - every constructor is listed above
        raise ValueError(f"unknown node kind {kind!r}")
    cache[key] = out
    return out


def evaluate(program: SOp, seqs) -> np.ndarray:
    """Evaluate an s-op on a batch of equal-length sequences.

    Args:
        program: the :class:`SOp` to evaluate.
        seqs: integer array of shape ``(B, n)`` (or ``(n,)``), ``1 <= n <= MAX_LEN``, ``|x| < VALUE_LIMIT``.

    Returns:
        ``int64`` array of the same shape: the program's value at every position of every sequence.

    Raises:
        TypeError: ``program`` is not an s-op, or ``seqs`` does not hold integers.
        ValueError: wrong rank, empty or too long sequences, or values out of range.

    Paper: Zhou et al. 2024 (the RASP-L semantics above).
    """
    _sop("program", program)
    x = array("seqs", seqs, ndim=(1, 2), dtype="int", min_size=1)
    one = x.ndim == 1
    x2 = x[None] if one else x
    integer("sequence length", x2.shape[1], low=1, high=MAX_LEN)
    if x2.size and int(np.abs(x2).max()) >= VALUE_LIMIT:
        raise ValueError(f"seqs must satisfy |x| < {VALUE_LIMIT}, got max |x| = {int(np.abs(x2).max())}")
    # chunk the batch so that n x n selectors stay small (about 4e6 entries each)
    n = x2.shape[1]
    step = max(1, 4_000_000 // (n * n))
    outs = [_eval(program, x2[s:s + step], {}) for s in range(0, x2.shape[0], step)]
    out = np.concatenate(outs, axis=0).astype(np.int64) if outs else np.zeros_like(x2)
    return out[0] if one else out


def run(program: SOp, seq) -> np.ndarray:
    """The program's next-token prediction at every position of one sequence.

    Args:
        program: the :class:`SOp`.
        seq: a 1-D integer sequence, ``1 <= len(seq) <= MAX_LEN``, ``|x| < VALUE_LIMIT``.

    Returns:
        ``int64`` array of length ``len(seq)``; entry ``i`` depends on ``seq[:i+1]`` only (causality).

    Raises:
        TypeError: ``program`` is not an s-op or ``seq`` does not hold integers.
        ValueError: ``seq`` is not 1-D, is empty or too long, or has out-of-range values.

    Paper: Zhou et al. 2024 (every task as next-token prediction).
    """
    _sop("program", program)
    x = array("seq", seq, ndim=1, dtype="int", min_size=1)
    return evaluate(program, x)


def generate(program: SOp, prompt, *, stop: int | None, max_new: int) -> list[int]:
    """Greedy autoregressive sampling: append ``run(program, seq)[-1]`` until ``stop`` is emitted or ``max_new``.

    Args:
        program: the :class:`SOp`.
        prompt: the non-empty prompt (1-D integers).
        stop: the stop token (emitted and included), or ``None`` to run exactly ``max_new`` steps.
        max_new: the most tokens to generate, ``0 <= max_new <= MAX_LEN - len(prompt)``.

    Returns:
        The generated tokens (without the prompt), ending with ``stop`` if it was emitted.

    Raises:
        TypeError: wrong argument types.
        ValueError: empty prompt, or ``max_new`` out of range.

    Paper: Zhou et al. 2024 (autoregressive sampling of a RASP-L program, ``ar_sample`` in the official code).
    """
    _sop("program", program)
    p = array("prompt", prompt, ndim=1, dtype="int", min_size=1)
    if stop is not None:
        stop = integer("stop", stop)
    max_new = integer("max_new", max_new, low=0, high=MAX_LEN - p.size)
    seq = [int(v) for v in p]
    out: list[int] = []
    for _ in range(max_new):
        nxt = int(evaluate(program, np.asarray(seq, dtype=np.int64))[-1])
        out.append(nxt)
        seq.append(nxt)
        if stop is not None and nxt == stop:
            break
    return out
