r"""A decoder-only transformer (equinox), the one network of the transformer papers.

One :class:`Transformer` maps ONE token sequence ``tokens[T]`` to next-token logits ``[T, vocab]``
(``jax.vmap`` it for batches, or use :func:`sims.substrate.sequences.batch_logits`). The residual stream is

.. math::

    h^{(0)}_t = E[x_t] + P[p_t], \qquad h^{(\ell)} = \mathrm{Block}_\ell(h^{(\ell-1)}), \qquad
    \mathrm{logits}_t = \mathrm{LN}_f(h^{(L)}_t)\, U

with token embedding :math:`E` (``vocab x d``), learned absolute position embedding :math:`P` (only for
``pos="learned"``; the scheme of nanoGPT), positions :math:`p_t = t` unless overridden, and unembedding
:math:`U` (``d x vocab``, or :math:`E^\top` with ``tie_embeddings``). A block is, for ``norm="pre"`` (GPT-2),

.. math::  h \leftarrow h + \mathrm{Attn}(\mathrm{LN}_1 h), \qquad h \leftarrow h + \mathrm{MLP}(\mathrm{LN}_2 h)

and for ``norm="post"`` (the original transformer) :math:`h \leftarrow \mathrm{LN}_1(h + \mathrm{Attn}(h))`,
:math:`h \leftarrow \mathrm{LN}_2(h + \mathrm{MLP}(h))` (then no final norm). Attention head :math:`k` with
input rows :math:`x_t` computes

.. math::

    s^k_{ts} = \frac{q^k_t \cdot k^k_s + a_k\, x_t \cdot x_s}{\sqrt{d_h}}, \qquad
    A^k_{ts} = \mathrm{softmax}_s\big(s^k_{ts} \mid s \le t,\ M_{ts}\big), \qquad
    o_t = \sum_k \sum_s A^k_{ts}\big(v^k_s W^k_O + b_k\, x_s\big) + c_O

with :math:`q^k_t = x_t W^k_Q + c^k_Q` (likewise keys and values). The scalars :math:`a_k, b_k` exist only with
``qk_identity`` / ``vo_identity``: they are the trainable identity terms of Boix-Adserà et al. (ICLR 2024,
"When can transformers reason with abstract symbols?"), i.e. the query-key map :math:`W_Q W_K^\top + a I` and
the value-output map :math:`W_V W_O + b I`. They are initialised to 0, where the head is exactly the plain one.
With rotary positions, :math:`q` and :math:`k` are rotated by their positions; the identity term acts on the
unrotated inputs. Causal masking (:math:`s \le t`, by array index) is always applied; an optional boolean mask
:math:`M` (``mask[t, s]`` True = query ``t`` may attend to key ``s``) is AND-ed with it, e.g. the block mask of
the inductive scratchpad (Abbe et al. 2024). A query left with no allowed key attends to nothing (its attention
row is zero and the head contributes only the output bias).

Weight sharing (``share_layers=True``): one block applied ``n_layers`` times, the universal transformer
(Dehghani et al. 2019) used by Hyper-UT (Abnar et al. 2023). For step-by-step use (a step embedding, halting),
compose :meth:`Transformer.embed`, :meth:`Transformer.layer` and :meth:`Transformer.unembed` yourself.

Initialisation as GPT-2 (Radford et al. 2019): every weight matrix and embedding normal(0, ``init_std``),
biases 0, layer norms (1, 0), and the two residual output projections (attention :math:`W_O`, MLP output)
scaled by :math:`1/\sqrt{2 L}`. No dropout.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "MLP",
    "Attention",
    "Block",
    "LayerNorm",
    "Transformer",
    "TransformerConfig",
    "TransformerOutput",
    "causal_mask",
    "count_params",
    "rotary",
]

_POS = ("learned", "rotary", "none")
_NORM = ("pre", "post")
_ACT = ("gelu", "relu")
_DTYPES = ("float32", "float64")


def _pos_int(name: str, v, low: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {v!r}")
    if v < low:
        raise ValueError(f"{name} must be >= {low}, got {v!r}")
    return int(v)


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


@dataclasses.dataclass(frozen=True)
class TransformerConfig:
    """Architecture of a :class:`Transformer` (frozen, hashable: a static field of the module).

    Attributes:
        vocab: number of token ids (tokens are ``0 .. vocab-1``).
        d_model: width of the residual stream.
        n_heads: attention heads per block; must divide ``d_model`` (head width ``d_model // n_heads``).
        n_layers: blocks applied (with ``share_layers`` the same block ``n_layers`` times).
        max_len: longest sequence; with ``pos="learned"`` also the number of position embeddings.
        d_mlp: hidden width of the MLP (default ``4 * d_model``).
        pos: ``"learned"`` (absolute, nanoGPT), ``"rotary"`` (RoPE on queries and keys) or ``"none"``.
        norm: ``"pre"`` (GPT-2) or ``"post"`` layer norm.
        share_layers: one block for all layers (universal transformer).
        qk_identity: each head gets a trainable scalar ``a`` (init 0): scores use ``W_Q W_K^T + a I``.
        vo_identity: each head gets a trainable scalar ``b`` (init 0): value-output map ``W_V W_O + b I``.
        activation: MLP nonlinearity, ``"gelu"`` (tanh approximation, GPT-2) or ``"relu"``.
        bias: biases in the attention and MLP linear maps.
        tie_embeddings: unembedding ``U = E^T`` (GPT-2, nanoGPT) instead of a separate matrix.
        init_std: standard deviation of the normal initialisation (GPT-2: 0.02).
        rope_base: base of the rotary frequencies ``base^{-2i/d_head}``.
        dtype: ``"float32"`` or ``"float64"`` (the latter needs ``jax_enable_x64``).

    Raises:
        TypeError, ValueError: on construction, for a field of the wrong type or value (the message names it).
    """

    vocab: int
    d_model: int
    n_heads: int
    n_layers: int
    max_len: int
    d_mlp: int | None = None
    pos: str = "learned"
    norm: str = "pre"
    share_layers: bool = False
    qk_identity: bool = False
    vo_identity: bool = False
    activation: str = "gelu"
    bias: bool = True
    tie_embeddings: bool = False
    init_std: float = 0.02
    rope_base: float = 10000.0
    dtype: str = "float32"

    def __post_init__(self):
        for name in ("vocab", "d_model", "n_heads", "n_layers", "max_len"):
            _pos_int(name, getattr(self, name))
        if self.d_mlp is not None:
            _pos_int("d_mlp", self.d_mlp)
        if self.d_model % self.n_heads:
            raise ValueError(f"n_heads ({self.n_heads}) must divide d_model ({self.d_model})")
        for name, allowed in (("pos", _POS), ("norm", _NORM), ("activation", _ACT), ("dtype", _DTYPES)):
            v = getattr(self, name)
            if not isinstance(v, str):
                raise TypeError(f"{name} must be a str, one of {allowed}, got {v!r}")
            if v not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {v!r}")
        for name in ("share_layers", "qk_identity", "vo_identity", "bias", "tie_embeddings"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        for name in ("init_std", "rope_base"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
                raise TypeError(f"{name} must be a real number, got {v!r}")
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be finite and > 0, got {v!r}")
        if self.pos == "rotary" and self.d_head % 2:
            raise ValueError(f"pos='rotary' needs an even head width, got d_model/n_heads = {self.d_head}")
        if self.dtype == "float64" and not jax.config.jax_enable_x64:
            raise ValueError("dtype='float64' needs jax.config.update('jax_enable_x64', True) first")

    @property
    def d_head(self) -> int:
        """Width of one attention head, ``d_model // n_heads``."""
        return self.d_model // self.n_heads

    @property
    def mlp_width(self) -> int:
        """Hidden width of the MLP (``d_mlp`` or ``4 * d_model``)."""
        return self.d_mlp if self.d_mlp is not None else 4 * self.d_model

    @property
    def jnp_dtype(self):
        """The parameter dtype as a numpy dtype."""
        return jnp.dtype(self.dtype)


def causal_mask(T: int) -> jax.Array:
    """Lower-triangular ``[T, T]`` boolean mask: ``out[t, s] = s <= t`` (query ``t`` may see key ``s``)."""
    return jnp.tril(jnp.ones((T, T), dtype=bool))


def rotary(x: jax.Array, positions: jax.Array, base: float) -> jax.Array:
    r"""Rotary position embedding (Su et al. 2021) of ``x[T, H, d_h]`` at integer ``positions[T]``.

    The two halves :math:`(x_1, x_2)` of each head vector are rotated pairwise by the angles
    :math:`p\,\theta_i`, :math:`\theta_i = \text{base}^{-2i/d_h}` (GPT-NeoX layout):
    :math:`(x_1\cos - x_2\sin,\; x_1\sin + x_2\cos)`. Hence :math:`\mathrm{rot}(q, p)\cdot\mathrm{rot}(k, p')`
    depends on the positions only through :math:`p - p'`.

    Returns:
        an array of the shape and dtype of ``x``.
    """
    half = x.shape[-1] // 2
    inv = base ** (-jnp.arange(half, dtype=x.dtype) * 2.0 / x.shape[-1])
    ang = positions.astype(x.dtype)[:, None] * inv[None, :]
    cos, sin = jnp.cos(ang)[:, None, :], jnp.sin(ang)[:, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return jnp.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1)


def count_params(tree) -> int:
    """Number of scalar entries in the inexact (trainable) arrays of a pytree (a model, a block)."""
    return int(sum(x.size for x in jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_inexact_array))))


class LayerNorm(eqx.Module):
    r"""Layer norm over the last axis: :math:`\gamma \odot (h - \bar h)/\sqrt{\mathrm{var}(h) + \epsilon} + \beta`."""

    weight: jax.Array
    bias: jax.Array
    eps: float = eqx.field(static=True, default=1e-5)

    def __init__(self, d: int, dtype, eps: float = 1e-5):
        self.weight = jnp.ones((d,), dtype)
        self.bias = jnp.zeros((d,), dtype)
        self.eps = eps

    def __call__(self, h: jax.Array) -> jax.Array:
        """Normalise ``h[..., d]`` along its last axis."""
        mu = jnp.mean(h, axis=-1, keepdims=True)
        var = jnp.mean(jnp.square(h - mu), axis=-1, keepdims=True)
        return (h - mu) * jax.lax.rsqrt(var + self.eps) * self.weight + self.bias


class Attention(eqx.Module):
    r"""Causal multi-head self-attention with optional identity terms (see the module docstring).

    Parameters (plain arrays, so a hypernetwork can replace them with ``eqx.tree_at``): ``w_q, w_k, w_v``
    ``[d, H d_h]``, ``w_o`` ``[H d_h, d]``, biases ``b_q, b_k, b_v`` ``[H d_h]`` and ``b_o`` ``[d]`` (``None``
    without ``bias``), ``a`` and ``b`` ``[H]`` (``None`` unless ``qk_identity`` / ``vo_identity``).
    """

    w_q: jax.Array
    w_k: jax.Array
    w_v: jax.Array
    w_o: jax.Array
    b_q: jax.Array | None
    b_k: jax.Array | None
    b_v: jax.Array | None
    b_o: jax.Array | None
    a: jax.Array | None
    b: jax.Array | None
    config: TransformerConfig = eqx.field(static=True)

    def __init__(self, config: TransformerConfig, *, key: jax.Array):
        c, dt = config, config.jnp_dtype
        kq, kk, kv, ko = jax.random.split(key, 4)
        std, d = c.init_std, c.d_model
        out_std = std / math.sqrt(2 * c.n_layers)
        self.w_q = std * jax.random.normal(kq, (d, d), dt)
        self.w_k = std * jax.random.normal(kk, (d, d), dt)
        self.w_v = std * jax.random.normal(kv, (d, d), dt)
        self.w_o = out_std * jax.random.normal(ko, (d, d), dt)
        z = (lambda n: jnp.zeros((n,), dt)) if c.bias else (lambda n: None)
        self.b_q, self.b_k, self.b_v, self.b_o = z(d), z(d), z(d), z(d)
        self.a = jnp.zeros((c.n_heads,), dt) if c.qk_identity else None
        self.b = jnp.zeros((c.n_heads,), dt) if c.vo_identity else None
        self.config = c

    def __call__(self, x: jax.Array, *, allowed: jax.Array, positions: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Attend over the rows of ``x[T, d]``.

        Args:
            x: inputs ``[T, d]`` (already normalised for pre-norm).
            allowed: ``[T, T]`` boolean, the full mask (causal AND any extra mask).
            positions: ``[T]`` integer positions (used by rotary only).

        Returns:
            ``(out[T, d], pattern[H, T, T])``, the attention probabilities (rows sum to 1, or 0 when a query has
            no allowed key).
        """
        c = self.config
        T, H, dh = x.shape[0], c.n_heads, c.d_head

        def lin(w, bias):
            y = x @ w
            return (y if bias is None else y + bias).reshape(T, H, dh)

        q, k, v = lin(self.w_q, self.b_q), lin(self.w_k, self.b_k), lin(self.w_v, self.b_v)
        if c.pos == "rotary":
            q, k = rotary(q, positions, c.rope_base), rotary(k, positions, c.rope_base)
        scale = 1.0 / math.sqrt(dh)
        scores = jnp.einsum("thd,shd->hts", q, k) * scale
        if self.a is not None:
            scores = scores + self.a[:, None, None] * ((x @ x.T) * scale)[None]
        neg = jnp.finfo(scores.dtype).min
        scores = jnp.where(allowed[None], scores, neg)
        p = jax.nn.softmax(scores, axis=-1)
        # exp(min - max) underflows to exactly 0 when the row has an allowed key; a row with none would be uniform
        p = jnp.where(allowed[None], p, 0.0)
        out = jnp.einsum("hts,shd->thd", p, v).reshape(T, H * dh) @ self.w_o
        if self.b is not None:
            out = out + jnp.einsum("h,hts,sd->td", self.b, p, x)
        if self.b_o is not None:
            out = out + self.b_o
        return out, p


class MLP(eqx.Module):
    r"""Position-wise MLP :math:`\sigma(h W_1 + c_1) W_2 + c_2` (``w_1`` ``[d, d_mlp]``, ``w_2`` ``[d_mlp, d]``)."""

    w_1: jax.Array
    b_1: jax.Array | None
    w_2: jax.Array
    b_2: jax.Array | None
    config: TransformerConfig = eqx.field(static=True)

    def __init__(self, config: TransformerConfig, *, key: jax.Array):
        c, dt = config, config.jnp_dtype
        k1, k2 = jax.random.split(key)
        self.w_1 = c.init_std * jax.random.normal(k1, (c.d_model, c.mlp_width), dt)
        self.w_2 = c.init_std / math.sqrt(2 * c.n_layers) * jax.random.normal(k2, (c.mlp_width, c.d_model), dt)
        self.b_1 = jnp.zeros((c.mlp_width,), dt) if c.bias else None
        self.b_2 = jnp.zeros((c.d_model,), dt) if c.bias else None
        self.config = c

    def __call__(self, h: jax.Array) -> jax.Array:
        """Apply to ``h[T, d]`` row by row."""
        act: Callable = jax.nn.gelu if self.config.activation == "gelu" else jax.nn.relu
        z = h @ self.w_1
        z = act(z if self.b_1 is None else z + self.b_1)
        z = z @ self.w_2
        return z if self.b_2 is None else z + self.b_2


class Block(eqx.Module):
    """One transformer block (attention + MLP with residuals and layer norms, pre or post; module docstring)."""

    ln_1: LayerNorm
    attn: Attention
    ln_2: LayerNorm
    mlp: MLP
    config: TransformerConfig = eqx.field(static=True)

    def __init__(self, config: TransformerConfig, *, key: jax.Array):
        ka, km = jax.random.split(key)
        dt = config.jnp_dtype
        self.ln_1, self.ln_2 = LayerNorm(config.d_model, dt), LayerNorm(config.d_model, dt)
        self.attn = Attention(config, key=ka)
        self.mlp = MLP(config, key=km)
        self.config = config

    def __call__(self, h: jax.Array, *, mask: jax.Array | None = None, positions: jax.Array | None = None,
                 return_attention: bool = False):
        """Apply the block to a residual stream ``h[T, d]``.

        Args:
            h: ``[T, d]`` residual stream.
            mask: optional extra ``[T, T]`` boolean mask, AND-ed with the causal mask.
            positions: ``[T]`` integer positions for rotary attention (default ``0 .. T-1``).
            return_attention: also return the attention pattern ``[H, T, T]``.

        Returns:
            ``h_out[T, d]``, or ``(h_out, pattern)`` with ``return_attention``.
        """
        T = h.shape[0]
        allowed = causal_mask(T) if mask is None else causal_mask(T) & mask.astype(bool)
        if positions is None:
            positions = jnp.arange(T)
        if self.config.norm == "pre":
            a, p = self.attn(self.ln_1(h), allowed=allowed, positions=positions)
            h = h + a
            h = h + self.mlp(self.ln_2(h))
        else:
            a, p = self.attn(h, allowed=allowed, positions=positions)
            h = self.ln_1(h + a)
            h = self.ln_2(h + self.mlp(h))
        return (h, p) if return_attention else h


class TransformerOutput(eqx.Module):
    """Result of :meth:`Transformer.forward`.

    Attributes:
        logits: ``[T, vocab]``.
        hidden: ``[n_layers + 1, T, d]`` residual stream after the embedding and after each block (before the
            final norm), or ``None``.
        attention: ``[n_layers, H, T, T]`` attention probabilities per layer and head (``[l, k, t, s]``: query
            ``t`` attends to key ``s``), or ``None``.
    """

    logits: jax.Array
    hidden: jax.Array | None = None
    attention: jax.Array | None = None


class Transformer(eqx.Module):
    """Decoder-only transformer on one sequence (see the module docstring for the math).

    Args (constructor):
        config: a :class:`TransformerConfig`.
        key: PRNG key for the initialisation.

    Attributes:
        tok_embed: ``[vocab, d]``. pos_embed: ``[max_len, d]`` (``pos="learned"``) or ``None``.
        blocks: tuple of ``n_layers`` :class:`Block` (one when ``share_layers``); :meth:`layer` indexes layers.
        ln_f: final :class:`LayerNorm` (pre-norm) or ``None`` (post-norm).
        unembed_w: ``[d, vocab]`` or ``None`` with ``tie_embeddings``.

    Raises:
        TypeError: ``config`` is not a :class:`TransformerConfig`.
    """

    tok_embed: jax.Array
    pos_embed: jax.Array | None
    blocks: tuple[Block, ...]
    ln_f: LayerNorm | None
    unembed_w: jax.Array | None
    config: TransformerConfig = eqx.field(static=True)

    def __init__(self, config: TransformerConfig, *, key: jax.Array):
        if not isinstance(config, TransformerConfig):
            raise TypeError(f"config must be a TransformerConfig, got {type(config).__name__}")
        c, dt = config, config.jnp_dtype
        ke, kp, ku, kb = jax.random.split(key, 4)
        self.tok_embed = c.init_std * jax.random.normal(ke, (c.vocab, c.d_model), dt)
        self.pos_embed = c.init_std * jax.random.normal(kp, (c.max_len, c.d_model), dt) if c.pos == "learned" else None
        n_blocks = 1 if c.share_layers else c.n_layers
        self.blocks = tuple(Block(c, key=k) for k in jax.random.split(kb, n_blocks))
        self.ln_f = LayerNorm(c.d_model, dt) if c.norm == "pre" else None
        self.unembed_w = None if c.tie_embeddings else c.init_std * jax.random.normal(ku, (c.d_model, c.vocab), dt)
        self.config = c

    # ----------------------------------------------------------------------------------------------- pieces
    def layer(self, i: int) -> Block:
        """The block applied at layer ``i`` (``0 <= i < n_layers``; the shared block when ``share_layers``).

        Raises:
            ValueError: ``i`` outside ``[0, n_layers)``.
        """
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < self.config.n_layers:
            raise ValueError(f"i must be an int in [0, {self.config.n_layers}), got {i!r}")
        return self.blocks[0 if self.config.share_layers else int(i)]

    def _check_inputs(self, tokens, mask, positions) -> jax.Array:
        c = self.config
        tokens = jnp.asarray(tokens)
        if tokens.ndim != 1:
            raise ValueError(f"tokens must be one sequence [T] (vmap for batches), got shape {tokens.shape}")
        if not jnp.issubdtype(tokens.dtype, jnp.integer):
            raise TypeError(f"tokens must be integers, got dtype {tokens.dtype}")
        T = tokens.shape[0]
        if T < 1:
            raise ValueError("tokens must be non-empty, got length 0")
        if c.pos == "learned" and T > c.max_len:
            raise ValueError(f"tokens has length {T} > max_len {c.max_len} (learned positions)")
        if _is_concrete(tokens) and (int(tokens.min()) < 0 or int(tokens.max()) >= c.vocab):
            raise ValueError(f"tokens must lie in [0, {c.vocab}), got range [{int(tokens.min())}, {int(tokens.max())}]")
        if mask is not None and tuple(jnp.shape(mask)) != (T, T):
            raise ValueError(f"mask must have shape ({T}, {T}), got {tuple(jnp.shape(mask))}")
        if positions is not None:
            if tuple(jnp.shape(positions)) != (T,):
                raise ValueError(f"positions must have shape ({T},), got {tuple(jnp.shape(positions))}")
            positions = jnp.asarray(positions)
            if c.pos == "learned" and _is_concrete(positions) and (
                    int(positions.min()) < 0 or int(positions.max()) >= c.max_len):
                raise ValueError(f"positions must lie in [0, {c.max_len}) for learned positions, "
                                 f"got range [{int(positions.min())}, {int(positions.max())}]")
        return tokens

    def embed(self, tokens: jax.Array, *, positions: jax.Array | None = None) -> jax.Array:
        """The residual stream before the first block: ``E[tokens] (+ P[positions] for learned positions)``.

        Args:
            tokens: ``[T]`` integer token ids in ``[0, vocab)``.
            positions: optional ``[T]`` integer positions (default ``0 .. T-1``), e.g. re-indexed positions.

        Returns:
            ``h[T, d]``.

        Raises:
            ValueError, TypeError: bad shapes, dtypes or (when concrete) out-of-range tokens / positions.
        """
        return self._embed(self._check_inputs(tokens, None, positions), positions)

    def _embed(self, tokens: jax.Array, positions: jax.Array | None) -> jax.Array:
        h = self.tok_embed[tokens]
        if self.pos_embed is not None:
            pos = jnp.arange(tokens.shape[0]) if positions is None else jnp.asarray(positions)
            h = h + self.pos_embed[pos]
        return h

    def unembed(self, h: jax.Array) -> jax.Array:
        """Logits ``[T, vocab]`` from the final residual stream ``h[T, d]`` (final norm for pre-norm, then U)."""
        if self.ln_f is not None:
            h = self.ln_f(h)
        w = self.tok_embed.T if self.unembed_w is None else self.unembed_w
        return h @ w

    # ----------------------------------------------------------------------------------------------- forward
    def forward(self, tokens: jax.Array, *, mask: jax.Array | None = None, positions: jax.Array | None = None,
                return_hidden: bool = False, return_attention: bool = False) -> TransformerOutput:
        """Run the model on one sequence and optionally read its internals (the hook API).

        Args:
            tokens: ``[T]`` integer token ids in ``[0, vocab)``.
            mask: optional ``[T, T]`` boolean mask AND-ed with the causal mask (``mask[t, s]``: query ``t`` may
                attend to key ``s``), e.g. the inductive scratchpad's block mask.
            positions: optional ``[T]`` integer positions (default ``0 .. T-1``), e.g. re-indexed positions; they
                feed the learned position embedding or the rotary angles. Causality is by array index.
            return_hidden: fill ``hidden`` ``[n_layers + 1, T, d]``.
            return_attention: fill ``attention`` ``[n_layers, H, T, T]``.

        Returns:
            :class:`TransformerOutput`.

        Raises:
            ValueError, TypeError: bad shapes, dtypes or (when concrete) out-of-range tokens / positions.
        """
        tokens = self._check_inputs(tokens, mask, positions)
        h = self._embed(tokens, positions)
        hidden, attn = [h], []
        for i in range(self.config.n_layers):
            h, p = self.layer(i)(h, mask=mask, positions=positions, return_attention=True)
            hidden.append(h)
            attn.append(p)
        return TransformerOutput(
            logits=self.unembed(h),
            hidden=jnp.stack(hidden) if return_hidden else None,
            attention=jnp.stack(attn) if return_attention else None,
        )

    def __call__(self, tokens: jax.Array, *, mask: jax.Array | None = None,
                 positions: jax.Array | None = None) -> jax.Array:
        """Next-token logits ``[T, vocab]`` of one sequence ``tokens[T]`` (arguments as :meth:`forward`)."""
        return self.forward(tokens, mask=mask, positions=positions).logits
