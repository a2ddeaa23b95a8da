"""Training units of the locality experiment: one ``fn(cfg, seeds) -> [result per seed]`` per trained family,
each a single vmapped call of :func:`sims.substrate.train.fit` on the substrate transformer."""

from __future__ import annotations

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from sims.substrate.sequences import SeqBatch, batch_logits, sequence_loss
from sims.substrate.train import fit
from sims.substrate.transformer import Transformer, TransformerConfig
from theory import locality as TL

from . import data as D


def exact_match(model, batch: SeqBatch) -> jax.Array:
    """Teacher-forced exact match: the fraction of examples whose every target token is the argmax.

    It equals greedy generation's exact match (the first wrong argmax is the first wrong generated token); for
    the inductive layout it equals masked generation, whose logits equal those of the trained block
    (``theory.locality.inductive_form_generate``)."""
    ok = (jnp.argmax(batch_logits(model, batch), axis=-1) == batch.targets) | ~batch.loss_mask
    return jnp.mean(jnp.all(ok, axis=-1))


_exact_match_jit = eqx.filter_jit(exact_match)


def _models(cfg: dict, vocab: int, max_len: int, seeds) -> Transformer:
    tc = TransformerConfig(vocab=vocab, d_model=cfg["d_model"], n_heads=cfg["n_heads"], n_layers=cfg["n_layers"],
                           max_len=max_len)
    keys = jnp.stack([jax.random.PRNGKey(int(s)) for s in seeds])
    return eqx.filter_vmap(lambda k: Transformer(tc, key=k))(keys)


def _optimizer(cfg: dict) -> optax.GradientTransformation:
    sched = optax.join_schedules([optax.linear_schedule(0.0, cfg["lr"], cfg["warmup"]),
                                  optax.constant_schedule(cfg["lr"])], [cfg["warmup"]])
    return optax.adamw(sched, b1=0.9, b2=0.99, weight_decay=cfg["weight_decay"])


def _pad_batch(b: SeqBatch, T: int) -> SeqBatch:
    """Right-pad a batch to T inputs: pad tokens/targets, no loss, pad positions after the last one, and an explicit
    all-True extra mask where there was none (causality still applies, so padding never reaches real tokens)."""
    B, t = b.tokens.shape
    if t > T:
        raise ValueError(f"batch length {t} exceeds the common length {T}")
    pad = T - t

    def ext(x, v):
        return jnp.concatenate([x, jnp.full((B, pad), v, x.dtype)], axis=1)

    pos = b.positions if b.positions is not None else jnp.broadcast_to(jnp.arange(t, dtype=jnp.int32), (B, t))
    pos = jnp.concatenate([pos, jnp.broadcast_to(t + jnp.arange(pad, dtype=pos.dtype), (B, pad))], axis=1)
    att = b.attn_mask if b.attn_mask is not None else jnp.ones((B, t, t), bool)
    att = jnp.pad(att, ((0, 0), (0, pad), (0, pad)), constant_values=True)
    return SeqBatch(ext(b.tokens, D.PAD), ext(b.targets, D.PAD), ext(b.loss_mask, False), b.lengths,
                    b.prompt_lengths, b.groups, b.index, att, pos)


def cycle_unit(cfg: dict, seeds) -> list[dict]:
    """Train every cycle-task family of ``cfg["families"]`` for every seed in ONE vmapped :func:`fit` (one compile):
    member = (seed, family); a member draws fresh batches of its own family (all families padded to one length);
    the exact-match accuracy on a fixed evaluation batch of the family (and of its ``test`` split, if any) is
    recorded every ``record_every`` steps.

    cfg keys: families (list of {key, p, q, scratchpad[, test_p, test_q]}), names, steps, batch, record_every,
    eval_size, lr, warmup, weight_decay, d_model, n_heads, n_layers, mvt_count.
    Returns per seed: {"steps": [R], family key: {"acc": [R], "acc_test": [R] or [0], "loss": [R]
    (inductive: also "mvt_diff", "mvt_prefixes")}}.
    """
    fams, names, B = cfg["families"], cfg["names"], cfg["batch"]
    lays = [D.cycle_layout(f["p"], f["q"], f["scratchpad"]) for f in fams]
    tests = [D.cycle_layout(f["test_p"], f["test_q"], f["scratchpad"]) if f.get("test_p") else None for f in fams]
    T = max([lay.index.size for lay in lays] + [t.index.size for t in tests if t is not None]) - 1
    ekey = jax.random.PRNGKey(10_000)

    def gen(f, key, size, test=False):
        p, q = (f["test_p"], f["test_q"]) if test else (f["p"], f["q"])
        return _pad_batch(D.cycle_batch(key, size, p, q, f["scratchpad"], names), T)

    ev = [gen(f, jax.random.fold_in(ekey, i), cfg["eval_size"]) for i, f in enumerate(fams)]
    ev_t = [gen(f, jax.random.fold_in(ekey, 100 + i), cfg["eval_size"], test=True) if f.get("test_p") else ev[i]
            for i, f in enumerate(fams)]
    ev_s = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *ev)
    ev_ts = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *ev_t)
    gens = [functools.partial(gen, f, size=B) for f in fams]

    members = [(s, i) for s in seeds for i in range(len(fams))]
    models = _models(cfg, len(D.CYCLE_SPECIAL) + names, T + 1, [1000 * s + i for s, i in members])
    params = {"model": models, "family": jnp.array([i for _, i in members], jnp.int32)}

    def loss(prm, key):
        batch = jax.lax.switch(prm["family"], gens, key)
        return sequence_loss(prm["model"], batch)

    def record(prm):
        pick = functools.partial(jax.tree_util.tree_map, lambda x: x[prm["family"]])
        return exact_match(prm["model"], pick(ev_s)), exact_match(prm["model"], pick(ev_ts))

    keys = jnp.stack([jax.random.fold_in(jax.random.PRNGKey(int(s)), 7 + i) for s, i in members])
    res = fit(loss, params, _optimizer(cfg), steps=cfg["steps"], data=lambda k: k, key=keys, batched=True,
              record_every=cfg["record_every"], record_fn=record)
    acc, acc_t = (np.asarray(r) for r in res.records)
    losses = np.asarray(res.losses)
    out = {s: {"steps": np.asarray(res.steps)} for s in seeds}
    for j, (s, i) in enumerate(members):
        f = fams[i]
        r = {"acc": acc[j], "acc_test": acc_t[j] if f.get("test_p") else np.zeros(0), "loss": losses[j]}
        if f["scratchpad"] == "inductive" and cfg.get("mvt_count", 0) and not f.get("test_p"):  # cycle families
            m = jax.tree_util.tree_map(lambda x: x[j] if eqx.is_array(x) else x, res.params["model"])
            r["mvt_diff"], r["mvt_prefixes"] = masked_vs_trimmed(m, f["p"], f["q"], names, count=cfg["mvt_count"])
        out[s][f["key"]] = r
    return [out[s] for s in seeds]


def masked_vs_trimmed(model, p: int, q: int, names: int, *, count: int = 3, key: int = 123) -> tuple[float, int]:
    """Largest |difference| between the next-token logits of the masked generation view
    (:func:`theory.locality.inductive_form_generate`) and of the trimmed context (:func:`theory.locality.inductive_trim`)
    over every generation prefix of ``count`` inductive cycle-task sequences. Returns (max |diff|, prefixes).

    All views are right-padded to one length (padding after the last real token cannot change its logits under
    the causal mask) and run in one compiled batch per kind."""
    vocab = D.cycle_vocab(names)
    ids = {t: i for i, t in enumerate(vocab)}
    toks, _ = D.cycle_tokens(jax.random.PRNGKey(key), count, p, q, "inductive", names)
    plen = D.cycle_layout(p, q, "inductive").prompt_len
    views = {"masked": [], "trimmed": []}
    for row in np.asarray(toks):
        s = D.decode(row, vocab)
        for cut in range(plen, len(s)):
            g = TL.inductive_form_generate(s[:cut])
            views["masked"].append(([ids[t] for t in g.tokens], g.positions, g.attention))
            tt, tpos = TL.inductive_trim(s[:cut])
            views["trimmed"].append(([ids[t] for t in tt], tpos, np.tril(np.ones((len(tt), len(tt)), bool))))
    L = max(len(v[0]) for v in views["masked"])
    last = {}
    for kind, vs in views.items():
        tok = np.zeros((len(vs), L), np.int32)
        pos = np.tile(np.arange(L), (len(vs), 1))
        att = np.tile(np.tril(np.ones((L, L), bool)), (len(vs), 1, 1))
        end = np.zeros(len(vs), np.int32)
        for r, (t, ps, a) in enumerate(vs):
            n = len(t)
            tok[r, :n], pos[r, :n], att[r, :n, :n], end[r] = t, ps, a, n - 1
            pos[r, n:] = np.arange(L - n)  # pad positions: any valid ids (they sit after the last real token)
        lg = _views_logits(model, jnp.asarray(tok), jnp.asarray(att), jnp.asarray(pos))
        last[kind] = np.asarray(lg)[np.arange(len(vs)), end]
    return float(np.max(np.abs(last["masked"] - last["trimmed"]))), len(views["masked"])


@eqx.filter_jit
def _views_logits(model, tok, att, pos):
    return jax.vmap(lambda t, a, p: model(t, mask=a, positions=p))(tok, att, pos)


def parity_unit(cfg: dict, seeds) -> list[dict]:
    """Length generalization of inductive parity: train on single-block views of questions with 1..k_train bits
    (a fixed pool, as the paper's fixed dataset), evaluate the exact match of full answers at each test k.

    cfg keys: slots, k_train, test_ks, pool, steps, batch, record_every, eval_size, lr, warmup, weight_decay,
    d_model, n_heads, n_layers. Returns per seed: {"ks", "acc" (final exact match per k), "steps", "acc_train"}.
    """
    slots, kt = cfg["slots"], cfg["k_train"]
    rng = np.random.default_rng(int(cfg.get("pool_seed", 0)))
    pool = D.parity_blocks(rng, cfg["pool"], kt, slots)
    pool_j = {k: jnp.asarray(v) for k, v in pool.items()}
    ks = list(cfg["test_ks"])
    width = len(str(slots))
    max_len = slots + 2 + (max(ks) + 1) * 2 * (width + 6)
    vocab = len(D.PARITY_CHARS)
    models = _models(cfg, vocab, max_len, seeds)
    erng = np.random.default_rng(20_000)
    evals = {k: D.parity_eval_batch(erng, cfg["eval_size"], k, slots) for k in ks}
    ev_train = D.parity_eval_batch(erng, cfg["eval_size"], kt, slots)
    B = cfg["batch"]

    def draw(k):
        idx = jax.random.randint(k, (B,), 0, pool["tokens"].shape[0])
        return D.block_batch({n: v[idx] for n, v in pool_j.items()})

    keys = jnp.stack([jax.random.fold_in(jax.random.PRNGKey(int(s)), 11) for s in seeds])
    res = fit(sequence_loss, models, _optimizer(cfg), steps=cfg["steps"], data=draw, key=keys, batched=True,
              record_every=cfg["record_every"], record_fn=lambda m: exact_match(m, ev_train))
    out = []
    for i in range(len(seeds)):
        m = jax.tree_util.tree_map(lambda x: x[i] if eqx.is_array(x) else x, res.params)
        acc = np.array([float(_exact_match_jit(m, evals[k])) for k in ks])
        out.append({"ks": np.array(ks), "acc": acc, "steps": np.asarray(res.steps),
                    "acc_train": np.asarray(res.records)[i]})
    return out


def steps_to(acc: np.ndarray, steps: np.ndarray, level: float) -> float:
    """First recorded step with accuracy >= level (inf when never: a censored run)."""
    hit = np.nonzero(np.asarray(acc) >= level)[0]
    return float(steps[hit[0]]) if hit.size else math.inf
