r"""Task generators in the formats of the official code of Abbe et al. 2024 (re-implemented from the paper's
descriptions of ``data/twocycles``, ``data/modulo`` and ``data/addition``; the code itself is not vendored).

Every generator returns :class:`Sample` objects: a tuple of string tokens, the prompt length (the model
generates from there), the final answer as a string, and the start token of the inductive scratchpad when
the format has one (see :mod:`theory.locality.scratchpad`). Formats:

* **cycle task** (:func:`cycle_task`, :func:`cycles_sample`): node names ``v000``..``v999`` (one token each),
  edges ``u > v ;`` in random order, the query ``a ? b ;``, then the answer ``label .`` (no scratchpad),
  ``a > x1 > ... > x_d ; label .`` (DFS) or ``: a # x1 # ... # x_d ; label .`` (inductive), where the walk
  :math:`x_i` follows the edges from a until it reaches b (label 1) or returns to a (label 0). The iid task
  is one 2n-cycle with b at distance n vs two n-cycles; the OOD split trains on cycles (6, 18) with the
  query in the 6-cycle vs a 24-cycle at distance 6, and tests on (12, 12) vs a 24-cycle at distance 12
  (sizes are parameters so a smaller split of the same shape can be built).
* **random graphs** (:func:`random_graph_sample`): directed graphs with 24 nodes and 24 edges; the query is
  at distance 1, 2, 3 or 4 (probability 1/8 each) or unreachable (probability 1/2).
* **inductive parity** (:func:`parity_sample`): k bits at random sorted positions of 60 slots (``_``
  elsewhere) then ``=``; answer ``:`` then states ``[pp]b,c`` (slot index, bit, running parity) joined by
  ``#``, a final state ``[60]_,c`` and ``.``. Character tokens.
* **addition, random space** (:func:`addition_random_space_sample`): two L-digit operands and ``+`` at
  random sorted positions of 61 slots, then ``=``, a 32-character buffer (``$`` and 31 random characters),
  ``:``, one state ``[pa]da[pb]dbc<carry>r<buffer>`` per result digit, least significant first, where the
  buffer gets the new digit prepended (and keeps its length), joined by ``#``, and ``.``.
* **addition, shift** (:func:`addition_shift_sample`): each operand is (30 - L random characters) ``$`` and
  its L digits; the scratchpad starts with ``$`` + 30 random characters + ``|0#``; each state
  ``A+B=R|c`` rotates the last character of both operands to the front and prepends the new digit to R; the
  final state is ``cR.``. The start token of this format is ``=``.

Details the paper does not fix and chosen here: the filler characters are random digits; the blank of the
parity and random-space question is ``_``; the random-space format ends with a final state for the carry
(positions ``[61]``, digits ``_``), so the answer (with a leading carry digit) is the buffer before ``$``.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Sequence
from typing import Literal

import numpy as np

from .. import _validate as V

__all__ = [
    "Sample", "cycles_sample", "cycle_task_sample", "cycle_task", "random_graph_sample", "parity_sample",
    "addition_random_space_sample", "addition_shift_sample", "extract_answer", "parse_graph", "reachable",
]

Scratchpad = Literal[None, "dfs", "inductive"]


@dataclasses.dataclass(frozen=True)
class Sample:
    """One example: ``tokens`` (strings), ``prompt_len`` (the model generates ``tokens[prompt_len:]``),
    ``answer`` (the final answer as a string), ``task``, ``start`` (the inductive start token, or None) and
    ``meta`` (generator parameters: sizes, label, distance, digits, ...)."""

    tokens: tuple[str, ...]
    prompt_len: int
    answer: str
    task: str
    start: str | None = None
    meta: dict = dataclasses.field(default_factory=dict, compare=False)

    @property
    def prompt(self) -> tuple[str, ...]:
        return self.tokens[:self.prompt_len]

    @property
    def target(self) -> tuple[str, ...]:
        return self.tokens[self.prompt_len:]


def _rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (bool, np.bool_)):
        raise TypeError(f"rng must be a numpy Generator or an integer seed, got {rng!r}")
    return np.random.default_rng(V.integer("rng", rng, low=0))


def _names(rng: np.random.Generator, count: int, pool: int) -> list[str]:
    width = max(3, len(str(pool - 1)))
    return [f"v{i:0{width}d}" for i in rng.choice(pool, size=count, replace=False)]


def _edge_tokens(rng: np.random.Generator, edges: Sequence[tuple[str, str]]) -> list[str]:
    out: list[str] = []
    for i in rng.permutation(len(edges)):
        u, v = edges[i]
        out += [u, ">", v, ";"]
    return out


def cycles_sample(rng, sizes: Sequence[int], a: tuple[int, int], b: tuple[int, int], *,
                  scratchpad: Scratchpad = None, names: int = 1000) -> Sample:
    """A disjoint union of directed cycles with a reachability query, in the cycle-task format
    (Abbe et al. 2024, ``data/twocycles``; re-implemented).

    Args:
        rng: a numpy Generator or an integer seed.
        sizes: the cycle lengths (each >= 2, at most 64 cycles, total <= ``names``).
        a, b: the query vertices as (cycle index, vertex index); distinct.
        scratchpad: None, ``"dfs"`` or ``"inductive"``.
        names: the size of the name pool (``v000``..), 2 <= names <= 100000.
    Returns:
        a :class:`Sample`; ``answer`` is ``"1"`` when b is reachable from a (same cycle) and ``"0"``
        otherwise; the walk follows the edges from a until it reaches b or returns to a.
    Raises:
        TypeError / ValueError: bad sizes, vertices or scratchpad.
    """
    g = _rng(rng)
    sizes = [V.integer("sizes element", s, low=2) for s in V.array("sizes", sizes, ndim=1, dtype="int", min_size=1)]
    if len(sizes) > 64:
        raise ValueError(f"sizes must hold at most 64 cycles, got {len(sizes)}")
    names = V.integer("names", names, low=2, high=100_000)
    if sum(sizes) > names:
        raise ValueError(f"sizes total {sum(sizes)} exceeds the name pool names={names}")
    scratchpad = V.one_of("scratchpad", scratchpad, (None, "dfs", "inductive"))
    a, b = (tuple(q.tolist()) if isinstance(q, np.ndarray) and q.shape == (2,) else q for q in (a, b))
    for nm, q in (("a", a), ("b", b)):
        if not isinstance(q, (tuple, list)) or len(q) != 2:
            raise TypeError(f"{nm} must be a (cycle, vertex) pair, got {q!r}")
        ci = V.integer(f"{nm}[0]", q[0], low=0, high=len(sizes) - 1)
        V.integer(f"{nm}[1]", q[1], low=0, high=sizes[ci] - 1)
    a, b = (int(a[0]), int(a[1])), (int(b[0]), int(b[1]))
    if a == b:
        raise ValueError(f"a and b must be distinct vertices, got {a} twice")
    pool = _names(g, sum(sizes), names)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    name = {(c, v): pool[offsets[c] + v] for c, s in enumerate(sizes) for v in range(s)}
    edges = [(name[(c, v)], name[(c, (v + 1) % s)]) for c, s in enumerate(sizes) for v in range(s)]
    walk = [name[a]]
    v = a[1]
    while True:
        v = (v + 1) % sizes[a[0]]
        walk.append(name[(a[0], v)])
        if (a[0], v) == b or (a[0], v) == a:
            break
    label = "1" if a[0] == b[0] else "0"
    toks = _edge_tokens(g, edges) + [name[a], "?", name[b], ";"]
    start = None
    if scratchpad is None:
        prompt_len = len(toks)
        toks += [label, "."]
    elif scratchpad == "dfs":
        prompt_len = len(toks)
        for i, x in enumerate(walk):
            toks += ([">"] if i else []) + [x]
        toks += [";", label, "."]
    else:
        toks += [":"]
        prompt_len = len(toks)
        start = ":"
        for i, x in enumerate(walk):
            toks += (["#"] if i else []) + [x]
        toks += [";", label, "."]
    meta = {"sizes": tuple(sizes), "a": a, "b": b, "label": int(label), "walk": len(walk) - 1}
    return Sample(tuple(toks), prompt_len, label, "cycles", start, meta)


Split = Literal["iid", "ood_train", "ood_test"]


def cycle_task_sample(rng, n: int, label: int, *, split: Split = "iid", total: int = 24, short: int = 6,
                      scratchpad: Scratchpad = None, names: int = 1000) -> Sample:
    """One cycle-task example (Abbe et al. 2024, Section 1.1; OOD split of Fig. 4 right).

    ``split="iid"``: label 1 is one 2n-cycle with b at distance n from a, label 0 two n-cycles with a in
    the first and b in the second. ``"ood_train"``: label 1 a ``total``-cycle with b at distance ``short``,
    label 0 cycles (``short``, ``total - short``) with a in the short one. ``"ood_test"``: a ``total``-cycle
    at distance ``total/2`` vs two ``total/2``-cycles. The paper's split is total = 24, short = 6. The vertex
    of b in the second cycle is uniform.

    Args:
        rng: a numpy Generator or an integer seed.
        n: the cycle size of the iid task, 2 <= n <= 400 (ignored by the OOD splits but still checked).
        label: 0 or 1.
        split: ``"iid"``, ``"ood_train"`` or ``"ood_test"``.
        total, short: OOD sizes (total even, 4 <= total <= 800, 2 <= short <= total - 2).
        scratchpad, names: as :func:`cycles_sample`.
    Returns:
        a :class:`Sample`.
    Raises:
        TypeError / ValueError: bad n, label, split or sizes.
    """
    g = _rng(rng)
    n = V.integer("n", n, low=2, high=400)
    label = V.one_of("label", label, (0, 1))
    split = V.one_of("split", split, ("iid", "ood_train", "ood_test"))
    total = V.integer("total", total, low=4, high=800)
    short = V.integer("short", short, low=2, high=total - 2)
    if total % 2:
        raise ValueError(f"total must be even, got {total}")
    if split == "iid":
        p, q = n, n
    elif split == "ood_train":
        p, q = short, total - short
    else:
        p, q = total // 2, total // 2
    if label == 1:
        return cycles_sample(g, [p + q], (0, 0), (0, p), scratchpad=scratchpad, names=names)
    return cycles_sample(g, [p, q], (0, 0), (1, int(g.integers(q))), scratchpad=scratchpad, names=names)


def cycle_task(rng, count: int, n: int, *, split: Split = "iid", total: int = 24, short: int = 6,
               scratchpad: Scratchpad = None, names: int = 1000) -> list[Sample]:
    """``count`` cycle-task examples with balanced labels (alternating, then shuffled), as the official
    online training data (Abbe et al. 2024). Arguments as :func:`cycle_task_sample`; 1 <= count <= 100_000
    (bounded work: about 0.1 ms per example at the default sizes; draw larger sets in chunks with one Generator).

    Raises:
        TypeError / ValueError: as :func:`cycle_task_sample`, and count out of range.
    """
    g = _rng(rng)
    count = V.integer("count", count, low=1, high=100_000)
    labels = g.permutation(np.arange(count) % 2)
    return [cycle_task_sample(g, n, int(y), split=split, total=total, short=short, scratchpad=scratchpad, names=names)
            for y in labels]


def random_graph_sample(rng, *, nodes: int = 24, edges: int = 24, max_distance: int = 4, names: int = 1000,
                        max_tries: int = 1000) -> Sample:
    """A random directed graph with a reachability query (Abbe et al. 2024, ``mode='ER'``; re-implemented).

    The graph has ``nodes`` vertices and ``edges`` distinct directed edges without self-loops, uniformly.
    With probability 1/2 the query (a, b) is unreachable; otherwise its distance is uniform on
    1..``max_distance``; a graph without such a pair for a uniformly chosen source is redrawn.

    Args:
        rng: a numpy Generator or an integer seed.
        nodes: 2 <= nodes <= 1000 (and <= names).
        edges: 1 <= edges <= nodes * (nodes - 1).
        max_distance: 1 <= max_distance <= nodes - 1.
        names: name pool size.
        max_tries: redraws before giving up (1..10**5).
    Returns:
        a :class:`Sample` without scratchpad; ``meta["distance"]`` is the query distance (-1: unreachable).
    Raises:
        TypeError / ValueError: arguments out of range; RuntimeError when no valid graph is found.
    """
    g = _rng(rng)
    nodes = V.integer("nodes", nodes, low=2, high=1000)
    edges = V.integer("edges", edges, low=1, high=nodes * (nodes - 1))
    max_distance = V.integer("max_distance", max_distance, low=1, high=nodes - 1)
    names = V.integer("names", names, low=nodes, high=100_000)
    max_tries = V.integer("max_tries", max_tries, low=1, high=10**5)
    want = -1 if g.random() < 0.5 else int(g.integers(1, max_distance + 1))
    for _ in range(max_tries):
        flat = g.choice(nodes * (nodes - 1), size=edges, replace=False)
        src, off = flat // (nodes - 1), flat % (nodes - 1)
        dst = off + (off >= src)
        adj: dict[int, list[int]] = {}
        for u, v in zip(src.tolist(), dst.tolist()):
            adj.setdefault(u, []).append(v)
        a = int(g.integers(nodes))
        dist = _bfs(adj, a)
        if want == -1:
            cand = [v for v in range(nodes) if v not in dist]
        else:
            cand = [v for v, d in dist.items() if d == want]
        if cand:
            b = int(cand[g.integers(len(cand))])
            pool = _names(g, nodes, names)
            toks = _edge_tokens(g, [(pool[u], pool[v]) for u, v in zip(src.tolist(), dst.tolist())])
            toks += [pool[a], "?", pool[b], ";"]
            label = "0" if want == -1 else "1"
            plen = len(toks)
            return Sample(tuple(toks + [label, "."]), plen, label, "random_graph", None,
                          {"nodes": nodes, "edges": edges, "distance": want, "label": int(label)})
    raise RuntimeError(f"no graph with a query at distance {want} in {max_tries} draws")


def _bfs(adj: dict, a) -> dict:
    dist = {a: 0}
    dq = deque([a])
    while dq:
        u = dq.popleft()
        for v in adj.get(u, ()):
            if v not in dist:
                dist[v] = dist[u] + 1
                dq.append(v)
    return dist


def _token_list(name: str, tokens) -> list:
    """``tokens`` as a list (any iterable of tokens); a non-iterable is a TypeError naming the argument."""
    if tokens is None or isinstance(tokens, (bytes, dict)):
        raise TypeError(f"{name} must be a sequence of tokens (str), got {V._show(tokens)} ({type(tokens).__name__})")
    try:
        return list(tokens)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of tokens (str), got {V._show(tokens)} "
                        f"({type(tokens).__name__})") from None


def parse_graph(tokens: Sequence[str]) -> tuple[list[tuple[str, str]], str, str]:
    """The edges and the query (a, b) of a graph-task token sequence (``u > v ;`` ... ``a ? b ;``).

    Raises:
        TypeError: ``tokens`` is not a sequence.
        ValueError: no query in the tokens.
    """
    toks = _token_list("tokens", tokens)
    try:
        q = toks.index("?")
    except ValueError:
        raise ValueError("tokens must contain a query 'a ? b ;'") from None
    edges = [(toks[i - 1], toks[i + 1]) for i in range(1, q) if toks[i] == ">"]
    return edges, toks[q - 1], toks[q + 1]


def reachable(tokens: Sequence[str]) -> bool:
    """Whether b is reachable from a in the graph of a graph-task token sequence (breadth-first search)."""
    edges, a, b = parse_graph(_token_list("tokens", tokens))
    adj: dict[str, list[str]] = {}
    for u, v in edges:
        adj.setdefault(u, []).append(v)
    return b in _bfs(adj, a) and b != a


def _digits(rng: np.random.Generator, k: int, filler: str) -> list[str]:
    return [filler[i] for i in rng.integers(len(filler), size=k)]


def parity_sample(rng, k: int, *, slots: int = 60) -> Sample:
    """Inductive parity (Abbe et al. 2024, ``config/modulo_inductive.py``, scratchpad ``induct-random-space``).

    Args:
        rng: a numpy Generator or an integer seed.
        k: the number of bits, 1 <= k <= slots.
        slots: the question length, 1 <= slots <= 999 (the paper: 60).
    Returns:
        a :class:`Sample` with start token ``:``; ``answer`` is the parity ``"0"``/``"1"``.
    Raises:
        TypeError / ValueError: k or slots out of range.
    """
    g = _rng(rng)
    slots = V.integer("slots", slots, low=1, high=999)
    k = V.integer("k", k, low=1, high=slots)
    width = len(str(slots))
    pos = np.sort(g.choice(slots, size=k, replace=False))
    bits = g.integers(0, 2, size=k)
    q = ["_"] * slots
    for p, bit in zip(pos, bits):
        q[p] = str(int(bit))
    toks = q + ["=", ":"]
    plen = len(toks)
    c = 0
    states = []
    for p, bit in zip(pos, bits):
        c ^= int(bit)
        states.append(["["] + list(f"{int(p):0{width}d}") + ["]", str(int(bit)), ",", str(c)])
    states.append(["["] + list(f"{slots:0{width}d}") + ["]", "_", ",", str(c)])
    for i, s in enumerate(states):
        toks += (["#"] if i else []) + s
    toks += ["."]
    return Sample(tuple(toks), plen, str(c), "parity", ":", {"k": k, "slots": slots})


def addition_random_space_sample(rng, L: int, *, slots: int = 61, buffer: int = 32,
                                 filler: str = "0123456789") -> Sample:
    """Random-space addition with the inductive scratchpad (Abbe et al. 2024, ``create_sample_random_space``;
    re-implemented, details in the module docstring).

    Args:
        rng: a numpy Generator or an integer seed.
        L: the digits of each operand, 1 <= L, 2L + 1 <= slots, L + 2 <= buffer.
        slots: question slots (the paper: 61), <= 999.
        buffer: result-buffer length (the paper: 32), <= 999.
        filler: the characters of the random buffer.
    Returns:
        a :class:`Sample` (start ``:``); ``answer`` is the sum with L + 1 digits (leading zero kept).
    Raises:
        TypeError / ValueError: sizes out of range or an empty filler.
    """
    g = _rng(rng)
    slots = V.integer("slots", slots, low=3, high=999)
    buffer = V.integer("buffer", buffer, low=3, high=999)
    L = V.integer("L", L, low=1, high=(slots - 1) // 2)
    if L + 2 > buffer:
        raise ValueError(f"L + 2 must be <= buffer = {buffer}, got L = {L}")
    if not isinstance(filler, str) or not filler or any(ch in "$[]#:.=+_" for ch in filler):
        raise ValueError(f"filler must be a non-empty string without format characters, got {filler!r}")
    width = len(str(slots))
    da, db = _digits(g, L, "0123456789"), _digits(g, L, "0123456789")
    pos = np.sort(g.choice(slots, size=2 * L + 1, replace=False)).tolist()
    q = ["_"] * slots
    for p, ch in zip(pos, da + ["+"] + db):
        q[p] = ch
    pa, pb = pos[:L], pos[L + 1:]
    buf = ["$"] + _digits(g, buffer - 1, filler)
    toks = q + ["="] + buf + [":"]
    plen = len(toks)
    carry = 0
    states = []
    for i in range(L):
        x, y = int(da[L - 1 - i]), int(db[L - 1 - i])
        s = x + y + carry
        carry = s // 10
        buf = [str(s % 10)] + buf[:-1]
        states.append(["["] + list(f"{pa[L - 1 - i]:0{width}d}") + ["]", str(x), "["] + list(f"{pb[L - 1 - i]:0{width}d}")
                      + ["]", str(y), "c", str(carry), "r"] + buf)
    buf = [str(carry)] + buf[:-1]
    end = list(f"{slots:0{width}d}")
    states.append(["["] + end + ["]", "_", "["] + end + ["]", "_", "c", "0", "r"] + buf)
    for i, s in enumerate(states):
        toks += (["#"] if i else []) + s
    toks += ["."]
    answer = f"{int(''.join(da)) + int(''.join(db)):0{L + 1}d}"
    return Sample(tuple(toks), plen, answer, "addition_random_space", ":", {"L": L, "slots": slots, "buffer": buffer})


def addition_shift_sample(rng, L: int, *, width: int = 30, filler: str = "0123456789") -> Sample:
    """Shift-format addition with the inductive scratchpad (Abbe et al. 2024, ``create_sample_shift``;
    re-implemented). Every state ``A+B=R|c`` has the same length 3 (width + 1) + 4.

    Args:
        rng: a numpy Generator or an integer seed.
        L: the digits of each operand, 1 <= L <= width - 1.
        width: operand filler + digits (the paper: 30), 2 <= width <= 999.
        filler: the characters of the random filler.
    Returns:
        a :class:`Sample` with start token ``=``; ``answer`` is the sum with L + 1 digits (leading carry).
    Raises:
        TypeError / ValueError: sizes out of range or a bad filler.
    """
    g = _rng(rng)
    width = V.integer("width", width, low=2, high=999)
    L = V.integer("L", L, low=1, high=width - 1)
    if not isinstance(filler, str) or not filler or any(ch in "$|#.=+" for ch in filler):
        raise ValueError(f"filler must be a non-empty string without format characters, got {filler!r}")
    da, db = _digits(g, L, "0123456789"), _digits(g, L, "0123456789")
    A = _digits(g, width - L, filler) + ["$"] + da
    B = _digits(g, width - L, filler) + ["$"] + db
    R = ["$"] + _digits(g, width, filler)
    toks = A + ["+"] + B + ["="] + R + ["|", "0", "#"]
    plen = len(toks)
    carry = 0
    for i in range(L):
        s = int(A[-1]) + int(B[-1]) + carry
        carry = s // 10
        A, B, R = [A[-1]] + A[:-1], [B[-1]] + B[:-1], [str(s % 10)] + R[:-1]
        toks += A + ["+"] + B + ["="] + R + ["|", str(carry), "#"]
    toks += [str(carry)] + R + ["."]
    answer = f"{int(''.join(da)) + int(''.join(db)):0{L + 1}d}"
    return Sample(tuple(toks), plen, answer, "addition_shift", "=", {"L": L, "width": width})


def extract_answer(task: str, tokens: Sequence[str]) -> str | None:
    """The final answer written in a (generated) token sequence of a task, or None when it is malformed.

    ``task``: ``"cycles"``/``"random_graph"`` (the token before the final ``.``), ``"parity"`` (the last
    state's running parity), ``"addition_random_space"`` (the last state's buffer before ``$``) or
    ``"addition_shift"`` (the final state's carry and result before ``$``).

    Raises:
        ValueError: unknown task.
    """
    task = V.one_of("task", task, ("cycles", "random_graph", "parity", "addition_random_space", "addition_shift"))
    toks = _token_list("tokens", tokens)
    if "." not in toks:
        return None
    end = toks.index(".")
    if task in ("cycles", "random_graph", "parity"):
        return toks[end - 1] if end >= 1 and toks[end - 1] in ("0", "1") else None
    body = toks[:end]
    last = body[len(body) - body[::-1].index("#"):] if "#" in body else body
    if task == "addition_random_space":
        if "r" not in last:
            return None
        last = last[last.index("r") + 1:]
    if "$" not in last:
        return None
    out = last[:last.index("$")]
    return "".join(out) if out and all(ch.isdigit() for ch in out) else None
