r"""Vanishing gradients in reinforcement finetuning (Razin et al., ICLR 2024, arXiv:2310.20703).

**Setting.** One input :math:`x` is one environment. An autoregressive softmax policy over a vocabulary of
:math:`K` tokens emits outputs :math:`y = (y_1, \dots, y_L)` of fixed length :math:`L`:

.. math:: p_\theta(y) = \prod_{l=1}^{L} \pi_l(y_l \mid y_{<l}),\qquad
          \pi_l(\cdot \mid h) = \mathrm{softmax}\big(f_\theta(h)\big),

with one logit vector :math:`f_\theta(h) \in \mathbb R^K` per prefix :math:`h = y_{<l}`. The objective is the
expected reward :math:`V(\theta) = \mathbb E_{y \sim p_\theta}[r(y)]` and the reward standard deviation under
the model is the *population* std :math:`\mathrm{STD} = (\mathbb E_y[(r - V)^2])^{1/2}` (as in the official
code, ``sft_vs_rft/train/reinforce_trainer.py``).

**Theorem 1** (as restated second-hand; the primary text was not available):
:math:`\|\nabla_\theta V\| \le 6 L \gamma\, \mathrm{STD}^{2/3}` for rewards in :math:`[-1, 1]`, where
:math:`\gamma = \max_{l, h} \|\partial f_\theta(h)/\partial\theta\|_2` is the largest spectral norm of the logit
Jacobian over all prefixes. A martingale argument (derived here, checked in ``proofs.rft``) gives the sharper
:math:`\|\nabla V\| \le \sqrt L\, \gamma\, \mathrm{STD}`, and the crude route gives
:math:`\|\nabla V\| \le \sqrt 2 L \gamma\, \mathrm{STD}`; both imply the paper's form when :math:`\mathrm{STD} \le 1`.
The exponent 1 is attained (:func:`exponent_example`), so the :math:`2/3` of the paper is not tight.

**Policies.** :class:`TabularPolicy` (one free logit vector per prefix, :math:`\gamma = 1`) and
:class:`LinearPolicy` (logits :math:`f(h) = J(h)\,\theta + b(h)` with an arbitrary Jacobian per prefix,
:math:`\gamma` computed from singular values). :class:`NonNormalisedPolicy` (:math:`p_k = \theta_k x_k`) is the
negative control of OpenReview reviewer 3: constant reward still gives a non-zero gradient, and
:func:`gradient_bound` refuses it.

**Exact computation.** Expectations enumerate all :math:`K^L` outputs in chunks (``chunk`` outputs at a time,
so memory stays :math:`O(\text{chunk}\cdot L + \#\text{params})`; :math:`K^L = 10^6` is fine), or, for the
gradient, use the backward recursion :math:`Q_l(h) = \sum_v \pi_l(v|h)\, Q_{l+1}(hv)`, which is the
martingale form :math:`\nabla_{f(h)} V = P(h)\, \pi(\cdot|h) \odot (Q(h\,\cdot) - Q(h))` of the proof.

**Slow optimisation (Section 4.3, reconstructed).** One input, :math:`K` labels, correct label :math:`c`,
reward :math:`r = \Delta\,\mathbf 1\{y = c\} + \text{const}`, gradient flow on the logits from a point where all
other logits are equal. Then :math:`p = \pi_c` obeys (derived with sympy in :func:`flow_ode`)

.. math:: \dot p_{\rm RFT} = \tfrac{K}{K-1}\,\Delta\, p^2 (1-p)^2,\qquad
          \dot p_{\rm SFT} = \tfrac{K}{K-1}\, p\, (1-p)^2,

so the time to reach a target is :math:`\Theta(1/p_0) = \Theta(\mathrm{STD}_0^{-2})` for RFT and
:math:`\Theta(\ln 1/p_0) = \Theta(\ln 1/\mathrm{STD}_0)` for SFT (:func:`time_to_reach`,
:func:`time_asymptotics`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import sympy as sp

from . import _validate as _v

__all__ = [
    "TabularPolicy", "LinearPolicy", "NonNormalisedPolicy", "random_tabular_policy", "random_linear_policy",
    "enumerate_outputs", "output_probs", "expected_reward", "reward_std", "expected_gradient",
    "single_step_gradient", "policy_gradient_identity", "BoundReport", "gradient_bound", "paper_bound",
    "martingale_bound", "crude_bound", "exponent_example", "flow_ode", "flow_rate", "time_to_reach",
    "time_asymptotics", "Asymptotics", "DEFAULT_CHUNK",
    "group_advantages", "group_gradient_logits", "group_zero_probability", "binary_group_zero_probability",
    "group_zero_probability_from_std", "group_zero_lower_bound", "group_zero_symbolic", "MAX_GROUP",
    "bound_expressions",
]

#: Outputs enumerated per chunk: 2**16 outputs x L int64 tokens is a few MiB.
DEFAULT_CHUNK = 1 << 16
#: Largest number of outputs K**L the exact enumeration accepts (the issue asks for 1e6; a little room).
MAX_OUTPUTS = 1 << 24

Reward = np.ndarray | Sequence[float] | Callable[[np.ndarray], np.ndarray]


def _check_KL(K, L) -> tuple[int, int]:
    K = _v.integer("K", K, low=2, high=MAX_OUTPUTS)
    L = _v.integer("L", L, low=1, high=64)
    if K ** L > MAX_OUTPUTS:
        raise ValueError(f"K**L = {K}**{L} = {K ** L} outputs exceeds the enumeration limit {MAX_OUTPUTS}")
    return int(K), int(L)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    m = np.max(z, axis=-1, keepdims=True)
    return z - m - np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))


# ----------------------------------------------------------------------------------------------- policies


class _SoftmaxPolicy:
    """Base of autoregressive softmax policies: per-level logits ``(K**l, K)`` for ``l = 0..L-1``.

    Prefixes of length ``l`` are indexed lexicographically, ``h = sum_i y_i K**(l-1-i)``; an output's index
    is its full base-``K`` number, so the prefix of output ``i`` at level ``l`` is ``i // K**(L-l)``.
    """

    K: int
    L: int

    def level_logits(self, l: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def pullback(self, grad_logits: Sequence[np.ndarray]) -> np.ndarray:  # pragma: no cover - abstract
        """Chain rule: the gradient w.r.t. the parameters from the gradients w.r.t. each level's logits."""
        raise NotImplementedError

    def gamma(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    @functools.cached_property
    def _log_pi(self) -> tuple[np.ndarray, ...]:
        return tuple(_log_softmax(np.asarray(self.level_logits(l), dtype=float)) for l in range(self.L))

    def level_probs(self, l: int) -> np.ndarray:
        r"""Next-token distributions :math:`\pi_l(\cdot|h)` of every prefix of length ``l``, ``(K**l, K)``."""
        if not 0 <= l < self.L:
            raise ValueError(f"l must be in [0, {self.L}), got {l!r}")
        return np.exp(self._log_pi[l])


@dataclasses.dataclass(frozen=True, eq=False)
class TabularPolicy(_SoftmaxPolicy):
    r"""One free logit vector per prefix: :math:`f_\theta(h) = \theta_h \in \mathbb R^K`.

    The logit Jacobian of every prefix selects :math:`K` coordinates of :math:`\theta`, so its spectral norm
    is 1 and :math:`\gamma = 1`.

    Args:
        logits: sequence of ``L`` arrays, level ``l`` of shape ``(K**l, K)``.

    Raises:
        ValueError: wrong shapes, non-finite logits, ``K < 2``, ``L < 1``.
    """

    logits: tuple

    def __post_init__(self):
        logits = tuple(np.asarray(z, dtype=float) for z in self.logits)
        if len(logits) < 1:
            raise ValueError("logits must hold at least one level (L >= 1), got 0")
        if logits[0].ndim != 2:
            raise ValueError(f"logits[0] must have shape (1, K), got {logits[0].shape}")
        K, L = _check_KL(logits[0].shape[1], len(logits))
        for l, z in enumerate(logits):
            if z.shape != (K ** l, K):
                raise ValueError(f"logits[{l}] must have shape ({K ** l}, {K}), got {z.shape}")
            if not np.all(np.isfinite(z)):
                raise ValueError(f"logits[{l}] must be finite")
        object.__setattr__(self, "logits", logits)
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "L", L)

    def level_logits(self, l: int) -> np.ndarray:
        return self.logits[l]

    def pullback(self, grad_logits):
        return np.concatenate([np.asarray(g, dtype=float).ravel() for g in grad_logits])

    def gamma(self) -> float:
        return 1.0

    @property
    def n_params(self) -> int:
        return sum(z.size for z in self.logits)


@dataclasses.dataclass(frozen=True, eq=False)
class LinearPolicy(_SoftmaxPolicy):
    r"""Logits linear in the parameters: :math:`f_\theta(h) = J(h)\,\theta + b(h)`, one Jacobian per prefix.

    Covers linear-logit models :math:`f(h) = W\phi(h)` (then :math:`J(h) = I_K \otimes \phi(h)^\top`) and any
    first-order (linearised) model. :math:`\gamma = \max_{l,h} \|J(h)\|_2` is computed from singular values.

    Args:
        theta: parameters, shape ``(P,)``.
        jacobians: ``L`` arrays, level ``l`` of shape ``(K**l, K, P)``.
        offsets: optional ``L`` arrays ``(K**l, K)`` (default zero).

    Raises:
        ValueError: inconsistent shapes or non-finite entries.
    """

    theta: np.ndarray
    jacobians: tuple
    offsets: tuple | None = None

    def __post_init__(self):
        theta = np.asarray(self.theta, dtype=float)
        if theta.ndim != 1 or theta.size < 1 or not np.all(np.isfinite(theta)):
            raise ValueError(f"theta must be a finite 1-D array, got shape {theta.shape}")
        jac = tuple(np.asarray(j, dtype=float) for j in self.jacobians)
        if len(jac) < 1 or jac[0].ndim != 3:
            raise ValueError("jacobians must be L >= 1 arrays of shape (K**l, K, P)")
        K, L = _check_KL(jac[0].shape[1], len(jac))
        P = theta.size
        offs = self.offsets if self.offsets is not None else tuple(np.zeros((K ** l, K)) for l in range(L))
        offs = tuple(np.asarray(b, dtype=float) for b in offs)
        if len(offs) != L:
            raise ValueError(f"offsets must have L={L} levels, got {len(offs)}")
        for l in range(L):
            if jac[l].shape != (K ** l, K, P):
                raise ValueError(f"jacobians[{l}] must have shape ({K ** l}, {K}, {P}), got {jac[l].shape}")
            if offs[l].shape != (K ** l, K):
                raise ValueError(f"offsets[{l}] must have shape ({K ** l}, {K}), got {offs[l].shape}")
            if not (np.all(np.isfinite(jac[l])) and np.all(np.isfinite(offs[l]))):
                raise ValueError(f"jacobians[{l}] and offsets[{l}] must be finite")
        object.__setattr__(self, "theta", theta)
        object.__setattr__(self, "jacobians", jac)
        object.__setattr__(self, "offsets", offs)
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "L", L)

    def level_logits(self, l: int) -> np.ndarray:
        return self.jacobians[l] @ self.theta + self.offsets[l]

    def pullback(self, grad_logits):
        return sum(np.einsum("hk,hkp->p", np.asarray(g, dtype=float), j) for g, j in zip(grad_logits, self.jacobians))

    def gamma(self) -> float:
        return float(max(np.max(np.linalg.norm(j, ord=2, axis=(1, 2))) for j in self.jacobians))

    @property
    def n_params(self) -> int:
        return self.theta.size


@dataclasses.dataclass(frozen=True, eq=False)
class NonNormalisedPolicy:
    r"""Negative control (OpenReview reviewer 3): :math:`p(y{=}k) = \theta_k x_k`, *not* a softmax.

    At a point where the :math:`p_k` happen to sum to 1, :math:`V = \sum_k \theta_k x_k r_k` has
    :math:`\nabla_\theta V = x \odot r`, non-zero even for a constant reward, because moving :math:`\theta`
    leaves the probability simplex. Theorem 1 does not apply; :func:`gradient_bound` raises on it.

    Args:
        theta, x: positive arrays of equal shape ``(K,)``.
    """

    theta: np.ndarray
    x: np.ndarray

    def __post_init__(self):
        th, x = np.asarray(self.theta, dtype=float), np.asarray(self.x, dtype=float)
        if th.ndim != 1 or th.shape != x.shape or th.size < 2:
            raise ValueError(f"theta and x must be 1-D of equal length >= 2, got {th.shape}, {x.shape}")
        if np.any(th * x < 0):
            raise ValueError("theta * x must be >= 0 (probabilities)")
        object.__setattr__(self, "theta", th)
        object.__setattr__(self, "x", x)

    @property
    def probs(self) -> np.ndarray:
        return self.theta * self.x

    def expected_gradient(self, reward) -> np.ndarray:
        r""":math:`\nabla_\theta \sum_k \theta_k x_k r_k = x \odot r`."""
        r = np.asarray(reward, dtype=float)
        if r.shape != self.x.shape:
            raise ValueError(f"reward must have shape {self.x.shape}, got {r.shape}")
        return self.x * r


def _rng(key) -> np.random.Generator:
    if isinstance(key, np.random.Generator):
        return key
    return np.random.default_rng(_v.integer("key", key, low=0))


def random_tabular_policy(K: int, L: int, *, key, scale: float = 1.0) -> TabularPolicy:
    """A tabular policy with i.i.d. ``N(0, scale**2)`` logits. ``key``: int seed or ``np.random.Generator``."""
    K, L = _check_KL(K, L)
    scale = _v.real("scale", scale, low=0.0, high=1e150)
    rng = _rng(key)
    return TabularPolicy(tuple(scale * rng.standard_normal((K ** l, K)) for l in range(L)))


def random_linear_policy(K: int, L: int, P: int, *, key, scale: float = 1.0) -> LinearPolicy:
    """A linear-logit policy with Gaussian Jacobians ``N(0, 1/P)`` per prefix and ``theta ~ N(0, scale**2)``."""
    K, L = _check_KL(K, L)
    P = _v.integer("P", P, low=1, high=10**6)
    scale = _v.real("scale", scale, low=0.0, high=1e150)
    rng = _rng(key)
    jac = tuple(rng.standard_normal((K ** l, K, P)) / math.sqrt(P) for l in range(L))
    return LinearPolicy(scale * rng.standard_normal(P), jac)


# ----------------------------------------------------------------------------------------- enumeration


def enumerate_outputs(K: int, L: int, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Outputs ``start..stop-1`` in lexicographic order as tokens, ``(stop - start, L)`` int64."""
    K, L = _check_KL(K, L)
    n = K ** L
    start = _v.integer("start", start)
    stop = n if stop is None else _v.integer("stop", stop)
    if not 0 <= start <= stop <= n:
        raise ValueError(f"need 0 <= start <= stop <= K**L = {n}, got start={start}, stop={stop}")
    idx = np.arange(start, stop, dtype=np.int64)
    pows = K ** np.arange(L - 1, -1, -1, dtype=np.int64)
    return (idx[:, None] // pows[None, :]) % K


def _check_chunk(chunk) -> int:
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValueError(f"chunk must be a positive int, got {chunk!r}")
    return int(chunk)


class _Rewards:
    """Rewards of all outputs: an array of size K**L (any shape, C order = lexicographic) or a callable."""

    def __init__(self, reward, K: int, L: int):
        self.K, self.L = K, L
        if callable(reward):
            self.fn = reward
            self.arr = None
        else:
            r = np.asarray(reward, dtype=float)
            if r.size != K ** L:
                raise ValueError(f"reward must have K**L = {K ** L} entries, got shape {r.shape}")
            if not np.all(np.isfinite(r)):
                raise ValueError("reward must be finite")
            self.fn = None
            self.arr = r.ravel()

    def chunk(self, a: int, b: int) -> np.ndarray:
        if self.arr is not None:
            return self.arr[a:b]
        r = np.asarray(self.fn(enumerate_outputs(self.K, self.L, a, b)), dtype=float)
        if r.shape != (b - a,) or not np.all(np.isfinite(r)):
            raise ValueError(f"reward callable must return {b - a} finite values for {b - a} outputs, got shape {r.shape}")
        return r

    def full(self) -> np.ndarray:
        return self.arr if self.arr is not None else self.chunk(0, self.K ** self.L)

    def bounds(self, chunk: int) -> tuple[float, float]:
        lo, hi = np.inf, -np.inf
        for a in range(0, self.K ** self.L, chunk):
            r = self.chunk(a, min(a + chunk, self.K ** self.L))
            lo, hi = min(lo, float(r.min())), max(hi, float(r.max()))
        return lo, hi


def _chunk_logp(policy: _SoftmaxPolicy, a: int, b: int):
    """log p(y) of outputs a..b-1, plus per-level prefix and token indices."""
    K, L = policy.K, policy.L
    idx = np.arange(a, b, dtype=np.int64)
    logp = np.zeros(b - a)
    hs, vs = [], []
    for l in range(L):
        h = idx // K ** (L - l)
        v = (idx // K ** (L - 1 - l)) % K
        logp += policy._log_pi[l][h, v]
        hs.append(h)
        vs.append(v)
    return logp, hs, vs


def _check_probs(probs, name: str = "probs") -> np.ndarray:
    p = _v.array(name, probs)
    if p.ndim != 1 or p.size < 2:
        raise ValueError(f"{name} must be a 1-D array of >= 2 probabilities (or a policy), got shape {p.shape}")
    if np.any(p < 0):
        raise ValueError(f"{name} must be >= 0")
    if abs(p.sum() - 1.0) > 1e-9:
        raise ValueError(f"{name} must sum to 1, got sum {p.sum()!r}")
    return p


def _as_policy(policy):
    if isinstance(policy, NonNormalisedPolicy):
        raise ValueError("policy: a NonNormalisedPolicy (p_k = theta_k x_k) is not a softmax policy; "
                         "the expected-reward/std/gradient functions and Theorem 1 apply to softmax policies only")
    if isinstance(policy, _SoftmaxPolicy):
        return policy
    p = _check_probs(policy, "policy probs")
    return p


def output_probs(policy: _SoftmaxPolicy) -> np.ndarray:
    """:math:`p(y)` of all ``K**L`` outputs in lexicographic order (materialised; small policies only)."""
    if not isinstance(policy, _SoftmaxPolicy):
        raise TypeError(f"policy must be a TabularPolicy or LinearPolicy, got {type(policy).__name__}")
    logp, _, _ = _chunk_logp(policy, 0, policy.K ** policy.L)
    return np.exp(logp)


def _moments(policy, reward, chunk: int) -> tuple[float, float]:
    """(V, STD) by two chunked passes (two-pass variance: no cancellation when STD << |V|)."""
    pol = _as_policy(policy)
    chunk = _check_chunk(chunk)
    if isinstance(pol, np.ndarray):
        r = np.asarray(reward, dtype=float).ravel()
        if r.shape != pol.shape or not np.all(np.isfinite(r)):
            raise ValueError(f"reward must be finite with shape {pol.shape}, got {np.shape(reward)}")
        V = float(pol @ r)
        return V, float(math.sqrt(max(float(pol @ (r - V) ** 2), 0.0)))
    R = _Rewards(reward, pol.K, pol.L)
    n = pol.K ** pol.L
    V = 0.0
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        logp, _, _ = _chunk_logp(pol, a, b)
        V += float(np.exp(logp) @ R.chunk(a, b))
    var = 0.0
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        logp, _, _ = _chunk_logp(pol, a, b)
        var += float(np.exp(logp) @ (R.chunk(a, b) - V) ** 2)
    return V, math.sqrt(max(var, 0.0))


def expected_reward(policy, reward: Reward, *, chunk: int = DEFAULT_CHUNK) -> float:
    r"""Exact :math:`V = \mathbb E_{y \sim p}[r(y)] = \sum_y p(y) r(y)`, enumerating outputs in chunks.

    Args:
        policy: a :class:`TabularPolicy`/:class:`LinearPolicy`, or a probability vector over outputs.
        reward: ``K**L`` rewards in lexicographic output order (any shape of that size, C order), or a
            callable ``tokens (n, L) int -> (n,)`` evaluated chunk by chunk.
        chunk: outputs per chunk.

    Raises:
        ValueError: probabilities not summing to 1 or negative; wrong reward size; non-finite values;
            a non-softmax policy.
    """
    return _moments(policy, reward, chunk)[0]


def reward_std(policy, reward: Reward, *, chunk: int = DEFAULT_CHUNK) -> float:
    r"""Population std of the reward under the model, :math:`(\sum_y p(y)(r(y) - V)^2)^{1/2}`.

    This is the quantity of Theorem 1 and of the official code (``reinforce_trainer.py``: probability-weighted
    over all labels, no Bessel correction). Arguments and errors as in :func:`expected_reward`.
    """
    return _moments(policy, reward, chunk)[1]


def expected_gradient(
    policy,
    reward: Reward,
    *,
    wrt: Literal["params", "logits"] = "params",
    method: Literal["enumerate", "recursion"] = "enumerate",
    chunk: int = DEFAULT_CHUNK,
):
    r"""Exact :math:`\nabla_\theta V` of a softmax policy.

    ``method="enumerate"`` sums the policy-gradient identity over all outputs, chunk by chunk:

    .. math:: \nabla V = \sum_y p(y)\,(r(y) - V)\,\nabla\ln p(y),\qquad
              \nabla_{f(h)} \ln p(y) = \mathbf 1\{y_{<l} = h\}\,(e_{y_l} - \pi_l(\cdot|h)).

    ``method="recursion"`` uses the backward recursion :math:`Q_L = r`,
    :math:`Q_l(h) = \sum_v \pi_l(v|h) Q_{l+1}(hv)` and the prefix probabilities :math:`P(h)`:
    :math:`\nabla_{f(h)} V = P(h)\,\pi_l(\cdot|h) \odot (Q_{l+1}(h\,\cdot) - Q_l(h))` (the martingale increments
    of the proof). It materialises the ``K**L`` rewards.

    Args:
        policy: :class:`TabularPolicy` or :class:`LinearPolicy`.
        reward: as in :func:`expected_reward`.
        wrt: ``"params"`` (flat for tabular, ``(P,)`` for linear) or ``"logits"`` (tuple of ``(K**l, K)``).
        method: ``"enumerate"`` or ``"recursion"``.
        chunk: outputs per chunk (enumeration).

    Raises:
        ValueError: bad ``wrt``/``method``/``chunk``, bad rewards, a non-softmax policy.
    """
    if wrt not in ("params", "logits"):
        raise ValueError(f"wrt must be 'params' or 'logits', got {wrt!r}")
    if method not in ("enumerate", "recursion"):
        raise ValueError(f"method must be 'enumerate' or 'recursion', got {method!r}")
    pol = _as_policy(policy)
    if not isinstance(pol, _SoftmaxPolicy):
        raise ValueError("policy: expected_gradient needs a TabularPolicy or LinearPolicy (parameters), "
                         "not a bare probability vector; use single_step_gradient for logits of one step")
    chunk = _check_chunk(chunk)
    K, L = pol.K, pol.L
    R = _Rewards(reward, K, L)
    pis = [pol.level_probs(l) for l in range(L)]
    if method == "recursion":
        Q = R.full()
        grads = [None] * L
        Qs = [None] * (L + 1)
        Qs[L] = Q
        for l in range(L - 1, -1, -1):
            Qs[l] = np.sum(pis[l] * Qs[l + 1].reshape(K ** l, K), axis=1)
        P = np.ones(1)
        for l in range(L):
            grads[l] = P[:, None] * pis[l] * (Qs[l + 1].reshape(K ** l, K) - Qs[l][:, None])
            P = (P[:, None] * pis[l]).ravel()
    else:
        V = expected_reward(pol, reward, chunk=chunk)
        grads = [np.zeros((K ** l, K)) for l in range(L)]
        n = K ** L
        for a in range(0, n, chunk):
            b = min(a + chunk, n)
            logp, hs, vs = _chunk_logp(pol, a, b)
            w = np.exp(logp) * (R.chunk(a, b) - V)
            for l in range(L):
                nh = K ** l
                grads[l] += np.bincount(hs[l] * K + vs[l], weights=w, minlength=nh * K).reshape(nh, K)
                grads[l] -= np.bincount(hs[l], weights=w, minlength=nh)[:, None] * pis[l]
    grads = tuple(grads)
    return grads if wrt == "logits" else pol.pullback(grads)


def single_step_gradient(probs, reward) -> np.ndarray:
    r""":math:`\nabla_z V = \pi \odot (r - V\mathbf 1)` for one softmax step (:math:`L = 1`), from :math:`\pi`.

    Properties (tested): :math:`\mathbf 1^\top \nabla_z V = 0` and
    :math:`\|\nabla_z V\|^2 = \sum_k \pi_k^2 (r_k - V)^2 \le \max_k \pi_k\, \mathrm{STD}^2`.

    Raises:
        ValueError: ``probs`` not a probability vector (negative, not summing to 1), shape mismatch.
    """
    p = _check_probs(probs)
    r = np.asarray(reward, dtype=float)
    if r.shape != p.shape or not np.all(np.isfinite(r)):
        raise ValueError(f"reward must be finite with shape {p.shape}, got {r.shape}")
    return p * (r - p @ r)


# -------------------------------------------------------------------------------------- symbolic identity


@_v.cached
def policy_gradient_identity(L: int, K: int | None = None) -> dict:
    r"""The policy-gradient identity with the softmax chain rule, symbolically.

    Builds the enumerated :math:`V = \sum_y p(y) r(y)` of a tabular softmax policy with symbolic logits and
    rewards, differentiates it with sympy (``lhs``), and builds
    :math:`\mathbb E_y[(r - V)\sum_l J_l^\top(e_{y_l} - \pi_l)]` (``rhs``) independently from the chain rule.

    With ``L == 1`` and ``K is None`` the vocabulary size is a symbol: logits :math:`z_k`, rewards :math:`r_k`
    as ``IndexedBase`` sums over :math:`k = 1..K`, and the gradient w.r.t. one coordinate :math:`z_i`.
    Otherwise ``K`` must be an int (default 2 for ``L = 2``) and every coordinate is explicit.

    Returns:
        dict with ``lhs``, ``rhs`` (sympy expressions or column matrices over all logits), ``difference``
        (``lhs - rhs`` after expansion, 0 when the identity holds), ``baseline`` (the expansion of
        :math:`\mathbb E[\nabla \ln p]`, 0), and ``symbols``.

    Raises:
        ValueError: ``L`` not 1 or 2 (exact symbolic enumeration grows as :math:`K^L`), bad ``K``.
    """
    if L not in (1, 2):
        raise ValueError(f"L must be 1 or 2 for the symbolic identity, got {L!r}")
    if K is None and L == 1:
        Ks = sp.Symbol("K", integer=True, positive=True)
        i, k = sp.symbols("i k", integer=True, positive=True)
        z, r = sp.IndexedBase("z"), sp.IndexedBase("r")
        Z = sp.Sum(sp.exp(z[k]), (k, 1, Ks))
        V = sp.Sum(sp.exp(z[k]) * r[k], (k, 1, Ks)) / Z

        def collapse(e):  # sum_k delta_{ik} f(k) = f(i) for 1 <= i <= K
            return e.replace(
                lambda x: isinstance(x, sp.Sum) and x.has(sp.KroneckerDelta),
                lambda x: x.function.subs(sp.KroneckerDelta(i, x.variables[0]), 1).subs(x.variables[0], i),
            )

        def pull(e):  # sum_k c f(k) = c sum_k f(k) for factors c free of k
            def split(x):
                kv = x.variables[0]
                fac = sp.Mul.make_args(x.function)
                dep = [f for f in fac if kv in f.free_symbols]
                ind = [f for f in fac if kv not in f.free_symbols]
                return sp.Mul(*ind) * sp.Sum(sp.Mul(*dep), *x.limits)

            return e.replace(lambda x: isinstance(x, sp.Sum) and len(sp.Mul.make_args(x.function)) > 1, split)

        lhs = collapse(sp.diff(V, z[i]))
        # E[(r - V) d log pi_y / d z_i] with d log pi_k/d z_i = delta_ik - pi_i (softmax chain rule)
        pi_i = sp.exp(z[i]) / Z
        rhs = collapse(sp.Sum(sp.exp(z[k]) / Z * (r[k] - V) * (sp.KroneckerDelta(i, k) - pi_i), (k, 1, Ks)).expand())
        baseline = collapse(sp.Sum(sp.exp(z[k]) / Z * (sp.KroneckerDelta(i, k) - pi_i), (k, 1, Ks)).expand())
        rhs, baseline = pull(rhs), pull(baseline)
        return {"lhs": lhs, "rhs": rhs, "difference": sp.expand(lhs - rhs), "baseline": sp.expand(baseline),
                "symbols": {"K": Ks, "i": i, "z": z, "r": r}}
    K = 2 if K is None else K
    K = _v.integer("K", K, low=2, high=4)
    if K ** L > 8:
        raise ValueError(f"K**L must be <= 8 for the explicit symbolic identity (its enumeration grows as K^L), "
                         f"got K={K}, L={L}")
    # logits z[l][h][v], rewards r[y]
    zs = [[[sp.Symbol(f"z{l}_{h}_{v}", real=True) for v in range(K)] for h in range(K ** l)] for l in range(L)]
    flat = [s for lev in zs for row in lev for s in row]
    outs = [tuple(t) for t in enumerate_outputs(K, L)]
    rs = [sp.Symbol("r_" + "".join(map(str, y)), real=True) for y in outs]

    def pi(l, h, v):
        return sp.exp(zs[l][h][v]) / sum(sp.exp(s) for s in zs[l][h])

    def prefix(y, l):
        h = 0
        for t in y[:l]:
            h = h * K + int(t)
        return h

    p = [sp.Mul(*[pi(l, prefix(y, l), int(y[l])) for l in range(L)]) for y in outs]
    V = sum(pp * rr for pp, rr in zip(p, rs))
    lhs = sp.Matrix([sp.diff(V, s) for s in flat])

    def grad_logp(y):  # sum_l J_l^T (e_{y_l} - pi_l): tabular J_l selects the logits of prefix y_<l
        g = []
        for l in range(L):
            for h in range(K ** l):
                for v in range(K):
                    on = h == prefix(y, l)
                    g.append(((1 if v == int(y[l]) else 0) - pi(l, h, v)) if on else sp.Integer(0))
        return sp.Matrix(g)

    rhs = sp.zeros(len(flat), 1)
    base = sp.zeros(len(flat), 1)
    for pp, rr, y in zip(p, rs, outs):
        gl = grad_logp(y)
        rhs += pp * (rr - V) * gl
        base += pp * gl
    def zero(e):  # rational function of the exp(z): put over one denominator, expand the numerator
        return sp.expand(sp.numer(sp.together(e)))

    return {"lhs": lhs, "rhs": rhs, "difference": (lhs - rhs).applyfunc(zero), "baseline": base.applyfunc(zero),
            "symbols": {"logits": flat, "rewards": rs}}


# ---------------------------------------------------------------------------------------------- bounds


def paper_bound(L: int, gamma: float, std: float) -> float:
    r"""Theorem 1 as stated: :math:`6 L \gamma\, \mathrm{STD}^{2/3}` (valid for rewards in :math:`[-1, 1]`).

    Raises:
        ValueError: ``L < 1``, ``gamma < 0``, ``std`` outside ``[0, 1]`` (rewards in [-1, 1] imply STD <= 1).
    """
    L = _v.integer("L", L, low=1)
    gamma = _v.real("gamma", gamma, low=0.0)
    std = _v.real("std", std)
    if not 0 <= std <= 1 + 1e-12:
        raise ValueError(f"std must be in [0, 1] for the paper's bound (rewards in [-1, 1]), got {std!r}")
    return _finite_bound(6.0 * L * gamma * std ** (2.0 / 3.0), L, gamma, std)


def _finite_bound(b: float, L, gamma, std) -> float:
    if not math.isfinite(b):
        raise ValueError(f"the bound overflows float64 for L={L!r}, gamma={gamma!r}, std={std!r}")
    return b


def martingale_bound(L: int, gamma: float, std: float) -> float:
    r"""The sharper bound :math:`\sqrt L\,\gamma\,\mathrm{STD}` (martingale increments + Cauchy-Schwarz; any
    bounded rewards). Raises ``ValueError`` on ``L < 1``, ``gamma < 0``, ``std < 0``."""
    L = _v.integer("L", L, low=1)
    gamma = _v.real("gamma", gamma, low=0.0)
    std = _v.real("std", std, low=0.0)
    return _finite_bound(math.sqrt(L) * gamma * std, L, gamma, std)


def crude_bound(L: int, gamma: float, std: float) -> float:
    r"""The crude bound :math:`\sqrt 2\, L\,\gamma\,\mathrm{STD}` (token-level :math:`\|e_v - \pi\| \le \sqrt 2`
    and Jensen). Same errors as :func:`martingale_bound`."""
    b = martingale_bound(L, gamma, std)
    return _finite_bound(math.sqrt(2.0 * L) * b, L, gamma, std)


@dataclasses.dataclass(frozen=True)
class BoundReport:
    """The quantities of Theorem 1 and its sharper forms for one policy and reward.

    Attributes:
        grad_norm: exact :math:`\\|\\nabla_\\theta V\\|_2`.
        std, value: reward std and expected reward under the model.
        gamma: largest logit-Jacobian spectral norm over prefixes (computed).
        K, L: vocabulary size and output length.
        paper, martingale, crude: the three bounds.
    """

    grad_norm: float
    std: float
    value: float
    gamma: float
    K: int
    L: int
    paper: float
    martingale: float
    crude: float

    @property
    def holds(self) -> dict:
        """Whether each bound holds (with a 1e-12 float64 slack for the zero-std case)."""
        tol = 1e-12
        return {name: self.grad_norm <= getattr(self, name) * (1 + 1e-9) + tol for name in ("paper", "martingale", "crude")}

    @property
    def ratios(self) -> dict:
        """``grad_norm / bound`` for each bound (0 when the bound is 0 and the gradient too)."""
        return {name: (self.grad_norm / b if b > 0 else 0.0) for name in ("paper", "martingale", "crude")
                for b in [getattr(self, name)]}


def gradient_bound(policy, reward: Reward, *, chunk: int = DEFAULT_CHUNK, method: str = "enumerate") -> BoundReport:
    r"""Theorem 1 and the sharper bounds for one softmax policy and reward, all quantities computed.

    .. math:: \|\nabla_\theta V\| \le \sqrt L\,\gamma\,\mathrm{STD} \le \sqrt2\,L\,\gamma\,\mathrm{STD}
              \le 6\,L\,\gamma\,\mathrm{STD}^{2/3}\quad(\mathrm{STD} \le 1).

    Args:
        policy: :class:`TabularPolicy` or :class:`LinearPolicy`.
        reward: rewards in :math:`[-1, 1]` (the paper's assumption), as in :func:`expected_reward`.

    Raises:
        ValueError: a non-softmax policy (e.g. :class:`NonNormalisedPolicy`, where the theorem fails) or a
            probability vector (no parameters); rewards outside ``[-1, 1]``.
    """
    if isinstance(policy, NonNormalisedPolicy):
        raise ValueError("policy: Theorem 1 requires a softmax (normalised) parametrisation; a "
                         "NonNormalisedPolicy can have a non-zero gradient under constant reward")
    if not isinstance(policy, _SoftmaxPolicy):
        raise ValueError(f"policy must be a TabularPolicy or LinearPolicy, got {type(policy).__name__}")
    R = _Rewards(reward, policy.K, policy.L)
    lo, hi = R.bounds(_check_chunk(chunk))
    if lo < -1 - 1e-12 or hi > 1 + 1e-12:
        raise ValueError(f"reward must lie in [-1, 1] for the paper's bound, got range [{lo:.6g}, {hi:.6g}]")
    V, std = _moments(policy, reward, chunk)
    g = expected_gradient(policy, reward, method=method, chunk=chunk)
    gam = policy.gamma()
    L = policy.L
    return BoundReport(float(np.linalg.norm(g)), std, V, gam, policy.K, L, paper_bound(L, gam, min(std, 1.0)),
                       martingale_bound(L, gam, std), crude_bound(L, gam, std))


def exponent_example(pi1, gaps):
    r"""The example showing exponent 1 is attained: :math:`L = 1`, :math:`K = 2`, fixed :math:`\pi`, reward gap
    :math:`\Delta = r_1 - r_2`.

    :math:`\mathrm{STD} = \sqrt{\pi_1\pi_2}\,|\Delta|` and :math:`\|\nabla_z V\| = \sqrt2\,\pi_1\pi_2|\Delta|`, so
    :math:`\|\nabla_z V\|/\mathrm{STD} = \sqrt{2\pi_1\pi_2}` for every :math:`\Delta` while
    :math:`\|\nabla_z V\|/\mathrm{STD}^{2/3} \to 0` as :math:`\Delta \to 0`.

    Args:
        pi1: probability of token 1, in (0, 1).
        gaps: array of reward gaps (rewards ``(gap/2, -gap/2)``, so they lie in [-1, 1] when ``|gap| <= 2``).

    Returns:
        dict of arrays ``std``, ``grad_norm`` (both computed exactly from :func:`single_step_gradient`),
        ``ratio_std`` (:math:`\|\nabla\|/\mathrm{STD}`), ``ratio_paper`` (:math:`\|\nabla\|/\mathrm{STD}^{2/3}`)
        and the predicted constant ``sqrt(2 pi1 pi2)``.

    Raises:
        ValueError: ``pi1`` outside (0, 1); a zero or non-finite gap.
    """
    pi1 = _v.real("pi1", pi1)
    if not 0 < pi1 < 1:
        raise ValueError(f"pi1 must be in (0, 1), got {pi1!r}")
    gaps = np.atleast_1d(_v.array("gaps", gaps, ndim=(0, 1)))
    if np.any(np.abs(gaps) > 1e100) or np.any((gaps != 0) & (np.abs(gaps) < 1e-100)):
        raise ValueError(f"gaps must have magnitudes in [1e-100, 1e100] (the exponent fit divides by log|gap|), "
                         f"got {gaps!r}")
    if np.any(gaps == 0) or not np.all(np.isfinite(gaps)):
        raise ValueError("gaps must be finite and non-zero")
    p = np.array([pi1, 1.0 - pi1])
    std = np.array([reward_std(p, [g / 2, -g / 2]) for g in gaps])
    gn = np.array([np.linalg.norm(single_step_gradient(p, [g / 2, -g / 2])) for g in gaps])
    return {"std": std, "grad_norm": gn, "ratio_std": gn / std, "ratio_paper": gn / std ** (2 / 3),
            "constant": math.sqrt(2 * pi1 * (1 - pi1))}


# ------------------------------------------------------------------------------------------------ flows

p_sym = sp.Symbol("p", positive=True)
_gap = sp.Symbol("Delta", positive=True)


#: Largest ``K`` of the symbolic flow (:func:`flow_ode` differentiates a softmax over K logits: 13 s at K = 64).
MAX_FLOW_K = 64


@_v.cached
def flow_ode(objective: str, K: int, *, gap: float | sp.Expr = 1) -> sp.Expr:
    r"""Gradient flow of the correct-label probability :math:`p = \pi_c` on one input with ``K`` labels.

    Derived with sympy, not typed in: logits :math:`z \in \mathbb R^K`, :math:`\dot z = \nabla_z \mathcal J`
    with :math:`\mathcal J_{\rm RFT} = \sum_k \pi_k r_k`, :math:`r = \Delta\,e_c` (a constant shift of the
    rewards changes nothing), and :math:`\mathcal J_{\rm SFT} = \ln \pi_c` (minus the cross-entropy); then
    :math:`\dot p = \nabla_z \pi_c \cdot \dot z`, evaluated where all other logits are equal (a symmetry the
    flow keeps), :math:`\pi_u = (1-p)/(K-1)`. Result:

    .. math:: \dot p_{\rm RFT} = \tfrac{K}{K-1}\Delta\,p^2(1-p)^2,\qquad \dot p_{\rm SFT} = \tfrac{K}{K-1}\,p(1-p)^2.

    Args:
        objective: ``"rft"`` or ``"sft"``.
        K: number of labels, int >= 2.
        gap: reward gap :math:`\Delta = r_c - r_{u}` (RFT only), > 0; 1 for :math:`r \in \{0, 1\}`, 2 for
            :math:`\pm 1`.

    Returns:
        sympy expression in :data:`p_sym` (``p``).

    Raises:
        ValueError: unknown objective, ``K < 2``, ``gap <= 0``.
    """
    if objective not in ("rft", "sft"):
        raise ValueError(f"objective must be 'rft' or 'sft', got {objective!r}")
    K = _v.integer("K", K, low=2, high=MAX_FLOW_K)
    if not (isinstance(gap, sp.Expr) and not gap.is_Number):
        gap = _v.real("gap", gap, low=1e-12, high=1e12)  # the time scales as 1/gap: the supported range
    gap = sp.nsimplify(gap)
    z = sp.symbols(f"z0:{K}", real=True)
    Z = sum(sp.exp(zi) for zi in z)
    pi = [sp.exp(zi) / Z for zi in z]
    J = gap * pi[0] if objective == "rft" else sp.log(pi[0])
    zdot = [sp.diff(J, zi) for zi in z]
    pdot = sum(sp.diff(pi[0], zi) * zd for zi, zd in zip(z, zdot))
    # all other logits equal to 0, z0 = log(p (K-1)/(1-p)) gives pi_c = p
    a = sp.Symbol("a", real=True)
    pdot = pdot.subs({zi: 0 for zi in z[1:]}).subs(z[0], a)
    pdot = sp.simplify(pdot.subs(a, sp.log(p_sym * (K - 1) / (1 - p_sym))))
    return sp.factor(sp.simplify(pdot))


def _real_log(F: sp.Expr) -> sp.Expr:
    """sympy writes log(p - 1); on 0 < p < 1 use log(1 - p) (they differ by the constant i*pi)."""
    def negative_inside(e) -> bool:
        if not isinstance(e, sp.log):
            return False
        v = e.args[0].subs(p_sym, sp.Rational(1, 2))
        return bool(v.is_real and v.is_negative)

    return F.replace(negative_inside, lambda e: sp.log(sp.expand(-e.args[0])))


@functools.cache
def _antiderivative(objective: str, K: int, gap) -> sp.Expr:
    return _real_log(sp.expand(sp.integrate(sp.apart(1 / flow_ode(objective, K, gap=gap), p_sym), p_sym)))


def flow_rate(objective: str, K: int, *, gap: float = 1.0) -> Callable[[np.ndarray], np.ndarray]:
    """:func:`flow_ode` as a numpy function ``p -> dp/dt``."""
    return sp.lambdify(p_sym, flow_ode(objective, K, gap=gap), "numpy")


def time_to_reach(objective: str, p0, K: int = 2, target: float = 0.5, *, gap: float = 1.0, n: int = 1,
                  method: Literal["closed", "quad"] = "closed"):
    r"""Gradient-flow time for :math:`p = \pi_c` to go from ``p0`` to ``target``.

    :math:`t = n\int_{p_0}^{p^*} dp/\dot p`. For :math:`K = 2`, :math:`\Delta = 1` (derived here):

    .. math:: t_{\rm RFT} = \ln\tfrac{1-p_0}{p_0} + \tfrac{1/2 - p_0}{p_0(1-p_0)}\ \ (p^* = 1/2),\qquad
              t_{\rm SFT} = \tfrac12\Big[\ln\tfrac{1-p_0}{p_0} + 2 - \tfrac{1}{1-p_0}\Big].

    Because :math:`\dot p` only carries the factor :math:`K/(K-1)` (and :math:`\Delta`), the closed form
    (sympy antiderivative via partial fractions) holds for every :math:`K` when the other logits start
    equal; ``method="quad"`` integrates :math:`1/\dot p` numerically instead (scipy quad) as a check.
    ``n``: with :math:`n` orthonormal inputs and the mean objective, each input's logits move :math:`n`
    times slower, so times scale by :math:`n`.

    Args:
        objective: ``"rft"`` or ``"sft"``.
        p0: initial probability(ies) of the correct label, each in ``(0, target)``.
        K: labels; target: in ``(0, 1)``; gap: reward gap (RFT); n: number of orthonormal inputs.

    Returns:
        float or array like ``p0``.

    Raises:
        ValueError: ``p0`` outside ``(0, target)``, ``target`` outside ``(0, 1)``, bad ``K``, ``n``, ``method``.
    """
    target = _v.real("target", target)
    if not 0 < target < 1:
        raise ValueError(f"target must be in (0, 1), got {target!r}")
    p0a = _v.array("p0", p0)
    if np.any(~(p0a > 0)) or np.any(~(p0a < target)):
        raise ValueError(f"p0 must lie in (0, target={target}), got {p0!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    if method not in ("closed", "quad"):
        raise ValueError(f"method must be 'closed' or 'quad', got {method!r}")
    flow_ode(objective, K, gap=gap)  # validates objective, K, gap
    if method == "closed":
        F = sp.lambdify(p_sym, _antiderivative(objective, int(K), gap), "numpy")
        t = F(target) - F(p0a)
    else:
        import scipy.integrate

        rate = flow_rate(objective, K, gap=gap)
        f = lambda p: 1.0 / rate(p)  # noqa: E731
        # split at a geometric midpoint so quad resolves the 1/p^2 end
        t = np.vectorize(lambda a: sum(scipy.integrate.quad(f, lo, hi, epsabs=0, epsrel=1e-12, limit=200)[0]
                                       for lo, hi in [(a, math.sqrt(a * target)), (math.sqrt(a * target), target)]))(p0a)
    t = n * np.asarray(t, dtype=float)
    return float(t) if t.ndim == 0 else t


@dataclasses.dataclass(frozen=True)
class Asymptotics:
    r"""Leading behaviour of the flow time as :math:`p_0 \to 0` (equivalently :math:`\mathrm{STD}_0 \to 0`).

    Attributes:
        objective: ``"rft"`` or ``"sft"``.
        in_p0: leading term in :math:`p_0` (sympy), e.g. :math:`\tfrac{K-1}{K\Delta}\,p_0^{-1}`.
        in_std: the same in :math:`\mathrm{STD}_0 = \Delta\sqrt{p_0(1-p_0)}` (RFT: :math:`c\,\mathrm{STD}_0^{-2}`;
            SFT: :math:`c\ln(1/\mathrm{STD}_0)`).
        constant: the constant :math:`c` of ``in_std``.
        order: ``"STD^-2"`` or ``"log(1/STD)"``.
    """

    objective: str
    in_p0: sp.Expr
    in_std: sp.Expr
    constant: sp.Expr
    order: str


p0_sym = sp.Symbol("p0", positive=True)
std_sym = sp.Symbol("STD0", positive=True)
K_sym = sp.Symbol("K", integer=True, positive=True)


@functools.cache
def time_asymptotics(objective: str) -> Asymptotics:
    r"""Θ(1/STD²) for RFT against Θ(log 1/STD) for SFT, with the constants, for symbolic :math:`K`, :math:`\Delta`.

    Derived from the antiderivatives of :math:`1/\dot p` with :math:`\dot p = \tfrac{K}{K-1}\Delta p^2(1-p)^2`
    (RFT) and :math:`\tfrac{K}{K-1} p(1-p)^2` (SFT) — the forms :func:`flow_ode` derives for each concrete
    ``K`` — and sympy limits:
    :math:`\lim_{p_0\to0} p_0\,t_{\rm RFT} = \tfrac{K-1}{K\Delta}`, hence
    :math:`t_{\rm RFT} \sim \tfrac{(K-1)\Delta}{K}\,\mathrm{STD}_0^{-2}` (as :math:`\mathrm{STD}_0^2 \sim \Delta^2 p_0`);
    :math:`\lim_{p_0\to0} t_{\rm SFT}/\ln(1/p_0) = \tfrac{K-1}{K}`, hence
    :math:`t_{\rm SFT} \sim \tfrac{2(K-1)}{K}\ln(1/\mathrm{STD}_0)` (SFT has no reward; :math:`\mathrm{STD}_0` of the
    same :math:`\Delta`-reward). For :math:`K = 2`, :math:`\Delta = 1`: :math:`1/(2p_0)` and :math:`\ln(1/\mathrm{STD}_0)`.

    Raises:
        ValueError: unknown objective.
    """
    if objective not in ("rft", "sft"):
        raise ValueError(f"objective must be 'rft' or 'sft', got {objective!r}")
    c = K_sym / (K_sym - 1)
    rate = c * _gap * p_sym ** 2 * (1 - p_sym) ** 2 if objective == "rft" else c * p_sym * (1 - p_sym) ** 2
    F = _real_log(sp.expand(sp.integrate(sp.apart(1 / rate, p_sym), p_sym)))
    t = F.subs(p_sym, sp.Rational(1, 2)) - F.subs(p_sym, p0_sym)
    if objective == "rft":
        const_p = sp.simplify(sp.limit(t * p0_sym, p0_sym, 0))
        in_p0 = const_p / p0_sym
        const_s = sp.simplify(const_p * _gap ** 2)
        return Asymptotics("rft", in_p0, const_s / std_sym ** 2, const_s, "STD^-2")
    const_p = sp.simplify(sp.limit(t / sp.log(1 / p0_sym), p0_sym, 0))
    in_p0 = const_p * sp.log(1 / p0_sym)
    const_s = 2 * const_p
    return Asymptotics("sft", in_p0, const_s * sp.log(1 / std_sym), const_s, "log(1/STD)")


# ------------------------------------------------------------------------------ sample level: GRPO groups

#: Largest group size the group functions accept (the work is O(G) per reward value; a guard, not a need).
MAX_GROUP = 1 << 16


def group_advantages(rewards, *, eps: float = 0.0, normalise: bool = True) -> np.ndarray:
    r"""Group-relative advantages of GRPO-style estimators for one prompt's group of ``G`` sampled outputs.

    .. math:: A_i = \frac{r_i - \bar r}{s + \epsilon},\qquad \bar r = \frac1G\sum_j r_j,\quad
              s = \Big(\frac1G\sum_j (r_j - \bar r)^2\Big)^{1/2}

    (``normalise=False``: :math:`A_i = r_i - \bar r`, the Dr. GRPO form). When all ``G`` rewards are equal,
    :math:`r_i - \bar r = 0` for every ``i``, so every advantage and hence the group's gradient
    :math:`\frac1G\sum_i A_i \nabla\ln p(y_i)` is exactly zero, whatever ``eps``. With ``eps = 0`` and equal
    rewards the ratio is 0/0; it is returned as 0 (the limit from any ``eps > 0``). The sample-level analogue
    of Theorem 1 (Razin et al., 2024), derived here, not quoted from the paper.

    Args:
        rewards: the group's rewards, 1-D, at least one entry, finite.
        eps: non-negative constant added to the group std (GRPO implementations use a small one).
        normalise: divide by the group std (GRPO) or not (Dr. GRPO).

    Returns:
        float64 array of the ``G`` advantages.

    Raises:
        TypeError / ValueError: ``rewards`` not a finite 1-D array; ``eps`` negative or not finite.
    """
    r = _v.array("rewards", rewards, ndim=1, min_size=1)
    eps = _v.real("eps", eps, low=0.0)
    centred = r - r.mean()
    # exact zero when all rewards are equal: r - mean(r) can round to +-1 ulp, so compare the rewards themselves
    if np.all(r == r[0]):
        return np.zeros_like(r)
    with np.errstate(over="ignore", under="ignore"):
        std = float(np.sqrt(np.mean(centred ** 2)))
    if np.all(np.isfinite(centred)) and (not normalise or 1e-150 < std < 1e150):
        return centred / (std + eps) if normalise else centred
    # extreme scales (|r| near 1e308 or 1e-300): centre and normalise r / max|r| (the advantages are scale
    # invariant up to eps, which is rescaled alongside)
    scale = float(np.max(np.abs(r)))
    rs = r / scale
    cs = rs - rs.mean()
    if not normalise:
        with np.errstate(over="ignore"):
            out = cs * scale
        if not np.all(np.isfinite(out)):
            raise ValueError(f"rewards span more than float64 holds: r - mean(r) overflows (max |r| = {scale!r})")
        return out
    with np.errstate(over="ignore"):
        eps_s = eps / scale
    return cs / (float(np.sqrt(np.mean(cs ** 2))) + eps_s)


def group_gradient_logits(probs, samples, rewards, *, eps: float = 0.0, normalise: bool = True) -> np.ndarray:
    r"""The GRPO-style group gradient of a single softmax step (:math:`L = 1`) with respect to its logits.

    .. math:: \hat g = \frac1G\sum_{i=1}^G A_i\,\nabla_z \ln\pi(y_i) = \frac1G\sum_{i=1}^G A_i\,(e_{y_i} - \pi),

    with :math:`A_i` from :func:`group_advantages` (no clipping or KL term: the on-policy first step). It is
    the zero vector when the ``G`` rewards are equal. Derived here, not quoted from the paper.

    Args:
        probs: the policy's probabilities :math:`\pi`, a probability vector of length ``K``.
        samples: the ``G`` sampled tokens, ints in ``[0, K)``.
        rewards: their rewards, ``G`` finite numbers.
        eps, normalise: as in :func:`group_advantages`.

    Returns:
        float64 array of shape ``(K,)``.

    Raises:
        TypeError / ValueError: bad probabilities, tokens outside ``[0, K)``, length mismatch.
    """
    p = _v.probability_vector("probs", probs)
    y = _v.array("samples", samples, ndim=1, dtype="int", min_size=1)
    r = _v.array("rewards", rewards, ndim=1, min_size=1)
    if r.shape != y.shape:
        raise ValueError(f"rewards must have one entry per sample ({y.size}), got shape {r.shape}")
    if np.any(y < 0) or np.any(y >= p.size):
        raise ValueError(f"samples must be tokens in [0, {p.size}), got {y.tolist()}")
    A = group_advantages(r, eps=eps, normalise=normalise)
    counts = np.bincount(y, weights=A, minlength=p.size)
    return (counts - A.sum() * p) / y.size


def _reward_value_probs(probs, rewards) -> np.ndarray:
    """Probabilities of the distinct reward values (exact equality) of a finite reward distribution."""
    p = _v.probability_vector("probs", probs)
    r = _v.array("rewards", rewards, ndim=1)
    if r.shape != p.shape:
        raise ValueError(f"rewards must have the shape of probs {p.shape}, got {r.shape}")
    _, inv = np.unique(r, return_inverse=True)
    return np.bincount(inv.ravel(), weights=p)


def group_zero_probability(probs, rewards, G: int) -> float:
    r"""Probability that a group of ``G`` i.i.d. samples has all rewards equal, so a zero GRPO gradient.

    For a finite reward distribution that takes value :math:`v_j` with probability
    :math:`q_j = \sum_{y:\,r(y) = v_j} p(y)`, the ``G`` rewards are all equal exactly when they all take the
    same value, so

    .. math:: P_0(G) = \sum_j q_j^{\,G}

    (exact: the distinct values are enumerated). Binary rewards give :math:`p^G + (1-p)^G`
    (:func:`binary_group_zero_probability`). With :math:`q_{\max} = \max_j q_j`,
    :math:`q_{\max}^G \le P_0(G) \le q_{\max}^{G-1}`, and :math:`P_0(G) \ge 1 - 2(G-1)\,\mathrm{STD}^2/\delta^2`
    with :math:`\delta` the smallest gap between reward values (:func:`group_zero_lower_bound`). Derived here
    (the sample-level view of Razin et al., 2024), not quoted from the paper.

    Args:
        probs: probabilities of the outputs, a probability vector (e.g. :func:`output_probs` of a policy).
        rewards: the reward of each output, same shape; outputs with exactly equal rewards are pooled.
        G: group size, ``1 <= G <= MAX_GROUP``.

    Returns:
        :math:`P_0(G)` in ``[0, 1]``.

    Raises:
        TypeError / ValueError: bad probabilities or rewards, shape mismatch, ``G`` out of range.
    """
    q = _reward_value_probs(probs, rewards)
    G = _v.integer("G", G, low=1, high=MAX_GROUP)
    return float(min(1.0, np.sum(q ** G)))


def binary_group_zero_probability(p, G: int):
    r"""Closed form for binary rewards: :math:`P_0(G) = p^G + (1-p)^G`, ``p`` the probability of the higher
    reward (vectorised over ``p``). Derived here, not quoted from the paper.

    Args:
        p: probability (array-like) in ``[0, 1]``.
        G: group size, ``1 <= G <= MAX_GROUP``.

    Returns:
        float or array like ``p``.

    Raises:
        TypeError / ValueError: ``p`` outside ``[0, 1]`` or not finite; ``G`` out of range.
    """
    a = _v.array("p", p)
    if np.any(a < 0) or np.any(a > 1):
        raise ValueError(f"p must lie in [0, 1], got {p!r}")
    G = _v.integer("G", G, low=1, high=MAX_GROUP)
    out = a ** G + (1.0 - a) ** G
    return float(out) if out.ndim == 0 else out


def group_zero_probability_from_std(std, G: int, *, gap: float = 1.0):
    r""":math:`P_0(G)` of binary rewards as a function of the reward std alone.

    Binary rewards with gap :math:`\Delta` have :math:`\mathrm{STD} = \Delta\sqrt{p(1-p)}`, so with
    :math:`s = (\mathrm{STD}/\Delta)^2 = p(1-p) \le 1/4` and :math:`p, 1-p = (1 \pm \sqrt{1 - 4s})/2`,

    .. math:: P_0(G) = \Big(\tfrac{1 + \sqrt{1-4s}}{2}\Big)^G + \Big(\tfrac{1 - \sqrt{1-4s}}{2}\Big)^G
              = 1 - G s + O(s^2),

    symmetric in :math:`p \leftrightarrow 1 - p`; it satisfies :math:`P_0(G) = P_0(G-1) - s\,P_0(G-2)` with
    :math:`P_0(0) = 2`, :math:`P_0(1) = 1`. So a small std means almost every group is all-equal and gives no
    gradient: the expected fraction of informative groups is at most :math:`2(G-1)s`. Derived here, not
    quoted from the paper.

    Args:
        std: reward std(s) under the policy, in ``[0, gap/2]``.
        G: group size, ``1 <= G <= MAX_GROUP``.
        gap: the reward gap :math:`\Delta > 0` (2 for rewards :math:`\pm 1`).

    Returns:
        float or array like ``std``.

    Raises:
        TypeError / ValueError: ``std`` negative or above ``gap / 2``; ``gap <= 0``; ``G`` out of range.
    """
    gap = _v.real("gap", gap, low=0.0, low_open=True)
    s_arr = _v.array("std", std)
    if np.any(s_arr < 0) or np.any(s_arr > gap / 2 * (1 + 1e-12)):
        raise ValueError(f"std must lie in [0, gap/2 = {gap / 2}] for binary rewards, got {std!r}")
    G = _v.integer("G", G, low=1, high=MAX_GROUP)
    s = np.minimum((s_arr / gap) ** 2, 0.25)
    root = np.sqrt(1.0 - 4.0 * s)
    out = ((1 + root) / 2) ** G + ((1 - root) / 2) ** G
    return float(out) if out.ndim == 0 else out


def group_zero_lower_bound(std, G: int, *, min_gap: float):
    r"""Lower bound :math:`P_0(G) \ge 1 - 2(G-1)\,\mathrm{STD}^2/\delta^2` for any finite reward distribution.

    Proof (derived here): :math:`\mathrm{STD}^2 = \tfrac12\sum_{j,k} q_j q_k (v_j - v_k)^2 \ge \tfrac{\delta^2}2
    (1 - \sum_j q_j^2)`, so two samples differ with probability :math:`1 - \sum_j q_j^2 \le 2\mathrm{STD}^2/\delta^2`;
    a group is not all-equal only if some sample :math:`i \ge 2` differs from the first (union bound over
    :math:`G - 1` pairs). Equality at :math:`G = 2` for binary rewards. Returned unclipped (it can be negative,
    where it says nothing).

    Args:
        std: reward std(s), >= 0.
        G: group size, ``1 <= G <= MAX_GROUP``.
        min_gap: smallest gap :math:`\delta > 0` between distinct reward values.

    Raises:
        TypeError / ValueError: negative ``std``, ``min_gap <= 0``, ``G`` out of range.
    """
    d = _v.real("min_gap", min_gap, low=0.0, low_open=True)
    s = _v.array("std", std)
    if np.any(s < 0):
        raise ValueError(f"std must be >= 0, got {std!r}")
    G = _v.integer("G", G, low=1, high=MAX_GROUP)
    with np.errstate(over="ignore"):
        out = 1.0 - 2.0 * (G - 1) * (s / d) ** 2
    if not np.all(np.isfinite(out)):
        raise ValueError(f"(std / min_gap)**2 overflows float64 (std={std!r}, min_gap={min_gap!r}); the bound is "
                         "vacuous (far below 0) there")
    return float(out) if out.ndim == 0 else out


s_sym = sp.Symbol("s", nonnegative=True)


@_v.cached
def group_zero_symbolic(G: int) -> dict:
    r"""The binary-reward all-equal-group probability as sympy expressions (for the proofs).

    Returns ``{"p": p**G + (1-p)**G`` (in :data:`p_sym`), ``"s":`` the same as a function of
    :math:`s = p(1-p) = (\mathrm{STD}/\Delta)^2` (in :data:`s_sym`, the form
    :func:`group_zero_probability_from_std` evaluates), ``"bound": 1 - 2(G-1) s`` (:func:`group_zero_lower_bound`
    with :math:`\delta = \Delta`)``}``. Derived here, not quoted from the paper.

    Raises:
        TypeError / ValueError: ``G`` not an integer in ``[1, 64]`` (symbolic powers stay small).
    """
    G = _v.integer("G", G, low=1, high=64)
    root = sp.sqrt(1 - 4 * s_sym)
    return {"p": p_sym ** G + (1 - p_sym) ** G,
            "s": ((1 + root) / 2) ** G + ((1 - root) / 2) ** G,
            "bound": 1 - 2 * (G - 1) * s_sym}


L_sym = sp.Symbol("L", positive=True)
gamma_sym = sp.Symbol("gamma", nonnegative=True)
std_bound_sym = sp.Symbol("STD", nonnegative=True)


def bound_expressions() -> dict:
    r"""The three gradient bounds as sympy expressions in :data:`L_sym`, :data:`gamma_sym`, :data:`std_bound_sym`
    (the forms :func:`paper_bound`, :func:`martingale_bound` and :func:`crude_bound` evaluate), for the proofs.

    Returns:
        ``{"paper": 6 L gamma STD^(2/3), "martingale": sqrt(L) gamma STD, "crude": sqrt(2) L gamma STD}``
        (Theorem 1 of Razin et al. 2024 as restated; the other two derived here).
    """
    L, g, s = L_sym, gamma_sym, std_bound_sym
    return {"paper": 6 * L * g * s ** sp.Rational(2, 3), "martingale": sp.sqrt(L) * g * s,
            "crude": sp.sqrt(2) * L * g * s}
