r"""The inductive scratchpad (Abbe et al. 2024, Section 3.2; re-implemented from the paper's description of
``get_inductive_form_train`` and ``model.generate`` in its official code).

A sequence ``Q <start> s[1] <sep> s[2] <sep> ... <sep> s[k] <eos>`` has states with the inductive structure
:math:`s[i]=g(Q,s[i-1])`. Training makes every state be predicted from the question and the previous state
only, always at the same positions:

* **state duplication**: every state but the last is copied; block 1 holds ``s[1] <sep>``, block
  :math:`k\ge2` holds a loss-masked copy ``s[k-1] <sep>`` followed by ``s[k] <sep or eos>``;
* **group ids**: 0 for the question and the start token, k for block k;
* **attention mask**: :math:`M_{ij}=[j\le i]\wedge[g_i(g_i-g_j)g_j=0]` (a token sees the question and its
  own block);
* **positions**: every block restarts at ``len(Q) + 1`` (the question including the start token);
* **loss mask**: 1 on the question, on block 1 and on the new state of each block, 0 on the copies.

For ``q1 q2 : a1 b1 # a2 b2 # a3 b3 .`` this gives (the paper's own example):

.. code-block:: text

    tokens: q1 q2 :  a1 b1 #  a1 b1 #  a2 b2 #  a2 b2 #  a3 b3 .
    pos   : 0  1  2  3  4  5  3  4  5  6  7  8  3  4  5  6  7  8
    loss  : 1  1  1  1  1  1  0  0  0  1  1  1  0  0  0  1  1  1

**Generation.** A prefix ``Q <start> s[1] <sep> ... s[k-1] <sep> (partial s[k])`` is fed without
duplication; :func:`inductive_form_generate` masks every state before ``s[k-1]`` and re-indexes the
positions of ``s[k-1] <sep> (partial s[k])`` from ``len(Q) + 1``. The next-token logits then equal those of
the trimmed sequence ``Q <start> s[k-1] <sep> (partial s[k])`` at ordinary positions
(:func:`inductive_trim`): the last position sees the same tokens at the same positions in both, and so do
the positions it attends to (checked with a transformer in ``tests/test_locality.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

__all__ = ["InductiveForm", "attention_from_groups", "inductive_form_train", "inductive_form_generate",
           "inductive_trim", "split_states", "inductive_form_block", "inductive_index_map"]


@dataclasses.dataclass(frozen=True)
class InductiveForm:
    """A sequence prepared for the inductive scratchpad.

    Attributes:
        tokens: the tokens (strings or ints), length T.
        groups: int array (T,): 0 for the question, k for block k.
        positions: int array (T,): position ids.
        loss_mask: bool array (T,): token t is a training target (predicted from position t - 1).
        attention: bool array (T, T): query t may attend to key s.
    """

    tokens: tuple
    groups: np.ndarray
    positions: np.ndarray
    loss_mask: np.ndarray
    attention: np.ndarray


def attention_from_groups(groups) -> np.ndarray:
    r"""The inductive attention mask :math:`M_{ij}=[j\le i]\wedge[g_i(g_i-g_j)g_j=0]` of group ids.

    Args:
        groups: non-negative integers, shape (T,).
    Returns:
        a bool array (T, T).
    Raises:
        TypeError / ValueError: groups not a 1-D array of non-negative integers.
    """
    from .. import _validate as V

    g = V.array("groups", groups, ndim=1, dtype="int")
    if np.any(g < 0):
        raise ValueError(f"groups must be non-negative, got {g.min()}")
    gi, gj = g[:, None], g[None, :]
    causal = np.tril(np.ones((g.size, g.size), dtype=bool))
    return causal & ((gi * (gi - gj) * gj) == 0)


def _tokens(tokens) -> list:
    if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Sequence | np.ndarray):
        raise TypeError(f"tokens must be a sequence of tokens, got {tokens!r}")
    return list(tokens.tolist() if isinstance(tokens, np.ndarray) else tokens)


def split_states(tokens, *, start=":", sep="#", eos=".", complete: bool = True) -> tuple[list, list[list], bool]:
    """Split ``Q <start> s[1] <sep> ... s[k] [<eos>]`` at the first ``start``.

    Args:
        tokens: the sequence.
        start, sep, eos: the three structure tokens (distinct).
        complete: require the sequence to end with ``eos`` (training); otherwise the last state may be
            partial (generation) and anything after an ``eos`` is an error.
    Returns:
        ``(question including start, states each with its terminator, ended)``: the states keep their
        ``sep``/``eos``; a partial last state has none; ``ended`` says whether ``eos`` was reached.
    Raises:
        TypeError: tokens not a sequence.
        ValueError: no ``start``; for ``complete``, no final ``eos``; tokens after ``eos``; repeated
            structure tokens.
    """
    toks = _tokens(tokens)
    if len({start, sep, eos}) != 3:
        raise ValueError(f"start, sep and eos must be distinct, got {start!r}, {sep!r}, {eos!r}")
    if start not in toks:
        raise ValueError(f"tokens must contain the start token {start!r}")
    i = toks.index(start) + 1
    q, rest = toks[:i], toks[i:]
    if eos in rest and rest.index(eos) != len(rest) - 1:
        raise ValueError(f"tokens must end at the first {eos!r}, found {len(rest) - rest.index(eos) - 1} tokens after it")
    ended = bool(rest) and rest[-1] == eos
    if complete and not ended:
        raise ValueError(f"tokens must end with the eos token {eos!r} (a complete training sequence)")
    states: list[list] = [[]]
    for t in rest:
        states[-1].append(t)
        if t == sep:
            states.append([])
    # a trailing empty list is the (empty) partial state right after a separator during generation
    return q, states, ended


def inductive_form_train(tokens, *, start=":", sep="#", eos=".") -> InductiveForm:
    """The training form of a complete inductive-scratchpad sequence (module docstring): duplicated states,
    group ids, re-indexed positions, loss mask and attention mask (Abbe et al. 2024, Section 3.2).

    Args:
        tokens: ``Q <start> s[1] <sep> ... <sep> s[k] <eos>`` (strings or ints).
        start, sep, eos: the structure tokens (the official code: ``:``, ``#``, ``.``).
    Returns:
        an :class:`InductiveForm`.
    Raises:
        TypeError / ValueError: as :func:`split_states` with ``complete=True``.
    """
    q, states, _ = split_states(tokens, start=start, sep=sep, eos=eos, complete=True)
    toks, groups, pos, loss = list(q), [0] * len(q), list(range(len(q))), [True] * len(q)
    base = len(q)
    for k, s in enumerate(states, start=1):
        if k == 1:
            block, lm = list(s), [True] * len(s)
        else:
            prev = states[k - 2]
            block, lm = list(prev) + list(s), [False] * len(prev) + [True] * len(s)
        toks += block
        groups += [k] * len(block)
        pos += list(range(base, base + len(block)))
        loss += lm
    g = np.array(groups, dtype=np.int64)
    return InductiveForm(tuple(toks), g, np.array(pos, dtype=np.int64), np.array(loss, dtype=bool),
                         attention_from_groups(g))


def inductive_form_generate(tokens, *, start=":", sep="#", eos=".") -> InductiveForm:
    """The masked view of a generation prefix ``Q <start> s[1] <sep> ... <sep> (partial s[k])``: no
    duplication; earlier states are their own blocks (masked from the current one), the current block is
    ``s[k-1] <sep> (partial s[k])`` with positions from ``len(Q)``. The loss mask is all False.

    Raises:
        TypeError / ValueError: as :func:`split_states` with ``complete=False``.
    """
    q, states, _ = split_states(tokens, start=start, sep=sep, eos=eos, complete=False)
    toks, groups, pos = list(q), [0] * len(q), list(range(len(q)))
    base = len(q)
    k = len(states)
    for j, s in enumerate(states[:max(k - 2, 0)], start=1):
        toks += s
        groups += [j] * len(s)
        pos += list(range(base, base + len(s)))
    current = [t for s in states[max(k - 2, 0):] for t in s]
    toks += current
    groups += [max(k, 1)] * len(current)
    pos += list(range(base, base + len(current)))
    g = np.array(groups, dtype=np.int64)
    return InductiveForm(tuple(toks), g, np.array(pos, dtype=np.int64), np.zeros(len(toks), dtype=bool),
                         attention_from_groups(g))


def inductive_trim(tokens, *, start=":", sep="#", eos=".") -> tuple[tuple, np.ndarray]:
    """The equivalent short context for generation: ``Q <start> s[k-1] <sep> (partial s[k])`` with ordinary
    positions 0..T-1 (Abbe et al. 2024: generation needs only the question and the last state).

    Returns:
        ``(tokens, positions)``.
    Raises:
        TypeError / ValueError: as :func:`split_states` with ``complete=False``.
    """
    q, states, _ = split_states(tokens, start=start, sep=sep, eos=eos, complete=False)
    toks = list(q) + [t for s in states[max(len(states) - 2, 0):] for t in s]
    return tuple(toks), np.arange(len(toks), dtype=np.int64)


def inductive_form_block(form: InductiveForm, k: int) -> InductiveForm:
    """The question and block ``k`` of a training form, alone (positions, loss and attention restricted).

    Block k attends only to the question and to itself, so its logits (and its loss terms) are the same in
    this short view as in the full form: the training loss of the inductive scratchpad is a sum of
    independent per-block terms, and training on random single blocks estimates it without bias
    (derived here from the mask of Abbe et al. 2024; checked with a transformer in ``tests/test_locality.py``).

    Args:
        form: an :class:`InductiveForm` from :func:`inductive_form_train`.
        k: the block, 1 <= k <= number of blocks.
    Returns:
        an :class:`InductiveForm` of length len(Q) + len(block k).
    Raises:
        TypeError: form is not an InductiveForm.
        ValueError: k out of range.
    """
    from .. import _validate as V

    if not isinstance(form, InductiveForm):
        raise TypeError(f"form must be an InductiveForm, got {type(form).__name__}")
    k = V.integer("k", k, low=1, high=int(form.groups.max()))
    keep = np.nonzero((form.groups == 0) | (form.groups == k))[0]
    return InductiveForm(tuple(form.tokens[i] for i in keep), form.groups[keep], form.positions[keep],
                         form.loss_mask[keep], form.attention[np.ix_(keep, keep)])


def inductive_index_map(tokens, *, start=":", sep="#", eos=".") -> np.ndarray:
    """For each token of :func:`inductive_form_train` of ``tokens``, the index of the original token it copies.

    Useful to apply one layout to many sequences of the same shape (gather ``original[:, index_map]``).

    Raises:
        TypeError / ValueError: as :func:`split_states` with ``complete=True``.
    """
    q, states, _ = split_states(tokens, start=start, sep=sep, eos=eos, complete=True)
    spans, at = [], len(q)
    for s in states:
        spans.append(list(range(at, at + len(s))))
        at += len(s)
    idx = list(range(len(q)))
    for k, span in enumerate(spans):
        idx += (spans[k - 1] if k else []) + span
    return np.array(idx, dtype=np.int64)
