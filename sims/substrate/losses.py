r"""Classification losses and a gradient projection for training (JAX): softmax and StableMax cross-entropy, ⊥Grad.

* :func:`softmax_cross_entropy`: per-example :math:`-\log\mathrm{softmax}(z)_y` (``jax.nn.log_softmax``), in the
  dtype of the logits. In float32 its correct-class logit gradient :math:`p_y-1` rounds to exactly 0 once the
  wrong-class mass is below :math:`2^{-24}` ("Softmax Collapse", Prieto, Barsbey, Mediano & Birdal 2025); the
  gap where that happens is :func:`theory.slingshot.collapse_gap`.
* :func:`stablemax_cross_entropy`: per-example :math:`-\log(s(z_y)/\sum_j s(z_j))` with :math:`s(x)=x+1`
  (:math:`x\ge0`), :math:`1/(1-x)` (:math:`x<0`) (Prieto et al. 2025; their code evaluates it in float64, here
  it runs in the logits' dtype). The numpy reference is :func:`theory.slingshot.stablemax_cross_entropy`.
* :func:`logit_gradients`: the gradient of the *summed* per-example loss with respect to the logits (row i is
  example i's own logit gradient), e.g. to count the examples whose correct-class gradient is exactly 0.
* :func:`orthograd`: an optax gradient transformation applying ⊥Grad per parameter array (Prieto et al. 2025):
  :math:`g_\perp=g-\frac{\langle w,g\rangle}{\|w\|^2}w`, rescaled to :math:`\|g\|`; chain it before the
  optimiser, ``optax.chain(orthograd(), optax.adam(lr))``. The numpy reference is
  :func:`theory.slingshot.ortho_grad`.

``LOSSES`` maps a name (``"softmax"``, ``"stablemax"``) to its per-example loss, for configs.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

__all__ = ["LOSSES", "logit_gradients", "orthograd", "softmax_cross_entropy", "stablemax_cross_entropy",
           "stablemax_s"]


def softmax_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Per-example softmax cross-entropy ``-log_softmax(logits)[y]`` (``logits [..., K]``, ``labels [...]`` ints)."""
    lp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.take_along_axis(lp, labels[..., None].astype(jnp.int32), axis=-1)[..., 0]


def stablemax_s(x: jax.Array) -> jax.Array:
    """StableMax's map ``s(x) = x + 1`` for ``x >= 0``, ``1 / (1 - x)`` for ``x < 0`` (safe for autodiff)."""
    return jnp.where(x >= 0, x + 1, 1 / (1 - jnp.minimum(x, 0)))


def stablemax_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Per-example StableMax cross-entropy ``log(sum_j s(z_j)) - log(s(z_y))`` in the logits' dtype."""
    s = stablemax_s(logits)
    sy = jnp.take_along_axis(s, labels[..., None].astype(jnp.int32), axis=-1)[..., 0]
    return jnp.log(jnp.sum(s, axis=-1)) - jnp.log(sy)


LOSSES: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
    "softmax": softmax_cross_entropy,
    "stablemax": stablemax_cross_entropy,
}


def logit_gradients(loss: str | Callable, logits: jax.Array, labels: jax.Array) -> jax.Array:
    """``d/d logits`` of the summed per-example ``loss`` (a name in :data:`LOSSES` or a callable): ``[..., K]``.

    Row i is example i's own gradient (examples do not interact through the logits), computed by the same
    autodiff the training step uses, in the logits' dtype.

    Raises:
        ValueError: an unknown loss name.
    """
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
        loss = LOSSES[loss]
    return jax.grad(lambda z: jnp.sum(loss(z, labels)))(logits)


def orthograd(eps: float = 1e-30) -> optax.GradientTransformation:
    r"""⊥Grad as an optax transformation: per array, remove the component of the gradient along the parameter and
    rescale to the gradient's norm.

    For each parameter array :math:`w` with gradient :math:`g` (flattened): :math:`g_\perp = g - \frac{w\cdot g}
    {w\cdot w+\epsilon}w`, output :math:`g_\perp\,\|g\|/(\|g_\perp\|+\epsilon)` (Prieto et al. 2025, their
    ``eps = 1e-30``). So :math:`w\cdot\tilde g=0` and :math:`\|\tilde g\|=\|g\|` unless :math:`g\parallel w`.
    Requires ``params`` in ``update``. Stateless.

    Args:
        eps: the small constant of both denominators (> 0).

    Raises:
        ValueError: ``eps <= 0``; (at update time) ``params`` missing.
    """
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps!r}")

    def init(params):
        del params
        return optax.EmptyState()

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("orthograd needs params in update(updates, state, params)")

        def one(g, w):
            gf, wf = g.ravel(), w.ravel().astype(g.dtype)
            go = gf - (jnp.dot(wf, gf) / (jnp.dot(wf, wf) + eps)) * wf
            go = go * (jnp.linalg.norm(gf) / (jnp.linalg.norm(go) + eps))
            return go.reshape(g.shape)

        return jax.tree_util.tree_map(one, updates, params), state

    return optax.GradientTransformation(init, update)
