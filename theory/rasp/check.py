r"""Is a program RASP-L, and how long is it? (:func:`check`, :func:`size`).

Zhou et al. 2024 restrict RASP to what a causal Transformer with learned absolute positions can run for every
length: selections are causal, there is no ``length``, and index-derived values may only be *compared* (in
selects) or *shifted by constants* -- ``2 i``, ``i / 2``, ``n - i`` or ``i - j`` are disallowed. The paper states
the index rule in words; the rule below is its operational form, derived here.

**Index-derived values** ("positions") are ``indices``, ``length``, every ``sel_width`` (a count is a
position-like number that grows with the input), every aggregation whose *values* are positions (a head that
moves an index, e.g. ``firsts``) and every map output that is again a shift of a position. A map is judged by
what it does, not by its name: its function is probed on a range of arguments.

* ``tok_map`` on a position: allowed when, on :data:`POSITION_PROBE`, it is a shift
  :math:`v \mapsto v + c` (the result is a position), a constant, or a comparison with a constant -- piecewise
  constant with at most two breakpoints, the pattern of :math:`[v = c]`, :math:`[v < c]` and their negations
  (the result is an ordinary value).
* ``seq_map`` on two positions: allowed when it is a comparison of :math:`a - b` with a constant (constant on
  :math:`a - b < c`, :math:`a - b = c`, :math:`a - b > c`: ``a < b``, ``a == b + 2``, ...), or it returns one
  argument shifted by a constant.
* ``seq_map`` on a position and an ordinary value: for each ordinary value in :data:`VALUE_PROBE` the map of the
  position must be a constant, a comparison with a constant, or a shift whose constant is the same for every
  ordinary value (so ``where(c, i, d)`` is allowed, ``i + x_i`` is not).
* ``aggr`` with ``"mean"`` over position values is arithmetic on positions (an average) and is rejected;
  ``"max"``/``"min"`` move a position and are allowed.
* a select with a predicate other than the built-in comparisons on positions must itself be a comparison.

The probe ranges are finite, so a map that is a shift on the probes and does something else far outside them
passes: the check is behavioural and bounded, and it is conservative (a legal program that adds two positions
it knows to be zero-or-shifted is rejected). It does not check that value maps act on a small vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .core import BUILTIN_PREDICATES, SOp, _Node, _sop
from .library import NULL

__all__ = ["check", "size", "POSITION_PROBE", "VALUE_PROBE", "operations", "parts"]

POSITION_PROBE = tuple(range(-16, 128))
"""Arguments on which maps of index-derived values are probed."""

VALUE_PROBE = tuple(range(-8, 17)) + (-100, -101, NULL)
"""Ordinary (token-valued) arguments paired with a position in a mixed ``seq_map``."""

_OPS = ("tok_map", "seq_map", "select", "aggr", "sel_width")


def _walk(program: SOp) -> list[_Node]:
    """Every node reachable from ``program``, arguments before users (each node once)."""
    order: list[_Node] = []
    seen: set[int] = set()
    stack: list[tuple[_Node, bool]] = [(program, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for a in node.args:
            if id(a) not in seen:
                stack.append((a, False))
    return order


def parts(program: SOp) -> dict[str, SOp]:
    """The labelled intermediate s-ops of a program (``{label: node}``), e.g. ``parts(count())["count.s"]``.

    Labels are set with :meth:`SOp.named`; identical nodes are shared, so a node built identically by two
    programs carries the label given last.

    Args:
        program: an :class:`SOp`.

    Returns:
        The labelled s-op nodes reachable from ``program``, arguments before users.

    Raises:
        TypeError: ``program`` is not an s-op.
    """
    _sop("program", program)
    return {n.label: n for n in _walk(program)
            if isinstance(n, SOp) and n.label and n.kind not in ("tokens", "indices")}


def operations(program: SOp) -> dict[str, int]:
    """Count of each primitive operation in the program's graph (shared sub-programs once).

    Args:
        program: an :class:`SOp`.

    Returns:
        ``{"tok_map": .., "seq_map": .., "select": .., "aggr": .., "sel_width": ..}``.

    Raises:
        TypeError: ``program`` is not an s-op.
    """
    _sop("program", program)
    counts = dict.fromkeys(_OPS, 0)
    for node in _walk(program):
        if node.kind in counts:
            counts[node.kind] += 1
    return counts


def size(program: SOp) -> int:
    """The number of primitive operations of a program -- the paper's measure of a "short" program.

    Counts the distinct ``tok_map``, ``seq_map``, ``select``, ``aggr`` and ``sel_width`` nodes of the expression
    graph (``kqv`` is one select plus one aggregation); ``tokens``, ``indices`` and ``full`` are inputs and
    constants, not operations. The paper measures shortness in lines of RASP-L code; this count is the
    operational version used here.

    Args:
        program: an :class:`SOp`.

    Returns:
        The operation count (a non-negative int).

    Raises:
        TypeError: ``program`` is not an s-op.

    Paper: Zhou et al. 2024 (the "short program" of the RASP-generalization conjecture).
    """
    return sum(operations(program).values())


def _safe(f: Callable, *args):
    try:
        v = f(*args)
        if isinstance(v, float) and not np.isfinite(v):
            return None
        return int(v)
    except Exception:  # a map that fails on a probe is judged on the probes where it works
        return None


def _runs(vals: list) -> list[tuple[object, int]]:
    out: list[tuple[object, int]] = []
    for v in vals:
        if out and out[-1][0] == v:
            out[-1] = (v, out[-1][1] + 1)
        else:
            out.append((v, 1))
    return out


def _classify_1d(vals: list, probe: tuple) -> tuple[str, int | None]:
    """'const', 'shift' (with c), 'compare' (with a constant) or 'other' for f on the probe range."""
    pts = [(p, v) for p, v in zip(probe, vals) if v is not None]
    if not pts:
        return "other", None
    ys = [v for _, v in pts]
    if len(set(ys)) == 1:
        return "const", None
    diffs = {v - p for p, v in pts}
    if len(diffs) == 1:
        return "shift", diffs.pop()
    runs = _runs(ys)
    if len(runs) == 2 or (len(runs) == 3 and runs[1][1] == 1 and runs[0][0] == runs[2][0]):
        return "compare", None
    return "other", None


def _show(f: Callable, probe: tuple, vals: list) -> str:
    pairs = [f"{p}->{v}" for p, v in zip(probe, vals) if 0 <= p <= 4]
    return ", ".join(pairs)


def check(program: SOp) -> list[str]:
    """The RASP-L violations of a program (an empty list when it is RASP-L).

    Reports: ``length`` used; a non-causal select; a map of an index-derived value that is not a shift by a
    constant or a comparison (judged by probing the function); a mean over index-derived values; a custom select
    predicate that does arithmetic on positions. The rules and their limits are in the module docstring.

    Args:
        program: an :class:`SOp`.

    Returns:
        One message per violation (naming the node and what its function did on probe inputs).

    Raises:
        TypeError: ``program`` is not an s-op.

    Paper: Zhou et al. 2024 (the RASP-L restrictions: causal selects, no length, restricted index arithmetic).
    """
    _sop("program", program)
    out: list[str] = []
    pos: dict[int, bool] = {}
    P, V = POSITION_PROBE, VALUE_PROBE
    for node in _walk(program):
        k, name = node.kind, node.describe()
        if k in ("tokens", "full"):
            pos[id(node)] = False
        elif k == "indices":
            pos[id(node)] = True
        elif k == "length":
            pos[id(node)] = True
            out.append("length: RASP-L has no length primitive (a causal model cannot read the input length)")
        elif k == "sel_width":
            pos[id(node)] = True
        elif k == "select":
            pred, causal = node.params
            if not causal:
                out.append(f"{name}: non-causal select (RASP-L selects only keys j <= query i)")
            pk, pq = (pos[id(a)] for a in node.args)
            if (pk or pq) and not any(pred is b for b in BUILTIN_PREDICATES):
                if pk and pq:
                    grid = [[_safe(lambda a, b: bool(pred(a, b)), a, b) for b in P] for a in P]
                    if not _order_only(grid, P):
                        out.append(f"{name}: custom predicate on two index-derived values is not a comparison")
                else:
                    for o in V:
                        vals = [_safe(lambda a: bool(pred(a, o) if pk else pred(o, a)), p) for p in P]
                        if _classify_1d(vals, P)[0] not in ("const", "compare"):
                            out.append(f"{name}: custom predicate on an index-derived value is not a comparison "
                                       f"(other argument {o})")
                            break
            pos[id(node)] = False
        elif k == "aggr":
            vpos = pos[id(node.args[1])]
            if vpos and node.params[1] == "mean":
                out.append(f"{name}: mean aggregation of index-derived values {node.args[1].describe()} "
                           "(an average of positions is index arithmetic)")
            pos[id(node)] = vpos
        elif k == "tok_map":
            f = node.params[0]
            if pos[id(node.args[0])]:
                vals = [_safe(f, p) for p in P]
                kind, _ = _classify_1d(vals, P)
                if kind == "other":
                    out.append(f"{name}: maps the index-derived {node.args[0].describe()} by a function that is "
                               f"neither a shift by a constant nor a comparison ({_show(f, P, vals)}, ...)")
                pos[id(node)] = kind == "shift"
            else:
                pos[id(node)] = False
        elif k == "seq_map":
            f = node.params[0]
            pa, pb = (pos[id(a)] for a in node.args)
            if pa and pb:
                ok, is_pos = _two_positions(f, P)
                if not ok:
                    out.append(f"{name}: arithmetic on two index-derived values ({node.args[0].describe()}, "
                               f"{node.args[1].describe()}): only comparisons or shifts by constants are RASP-L")
                pos[id(node)] = is_pos
            elif pa or pb:
                ok, is_pos, why = _mixed(f, pa, P, V)
                if not ok:
                    which = node.args[0] if pa else node.args[1]
                    out.append(f"{name}: maps the index-derived {which.describe()} {why}")
                pos[id(node)] = is_pos
            else:
                pos[id(node)] = False
    return out


def _order_only(grid: list[list], probe: tuple) -> bool:
    """True when the grid is a comparison of ``a - b`` with a constant (e.g. ``a < b``, ``a == b + 2``)."""
    by_diff: dict[int, set] = {}
    for ia, a in enumerate(probe):
        for ib, b in enumerate(probe):
            v = grid[ia][ib]
            if v is not None:
                by_diff.setdefault(a - b, set()).add(v)
    if any(len(s) > 1 for s in by_diff.values()):
        return False
    diffs = tuple(sorted(by_diff))
    return _classify_1d([next(iter(by_diff[d])) for d in diffs], diffs)[0] in ("const", "compare")


def _two_positions(f: Callable, P: tuple) -> tuple[bool, bool]:
    grid = [[_safe(f, a, b) for b in P] for a in P]
    if _order_only(grid, P):
        return True, False
    for first in (True, False):
        rows = grid if first else [list(col) for col in zip(*grid)]
        # depends on one argument only, as a shift of it
        if all(len({v for v in row if v is not None}) <= 1 for row in rows):
            vals = [next((v for v in row if v is not None), None) for row in rows]
            kind, _ = _classify_1d(vals, P)
            if kind == "shift":
                return True, True
            if kind in ("const", "compare"):
                return True, False
    return False, False


def _mixed(f: Callable, pos_first: bool, P: tuple, V: tuple) -> tuple[bool, bool, str]:
    shifts: set = set()
    for o in V:
        vals = [_safe(f, p, o) if pos_first else _safe(f, o, p) for p in P]
        kind, c = _classify_1d(vals, P)
        if kind == "other":
            return False, False, ("by a function that is neither a shift by a constant nor a comparison "
                                  f"(other argument {o})")
        if kind == "shift":
            shifts.add(c)
    if len(shifts) > 1:
        return False, True, f"by a shift that depends on the other argument (shifts {sorted(shifts)[:4]}): " \
                            "positions may only be shifted by constants"
    return True, bool(shifts), ""
