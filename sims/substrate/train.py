"""Training: the one training loop of theorylab (JAX, optax, ``lax.scan`` over steps, ``vmap`` over seeds).

:func:`fit` runs ``steps`` optimizer steps of ``loss_fn`` inside one jitted ``lax.scan``; metrics are
recorded every ``record_every`` steps (and at step 0). With ``batched=True`` parameters, data and keys
carry a leading seed axis and the whole run is ``vmap``-ed, so all seeds train in one compiled program.

With ``optax.sgd(eta)`` and full-batch data, ``fit`` is the forward-Euler discretisation of gradient
flow with time ``t = eta * step``: the setting of every deep-linear theory in this package.

:func:`fit_reference` is the same math as a plain eager Python loop (one seed, one step at a time,
no ``jit``): the baseline of ``python -m sims bench`` and an independent check in the tests.

A run whose loss or parameters become non-finite raises :class:`DivergenceError` with the first bad
step and the records finished before it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = ["TrainResult", "DivergenceError", "fit", "fit_reference"]

PyTree = Any


@dataclasses.dataclass
class TrainResult:
    """Outcome of :func:`fit`.

    Attributes:
        params: final parameters (leading seed axis when batched).
        steps: ``(R,)`` step index of each record (0, r, 2r, ..., steps).
        losses: ``(R,)`` or ``(S, R)`` loss at each record (before the update of that step).
        records: ``record_fn(params)`` stacked over records: leaves ``(R, ...)`` or ``(S, R, ...)``.
    """

    params: PyTree
    steps: np.ndarray
    losses: np.ndarray
    records: PyTree


class DivergenceError(RuntimeError):
    """The loss or the parameters became non-finite.

    Attributes:
        step: first step whose loss/parameters were non-finite.
        seed_index: batch member that diverged (``None`` when not batched).
        partial: :class:`TrainResult` holding the records strictly before ``step``.
    """

    def __init__(self, msg: str, *, step: int, seed_index: int | None, partial: TrainResult):
        super().__init__(msg)
        self.step = step
        self.seed_index = seed_index
        self.partial = partial


def _validate(steps: int, record_every: int) -> None:
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not isinstance(record_every, (int, np.integer)) or record_every < 1:
        raise ValueError(f"record_every must be a positive int, got {record_every!r}")
    if steps % record_every:
        raise ValueError(f"steps ({steps}) must be a multiple of record_every ({record_every})")


def _tree_finite(tree) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree) if eqx.is_inexact_array(x)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


def _make_run(loss_fn, optimizer, steps, record_every, record_fn, sampled):
    n_rec = steps // record_every
    rec = record_fn if record_fn is not None else (lambda p: ())

    def batch_at(data, key):
        return data(key) if sampled else data

    def run(params, data, key):
        dyn, static = eqx.partition(params, eqx.is_inexact_array)
        opt_state = optimizer.init(dyn)

        def loss_dyn(d, batch):
            return loss_fn(eqx.combine(d, static), batch)

        def one_step(carry, i):
            d, s, k, bad = carry
            k, sub = jax.random.split(k)
            batch = batch_at(data, sub)
            loss, g = jax.value_and_grad(loss_dyn)(d, batch)
            upd, s = optimizer.update(g, s, d)
            d = optax.apply_updates(d, upd)
            finite = jnp.isfinite(loss) & _tree_finite(d)
            bad = jnp.where((bad < 0) & ~finite, i.astype(bad.dtype), bad)
            return (d, s, k, bad), loss

        def chunk(carry, j):
            d = carry[0]
            k = carry[2]
            _, sub = jax.random.split(k)
            loss0 = loss_dyn(d, batch_at(data, sub))
            record = rec(eqx.combine(d, static))
            carry, _ = jax.lax.scan(one_step, carry, j * record_every + jnp.arange(record_every))
            return carry, (loss0, record)

        carry = (dyn, opt_state, key, jnp.array(-1, dtype=jnp.int32))
        carry, (losses, records) = jax.lax.scan(chunk, carry, jnp.arange(n_rec))
        d_final, _, k, bad = carry
        _, sub = jax.random.split(k)
        loss_end = loss_dyn(d_final, batch_at(data, sub))
        rec_end = rec(eqx.combine(d_final, static))
        losses = jnp.concatenate([losses, loss_end[None]])
        records = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b[None]]), records, rec_end)
        return eqx.combine(d_final, static), losses, records, bad

    return run


def fit(
    loss_fn: Callable[[PyTree, PyTree], jax.Array],
    params: PyTree,
    optimizer: optax.GradientTransformation,
    *,
    steps: int,
    data: PyTree | Callable[[jax.Array], PyTree],
    key: jax.Array | None = None,
    record_every: int = 1,
    record_fn: Callable[[PyTree], PyTree] | None = None,
    batched: bool = False,
) -> TrainResult:
    """Minimise ``loss_fn(params, batch)`` with ``optimizer`` for ``steps`` steps.

    Args:
        loss_fn: scalar loss of a parameter pytree (arrays or equinox modules) and a batch.
        params: initial parameters; with ``batched=True`` every array leaf has a leading seed axis.
        optimizer: an optax transformation.
        steps: number of updates; a multiple of ``record_every``.
        data: a fixed batch (full-batch training; leading seed axis when batched), or a callable
            ``data(key) -> batch`` drawing a fresh batch each step (then ``key`` is required).
        key: PRNG key (``(S, 2)`` keys when batched); needed only for sampled data.
        record_every: record loss and ``record_fn(params)`` every this many steps, and at step 0.
        record_fn: what to record from the parameters (default: nothing but the loss).
        batched: ``vmap`` over a leading seed axis of ``params``, ``data`` (if an array batch) and ``key``.

    Returns:
        :class:`TrainResult` with ``steps // record_every + 1`` records.

    Raises:
        ValueError: bad ``steps``/``record_every``, sampled data without ``key``.
        DivergenceError: non-finite loss or parameters, with the step and the records before it.
    """
    _validate(steps, record_every)
    sampled = callable(data) and not isinstance(data, eqx.Module)
    if sampled and key is None:
        raise ValueError("key is required when data is a sampling function")
    if key is None:
        key = jax.random.PRNGKey(0)
    run = _make_run(loss_fn, optimizer, int(steps), int(record_every), record_fn, sampled)
    if batched:
        data_axis = None if sampled else 0
        # if_array(0): equinox modules also carry non-array leaves (activation functions), broadcast unbatched
        run = eqx.filter_vmap(run, in_axes=(eqx.if_array(0), data_axis, 0))
    final, losses, records, bad = eqx.filter_jit(run)(params, data, key)
    losses = np.asarray(losses)
    records = jax.tree_util.tree_map(np.asarray, records)
    bad = np.atleast_1d(np.asarray(bad))
    step_idx = np.arange(0, steps + 1, record_every)
    if np.any(bad >= 0):
        seed = int(np.argmax(bad >= 0))
        first = int(bad[seed])
        keep = step_idx <= first
        if batched:
            part = TrainResult(None, step_idx[keep], losses[:, keep], jax.tree_util.tree_map(lambda a: a[:, keep], records))
        else:
            part = TrainResult(None, step_idx[keep], losses[keep], jax.tree_util.tree_map(lambda a: a[keep], records))
        raise DivergenceError(
            f"training diverged at step {first}" + (f" (seed index {seed})" if batched else ""),
            step=first, seed_index=seed if batched else None, partial=part,
        )
    return TrainResult(final, step_idx, losses, records)


def fit_reference(
    loss_fn: Callable[[PyTree, PyTree], jax.Array],
    params: PyTree,
    optimizer: optax.GradientTransformation,
    *,
    steps: int,
    data: PyTree,
    record_every: int = 1,
    record_fn: Callable[[PyTree], PyTree] | None = None,
) -> TrainResult:
    """The same full-batch updates as :func:`fit`, as an eager per-step Python loop (no jit, one seed).

    Slow by design: the baseline for the benchmark and a second method for tests. Arguments and
    result as in :func:`fit` (fixed batch only).
    """
    _validate(steps, record_every)
    dyn, static = eqx.partition(params, eqx.is_inexact_array)
    state = optimizer.init(dyn)
    rec = record_fn if record_fn is not None else (lambda p: ())

    def loss_dyn(d):
        return loss_fn(eqx.combine(d, static), data)

    grad = jax.value_and_grad(loss_dyn)
    losses, records = [], []
    for i in range(steps + 1):
        if i % record_every == 0:
            losses.append(float(loss_dyn(dyn)))
            records.append(jax.tree_util.tree_map(np.asarray, rec(eqx.combine(dyn, static))))
        if i == steps:
            break
        loss, g = grad(dyn)
        upd, state = optimizer.update(g, state, dyn)
        dyn = optax.apply_updates(dyn, upd)
        if not (np.isfinite(float(loss)) and bool(_tree_finite(dyn))):
            raise DivergenceError(f"training diverged at step {i}", step=i, seed_index=None,
                                  partial=TrainResult(None, np.arange(0, i + 1, record_every)[: len(losses)], np.array(losses), records))
    stacked = jax.tree_util.tree_map(lambda *xs: np.stack(xs), *records) if records and jax.tree_util.tree_leaves(records[0]) else ()
    return TrainResult(eqx.combine(dyn, static), np.arange(0, steps + 1, record_every), np.array(losses), stacked)
