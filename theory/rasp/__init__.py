r"""RASP-L: a causal RASP interpreter, its library, the programs of the length-generalization tasks, and a checker.

From Zhou et al. 2024, *What Algorithms can Transformers Learn? A Study in Length Generalization* (ICLR 2024,
arXiv:2310.16028). Their RASP-Generalization Conjecture: a Transformer trained on a task length-generalizes
when the task has a short RASP-L program that works for every input length. RASP-L is RASP (Weiss et al. 2021)
with causal selects only, max/min aggregation, no ``length`` and restricted index arithmetic.

* :mod:`theory.rasp.core` -- s-ops and selectors as expression graphs, evaluated exactly with numpy:
  ``tokens, indices, full, tok_map, seq_map, select, aggr, kqv, sel_width``, predicates
  ``EQ, NEQ, LT, LEQ, GT, GEQ, TRUE`` (applied as ``pred(key, query)``), ``run``, ``generate``.
* :mod:`theory.rasp.library` -- the RASP-L library (``shift_right``, ``cumsum``, ``where``, ``firsts``, ``induct``,
  the corrected ``argmax``, ``mode``, ...).
* :mod:`theory.rasp.programs` -- ``count``, ``mode``, ``copy_unique``, ``sort_unique``, ``add``, ``parity`` and
  the addition ground truth ``addition_prompt`` / ``addition_answer``.
* :mod:`theory.rasp.check` -- ``check(program)`` (RASP-L violations) and ``size(program)`` (operation count).

Example::

    from theory import rasp
    rasp.generate(rasp.programs.count(), [-1, 3, 7], stop=-2, max_new=20)   # [3, 4, 5, 6, 7, -2]
    rasp.check(rasp.tok_map(rasp.indices, lambda i: 2 * i))                  # ['tok_map(...): maps the index...']
"""

from . import library, programs
from .check import check, operations, parts, size
from .core import (
    EQ,
    FALSE,
    GEQ,
    GT,
    LEQ,
    LT,
    MAX_LEN,
    NEQ,
    TRUE,
    Predicate,
    Selector,
    SOp,
    aggr,
    evaluate,
    full,
    generate,
    indices,
    kqv,
    length,
    run,
    sel_width,
    select,
    seq_map,
    tok_map,
    tokens,
)
from .library import (
    argmax,
    argmin,
    binary_mode,
    cumsum,
    first_true,
    firsts,
    has_seen,
    index_select,
    induct,
    induct_kqv,
    induct_prev,
    lasts,
    mask,
    maximum,
    minimum,
    num_prev,
    shift_right,
    where,
)
from .programs import addition_answer, addition_prompt

__all__ = [
    "SOp", "Selector", "Predicate", "tokens", "indices", "length", "full", "tok_map", "seq_map", "select", "aggr",
    "kqv", "sel_width", "EQ", "NEQ", "LT", "LEQ", "GT", "GEQ", "TRUE", "FALSE", "run", "generate", "evaluate",
    "MAX_LEN", "shift_right", "cumsum", "where", "mask", "maximum", "minimum", "num_prev", "has_seen", "firsts",
    "lasts", "index_select", "first_true", "induct_kqv", "induct", "induct_prev", "argmax", "argmin", "binary_mode",
    "library", "programs", "addition_prompt", "addition_answer", "check", "size", "operations", "parts",
]
