r"""Sequence tasks for decoder-only transformers: one batch format, its loss, accuracies and greedy decoding.

An example is a full token sequence :math:`s_0 \dots s_{L-1}` (a prompt followed by an answer) and a set of
target indices (the answer). A :class:`SeqBatch` stores it for next-token prediction: row inputs
``tokens[t] = s_t`` and ``targets[t] = s_{t+1}`` for ``t < L-1``, and ``loss_mask[t]`` True exactly when
``s_{t+1}`` is a target. Rows are right-padded to a common length ``T`` with a pad token whose loss mask is
False; since attention is causal, padding after a sequence cannot change its logits, so padding never reaches
the loss or the accuracies (up to float summation order in the mean).

Length buckets (``buckets=(16, 32, 64)``) pad every batch to the smallest bucket that fits, so a jitted
function compiles once per bucket rather than once per length.

Metrics, all teacher-forced (the model sees the true prefix): masked cross-entropy (the mean of
:math:`-\log p(s_{t+1} \mid s_{\le t})` over loss-mask tokens), per-token accuracy (argmax correct), and exact
match (every target token of the example correct), each also grouped by an integer label per example
(``groups``, by default the prompt length). Teacher-forced exact match equals greedy-decoding exact match on
the answer: if every argmax along the true answer is right, greedy decoding reproduces the answer, and the
first wrong argmax is also the first wrong generated token.

:func:`greedy_decode` generates with ``lax.scan`` over new tokens on a fixed-size buffer, compiled once per
(bucket, batch size, number of new tokens).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "EvalResult",
    "GroupStats",
    "SeqBatch",
    "batch_logits",
    "bucket_length",
    "bucketize",
    "evaluate",
    "exact_match_generated",
    "greedy_decode",
    "group_stats",
    "make_batch",
    "make_sequence_batch",
    "masked_cross_entropy",
    "sequence_loss",
    "sequence_loss_with_metrics",
    "teacher_forced",
]


class SeqBatch(eqx.Module):
    """A padded batch of next-token examples (a pytree: pass it as ``data`` to ``fit``).

    Attributes:
        tokens: ``[B, T]`` int32 inputs (``s_t``; pad after the sequence).
        targets: ``[B, T]`` int32 next tokens (``s_{t+1}``; pad where undefined).
        loss_mask: ``[B, T]`` bool, True where ``targets`` is an answer (target) token.
        lengths: ``[B]`` int32, number of real input tokens per row (``L - 1``).
        prompt_lengths: ``[B]`` int32, tokens before the first target (the prompt fed to decoding).
        groups: ``[B]`` int32 label for grouped metrics (default: the prompt length).
        index: ``[B]`` int32 position of each example in the list it was built from.
        attn_mask: optional ``[B, T, T]`` bool extra attention mask (AND-ed with causal), else ``None``.
        positions: optional ``[B, T]`` int32 position ids (re-indexing), else ``None`` (``0 .. T-1``).
    """

    tokens: jax.Array
    targets: jax.Array
    loss_mask: jax.Array
    lengths: jax.Array
    prompt_lengths: jax.Array
    groups: jax.Array
    index: jax.Array
    attn_mask: jax.Array | None = None
    positions: jax.Array | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """``(B, T)``."""
        return tuple(self.tokens.shape)


# ------------------------------------------------------------------------------------------------ validation
def _int(name: str, v, low: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {v!r}")
    if low is not None and v < low:
        raise ValueError(f"{name} must be >= {low}, got {v!r}")
    return int(v)


def _token_list(name: str, seq, vocab: int | None) -> list[int]:
    if isinstance(seq, (str, bytes)) or not isinstance(seq, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be a sequence of ints, got {type(seq).__name__}")
    out = []
    for t in list(np.asarray(seq).tolist() if isinstance(seq, np.ndarray) else seq):
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)):
            raise TypeError(f"{name} must contain ints, got {t!r}")
        if t < 0 or (vocab is not None and t >= vocab):
            raise ValueError(f"{name} has token {t} outside [0, {vocab if vocab is not None else 'inf'})")
        out.append(int(t))
    return out


def bucket_length(n: int, buckets: Sequence[int] | None) -> int:
    """The smallest bucket ``>= n`` (``n`` itself when ``buckets`` is ``None``).

    Raises:
        ValueError: ``n < 1``, or no bucket is ``>= n`` (the message gives the largest bucket).
    """
    n = _int("n", n, 1)
    if buckets is None:
        return n
    bs = sorted(_int("buckets entry", b, 1) for b in buckets)
    if not bs:
        raise ValueError("buckets must be non-empty (or None)")
    for b in bs:
        if b >= n:
            return b
    raise ValueError(f"length {n} exceeds the largest bucket {bs[-1]} (buckets={tuple(bs)})")


# ------------------------------------------------------------------------------------------------ building
def make_sequence_batch(
    seqs: Sequence[Sequence[int]],
    target_masks: Sequence[Sequence[bool]],
    *,
    attn_masks: Sequence[np.ndarray] | None = None,
    positions: Sequence[Sequence[int]] | None = None,
    groups: Sequence[int] | None = None,
    index: Sequence[int] | None = None,
    pad: int = 0,
    length: int | None = None,
    buckets: Sequence[int] | None = None,
    vocab: int | None = None,
) -> SeqBatch:
    """Build a :class:`SeqBatch` from full sequences and per-token target flags (the general builder).

    Args:
        seqs: ``B`` token sequences ``s`` (each of length ``L >= 2``, ints in ``[0, vocab)``).
        target_masks: per sequence, ``L`` booleans: ``m[t]`` True when token ``s_t`` is predicted in the loss
            (``m[0]`` must be False: nothing predicts the first token). At least one True per sequence.
        attn_masks: optional per sequence ``[L, L]`` boolean extra attention masks over the full sequence (the
            block mask of an inductive scratchpad); cropped to the ``L-1`` inputs, padding filled with True.
        positions: optional per sequence ``L`` position ids (re-indexing); cropped, padding filled with 0.
        groups: optional int label per sequence for grouped metrics (default: the prompt length, i.e. the index
            of the first target token).
        index: optional int id per sequence (default ``0 .. B-1``).
        pad: pad token id (its loss mask is always False).
        length: row length ``T`` (must be ``>= max(L) - 1``); default the bucket of ``max(L) - 1``.
        buckets: allowed row lengths (see :func:`bucket_length`); ignored when ``length`` is given.
        vocab: if given, every token must be ``< vocab``.

    Returns:
        :class:`SeqBatch` with ``T`` columns.

    Raises:
        TypeError: non-int tokens or labels, a non-sequence argument.
        ValueError: empty input, mismatched lengths, ``L < 2``, no target, a target at index 0, tokens out of
            range, ``length`` too short, or no bucket long enough.
    """
    if isinstance(seqs, (str, bytes)) or not isinstance(seqs, Sequence):
        raise TypeError(f"seqs must be a sequence of token sequences, got {type(seqs).__name__}")
    B = len(seqs)
    if B == 0:
        raise ValueError("seqs must be non-empty, got 0 sequences")
    if len(target_masks) != B:
        raise ValueError(f"target_masks must have one entry per sequence ({B}), got {len(target_masks)}")
    pad = _int("pad", pad, 0)
    if vocab is not None:
        vocab = _int("vocab", vocab, 1)
        if pad >= vocab:
            raise ValueError(f"pad must be < vocab ({vocab}), got {pad}")
    toks = [_token_list(f"seqs[{i}]", s, vocab) for i, s in enumerate(seqs)]
    tms = []
    for i, (s, m) in enumerate(zip(toks, target_masks)):
        m = np.asarray(m)
        if m.shape != (len(s),) or m.dtype != bool:
            raise ValueError(f"target_masks[{i}] must be {len(s)} booleans, got shape {m.shape} dtype {m.dtype}")
        if len(s) < 2:
            raise ValueError(f"seqs[{i}] must have length >= 2, got {len(s)}")
        if m[0]:
            raise ValueError(f"target_masks[{i}][0] must be False (no token predicts the first one)")
        if not m.any():
            raise ValueError(f"target_masks[{i}] has no target token")
        tms.append(m)
    need = max(len(s) for s in toks) - 1
    if length is not None:
        T = _int("length", length, 1)
        if T < need:
            raise ValueError(f"length must be >= {need} (longest sequence - 1), got {T}")
    else:
        T = bucket_length(need, buckets)
    tokens = np.full((B, T), pad, np.int32)
    targets = np.full((B, T), pad, np.int32)
    loss_mask = np.zeros((B, T), bool)
    lengths = np.zeros(B, np.int32)
    plen = np.zeros(B, np.int32)
    for i, (s, m) in enumerate(zip(toks, tms)):
        n = len(s) - 1
        tokens[i, :n] = s[:-1]
        targets[i, :n] = s[1:]
        loss_mask[i, :n] = m[1:]
        lengths[i] = n
        plen[i] = int(np.argmax(m))
    if groups is None:
        grp = plen.copy()
    else:
        if len(groups) != B:
            raise ValueError(f"groups must have one label per sequence ({B}), got {len(groups)}")
        grp = np.array([_int(f"groups[{i}]", g) for i, g in enumerate(groups)], np.int32)
    if index is None:
        idx = np.arange(B, dtype=np.int32)
    else:
        if len(index) != B:
            raise ValueError(f"index must have one id per sequence ({B}), got {len(index)}")
        idx = np.array([_int(f"index[{i}]", g) for i, g in enumerate(index)], np.int32)
    am = None
    if attn_masks is not None:
        if len(attn_masks) != B:
            raise ValueError(f"attn_masks must have one mask per sequence ({B}), got {len(attn_masks)}")
        am = np.ones((B, T, T), bool)
        for i, (s, m) in enumerate(zip(toks, attn_masks)):
            m = np.asarray(m)
            L = len(s)
            if m.shape != (L, L):
                raise ValueError(f"attn_masks[{i}] must have shape ({L}, {L}), got {m.shape}")
            am[i, : L - 1, : L - 1] = m[: L - 1, : L - 1].astype(bool)
    pos = None
    if positions is not None:
        if len(positions) != B:
            raise ValueError(f"positions must have one entry per sequence ({B}), got {len(positions)}")
        pos = np.zeros((B, T), np.int32)
        for i, (s, p) in enumerate(zip(toks, positions)):
            p = _token_list(f"positions[{i}]", p, None)
            if len(p) != len(s):
                raise ValueError(f"positions[{i}] must have {len(s)} entries, got {len(p)}")
            pos[i, : len(s) - 1] = p[:-1]
    return SeqBatch(
        tokens=jnp.asarray(tokens), targets=jnp.asarray(targets), loss_mask=jnp.asarray(loss_mask),
        lengths=jnp.asarray(lengths), prompt_lengths=jnp.asarray(plen), groups=jnp.asarray(grp),
        index=jnp.asarray(idx), attn_mask=None if am is None else jnp.asarray(am),
        positions=None if pos is None else jnp.asarray(pos),
    )


def _split_pairs(pairs, vocab):
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence):
        raise TypeError(f"pairs must be a sequence of (prompt, answer) pairs, got {type(pairs).__name__}")
    seqs, masks = [], []
    for i, pa in enumerate(pairs):
        if not isinstance(pa, (tuple, list)) or len(pa) != 2:
            raise TypeError(f"pairs[{i}] must be a (prompt, answer) pair, got {pa!r}")
        p = _token_list(f"pairs[{i}] prompt", pa[0], vocab)
        a = _token_list(f"pairs[{i}] answer", pa[1], vocab)
        if not p:
            raise ValueError(f"pairs[{i}] has an empty prompt")
        if not a:
            raise ValueError(f"pairs[{i}] has an empty answer")
        seqs.append(p + a)
        masks.append(np.array([False] * len(p) + [True] * len(a)))
    return seqs, masks


def make_batch(
    pairs: Sequence[tuple[Sequence[int], Sequence[int]]],
    *,
    groups: Sequence[int] | None = None,
    index: Sequence[int] | None = None,
    pad: int = 0,
    length: int | None = None,
    buckets: Sequence[int] | None = None,
    vocab: int | None = None,
) -> SeqBatch:
    """Build a :class:`SeqBatch` from ``(prompt, answer)`` token lists; the answer tokens are the targets.

    The sequence is ``prompt + answer``; the loss and accuracies cover exactly the answer tokens. Other
    arguments, the result and the errors as in :func:`make_sequence_batch` (prompt and answer must be
    non-empty).
    """
    seqs, masks = _split_pairs(pairs, vocab)
    return make_sequence_batch(seqs, masks, groups=groups, index=index, pad=pad, length=length,
                               buckets=buckets, vocab=vocab)


def bucketize(
    pairs: Sequence[tuple[Sequence[int], Sequence[int]]],
    buckets: Sequence[int],
    *,
    groups: Sequence[int] | None = None,
    pad: int = 0,
    vocab: int | None = None,
) -> dict[int, SeqBatch]:
    """Split ``(prompt, answer)`` pairs by length bucket: one :class:`SeqBatch` per bucket used.

    Each example goes to the smallest bucket ``>= len(prompt) + len(answer) - 1``; its ``index`` field is its
    position in ``pairs``. A function jitted over these batches compiles once per bucket (and batch size).

    Returns:
        ``{bucket_length: SeqBatch}`` in increasing bucket order.

    Raises:
        ValueError, TypeError: as :func:`make_batch`; an example longer than every bucket.
    """
    if buckets is None:
        raise ValueError("buckets must be a sequence of lengths, got None")
    seqs, masks = _split_pairs(pairs, vocab)
    if groups is not None and len(groups) != len(seqs):
        raise ValueError(f"groups must have one label per pair ({len(seqs)}), got {len(groups)}")
    by: dict[int, list[int]] = {}
    for i, s in enumerate(seqs):
        by.setdefault(bucket_length(len(s) - 1, buckets), []).append(i)
    return {
        T: make_sequence_batch([seqs[i] for i in ids], [masks[i] for i in ids],
                               groups=None if groups is None else [groups[i] for i in ids], index=ids, pad=pad,
                               length=T, vocab=vocab)
        for T, ids in sorted(by.items())
    }


# ------------------------------------------------------------------------------------------------ loss, metrics
def batch_logits(model, batch: SeqBatch) -> jax.Array:
    """Logits ``[B, T, vocab]`` of ``model`` (one-sequence callable ``model(tokens, mask=, positions=)``) on a batch."""
    return jax.vmap(lambda t, m, p: model(t, mask=m, positions=p))(batch.tokens, batch.attn_mask, batch.positions)


def masked_cross_entropy(logits: jax.Array, targets: jax.Array, loss_mask: jax.Array) -> jax.Array:
    r"""Mean next-token cross-entropy over the masked tokens.

    .. math::  \ell = \frac{\sum_{b,t} m_{bt}\,\big(-\log \mathrm{softmax}(z_{bt})_{y_{bt}}\big)}{\max(1, \sum m)}

    Args:
        logits: ``[..., V]``. targets: ``[...]`` ints. loss_mask: ``[...]`` bools.

    Returns:
        a scalar (0 when the mask is empty: there is nothing to predict).
    """
    logp = jax.nn.log_softmax(logits.astype(jnp.promote_types(logits.dtype, jnp.float32)), axis=-1)
    nll = -jnp.take_along_axis(logp, targets[..., None].astype(jnp.int32), axis=-1)[..., 0]
    m = loss_mask.astype(nll.dtype)
    return jnp.sum(nll * m) / jnp.maximum(jnp.sum(m), 1.0)


def sequence_loss(model, batch: SeqBatch) -> jax.Array:
    """``masked_cross_entropy`` of ``model`` on ``batch``: a ``loss_fn(params, batch)`` for ``fit``."""
    return masked_cross_entropy(batch_logits(model, batch), batch.targets, batch.loss_mask)


def sequence_loss_with_metrics(model, batch: SeqBatch) -> tuple[jax.Array, dict[str, jax.Array]]:
    """``(loss, {"token_accuracy", "exact_match"})`` on ``batch``: a ``loss_fn`` for ``fit(..., has_aux=True)``.

    The metrics are teacher-forced means over the masked tokens / over the examples.
    """
    logits = batch_logits(model, batch)
    loss = masked_cross_entropy(logits, batch.targets, batch.loss_mask)
    ok = (jnp.argmax(logits, axis=-1) == batch.targets) | ~batch.loss_mask
    n = jnp.maximum(jnp.sum(batch.loss_mask), 1)
    tok = (jnp.sum(ok & batch.loss_mask) / n).astype(loss.dtype)
    em = jnp.mean(jnp.all(ok, axis=-1)).astype(loss.dtype)
    return loss, {"token_accuracy": tok, "exact_match": em}


@eqx.filter_jit
def _tf_core(model, batch: SeqBatch):
    logits = batch_logits(model, batch)
    logp = jax.nn.log_softmax(logits.astype(jnp.promote_types(logits.dtype, jnp.float32)), axis=-1)
    nll = -jnp.take_along_axis(logp, batch.targets[..., None], axis=-1)[..., 0]
    pred = jnp.argmax(logits, axis=-1).astype(jnp.int32)
    return pred, pred == batch.targets, jnp.sum(jnp.where(batch.loss_mask, nll, 0.0))


def teacher_forced(model, batch: SeqBatch) -> tuple[np.ndarray, np.ndarray]:
    """Teacher-forced argmax predictions: ``(pred[B, T], correct[B, T])`` as numpy (compiled per batch shape).

    ``pred[b, t]`` is the argmax next token after the true prefix ``tokens[b, :t+1]``; ``correct`` compares it
    with ``targets`` (meaningful where ``loss_mask``).
    """
    pred, ok, _ = _tf_core(model, batch)
    return np.asarray(pred), np.asarray(ok)


@dataclasses.dataclass(frozen=True)
class GroupStats:
    """Counts for one group of examples.

    Attributes:
        examples: number of examples. exact: examples with every target token right.
        tokens: target tokens. correct: target tokens right.
    """

    examples: int
    exact: int
    tokens: int
    correct: int

    @property
    def exact_match(self) -> float:
        """``exact / examples``."""
        return self.exact / self.examples if self.examples else float("nan")

    @property
    def token_accuracy(self) -> float:
        """``correct / tokens`` (pooled over the group's tokens)."""
        return self.correct / self.tokens if self.tokens else float("nan")

    def __add__(self, other: GroupStats) -> GroupStats:
        return GroupStats(self.examples + other.examples, self.exact + other.exact, self.tokens + other.tokens,
                          self.correct + other.correct)


def group_stats(correct: np.ndarray, loss_mask: np.ndarray, groups: np.ndarray) -> dict[int, GroupStats]:
    """Exact-match and token counts per group label.

    Args:
        correct: ``[B, T]`` bool, prediction right. loss_mask: ``[B, T]`` bool, target token. groups: ``[B]`` ints.

    Returns:
        ``{label: GroupStats}`` sorted by label. An example is exact when ``correct`` holds on all its masked
        tokens.

    Raises:
        ValueError: shapes disagree.
    """
    correct, loss_mask, groups = np.asarray(correct, bool), np.asarray(loss_mask, bool), np.asarray(groups)
    if correct.shape != loss_mask.shape or correct.ndim != 2 or groups.shape != correct.shape[:1]:
        raise ValueError(f"need correct and loss_mask [B, T] and groups [B], got {correct.shape}, "
                         f"{loss_mask.shape}, {groups.shape}")
    exact = np.all(correct | ~loss_mask, axis=1)
    ntok = loss_mask.sum(1)
    ncor = (correct & loss_mask).sum(1)
    out = {}
    for g in np.unique(groups):
        sel = groups == g
        out[int(g)] = GroupStats(int(sel.sum()), int(exact[sel].sum()), int(ntok[sel].sum()), int(ncor[sel].sum()))
    return out


@dataclasses.dataclass(frozen=True)
class EvalResult:
    """Teacher-forced evaluation (see :func:`evaluate`).

    Attributes:
        loss: mean cross-entropy over all target tokens. total: :class:`GroupStats` over all examples.
        by_group: ``{label: GroupStats}``.
    """

    loss: float
    total: GroupStats
    by_group: dict[int, GroupStats]

    @property
    def exact_match(self) -> float:
        """Fraction of examples with every target token right."""
        return self.total.exact_match

    @property
    def token_accuracy(self) -> float:
        """Fraction of target tokens right."""
        return self.total.token_accuracy


def evaluate(model, batches: SeqBatch | Iterable[SeqBatch] | Mapping[int, SeqBatch]) -> EvalResult:
    """Teacher-forced loss, exact match and per-token accuracy, overall and by group label.

    Args:
        model: one-sequence model (e.g. :class:`~sims.substrate.transformer.Transformer`).
        batches: a :class:`SeqBatch`, several (e.g. the dict from :func:`bucketize`): their counts are pooled.

    Returns:
        :class:`EvalResult`.

    Raises:
        ValueError: no batches.
    """
    if isinstance(batches, SeqBatch):
        batches = [batches]
    elif isinstance(batches, Mapping):
        batches = list(batches.values())
    else:
        batches = list(batches)
    if not batches:
        raise ValueError("batches must contain at least one SeqBatch")
    nll, by = 0.0, {}
    for b in batches:
        _, ok, s = _tf_core(model, b)
        nll += float(s)
        for g, st in group_stats(np.asarray(ok), np.asarray(b.loss_mask), np.asarray(b.groups)).items():
            by[g] = by[g] + st if g in by else st
    by = dict(sorted(by.items()))
    total = GroupStats(0, 0, 0, 0)
    for st in by.values():
        total = total + st
    return EvalResult(loss=nll / max(total.tokens, 1), total=total, by_group=by)


# ------------------------------------------------------------------------------------------------ decoding
@eqx.filter_jit
def _greedy_core(model, buf: jax.Array, plen: jax.Array, n_new: int) -> jax.Array:
    rows = jnp.arange(buf.shape[0])

    def step(buf, k):
        logits = jax.vmap(model)(buf)
        cur = plen - 1 + k
        nxt = jnp.argmax(logits[rows, cur], axis=-1).astype(buf.dtype)
        buf = buf.at[rows, cur + 1].set(nxt, mode="drop")
        return buf, nxt

    _, out = jax.lax.scan(step, buf, jnp.arange(n_new))
    return out.T


def greedy_decode(
    model,
    prompts: Sequence[Sequence[int]],
    max_new: int,
    *,
    stop: int | None = None,
    buckets: Sequence[int] | None = None,
    batch_size: int | None = None,
    pad: int = 0,
) -> list[list[int]]:
    r"""Greedy autoregressive decoding: append :math:`\arg\max_v \mathrm{logits}_{t}(v)` ``max_new`` times.

    Prompts are grouped by the bucket of ``len(prompt) + max_new - 1`` (the inputs ever fed) and decoded in
    chunks of ``batch_size`` rows (the last chunk padded by repeating a row), each chunk by one ``lax.scan``
    over the new tokens on a fixed buffer: the step runs the full causal forward and writes the argmax at the
    last filled position into the next slot. Hence one compilation per (bucket, chunk size, ``max_new``).
    No KV cache: each step costs a full forward of the buffer.

    Args:
        model: one-sequence model ``model(tokens[T]) -> logits[T, V]``.
        prompts: non-empty token lists.
        max_new: tokens to generate per prompt (``>= 1``).
        stop: if given, each output is cut after the first ``stop`` token (included).
        buckets: buffer lengths (see :func:`bucket_length`); default one buffer of the longest need.
        batch_size: rows per compiled call (default: all rows of a bucket at once).
        pad: filler token for unused buffer slots (never seen by a real position, attention is causal).

    Returns:
        one list of generated tokens per prompt, in order (``max_new`` long unless cut at ``stop``).

    Raises:
        TypeError, ValueError: bad prompts (empty, non-int, negative), ``max_new < 1``, ``batch_size < 1``, no
            bucket long enough, or (learned positions) a buffer longer than the model's ``max_len``.
    """
    max_new = _int("max_new", max_new, 1)
    pad = _int("pad", pad, 0)
    if stop is not None:
        stop = _int("stop", stop, 0)
    if batch_size is not None:
        batch_size = _int("batch_size", batch_size, 1)
    if isinstance(prompts, (str, bytes)) or not isinstance(prompts, Sequence) or not prompts:
        raise ValueError(f"prompts must be a non-empty sequence of token lists, got {prompts!r}")
    ps = [_token_list(f"prompts[{i}]", p, None) for i, p in enumerate(prompts)]
    for i, p in enumerate(ps):
        if not p:
            raise ValueError(f"prompts[{i}] is empty")
    need = [len(p) + max_new - 1 for p in ps]
    if buckets is None:
        by = {max(need): list(range(len(ps)))}
    else:
        by = {}
        for i, n in enumerate(need):
            by.setdefault(bucket_length(n, buckets), []).append(i)
    cfg = getattr(model, "config", None)
    if cfg is not None and getattr(cfg, "pos", None) == "learned" and max(by) > cfg.max_len:
        raise ValueError(f"decoding needs a buffer of length {max(by)} > max_len {cfg.max_len} "
                         f"(longest prompt {max(map(len, ps))} + max_new {max_new} - 1)")
    out: list[list[int] | None] = [None] * len(ps)
    for L, ids in sorted(by.items()):
        size = batch_size or len(ids)
        for start in range(0, len(ids), size):
            chunk = ids[start: start + size]
            rows = chunk + [chunk[0]] * (size - len(chunk))
            buf = np.full((size, L), pad, np.int32)
            for r, i in enumerate(rows):
                buf[r, : len(ps[i])] = ps[i]
            plen = np.array([len(ps[i]) for i in rows], np.int32)
            gen = np.asarray(_greedy_core(model, jnp.asarray(buf), jnp.asarray(plen), max_new))
            for r, i in enumerate(chunk):
                g = gen[r].tolist()
                if stop is not None and stop in g:
                    g = g[: g.index(stop) + 1]
                out[i] = g
    return out  # type: ignore[return-value]


def exact_match_generated(generated: Sequence[Sequence[int]], answers: Sequence[Sequence[int]]) -> np.ndarray:
    """Per example, whether the generated tokens start with the whole answer (``[B]`` bool).

    Raises:
        ValueError: different numbers of generated outputs and answers.
    """
    if len(generated) != len(answers):
        raise ValueError(f"generated ({len(generated)}) and answers ({len(answers)}) differ in length")
    return np.array([list(g[: len(a)]) == list(a) for g, a in zip(generated, answers)], bool)
