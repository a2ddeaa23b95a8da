"""C-VPR hop law, generators and ACT bookkeeping of theory.hyper_ut (Abnar et al. 2023), each against an
independent computation: brute force over every input, a Markov-chain recursion in exact rationals, Monte
Carlo with binomial standard errors, and plain-Python reference loops."""

from __future__ import annotations

import itertools
import math
import statistics
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import hyper_ut as H

SET = settings(deadline=None, max_examples=40, derandomize=True)
seeds = st.integers(0, 2**31 - 1)


# --------------------------------------------------------------------------- independent references


def ref_hops(x) -> tuple[list[int], int]:
    """Plain-Python hop rule: visited positions after 0, and the label."""
    x = [int(v) for v in x]
    p, chain = 0, []
    while x[p] > p:
        p = x[p]
        chain.append(p)
    return chain, x[p]


def all_inputs(L: int, K: int) -> np.ndarray:
    """Every sequence of {0..K-1}^L, shape (K**L, L)."""
    return np.array(list(itertools.product(range(K), repeat=L)), dtype=np.int64).reshape(-1, L)


def tail_by_recursion(K: int, k: int) -> Fraction:
    """P(H >= k) from the hop chain as a Markov chain (fresh uniform read at each new position), exact:
    f_0(p) = 1, f_j(p) = (1/K) sum_{q > p, q < K} f_{j-1}(q); answer f_k(0). Independent of the closed form."""
    f = [Fraction(1)] * K
    for _ in range(k):
        suffix = [Fraction(0)] * (K + 1)
        for q in range(K - 1, -1, -1):
            suffix[q] = suffix[q + 1] + f[q]
        f = [suffix[p + 1] / K for p in range(K)]
    return f[0]


def ref_act(p, thr):
    """ACT as a loop over steps (Graves 2016): accumulate until the threshold is reached or steps run out."""
    total, w = 0.0, [0.0] * len(p)
    for t, pt in enumerate(p, start=1):
        if total + pt >= thr or t == len(p):
            w[t - 1] = 1.0 - total
            return t, 1.0 - total, w
        total += pt
        w[t - 1] = pt
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- hop rule


def test_worked_example():
    assert H.hops([1, 3, 0, 4, 1]) == (3, 1)  # 0 -> 1 -> 3 -> 4; x[4] = 1 <= 4
    assert H.hop_chain([1, 3, 0, 4, 1]) == (1, 3, 4)
    assert H.hops([0]) == (0, 0)
    assert H.hops(np.array([2.0, 0.0, 1.0])) == (1, 1)  # integral floats are accepted


@pytest.mark.parametrize("bad, err", [
    ([1, 3, 5, 4, 1], ValueError),  # 5 is not a position of a length-5 sequence (even though never read)
    ([1.5, 0], ValueError), ([0, -1], ValueError), ([[0, 0]], ValueError), ([], ValueError),
    ([0, float("nan")], ValueError), ([True, False], TypeError), ("01", TypeError), (None, TypeError),
    ([0, 1 + 0j], TypeError),
])
def test_hops_rejects(bad, err):
    with pytest.raises(err):
        H.hops(bad)
    with pytest.raises(err):
        H.hop_chain(bad)


@SET
@given(L=st.integers(1, 30), seed=seeds)
def test_chain_properties(L, seed):
    # Random inputs biased towards long chains (x[p] drawn above p half the time), against the reference loop.
    rng = np.random.default_rng(seed)
    x = np.where(rng.random(L) < 0.5, rng.integers(0, L, L), np.minimum(np.arange(L) + 1 + rng.integers(0, 3, L), L - 1))
    chain, label = ref_hops(x)
    assert list(H.hop_chain(x)) == chain
    assert H.hops(x) == (len(chain), label)
    assert all(a < b for a, b in zip([0] + chain, chain))  # strictly increasing: never revisits a position
    assert len(chain) <= L - 1
    assert label <= (chain[-1] if chain else 0)
    n, y = H.hops_batch(np.stack([x, x[::-1].copy() % L]))
    assert (n[0], y[0]) == (len(chain), label)
    assert (n[1], y[1]) == H.hops(x[::-1] % L)


# --------------------------------------------------------------------------- hop law


@pytest.mark.claim("hyper_ut.uniform_hops_shallow")
@pytest.mark.parametrize("L", [1, 2, 3, 4, 5, 6])
def test_hop_law_brute_force(L):
    # Exact: every one of the K**L inputs, K = 1..L, each with probability K**-L.
    for K in range(1, L + 1):
        n, y = H.hops_batch(all_inputs(L, K))
        counts = Counter(n.tolist())
        pmf = H.hop_pmf(L, K=K)
        assert sum(pmf) == 1
        for k in range(K):
            assert Fraction(counts.get(k, 0), K ** L) == pmf[k]
            assert Fraction(sum(c for h, c in counts.items() if h >= k), K ** L) == H.hop_tail(L, k, K=K)
        assert H.hop_tail(L, K, K=K) == 0 and max(counts) <= K - 1
        assert Fraction(int(n.sum()), K ** L) == H.mean_hops(L, K=K)


@SET
@given(K=st.integers(1, 40), extra=st.integers(0, 10), k=st.integers(0, 12))
def test_hop_tail_against_recursion_and_expr(K, extra, k):
    L = K + extra
    want = tail_by_recursion(K, k)
    assert H.hop_tail(L, k, K=K) == want
    got = H.hop_tail_expr(k).subs(H.VALUE_RANGE, K) if k > 0 else sp.Integer(1)
    assert sp.Rational(want.numerator, want.denominator) == sp.nsimplify(got)
    assert H.hop_tail_expr(k, K) == sp.Rational(want.numerator, want.denominator)


@SET
@given(L=st.integers(1, 200))
def test_mean_is_sum_of_tails(L):
    tails = sum(H.hop_tail(L, k) for k in range(1, L))
    pmf = H.hop_pmf(L)
    assert H.mean_hops(L) == tails == sum(k * q for k, q in enumerate(pmf))
    assert sp.Rational(H.mean_hops(L).numerator, H.mean_hops(L).denominator) == H.mean_hops_expr(L)


def test_limits():
    for k in range(0, 9):
        assert H.hop_tail_limit(k) == sp.Rational(1, math.factorial(k))
        # the finite-L tail approaches 1/k! from below, with gap ~ k(k+1)/(2L) / k! (first-order expansion)
        gap = 1 / math.factorial(k) - float(H.hop_tail(10_000, k))
        assert 0 <= gap <= (k * (k + 1) / 2 / 10_000) / math.factorial(k) + 1e-15
    assert sp.simplify(H.mean_hops_limit() - (sp.E - 1)) == 0
    # (1+1/L)^(L-1) = (1+1/L)^L / (1+1/L) = e (1 - 1/(2L) + O(L^-2)) (1 - 1/L + O(L^-2)): the gap is 3e/(2L) to first order
    gap = (math.e - 1) - float(H.mean_hops(10_000))
    assert 1.4 * math.e / 10_000 < gap < 1.6 * math.e / 10_000


@pytest.mark.claim("hyper_ut.uniform_hops_shallow")
@pytest.mark.parametrize("L", [10, 50, 100])
def test_hop_law_monte_carlo(L):
    # 100_000 uniform sequences in chunks. Tolerance: 4 binomial standard errors per tail (k <= 5) and 4 standard
    # errors of the mean (the exact variance from hop_pmf): a false alarm per comparison has probability ~6e-5.
    n_per, chunks = 25_000, 4
    rng = np.random.default_rng(1234 + L)
    h = np.concatenate([H.sample_uniform(L, n_per, rng).n_hops for _ in range(chunks)])
    n = h.size
    for k in range(1, 6):
        p = float(H.hop_tail(L, k))
        assert abs(np.mean(h >= k) - p) <= 4 * math.sqrt(p * (1 - p) / n) + 1e-12, k
    pmf = [float(q) for q in H.hop_pmf(L)]
    mu = float(H.mean_hops(L))
    var = sum(k * k * q for k, q in enumerate(pmf)) - mu * mu
    assert abs(h.mean() - mu) <= 4 * math.sqrt(var / n)


@pytest.mark.parametrize("call", [
    lambda: H.hop_tail(0, 1), lambda: H.hop_tail(5, -1), lambda: H.hop_tail(5, 1, K=6), lambda: H.hop_tail(10**6, 1),
    lambda: H.mean_hops(0), lambda: H.hop_pmf(3, K=0), lambda: H.hop_tail_limit(-1), lambda: H.hop_tail_limit(99),
    lambda: H.hop_tail_expr(-1), lambda: H.mean_hops_expr(0),
])
def test_law_rejects_values(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize("call", [
    lambda: H.hop_tail(5.0, 1), lambda: H.hop_tail(5, True), lambda: H.mean_hops("5"), lambda: H.hop_tail_limit(1.5),
    lambda: H.hop_tail_expr(0.5), lambda: H.hop_pmf(None),
])
def test_law_rejects_types(call):
    with pytest.raises(TypeError):
        call()


# --------------------------------------------------------------------------- generators


@SET
@given(L=st.integers(2, 40), m_frac=st.floats(0, 1), n=st.integers(1, 20), seed=seeds)
def test_exact_hop_sampler(L, m_frac, n, seed):
    m = min(int(m_frac * (L - 1)), 12)
    b = H.sample_hops(L, m, n, seed)
    assert b.x.shape == (n, L) and b.chain.shape == (n, m)
    nh, lab = H.hops_batch(b.x)
    assert np.all(nh == m) and np.all(b.n_hops == m) and np.array_equal(lab, b.label)
    for i in range(n):
        chain, label = ref_hops(b.x[i])
        assert chain == b.chain[i].tolist()  # the chain of thought is the hop chain
        assert label == b.label[i] <= (chain[-1] if m else 0)
        if m:
            assert b.x[i, 0] == chain[0] and 1 <= chain[0] and chain[-1] <= L - 1
            assert all(a < c for a, c in zip(chain, chain[1:]))


def test_sampler_chain_law():
    # The chain is a uniform m-subset of {1..L-1} and the label uniform on {0..p_m}: chi-square-free check,
    # every cell within 5 binomial standard errors (false alarm < 1e-5 per cell; 10 + 15 cells).
    L, m, n = 6, 2, 40_000
    b = H.sample_hops(L, m, n, 7)
    subsets = list(itertools.combinations(range(1, L), m))
    cnt = Counter(map(tuple, b.chain.tolist()))
    p = 1 / len(subsets)
    for s in subsets:
        assert abs(cnt[s] / n - p) <= 5 * math.sqrt(p * (1 - p) / n)
    for last in range(m, L):
        sel = b.chain[:, -1] == last
        lab = Counter(b.label[sel].tolist())
        for v in range(last + 1):
            q = 1 / (last + 1)
            assert abs(lab[v] / sel.sum() - q) <= 5 * math.sqrt(q * (1 - q) / sel.sum())


def test_sampler_edges():
    b = H.sample_hops(5, 0, 3, 0)
    assert np.all(b.x[:, 0] == 0) and np.all(b.label == 0) and b.chain.shape == (3, 0)
    b = H.sample_hops(5, 4, 3, 0)  # the only chain 1, 2, 3, 4
    assert np.all(b.chain == np.arange(1, 5))
    with pytest.raises(ValueError):
        H.sample_hops(5, 5, 1)
    with pytest.raises(ValueError):
        H.sample_hops(5, 1, 0)
    with pytest.raises(TypeError):
        H.sample_hops(5, 1.0, 1)
    with pytest.raises(TypeError):
        H.sample_uniform(5, 1, rng="x")


@SET
@given(L=st.integers(1, 30), K=st.integers(1, 30), seed=seeds)
def test_uniform_sampler(L, K, seed):
    K = min(K, L)
    b = H.sample_uniform(L, 50, seed, K=K)
    assert b.x.min() >= 0 and b.x.max() <= K - 1 and b.chain is None
    for i in range(5):
        chain, label = ref_hops(b.x[i])
        assert (b.n_hops[i], b.label[i]) == (len(chain), label)


def ref_agg(win, agg, base=10):
    if agg == "sum_mod":
        return sum(win) % base
    if agg == "min":
        return min(win)
    if agg == "max":
        return max(win)
    if agg == "median":
        return statistics.median_low(win)
    c = Counter(win)
    top = max(c.values())
    return min(v for v, k in c.items() if k == top)


@SET
@given(c=st.integers(0, 9), agg=st.sampled_from(H.PVR_AGGREGATORS), seed=seeds)
def test_pvr(c, agg, seed):
    x, y = H.sample_pvr(64, c, agg, seed)
    assert x.shape == (64, 11) and x.min() >= 0 and x.max() <= 9
    assert x[:, 0].min() >= 0 and x[:, 0].max() <= 9 - c
    for i in range(64):
        win = x[i, x[i, 0] + 1: x[i, 0] + c + 2].tolist()
        assert len(win) == c + 1
        assert y[i] == ref_agg(win, agg)
        if c == 0:
            assert y[i] == x[i, x[i, 0] + 1]
    assert H.pvr_label(x[0], c, agg) == y[0]


def test_pvr_rejects():
    with pytest.raises(ValueError):
        H.sample_pvr(4, 10, "sum_mod")
    with pytest.raises(ValueError):
        H.sample_pvr(4, 1, "mean")
    with pytest.raises(ValueError):
        H.pvr_label([9] + [0] * 10, 1, "min")  # pointer 9 > 9 - c
    with pytest.raises(TypeError):
        H.sample_pvr(4, 1.0, "min")


# --------------------------------------------------------------------------- ACT


def test_act_worked_case():
    r = H.act([0.5] * 6, threshold=0.99)
    assert (r.n_steps, r.remainder, r.ponder) == (2, 0.5, 2.5)
    assert r.weights.tolist() == [0.5, 0.5, 0, 0, 0, 0]


@SET
@given(T=st.integers(1, 12), thr=st.floats(0.01, 1.0), scale=st.floats(0.0, 1.0), seed=seeds)
def test_act_properties(T, thr, scale, seed):
    rng = np.random.default_rng(seed)
    p = rng.random((5, T)) * scale
    p[0, :] = 0.0  # never halts: runs to the budget
    r = H.act(p, thr)
    # weights sum to one (float64 summation of <= 12 terms in [0, 1]: error <= 12 * 2**-52)
    assert np.allclose(r.weights.sum(-1), 1.0, rtol=0, atol=1e-14)
    assert np.all((1 <= r.n_steps) & (r.n_steps <= T)) and np.all((0 < r.remainder) & (r.remainder <= 1))
    assert np.allclose(r.ponder, r.n_steps + r.remainder, rtol=0, atol=0)
    assert r.n_steps[0] == T and r.remainder[0] == 1.0
    for i in range(5):
        n, rem, w = ref_act(p[i].tolist(), thr)
        one = H.act(p[i], thr)
        assert (one.n_steps, n) == (r.n_steps[i], n)
        assert one.remainder == pytest.approx(rem, abs=1e-14) and np.allclose(one.weights, w, atol=1e-14)


@pytest.mark.parametrize("call, err", [
    (lambda: H.act([]), ValueError), (lambda: H.act([0.5, 1.5]), ValueError), (lambda: H.act([0.5, -0.1]), ValueError),
    (lambda: H.act([0.5], threshold=0.0), ValueError), (lambda: H.act([0.5], threshold=1.5), ValueError),
    (lambda: H.act([0.5, float("nan")]), ValueError), (lambda: H.act("0.5"), TypeError),
    (lambda: H.act([0.5], threshold="0.9"), TypeError), (lambda: H.act_symbolic(0), ValueError),
])
def test_act_rejects(call, err):
    with pytest.raises(err):
        call()


def test_act_symbolic_matches_numeric():
    s = H.act_symbolic(3)
    vals = {s.p[0]: sp.Rational(1, 5), s.p[1]: sp.Rational(3, 10), s.p[2]: sp.Rational(9, 10)}
    r = H.act([0.2, 0.3, 0.9, 0.1], threshold=0.99)
    assert r.n_steps == 3
    assert float(s.ponder.subs(vals)) == pytest.approx(r.ponder, abs=1e-15)
    assert [float(w.subs(vals)) for w in s.weights] == pytest.approx(r.weights[:3].tolist(), abs=1e-15)


# --------------------------------------------------------------------------- models (sims.hyper_ut)

jax = pytest.importorskip("jax")
import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from sims import hyper_ut as E  # noqa: E402
from sims.substrate.transformer import Block, Transformer, TransformerConfig, count_params  # noqa: E402

MSET = settings(deadline=None, max_examples=3, derandomize=True)
_L, _TMAX, _D = 6, 4, 16


def _member(kind, seed, n_modules=3, halt_bias=-1.0, reverse=False):
    cfg = E.model_config(_L, _TMAX, _D, 2, 32, init_std=0.3)  # large init: non-trivial gates, attention, halting
    return E.Recurrent(cfg, kind=kind, n_bank=max(_TMAX, n_modules), n_modules=n_modules, halt_bias=halt_bias,
                       reverse=reverse, key=jax.random.PRNGKey(seed))


def _tokens(seed, n=16):
    b = H.sample_uniform(_L, n, seed)
    return jnp.asarray(np.concatenate([b.x, np.full((n, 1), _L)], 1), jnp.int32)


@eqx.filter_jit
def _run(member, tok):  # one compilation for every member of the same shapes (the switches are array values)
    return jax.vmap(member)(tok)


@eqx.filter_jit
def _run_tf(tf, tok):
    return jax.vmap(lambda s: tf(s)[-1])(tok)


@pytest.mark.claim("hyper_ut.fixed_depth_drops")
@MSET
@given(seed=seeds)
def test_fixed_member_is_the_substrate_transformer(seed):
    # The fixed-depth member (one-hot gate, no step embedding, no halting) equals Transformer.forward with the
    # bank's blocks as its layers: same embedding, blocks and unembedding; float32 matmul blocking may differ
    # between one row and all rows of the unembedding, hence 1e-5.
    m = _member("fixed", seed)
    c = m.net.config
    tf = Transformer(TransformerConfig(vocab=c.vocab, d_model=c.d_model, n_heads=c.n_heads, n_layers=_TMAX,
                                       max_len=c.max_len, d_mlp=c.d_mlp, init_std=c.init_std), key=jax.random.PRNGKey(1))
    blocks = tuple(jax.tree_util.tree_map(lambda w, i=i: w[i], m.bank) for i in range(_TMAX))
    tf = eqx.tree_at(lambda t: (t.tok_embed, t.pos_embed, t.ln_f, t.unembed_w, t.blocks), tf,
                     (m.net.tok_embed, m.net.pos_embed, m.net.ln_f, m.net.unembed_w, blocks))
    tok = _tokens(seed)
    logits, rho, n = _run(m, tok)
    want = _run_tf(tf, tok)
    np.testing.assert_allclose(np.asarray(logits), np.asarray(want), rtol=1e-5, atol=1e-5)
    assert np.all(np.asarray(n) == _TMAX) and np.all(np.asarray(rho) == _TMAX + 1)


def test_reversed_tokens_carry_the_task():
    # The reversed format read back left to right is the C-VPR input: theory.hyper_ut.hops of it gives the stored
    # label and hop count, and the forward format holds the same inputs with the readout token appended.
    for m in (1, 2, 4):
        r = E.cvpr_tokens(_L, [m], 20, seed=m, reverse=True)
        f = E.cvpr_tokens(_L, [m], 20, seed=m)
        assert r["tok"].shape == (20, _L) and np.all(f["tok"][:, -1] == _L)
        assert np.array_equal(r["tok"][:, ::-1], f["tok"][:, :-1]) and np.array_equal(r["y"], f["y"])
        for x, y, h in zip(r["tok"][:, ::-1], r["y"], r["m"]):
            assert H.hops(x.tolist()) == (h, y) and h == m


@MSET
@given(seed=seeds)
def test_reversed_fixed_member_is_the_substrate_transformer(seed):
    # Reversed format: the fixed member on x_{L-1}..x_0 equals Transformer.forward with positions L-1..0 (the
    # substrate's own position override), read at the last token; 1e-5 as in the forward test.
    m = _member("fixed", seed, reverse=True)
    c = m.net.config
    tf = Transformer(TransformerConfig(vocab=c.vocab, d_model=c.d_model, n_heads=c.n_heads, n_layers=_TMAX,
                                       max_len=c.max_len, d_mlp=c.d_mlp, init_std=c.init_std), key=jax.random.PRNGKey(1))
    blocks = tuple(jax.tree_util.tree_map(lambda w, i=i: w[i], m.bank) for i in range(_TMAX))
    tf = eqx.tree_at(lambda t: (t.tok_embed, t.pos_embed, t.ln_f, t.unembed_w, t.blocks), tf,
                     (m.net.tok_embed, m.net.pos_embed, m.net.ln_f, m.net.unembed_w, blocks))
    tok = jnp.asarray(H.sample_uniform(_L, 16, seed).x[:, ::-1], jnp.int32)
    logits = _run(m, tok)[0]
    pos = np.arange(_L - 1, -1, -1)  # concrete: the substrate range-checks positions on the host
    want = np.stack([np.asarray(tf(s, positions=pos)[-1]) for s in tok])
    np.testing.assert_allclose(np.asarray(logits), np.asarray(want), rtol=1e-5, atol=1e-5)
    # and it is not the forward reading of the same tokens (the position embeddings matter)
    assert not np.allclose(np.asarray(logits), np.asarray(_run_tf(tf, tok)), atol=1e-3)


@pytest.mark.claim("hyper_ut.m1_equals_ut")
@MSET
@given(seed=seeds)
def test_m1_hyper_ut_is_ut(seed):
    # Exact: softmax over a single logit is 1.0 and 1.0 * theta = theta, so Hyper-UT with M = 1 is the UT.
    ut = _member("ut", seed)
    m1 = eqx.tree_at(lambda q: (q.gate_mode, q.n_modules), ut,
                     (jnp.asarray(E.GATE_LEARNED, jnp.int32), jnp.asarray(1, jnp.int32)))
    tok = _tokens(seed)
    a, b = _run(ut, tok), _run(m1, tok)
    for x, y in zip(a, b):
        assert np.array_equal(np.asarray(x), np.asarray(y))
    # constant gate (zero hypernetwork): the uniform mixture of M blocks, i.e. a UT whose block is their mean
    hu = _member("hyper_ut", seed, n_modules=3)
    hu = eqx.tree_at(lambda q: (q.gate_w, q.gate_b), hu, (jnp.zeros_like(hu.gate_w), jnp.zeros_like(hu.gate_b)))
    mean_bank = jax.tree_util.tree_map(
        lambda w: jnp.broadcast_to(w[:3].mean(0), w.shape) if eqx.is_inexact_array(w) else w, hu.bank)
    ut2 = eqx.tree_at(lambda q: (q.bank, q.gate_mode, q.n_modules), hu,
                      (mean_bank, jnp.asarray(E.GATE_FIRST, jnp.int32), jnp.asarray(1, jnp.int32)))
    a, b = _run(hu, tok), _run(ut2, tok)
    np.testing.assert_allclose(np.asarray(a[0]), np.asarray(b[0]), rtol=1e-5, atol=1e-5)  # float32 sum order
    assert np.array_equal(np.asarray(a[2]), np.asarray(b[2]))


@pytest.mark.claim("hyper_ut.bank_permutation")
@MSET
@given(seed=seeds)
def test_bank_permutation(seed):
    hu = _member("hyper_ut", seed, n_modules=4)
    hu = eqx.tree_at(lambda q: q.gate_w, hu, 20 * hu.gate_w)  # sharp, step-dependent gates
    perm = np.random.default_rng(seed).permutation(4)
    tok = _tokens(seed)
    a, b = _run(hu, tok), _run(E._permuted(hu, perm), tok)
    np.testing.assert_allclose(np.asarray(a[0]), np.asarray(b[0]), rtol=1e-5, atol=1e-5)  # float32 sum order
    assert np.array_equal(np.asarray(a[2]), np.asarray(b[2]))
    g = np.asarray(jax.vmap(hu.gate)(jnp.arange(1, _TMAX + 1)))
    assert np.allclose(g.sum(1), 1.0, atol=1e-6) and np.all(g[:, 4:] == 0)


@pytest.mark.claim("hyper_ut.act_bookkeeping")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_act_update_matches_theory(seed):
    # Random probabilities (no draw lands within float32 rounding of the threshold, checked below): JAX float32
    # bookkeeping against theory.hyper_ut.act in float64 on the same (float32-rounded) probabilities.
    r = E.act_check(n=300, t_max=9, seed=seed)
    assert r["n_equal"] and r["max_diff"] <= 1e-6
    assert r["worked_case"] == [2, 0.5]


@pytest.mark.claim("hyper_ut.hyper_ut_beats_fixed_at_matched_compute")
def test_step_flops_against_xla():
    # The block count of step_flops (matrix products only) against XLA's cost analysis of one Block call, which
    # also counts layer norms, softmax and GELU: a lower bound within 20% (14% at width 16, 7% at width 32).
    # The block parameter count against count_params.
    for L, d, f in ((8, 16, 32), (12, 32, 64)):
        cfg = TransformerConfig(vocab=L + 1, d_model=d, n_heads=2, n_layers=1, max_len=L + 1, d_mlp=f)
        blk = Block(cfg, key=jax.random.PRNGKey(0))
        ca = jax.jit(lambda h, blk=blk: blk(h)).lower(jnp.zeros((L + 1, d))).compile().cost_analysis()
        ca = ca[0] if isinstance(ca, (list, tuple)) else ca
        fl = E.step_flops(L, d, f, 4)
        assert fl["block"] <= ca["flops"] <= 1.2 * fl["block"]
        assert fl["block_params"] == count_params(blk)


def test_model_params_and_members():
    cfg = E.HyperUTConfig.preset("quick")
    p = E.model_params(cfg)
    mc = E.model_config(cfg.L, cfg.t_max, cfg.d_model, cfg.n_heads, cfg.d_mlp)
    m = E.Recurrent(mc, kind="ut", n_bank=cfg.t_max, n_modules=cfg.n_modules, key=jax.random.PRNGKey(0))
    blk = count_params(jax.tree_util.tree_map(lambda w: w[0], m.bank))
    assert p["ut"] == count_params(m) - (cfg.t_max - 1) * blk - m.gate_w.size - m.gate_b.size
    assert p["fixed"] - p["ut"] == (cfg.t_max - 1) * blk - (3 * cfg.d_model + 2)
    with pytest.raises(ValueError):
        E.Recurrent(mc, kind="nope", n_bank=cfg.t_max, n_modules=2, key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError):
        E.HyperUTConfig.preset("quick", m_max=cfg.t_max)


@pytest.mark.slow
def test_quick_run(tmp_path):
    # The whole experiment at the quick scale through the runner: every claim record complete, the structural
    # checks holding, the figures written.
    from sims.harness.runner import run_experiment

    rec = run_experiment("hyper_ut", scale="quick", out=tmp_path / "run", progress=False)
    ids = {c.id for c in rec.claims}
    assert {"hyper_ut.uniform_hops_shallow", "hyper_ut.training_range_fitted", "hyper_ut.fixed_depth_drops",
            "hyper_ut.hyper_ut_beats_ut", "hyper_ut.hyper_ut_beats_fixed_at_matched_compute",
            "hyper_ut.ponder_grows_with_hops", "hyper_ut.m1_equals_ut", "hyper_ut.bank_permutation",
            "hyper_ut.act_bookkeeping"} <= ids
    for c in rec.claims:
        assert c.statement and c.kind in ("claim", "check") and c.links and c.detail
        assert c.holds or c.finding
        if c.kind == "check":
            assert c.holds, c.id
    assert {p.stem for p in rec.figures} == {"hyper_ut_hop_law", "hyper_ut_generalization"}
