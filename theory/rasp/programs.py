r"""RASP-L programs for the length-generalization tasks of Zhou et al. 2024, with their token formats.

Every program maps a sequence to the predicted *next* token at every position (causal), so
``generate(program, prompt, ...)`` samples a task's answer autoregressively and ``run`` on prompt + answer gives
the teacher-forced predictions. Outputs at positions whose next token is not determined by the task (inside
prompts) are unspecified.

=================  ==============================================================================================
``count()``        ``START a b a a+1 ... b END`` (START = -1, END = -2; several examples may be packed).
``mode()``         the most frequent token of the prefix (tie: the most recently seen of the tied tokens).
``copy_unique()``  prompt ``SEP x_1 ... x_n SEP`` (SEP = 0, tokens >= 1), answer ``x_1 ... x_n SEP``.
``sort_unique``    prompt ``x_1 ... x_n SEP`` (SEP = 0 below every token), answer the tokens ascending, then ``eos``.
``add(order)``     addition with index hints (below), ``order`` = ``"reverse"`` (least significant first) or
                   ``"forward"``.
``parity()``       prompt ``SEP h_0 b_0 ... h_{n-1} b_{n-1} SEP`` (bits, distinct hints), answer
                   ``h_0 p_0 ... h_{n-1} p_{n-1} EOS`` with running parities :math:`p_t = b_0 \oplus\dots\oplus b_t`.
=================  ==============================================================================================

Two contrasts are RASP but not RASP-L (:func:`theory.rasp.check` rejects them): ``copy_any()`` copies with
repeated tokens by index arithmetic (read position :math:`i - q + 1`, :math:`q` the second SEP) and
``parity_plain()`` (prompt ``b_1 ... b_n SEP``, answer ``p EOS``) counts the ones and takes the count mod 2.

**Addition with index hints** (the format of the paper's official example code): START_PROMPT = -1, PLUS = -2,
EQUALS = -3, END = -5; both operands zero-padded to :math:`p` = (number of digits of the larger) + 1 digits;
digit :math:`t` (counted from the most significant, :math:`t = 0..p-1`) is preceded by its hint
:math:`-100 - o - t` (:math:`o \ge 0` is a hint offset, 0 in the paper's code; a random offset lets a model see
every hint token in training). Prompt ``-1 h_0 a_0 ... h_{p-1} a_{p-1} -2 h_0 b_0 ... h_{p-1} b_{p-1} -3``;
answer: hint/digit pairs of the :math:`p`-digit sum, from :math:`t = p-1` down to 0 (reverse) or from 0 up
(forward), then END. The program aligns digits with an induction head keyed by the hint (the digit after the
first occurrence of the current position's hint), adds pairs, reads the pair sum of the hint being written, and
adds the carry: in reverse order from the pair sum and the digit just written (carry iff pairsum > 9, or pairsum
= 9 and the digit written is 0); in forward order from the first later pair sum that is not 9 (carry iff it is
>= 10), found by numbering the non-9 pair sums with ``cumsum`` and selecting the next number -- the longer
"patch" the paper needs for forward order.

**Parity with scratchpad and hints** (a format derived here; the paper's exact parity format is not stated in
the sources used): SEP = -1, EOS = -2, hints :math:`-100 - o - t`; at a hint the program writes the previous
parity xor the bit that followed that hint in the prompt, at a parity bit it writes the hint two positions after
the previous hint's first occurrence (or EOS after the last one).
"""

from __future__ import annotations

from typing import Literal

from .._validate import integer, one_of
from .core import EQ, GT, SOp, full, indices, kqv, seq_map, tok_map, tokens
from .library import (
    NULL,
    _add_const,
    cumsum,
    firsts,
    has_seen,
    index_select,
    induct,
    induct_prev,
    lasts,
    mask,
    shift_right,
    where,
)
from .library import mode as _lib_mode

__all__ = [
    "COUNT_START", "COUNT_END", "COPY_SEP", "SORT_SEP", "ADD_START", "ADD_PLUS", "ADD_EQUALS", "ADD_END",
    "HINT_BASE", "PARITY_SEP", "PARITY_EOS", "MAX_DIGITS", "count", "mode", "copy_unique", "sort_unique", "add",
    "parity", "addition_prompt", "addition_answer", "hint", "copy_any", "parity_plain",
]

COUNT_START, COUNT_END = -1, -2
COPY_SEP = 0
SORT_SEP = 0
ADD_START, ADD_PLUS, ADD_EQUALS, ADD_END = -1, -2, -3, -5
HINT_BASE = -100
PARITY_SEP, PARITY_EOS = -1, -2
MAX_DIGITS = 400
"""Largest operand digit count :func:`addition_prompt` accepts (bounds the work and the sequence length)."""


def hint(t: int, offset: int = 0) -> int:
    """The index-hint token of digit (or bit) ``t`` with hint offset ``offset``: ``-100 - offset - t``."""
    t = integer("t", t, low=0, high=10_000)
    offset = integer("offset", offset, low=0, high=10_000)
    return HINT_BASE - offset - t


# ------------------------------------------------------------------------------------------------ small maps


def _eq(a: int, b: int) -> int:
    return int(a == b)


def _is_start(v: int) -> int:
    return int(v == COUNT_START)


def _last_of_count(first: int, is_b: int) -> int:
    return int(is_b and not first)


def count() -> SOp:
    """The Count program: at every position, the next token of ``START a b a a+1 ... b END``.

    Steps (all on the most recent START, so examples can be packed):

    1. :math:`s_i = \\max\\{j \\le i : x_j = \\mathrm{START}\\}` (``kqv(x, full(START), indices, EQ, "max")``,
       :math:`-1` if none);
    2. :math:`a_i = x_{s_i+1}`, :math:`b_i = x_{s_i+2}` (``index_select``, 0 out of range);
    3. ``first`` :math:`= [i = s_i + 2]`, ``last`` :math:`= \\lnot\\mathrm{first} \\wedge [x_i = b_i]`;
    4. next :math:`= a_i` if first, else END if last, else :math:`x_i + 1` (at END this gives END + 1 = START,
       the start of the next packed example).

    Returns:
        The program (an :class:`SOp`); intermediate s-ops are labelled (``count.s``, ``count.a``, ...).

    Paper: Zhou et al. 2024 (Listing 3, Count; START = -1, END = -2 as in the official example).
    """
    x = tokens
    s = kqv(x, full(COUNT_START), indices, EQ, default=-1, reduction="max").named("count.s")
    s1 = tok_map(s, _add_const(1)).named("count.s+1")
    s2 = tok_map(s, _add_const(2)).named("count.s+2")
    a = index_select(x, s1).named("count.a")
    b = index_select(x, s2).named("count.b")
    first = seq_map(indices, s2, _eq).named("count.first")
    is_b = seq_map(x, b, _eq).named("count.is_b")
    last = seq_map(first, is_b, _last_of_count).named("count.last")
    succ = tok_map(x, _add_const(1)).named("count.x+1")
    tail = where(last, full(COUNT_END), succ).named("count.end_or_succ")
    return where(first, a, tail).named("count.next")


def mode() -> SOp:
    """The Mode program: the most frequent token of the prefix, ``index_select(x, argmax(num_prev(x, x)))``.

    Tie rule (from the corrected ``argmax``, the last index of the running maximum count): among the most
    frequent tokens, the one seen most recently. With the prompt ``x_1 ... x_n SEP`` and a unique mode that
    occurs at least twice, the prediction at SEP is the mode of ``x`` (SEP itself occurs once).

    Returns:
        The program.

    Paper: Zhou et al. 2024 (Listing 4, Mode, with the corrected argmax).
    """
    return _lib_mode(tokens).named("mode.next")


def copy_unique() -> SOp:
    """Copy with unique tokens: ``induct(x, x, 1)``, the token after the first occurrence of the current one.

    On the prompt ``SEP x_1 ... x_n SEP`` with distinct :math:`x_t \\ge 1` it writes ``x_1 ... x_n SEP``. With
    a repeated token the lookup always lands after its first occurrence, so ``SEP 3 5 3 7 SEP`` copies as
    ``3 5 3 5 ...`` forever (the known failure: copy with repeats has no short RASP-L program).

    Returns:
        The program.

    Paper: Zhou et al. 2024 (Listing 5, copy with unique tokens).
    """
    return induct(tokens, tokens, 1).named("copy.next")


def sort_unique(eos: int) -> SOp:
    """Sort with unique tokens: :math:`\\min\\{x_j : j \\le i,\\ x_j > x_i\\}`, or ``eos`` if there is none.

    ``kqv(x, x, x, GT, "min", default=eos)``: on ``x_1 ... x_n SEP`` (SEP smaller than every token) generation
    emits the distinct tokens in ascending order, then ``eos``. Duplicates collapse (``3 5 3 7 SEP`` gives
    ``3 5 7 eos``).

    Args:
        eos: the end token (an integer; it is only ever emitted, never compared).

    Returns:
        The program.

    Raises:
        TypeError: ``eos`` is not an integer.

    Paper: Zhou et al. 2024 (sort program of the Haskell re-implementation raskell, ``Sort.hs``).
    """
    eos = integer("eos", eos)
    return kqv(tokens, tokens, tokens, GT, default=eos, reduction="min").named("sort.next")


# ------------------------------------------------------------------------------------------------ addition


def _ge0(v: int) -> int:
    return int(v >= 0)


def _le_hint(v: int) -> int:
    return int(v <= HINT_BASE)


def _and(a: int, b: int) -> int:
    return int(bool(a) and bool(b))


def _and_not(a: int, b: int) -> int:
    return int(bool(a) and not b)


def _add(a: int, b: int) -> int:
    return a + b


def _ne9(c: int, p: int) -> int:
    return int(bool(c) and p != 9)


def _ge10(p: int) -> int:
    return int(p >= 10)


def _digit(p: int, c: int) -> int:
    return (p + c) % 10


def _carry_reverse(p: int, d: int) -> int:
    # carry out of the digit just written (d, with pair sum p): p > 9, or p == 9 and the written digit is 0
    return int(d >= 0 and (p > 9 or (p == 9 and d == 0)))


def _next_hint_reverse(prev_hint: int, first_hint: int) -> int:
    return ADD_END if prev_hint == first_hint else prev_hint + 1


def _next_hint_forward(prev_hint: int, last_hint: int) -> int:
    return ADD_END if prev_hint == last_hint else prev_hint - 1


def _kind(v: int) -> int:
    """0 digit, 1 hint, 2 EQUALS, 3 other."""
    if v >= 0:
        return 0
    if v <= HINT_BASE:
        return 1
    return 2 if v == ADD_EQUALS else 3


def _is_kind(k: int):
    def f(v: int) -> int:
        return int(v == k)
    f.__name__ = f"is_kind_{k}"
    return f


_IS_KIND = {k: _is_kind(k) for k in range(4)}


def add(order: Literal["reverse", "forward"] = "reverse") -> SOp:
    """Addition with index hints, in ``"reverse"`` (least significant digit first) or ``"forward"`` order.

    Format and algorithm in the module docstring. The prediction at EQUALS is the first output hint, at an
    output hint the sum digit of that hint, at an output digit the next hint (or END after the last one).

    Args:
        order: ``"reverse"`` or ``"forward"``.

    Returns:
        The program.

    Raises:
        ValueError: unknown ``order``.

    Paper: Zhou et al. 2024 (Listing 7, addition in reverse order with index hints; Listing 8, the forward-order
    patch). The program here is written from the paper's algorithm description, not copied.
    """
    one_of("order", order, ("reverse", "forward"))
    x = tokens
    x1 = shift_right(x, 1, default=NULL).named("add.x[i-1]")
    x2 = shift_right(x, 2, default=NULL).named("add.x[i-2]")
    plus_seen = has_seen(x, full(ADD_PLUS)).named("add.plus_seen")
    eq_seen = has_seen(x, full(ADD_EQUALS)).named("add.eq_seen")
    in_op2 = seq_map(plus_seen, eq_seen, _and_not).named("add.in_second_operand")
    op2_digit = seq_map(in_op2, tok_map(x, _ge0), _and).named("add.second_operand_digit")
    other = induct(x, x1, 1).named("add.aligned_digit")  # digit after the first occurrence of my hint
    pairsum = mask(seq_map(x, other, _add), op2_digit, 0).named("add.pairsum")
    hint_key = mask(x1, op2_digit, NULL).named("add.hint_key")  # the hint of each second-operand digit
    ps_cur = kqv(hint_key, x, pairsum, EQ, default=0, reduction="max").named("add.pairsum_of_hint")
    first_hint = index_select(x, tok_map(firsts(x, full(ADD_START)), _add_const(1))).named("add.first_hint")
    last_hint = index_select(x, tok_map(lasts(x, full(ADD_EQUALS)), _add_const(-2))).named("add.last_hint")
    if order == "reverse":
        ps_prev = kqv(hint_key, x2, pairsum, EQ, default=0, reduction="max").named("add.pairsum_of_prev_hint")
        carry = seq_map(ps_prev, x1, _carry_reverse).named("add.carry")
        after_equals = last_hint
        after_digit = seq_map(x1, first_hint, _next_hint_reverse).named("add.next_hint")
    else:
        z = cumsum(seq_map(op2_digit, pairsum, _ne9)).named("add.non9_count")
        z_key = mask(z, op2_digit, NULL).named("add.non9_key")
        z_cur = kqv(hint_key, x, z, EQ, default=0, reduction="max").named("add.non9_count_of_hint")
        carry = kqv(z_key, tok_map(z_cur, _add_const(1)), tok_map(pairsum, _ge10), EQ, default=0,
                    reduction="max").named("add.carry")
        after_equals = first_hint
        after_digit = seq_map(x1, last_hint, _next_hint_forward).named("add.next_hint")
    digit = seq_map(ps_cur, carry, _digit).named("add.digit")
    kind = tok_map(x, _kind)
    out = where(tok_map(kind, _IS_KIND[2]), after_equals, after_digit)
    out = where(tok_map(kind, _IS_KIND[1]), digit, out)
    return out.named(f"add_{order}.next")


def addition_prompt(a: int, b: int, *, hint_offset: int = 0) -> list[int]:
    """The prompt of ``a + b`` with index hints (format in the module docstring).

    Args:
        a, b: non-negative integers with at most :data:`MAX_DIGITS` digits.
        hint_offset: the hint offset ``o >= 0`` (hint of digit ``t`` is ``-100 - o - t``).

    Returns:
        The token list ``[-1, h_0, a_0, ..., -2, h_0, b_0, ..., -3]``.

    Raises:
        TypeError: non-integer arguments.
        ValueError: negative or too large arguments.

    Paper: Zhou et al. 2024 (the official addition example's format).
    """
    a, b, p, o = _operands(a, b, hint_offset)
    da, db = str(a).zfill(p), str(b).zfill(p)
    out = [ADD_START]
    for t in range(p):
        out += [HINT_BASE - o - t, int(da[t])]
    out.append(ADD_PLUS)
    for t in range(p):
        out += [HINT_BASE - o - t, int(db[t])]
    out.append(ADD_EQUALS)
    return out


def addition_answer(a: int, b: int, order: Literal["reverse", "forward"] = "reverse", *,
                    hint_offset: int = 0) -> list[int]:
    """The answer tokens of ``a + b``: hint/digit pairs of the ``p``-digit sum in ``order``, then END.

    Computed by integer arithmetic (Python big ints): the ground truth the program is checked against.

    Args:
        a, b: non-negative integers with at most :data:`MAX_DIGITS` digits.
        order: ``"reverse"`` (least significant first) or ``"forward"``.
        hint_offset: the hint offset ``o >= 0``.

    Returns:
        The token list ``[h_t, s_t, ..., END]``.

    Raises:
        TypeError, ValueError: as :func:`addition_prompt`, or an unknown ``order``.

    Paper: Zhou et al. 2024 (the official addition example's format).
    """
    one_of("order", order, ("reverse", "forward"))
    a, b, p, o = _operands(a, b, hint_offset)
    s = str(a + b).zfill(p)
    ts = range(p - 1, -1, -1) if order == "reverse" else range(p)
    out: list[int] = []
    for t in ts:
        out += [HINT_BASE - o - t, int(s[t])]
    out.append(ADD_END)
    return out


def _operands(a, b, hint_offset):
    a = integer("a", a, low=0, high=10**MAX_DIGITS - 1)
    b = integer("b", b, low=0, high=10**MAX_DIGITS - 1)
    o = integer("hint_offset", hint_offset, low=0, high=10_000)
    p = max(len(str(a)), len(str(b))) + 1
    return a, b, p, o


# ------------------------------------------------------------------------------------------------ parity


def _prev_parity(v: int) -> int:
    return 0 if v == PARITY_SEP else v


def _xor(p: int, b: int) -> int:
    return (p + b) % 2


def _sep_to_eos(v: int) -> int:
    return PARITY_EOS if v == PARITY_SEP else v


def _is_sep(v: int) -> int:
    return int(v == PARITY_SEP)


def parity() -> SOp:
    """Parity with a scratchpad and index hints (format in the module docstring).

    * at SEP: ``induct(x, x, 1)`` -- the token after the first SEP, i.e. the first hint;
    * at a hint: previous parity (0 after SEP) xor the bit after that hint's first occurrence;
    * at a parity bit: ``induct_prev(x, x[i-1], 2)`` -- the token two after the first occurrence of the previous
      hint, i.e. the next hint, or EOS in place of the closing SEP.

    Returns:
        The program.

    Paper: Zhou et al. 2024 (parity with scratchpad and index hints; the format is derived here, not quoted from
    the paper).
    """
    x = tokens
    x1 = shift_right(x, 1, default=NULL).named("parity.x[i-1]")
    after = induct(x, x, 1).named("parity.token_after_first")
    at_hint = seq_map(tok_map(x1, _prev_parity), after, _xor).named("parity.at_hint")
    at_bit = tok_map(induct_prev(x, x1, 2), _sep_to_eos).named("parity.at_bit")
    out = where(tok_map(x, _le_hint), at_hint, at_bit)
    return where(tok_map(x, _is_sep), after, out).named("parity.next")


# ----------------------------------------------------------------------------------------- contrasts (not RASP-L)


def _sub(a: int, b: int) -> int:
    return a - b


def _is_copy_sep(v: int) -> int:
    return int(v == COPY_SEP)


def _is_one(v: int) -> int:
    return int(v == 1)


def _mod2(v: int) -> int:
    return v % 2


def copy_any() -> SOp:
    """Copy with repeated tokens by index arithmetic: not RASP-L (``check`` rejects it).

    On ``SEP x_1 ... x_n SEP`` (any tokens >= 1, repeats allowed) the prediction at position :math:`i` is
    :math:`x` at :math:`i - q + 1` with :math:`q` the last SEP, a difference of two positions -- the index
    arithmetic RASP-L forbids. Correct for every length, but no short RASP-L program is known for the task.

    Returns:
        The program.

    Paper: Zhou et al. 2024 (copy with repeated tokens, the paper's example of a task without a short RASP-L
    program; this RASP program is written here as the contrast).
    """
    q = lasts(tokens, full(COPY_SEP)).named("copy_any.last_sep")
    offset = seq_map(indices, q, _sub).named("copy_any.i-q")
    return index_select(tokens, tok_map(offset, _add_const(1))).named("copy_any.next")


def parity_plain() -> SOp:
    """Plain parity (prompt ``b_1 ... b_n SEP``, answer ``p EOS``) by counting: not RASP-L.

    At SEP the prediction is (number of ones so far) mod 2 -- a map of a count that is neither a shift nor a
    comparison, which ``check`` rejects; at the answer bit it is EOS.

    Returns:
        The program.

    Paper: Zhou et al. 2024 (parity without scratchpad, a task without a short RASP-L program; this RASP program is
    written here as the contrast).
    """
    ones = cumsum(tok_map(tokens, _is_one)).named("parity_plain.ones")
    par = tok_map(ones, _mod2).named("parity_plain.mod2")
    return where(tok_map(tokens, _is_sep), par, full(PARITY_EOS)).named("parity_plain.next")
