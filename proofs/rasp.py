r"""Correctness of the RASP-L Count and Sort programs at every length (Zhou et al. 2024).

For each intermediate s-op of :func:`theory.rasp.programs.count` and :func:`theory.rasp.programs.sort_unique`
the proof states its closed-form definition on a prefix (for example the most recent START,
:math:`s_i = \max\{j \le i : x_j = \mathrm{START}\}`) and checks **exhaustively** that the package's program,
run by the package's interpreter, equals it at every position of every sequence of a finite set that contains a
representative of every *local configuration* -- the finite data on which each output depends. Why the local
configuration determines each output is argued from the semantics of the primitives (the assumptions of each
proof); that argument, plus the exhaustive check, gives correctness at every length. End-to-end correctness of
generation is then checked symbolically (Count: a sympy case split) and on all small prompts.

Each enumeration step reads ``(number of positions where program = closed form) = (number of positions)``,
with the right side written as the sum that counts the enumerated positions, so a step fails if a single
position disagrees.
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy as sp

from theory import rasp
from theory.rasp import programs

from ._core import Proof, Step

PAPER = "rasp"

START, END = programs.COUNT_START, programs.COUNT_END
COUNT_ALPHABET = (START, END, 0, 1, 2)  # START, END and three ordinary values (every equality pattern of 3 tokens)
COUNT_MAX_LEN = 6
SORT_ALPHABET = (0, 1, 2, 3)
SORT_MAX_LEN = 6
SORT_EOS = -7

_n = sp.Symbol("n", integer=True, positive=True)


def _all_sequences(alphabet, n: int) -> np.ndarray:
    return np.array(list(itertools.product(alphabet, repeat=n)), dtype=np.int64)


def _positions_sum(k: int, max_len: int):
    """sum_{n=1}^{L} n k^n: the number of (sequence, position) pairs of all sequences of length <= L."""
    return sp.Sum(_n * k**_n, (_n, 1, max_len))


# --------------------------------------------------------------------------------------------- count


def count_closed_forms(x) -> dict[str, list[int]]:
    """The closed-form value of every intermediate s-op of Count at every position of ``x`` (direct loops)."""
    out: dict[str, list[int]] = {k: [] for k in ("count.s", "count.s+1", "count.s+2", "count.a", "count.b",
                                                 "count.first", "count.is_b", "count.last", "count.x+1",
                                                 "count.end_or_succ", "count.next")}
    for i in range(len(x)):
        starts = [j for j in range(i + 1) if x[j] == START]
        s = max(starts) if starts else -1  # the default of the START head
        a = int(x[s + 1]) if 0 <= s + 1 <= i else 0
        b = int(x[s + 2]) if 0 <= s + 2 <= i else 0
        first = int(i == s + 2)
        is_b = int(x[i] == b)
        last = int(is_b and not first)
        succ = int(x[i]) + 1
        eos = END if last else succ
        for k, v in (("count.s", s), ("count.s+1", s + 1), ("count.s+2", s + 2), ("count.a", a), ("count.b", b),
                     ("count.first", first), ("count.is_b", is_b), ("count.last", last), ("count.x+1", succ),
                     ("count.end_or_succ", eos), ("count.next", a if first else eos)):
            out[k].append(v)
    return out


COUNT_DEFINITIONS = {
    "count.s": r"s_i = \max\{j \le i : x_j = \mathrm{START}\}, -1 if none (the START head: EQ against full(START), "
               "max of indices)",
    "count.s+1": r"s_i + 1",
    "count.s+2": r"s_i + 2",
    "count.a": r"a_i = x_{s_i+1} if 0 <= s_i+1 <= i, else 0 (index head)",
    "count.b": r"b_i = x_{s_i+2} if 0 <= s_i+2 <= i, else 0 (index head)",
    "count.first": r"[i = s_i + 2] (comparison of two positions)",
    "count.is_b": r"[x_i = b_i]",
    "count.last": r"[x_i = b_i] and not [i = s_i + 2]",
    "count.x+1": r"x_i + 1",
    "count.end_or_succ": r"END if last_i else x_i + 1",
    "count.next": r"a_i if first_i, else END if last_i, else x_i + 1",
}


def _count_local_configuration(x, i: int) -> tuple:
    """(kind of START, min(i - s, 4), x_{s+1}, x_{s+2}, x_i) with entries past i as None."""
    starts = [j for j in range(i + 1) if x[j] == START]
    s = max(starts) if starts else -1
    kind = "virtual" if s < 0 else ("real, empty prefix" if s == 0 else "real, non-empty prefix")
    return (kind, min(i - s, 4), int(x[s + 1]) if s + 1 <= i else None, int(x[s + 2]) if s + 2 <= i else None,
            int(x[i]))


def _count_every_sop() -> Proof:
    prog = programs.count()
    parts = rasp.parts(prog)
    agree = dict.fromkeys(COUNT_DEFINITIONS, 0)
    configs: set = set()
    for n in range(1, COUNT_MAX_LEN + 1):
        X = _all_sequences(COUNT_ALPHABET, n)
        closed = [count_closed_forms(x) for x in X]
        for k in COUNT_DEFINITIONS:
            agree[k] += int(np.sum(rasp.evaluate(parts[k], X) == np.array([c[k] for c in closed])))
        configs.update(_count_local_configuration(x, i) for x in X for i in range(n))
    total = _positions_sum(len(COUNT_ALPHABET), COUNT_MAX_LEN)
    steps = [
        Step(f"{k}: #(program = closed form) = #positions", sp.Integer(agree[k]), total,
             why=f"Closed form: {COUNT_DEFINITIONS[k]}. The package's labelled s-op `{k}` of programs.count(), "
                 f"evaluated by theory.rasp.evaluate on all {len(COUNT_ALPHABET)}^n sequences over "
                 f"{{START, END, 0, 1, 2}} of every length n <= {COUNT_MAX_LEN}, equals the closed form (computed by "
                 "direct loops over the prefix) at every position.")
        for k in COUNT_DEFINITIONS
    ]
    # 4 non-START values; classes: virtual START (d = 1..4) and real START with empty / non-empty prefix (d = 0..4)
    classes = sp.Add(sp.Add(4, 4**2, 4**3, 4**3, evaluate=False),
                     sp.Mul(2, sp.Add(1, 4, 4**2, 4**3, 4**3, evaluate=False), evaluate=False), evaluate=False)
    steps.append(Step("every local configuration occurs in the enumeration", sp.Integer(len(configs)), classes,
                      why="A local configuration at i is (whether the last START is the virtual one at -1 or a real "
                          "one, with or without tokens before it; d = min(i - s_i, 4); x_{s+1}, x_{s+2} where <= i; "
                          "x_i), with x_{s+1}, x_{s+2}, x_i never START (s_i is the last START). Over the 4 non-START "
                          "values: the virtual START gives 4 + 4^2 + 4^3 + 4^3 classes (d = 1, 2, 3, >= 4), each real "
                          "kind 1 + 4 + 4^2 + 4^3 + 4^3 (d = 0..>=4); all of them occur among the enumerated "
                          "prefixes."))
    return Proof(
        PAPER, "Count: every intermediate s-op equals its closed form on every prefix", steps,
        id="rasp.count_sops_closed_form", claims=["rasp_l.count", "rasp_l.count_to_150"],
        statement="For every integer sequence x and position i, each labelled s-op of the Count program "
                  "(s = last START, s+1, s+2, a, b, first, is_b, last, x+1, end_or_succ, next) equals its closed "
                  "form at i. Checked exhaustively over the finite local configurations: by the assumptions below, "
                  "each value at i is a function of the local configuration (last START kind, min(i - s_i, 4), "
                  "x_{s+1}, x_{s+2}, x_i) and of the equality pattern of those tokens with START, END and each "
                  "other; the enumeration of all sequences over {START, END, 0, 1, 2} up to length 6 contains every "
                  "configuration with every equality pattern (three ordinary values realise all patterns of three "
                  "tokens), and the program equals the closed form at all of their positions. Hence the equality "
                  "holds at every length.",
        assumptions=[
            "The START head selects {j <= i : x_j = START} and takes the max of indices: its value is the last START "
            "(or the default -1) whatever the other tokens are.",
            "The two index heads select {j <= i : j = s_i + 1} (resp. + 2): they read x only at s_i + 1 (s_i + 2), "
            "and only whether that position is <= i.",
            "Maps act position-wise; the only index comparison is [i = s_i + 2], a function of min(i - s_i, 4); "
            "token values enter only through equality (with START, with b_i) and the map x + 1, which the closed "
            "form applies identically.",
        ],
    )


def _count_generation() -> Proof:
    a, b, k = sp.symbols("a b k", integer=True)
    E = sp.Integer(END)
    truth = sp.Piecewise((a, sp.Eq(k, 0)), (E, sp.Eq(k, b - a + 1)), (a + k, True))
    x_i = a + k - 1  # the token at answer offset k >= 1 (offset 0 holds b)
    closed = sp.Piecewise((a, sp.Eq(k, 0)), (E, sp.Eq(x_i, b)), (x_i + 1, True))
    prog = programs.count()
    ok, hi = 0, 9
    for lo in range(hi + 1):
        for up in range(lo, hi + 1):
            got = rasp.generate(prog, [START, lo, up], stop=END, max_new=up - lo + 2)
            ok += int(got == list(range(lo, up + 1)) + [END])
    al = sp.Symbol("a", integer=True)
    return Proof(
        PAPER, "Count: generation writes a, a+1, ..., b, END at every length", [
            Step("closed-form next = true next token on the answer span", closed, truth,
                 why="On an example START a b a ... (a <= b) the position at answer offset k (i = s + 2 + k) holds b "
                     "for k = 0 and x_i = a + k - 1 for k >= 1; the closed form gives a (first), END when x_i = b, "
                     "else x_i + 1. The true next token is a, then END after b (k = b - a + 1), else a + k. The two "
                     "case splits agree for all integers a, b, k (symbolic)."),
            Step("generate(count, [START, a, b]) = a..b END for all 0 <= a <= b <= 9", sp.Integer(ok),
                 sp.Sum(hi + 1 - al, (al, 0, hi)),
                 why="The package's program generated autoregressively from every prompt with 0 <= a <= b <= 9."),
        ],
        id="rasp.count_generation", claims=["rasp_l.count_to_150"],
        statement="Generation of the Count program from [START, a, b] with a <= b writes a, a+1, ..., b, END: by the "
                  "closed forms of the previous proof, the prediction at answer offset k is the true next token for "
                  "all integers a <= b and k (a symbolic case split), and the package's generation agrees on all "
                  "prompts with 0 <= a <= b <= 9.",
        assumptions=["The closed forms of the Count s-ops hold at every position (proof rasp.count_sops_closed_form)."],
    )


# --------------------------------------------------------------------------------------------- sort


def sort_closed_forms(x) -> dict[str, list[int]]:
    """Closed forms of the Sort head: the selector width and the aggregated value at every position."""
    width, nxt = [], []
    for i in range(len(x)):
        above = [int(x[j]) for j in range(i + 1) if x[j] > x[i]]
        width.append(len(above))
        nxt.append(min(above) if above else SORT_EOS)
    return {"width": width, "next": nxt}


def _sort_local_configuration(x, i: int) -> tuple:
    prefix = [int(v) for v in x[: i + 1]]
    below = {v for v in prefix if v < x[i]}
    above = {v for v in prefix if v > x[i]}
    return (min(len(below), 1), int(prefix[:-1].count(int(x[i])) > 0), min(len(above), 2))


def _sort_every_sop() -> Proof:
    prog = programs.sort_unique(SORT_EOS)
    sel = prog.args[0]  # the head's selector: select(x, x, GT)
    width_sop = rasp.sel_width(sel)
    agree_w = agree_n = agree_eq = 0
    configs: set = set()
    for n in range(1, SORT_MAX_LEN + 1):
        X = _all_sequences(SORT_ALPHABET, n)
        w, v = rasp.evaluate(width_sop, X), rasp.evaluate(prog, X)
        v_phi = rasp.evaluate(prog, 3 * X + 5)  # a strictly increasing relabelling
        agree_eq += int(np.sum(np.where(v == SORT_EOS, v_phi == SORT_EOS, v_phi == 3 * v + 5)))
        closed = [sort_closed_forms(x) for x in X]
        agree_w += int(np.sum(w == np.array([c["width"] for c in closed])))
        agree_n += int(np.sum(v == np.array([c["next"] for c in closed])))
        configs.update(_sort_local_configuration(x, i) for x in X for i in range(n))
    total = _positions_sum(len(SORT_ALPHABET), SORT_MAX_LEN)
    return Proof(
        PAPER, "Sort: the head equals min{x_j : j <= i, x_j > x_i} on every prefix", [
            Step("selector: #(width = #{j <= i : x_j > x_i}) = #positions", sp.Integer(agree_w), total,
                 why="The selector of sort_unique is select(x, x, GT) with the predicate applied as GT(key x_j, query "
                     "x_i) and the causal mask j <= i; its row widths equal the count of earlier-or-equal larger "
                     f"tokens on all sequences over {{0, 1, 2, 3}} of length <= {SORT_MAX_LEN}."),
            Step("next: #(program = min{x_j > x_i, j <= i} or EOS) = #positions", sp.Integer(agree_n), total,
                 why="The min-aggregation of the selected values (default EOS on empty rows) equals the least larger "
                     "token of the prefix at every enumerated position."),
            Step("order equivariance: #(prog(3x+5) = 3 prog(x)+5, EOS kept) = #positions", sp.Integer(agree_eq), total,
                 why="GT-selection and min commute with a strictly increasing relabelling phi (here v -> 3v + 5), so "
                     "the answer on one configuration transfers to every order-isomorphic one; checked on the "
                     "package's program at every enumerated position."),
            Step("every local configuration occurs in the enumeration", sp.Integer(len(configs)),
                 sp.Mul(2, 2, 3, evaluate=False),
                 why="A local configuration at i is (any smaller token before i: yes/no; an earlier copy of x_i: "
                     "yes/no; number of distinct larger tokens: 0, 1 or >= 2) -- 2 x 2 x 3 classes, all of which "
                     "occur."),
        ],
        id="rasp.sort_head_closed_form", claims=["rasp_l.sort_unique", "rasp_l.sort_follows_program",
                                                 "rasp_l.agrees_with_program", "rasp_l.conjecture",
                                                 "rasp_l.programs_exact"],
        statement="For every integer sequence x and position i, the Sort program's selector has width "
                  "#{j <= i : x_j > x_i} and its output is min{x_j : j <= i, x_j > x_i} (EOS if empty). Checked "
                  "exhaustively over the finite local configurations: the output depends on the prefix only through "
                  "the least token larger than x_i (assumptions), i.e. through the configuration (smaller tokens "
                  "present, earlier copy of x_i, number of distinct larger tokens capped at 2) up to an order "
                  "isomorphism; every configuration occurs among the sequences over {0, 1, 2, 3} of length <= 6, the "
                  "program equals the closed form at all their positions, and it commutes with increasing "
                  "relabellings. Hence the equality holds at every length and for every token values.",
        assumptions=[
            "A causal GT-selection followed by a min-aggregation reads the prefix only through the set "
            "{x_j : j <= i, x_j > x_i}; the min of that set depends only on its least element, so the order and "
            "multiplicity of the tokens, the smaller tokens, and all larger tokens but the least are irrelevant.",
        ],
    )


def _sort_generation() -> Proof:
    prog = programs.sort_unique(SORT_EOS)
    m = 5
    ok = 0
    for n in range(1, m + 1):
        for xs in itertools.permutations(range(1, m + 1), n):
            got = rasp.generate(prog, list(xs) + [programs.SORT_SEP], stop=SORT_EOS, max_new=n + 2)
            ok += int(got == sorted(xs) + [SORT_EOS])
    return Proof(
        PAPER, "Sort: generation writes the distinct prompt tokens in ascending order, then EOS", [
            Step("generate(sort, X + [SEP]) = sorted(X) + [EOS] for all X of distinct tokens from 1..5",
                 sp.Integer(ok), sp.Sum(sp.binomial(m, _n) * sp.factorial(_n), (_n, 1, m)),
                 why="All ordered selections X of n = 1..5 distinct tokens from {1..5}: the package's program "
                     "generates "
                     "the ascending order then EOS. By the head's closed form, after writing the k smallest tokens "
                     "y_1 < ... < y_k the prefix set is {SEP} u X and the current token is y_k (SEP < every token), so "
                     "the next prediction is the least token above y_k, y_{k+1}, or EOS when k = n."),
        ],
        id="rasp.sort_generation",
        statement="From a prompt of distinct tokens followed by SEP (below every token), the Sort program writes the "
                  "tokens in ascending order, then EOS: by the head's closed form the prediction after y_1 < ... < y_k "
                  "is the least prompt token above y_k; checked on all prompts of up to 5 distinct tokens.",
        assumptions=["The head's closed form holds at every position (proof rasp.sort_head_closed_form)."],
    )


def proofs() -> list[Proof]:
    return [_count_every_sop(), _count_generation(), _sort_every_sop(), _sort_generation()]
