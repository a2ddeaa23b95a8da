"""Training: the one training loop of theorylab (JAX, optax, ``lax.scan`` over steps, ``vmap`` over seeds).

:func:`fit` runs ``steps`` optimizer steps of ``loss_fn`` inside jitted ``lax.scan`` loops; metrics are
recorded every ``record_every`` steps (and at step 0). With ``batched=True`` parameters, data and keys
carry a leading seed axis and the whole run is ``vmap``-ed, so all seeds train in one compiled program.

With ``optax.sgd(eta)`` and full-batch data, ``fit`` is the forward-Euler discretisation of gradient
flow with time ``t = eta * step``: the setting of every deep-linear theory in this package.

Options for long runs (transformers): a loss returning auxiliary outputs (``has_aux``, recorded beside the
loss), a record function that also sees the optimiser state (``record_opt_state``, e.g. Adam's moments),
a tqdm progress bar (``progress``) and checkpoint/resume (``checkpoint_dir``). The last two run the scan in
chunks of ``chunk`` records from a host loop; the updates are the same. :func:`minibatches` turns a pool of
examples into a ``data(key)`` sampler.

:func:`fit_reference` is the same math as a plain eager Python loop (one seed, one step at a time,
no ``jit``): the baseline of ``python -m sims bench`` and an independent check in the tests.

A run whose loss or parameters become non-finite raises :class:`DivergenceError` with the first bad
step and the records finished before it.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import json
import math
import os
import pathlib
import tempfile
import types
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = ["TrainResult", "DivergenceError", "fit", "fit_reference", "minibatches"]

PyTree = Any

CHECKPOINT_FILE = "fit_checkpoint.npz"


@dataclasses.dataclass
class TrainResult:
    """Outcome of :func:`fit`.

    Attributes:
        params: final parameters (leading seed axis when batched).
        steps: ``(R,)`` step index of each record (0, r, 2r, ..., steps).
        losses: ``(R,)`` or ``(S, R)`` loss at each record (before the update of that step).
        records: ``record_fn(params)`` stacked over records: leaves ``(R, ...)`` or ``(S, R, ...)``.
        aux: with ``has_aux``, the loss's auxiliary output at each record, stacked like ``records``; else ``()``.
        opt_state: the final optimiser state (of the inexact-array part of ``params``), or ``None``.
    """

    params: PyTree
    steps: np.ndarray
    losses: np.ndarray
    records: PyTree
    aux: PyTree = ()
    opt_state: PyTree = None


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


def _make_fns(loss_fn, optimizer, record_every, record_fn, sampled, has_aux, record_opt_state):
    """The three pieces of a run, on the inexact part ``d`` of the parameters (``static`` holds the rest).

    ``init(d, key) -> carry``; ``advance(carry, static, data, js) -> (carry, (losses, records, aux))`` runs the
    record chunks ``js`` (each: record at step ``j * record_every``, then ``record_every`` updates);
    ``final(carry, static, data) -> (loss, record, aux)`` at the last step. ``carry = (d, opt_state, key, bad)``.
    """

    def batch_at(data, key):
        return data(key) if sampled else data

    def loss_aux(d, static, batch):
        out = loss_fn(eqx.combine(d, static), batch)
        return out if has_aux else (out, ())

    def rec(d, static, s):
        if record_fn is None:
            return ()
        p = eqx.combine(d, static)
        return record_fn(p, s) if record_opt_state else record_fn(p)

    def init(d, key):
        return (d, optimizer.init(d), key, jnp.array(-1, dtype=jnp.int32))

    def advance(carry, static, data, js):
        def one_step(carry, i):
            d, s, k, bad = carry
            k, sub = jax.random.split(k)
            batch = batch_at(data, sub)
            (loss, _), g = jax.value_and_grad(loss_aux, has_aux=True)(d, static, batch)
            upd, s = optimizer.update(g, s, d)
            d = optax.apply_updates(d, upd)
            finite = jnp.isfinite(loss) & _tree_finite(d)
            bad = jnp.where((bad < 0) & ~finite, i.astype(bad.dtype), bad)
            return (d, s, k, bad), loss

        def chunk(carry, j):
            d, s, k = carry[0], carry[1], carry[2]
            _, sub = jax.random.split(k)
            loss0, aux0 = loss_aux(d, static, batch_at(data, sub))
            record = rec(d, static, s)
            carry, _ = jax.lax.scan(one_step, carry, j * record_every + jnp.arange(record_every))
            return carry, (loss0, record, aux0)

        return jax.lax.scan(chunk, carry, js)

    def final(carry, static, data):
        d, s, k, _ = carry
        _, sub = jax.random.split(k)
        loss, aux = loss_aux(d, static, batch_at(data, sub))
        return loss, rec(d, static, s), aux

    return init, advance, final


# ------------------------------------------------------------------------------------------- compiled programs
# ``fit`` compiles one program per *structure* of its call, not per call. The loss, optimizer, record function
# and sampler are usually closures built afresh for every call (``lambda p, b: loss(p, b, "jepa")``,
# ``optax.sgd(eta)``), so keying a cache on the objects would never hit. Instead each callable is taken apart
# into a static key (code objects, constants, the identity of anything opaque) and its *values*: Python floats,
# numpy/JAX scalars and arrays found in closures, defaults, tuples, dicts and partials. The values become
# arguments of the compiled program and the callables are rebuilt from the key inside the trace, so two calls
# that differ only in a learning rate (or a data array of the same shape) share one compilation. When a lifted
# value is used where JAX needs a concrete number (``if lr > 0``, a shape), tracing raises and that structure is
# compiled with its values baked in instead (the behaviour before this cache).

_MAX_DEPTH = 12
_MAX_PROGRAMS = 64
_PROGRAMS: collections.OrderedDict = collections.OrderedDict()
_NO_LIFT: set = set()
_CONCRETE_ERRORS = (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError,
                    jax.errors.TracerIntegerConversionError, jax.errors.TracerBoolConversionError)


class _Ref:
    """Identity key that holds its object (so its ``id`` cannot be reused while the key is cached)."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __hash__(self):
        return id(self.obj)

    def __eq__(self, other):
        return isinstance(other, _Ref) and other.obj is self.obj


def _split(obj, leaves: list, lift: bool, path: tuple = ()) -> tuple:
    """Static key of ``obj`` (rebuildable by :func:`_build`); lifted values are appended to ``leaves``."""
    if len(path) > _MAX_DEPTH or id(obj) in path:
        return ("r", _Ref(obj))
    if isinstance(obj, (np.ndarray, np.generic, jax.Array)) and not isinstance(obj, (bool, np.bool_)):
        if lift and (isinstance(obj, jax.Array) or obj.dtype.kind in "fciu"):
            leaves.append(obj)
            return ("x",)
        return ("r", _Ref(obj))
    if type(obj) is float:
        if lift:
            leaves.append(jnp.asarray(obj))  # weakly typed, as the Python constant would be
            return ("x",)
        return ("c", float, obj)
    here = (*path, id(obj))
    if isinstance(obj, types.FunctionType):
        try:
            cells = tuple(c.cell_contents for c in obj.__closure__ or ())
        except ValueError:  # an empty cell (a closure variable not assigned yet)
            return ("r", _Ref(obj))
        return ("f", obj.__code__, _Ref(obj.__globals__), obj.__name__, obj.__qualname__,
                _split(obj.__defaults__, leaves, lift, here), _split(obj.__kwdefaults__, leaves, lift, here),
                tuple(_split(c, leaves, lift, here) for c in cells), _Ref(obj.__dict__) if obj.__dict__ else None)
    if type(obj) is types.MethodType:
        return ("m", _split(obj.__func__, leaves, lift, here), _split(obj.__self__, leaves, lift, here))
    if type(obj) is functools.partial:
        return ("p", _split(obj.func, leaves, lift, here), _split(obj.args, leaves, lift, here),
                _split(obj.keywords, leaves, lift, here))
    if type(obj) in (tuple, list) or (isinstance(obj, tuple) and hasattr(type(obj), "_fields")):
        return ("t", type(obj), tuple(_split(x, leaves, lift, here) for x in obj))
    if type(obj) is dict:
        return ("d", tuple(obj), tuple(_split(v, leaves, lift, here) for v in obj.values()))
    try:
        hash(obj)
    except TypeError:
        return ("r", _Ref(obj))
    if isinstance(obj, eqx.Module):  # modules hash by value but may hold arrays: identity is safe
        return ("r", _Ref(obj))
    return ("c", type(obj), obj)


def _build(node: tuple, leaves):
    """Inverse of :func:`_split`: the object, with the next items of the iterator ``leaves`` as its values."""
    tag = node[0]
    if tag == "x":
        return next(leaves)
    if tag == "c":
        return node[2]
    if tag == "r":
        return node[1].obj
    if tag == "f":
        _, code, glb, name, qualname, defaults, kwdefaults, cells, fdict = node
        defaults, kwdefaults = _build(defaults, leaves), _build(kwdefaults, leaves)
        closure = tuple(types.CellType(_build(c, leaves)) for c in cells) or None
        f = types.FunctionType(code, glb.obj, name, defaults, closure)
        f.__kwdefaults__, f.__qualname__ = kwdefaults, qualname
        if fdict is not None:
            f.__dict__.update(fdict.obj)
        return f
    if tag == "m":
        return types.MethodType(_build(node[1], leaves), _build(node[2], leaves))
    if tag == "p":
        return functools.partial(_build(node[1], leaves), *_build(node[2], leaves), **_build(node[3], leaves))
    if tag == "t":
        items = [_build(x, leaves) for x in node[2]]
        cls = node[1]
        return cls(*items) if cls not in (tuple, list) else cls(items)
    if tag == "d":
        return dict(zip(node[1], [_build(v, leaves) for v in node[2]]))
    raise AssertionError(f"unknown node {tag!r}")


def _programs(fns: tuple, flags: tuple, lift: bool = True) -> tuple[dict, list, tuple]:
    """The jitted programs of a run whose callables are ``fns = (loss_fn, optimizer, record_fn, sampler)``, from
    the cache when a call of the same structure made them; the lifted values to pass them; the cache key."""
    leaves: list = []
    node = _split(fns, leaves, lift)
    key = (node, flags, lift)
    if lift and key in _NO_LIFT:
        return _programs(fns, flags, lift=False)
    progs = _PROGRAMS.get(key)
    if progs is not None:
        _PROGRAMS.move_to_end(key)
        return progs, leaves, key
    record_every, sampled, has_aux, record_opt_state, batched, seed_batch = flags

    def pieces(consts):
        loss_fn, optimizer, record_fn, sampler = _build(node, iter(consts))
        init, advance, final = _make_fns(loss_fn, optimizer, record_every, record_fn, sampled, has_aux,
                                         record_opt_state)
        if batched:
            # if_array(0): equinox modules also carry non-array leaves (activation functions), broadcast unbatched
            data_axis = None if sampled else 0
            init = eqx.filter_vmap(init, in_axes=(0, 0))
            if seed_batch is None:
                advance = eqx.filter_vmap(advance, in_axes=(0, eqx.if_array(0), data_axis, None))
            else:
                advance = _seed_map(advance, seed_batch, sampled)
            final = eqx.filter_vmap(final, in_axes=(0, eqx.if_array(0), data_axis))
        return init, advance, final, sampler

    def whole(consts, dyn, static, data, key, n_rec):
        init, advance, final, sampler = pieces(consts)
        data = sampler if sampled else data
        carry, hist = advance(init(dyn, key), static, data, jnp.arange(n_rec))
        return carry, hist, final(carry, static, data)

    def init_c(consts, dyn, key):
        return pieces(consts)[0](dyn, key)

    def advance_c(consts, carry, static, data, js):
        _, advance, _, sampler = pieces(consts)
        return advance(carry, static, sampler if sampled else data, js)

    def final_c(consts, carry, static, data):
        _, _, final, sampler = pieces(consts)
        return final(carry, static, sampler if sampled else data)

    progs = {"whole": eqx.filter_jit(whole), "init": eqx.filter_jit(init_c),
             "advance": eqx.filter_jit(advance_c), "final": eqx.filter_jit(final_c), "advance_raw": advance_c}
    _PROGRAMS[key] = progs
    while len(_PROGRAMS) > _MAX_PROGRAMS:
        _PROGRAMS.popitem(last=False)
    return progs, leaves, key


def _seed_map(advance, seed_batch: int, sampled: bool):
    """``advance`` over the leading seed axis as ``lax.map`` of ``vmap``-ed groups of ``seed_batch`` seeds (the
    seeds' whole record chunks run group after group) instead of one ``vmap`` over every seed."""

    def mapped(carry, static, data, js):
        dyn_c, st_c = eqx.partition(carry, eqx.is_array)
        dyn_s, st_s = eqx.partition(static, eqx.is_array)
        dyn_d, st_d = eqx.partition(data, eqx.is_array) if not sampled else (None, data)

        def one(xs):
            c, s, d = xs
            return advance(eqx.combine(c, st_c), eqx.combine(s, st_s), eqx.combine(d, st_d) if not sampled else st_d, js)

        carry, hist = jax.lax.map(one, (dyn_c, dyn_s, dyn_d), batch_size=seed_batch)
        return carry, hist

    return mapped


# ------------------------------------------------------------------------------------------------ checkpoints
def _to_host(x):
    if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
        return np.asarray(jax.random.key_data(x))
    return np.asarray(x)


def _save_checkpoint(directory: pathlib.Path, meta: dict, carry, hist_leaves: list[np.ndarray]) -> None:
    """Write ``carry`` (params, optimiser state, key, divergence flag) and the records so far, atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {f"carry_{i}": _to_host(x) for i, x in enumerate(jax.tree_util.tree_leaves(carry))}
    arrays.update({f"hist_{i}": x for i, x in enumerate(hist_leaves)})
    arrays["meta"] = np.array(json.dumps(meta))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".fit_checkpoint.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, directory / CHECKPOINT_FILE)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _load_checkpoint(directory: pathlib.Path, meta: dict, carry_like):
    """Read a checkpoint written for the same run (``meta`` must agree), or ``None`` when there is none."""
    path = directory / CHECKPOINT_FILE
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as z:
        saved = json.loads(str(z["meta"]))
        for k in ("steps", "record_every", "carry_treedef", "carry_shapes", "batched"):
            if saved.get(k) != meta[k]:
                raise ValueError(f"checkpoint {path} was written for {k}={saved.get(k)!r}, this run has "
                                 f"{k}={meta[k]!r}; use another checkpoint_dir or delete the file")
        like, treedef = jax.tree_util.tree_flatten(carry_like)
        leaves = []
        for i, x in enumerate(like):
            a = z[f"carry_{i}"]
            if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
                leaves.append(jax.random.wrap_key_data(jnp.asarray(a), impl=jax.random.key_impl(x)))
            else:
                leaves.append(jnp.asarray(a, dtype=x.dtype))
        hist = [z[f"hist_{i}"] for i in range(saved["n_hist"])]
    return jax.tree_util.tree_unflatten(treedef, leaves), hist, int(saved["done"])


def _progress_bar(progress, total: int):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=progress if isinstance(progress, str) else "fit", unit="step", leave=False)


def fit(
    loss_fn: Callable[[PyTree, PyTree], jax.Array],
    params: PyTree,
    optimizer: optax.GradientTransformation,
    *,
    steps: int,
    data: PyTree | Callable[[jax.Array], PyTree],
    key: jax.Array | None = None,
    record_every: int = 1,
    record_fn: Callable[..., PyTree] | None = None,
    batched: bool = False,
    seed_batch: int | None = None,
    has_aux: bool = False,
    record_opt_state: bool = False,
    progress: bool | str = False,
    chunk: int | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
) -> TrainResult:
    """Minimise ``loss_fn(params, batch)`` with ``optimizer`` for ``steps`` steps.

    Args:
        loss_fn: scalar loss of a parameter pytree (arrays or equinox modules) and a batch; with
            ``has_aux`` it returns ``(loss, aux)`` and only ``loss`` is differentiated.
        params: initial parameters; with ``batched=True`` every array leaf has a leading seed axis.
        optimizer: an optax transformation.
        steps: number of updates; a multiple of ``record_every``.
        data: a fixed batch (full-batch training; leading seed axis when batched), or a callable
            ``data(key) -> batch`` drawing a fresh batch each step (then ``key`` is required); see
            :func:`minibatches`. An ``equinox.Module`` batch (e.g. a ``SeqBatch``) counts as a fixed batch.
        key: PRNG key (``(S, 2)`` keys when batched); needed only for sampled data.
        record_every: record loss and ``record_fn`` every this many steps, and at step 0.
        record_fn: what to record: ``record_fn(params)``, or ``record_fn(params, opt_state)`` with
            ``record_opt_state`` (``opt_state`` is the optax state of the inexact arrays of ``params``, e.g.
            ``opt_state[0].mu`` for ``optax.adam``; non-array leaves are ``None`` there). Default: nothing.
        batched: ``vmap`` over a leading seed axis of ``params``, ``data`` (if an array batch) and ``key``.
        seed_batch: with ``batched``, train the seeds in groups of this many (``lax.map`` over groups, each group
            ``vmap``-ed; the last group may be smaller) instead of all at once. The updates are the same (up to
            float rounding); what changes is the memory each step touches. For memory-bound models (a wide layer on
            a narrow input) a middle size is faster on a CPU: the bottleneck experiment's 24 width-16384 heads
            train 300 steps in 29 s in groups of four, 39 s all at once, 48 s one at a time (2-core machine,
            2026-12-02). Measure before choosing it.
        has_aux: ``loss_fn`` returns ``(loss, aux)``; ``aux`` is recorded like ``records``.
        record_opt_state: call ``record_fn(params, opt_state)`` instead of ``record_fn(params)``.
        progress: show a tqdm bar (a string is its description); runs the scan in chunks from the host.
        chunk: records per host-loop chunk when chunked (default: about 50 chunks); setting it also chunks.
        checkpoint_dir: save parameters, optimiser state, key and records so far to
            ``checkpoint_dir/fit_checkpoint.npz`` every ``checkpoint_every`` chunks and at the end; a later call
            with the same directory, ``steps``, ``record_every`` and parameter shapes resumes from it (and
            returns at once if it had finished). Chunked.
        checkpoint_every: chunks between checkpoints.

    Returns:
        :class:`TrainResult` with ``steps // record_every + 1`` records.

    Raises:
        ValueError: bad ``steps``/``record_every``/``chunk``/``checkpoint_every``, sampled data without ``key``,
            a checkpoint written for another run.
        DivergenceError: non-finite loss or parameters, with the step and the records before it (a chunked
            run stops at the end of the chunk where it happened).
    """
    _validate(steps, record_every)
    steps, record_every = int(steps), int(record_every)
    for name, v in (("chunk", chunk), ("checkpoint_every", checkpoint_every), ("seed_batch", seed_batch)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1):
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    sampled = callable(data) and not isinstance(data, eqx.Module)
    if sampled and key is None:
        raise ValueError("key is required when data is a sampling function")
    if batched and key is None:
        raise ValueError("key is required with batched=True: pass one PRNG key per seed (leading seed axis), "
                         "e.g. key=jax.random.split(jax.random.PRNGKey(0), n_seeds)")
    if key is None:
        key = jax.random.PRNGKey(0)
    n_rec = steps // record_every
    dyn, static = eqx.partition(params, eqx.is_inexact_array)
    rax = 1 if batched else 0  # the record axis of losses/records/aux
    chunked = bool(progress) or chunk is not None or checkpoint_dir is not None
    fns = (loss_fn, optimizer, record_fn, data if sampled else None)
    if seed_batch is not None and not batched:
        raise ValueError(f"seed_batch={seed_batch!r} needs batched=True (it groups the leading seed axis)")
    flags = (record_every, sampled, has_aux, bool(record_opt_state), bool(batched),
             None if seed_batch is None else int(seed_batch))
    arg_data = None if sampled else data
    progs, consts, pkey = _programs(fns, flags)
    while True:
        try:
            if not chunked:
                carry, hist, end = progs["whole"](consts, dyn, static, arg_data, key, n_rec)
            else:
                carry = progs["init"](consts, dyn, key)
                hist_def = jax.tree_util.tree_structure(
                    eqx.filter_eval_shape(progs["advance_raw"], consts, carry, static, arg_data, jnp.arange(1))[1])
            break
        except _CONCRETE_ERRORS:
            if not pkey[2]:
                raise
            # a lifted value is used as a concrete number (``if lr > 0``, a shape): bake the values in instead
            _NO_LIFT.add(pkey)
            _PROGRAMS.pop(pkey, None)
            progs, consts, pkey = _programs(fns, flags, lift=False)

    if not chunked:
        hist = jax.tree_util.tree_map(np.asarray, hist)
        bad = np.atleast_1d(np.asarray(carry[3]))
    else:
        size = int(chunk) if chunk is not None else max(1, math.ceil(n_rec / 50))
        adv_j, fin_j = progs["advance"], progs["final"]
        parts: list[list[np.ndarray]] = []  # per chunk, the flat leaves of (losses, records, aux)
        done, ckpt, meta = 0, None, None
        if checkpoint_dir is not None:
            ckpt = pathlib.Path(checkpoint_dir)
            leaves, tdef = jax.tree_util.tree_flatten(carry)
            meta = {"steps": steps, "record_every": record_every, "batched": bool(batched),
                    "carry_treedef": str(tdef), "carry_shapes": [list(np.shape(x)) for x in leaves]}
            loaded = _load_checkpoint(ckpt, meta, carry)
            if loaded is not None:
                carry, hist_leaves, done = loaded
                if done:
                    parts.append(hist_leaves)
        bar = _progress_bar(progress, steps)
        if bar is not None:
            bar.update(done * record_every)
        try:
            since = 0
            while done < n_rec:
                n = min(size, n_rec - done)
                carry, h = adv_j(consts, carry, static, arg_data, jnp.arange(done, done + n))
                parts.append([np.asarray(x) for x in jax.tree_util.tree_leaves(h)])
                done += n
                since += 1
                diverged = bool(np.any(np.asarray(carry[3]) >= 0))
                if ckpt is not None and (since % checkpoint_every == 0 or done == n_rec or diverged):
                    _save_checkpoint(ckpt, {**meta, "done": done, "n_hist": len(parts[0])}, carry,
                                     _concat(parts, rax))
                    parts = [_concat(parts, rax)]
                if bar is not None:
                    bar.update(n * record_every)
                    bar.set_postfix(loss=float(np.mean(np.asarray(h[0])[..., -1])))
                if diverged:
                    break
        finally:
            if bar is not None:
                bar.close()
        hist = jax.tree_util.tree_unflatten(hist_def, _concat(parts, rax))
        bad = np.atleast_1d(np.asarray(carry[3]))
        end = fin_j(consts, carry, static, arg_data) if not np.any(bad >= 0) else None

    step_idx = np.arange(0, steps + 1, record_every)
    if np.any(bad >= 0):
        losses, records, aux = hist
        seed = int(np.argmax(bad >= 0))
        first = int(bad[seed])
        have = step_idx[: np.shape(losses)[rax]]  # a chunked run stops after the chunk that diverged
        keep = have <= first
        take = (lambda a: a[:, keep]) if batched else (lambda a: a[keep])
        part = TrainResult(None, have[keep], take(losses), jax.tree_util.tree_map(take, records),
                           jax.tree_util.tree_map(take, aux))
        raise DivergenceError(
            f"training diverged at step {first}" + (f" (seed index {seed})" if batched else ""),
            step=first, seed_index=seed if batched else None, partial=part,
        )
    end = jax.tree_util.tree_map(np.asarray, end)
    losses, records, aux = jax.tree_util.tree_map(
        lambda a, b: np.concatenate([a, np.expand_dims(b, rax)], axis=rax), hist, end)
    return TrainResult(eqx.combine(carry[0], static), step_idx, losses, records, aux, carry[1])


def _concat(parts: list[list[np.ndarray]], axis: int) -> list[np.ndarray]:
    if len(parts) == 1:
        return parts[0]
    return [np.concatenate(xs, axis=axis) for xs in zip(*parts)]


def minibatches(pool: PyTree, batch_size: int, *, replace: bool = False) -> Callable[[jax.Array], PyTree]:
    """A ``data(key)`` sampler for :func:`fit`: ``batch_size`` rows of ``pool`` drawn with ``key``.

    Every array leaf of ``pool`` (e.g. a ``SeqBatch``) must share the leading example axis ``N``; the same
    rows are taken from every leaf (``None`` leaves stay ``None``). Without ``replace`` the rows are distinct
    (a uniformly random subset, ``jax.random.choice``); with it, independent uniform draws.

    Returns:
        ``sample(key) -> batch`` (jittable; use it as ``fit(..., data=sample, key=key)``).

    Raises:
        ValueError: ``batch_size < 1``, no array leaf, leaves with different leading sizes, or
            ``batch_size > N`` without ``replace``.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    sizes = {int(np.shape(x)[0]) if np.ndim(x) else None for x in jax.tree_util.tree_leaves(pool)
             if isinstance(x, (jax.Array, np.ndarray))}
    if not sizes:
        raise ValueError("pool must contain at least one array leaf")
    if len(sizes) != 1 or None in sizes:
        raise ValueError(f"pool leaves must share a leading example axis, got leading sizes {sorted(map(str, sizes))}")
    n = sizes.pop()
    if not replace and batch_size > n:
        raise ValueError(f"batch_size ({batch_size}) exceeds the pool size ({n}) without replace")

    def sample(key: jax.Array) -> PyTree:
        idx = jax.random.choice(key, n, (int(batch_size),), replace=replace)
        return jax.tree_util.tree_map(lambda x: jnp.asarray(x)[idx], pool)

    return sample
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
                                  partial=TrainResult(None, np.arange(0, i + 1, record_every)[: len(losses)],
                                                      np.array(losses), records))
    has_records = records and jax.tree_util.tree_leaves(records[0])
    stacked = jax.tree_util.tree_map(lambda *xs: np.stack(xs), *records) if has_records else ()
    return TrainResult(eqx.combine(dyn, static), np.arange(0, steps + 1, record_every), np.array(losses), stacked)
