"""RASP-L (Zhou et al. 2024): theory.rasp against direct Python references.

Every reference below is written from the definitions with plain loops over the prefix (no s-ops), so the
interpreter, the library and the programs are each checked against an independent computation. Programs are
checked teacher-forced (run on prompt + true answer, compare the prediction at every answer position with the
next true token) at every length up to 200 and on random cases; by causality this equals greedy generation,
which is also checked directly on a few cases. All checks are exact (integer outputs): no tolerances.
"""

from __future__ import annotations

import collections
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import rasp as R
from theory.rasp import programs as P

SET = settings(deadline=None, max_examples=30, derandomize=True)
x, I = R.tokens, R.indices

small_seqs = st.lists(st.integers(-4, 4), min_size=1, max_size=40)
seeds = st.integers(0, 2**31 - 1)


# --------------------------------------------------------------------------------------------- core semantics


def ref_select(k, q, pred):
    n = len(k)
    return [[bool(pred(k[j], q[i])) and j <= i for j in range(n)] for i in range(n)]


def ref_aggr(A, v, default, reduction):
    out = []
    for row in A:
        sel = [v[j] for j, a in enumerate(row) if a]
        if not sel:
            out.append(default)
        elif reduction == "mean":
            out.append(int(Fraction(sum(sel), len(sel))))  # int() of a Fraction truncates toward zero
        else:
            out.append(max(sel) if reduction == "max" else min(sel))
    return out


PREDS = {"EQ": lambda k, q: k == q, "NEQ": lambda k, q: k != q, "LT": lambda k, q: k < q,
         "LEQ": lambda k, q: k <= q, "GT": lambda k, q: k > q, "GEQ": lambda k, q: k >= q, "TRUE": lambda k, q: True}


@SET
@given(small_seqs, st.sampled_from(sorted(PREDS)), st.sampled_from(["mean", "max", "min"]), st.integers(-9, 9),
       st.integers(0, 3))
def test_select_aggr_sel_width_match_definitions(seq, pname, reduction, default, shift):
    """Keys = tokens, queries = tokens + shift, values = 3*tokens - 1 (negative values exercise truncation)."""
    q = R.tok_map(x, lambda v: v + shift)
    v = R.tok_map(x, lambda t: 3 * t - 1)
    pred = getattr(R, pname)
    A = ref_select(seq, [t + shift for t in seq], PREDS[pname])
    vals = [3 * t - 1 for t in seq]
    want = ref_aggr(A, vals, default, reduction)
    assert list(R.run(R.aggr(R.select(x, q, pred), v, default, reduction), seq)) == want
    assert list(R.run(R.kqv(x, q, v, pred, default, reduction), seq)) == ref_aggr(A, vals, default, reduction)
    assert list(R.run(R.sel_width(R.select(x, q, pred)), seq)) == [sum(r) for r in A]


def test_predicate_takes_key_then_query():
    # keys = indices, query = full(2): LT selects keys j < 2 (key < query), at every row i >= 1
    out = R.run(R.sel_width(R.select(I, R.full(2), R.LT)), [0] * 5)
    assert list(out) == [1, 2, 2, 2, 2]
    out = R.run(R.sel_width(R.select(R.full(2), I, R.LT)), [0] * 5)  # key 2 < query i, and j <= i
    assert list(out) == [0, 0, 0, 4, 5]


def test_mean_truncates_toward_zero_and_default_on_empty_rows():
    v = R.tok_map(x, lambda t: t)
    out = R.run(R.kqv(x, x, v, R.TRUE), [-3, -4, 4, 5])  # means -3, -3.5, -1, 0.5
    assert list(out) == [-3, -3, -1, 0]
    assert list(R.run(R.kqv(x, R.full(99), v, R.EQ, default=7, reduction="max"), [1, 2])) == [7, 7]
    assert list(R.run(R.kqv(x, R.full(99), v, R.EQ, default=-7, reduction="min"), [1, 2])) == [-7, -7]


def test_selects_are_causal_custom_predicates_and_maps():
    # a custom (non-vectorised) predicate and a map returning bools/floats (cast to int, truncating)
    sel = R.select(x, x, lambda k, q: (k + q) % 3 == 0)
    seq = [1, 2, 5, 4, 3]
    want = [sum((seq[j] + seq[i]) % 3 == 0 for j in range(i + 1)) for i in range(5)]
    assert list(R.run(R.sel_width(sel), seq)) == want
    assert list(R.run(R.tok_map(x, lambda t: t > 2), seq)) == [0, 0, 1, 1, 1]
    assert list(R.run(R.tok_map(x, lambda t: -t / 2), seq)) == [0, -1, -2, -2, -1]


@SET
@given(st.lists(st.integers(0, 5), min_size=2, max_size=40), st.data())
def test_every_program_is_causal(seq, data):
    """Changing tokens after position t never changes the predictions at positions <= t."""
    t = data.draw(st.integers(0, len(seq) - 2))
    other = seq[: t + 1] + data.draw(st.lists(st.integers(0, 5), min_size=len(seq) - t - 1, max_size=len(seq) - t - 1))
    for prog in (P.count(), P.mode(), P.copy_unique(), P.sort_unique(-9), P.add("forward"), P.parity()):
        assert list(R.run(prog, seq)[: t + 1]) == list(R.run(prog, other)[: t + 1])


def test_batch_evaluation_equals_single_runs():
    rng = np.random.default_rng(0)
    X = rng.integers(-2, 5, size=(7, 13))
    prog = P.add("reverse")
    assert np.array_equal(R.evaluate(prog, X), np.stack([R.run(prog, row) for row in X]))


def test_hash_consing_shares_nodes():
    assert R.full(3) is R.full(3)
    assert R.shift_right(x, 1) is R.shift_right(x, 1)
    assert R.size(R.seq_map(R.shift_right(x, 1), R.shift_right(x, 1), max)) == R.size(R.shift_right(x, 1)) + 1


# --------------------------------------------------------------------------------------------- library


def prefix_ref(seq, f):
    return [f(seq[: i + 1], i) for i in range(len(seq))]


@SET
@given(small_seqs, st.integers(0, 5), st.integers(-9, 9))
def test_library_matches_prefix_definitions(seq, n, d):
    qs = [(t * 7) % 5 - 2 for t in seq]  # a second s-op, as a function of the tokens
    q = R.tok_map(x, lambda t: (t * 7) % 5 - 2)
    idx = [t + 1 for t in seq]  # indices to select: may be < 0, > i
    cases = {
        "shift_right": (R.shift_right(x, n, d), lambda p, i: p[i - n] if i >= n else d),
        "cumsum": (R.cumsum(x), lambda p, i: sum(t != 0 for t in p)),
        "maximum": (R.maximum(x), lambda p, i: max(p)),
        "minimum": (R.minimum(x), lambda p, i: min(p)),
        "num_prev": (R.num_prev(x, q), lambda p, i: sum(t == qs[i] for t in p)),
        "has_seen": (R.has_seen(x, q), lambda p, i: int(qs[i] in p)),
        "firsts": (R.firsts(x, q, d), lambda p, i: p.index(qs[i]) if qs[i] in p else d),
        "lasts": (R.lasts(x, q, d), lambda p, i: i - p[::-1].index(qs[i]) if qs[i] in p else d),
        "index_select": (R.index_select(x, R.tok_map(x, lambda t: t + 1), d),
                         lambda p, i: p[idx[i]] if 0 <= idx[i] <= i else d),
        "first_true": (R.first_true(x, d), lambda p, i: next((j for j, t in enumerate(p) if t != 0), d)),
        "where": (R.where(x, q, R.full(d)), lambda p, i: qs[i] if p[i] != 0 else d),
        "mask": (R.mask(x, q, d), lambda p, i: p[i] if qs[i] != 0 else d),
        "argmax": (R.argmax(x), lambda p, i: max(j for j, t in enumerate(p) if t == max(p))),
        "argmin": (R.argmin(x), lambda p, i: max(j for j, t in enumerate(p) if t == min(p))),
        "induct": (R.induct(x, q, 1, d), lambda p, i: next((p[j] for j in range(1, i + 1) if p[j - 1] == qs[i]), d)),
        "induct_kqv": (R.induct_kqv(x, q, R.tok_map(x, lambda t: 10 * t), 2, d),
                       lambda p, i: next((10 * p[j] for j in range(2, i + 1) if p[j - 2] == qs[i]), d)),
        "induct_prev": (R.induct_prev(x, q, -1, d),
                        lambda p, i: (p[p.index(qs[i]) - 1] if qs[i] in p and p.index(qs[i]) >= 1 else d)),
        "binary_mode": (R.binary_mode(x), lambda p, i: int(p.count(1) > p.count(0))),
    }
    for name, (prog, ref) in cases.items():
        assert list(R.run(prog, seq)) == prefix_ref(seq, ref), name


def test_argmax_and_mode_regression():
    """The official library's argmax raises TypeError and swaps keys/queries; the corrected one does not."""
    assert R.run(P.mode(), [1, 2, 2, 3])[-1] == 2
    assert list(R.run(R.argmax(x), [3, 1, 3, 2])) == [0, 0, 2, 2]  # the LAST index of the running max


# --------------------------------------------------------------------------------------------- programs: references


def ref_mode(prefix):
    c = collections.Counter(prefix)
    m = max(c.values())
    tied = [t for t in c if c[t] == m]
    return max(tied, key=lambda t: max(j for j, s in enumerate(prefix) if s == t))  # most recently seen


def teacher_forced(prog, prompt, answer):
    """Predictions at the positions whose next token is an answer token."""
    seq = list(prompt) + list(answer)
    return list(R.run(prog, seq)[len(prompt) - 1: len(seq) - 1])


def count_sequence(examples, lead=()):
    seq, checks = list(lead), []
    for a, b in examples:
        s = len(seq)
        seq += [P.COUNT_START, a, b] + list(range(a, b + 1)) + [P.COUNT_END]
        checks += list(range(s + 2, len(seq) - 1))  # from b up to the last number: next token is determined
        checks.append(len(seq) - 1)  # at END the next packed example starts (START) -- checked if one follows
    return seq, checks


def check_count(seq, checks):
    out = R.run(P.count(), seq)
    for i in checks:
        if i + 1 < len(seq):
            assert out[i] == seq[i + 1], (i, seq)


@pytest.mark.claim("rasp_l.count", "rasp_l.programs_exact", "rasp_l.count_to_150")
def test_count_every_length():
    for span in range(1, 197):  # sequence length span + 4 = 5 .. 200
        seq, checks = count_sequence([(span % 11, span % 11 + span - 1)])
        assert len(seq) <= 200
        check_count(seq, checks)


@pytest.mark.claim("rasp_l.count_to_150")
def test_count_worked_example_and_generation():
    seq = [5, 6, -1, 0, 4, 0, 1, 2, 3, 4, -2, -1, 5, 8, 5, 6, 7, 8]
    out = R.run(P.count(), seq)
    assert all(out[i] == seq[i + 1] for i in [4, 5, 6, 7, 8, 9, 10, 13, 14, 15, 16])
    assert R.generate(P.count(), [-1, 0, 15], stop=-2, max_new=30) == list(range(16)) + [-2]


@SET
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 25)), min_size=1, max_size=12),
       st.lists(st.integers(0, 9), max_size=3))
def test_count_packed_random(spans, lead):
    seq, checks = count_sequence([(a, a + w) for a, w in spans], lead)
    seq = seq[:200]
    check_count(seq, [i for i in checks if i < len(seq) - 1])


@pytest.mark.claim("rasp_l.mode", "rasp_l.programs_exact")
@pytest.mark.parametrize("n", [1, 2, 3, 10, 50, 120, 200])
def test_mode_every_prefix(n):
    rng = np.random.default_rng(n)
    seq = [int(t) for t in rng.integers(1, 6, size=n)]
    assert list(R.run(P.mode(), seq)) == [ref_mode(seq[: i + 1]) for i in range(n)]


@SET
@given(st.lists(st.integers(0, 4), min_size=1, max_size=200))
def test_mode_random(seq):
    assert list(R.run(P.mode(), seq)) == [ref_mode(seq[: i + 1]) for i in range(len(seq))]


def copy_case(rng, n):
    xs = [int(t) for t in rng.choice(np.arange(1, 300), size=n, replace=False)]
    return [P.COPY_SEP] + xs + [P.COPY_SEP], xs + [P.COPY_SEP]


def sort_case(rng, n):
    xs = [int(t) for t in rng.choice(np.arange(1, 300), size=n, replace=False)]
    return xs + [P.SORT_SEP], sorted(xs) + [-7]


@pytest.mark.claim("rasp_l.copy_unique", "rasp_l.sort_unique", "rasp_l.programs_exact")
@pytest.mark.parametrize("n", range(1, 99))
def test_copy_and_sort_every_length(n):
    rng = np.random.default_rng(n)
    prompt, ans = copy_case(rng, n)
    assert len(prompt) + len(ans) <= 200
    assert teacher_forced(P.copy_unique(), prompt, ans) == ans
    prompt, ans = sort_case(rng, n)
    assert teacher_forced(P.sort_unique(-7), prompt, ans) == ans


@SET
@given(st.integers(1, 99), seeds)
def test_copy_and_sort_random_generation(n, seed):
    rng = np.random.default_rng(seed)
    prompt, ans = copy_case(rng, n % 30 + 1)
    assert R.generate(P.copy_unique(), prompt, stop=P.COPY_SEP, max_new=len(ans) + 5) == ans
    prompt, ans = sort_case(rng, n)
    assert teacher_forced(P.sort_unique(-7), prompt, ans) == ans


@pytest.mark.claim("rasp_l.sort_follows_program", "rasp_l.copy_repeats")
def test_known_failures_copy_repeats_loops_sort_drops_duplicates():
    assert R.generate(P.copy_unique(), [0, 3, 5, 3, 7, 0], stop=0, max_new=12) == [3, 5] * 6
    assert R.generate(P.sort_unique(-7), [3, 5, 3, 7, 0], stop=-7, max_new=10) == [3, 5, 7, -7]


def random_operand(rng, digits):
    if digits == 1:
        return int(rng.integers(0, 10))
    return int(rng.integers(1, 10)) * 10 ** (digits - 1) + int(rng.integers(0, 10 ** min(digits - 1, 18)))


def test_addition_format_worked_example():
    pr = P.addition_prompt(88, 842)  # p = 4 digits
    assert pr == [-1, -100, 0, -101, 0, -102, 8, -103, 8, -2, -100, 0, -101, 8, -102, 4, -103, 2, -3]
    assert P.addition_answer(88, 842, "reverse") == [-103, 0, -102, 3, -101, 9, -100, 0, -5]
    assert P.addition_answer(88, 842, "forward") == [-100, 0, -101, 9, -102, 3, -103, 0, -5]
    for order in ("reverse", "forward"):
        assert R.generate(P.add(order), pr, stop=-5, max_new=20) == P.addition_answer(88, 842, order)


@pytest.mark.claim("rasp_l.add_reverse", "rasp_l.add_forward", "rasp_l.reverse_ge_forward", "rasp_l.programs_exact")
@pytest.mark.parametrize("order", ["reverse", "forward"])
@pytest.mark.parametrize("digits", range(1, 41))
def test_addition_every_digit_count(order, digits):
    rng = np.random.default_rng(digits)
    cases = [(random_operand(rng, digits), random_operand(rng, int(rng.integers(1, digits + 1)))),
             (10**digits - 1, 1), (10**digits - 1, 10**digits - 1), (0, 10 ** (digits - 1))]  # carry chains
    for a, b in cases:
        o = int(rng.integers(0, 30))
        ans = P.addition_answer(a, b, order, hint_offset=o)
        assert teacher_forced(P.add(order), P.addition_prompt(a, b, hint_offset=o), ans) == ans
        assert int("".join(str(t) for t in ans[1:-1:2])[:: -1 if order == "reverse" else 1]) == a + b


@SET
@given(st.integers(0, 10**40 - 1), st.integers(0, 10**40 - 1), st.sampled_from(["reverse", "forward"]),
       st.integers(0, 50))
def test_addition_random(a, b, order, o):
    ans = P.addition_answer(a, b, order, hint_offset=o)
    assert teacher_forced(P.add(order), P.addition_prompt(a, b, hint_offset=o), ans) == ans


def parity_case(bits, o):
    prompt = [P.PARITY_SEP] + [t for k, b in enumerate(bits) for t in (P.HINT_BASE - o - k, b)] + [P.PARITY_SEP]
    ans = [t for k in range(len(bits)) for t in (P.HINT_BASE - o - k, sum(bits[: k + 1]) % 2)] + [P.PARITY_EOS]
    return prompt, ans


@pytest.mark.claim("rasp_l.parity_hints", "rasp_l.programs_exact")
@pytest.mark.parametrize("n", range(1, 50))
def test_parity_every_length(n):
    rng = np.random.default_rng(n)
    prompt, ans = parity_case([int(b) for b in rng.integers(0, 2, n)], int(rng.integers(0, 40)))
    assert len(prompt) + len(ans) <= 200
    assert teacher_forced(P.parity(), prompt, ans) == ans


@SET
@given(st.lists(st.integers(0, 1), min_size=1, max_size=49), st.integers(0, 40))
def test_parity_random(bits, o):
    prompt, ans = parity_case(bits, o)
    assert teacher_forced(P.parity(), prompt, ans) == ans


@pytest.mark.claim("rasp_l.agrees_with_program")
def test_generation_equals_teacher_forcing_on_programs():
    prompt, ans = parity_case([1, 0, 1, 1, 0], 3)
    assert R.generate(P.parity(), prompt, stop=P.PARITY_EOS, max_new=20) == ans
    pr = P.addition_prompt(9999, 1, hint_offset=2)
    for order in ("reverse", "forward"):
        want = P.addition_answer(9999, 1, order, hint_offset=2)
        assert R.generate(P.add(order), pr, stop=P.ADD_END, max_new=20) == want
    # stop=None runs max_new steps: after eos (below every token) the smallest larger token is SEP, then 2 again
    assert R.generate(P.sort_unique(-7), [4, 9, 2, 0], stop=None, max_new=6) == [2, 4, 9, -7, 0, 2]


# --------------------------------------------------------------------------------------------- check and size


@pytest.mark.claim("rasp_l.conjecture")
def test_check_accepts_every_library_function_and_program():
    q = R.tok_map(x, lambda t: t + 1)
    lib = [R.shift_right(x, 2), R.cumsum(x), R.where(x, q, I), R.mask(I, x), R.maximum(x), R.minimum(x),
           R.num_prev(x, q), R.has_seen(x, q), R.firsts(x, q), R.lasts(x, q), R.index_select(x, q),
           R.first_true(x), R.induct_kqv(x, q, I, 1), R.induct(x, q, 2), R.induct_prev(x, q, -1), R.argmax(x),
           R.argmin(x), R.argmax(R.num_prev(x, x)), R.binary_mode(x), R.index_select(I, R.firsts(x, q))]
    progs = [P.count(), P.mode(), P.copy_unique(), P.sort_unique(-7), P.add("reverse"), P.add("forward"), P.parity()]
    for prog in lib + progs:
        assert R.check(prog) == [], prog


def _twice(v):  # a misleading name: the checker must judge the behaviour
    return v + v


def _shift_by_two(v):  # an odd way to write a legal shift
    return (3 * v + 6) // 3


@pytest.mark.claim("rasp_l.conjecture", "rasp_l.add_plain")
def test_check_rejects_index_arithmetic_by_behaviour():
    assert R.check(R.tok_map(I, lambda i: 2 * i))  # doubling
    assert R.check(R.index_select(x, R.tok_map(I, _twice)))  # doubling, hidden behind a name
    assert R.check(R.tok_map(R.lasts(x, R.full(0)), lambda i: i // 2))  # index division on a moved index
    assert R.check(R.tok_map(R.cumsum(x), lambda c: c % 2))  # counting to n, then mod 2 (plain parity)
    assert R.check(R.seq_map(I, x, lambda i, t: i + t))  # data-dependent shift
    assert R.check(R.seq_map(I, R.firsts(x, R.full(0)), lambda i, j: i - j))  # difference of two positions
    assert R.check(R.kqv(x, x, I, R.TRUE))  # mean of positions
    assert R.check(R.sel_width(R.select(I, I, lambda k, q: k == 2 * q)))  # arithmetic inside a predicate
    assert R.check(R.index_select(x, R.tok_map(I, _shift_by_two))) == []
    assert R.check(R.tok_map(I, lambda i: i < 5)) == []  # comparison with a constant
    assert R.check(R.seq_map(I, R.lasts(x, R.full(0)), lambda i, s: i == s + 2)) == []  # comparison


def test_check_rejects_length_and_noncausal_selects():
    msgs = R.check(R.seq_map(R.length, I, lambda n, i: n - i - 1))  # Weiss et al.'s reverse index
    assert any("length" in m for m in msgs) and len(msgs) == 2
    assert any("non-causal" in m for m in R.check(R.aggr(R.select(x, x, R.TRUE, causal=False), x)))
    # a non-causal reverse does reverse; the checker still rejects it
    opp = R.seq_map(R.length, I, lambda n, i: n - i - 1)
    rev = R.aggr(R.select(I, opp, R.EQ, causal=False), x)
    assert list(R.run(rev, [1, 2, 3])) == [3, 2, 1] and R.check(rev)


@pytest.mark.claim("rasp_l.copy_repeats", "rasp_l.parity_plain", "rasp_l.conjecture")
def test_contrast_programs_are_correct_but_not_rasp_l():
    """copy_any copies repeated tokens and parity_plain gives the parity, but both use index arithmetic."""
    rng = np.random.default_rng(3)
    for n in range(1, 60):
        xs = [int(t) for t in rng.integers(1, 4, n)]  # many repeats
        prompt, ans = [0] + xs + [0], xs + [0]
        assert teacher_forced(P.copy_any(), prompt, ans) == ans
        bits = [int(b) for b in rng.integers(0, 2, n)]
        assert teacher_forced(P.parity_plain(), bits + [P.PARITY_SEP], [sum(bits) % 2, P.PARITY_EOS]) == \
            [sum(bits) % 2, P.PARITY_EOS]
    assert R.check(P.copy_any()) and R.check(P.parity_plain())


@pytest.mark.claim("rasp_l.conjecture", "rasp_l.reverse_ge_forward")
def test_size_counts_primitive_operations():
    assert R.size(P.sort_unique(-7)) == 2  # one head: select + aggr
    assert R.size(R.kqv(x, x, x, R.EQ)) == 2
    assert R.size(R.tokens) == 0
    progs = [("sort", P.sort_unique(0)), ("copy", P.copy_unique()), ("mode", P.mode()), ("count", P.count()),
             ("rev", P.add("reverse")), ("fwd", P.add("forward"))]
    sizes = {name: R.size(p) for name, p in progs}
    assert sizes["sort"] < sizes["copy"] < sizes["count"] < sizes["rev"] < sizes["fwd"]  # forward needs the patch
    assert sum(R.operations(P.count()).values()) == sizes["count"]


# --------------------------------------------------------------------------------------------- validation


def test_argument_validation():
    with pytest.raises(TypeError):
        R.tok_map([1, 2], abs)
    with pytest.raises(TypeError):
        R.tok_map(x, 3)
    with pytest.raises(TypeError):
        R.aggr(x, x)
    with pytest.raises(ValueError, match="reduction"):
        R.aggr(R.select(x, x, R.EQ), x, reduction="sum")
    with pytest.raises(TypeError):
        R.full(1.5)
    with pytest.raises(TypeError):
        R.run(R.select(x, x, R.EQ), [1])
    with pytest.raises(ValueError):
        R.run(x, [])
    with pytest.raises(ValueError):
        R.run(x, [[1, 2]])
    with pytest.raises(TypeError):
        R.run(x, [1.5])
    with pytest.raises(ValueError):
        R.run(x, [2**40])
    with pytest.raises(ValueError):
        R.run(x, [0] * (R.MAX_LEN + 1))
    with pytest.raises(ValueError):
        R.generate(x, [1], stop=None, max_new=R.MAX_LEN)
    with pytest.raises(TypeError):
        R.generate(x, [1], stop=1.0, max_new=3)
    with pytest.raises(ValueError):
        P.add("sideways")
    with pytest.raises(ValueError):
        P.addition_prompt(-1, 2)
    with pytest.raises(ValueError):
        P.addition_prompt(10**P.MAX_DIGITS, 2)
    with pytest.raises(ValueError):
        R.shift_right(x, -1)
    with pytest.raises(ValueError, match="non-finite"):
        R.run(R.tok_map(x, lambda t: float("nan")), [1])
    with pytest.raises(TypeError):
        R.run(R.tok_map(x, lambda t: None), [1])


# --------------------------------------------------------------------------------------------- experiment rasp_l


def _experiment():
    from sims import rasp_l

    return rasp_l


@pytest.mark.claim("rasp_l.programs_exact", "rasp_l.agrees_with_program")
@pytest.mark.parametrize("task", ["count", "mode", "copy_unique", "copy_repeats", "sort_unique", "add_reverse",
                                  "add_forward", "add_plain", "parity_hints", "parity_plain"])
def test_task_generators_match_programs_and_references(task):
    """The experiment's data are in the programs' token formats: each program (or RASP contrast program) writes
    the generated answer teacher-forced; answers also match direct references; tokens lie in the vocabulary."""
    E = _experiment()
    spec = E.TASKS[task]
    prog = spec.program() if spec.program else (spec.contrast() if spec.contrast else None)
    kw = dict(max_len=16, alphabet=24, count_numbers=40)
    vocab = set(E.task_tokens(task, **kw))
    rng = np.random.default_rng(1)
    for n in list(range(spec.min_len, 17)) * 2:
        p, a = E.make_example(task, n, rng, **kw)
        assert set(p) | set(a) <= vocab
        if prog is not None:
            assert teacher_forced(prog, p, a) == a
        if task == "add_plain":  # reversed digits of the big-int sum of the two operands
            i, j = p.index(P.ADD_PLUS), p.index(P.ADD_EQUALS)
            s = int("".join(map(str, p[1:i]))) + int("".join(map(str, p[i + 1: j])))
            assert int("".join(map(str, a[:-1]))[::-1]) == s and a[-1] == P.ADD_END
        if task == "mode":
            assert a == [collections.Counter(p[:-1]).most_common(1)[0][0]]
        if task in ("copy_unique", "copy_repeats"):
            assert a == p[1:]
        if task == "parity_plain":
            assert a == [sum(p[:-1]) % 2, P.PARITY_EOS]


def test_task_programs_are_rasp_l_and_contrasts_are_not():
    E = _experiment()
    for spec in E.TASKS.values():
        if spec.program:
            assert R.check(spec.program()) == []
        if spec.contrast:
            assert R.check(spec.contrast())
        assert not (spec.program and spec.contrast)


@pytest.mark.slow
def test_rasp_l_quick_claims(tmp_path):
    """The quick scale runs end to end and every record has its fields and resolvable links."""
    from sims.harness.evidence import link_problems
    from sims.harness.runner import run_experiment

    rec = run_experiment("rasp_l", scale="quick", seeds=1, out=tmp_path, progress=False)
    ids = {c.id for c in rec.claims}
    assert {"rasp_l.sort_unique", "rasp_l.parity_plain", "rasp_l.conjecture", "rasp_l.programs_exact",
            "rasp_l.sort_follows_program"} <= ids
    figs = [p.stem for p in rec.figures]
    assert {"rasp_l_em", "rasp_l_size"} <= set(figs)
    for c in rec.claims:
        assert c.statement and c.kind in ("claim", "check") and c.links.get("figures") is not None
        assert c.holds or c.finding, c.id
        assert link_problems(c, figs) == [], c.id
    assert next(c for c in rec.claims if c.id == "rasp_l.programs_exact").holds
