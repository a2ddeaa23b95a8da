r"""Abstract symbols in template tasks (Boix-Adserà et al., "When can transformers reason with abstract symbols?",
ICLR 2024, arXiv:2310.09753): regression on templates, the MLP failure, the two trainable scalars per head, and the
inverse scaling law of next-token copying.

**Parts.**

1. *Regression, ABA vs ABB* (labels +1 / -1, test strings of tokens never seen in training, ``n`` = training
   samples = training alphabet size, the paper's convention). Test MSE against n for the substrate transformer
   (:class:`sims.substrate.transformer.Transformer`: 2 pre-LN blocks, causal attention, a CLS token appended at the
   end and read out through one column of the unembedding after the final norm, i.e. a linear head on
   LN(h_CLS)), the same with the trainable query-key identity :math:`W_QW_K^\top+aI` (+a I), the value-output
   identity :math:`W_VW_O+bI` (+b I), both, a fully-connected network on the concatenated one-hot tokens (MLP),
   and the same MLP on :math:`[x,\mathrm{vec}(XX^\top)]`. All transformer variants, n values and seeds train in ONE
   vmapped :func:`sims.substrate.train.fit`: every model carries both scalars, and a per-model 0/1 gate multiplies
   them (gate 0: the scalar stays exactly 0, where the head is the plain one). Each model's training pool
   (padded to the largest n) rides in its parameter pytree as integer leaves; minibatches are drawn uniformly
   from its first n rows, so every n costs the same per step and one compilation serves all.
2. *Last-layer training against initialisation scale* (the paper's random-features analysis): the transformer
   at its initialisation with every weight matrix scaled by c, only the linear read-out fitted (ridge least
   squares on the CLS features), test MSE against n for several c. The kernel theory (:mod:`theory.symbols`)
   says the template signal sits in high-order (β, γ) terms of the kernel, so a larger init (larger effective
   β, γ) helps.
3. *Next-token copy* (template "A q -> A": a fresh wildcard token followed by a fixed query token, the label is
   the wildcard; tied embeddings, cross-entropy over the whole vocabulary, test = fresh tokens). Test error
   against n for several embedding dimensions d, the 0.5-crossing n* against d with its log-log slope, against
   the n/d projected-energy law of :func:`theory.symbols.projected_energy_fraction` (slope 1); and the same model
   with the value-output identity b I, which should copy with few samples at every d.
4. *Theory checks*: the kernel gap :math:`\kappa(\mathrm{ABA},\mathrm{A'B'A'})-\kappa(\mathrm{ABA},
   \mathrm{A'B'B'})` by Monte Carlo (positive, growing with β: the kernel separates templates of fresh tokens),
   and the projected-energy law n/d by Monte Carlo.

**Protocol choices made here** (the paper's configs live in an unavailable notebook): Adam at lr 1e-3 (the
paper's default), minibatches of 32, PyTorch-like initialisation (token and position embeddings N(0, 1), weight
matrices N(0, 1/(3d)), the std of PyTorch's default uniform init); the identity scalars are multiplied by fixed
constants as in the paper's code (``wkwq_id_mult``, ``wvwo_id_mult``; 1 for a, ``copy_b_mult`` = 100 for b in
the copy task, which under Adam is a 100x learning rate on b; with multiplier 1 b does not grow before the
model memorises the training tokens); copy errors are read at the record with the lowest validation error
(a validation split of its own fresh tokens, as the paper's generator provides). The causal substrate
transformer differs from the paper's bidirectional ViT-style blocks; with the CLS token last it sees every token.

**Scales.** ``default`` (CPU): ABA vs ABB with n in {64, 512, 4096}, d = 32, 600 steps, 2 seeds, the plain, +a I
and +b I transformers (+a I, +b I together only in the paper preset: no default claim reads it); MLPs at
n in {64, 256, 1024}; last-layer features of width 128; copy with d in {32, 64, 128}, n = 64..1024 (plain) and
n in {4, 16} (+b I), one layer, 400 steps, 2 seeds. Five compilations of vmapped training loops (regression, MLPs,
copy at three d) take a large share of the time: the whole default run took 135 s cold (58 s of it compiling)
beside another experiment in the 2-process report on the 2-core machine (2026-12-02), under the 180 s budget.
The steps are not cut: the regression test MSE still
falls between steps 400 and 600 at n = 4096 (plain 0.12 -> 0.07, +b I 0.13 -> 0.09; the +a I and n <= 512 curves are
flat from step 300), and the copy errors of the plain model still fall between steps 240 and 400 (e.g. d = 128,
n = 512: 0.44 -> 0.34), so fewer steps would move n* and the sample ratios. ``paper``: adds same/different and
majority tasks, n up to 16384 at d = 128, copy with d = 64..1024 and n up to 4096, two layers, 3 seeds; sized for one
GPU but not timed (no GPU was available). ``quick``: a few hundred steps of each part (about 2 min of CPU time, a
slow test).

**Measured at the default scale** (seeds 0, 1): MLP test MSE 1.00 / 1.01 / 0.99 at n = 64 / 256 / 1024 (paper
about 1.00), MLP on [x, XX^T] <= 0.003 (paper 0.01-0.14); transformer test MSE 1.65 / 0.50 / 0.07 at n = 64 / 512 /
4096 (+a I: 1.66 / 0.11 / 0.01; +b I: 1.68 / 0.40 / 0.13), so +a I reaches at n = 512 the MSE the plain model needs
n = 3272 for (6.4x; paper about 30x); last layer only at n = 4096: 1.01 / 0.72 / 0.73 at init x1 / x8 / x64 (paper
1.0 / 0.37 / 0.18); copy crossings n* = 182 / 274 / 463 at d = 32 / 64 / 128 (n*/d = 5.7 / 4.3 / 3.6, slope 0.67;
paper n* about d/3, slope 0.9-1.0 over its whole range, 0.58 over d = 64..256), +b I error at n = 16: 0.14 / 0.00 /
0.00. The +b I failure at d = 32 is not a bug in b: b reaches the same effective size (about 1) at every d, and at
d = 32 the error falls with n (0.63 / 0.12 / 0.045 / 0.026 at n = 4 / 16 / 64 / 256, 2 seeds, measured separately).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from theory import symbols as TS

from .harness.experiment import Claim, Config, Experiment, register
from .substrate.measure import first_crossing
from .substrate.networks import ntk_mlp_apply, ntk_mlp_init
from .substrate.train import fit
from .substrate.transformer import Transformer, TransformerConfig

__all__ = ["SymbolsConfig", "SymbolsExperiment", "regression_unit", "mlp_unit", "lastlayer_unit", "copy_unit",
           "theory_unit", "VARIANTS", "PAPER"]

VARIANTS = (("transformer", 0, 0), ("+a I (KQ)", 1, 0), ("+b I (VO)", 0, 1), ("+a I, +b I", 1, 1))
"""Transformer variants: (label, gate of a, gate of b)."""

PAPER = {
    # test MSE against n, ABA vs ABB (the paper's architecture comparison figure, mean curves)
    "n": [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192],
    "transformer": [1.03, 1.03, 0.98, 1.00, 0.94, 0.78, 0.65, 0.13, 0.01, 0.00, 0.00],
    "+a I (KQ)": [0.70, 0.63, 0.03, 0.04, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00],
    "+b I (VO)": [1.01, 0.97, 0.97, 0.98, 1.05, 0.75, 0.14, 0.00, 0.02, 0.00, 0.00],
    "+a I, +b I": [0.89, 0.47, 0.59, 0.01, 0.01, 0.00, 0.00, 0.03, 0.00, 0.00, 0.00],
    "mlp": [1.02, 1.01, 1.00, 1.02, 1.00, 1.00, 1.01, 1.00, 1.00, 1.01, 1.02],
    # MLP + XX^T augmentation (its own figure): n -> MSE
    "mlp_xxt": {4: 0.14, 32: 0.13, 256: 0.14, 2048: 0.03, 8192: 0.01},
    # last-layer training vs init scale: scale -> {n: MSE}
    "lastlayer": {1: {64: 1.0, 512: 1.0, 4096: 1.0, 16384: 1.0}, 8: {64: 0.80, 512: 0.69, 4096: 0.37, 16384: 0.30},
                  64: {64: 0.56, 512: 0.28, 4096: 0.18, 16384: 0.12}},
    # other tasks (test MSE against n): same/different and majority, plain transformer and +a I, +b I
    "tasks": {
        "same_different": {"transformer": {64: 0.95, 128: 0.81, 256: 0.66, 512: 0.45, 1024: 0.18, 2048: 0.04,
                                           4096: 0.00},
                           "+a I, +b I": {4: 0.89, 8: 0.69, 16: 0.59, 32: 0.19, 64: 0.03, 128: 0.01}},
        "majority_2": {"transformer": {8: 1.07, 32: 0.95, 128: 0.81, 512: 0.26, 2048: 0.04, 8192: 0.00},
                       "+a I, +b I": {8: 0.81, 32: 0.48, 128: 0.04, 512: 0.03, 2048: 0.01, 8192: 0.00}},
        "majority_4": {"transformer": {8: 1.04, 32: 1.09, 128: 1.03, 512: 1.05, 2048: 0.85, 8192: 0.00},
                       "+a I, +b I": {8: 1.05, 32: 1.00, 128: 0.82, 512: 0.13, 2048: 0.01, 8192: 0.01}},
        "majority_6": {"transformer": {8: 1.06, 32: 1.04, 128: 1.06, 512: 1.05, 2048: 1.13, 8192: 1.02},
                       "+a I, +b I": {8: 1.03, 32: 1.01, 128: 0.97, 512: 0.58, 2048: 0.15, 8192: 0.00}},
        "majority_8": {"transformer": {8: 1.05, 32: 1.06, 128: 1.07, 512: 1.11, 2048: 1.07, 8192: 1.15},
                       "+a I, +b I": {8: 1.07, 32: 1.12, 128: 1.07, 512: 0.70, 2048: 0.44, 8192: 0.03}},
    },
    # copy: 0.5-crossing n* per embedding dimension (read off the transformer_copy_fail figure)
    "copy_nstar": {64: 40, 128: 55, 256: 90, 512: 170, 1024: 400, 2048: 700, 4096: 1400},
}


@dataclasses.dataclass(frozen=True)
class SymbolsConfig(Config):
    """Configuration of the ``symbols`` experiment.

    Attributes:
        n_seeds: seeds used (at most the run's).
        reg_tasks: regression tasks (names of :data:`theory.symbols.NAMED_TASKS`; ``"majority_k"`` for length k).
        reg_ns: training sample counts n (= training alphabet sizes).
        reg_variants: indices into :data:`VARIANTS` trained in regression (default: plain, +a I, +b I; the paper
            preset adds +a I, +b I together, which no default claim reads).
        reg_d, reg_layers, reg_heads: transformer width, depth, heads (regression).
        reg_steps, reg_batch, reg_lr: Adam steps, minibatch size, learning rate (regression, transformers and MLPs).
        n_test: test strings (each of fresh tokens; also the size of the test alphabet).
        a_mult: fixed multiplier of a (the paper's ``wkwq_id_mult``); b uses 1 in regression.
        mlp_ns, mlp_width, mlp_depth, mlp_steps: sample counts, hidden width, hidden layers and Adam steps of the
            MLP baselines.
        ll_d, ll_scales, ll_ns, ll_ridge: last-layer training: width, init scales c, sample counts, ridge.
        copy_ds, copy_ns, copy_vo_ns: embedding dimensions, sample counts of the plain model and of the +b I model.
        copy_layers, copy_heads, copy_steps, copy_lr, copy_b_mult, copy_records: copy model and training.
        kernel_betas, kernel_draws: the kernel-gap check.
        energy_pairs, energy_draws: the projected-energy check, ``(n, d)`` pairs.
    """

    n_seeds: int = 2
    reg_tasks: tuple[str, ...] = ("aba_vs_abb",)
    reg_ns: tuple[int, ...] = (64, 512, 4096)
    reg_variants: tuple[int, ...] = (0, 1, 2)
    reg_d: int = 32
    reg_layers: int = 2
    reg_heads: int = 4
    reg_steps: int = 600
    reg_batch: int = 32
    reg_lr: float = 1e-3
    n_test: int = 256
    a_mult: float = 1.0
    mlp_ns: tuple[int, ...] = (64, 256, 1024)
    mlp_width: int = 64
    mlp_steps: int = 400
    mlp_depth: int = 2
    ll_d: int = 128
    ll_scales: tuple[float, ...] = (1.0, 8.0, 64.0)
    ll_ns: tuple[int, ...] = (64, 512, 4096)
    ll_ridge: float = 1e-3
    copy_ds: tuple[int, ...] = (32, 64, 128)
    copy_ns: tuple[int, ...] = (64, 128, 256, 512, 1024)
    copy_vo_ns: tuple[int, ...] = (4, 16)
    copy_layers: int = 1
    copy_heads: int = 4
    copy_steps: int = 400
    copy_lr: float = 1e-3
    copy_b_mult: float = 100.0
    copy_records: int = 5
    kernel_betas: tuple[float, ...] = (1.0, 2.0, 3.0)
    kernel_draws: int = 40_000
    energy_pairs: tuple[tuple[int, int], ...] = ((8, 64), (32, 64), (64, 256))
    energy_draws: int = 200

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "quick": dict(n_seeds=1, reg_ns=(64, 512), mlp_ns=(64, 512), reg_steps=200, mlp_steps=100,
                      ll_ns=(64, 256), ll_d=64, copy_ds=(32, 64), copy_ns=(16, 64, 256), copy_vo_ns=(16,),
                      copy_steps=150, copy_records=3, kernel_draws=20_000, energy_pairs=((8, 32),),
                      energy_draws=100, mlp_width=32),
        "default": {},
        "paper": dict(n_seeds=3, reg_variants=(0, 1, 2, 3),
                      reg_tasks=("aba_vs_abb", "same_different", "majority_4", "majority_6"),
                      reg_ns=(16, 64, 256, 1024, 4096, 16384), mlp_ns=(16, 256, 4096), mlp_width=256,
                      reg_d=128, reg_steps=4000, reg_batch=64, ll_d=512, ll_ns=(64, 512, 4096, 16384),
                      copy_ds=(64, 128, 256, 512, 1024), copy_ns=(16, 32, 64, 128, 256, 512, 1024, 2048, 4096),
                      copy_vo_ns=(4, 8, 16, 32), copy_layers=2, copy_steps=3000, copy_records=20,
                      kernel_draws=400_000, energy_pairs=((8, 64), (32, 64), (64, 256), (256, 1024))),
    }


# ============================================================================================ shared pieces


def _task(name: str) -> TS.TemplateTask:
    if name.startswith("majority_"):
        return TS.majority(int(name.split("_")[1]))
    return TS.named_task(name)


def _linear_std(d: int) -> float:
    """Std of PyTorch's default Linear init U(-1/sqrt(d), 1/sqrt(d))."""
    return 1.0 / math.sqrt(3.0 * d)


def _make_model(cfg: TransformerConfig, key: jax.Array, embed_std: float = 1.0) -> Transformer:
    """A substrate transformer with token / position embeddings rescaled to std ``embed_std`` (PyTorch's
    nn.Embedding draws N(0, 1)); every other weight keeps ``cfg.init_std``."""
    m = Transformer(cfg, key=key)
    r = embed_std / cfg.init_std
    if m.pos_embed is None:
        return eqx.tree_at(lambda t: t.tok_embed, m, m.tok_embed * r)
    return eqx.tree_at(lambda t: (t.tok_embed, t.pos_embed), m, (m.tok_embed * r, m.pos_embed * r))


@eqx.filter_jit
def _init_models(cfg: TransformerConfig, seeds: jax.Array) -> Transformer:
    """One model per seed, stacked along a leading axis (compiled: eager vmapped init is slow)."""
    return eqx.filter_vmap(lambda s: _make_model(cfg, jax.random.PRNGKey(s)))(seeds)


def _gate(m: Transformer, ga, gb, mult_a: float, mult_b: float) -> Transformer:
    """The model with a -> ga * mult_a * a and b -> gb * mult_b * b in every block (ga, gb in {0, 1})."""
    blocks = m.blocks
    return eqx.tree_at(
        lambda t: [b.attn.a for b in t.blocks] + [b.attn.b for b in t.blocks], m,
        [b.attn.a * (ga * mult_a) for b in blocks] + [b.attn.b * (gb * mult_b) for b in blocks])


def _last_hidden(m: Transformer, tokens: jax.Array) -> jax.Array:
    """LN_f of the residual stream at the last position (only that position is read out)."""
    h = m.embed(tokens)
    for i in range(m.config.n_layers):
        h = m.layer(i)(h)
    return m.ln_f(h[-1])


def _remap(tokens: np.ndarray, lo: int, base: int) -> np.ndarray:
    """Wildcard tokens of a split (ids >= lo) moved to start at ``base``; regular ids r -> 1 + r (0 = CLS)."""
    t = np.asarray(tokens, dtype=np.int64)
    return np.where(t >= lo, t - lo + base, t + 1)


def _split(task: TS.TemplateTask, n: int, n_test: int, seed: int, n_max: int):
    """Train (n strings over n tokens) and test / validation (fresh tokens) in one fixed vocabulary:
    ``[CLS | regular | train (n_max) | val (n_test) | test (n_test)]``."""
    sp = TS.make_splits(task, n, n_test, n_val=n_test, n_train_tokens=max(n, task.max_wildcards),
                        n_val_tokens=n_test, n_test_tokens=n_test, seed=seed)
    R = task.n_regular
    base_tr, base_va, base_te = 1 + R, 1 + R + n_max, 1 + R + n_max + n_test
    r = sp.ranges

    def lab(s, lo, base):
        if task.label_type == "regression":
            return np.asarray(s.labels, float)
        return _remap(s.labels, lo, base)

    return dict(
        train=(_remap(sp.train.tokens, r.train[0], base_tr), lab(sp.train, r.train[0], base_tr)),
        val=(_remap(sp.val.tokens, r.val[0], base_va), lab(sp.val, r.val[0], base_va)),
        test=(_remap(sp.test.tokens, r.test[0], base_te), lab(sp.test, r.test[0], base_te)),
        vocab=1 + R + n_max + 2 * n_test)


def _pad(a: np.ndarray, n_max: int) -> np.ndarray:
    reps = int(math.ceil(n_max / len(a)))
    return np.concatenate([a] * reps)[:n_max]


def _sampler(batch: int):
    return lambda key: jax.random.uniform(key, (batch,))


def _rows(p: Mapping[str, Any], u: jax.Array):
    idx = jnp.minimum((u * p["n"]).astype(jnp.int32), p["n"] - 1)
    return p["X"][idx], p["y"][idx]


# ================================================================================= part 1: regression


def regression_unit(cfg: Mapping[str, Any], seeds: Sequence[int]) -> list[dict]:
    """Sweep unit: every transformer variant x n for one task and ``seeds`` in one vmapped fit.

    ``cfg["variants"]``: indices into :data:`VARIANTS` (default: all). Returns one dict per seed: ``test_mse`` /
    ``train_mse`` ``[variants, n]`` after the last step (train: on up to
    ``n_test`` of the model's training strings), ``a_abs`` (mean |a_eff|), ``test_curve`` ``[variants, n, records]``
    (test MSE at ``curve_steps``; ``cfg["records"]`` records after step 0, default 1).
    """
    task = _task(cfg["task"])
    ns, n_max, n_test = [int(v) for v in cfg["ns"]], max(int(v) for v in cfg["ns"]), int(cfg["n_test"])
    k = task.length + 1
    X, Y, N, G, TX, TY, keys = [], [], [], [], [], [], []
    vocab = None
    variants = [VARIANTS[int(i)] for i in cfg.get("variants", range(len(VARIANTS)))]
    for _, ga, gb in variants:
        for n in ns:
            for s in seeds:
                d = _split(task, n, n_test, 7919 * int(s) + n, n_max)
                vocab = d["vocab"]
                x, y = d["train"]
                X.append(np.concatenate([_pad(x, n_max), np.zeros((n_max, 1), np.int64)], 1))
                Y.append(_pad(y, n_max))
                N.append(n)
                G.append([ga, gb])
                tx, ty = d["test"]
                TX.append(np.concatenate([tx, np.zeros((len(tx), 1), np.int64)], 1))
                TY.append(ty)
                keys.append(int(s))
    tcfg = TransformerConfig(vocab=vocab, d_model=int(cfg["d"]), n_heads=int(cfg["heads"]), n_layers=int(cfg["layers"]),
                             max_len=k, qk_identity=True, vo_identity=True, init_std=_linear_std(int(cfg["d"])))
    models = _init_models(tcfg, jnp.asarray(keys))
    params = {"model": models, "X": jnp.asarray(np.array(X), jnp.int32),
              "y": jnp.asarray(np.sign(np.array(Y)), jnp.int8), "n": jnp.asarray(N, jnp.int32),
              "g": jnp.asarray(G, jnp.int32)}
    am = float(cfg["a_mult"])

    def out(p, x):
        m = _gate(p["model"], p["g"][0], p["g"][1], am, 1.0)
        return jax.vmap(lambda t: _last_hidden(m, t) @ m.unembed_w[:, 0])(x)

    def loss(p, u):
        x, y = _rows(p, u)
        return jnp.mean((out(p, x) - y.astype(jnp.float32)) ** 2)

    # test strings ride in the parameter pytree as integer leaves (never trained), like the training pools
    params["TX"], params["TY"] = jnp.asarray(np.array(TX), jnp.int32), jnp.asarray(np.sign(np.array(TY)), jnp.int8)
    steps, R = int(cfg["steps"]), int(cfg.get("records", 1))
    sub = jnp.arange(min(n_test, n_max))

    def record(p):
        # test MSE on the fresh-token strings; train MSE on (up to) n_test of the model's own n training strings
        test = jnp.mean((out(p, p["TX"]) - p["TY"].astype(jnp.float32)) ** 2)
        idx = sub % p["n"]
        train = jnp.mean((out(p, p["X"][idx]) - p["y"][idx].astype(jnp.float32)) ** 2)
        return test, train

    # one compile: the final test / train MSE are the last record (no separate evaluation program)
    res = fit(loss, params, optax.adam(float(cfg["lr"])), steps=steps, data=_sampler(int(cfg["batch"])),
              batched=True, record_every=steps // R, record_fn=record,
              key=jax.vmap(jax.random.PRNGKey)(jnp.arange(len(keys)) + 1))
    curve, tr_curve = (np.asarray(r) for r in res.records)  # [members, R + 1]
    te, tr = curve[:, -1], tr_curve[:, -1]
    curve = curve.reshape(len(variants), len(ns), len(seeds), -1)
    a_abs = np.abs(np.asarray(res.params["model"].blocks[0].attn.a)).mean(-1) * am * np.asarray(G)[:, 0]
    shape = (len(variants), len(ns), len(seeds))
    te, tr, a_abs = te.reshape(shape), tr.reshape(shape), a_abs.reshape(shape)
    return [{"test_mse": te[..., i], "train_mse": tr[..., i], "a_abs": a_abs[..., i], "test_curve": curve[:, :, i],
             "curve_steps": np.asarray(res.steps)} for i in range(len(seeds))]


def mlp_unit(cfg: Mapping[str, Any], seeds: Sequence[int]) -> list[dict]:
    """Sweep unit: MLP on one-hot tokens and MLP on [one-hot, vec(XX^T)] x n x seeds in one vmapped fit.

    The MLP is :func:`sims.substrate.networks.ntk_mlp_apply` (ReLU, sigma_w^2 = 2) on [one-hot(x), vec(XX^T)]: the
    raw one-hot block (as PyTorch's default init, a fresh token's rows add a tiny O(1/sqrt(k vocab)) term), and the
    XX^T block scaled to unit pre-activation scale (gated off for the plain MLP). Returns per seed ``test_mse`` [2, n]
    and the mean output on fresh ABA-type (label +1) and ABB-type (label -1) strings ``mean_pos``, ``mean_neg``,
    with their standard errors.
    """
    task = _task(cfg["task"])
    ns, n_max, n_test = [int(v) for v in cfg["mlp_ns"]], max(int(v) for v in cfg["mlp_ns"]), int(cfg["n_test"])
    k = task.length
    X, Y, N, G, TX, TY = [], [], [], [], [], []
    vocab = None
    for gx in (0, 1):
        for n in ns:
            for s in seeds:
                d = _split(task, n, n_test, 7919 * int(s) + n, n_max)
                vocab = d["vocab"]
                x, y = d["train"]
                X.append(_pad(x, n_max))
                Y.append(_pad(y, n_max))
                N.append(n)
                G.append(gx)
                TX.append(d["test"][0])
                TY.append(d["test"][1])
    n_in = k * vocab + k * k
    w, depth = int(cfg["mlp_width"]), int(cfg["mlp_depth"])
    keys = jax.random.split(jax.random.PRNGKey(int(seeds[0]) + 17), len(X))
    layers = eqx.filter_vmap(lambda kk: ntk_mlp_init(kk, [n_in] + [w] * depth + [1]))(keys)
    offs = jnp.arange(k) * vocab
    params = {"mlp": layers, "X": jnp.asarray(np.array(X), jnp.int32), "y": jnp.asarray(np.sign(np.array(Y)), jnp.int8),
              "n": jnp.asarray(N, jnp.int32), "g": jnp.asarray(G, jnp.int32)}
    s_oh = 1.0  # raw one-hot: a fresh token adds N(0, 2 k / n_in) to a pre-activation (tiny, as PyTorch's init)
    s_xx = math.sqrt(n_in) / k  # XX^T block at unit scale (it learns at the speed of a standard-parametrised layer)

    def out(p, x):
        # first layer = ntk_mlp_apply's dense layer on [s_oh * one_hot(x), s_xx * g * vec(XX^T)], written as a row
        # gather for the one-hot block (the same numbers, without the (k vocab)-wide matmul)
        W = p["mlp"][0]["W"]  # b_var = 0: the bias does not enter
        eq = (x[:, :, None] == x[:, None, :]).reshape(x.shape[0], k * k).astype(W.dtype) * (s_xx * p["g"])
        z = math.sqrt(2.0 / n_in) * (s_oh * W[x + offs].sum(1) + eq @ W[k * vocab:])
        return ntk_mlp_apply(p["mlp"][1:], jax.nn.relu(z), activations=["relu"] * (depth - 1), w_var=2.0)[:, 0]

    def loss(p, u):
        x, y = _rows(p, u)
        return jnp.mean((out(p, x) - y.astype(jnp.float32)) ** 2)

    res = fit(loss, params, optax.adam(float(cfg["lr"])), steps=int(cfg["mlp_steps"]),
              data=_sampler(int(cfg["batch"])), batched=True, record_every=int(cfg["mlp_steps"]),
              key=jax.vmap(jax.random.PRNGKey)(jnp.arange(len(X)) + 101))
    f = np.asarray(eqx.filter_jit(eqx.filter_vmap(out))(res.params, jnp.asarray(np.array(TX), jnp.int32)))
    ty = np.array(TY)
    shape = (2, len(ns), len(seeds))
    mse = ((f - ty) ** 2).mean(-1).reshape(shape)
    pos = np.array([fi[yi > 0].mean() for fi, yi in zip(f, ty)]).reshape(shape)
    neg = np.array([fi[yi < 0].mean() for fi, yi in zip(f, ty)]).reshape(shape)
    se = np.array([math.sqrt(fi[yi > 0].var() / max(1, (yi > 0).sum()) + fi[yi < 0].var() / max(1, (yi < 0).sum()))
                   for fi, yi in zip(f, ty)]).reshape(shape)
    return [{"test_mse": mse[..., i], "mean_pos": pos[..., i], "mean_neg": neg[..., i], "diff_se": se[..., i]}
            for i in range(len(seeds))]


# ============================================================================ part 2: last layer vs init scale


def lastlayer_unit(cfg: Mapping[str, Any], seeds: Sequence[int]) -> list[dict]:
    """Sweep unit: random CLS features of the transformer at init scale c (all weight matrices x c, embeddings
    N(0, 1)), ridge read-out on n training strings, test MSE ``[scales, n]`` per seed."""
    task = _task(cfg["task"])
    ns, n_max, n_test = [int(v) for v in cfg["ll_ns"]], max(int(v) for v in cfg["ll_ns"]), int(cfg["n_test"])
    d = int(cfg["ll_d"])
    out = []
    for s in seeds:
        data = [_split(task, n, n_test, 7919 * int(s) + n + 3, n_max) for n in ns]
        vocab = data[0]["vocab"]
        parts = [dd["train"][0] for dd in data] + [dd["test"][0] for dd in data]
        allx = np.concatenate(parts)
        allx = jnp.asarray(np.concatenate([allx, np.zeros((len(allx), 1), np.int64)], 1), jnp.int32)
        cuts = np.cumsum([0] + [len(p) for p in parts])
        mse = np.zeros((len(cfg["ll_scales"]), len(ns)))
        tcfg = TransformerConfig(vocab=vocab, d_model=d, n_heads=int(cfg["heads"]), n_layers=int(cfg["layers"]),
                                 max_len=task.length + 1, init_std=_linear_std(d))
        m1 = _make_model(tcfg, jax.random.PRNGKey(int(s)), embed_std=1.0)
        for ci, c in enumerate(cfg["ll_scales"]):
            # init std c / sqrt(3d) for every weight matrix = the x1 draw times c (same key; embeddings stay N(0, 1),
            # biases 0, LayerNorm 1): one config, so _features compiles once for all scales
            m = _scale_weights(m1, float(c))
            feats = np.asarray(_features(m, allx), float)
            for ni, dd in enumerate(data):
                F = feats[cuts[ni]:cuts[ni + 1]]
                Ft = feats[cuts[len(ns) + ni]:cuts[len(ns) + ni + 1]]
                y, ty = dd["train"][1], dd["test"][1]
                F1, Ft1 = np.c_[F, np.ones(len(F))], np.c_[Ft, np.ones(len(Ft))]
                lam = float(cfg["ll_ridge"]) * len(F)
                wgt = np.linalg.solve(F1.T @ F1 + lam * np.eye(F1.shape[1]), F1.T @ y)
                mse[ci, ni] = float(np.mean((Ft1 @ wgt - ty) ** 2))
        out.append({"test_mse": mse})
    return out


def _scale_weights(m: Transformer, c: float) -> Transformer:
    """Every attention and MLP weight matrix multiplied by c (embeddings, biases, norms and a, b unchanged)."""
    return eqx.tree_at(
        lambda t: [getattr(b.attn, w) for b in t.blocks for w in ("w_q", "w_k", "w_v", "w_o")]
        + [getattr(b.mlp, w) for b in t.blocks for w in ("w_1", "w_2")], m,
        [getattr(b.attn, w) * c for b in m.blocks for w in ("w_q", "w_k", "w_v", "w_o")]
        + [getattr(b.mlp, w) * c for b in m.blocks for w in ("w_1", "w_2")])


@eqx.filter_jit
def _features(m: Transformer, x: jax.Array) -> jax.Array:
    return jax.vmap(lambda t: _last_hidden(m, t))(x)


# ================================================================================== part 3: next-token copy


def copy_unit(cfg: Mapping[str, Any], seeds: Sequence[int]) -> list[dict]:
    """Sweep unit: copy task at one embedding dimension, the plain model at every n of ``copy_ns`` and the +b I model
    at every n of ``copy_vo_ns``, all seeds, in one vmapped fit.

    Returns per seed ``plain_best`` ``[len(copy_ns)]`` and ``vo_best`` ``[len(copy_vo_ns)]`` (test error at the record
    of lowest validation error), ``plain_curve`` / ``vo_curve`` (test error at every record), ``b_eff``.
    """
    task = TS.template_task([("A", 0)], ["A"], label_type="next_token", name="copy_query")
    pns, vns = [int(v) for v in cfg["copy_ns"]], [int(v) for v in cfg["copy_vo_ns"]]
    runs = [(0, n) for n in pns] + [(1, n) for n in vns]
    n_max, n_test, d = max(pns + vns), int(cfg["n_test"]), int(cfg["d"])
    X, Y, N, G, VX, VY, TX, TY, keys = [], [], [], [], [], [], [], [], []
    vocab = None
    for gb, n in runs:
        for s in seeds:
            sp = _split(task, n, n_test, 104729 * int(s) + n + 11 * d, n_max)
            vocab = sp["vocab"]
            x, y = sp["train"]
            X.append(_pad(x, n_max))
            Y.append(_pad(y, n_max))
            N.append(n)
            G.append(gb)
            VX.append(sp["val"][0])
            VY.append(sp["val"][1])
            TX.append(sp["test"][0])
            TY.append(sp["test"][1])
            keys.append(int(s))
    tcfg = TransformerConfig(vocab=vocab, d_model=d, n_heads=int(cfg["copy_heads"]), n_layers=int(cfg["copy_layers"]),
                             max_len=2, qk_identity=True, vo_identity=True, init_std=_linear_std(d),
                             tie_embeddings=True)
    models = _init_models(tcfg, jnp.asarray(keys))
    i32 = jnp.int32
    params = {"model": models, "X": jnp.asarray(np.array(X), i32), "y": jnp.asarray(np.array(Y), i32),
              "n": jnp.asarray(N, i32), "g": jnp.asarray(G, i32), "VX": jnp.asarray(np.array(VX), i32),
              "VY": jnp.asarray(np.array(VY), i32), "TX": jnp.asarray(np.array(TX), i32),
              "TY": jnp.asarray(np.array(TY), i32)}
    bm = float(cfg["copy_b_mult"])

    def logits(p, x):
        m = _gate(p["model"], 0, p["g"], 1.0, bm)
        return jax.vmap(lambda t: _last_hidden(m, t) @ m.tok_embed.T)(x)

    def loss(p, u):
        x, y = _rows(p, u)
        lg = logits(p, x)
        return jnp.mean(jax.nn.logsumexp(lg, -1) - jnp.take_along_axis(lg, y[:, None], -1)[:, 0])

    def err(p, x, y):
        return jnp.mean(jnp.argmax(logits(p, x), -1) != y)

    steps, R = int(cfg["copy_steps"]), int(cfg["copy_records"])
    res = fit(loss, params, optax.adam(float(cfg["copy_lr"])), steps=steps, data=_sampler(32), batched=True,
              record_every=steps // R, record_fn=lambda p: (err(p, p["VX"], p["VY"]), err(p, p["TX"], p["TY"])),
              key=jax.vmap(jax.random.PRNGKey)(jnp.arange(len(keys)) + 1000 * d))
    S = len(seeds)
    ve, te = (np.asarray(r).reshape(len(runs), S, R + 1) for r in res.records)
    best = np.take_along_axis(te, ve.argmin(-1)[..., None], -1)[..., 0]
    b_eff = (np.abs(np.asarray(res.params["model"].blocks[0].attn.b).mean(-1)) * bm).reshape(len(runs), S)
    P_ = len(pns)
    return [{"plain_best": best[:P_, i], "vo_best": best[P_:, i], "plain_curve": te[:P_, i], "vo_curve": te[P_:, i],
             "b_eff": b_eff[P_:, i]} for i in range(S)]


# ==================================================================================== part 4: theory checks


def theory_unit(cfg: Mapping[str, Any], seeds: Sequence[int]) -> list[dict]:
    """Sweep unit: the kernel gap kappa(ABA, A'B'A') - kappa(ABA, A'B'B') at gamma = 1 (common random numbers)
    and the projected-energy Monte Carlo, per seed."""
    out = []
    for s in seeds:
        gaps, ses, k1 = [], [], []
        for b in cfg["kernel_betas"]:
            e1 = TS.kernel_mc([0, 1, 0], [5, 6, 5], float(b), 1.0, n_draws=int(cfg["kernel_draws"]), seed=int(s))
            e2 = TS.kernel_mc([0, 1, 0], [5, 6, 6], float(b), 1.0, n_draws=int(cfg["kernel_draws"]), seed=int(s))
            gaps.append(e1.mean - e2.mean)
            ses.append(math.hypot(e1.stderr, e2.stderr))
            k1.append(e1.mean)
        en = [TS.projected_energy_mc(int(n), int(d), n_draws=int(cfg["energy_draws"]), seed=int(s))
              for n, d in cfg["energy_pairs"]]
        out.append({"gap": np.array(gaps), "gap_se": np.array(ses), "kappa": np.array(k1),
                    "energy": np.array([e.mean for e in en]), "energy_se": np.array([e.stderr for e in en])})
    return out


# ============================================================================================ experiment


def _stack(per_seed: Sequence[Mapping[str, Any]]) -> dict:
    return {k: np.stack([np.asarray(r[k]) for r in per_seed]) for k in per_seed[0]}


def _crossing(ns: Sequence[int], err: np.ndarray, level: float = 0.5) -> np.ndarray:
    """n at which the error first falls to ``level`` (log-linear interpolation; inf if never)."""
    t = np.log(np.asarray(ns, float))
    x = first_crossing(t, -np.asarray(err, float), -level, never=np.inf)
    return np.exp(x)


def _legend_measured_paper(ax) -> None:
    """Legend of the labelled curves plus the two line-style keys: measured (dashed) and the paper (dotted)."""
    from matplotlib.lines import Line2D

    h, lab = ax.get_legend_handles_labels()
    h += [Line2D([], [], color="k", ls="--", marker="o", markerfacecolor="none"), Line2D([], [], color="k", ls=":")]
    lab += ["measured", "paper"]
    ax.legend(h, lab, fontsize=6, loc="lower left")


def _slope(ds, nstar) -> float:
    ok = np.isfinite(nstar)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(np.asarray(ds, float)[ok]), np.log(nstar[ok]), 1)[0])


def _variants(config: SymbolsConfig) -> list[str]:
    """Labels of the regression variants trained (in the order of the results' variant axis)."""
    return [VARIANTS[int(i)][0] for i in config.reg_variants]


TEST_FILE = "tests/test_symbols.py"


class SymbolsExperiment(Experiment):
    name = "symbols"
    paper = ("Boix-Adserà, Saremi, Abbe, Bengio, Littwin, Susskind 2024, When can transformers reason with abstract "
             "symbols? (ICLR 2024, arXiv:2310.09753)")
    description = ("Template tasks with unseen test tokens: transformers (plain, +a I, +b I), MLPs, last-layer "
                   "training against init scale, and the inverse scaling law of next-token copying.")
    config_cls = SymbolsConfig
    paper_claims = (
        "Boix-Adserà et al. study 'template tasks': strings such as ABA or ABB whose label depends only on which "
        "positions hold equal symbols, tested on symbols never seen in training. Fully-connected networks provably "
        "fail (test MSE stays at chance, about 1 for +1/-1 labels). Transformers succeed, but need large numbers of "
        "training samples (ABA vs ABB: test MSE 0.13 at n = 1024); adding one trainable scalar per head, "
        "W_Q W_K^T + a I, cuts that by a large factor (0.03 at n = 32, about 30x fewer samples). For next-token "
        "prediction of an unseen symbol, the samples needed grow with the embedding dimension (an 'inverse scaling "
        "law', n* about d/3), and W_V W_O + b I removes it.")
    reproduced = (
        "ABA vs ABB regression with the substrate transformer (all four variants trained together), two MLP "
        "baselines, last-layer training of the transformer at three init scales, and the copy task 'A q -> A' for "
        "several embedding dimensions with and without b I. Theory beside it: the n/d projected-energy law "
        "(theory.symbols), the kernel's template gap on fresh tokens, and the paper's own curves.")
    departures = (
        "Much smaller models and budgets than the paper's (default: d = 32, 2 layers, 600 Adam steps of 32 strings, "
        "n = 64 / 512 / 4096, the plain, +a I and +b I transformers (+a I, +b I together only in the paper preset: no "
        "default claim reads it); copy with d = 32 / 64 / 128, one layer, 400 steps, n = 64..1024); causal rather "
        "than bidirectional attention; initialisation chosen to match PyTorch defaults; "
        "the b multiplier of 100 in the copy task; copy errors read at the best validation record. Templates of "
        "the copy and majority tasks are choices made here (the paper does not print them).")
    captions = {
        "symbols_regression": "(a) ABA vs ABB test MSE against the number of training samples n (= training "
                              "alphabet). Dashed with band: trained networks (mean, min..max over seeds). Dotted: the "
                              "paper's curves. Grey solid line: chance (MSE 1, the theory's bound for the MLP). "
                              "Values above 1 at small n: the networks fit the few training strings and answer "
                              "confidently on fresh tokens, worse than predicting 0. "
                              "(b) The MLPs. (c) Last-layer training at init scales c (dashed, measured; dotted, "
                              "paper).",
        "symbols_tasks": "Paper preset only: test MSE against n on the other template tasks (same/different, "
                         "majority), the four transformer variants (dashed, band over seeds) and the paper's curves "
                         "(dotted) where printed.",
        "symbols_copy": "(a) Copy test error against n for embedding dimensions d, plain transformer (dashed, band "
                        "over seeds) and +b I (dash-dotted). (b) The 0.5-crossing n* against d, measured (dashed, "
                        "markers) against the n/d law n* = d/3 (solid) and the paper's figure (dotted).",
    }

    # ------------------------------------------------------------------------------------------------ run
    def run(self, config: SymbolsConfig, ctx) -> dict[str, Any]:
        seeds = list(ctx.seeds)[: config.n_seeds]
        base = dict(ns=list(config.reg_ns), variants=list(config.reg_variants), n_test=config.n_test, d=config.reg_d,
                    layers=config.reg_layers, heads=config.reg_heads,
                    steps=config.reg_steps, batch=config.reg_batch, lr=config.reg_lr,
                    a_mult=config.a_mult, mlp_ns=list(config.mlp_ns), mlp_width=config.mlp_width,
                    mlp_depth=config.mlp_depth,
                    mlp_steps=config.mlp_steps, ll_d=config.ll_d,
                    ll_scales=list(config.ll_scales), ll_ns=list(config.ll_ns), ll_ridge=config.ll_ridge)
        out: dict[str, Any] = {"reg": {}, "mlp": {}}
        for t in config.reg_tasks:
            ctx.log(f"symbols: regression {t}")
            out["reg"][t] = _stack(ctx.sweep(regression_unit, {t: {**base, "task": t}}, seeds=seeds,
                                             desc=f"symbols: {t}")[t])
            out["mlp"][t] = _stack(ctx.sweep(mlp_unit, {f"mlp_{t}": {**base, "task": t}}, seeds=seeds,
                                             desc=f"symbols: mlp {t}")[f"mlp_{t}"])
        out["lastlayer"] = _stack(ctx.sweep(lastlayer_unit, {"lastlayer": {**base, "task": config.reg_tasks[0]}},
                                            seeds=seeds, desc="symbols: last layer")["lastlayer"])
        cbase = dict(copy_ns=list(config.copy_ns), copy_vo_ns=list(config.copy_vo_ns), n_test=config.n_test,
                     copy_heads=config.copy_heads,
                     copy_layers=config.copy_layers, copy_steps=config.copy_steps, copy_lr=config.copy_lr,
                     copy_b_mult=config.copy_b_mult, copy_records=config.copy_records)
        copy = ctx.sweep(copy_unit, {f"d{d}": {**cbase, "d": int(d)} for d in config.copy_ds}, seeds=seeds,
                         desc="symbols: copy")
        out["copy"] = {k: _stack(v) for k, v in copy.items()}
        th = dict(kernel_betas=list(config.kernel_betas), kernel_draws=config.kernel_draws,
                  energy_pairs=[list(p) for p in config.energy_pairs], energy_draws=config.energy_draws)
        th_runs = ctx.sweep(theory_unit, {"theory": th}, seeds=seeds[:1], desc="symbols: theory")
        out["theory"] = _stack(th_runs["theory"])
        return out

    # --------------------------------------------------------------------------------------------- claims
    def claims(self, config: SymbolsConfig, results: Mapping[str, Any]) -> list[Claim]:
        c: list[Claim] = []
        ns = [int(v) for v in config.reg_ns]
        t0 = config.reg_tasks[0]
        reg = results["reg"][t0]
        te = np.asarray(reg["test_mse"])  # [seeds, variants, n]
        S = te.shape[0]
        mean = te.mean(0)
        mlp = results["mlp"][t0]
        mm = np.asarray(mlp["test_mse"])  # [seeds, 2, n]
        mns = [int(v) for v in config.mlp_ns]
        scale = (f"d = {config.reg_d}, {config.reg_layers} layers, {config.reg_steps} Adam steps of "
                 f"{config.reg_batch}, "
                 f"n in {ns}, {S} seed(s)")
        links_mlp = {"theory": ["theory.symbols.mlp_indistinguishable", "theory.symbols.label_independent_mse",
                                "theory.symbols.fresh_token_mlp_outputs"],
                     "tests": [f"{TEST_FILE}::test_mlp_outputs_on_fresh_aba_abb_identically_distributed",
                               f"{TEST_FILE}::test_mlp_indistinguishable"], "figures": ["symbols_regression"]}
        worst = float(mm[:, 0].min())
        c.append(Claim(
            id="symbols.mlp_chance",
            statement=(f"An MLP on one-hot tokens stays at chance on fresh-token ABA vs ABB strings for every n: its "
                       f"lowest test MSE over n and seeds is {worst:.2f} (paper: about 1.00 for every n from 4 to "
                       f"8192; theory: MSE = 1 + E f^2 >= 1). Scale: width {config.mlp_width}, "
                       f"{config.mlp_depth} hidden layers, n in {mns}, {S} seed(s)."),
            predicted=">= 0.9 at every n", measured=worst, tolerance="threshold 0.9 (chance 1, sampling noise)",
            holds=worst >= 0.9, links=links_mlp,
            details={"mse_by_n": dict(zip(map(str, mns), mm[:, 0].mean(0).round(3).tolist())),
                     "per_seed": mm[:, 0].round(3).tolist()},
            finding="" if worst >= 0.9 else "the MLP beat chance on fresh tokens: the first layer is position-wise, so "
                                            "this contradicts the theory unless the test strings reuse training tokens",
            detail="Test MSE on n_test strings of fresh tokens; chance is 1 (predicting 0)."))
        diff = np.abs(np.asarray(mlp["mean_pos"]) - np.asarray(mlp["mean_neg"]))[:, 0]
        se = np.asarray(mlp["diff_se"])[:, 0]
        z = float((diff / np.maximum(se, 1e-12)).max())
        c.append(Claim(
            id="symbols.mlp_same_law",
            statement=(f"On fresh tokens the MLP's mean output is the same for ABA and ABB strings: the largest "
                       f"|mean(ABA) - mean(ABB)| over n and seeds is {float(diff.max()):.3f}, {z:.1f} standard "
                       f"errors (theory: identically distributed, so 0). Scale: n in {mns}, {S} seed(s)."),
            predicted=0.0, measured=float(diff.max()), tolerance="4 standard errors (max over n, seeds)",
            holds=z <= 4.0, links=links_mlp, details={"z_max": z, "diff": diff.round(4).tolist()},
            finding="" if z <= 4.0 else "the mean outputs differ by more than 4 standard errors",
            detail="Difference of the mean outputs over the two templates' test strings, standard error from the "
                   "per-template sample variances."))
        xx = float(mm[:, 1].max())
        c.append(Claim(
            id="symbols.mlp_xxt_learns",
            statement=(f"The same MLP on [x, vec(XX^T)] generalizes to fresh tokens: its worst test MSE over n and "
                       f"seeds is {xx:.2f} (paper: 0.14 at n = 4 down to 0.01 at n = 8192). Scale: n in {mns}, "
                       f"{S} seed(s)."),
            predicted="< 0.2 at every n", measured=xx, tolerance="threshold 0.2", holds=xx < 0.2, links=links_mlp,
            details={"mse_by_n": dict(zip(map(str, mns), mm[:, 1].mean(0).round(3).tolist()))},
            finding="" if xx < 0.2 else "the XX^T-augmented MLP did not reach the paper's level at this budget",
            detail="XX^T is the equality pattern, sufficient for the label (theory.symbols.equality_pattern)."))
        # transformer learns / identity helps
        labs = _variants(config)
        iv = {lab: i for i, lab in enumerate(labs)}
        ip, ika = iv["transformer"], iv["+a I (KQ)"]
        cross = {lab: _crossing(ns, mean[i]) for i, lab in enumerate(labs)}
        plain_end = float(mean[ip, -1])
        c.append(Claim(
            id="symbols.transformer_learns",
            statement=(f"The plain transformer learns ABA vs ABB on fresh tokens given enough samples: test MSE at "
                       f"n = {ns[-1]} is {plain_end:.2f} (mean of {S} seeds; paper: 0.13 at n = 1024, 0.00 from "
                       f"n = 4096). Scale: {scale}."),
            predicted="< 0.5 at the largest n", measured=plain_end, tolerance="threshold 0.5 (chance 1)",
            holds=plain_end < 0.5,
            links={"theory": ["theory.symbols.kernel_taylor_coefficient", "theory.symbols.disjoint_tokens"],
                   "proof": "symbols.kernel_disjoint_tokens", "figures": ["symbols_regression"]},
            details={"mse_by_variant": {lab: dict(zip(map(str, ns), mean[i].round(3).tolist()))
                                        for i, lab in enumerate(labs)},
                     "per_seed_largest_n": te[:, ip, -1].round(3).tolist(),
                     **({"test_mse_during_training": {
                         "steps": np.asarray(reg["curve_steps"])[0].tolist(),
                         **{lab: {str(n): np.asarray(reg["test_curve"])[:, i, j].mean(0).round(3).tolist()
                                  for j, n in enumerate(ns)} for i, lab in enumerate(labs)}}}
                        if "test_curve" in reg else {})},
            finding="" if plain_end < 0.5 else
            (f"at this budget the plain transformer is still at {plain_end:.2f} at n = {ns[-1]}: the paper's "
             "transformer needs n ~ 1024-2048 and far longer training; a limit of the scale"),
            detail="Test MSE on fresh-token strings after the last step (no early stopping)."))
        ia = next((j for j in range(len(ns)) if mean[ika, j] < 0.2), None)
        if ia is None:
            ratio, n_a, m_a, n_p, lower = float("nan"), float("nan"), float("nan"), float("nan"), False
        else:
            n_a, m_a = ns[ia], float(mean[ika, ia])
            n_p = float(_crossing(ns, mean[ip], m_a))
            lower = not np.isfinite(n_p)
            ratio = (2 * ns[-1] if lower else n_p) / n_a
        holds = bool(np.isfinite(ratio) and ratio >= 4)
        c.append(Claim(
            id="symbols.kq_identity_fewer_samples",
            statement=(f"Adding a I to W_Q W_K^T reduces the samples needed: with +a I the test MSE is {m_a:.2f} "
                       f"at n = {n_a}; the plain transformer reaches the same MSE at n = "
                       f"{'>' + str(ns[-1]) if lower else f'{n_p:.0f}'}, a factor {'>= ' if lower else ''}{ratio:.1f} "
                       f"(paper: about 30x, 0.03 at n = 32 against 0.98; plain 0.13 at n = 1024). Scale: {scale}."),
            predicted=">= 4x fewer samples (paper ~30x)", measured=ratio, tolerance="threshold 4",
            holds=holds,
            links={"theory": ["theory.symbols.kernel_taylor_coefficient"], "figures": ["symbols_regression"]},
            details={"crossing_0.5": {k: (float(v) if np.isfinite(v) else "never") for k, v in cross.items()},
                     "mean_abs_a": np.asarray(reg["a_abs"]).mean(0).mean(-1).round(3).tolist()},
            finding="" if holds else (
                "the +a I model did not reach MSE 0.2 within the n grid" if ia is None else
                f"the factor is only {ratio:.1f}: smaller models and budgets than the paper's"),
            detail="n_a: the smallest grid n where the +a I model's seed-mean MSE is below 0.2; the plain model's n "
                   "for that MSE by log-linear interpolation of its seed-mean curve (a lower bound 2 n_max when it "
                   "never gets there)."))
        na = float(cross["+a I (KQ)"])
        vo = float(cross["+b I (VO)"])
        c.append(Claim(
            id="symbols.vo_identity_regression",
            statement=(f"In regression, b I alone helps less than a I (paper: +b I needs n ~ 512 against ~ 32 for "
                       f"+a I): 0.5-crossing at n = {vo if np.isfinite(vo) else float('inf'):.0f} for +b I against "
                       f"{na if np.isfinite(na) else float('inf'):.0f} for +a I. Scale: {scale}."),
            predicted="n*(+b I) >= n*(+a I)", measured=vo, tolerance="order",
            holds=bool((not np.isfinite(vo)) or (np.isfinite(na) and vo >= na)),
            links={"figures": ["symbols_regression"]},
            finding="" if ((not np.isfinite(vo)) or (np.isfinite(na) and vo >= na)) else
            "b I alone crossed at fewer samples than a I at this scale",
            detail="Same crossings as symbols.kq_identity_fewer_samples."))
        extra = [t for t in config.reg_tasks[1:] if t in results["reg"]]
        if extra and "+a I, +b I" in iv:
            ib = iv["+a I, +b I"]
            rows, ok_all = {}, True
            for t in extra:
                m_t = np.asarray(results["reg"][t]["test_mse"]).mean(0)  # [variants, n]
                rows[t] = {"plain": float(m_t[ip, -1]), "+a I, +b I": float(m_t[ib, -1]),
                           "plain_by_n": m_t[ip].round(3).tolist(), "both_by_n": m_t[ib].round(3).tolist()}
                ok_all &= bool(np.mean(m_t[ib]) <= np.mean(m_t[ip]) + 0.02)
            c.append(Claim(
                id="symbols.tasks_identity_helps",
                statement=("On the other template tasks the identity terms help as well: mean test MSE over n of the "
                           "+a I, +b I model against the plain one: " +
                           "; ".join(f"{t}: {np.mean(rows[t]['both_by_n']):.2f} vs {np.mean(rows[t]['plain_by_n']):.2f}"
                                     for t in extra) +
                           f" (paper: the modified transformer learns same/different by n = 64 against 2048, majority "
                           f"of length 4 by 512 against 8192). Scale: {scale}."),
                predicted="+a I, +b I <= plain (mean over n)", measured={t: rows[t]["+a I, +b I"] for t in extra},
                tolerance="0.02 slack", holds=ok_all, links={"figures": ["symbols_tasks"]}, details=rows,
                finding="" if ok_all else "on some task the identity terms did not lower the mean test MSE",
                detail="Mean of the seed-mean test MSE over the n grid."))
        # last layer vs init scale
        ll = np.asarray(results["lastlayer"]["test_mse"])  # [seeds, scales, n]
        llm = ll.mean(0)[:, -1]
        order = bool(np.all(np.diff(llm) <= 0.02))
        c.append(Claim(
            id="symbols.lastlayer_init_scale",
            statement=(f"Training only the last layer works better at larger initialisation: test MSE at n = "
                       f"{config.ll_ns[-1]} is " + ", ".join(f"{v:.2f} (x{s:g})" for s, v in zip(config.ll_scales, llm))
                       + f" (paper at n = 4096: 1.0 (x1), 0.37 (x8), 0.18 (x64)). Scale: width {config.ll_d}, "
                       f"{config.reg_layers} layers, ridge read-out, {S} seed(s)."),
            predicted="decreasing in the init scale", measured=llm.round(3).tolist(),
            tolerance="order (0.02 slack)", holds=order,
            links={"theory": ["theory.symbols.kernel_mc", "theory.symbols.kernel_taylor_coefficient"],
                   "proof": "symbols.kernel_disjoint_tokens", "figures": ["symbols_regression"]},
            details={"mse": {f"x{s:g}": dict(zip(map(str, config.ll_ns), ll.mean(0)[i].round(3).tolist()))
                             for i, s in enumerate(config.ll_scales)}},
            finding="" if order else "the MSE is not monotone in the init scale at this width",
            detail="Random features: LN_f(h_CLS) of the untrained transformer whose weight matrices have std "
                   "c/sqrt(3d) (embeddings N(0, 1)); ridge lambda = ll_ridge * n."))
        # copy
        ds = [int(d) for d in config.copy_ds]
        cns, vns = [int(v) for v in config.copy_ns], [int(v) for v in config.copy_vo_ns]
        pb = np.stack([np.asarray(results["copy"][f"d{d}"]["plain_best"]) for d in ds])  # [d, seeds, n]
        vb = np.stack([np.asarray(results["copy"][f"d{d}"]["vo_best"]) for d in ds])  # [d, seeds, n_vo]
        pm, vm = pb.mean(1), vb.mean(1)
        nstar = np.array([float(_crossing(cns, pm[i])) for i in range(len(ds))])
        slope = _slope(ds, nstar)
        # the n/d law predicts slope 1; the paper reports 0.9-1.0 over d = 256..4096: 1 +- 0.1 covers both
        ok = bool(np.isfinite(slope) and 0.9 <= slope <= 1.1)
        cs = pb.shape[1]
        cscale = (f"d in {ds}, {config.copy_layers} layer(s), {config.copy_steps} Adam steps of 32, n in {cns}, "
                  f"{cs} seed(s)")
        pn = PAPER["copy_nstar"]
        pslope_hi = _slope([d for d in pn if d >= 256], np.array([pn[d] for d in pn if d >= 256], float))
        pslope_lo = _slope([d for d in pn if d <= 256], np.array([pn[d] for d in pn if d <= 256], float))
        c.append(Claim(
            id="symbols.copy_inverse_scaling",
            statement=("Copying an unseen token needs a number of training samples that grows linearly with the "
                       "embedding dimension: the 0.5-error crossing is n* = " +
                       ", ".join(f"{v:.0f}" if np.isfinite(v) else f">{cns[-1]}" for v in nstar) +
                       f" for d = {ds} (n*/d = " + ", ".join(f"{v / d:.1f}" if np.isfinite(v) else "-"
                                                           for v, d in zip(nstar, ds)) +
                       f"; paper: n* about d/3, i.e. n*/d about 0.33), a log-log slope of {slope:.2f} (paper: slope "
                       f"0.9-1.0; read off its figure, {pslope_hi:.2f} over d = 256..4096 but "
                       f"{pslope_lo:.2f} over d = 64..256; the n/d law predicts 1 and leaves the constant free). "
                       f"Scale: {cscale}."),
            predicted=TS.INVERSE_SCALING_SLOPE, measured=slope, tolerance="slope in [0.9, 1.1]", holds=ok,
            links={"theory": ["theory.symbols.projected_energy_fraction", "theory.symbols.copy_samples_needed",
                              "theory.symbols.INVERSE_SCALING_SLOPE"], "proof": "symbols.projected_energy",
                   "tests": [f"{TEST_FILE}::test_projected_energy_fraction_matches_mc",
                             f"{TEST_FILE}::test_copy_samples_needed_linear_in_d"], "figures": ["symbols_copy"]},
            details={"nstar": [float(v) if np.isfinite(v) else "never" for v in nstar],
                     "nstar_over_d": [float(v / d) if np.isfinite(v) else "never" for v, d in zip(nstar, ds)],
                     "err_plain": {str(d): dict(zip(map(str, cns), pm[i].round(3).tolist())) for i, d in enumerate(ds)},
                     "per_seed_nstar": [[float(_crossing(cns, pb[i, s])) for s in range(cs)] for i in range(len(ds))]},
            finding="" if ok else (
                "fewer than two dimensions crossed 0.5 within the n grid, so no slope" if not np.isfinite(slope) else
                f"the slope {slope:.2f} is outside [0.9, 1.1]: over d = {ds[0]}..{ds[-1]} the sample count needed grows "
                f"more slowly than d (n*/d falls from {nstar[0] / ds[0]:.1f} to {nstar[-1] / ds[-1]:.1f}). The paper's own "
                f"curve behaves the same at small d (slope {pslope_lo:.2f} over d = 64..256, {pslope_hi:.2f} over "
                "256..4096), so the linear law is not reached at the dimensions this scale can train; the paper "
                "preset (d up to 1024) is the test of it"),
            detail="Test error (argmax over the whole vocabulary) at the record of lowest validation error; n* by "
                   "log-linear interpolation of the seed-mean error; slope by least squares on log n* vs log d."))
        j16 = int(np.argmin(np.abs(np.array(vns) - 16)))
        eb = vm[:, j16]
        okb = bool(np.all(eb < 0.1))
        c.append(Claim(
            id="symbols.copy_vo_identity",
            statement=(f"With W_V W_O + b I the transformer copies unseen tokens from few samples at every d: test "
                       f"error at n = {vns[j16]} is " + ", ".join(f"{v:.2f}" for v in eb) + f" for d = {ds}, where "
                       f"the plain model needs n* = " + ", ".join(f"{v:.0f}" if np.isfinite(v) else "never"
                                                                for v in nstar) +
                       f" (paper: <= 0.05 for all d by n = 16). Scale: {cscale}, b multiplier {config.copy_b_mult:g}."),
            predicted="< 0.1 for every d", measured=eb.round(3).tolist(), tolerance="threshold 0.1", holds=okb,
            links={"theory": ["theory.symbols.copy_samples_needed"], "proof": "symbols.projected_energy",
                   "figures": ["symbols_copy"]},
            details={"err_vo": {str(d): dict(zip(map(str, vns), vm[i].round(3).tolist())) for i, d in enumerate(ds)},
                     "b_eff": {str(d): np.asarray(results["copy"][f"d{d}"]["b_eff"]).mean(0).round(3).tolist()
                               for d in ds}},
            finding="" if okb else (
                "the +b I model did not copy at n = 16 for every d: the failures are at d = " +
                ", ".join(str(d) for d, e in zip(ds, eb) if e >= 0.1) + " (errors " +
                ", ".join(f"{e:.2f}" for e in eb if e >= 0.1) + "), below the paper's smallest d = 64. Not a bug in "
                "b's initialisation or learning: b grows to the same effective value at every d (b_eff in details), "
                "and a separate measurement at d = 32 (same protocol, 2 seeds) gave +b I errors 0.63 / 0.12 / 0.045 / "
                "0.026 at n = 4 / 16 / 64 / 256 (0.12 at n = 16 also with half the vocabulary), so at d = 32 it "
                "copies below 0.1 by n = 64, still far fewer samples than the plain model's n* = "
                f"{nstar[0]:.0f}. A plausible reading (not isolated here): the copied token's logit grows like b d "
                "while the overlaps of the other tokens with the rest of the residual stream grow like sqrt(d), so "
                "the margin is thinnest at the smallest d"),
            detail="b enters as copy_b_mult * b (the paper's wvwo_id_mult constant)."))
        # theory checks
        th = results["theory"]
        gap, gse = np.asarray(th["gap"]).mean(0), np.asarray(th["gap_se"]).mean(0)
        okg = bool(np.all(gap > 0) and np.all(np.diff(gap) > 0))
        c.append(Claim(
            id="symbols.kernel_template_gap",
            statement=("The transformer random-features kernel separates templates of fresh tokens: kappa(ABA, A'B'A')"
                       " - kappa(ABA, A'B'B') at gamma = 1 is " + ", ".join(f"{g:.4f}" for g in gap) +
                       f" for beta = {list(config.kernel_betas)}, positive and growing with beta, and small against "
                       f"kappa itself ({np.asarray(th['kappa']).mean(0)[-1]:.3f}): the template signal is weak, which "
                       "is why many samples are needed."),
            predicted="> 0 and increasing in beta", measured=gap.round(5).tolist(), tolerance="sign and order",
            holds=okg, kind="claim",
            links={"theory": ["theory.symbols.kernel_mc", "theory.symbols.disjoint_tokens"],
                   "proof": "symbols.kernel_disjoint_tokens",
                   "tests": [f"{TEST_FILE}::test_template_gap_positive_and_growing"]},
            details={"stderr_unpaired": gse.round(5).tolist()},
            finding="" if okg else "the Monte Carlo gap is not positive and increasing",
            detail=f"{config.kernel_draws} draws, common random numbers for the two strings."))
        en, ese = np.asarray(th["energy"]).mean(0), np.asarray(th["energy_se"]).mean(0)
        pred = np.array([TS.projected_energy_fraction(int(n), int(d)) for n, d in config.energy_pairs])
        oke = bool(np.all(np.abs(en - pred) <= 4 * ese / math.sqrt(S) + 1e-12))
        c.append(Claim(
            id="symbols.projected_energy",
            statement=("A fresh Gaussian token embedding keeps the fraction n/d of its energy in the span of n "
                       "training embeddings: Monte Carlo " + ", ".join(f"{v:.3f}" for v in en) + " against n/d = "
                       + ", ".join(f"{v:.3f}" for v in pred) + f" for (n, d) = {list(config.energy_pairs)}."),
            predicted=pred.round(4).tolist(), measured=en.round(4).tolist(), tolerance="4 standard errors",
            holds=oke, kind="check",
            links={"theory": ["theory.symbols.projected_energy_fraction"], "proof": "symbols.projected_energy",
                   "tests": [f"{TEST_FILE}::test_projected_energy_fraction_matches_mc"]},
            finding="" if oke else "the Monte Carlo deviates from n/d by more than 4 standard errors",
            detail="Exact expectation (Beta(n/2, (d-n)/2) mean)."))
        return c

    # ---------------------------------------------------------------------------------------------- plots
    def plots(self, config: SymbolsConfig, results: Mapping[str, Any], outdir) -> list:
        from .harness import plotting as PL

        paths = []
        ns = np.array(config.reg_ns, float)
        t0 = config.reg_tasks[0]
        te = np.asarray(results["reg"][t0]["test_mse"])
        mm = np.asarray(results["mlp"][t0]["test_mse"])
        fig, axes = PL.figure(1, 3, width=11.0, height=3.3)
        ax = axes[0, 0]
        labs = _variants(config)
        for i, lab in enumerate(labs):
            col = PL.CATEGORICAL[[v[0] for v in VARIANTS].index(lab)]
            y = te[:, i]
            PL.theory_and_experiment(ax, ns, None, y.mean(0), y.min(0), y.max(0), color=col, label=lab)
            ax.plot(PAPER["n"], PAPER[lab], ":", color=col, lw=1.0)
        ax.axhline(1.0, color="0.5", lw=0.8, label="chance (MSE 1)")
        ax.set_title("(a) transformers, ABA vs ABB")
        ax2 = axes[0, 1]
        mns = np.array(config.mlp_ns, float)
        for i, lab in enumerate(("MLP", "MLP on [x, XX^T]")):
            y = mm[:, i]
            PL.theory_and_experiment(ax2, mns, None, y.mean(0), y.min(0), y.max(0), color=PL.CATEGORICAL[4 + i],
                                     label=lab)
        ax2.plot(PAPER["n"], PAPER["mlp"], ":", color=PL.CATEGORICAL[4], lw=1.0)
        ax2.plot(list(PAPER["mlp_xxt"]), list(PAPER["mlp_xxt"].values()), ":", color=PL.CATEGORICAL[5], lw=1.0)
        ax2.plot([mns.min(), mns.max()], [1, 1], "-", color="0.5", lw=1.0, label="theory: MLP >= 1")
        ax2.set_title("(b) MLPs, ABA vs ABB")
        ax3 = axes[0, 2]
        ll = np.asarray(results["lastlayer"]["test_mse"])
        lns = np.array(config.ll_ns, float)
        cols = PL.colors(len(config.ll_scales), "Reds")
        for i, s in enumerate(config.ll_scales):
            y = ll[:, i]
            PL.theory_and_experiment(ax3, lns, None, y.mean(0), y.min(0), y.max(0), color=cols[i], label=f"init x{s:g}")
            if int(s) in PAPER["lastlayer"]:
                p = PAPER["lastlayer"][int(s)]
                ax3.plot(list(p), list(p.values()), ":", color=cols[i], lw=1.0)
        ax3.axhline(1.0, color="0.5", lw=0.8, label="chance (MSE 1)")
        ax3.set_title("(c) last layer only, init scale")
        for a in (ax, ax2, ax3):
            a.set_xscale("log")
            a.set_xlabel("training samples n")
            a.set_ylabel("test MSE (fresh tokens)")
            a.set_ylim(-0.03, 1.6)
        for a in (ax, ax2, ax3):
            _legend_measured_paper(a)
        paths.append(PL.save(fig, outdir, "symbols_regression"))

        extra = [t for t in config.reg_tasks[1:] if t in results["reg"]]
        if extra:
            fig, axes = PL.figure(1, len(extra), width=3.4 * len(extra), height=3.0)
            for j, t in enumerate(extra):
                ax = axes[0, j]
                tt = np.asarray(results["reg"][t]["test_mse"])
                for i, lab in enumerate(labs):
                    y = tt[:, i]
                    col = PL.CATEGORICAL[[v[0] for v in VARIANTS].index(lab)]
                    PL.theory_and_experiment(ax, ns, None, y.mean(0), y.min(0), y.max(0), color=col, label=lab)
                    p = PAPER["tasks"].get(t, {}).get(lab)
                    if p:
                        ax.plot(list(p), list(p.values()), ":", color=col, lw=1.0)
                ax.axhline(1.0, color="0.5", lw=0.8)
                ax.set_xscale("log")
                ax.set_ylim(-0.03, 1.6)
                ax.set_xlabel("training samples n")
                ax.set_ylabel("test MSE (fresh tokens)")
                ax.set_title(f"({chr(97 + j)}) {t}")
            _legend_measured_paper(axes[0, 0])
            paths.append(PL.save(fig, outdir, "symbols_tasks"))

        ds = [int(d) for d in config.copy_ds]
        cns, vns = np.array(config.copy_ns, float), np.array(config.copy_vo_ns, float)
        fig, axes = PL.figure(1, 2, width=8.0, height=3.2)
        ax = axes[0, 0]
        cols = PL.colors(len(ds), "Blues")
        nstar = []
        for i, d in enumerate(ds):
            b = np.asarray(results["copy"][f"d{d}"]["plain_best"])  # [seeds, n]
            v = np.asarray(results["copy"][f"d{d}"]["vo_best"])
            PL.theory_and_experiment(ax, cns, None, b.mean(0), b.min(0), b.max(0), color=cols[i], label=f"d = {d}")
            ax.plot(vns, v.mean(0), "-.", color=cols[i], lw=1.0, marker="s", ms=3)
            nstar.append(float(_crossing(list(config.copy_ns), b.mean(0))))
        ax.axhline(0.5, color="0.6", lw=0.6)
        ax.set_xscale("log")
        ax.set_xlabel("training samples n")
        ax.set_ylabel("test error (fresh tokens)")
        ax.set_title("(a) copy: plain (dashed), +b I (dash-dotted)")
        from matplotlib.lines import Line2D

        h, lab = ax.get_legend_handles_labels()
        h += [Line2D([], [], color="k", ls="--", marker="o", markerfacecolor="none"),
              Line2D([], [], color="k", ls="-.", marker="s", ms=3), Line2D([], [], color="0.6", lw=0.6)]
        lab += ["plain transformer", "+b I (VO identity)", "error 0.5 (defines n*)"]
        ax.legend(h, lab, fontsize=6, loc="upper left")  # the empty corner: curves start at n = 64 (+b I: low n)
        ax2 = axes[0, 1]
        dd = np.geomspace(min(ds + list(PAPER["copy_nstar"])), max(ds + list(PAPER["copy_nstar"])), 50)
        ax2.plot(dd, dd / 3, "-", color="k", label="n/d law, n* = d/3")
        ns_arr = np.array(nstar)
        ok = np.isfinite(ns_arr)
        if ok.any():  # the same law (slope 1) through the measured points: only the constant is fitted
            c0 = float(np.exp(np.mean(np.log(ns_arr[ok] / np.array(ds)[ok]))))
            dfit = np.geomspace(min(ds) / 1.5, max(ds) * 1.5, 20)
            ax2.plot(dfit, c0 * dfit, "-", color="0.6", lw=0.8, label=f"n/d law, n* = {c0:.1f} d (constant fitted)")
        ax2.plot(np.array(ds)[ok], ns_arr[ok], "--", marker="o", markerfacecolor="none", color=PL.CATEGORICAL[0],
                 label="measured (plain)")
        ax2.plot(list(PAPER["copy_nstar"]), list(PAPER["copy_nstar"].values()), ":", marker=".",
                 color=PL.CATEGORICAL[1], label="paper")
        ax2.set_xscale("log")
        ax2.set_yscale("log")
        ax2.set_xlabel("embedding dimension d")
        ax2.set_ylabel("0.5-crossing n*")
        ax2.set_title("(b) inverse scaling")
        ax2.legend(fontsize=6, loc="upper left")
        paths.append(PL.save(fig, outdir, "symbols_copy"))
        return paths


register(SymbolsExperiment())
