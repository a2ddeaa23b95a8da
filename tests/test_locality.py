"""The locality barrier and the inductive scratchpad (Abbe et al. 2024): theory.locality against brute-force
enumeration, an independent graph-isomorphism canonical form, a numpy transformer, and the paper's example."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import locality as L
from theory.locality.cycles import _dfs_outcomes

SET = settings(deadline=None, max_examples=25, derandomize=True)


# --------------------------------------------------------------------------- parity MI


@st.composite
def parity_case(draw, n_max=10):
    n = draw(st.integers(1, n_max))
    T = draw(st.sets(st.integers(0, n - 1)))
    S = draw(st.sets(st.integers(0, n - 1)))
    return n, sorted(T), sorted(S)


@pytest.mark.claim("locality.parity_mi_closed_form")
@SET
@given(parity_case())
def test_closed_form_equals_brute_force(case):
    n, T, S = case
    # brute force: entropies of exact counts over 2^n strings; both in float64, absolute error ~1e-15
    assert L.sparse_parity_mi(n, T, S) == pytest.approx(L.sparse_parity_mi_brute(n, T, S), abs=1e-12)


@pytest.mark.parametrize("n,T,S", [(6, [0, 1, 2], S) for S in ([], [0], [0, 1], [0, 3], [0, 1, 2], [3, 4, 5])]
                         + [(8, [0, 1, 2, 3], list(range(j))) for j in range(5)])
def test_worked_setups(n, T, S):
    # the paper-setting examples: closed form against enumeration to 1e-8
    assert abs(L.sparse_parity_mi(n, T, S) - L.sparse_parity_mi_brute(n, T, S)) < 1e-8


@SET
@given(parity_case(n_max=40), st.integers(0, 2**31 - 1))
def test_mi_range_monotone_and_invariant(case, seed):
    n, T, S = case
    rng = np.random.default_rng(seed)
    v = L.sparse_parity_mi(n, T, S)
    assert 0.0 <= v <= 1.0
    # data processing: adding an observed index never lowers the MI
    rest = sorted(set(range(n)) - set(S))
    if rest:
        bigger = S + [int(rng.choice(rest))]
        assert L.sparse_parity_mi(n, T, bigger) >= v - 1e-15
    # depends on S only through |S & T| and |S - T|: a permutation fixing T setwise changes nothing
    Tc = sorted(set(range(n)) - set(T))
    perm = dict(zip(T, rng.permutation(T).tolist())) | dict(zip(Tc, rng.permutation(Tc).tolist()))
    assert L.sparse_parity_mi(n, T, [perm[i] for i in S]) == pytest.approx(v, rel=1e-12, abs=1e-300)


def test_full_information_cases():
    for n, T in [(6, [0, 1, 2]), (9, [1, 4]), (12, list(range(12)))]:
        Tc = sorted(set(range(n)) - set(T))
        assert L.sparse_parity_mi(n, T, T) == 1.0
        assert L.sparse_parity_mi(n, T, Tc) == 1.0
    assert L.sparse_parity_mi(5, [], [0]) == 0.0  # a constant target


@SET
@given(st.integers(1, 60), st.data())
def test_beta_squared_mean_is_inverse_binomial(N, data):
    a = data.draw(st.integers(0, N))
    assert L.beta_squared_mean(N, a) == sp.Rational(1, math.comb(N, a))


@SET
@given(st.floats(-1, 1))
def test_bit_information_against_high_precision(beta):
    # reference: the sympy expression evaluated with enough digits to absorb its cancellation (beta^2 below
    # the leading 1: 2 log10(1/beta) digits lost); rel 1e-13 covers the float64 series / log1p evaluation
    b = sp.Rational(beta)
    digits = 40 + (int(-2 * math.log10(abs(beta))) if beta else 0)
    ref = 1.0 if abs(beta) == 1 else (0.0 if beta == 0 else float(sp.N(L.bit_information_expr(b), digits)))
    assert L.bit_information(beta) == pytest.approx(ref, rel=1e-13, abs=1e-300)


@pytest.mark.parametrize("N,a", [(60, 3), (100, 2), (200, 3), (400, 2)])
def test_small_mi_leading_term(N, a):
    # I = E[beta^2]/(2 ln 2) (1 + O(E beta^4 / E beta^2)); for fixed a the correction is O(1/N) (< 1e-3 here)
    mi = L.sparse_parity_mi(N, range(a), [])
    lead = 1 / (2 * math.log(2) * math.comb(N, a))
    assert mi == pytest.approx(lead, rel=1e-3)
    assert mi >= lead  # the series has positive coefficients


@pytest.mark.parametrize("N", [20, 40, 60])
def test_half_parity_mi_above_leading_term(N):
    # for a = N/2 the rare extreme weights (beta_0 = 1) add a relative O(1) correction: between 0 and 25%
    ratio = L.sparse_parity_mi(N, range(N // 2), []) * 2 * math.log(2) * math.comb(N, N // 2)
    assert 1.0 <= ratio <= 1.25


# --------------------------------------------------------------------------- locality


@pytest.mark.claim("locality.parity_locality")
def test_locality_of_parity_families():
    assert all(L.locality("full_parity", n) == 0 for n in range(1, 400, 7))
    for k in range(1, 5):
        # I(W; Y) ~ k!/(2 ln 2 n^k) >= n^-(k+1) for every n >= 2: locality 0 with c = k + 1
        assert all(L.locality("sparse_parity", n, k=k, c=k + 1) == 0 for n in range(max(k, 2), 120, 5))
    ns = range(8, 97, 8)
    half = [L.locality("half_parity", n) for n in ns]
    gap = [n / 2 - v for n, v in zip(ns, half)]
    assert all(np.diff(half) > 0)
    assert max(gap) <= 4 and min(gap) >= 0  # n/2 - O(1)


@pytest.mark.parametrize("n,k", [(6, 3), (7, 3), (8, 4), (8, 8), (8, 2)])
def test_locality_closed_form_matches_enumeration(n, k):
    # independent route: the generic engine on all 2^n strings with the histogram of the actual bits
    x = (np.arange(2 ** n)[:, None] >> np.arange(n)[None, :]) & 1
    y = np.bitwise_xor.reduce(x[:, :k], axis=1)
    c = 2.0
    loc, best = L.exact_locality(x, y, threshold=n ** -c, max_size=min(n, 6))
    fam = "full_parity" if k == n else "sparse_parity"
    assert loc == L.locality(fam, n, k=None if k == n else k, c=c)
    np.testing.assert_allclose(best, L.max_mi_by_size(n, k)[:len(best)], atol=1e-12)


@pytest.mark.claim("locality.ar_locality_scratchpads")
def test_ar_locality_scratchpads():
    for n in (3, 5, 8):
        for measure in ("joint", "beyond_histogram"):
            assert L.ar_locality("cumulative_parity", n, measure=measure) <= 2
            assert L.ar_locality("cumulative_parity", n, measure=measure, k=max(1, n // 2)) <= 2
    for n in (2, 3):
        assert L.ar_locality("dfs", n, measure="joint") == 0
        assert L.ar_locality("dfs", n, measure="beyond_histogram") <= 3


@pytest.mark.parametrize("n", [2, 3])
def test_dfs_witness_information_at_least_the_bound(n):
    # exact conditional information of S = {x_t, one slot's source and target} by enumeration (one canonical
    # histogram, so H(Y | X_S, Hist) = H(Y | X_S) over the enumerated rows) against the derived lower bound
    for t in range(n):
        ctx, y = _dfs_outcomes(n, t, 1)
        xt_col = ctx.shape[1] - 1
        cols = [0, 1, xt_col]

        def H(keys):
            p = np.array(list(Counter(map(tuple, keys)).values()), float)
            p /= p.sum()
            return float(-(p * np.log2(p)).sum())

        info = H(y[:, None]) - (H(np.column_stack([ctx[:, cols], y])) - H(ctx[:, cols]))
        assert info >= L.dfs_witness_information_bound(n, t) - 1e-12


# --------------------------------------------------------------------------- cycle task


def _reference_cycle_mi(n: int) -> list[float]:
    """Independent reference: canonical form of each observed marked graph by brute force over relabelings of
    its visible vertices (the lexicographically least edge list with the marks), then the MI of the classes."""
    graphs = {1: ([(i, (i + 1) % (2 * n)) for i in range(2 * n)], 0, n),
              0: ([(i, (i + 1) % n) for i in range(n)] + [(n + i, n + (i + 1) % n) for i in range(n)], 0, n)}
    out = []
    for m in range(2 * n + 1):
        counts: dict = {}
        for y, (edges, a, b) in graphs.items():
            for sub in itertools.combinations(edges, m):
                vis = sorted({v for e in sub for v in e} | {a, b})
                best = None
                for perm in itertools.permutations(range(len(vis))):
                    lab = dict(zip(vis, perm))
                    key = (lab[a], lab[b], tuple(sorted((lab[u], lab[v]) for u, v in sub)))
                    best = key if best is None or key < best else best
                counts.setdefault(best, [0, 0])[y] += 1
        tot = math.comb(2 * n, m)
        mi = sum(c * math.log2(2 * c / (c0 + c1)) for c0, c1 in counts.values() for c in (c0, c1) if c) / (2 * tot)
        out.append(mi)
    return out


@pytest.mark.claim("locality.cycle_mi_barrier")
@pytest.mark.parametrize("n", [2, 3])
def test_cycle_mi_against_isomorphism_brute_force(n):
    np.testing.assert_allclose(L.cycle_mi_table(n), _reference_cycle_mi(n), atol=1e-12)


@pytest.mark.claim("locality.cycle_mi_barrier")
@pytest.mark.parametrize("n", range(2, 8))
def test_cycle_mi_structure(n):
    tab = L.cycle_mi_table(n)
    assert np.all(tab >= 0) and np.all(tab <= 1)
    # monotone in m: a random (m+1)-subset thinned by one edge is a random m-subset (data processing)
    assert np.all(np.diff(tab) >= -1e-14)
    assert np.all(tab[:n] == 0.0)
    assert np.all(tab[2 * n - 1:] == 1.0)
    assert tab[2 * n - 2] == pytest.approx((2 * n - 2) / (2 * n - 1), abs=1e-12)
    assert tab[n] > 0
    # each label's counts sum to C(2n, m)
    for m in range(2 * n + 1):
        c = np.array(list(L.cycle_observation_counts(n, m).values()))
        assert c.sum(axis=0).tolist() == [math.comb(2 * n, m)] * 2
    assert float(L.cycle_mi_exact(n, n)) == pytest.approx(tab[n], rel=1e-12)


def test_cycle_locality_between_n_and_2n():
    for n in range(2, 8):
        assert n <= L.locality("cycle", n) <= 2 * n - 1


# --------------------------------------------------------------------------- inductive scratchpad


@pytest.mark.claim("locality.inductive_transform")
def test_transform_reproduces_paper_example():
    f = L.inductive_form_train("q1 q2 : a1 b1 # a2 b2 # a3 b3 .".split())
    assert " ".join(f.tokens) == "q1 q2 : a1 b1 # a1 b1 # a2 b2 # a2 b2 # a3 b3 ."
    assert f.positions.tolist() == [0, 1, 2, 3, 4, 5, 3, 4, 5, 6, 7, 8, 3, 4, 5, 6, 7, 8]
    assert f.loss_mask.astype(int).tolist() == [1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1]
    block = [0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3]
    assert f.groups.tolist() == block
    expect = np.array([[j <= i and (block[j] == 0 or block[i] == block[j]) for j in range(18)] for i in range(18)])
    np.testing.assert_array_equal(f.attention, expect)


@st.composite
def inductive_sequence(draw):
    q = draw(st.lists(st.sampled_from(["q", "r", "u"]), min_size=1, max_size=4))
    states = draw(st.lists(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3), min_size=1, max_size=4))
    toks = q + [":"]
    for i, s in enumerate(states):
        toks += (["#"] if i else []) + s
    return toks + ["."], len(q) + 1, states


@SET
@given(inductive_sequence())
def test_transform_properties(case):
    toks, qlen, states = case
    f = L.inductive_form_train(toks)
    # dropping the loss-masked copies gives back the original sequence
    assert [t for t, keep in zip(f.tokens, f.loss_mask) if keep] == toks
    # every block restarts at position len(Q) and holds (copy of s[k-1] + sep, s[k] + terminator)
    for k in range(1, len(states) + 1):
        idx = np.nonzero(f.groups == k)[0]
        assert f.positions[idx].tolist() == list(range(qlen, qlen + len(idx)))
        if k >= 2:
            prev = states[k - 2] + ["#"]
            assert list(f.tokens[idx[0]:idx[0] + len(prev)]) == prev
            assert not f.loss_mask[idx[:len(prev)]].any() and f.loss_mask[idx[len(prev):]].all()
    # attention: causal and (question or same block)
    g = f.groups
    for i in range(len(g)):
        for j in range(len(g)):
            assert f.attention[i, j] == (j <= i and (g[j] == 0 or g[i] == g[j]))


def _numpy_transformer(vocab: int, d: int = 16, layers: int = 2, heads: int = 2, max_pos: int = 64, seed: int = 0):
    """A random pre-norm decoder (learned absolute positions) in numpy, forward(tokens, positions, mask)."""
    rng = np.random.default_rng(seed)
    emb, pos = rng.normal(size=(vocab, d)), rng.normal(size=(max_pos, d))
    ws = [{k: rng.normal(size=(d, d)) / np.sqrt(d) for k in ("q", "k", "v", "o")}
          | {"m1": rng.normal(size=(d, 2 * d)) / np.sqrt(d), "m2": rng.normal(size=(2 * d, d)) / np.sqrt(2 * d)}
          for _ in range(layers)]
    out = rng.normal(size=(d, vocab))

    def norm(h):
        return (h - h.mean(-1, keepdims=True)) / np.sqrt(h.var(-1, keepdims=True) + 1e-6)

    def forward(tok, p, mask):
        h = emb[tok] + pos[p]
        for w in ws:
            x = norm(h)
            q, k, v = (x @ w[c] for c in "qkv")
            dh = d // heads
            att = []
            for hd in range(heads):
                sl = slice(hd * dh, (hd + 1) * dh)
                s = q[:, sl] @ k[:, sl].T / np.sqrt(dh)
                s = np.where(mask, s, -np.inf)
                s = np.exp(s - s.max(-1, keepdims=True))
                att.append((s / s.sum(-1, keepdims=True)) @ v[:, sl])
            h = h + np.concatenate(att, -1) @ w["o"]
            h = h + np.maximum(norm(h) @ w["m1"], 0) @ w["m2"]
        return norm(h) @ out

    return forward


@pytest.mark.claim("locality.inductive_transform")
@SET
@given(inductive_sequence(), st.integers(0, 40))
def test_masked_generation_equals_trimmed_numpy(case, cut):
    # a random numpy transformer: the next-token logits of the masked view of a generation prefix equal those
    # of the trimmed "question + last state" context (same tokens at the same positions are attended); 1e-10
    # covers float64 round-off of different summation orders
    toks, qlen, _ = case
    prefix = toks[:min(len(toks), qlen + cut)]
    vocab = {t: i for i, t in enumerate(sorted(set(toks)))}
    fwd = _numpy_transformer(len(vocab))
    g = L.inductive_form_generate(prefix)
    trimmed, tpos = L.inductive_trim(prefix)
    a = fwd(np.array([vocab[t] for t in g.tokens]), g.positions, g.attention)[-1]
    b = fwd(np.array([vocab[t] for t in trimmed]), tpos, np.tril(np.ones((len(trimmed),) * 2, bool)))[-1]
    np.testing.assert_allclose(a, b, atol=1e-10)
    # and the masked view without re-indexed positions differs (the control: positions matter)
    if len(trimmed) < len(g.tokens):
        c = fwd(np.array([vocab[t] for t in g.tokens]), np.arange(len(g.tokens)), g.attention)[-1]
        assert np.max(np.abs(c - b)) > 1e-6


# --------------------------------------------------------------------------- generators


@SET
@given(st.integers(0, 2**31 - 1), st.integers(2, 8), st.sampled_from([None, "dfs", "inductive"]),
       st.sampled_from(["iid", "ood_train", "ood_test"]))
def test_cycle_generator_labels_match_reachability(seed, n, scratchpad, split):
    rng = np.random.default_rng(seed)
    for label in (0, 1):
        s = L.cycle_task_sample(rng, n, label, split=split, total=12, short=4, scratchpad=scratchpad)
        edges, a, b = L.parse_graph(s.prompt)
        assert L.reachable(s.prompt) == (label == 1) == (s.answer == "1")
        assert L.extract_answer("cycles", s.target) == s.answer
        names = [u for e in edges for u in e]
        assert all(c == 2 for c in Counter(names).values())  # in- and out-degree 1
        size = 2 * n if split == "iid" else 12
        assert len(edges) == size
        if scratchpad == "dfs":
            walk = [t for t in s.target[:s.target.index(";")] if t != ">"]
            succ = dict(edges)
            assert walk[0] == a and all(succ[u] == v for u, v in zip(walk, walk[1:]))
            assert walk[-1] == (b if label else a)
        if scratchpad == "inductive":
            form = L.inductive_form_train(s.tokens)
            assert form.positions.max() < len(s.tokens)


@SET
@given(st.integers(0, 2**31 - 1))
def test_random_graph_labels_and_distance(seed):
    s = L.random_graph_sample(seed, nodes=10, edges=10, max_distance=3)
    assert L.reachable(s.prompt) == (s.answer == "1")
    assert (s.meta["distance"] == -1) == (s.answer == "0")
    edges, a, b = L.parse_graph(s.prompt)
    assert len(set(edges)) == 10 and all(u != v for u, v in edges)


@SET
@given(st.integers(0, 2**31 - 1), st.integers(1, 12))
def test_parity_states(seed, k):
    s = L.parity_sample(seed, k, slots=16)
    q = s.prompt[:16]
    bits = [(i, int(c)) for i, c in enumerate(q) if c != "_"]
    assert len(bits) == k and s.answer == str(sum(b for _, b in bits) % 2)
    states = "".join(s.target).rstrip(".").split("#")
    c = 0
    for (i, bit), st_ in zip(bits, states):
        c ^= bit
        assert st_ == f"[{i:02d}]{bit},{c}"
    assert states[-1] == f"[16]_,{c}"
    assert L.extract_answer("parity", s.target) == s.answer


@SET
@given(st.integers(0, 2**31 - 1), st.integers(1, 6))
def test_random_space_addition_states(seed, Ld):
    s = L.addition_random_space_sample(seed, Ld, slots=20, buffer=10)
    q = s.prompt[:20]
    chars = [(i, c) for i, c in enumerate(q) if c != "_"]
    plus = [c for _, c in chars].index("+")
    a_digits, b_digits = chars[:plus], chars[plus + 1:]
    assert int("".join(c for _, c in a_digits)) + int("".join(c for _, c in b_digits)) == int(s.answer)
    states = "".join(s.target).rstrip(".").split("#")
    assert len(states) == Ld + 1
    carry, buf = 0, "".join(s.prompt[21:31])
    for i, st_ in enumerate(states[:-1]):
        (pa, da), (pb, db) = a_digits[Ld - 1 - i], b_digits[Ld - 1 - i]
        tot = int(da) + int(db) + carry
        carry = tot // 10
        buf = (str(tot % 10) + buf)[:10]
        assert st_ == f"[{pa:02d}]{da}[{pb:02d}]{db}c{carry}r{buf}"
    assert L.extract_answer("addition_random_space", s.target) == s.answer


@SET
@given(st.integers(0, 2**31 - 1), st.integers(1, 7))
def test_shift_addition_states(seed, Ld):
    s = L.addition_shift_sample(seed, Ld, width=8)
    body = "".join(s.target).rstrip(".").split("#")
    states, final = body[:-1], body[-1]
    assert len(states) == Ld and len({len(x) for x in states}) == 1 and len(states[0]) == 3 * 9 + 4
    A, B = "".join(s.prompt[:9]), "".join(s.prompt[10:19])
    assert int(A.split("$")[1]) + int(B.split("$")[1]) == int(s.answer)
    assert final.startswith(s.answer[0]) and L.extract_answer("addition_shift", s.target) == s.answer
    assert L.inductive_form_train(s.tokens, start="=").positions.max() < len(s.tokens)


# --------------------------------------------------------------------------- errors


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="S"):
        L.sparse_parity_mi(5, [0], [7])
    with pytest.raises(ValueError, match="T"):
        L.sparse_parity_mi(5, [-1], [])
    with pytest.raises(ValueError, match="T"):
        L.sparse_parity_mi(5, [1, 1], [])
    with pytest.raises(TypeError, match="S"):
        L.sparse_parity_mi(5, [0], "01")
    with pytest.raises(ValueError, match="m"):
        L.cycle_mi(4, 9)
    with pytest.raises(ValueError, match="m"):
        L.cycle_mi(4, -1)
    with pytest.raises(ValueError, match="n"):
        L.cycle_mi(1, 0)
    with pytest.raises(ValueError, match="n"):
        L.cycle_mi(10, 0)  # beyond the enumeration bound
    with pytest.raises(TypeError, match="n"):
        L.cycle_mi(4.0, 2)
    with pytest.raises(ValueError, match="a"):
        L.beta_squared_mean(4, 5)
    with pytest.raises(ValueError, match="k"):
        L.locality("sparse_parity", 10)
    with pytest.raises(ValueError, match="family"):
        L.locality("majority", 10)
    with pytest.raises(ValueError, match="start"):
        L.inductive_form_train(["a", "b", "."])
    with pytest.raises(ValueError, match="eos"):
        L.inductive_form_train(["a", ":", "b"])
    with pytest.raises(ValueError, match="beta"):
        L.bit_information(1.5)


def test_index_map_and_block_views():
    toks = "q1 q2 : a1 b1 # a2 b2 # a3 b3 .".split()
    f = L.inductive_form_train(toks)
    assert [toks[i] for i in L.inductive_index_map(toks)] == list(f.tokens)
    b = L.inductive_form_block(f, 3)
    assert list(b.tokens) == "q1 q2 : a2 b2 # a3 b3 .".split()
    assert b.positions.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8]


@SET
@given(inductive_sequence())
def test_block_view_logits_equal_full_form_numpy(case):
    # blocks attend only to the question and themselves: a block's logits are the same alone (1e-10: round-off)
    toks, qlen, states = case
    f = L.inductive_form_train(toks)
    vocab = {t: i for i, t in enumerate(sorted(set(toks)))}
    fwd = _numpy_transformer(len(vocab), seed=3)
    full = fwd(np.array([vocab[t] for t in f.tokens]), f.positions, f.attention)
    for k in range(1, len(states) + 1):
        b = L.inductive_form_block(f, k)
        part = fwd(np.array([vocab[t] for t in b.tokens]), b.positions, b.attention)
        np.testing.assert_allclose(part, full[(f.groups == 0) | (f.groups == k)], atol=1e-10)


# --------------------------------------------------------------------------- the experiment's JAX data and units


jax = pytest.importorskip("jax")


@pytest.mark.parametrize("scratchpad", ["none", "dfs", "inductive"])
@pytest.mark.parametrize("p,q", [(2, 2), (3, 3), (2, 4)])
def test_jax_cycle_batches_match_the_theory_format(scratchpad, p, q):
    from sims.locality import data as D

    names = p + q + 2
    vocab = D.cycle_vocab(names)
    toks, y = D.cycle_tokens(jax.random.PRNGKey(p * 10 + q), 16, p, q, scratchpad, names)
    ref = L.cycles_sample(0, [p + q], (0, 0), (0, p), scratchpad=None if scratchpad == "none" else scratchpad)
    lay = D.cycle_layout(p, q, scratchpad)
    for row, label in zip(np.asarray(toks), np.asarray(y)):
        s = D.decode(row, vocab)
        assert len(s) == len(ref.tokens) == lay.length
        # same token pattern as the theory generator (names where names are, the same structure tokens elsewhere)
        assert [t if not t.startswith("v") else "v" for t in s[:lay.prompt_len - (scratchpad == "inductive")]
                if t in (">", ";", "?") or t.startswith("v")] == \
               [t if not t.startswith("v") else "v" for t in ref.tokens[:ref.prompt_len - (scratchpad == "inductive")]
                if t in (">", ";", "?") or t.startswith("v")]
        assert L.reachable(s[:4 * (p + q) + 4]) == bool(label) == (L.extract_answer("cycles", s[lay.prompt_len:]) == "1")
        if scratchpad == "inductive":
            f = L.inductive_form_train(s)
            np.testing.assert_array_equal(f.positions, lay.positions)
            np.testing.assert_array_equal(f.attention, lay.attention)
            assert list(f.tokens) == [s[i] for i in lay.index]
        if scratchpad != "none":
            walk = [t for t in s[lay.prompt_len:] if t.startswith("v")]
            succ = dict(L.parse_graph(s[:4 * (p + q) + 4])[0])
            assert all(succ[u] == v for u, v in zip(walk, walk[1:]))


def _random_model(vocab, max_len=96, seed=0):
    from sims.substrate.transformer import Transformer, TransformerConfig

    cfg = TransformerConfig(vocab=vocab, d_model=32, n_heads=4, n_layers=2, max_len=max_len, init_std=0.3)
    return Transformer(cfg, key=jax.random.PRNGKey(seed))


@pytest.mark.claim("locality.inductive_transform")
def test_masked_generation_equals_trimmed_substrate_transformer():
    # the substrate transformer (random weights, large init so that attention is far from uniform): masked
    # generation view and trimmed context give the same next-token logits (float32: 1e-4)
    from sims.locality import data as D
    from sims.locality.training import masked_vs_trimmed

    names = 6
    model = _random_model(len(D.CYCLE_SPECIAL) + names)
    diff, count = masked_vs_trimmed(model, 2, 2, names, count=2)
    assert count > 0 and diff < 1e-4


def test_padding_and_layout_keep_the_logits():
    import equinox as eqx

    from sims.locality import data as D
    from sims.locality.training import _pad_batch
    from sims.substrate.sequences import batch_logits

    names = 4
    model = _random_model(len(D.CYCLE_SPECIAL) + names)
    b = D.cycle_batch(jax.random.PRNGKey(0), 4, 2, 2, "inductive", names)
    pb = _pad_batch(b, b.tokens.shape[1] + 7)
    logits = eqx.filter_jit(batch_logits)
    a = np.asarray(logits(model, b))
    c = np.asarray(logits(model, pb))[:, :b.tokens.shape[1]]
    np.testing.assert_allclose(a, c, atol=1e-5)
    assert not np.asarray(pb.loss_mask)[:, b.tokens.shape[1]:].any()


def test_parity_blocks_are_theory_blocks():
    from sims.locality import data as D

    rng = np.random.default_rng(0)
    arr = D.parity_blocks(rng, 20, 3, 8)
    chars = D.parity_vocab()
    for tok, loss, pos in zip(arr["tokens"], arr["loss"], arr["positions"]):
        s = [chars[t] for t in tok if t]
        q = s[:10]
        assert q[-2:] == ["=", ":"] and all(c in "_01" for c in q[:8])
        # the block restarts at len(Q) and its answer tokens are exactly the non-copied tokens
        assert pos[10] == 10 and loss[:10].sum() == 0 and loss.sum() == 7  # "[p]b,c" + separator, 1-digit slots


def _fake_results(cfg):
    """Results shaped as LocalityExperiment.run returns them, with trained parts filled synthetically."""
    from sims.locality.experiment import exact_unit

    ecfg = {k: getattr(cfg, k) for k in ("mi_ns", "parity_ns", "c", "sparse_k", "ar_parity_ns", "dfs_ns")}
    steps = np.arange(0, 1001, 100)
    ramp = np.clip(steps / 500, 0, 1)
    cyc = {}
    for n in cfg.cycle_ns:
        for pad in cfg.cycle_scratchpads:
            acc = np.full_like(ramp, 0.5) if pad == "none" else ramp
            cyc[f"cycle_{pad}_n{n}"] = {"acc": acc[None], "acc_test": np.zeros((1, 0)), "loss": acc[None],
                                       "steps": steps[None], "mvt_diff": np.array([1e-6]), "mvt_prefixes": np.array([8])}
    for pad in ("dfs", "inductive"):
        cyc[f"ood_{pad}"] = {"acc": ramp[None], "acc_test": (ramp if pad == "inductive" else 0 * ramp)[None],
                            "loss": ramp[None], "steps": steps[None]}
    ks = np.array(cfg.par_test_ks)
    par = {"ks": ks[None], "acc": (ks <= 2 * cfg.par_k_train).astype(float)[None], "steps": steps[None],
           "acc_train": ramp[None]}
    return {"exact": exact_unit(ecfg, [0])[0], "cycle": cyc, "parity": par, "seeds": np.array([0])}


def test_claims_and_plots_from_synthetic_results(tmp_path):
    # every claim record carries its fields; trained-claim code runs on synthetic results shaped like a run's
    from sims.locality import LocalityConfig, LocalityExperiment

    cfg = LocalityConfig.preset("quick", cycle_steps=1000, par_steps=1000, cycle_ns=(2, 3),
                                cycle_scratchpads=("none", "dfs", "inductive"), ood=True)
    exp = LocalityExperiment()
    res = _fake_results(cfg)
    claims = exp.claims(cfg, res)
    ids = {c.id for c in claims}
    assert {"locality.cycle_mi_barrier", "locality.parity_locality", "locality.parity_mi_closed_form",
            "locality.ar_locality_scratchpads", "locality.inductive_transform",
            "locality.cycle_no_scratchpad_exponential", "locality.scratchpads_learn_fast",
            "locality.ood_inductive_vs_dfs", "locality.length_generalization_parity"} <= ids
    for c in claims:
        assert c.statement and c.kind in ("claim", "check") and c.links
        assert c.holds or c.finding, c.id
    by = {c.id: c for c in claims}
    assert by["locality.ood_inductive_vs_dfs"].holds and by["locality.scratchpads_learn_fast"].holds
    assert not by["locality.cycle_no_scratchpad_exponential"].holds  # never reached: no fit, with a finding
    assert by["locality.length_generalization_parity"].holds
    pngs = exp.plots(cfg, res, tmp_path)
    assert len(pngs) == 3 and all(p.exists() for p in pngs)


@pytest.mark.slow
def test_quick_run_produces_claims(tmp_path):
    from sims.harness import run_experiment

    rec = run_experiment("locality", scale="quick", seeds=1, out=tmp_path / "run")
    assert rec.claims and all(c.statement and (c.holds or c.finding) for c in rec.claims)
