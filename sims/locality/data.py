r"""Batches for the locality experiment: the cycle task drawn in JAX (fresh samples every step, as the paper's
online training), parity questions from :func:`theory.locality.parity_sample`, and the inductive-scratchpad
layout from :func:`theory.locality.inductive_form_train`.

The cycle task is drawn in JAX so that :func:`sims.substrate.train.fit` can draw a fresh batch inside its
compiled loop. It writes exactly the format of :func:`theory.locality.cycle_task_sample` (checked in
``tests/test_locality.py`` by decoding batches and running the theory's reachability check): edges
``u > v ;`` in random order, the query ``a ? b ;`` and the answer ``y .`` / ``a > x1 > ... > x_d ; y .`` (DFS) /
``: a # x1 # ... # x_d ; y .`` (inductive). The label is 1 for one cycle of ``p + q`` vertices with b at distance
``p``, and 0 for two cycles of ``p`` and ``q`` vertices with a in the first and b uniform in the second.
Because every example of one ``(p, q, scratchpad)`` has the same layout, the inductive training form (state
duplication, block ids, re-indexed positions, loss mask, attention mask) is computed once from a template
and applied to a batch by a gather.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from sims.substrate.sequences import SeqBatch
from theory import locality as TL

CYCLE_SPECIAL = ("<pad>", ">", ";", "?", ":", "#", ".", "0", "1")
PAD, GT, SEMI, QM, COLON, HASH, DOT, Y0, Y1 = range(len(CYCLE_SPECIAL))
PARITY_CHARS = ("<pad>", "_", "0", "1", "=", ":", "#", ".", "[", "]", ",", "2", "3", "4", "5", "6", "7", "8", "9")
SCRATCHPADS = ("none", "dfs", "inductive")


def cycle_vocab(names: int) -> list[str]:
    """Token strings of the cycle vocabulary: the specials, then ``v00``.. names (``names`` of them)."""
    width = max(2, len(str(names - 1)))
    return list(CYCLE_SPECIAL) + [f"v{i:0{width}d}" for i in range(names)]


@dataclasses.dataclass(frozen=True)
class Layout:
    """The fixed layout of one cycle-task family ``(p, q, scratchpad)``.

    Attributes:
        length: tokens of the original sequence.
        prompt_len: tokens before the answer (the inductive start ``:`` belongs to the prompt).
        index: gather map from the original sequence to the trained sequence (identity unless inductive).
        positions: position ids of the trained sequence.
        loss: bool, token t of the trained sequence is a target (answer tokens; inductive copies excluded).
        attention: bool [T, T] extra mask (None unless inductive).
    """

    length: int
    prompt_len: int
    index: np.ndarray
    positions: np.ndarray
    loss: np.ndarray
    attention: np.ndarray | None


def _template(p: int, q: int, scratchpad: str) -> list[str]:
    n_edges = p + q
    toks = []
    for i in range(n_edges):
        toks += [f"u{i}", ">", f"w{i}", ";"]
    toks += ["a", "?", "b", ";"]
    walk = [f"x{i}" for i in range(p + 1)]
    if scratchpad == "none":
        return toks + ["y", "."]
    if scratchpad == "dfs":
        for i, x in enumerate(walk):
            toks += ([">"] if i else []) + [x]
        return toks + [";", "y", "."]
    toks += [":"]
    for i, x in enumerate(walk):
        toks += (["#"] if i else []) + [x]
    return toks + [";", "y", "."]


@functools.lru_cache(maxsize=64)
def cycle_layout(p: int, q: int, scratchpad: str) -> Layout:
    """The :class:`Layout` of the cycle task with cycles ``(p, q)`` (walk length p) and a scratchpad."""
    if scratchpad not in SCRATCHPADS:
        raise ValueError(f"scratchpad must be one of {SCRATCHPADS}, got {scratchpad!r}")
    tmpl = _template(p, q, scratchpad)
    L = len(tmpl)
    prompt = 4 * (p + q) + 4 + (1 if scratchpad == "inductive" else 0)
    if scratchpad != "inductive":
        loss = np.arange(L) >= prompt
        return Layout(L, prompt, np.arange(L), np.arange(L), loss, None)
    form = TL.inductive_form_train(tmpl)
    index = TL.inductive_index_map(tmpl)
    loss = form.loss_mask & (form.groups > 0)
    return Layout(L, prompt, index, form.positions, loss, form.attention)


def cycle_tokens(key: jax.Array, batch: int, p: int, q: int, scratchpad: str, names: int):
    """A batch of cycle-task sequences in the official format (token ids of :func:`cycle_vocab`).

    Returns:
        ``(tokens [batch, length] int32, labels [batch] int32)``; labels are balanced in expectation.
    """
    N = p + q
    k1, k2, k3, k4 = jax.random.split(key, 4)
    y = jax.random.bernoulli(k1, 0.5, (batch,)).astype(jnp.int32)
    nm = jnp.argsort(jax.random.uniform(k2, (batch, names)), axis=1)[:, :N].astype(jnp.int32) + len(CYCLE_SPECIAL)
    i = np.arange(N)
    succ1 = (i + 1) % N
    succ0 = np.where(i < p, (i + 1) % p, p + (i - p + 1) % q)
    succ = jnp.where(y[:, None] == 1, jnp.asarray(succ1)[None], jnp.asarray(succ0)[None])
    order = jnp.argsort(jax.random.uniform(k3, (batch, N)), axis=1)
    src = jnp.take_along_axis(nm, order, 1)
    tgt = jnp.take_along_axis(nm, jnp.take_along_axis(succ, order, 1), 1)
    full = jnp.full_like(src, 0)
    edges = jnp.stack([src, full + GT, tgt, full + SEMI], -1).reshape(batch, 4 * N)
    r = jnp.where(y == 1, 0, jax.random.randint(k4, (batch,), 0, q))
    a = nm[:, 0]
    b = jnp.take_along_axis(nm, (p + r)[:, None], 1)[:, 0]
    one = jnp.ones_like(a)
    query = jnp.stack([a, one * QM, b, one * SEMI], -1)
    ytok = Y0 + y
    walk = jnp.concatenate([nm[:, :p], jnp.where(y == 1, nm[:, p], nm[:, 0])[:, None]], 1)  # x_0 .. x_p
    if scratchpad == "none":
        ans = jnp.stack([ytok, one * DOT], -1)
    else:
        sep = GT if scratchpad == "dfs" else HASH
        inter = jnp.stack([walk[:, :-1], jnp.full_like(walk[:, :-1], sep)], -1).reshape(batch, 2 * p)
        body = jnp.concatenate([inter, walk[:, -1:], jnp.stack([one * SEMI, ytok, one * DOT], -1)], 1)
        ans = body if scratchpad == "dfs" else jnp.concatenate([(one * COLON)[:, None], body], 1)
    return jnp.concatenate([edges, query, ans], 1).astype(jnp.int32), y


def to_batch(tokens: jax.Array, layout: Layout) -> SeqBatch:
    """A :class:`SeqBatch` (next-token inputs and targets) of original sequences laid out by ``layout``."""
    B = tokens.shape[0]
    seq = tokens[:, jnp.asarray(layout.index)]
    T = seq.shape[1] - 1
    loss = jnp.broadcast_to(jnp.asarray(layout.loss[1:]), (B, T))
    pos = jnp.broadcast_to(jnp.asarray(layout.positions[:-1]), (B, T))
    att = None if layout.attention is None else jnp.broadcast_to(jnp.asarray(layout.attention[:-1, :-1]), (B, T, T))
    first = int(np.argmax(layout.loss[1:]))
    return SeqBatch(seq[:, :-1], seq[:, 1:], loss, jnp.full((B,), T, jnp.int32), jnp.full((B,), first, jnp.int32),
                    jnp.zeros((B,), jnp.int32), jnp.arange(B, dtype=jnp.int32), att, pos)


def cycle_batch(key: jax.Array, batch: int, p: int, q: int, scratchpad: str, names: int) -> SeqBatch:
    """A fresh training/evaluation :class:`SeqBatch` of the cycle task (see :func:`cycle_tokens`)."""
    toks, _ = cycle_tokens(key, batch, p, q, scratchpad, names)
    return to_batch(toks, cycle_layout(p, q, scratchpad))


def decode(tokens, vocab: list[str]) -> list[str]:
    """Token strings of one sequence of ids."""
    return [vocab[int(t)] for t in np.asarray(tokens)]


# ----------------------------------------------------------------------------------------------- parity


def parity_vocab() -> list[str]:
    return list(PARITY_CHARS)


def parity_forms(rng: np.random.Generator, ks, slots: int):
    """Inductive training forms of parity questions with ``k`` bits each (``theory.locality.parity_sample``)."""
    out = []
    for k in ks:
        s = TL.parity_sample(rng, int(k), slots=slots)
        out.append((s, TL.inductive_form_train(s.tokens)))
    return out


def parity_blocks(rng: np.random.Generator, count: int, k_max: int, slots: int):
    """``count`` single-block training views (question + one block) as fixed-shape arrays.

    (k, block) pairs are drawn uniformly among all pairs with 1 <= k <= k_max and 1 <= block <= k + 1, which is
    the full-form training loss (a sum over blocks) of k uniform on 1..k_max, up to a constant factor. Block 1
    (no copy) is right-padded to the common block length with the pad token (no loss, after the block).

    Returns:
        dict of numpy arrays: tokens [count, T+1] int32, loss [count, T+1] bool, positions [count, T+1], and
        attention [count, T+1, T+1] bool.
    """
    vocab = {c: i for i, c in enumerate(PARITY_CHARS)}
    ks = np.arange(1, k_max + 1)
    w = (ks + 1) / (ks + 1).sum()
    width = len(str(slots))
    blk = 2 * (width + 6)  # copy + new state, each "[pp]b,c" + separator
    qlen = slots + 2
    T = qlen + blk
    tok = np.zeros((count, T), np.int32)
    loss = np.zeros((count, T), bool)
    pos = np.tile(np.arange(T), (count, 1))
    att = np.zeros((count, T, T), bool)
    for r in range(count):
        k = int(rng.choice(ks, p=w))
        j = int(rng.integers(1, k + 2))
        s = TL.parity_sample(rng, k, slots=slots)
        form = TL.inductive_form_block(TL.inductive_form_train(s.tokens), j)
        n = len(form.tokens)
        tok[r, :n] = [vocab[c] for c in form.tokens]
        loss[r, :n] = form.loss_mask & (form.groups > 0)
        pos[r, :n] = form.positions
        pos[r, n:] = form.positions[-1] + 1 + np.arange(T - n)
        att[r, :n, :n] = form.attention
        att[r, n:, :] = np.tril(np.ones((T - n, T), bool), k=n)
    return {"tokens": tok, "loss": loss, "positions": pos, "attention": att}


def block_batch(arrays: dict) -> SeqBatch:
    """A :class:`SeqBatch` of single-block views (next-token inputs/targets from :func:`parity_blocks` arrays)."""
    tok = jnp.asarray(arrays["tokens"])
    B, T1 = tok.shape
    T = T1 - 1
    return SeqBatch(tok[:, :-1], tok[:, 1:], jnp.asarray(arrays["loss"][:, 1:]), jnp.full((B,), T, jnp.int32),
                    jnp.zeros((B,), jnp.int32), jnp.zeros((B,), jnp.int32), jnp.arange(B, dtype=jnp.int32),
                    jnp.asarray(arrays["attention"][:, :-1, :-1]), jnp.asarray(arrays["positions"][:, :-1]))


def parity_eval_batch(rng: np.random.Generator, count: int, k: int, slots: int) -> SeqBatch:
    """Full inductive training forms of ``count`` k-bit questions as one batch (teacher-forced evaluation: the
    answer is exactly right iff every loss token is, which equals masked greedy generation's exact match)."""
    vocab = {c: i for i, c in enumerate(PARITY_CHARS)}
    forms = [f for _, f in parity_forms(rng, [k] * count, slots)]
    tok = jnp.asarray(np.array([[vocab[c] for c in f.tokens] for f in forms], np.int32))
    f0 = forms[0]
    T = tok.shape[1] - 1
    loss = jnp.asarray(np.array([f.loss_mask & (f.groups > 0) for f in forms])[:, 1:])
    B = count
    return SeqBatch(tok[:, :-1], tok[:, 1:], loss, jnp.full((B,), T, jnp.int32), jnp.zeros((B,), jnp.int32),
                    jnp.full((B,), k, jnp.int32), jnp.arange(B, dtype=jnp.int32),
                    jnp.broadcast_to(jnp.asarray(f0.attention[:-1, :-1]), (B, T, T)),
                    jnp.broadcast_to(jnp.asarray(f0.positions[:-1]), (B, T)))
