r"""Abstract symbols in template tasks (Boix-Adserà, Saremi, Abbe, Bengio, Littwin, Susskind, "When can
transformers reason with abstract symbols?", ICLR 2024, arXiv:2310.09753).

**Template tasks** (the paper's Section 2). A *template* is a string :math:`z\in(\mathcal W\cup\mathcal R)^k` over
wildcards :math:`\mathcal W` (here: ``str`` entries such as ``"A"``) and regular tokens :math:`\mathcal R` (here:
``int`` entries, token ids ``0 .. R-1``). A string is drawn by choosing a template and an *injective* substitution
:math:`s:\mathcal W\to\mathcal X` (wildcards to tokens, drawn without replacement); regular tokens stay. Training,
validation and test substitutions draw from *disjoint token ranges*, so test strings consist of tokens never seen
in training. The label is a function of the template: a real number (regression, ``"regression"``, the paper uses
:math:`\pm1`) or one symbol (``"next_token"``): a wildcard, emitted as the token substituted for it, or a regular
token. Two templates are *equivalent* when their wildcards sit at the same positions, their regular tokens agree,
and :math:`z_i=z_j\Leftrightarrow z'_i=z'_j` for all i, j; a task may not contain two equivalent templates
(:func:`template_task` raises ``ValueError`` naming them). The vocabulary layout ``[regular | train | val | test]``
and the convention "n = training alphabet size = number of training samples" follow the paper's experiments.

**The transformer random-features kernel** (Section 3). With :math:`X, Y` the :math:`k\times|\mathcal X|` one-hot
matrices of two strings of length k,

.. math::
    \kappa_{X,Y}(\beta,\gamma)=\mathbb E\big[\mathrm{softmax}(\beta u)^\top(XY^\top+\gamma^2 I)\,
    \mathrm{softmax}(\beta v)\big],\qquad u=\zeta+\gamma p,\ v=\xi+\gamma p,

where :math:`(\zeta,\xi)` is Gaussian with covariance :math:`\begin{pmatrix}XX^\top&XY^\top\\YX^\top&YY^\top
\end{pmatrix}` (random token embeddings read through the one-hot rows) and :math:`p\sim N(0,I_k)` is the
positional part shared by both strings; β is the key-query scale and γ the positional scale. This is the form of
the paper's computer-algebra companion; :func:`kernel_mc` estimates it by Monte Carlo with its standard error,
:func:`kernel_beta0` gives the closed form :math:`\kappa(0,\gamma)=\gamma^2/k+k^{-2}\mathbf 1^\top XY^\top\mathbf 1`
(both softmaxes are uniform at β = 0), and :func:`kernel_taylor_coefficient` / :func:`kernel_derivative` give the
Taylor coefficients / derivatives at (0, 0) symbolically, by Wick's formula over the perfect matchings of the
Gaussian factors, as polynomials in :math:`1/k` and the *matrix invariants* (:math:`\mathbf 1^\top XY^\top\mathbf
1`, :math:`\mathrm{tr}(XY^\top)`, :math:`\mathrm{tr}(XX^\top YY^\top)`, ...; :class:`KernelInvariant`). The
expansion is derived here from the definition (not quoted from the paper) and checked against an independent
Monte Carlo of the Taylor coefficients (:func:`kernel_taylor_mc`). For two strings with no shared token
:math:`XY^\top=0`, and every surviving term is a function of the two equality patterns :math:`XX^\top, YY^\top`
alone (:func:`disjoint_tokens`, :func:`equality_pattern_only`): between a test string of unseen tokens and a
training string the kernel sees only the templates.

**MLPs fail** (Section 3 of the paper; the mechanism is derived here). A network whose first layer is
position-wise on one-hot inputs reads a row :math:`W_1[\mathrm{pos},\mathrm{token}]`; gradients never reach the
rows of tokens absent from training, which keep their i.i.d. initialisation. On fresh-token strings the outputs
for any two wildcard-only templates of the same length (ABA vs ABB) are therefore *identically distributed*
(:func:`fresh_token_mlp_outputs`, :func:`mlp_indistinguishable`), so the :math:`\pm1` test MSE is
:math:`1+\mathbb E f^2\ge1` (:func:`label_independent_mse`). Appending :math:`XX^\top` to the input escapes it.

**Inverse scaling law** (Section 4 / the paper's next-token experiments; the mechanism is derived here). With tied
embeddings, emitting an unseen token t needs its embedding :math:`E_t` moved to the output position through
:math:`W_VW_O`, which training shapes only on the span of the n training-token embeddings. A fresh Gaussian
:math:`E_t\in\mathbb R^d` has the expected fraction :math:`n/d` of its energy in that span (exact:
:func:`projected_energy_fraction`), so the samples needed to copy grow linearly in d
(:func:`copy_samples_needed`, log-log slope :data:`INVERSE_SCALING_SLOPE` = 1); the trainable :math:`b\,I` term
added to :math:`W_VW_O` moves every embedding exactly and removes the dependence on d.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import string as _string
from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np
import sympy as sp
from scipy import stats

from . import _validate as V

__all__ = [
    # template tasks
    "Template", "TemplateTask", "TokenRanges", "TemplateSamples", "TemplateSplits",
    "parse_template", "template_wildcards", "equality_pattern", "canonical_template", "templates_equivalent",
    "template_task", "token_ranges", "substitute", "sample_substitution", "sample_strings", "make_splits",
    "template_of", "label_of",
    # named tasks
    "aba_vs_abb", "aabb_vs_abab", "same_different", "majority", "counting", "random_template_task", "copy_task",
    "NAMED_TASKS", "named_task",
    # kernel
    "K", "BETA", "GAMMA", "KernelEstimate", "KernelInvariant", "one_hot", "kernel_mc", "kernel_beta0",
    "kernel_beta0_expr", "kernel_taylor_coefficient", "kernel_derivative", "kernel_taylor_mc", "kernel_invariants",
    "evaluate_kernel_expr", "realize_kernel_expr", "disjoint_tokens", "equality_pattern_only",
    # MLP failure
    "mlp_indistinguishable", "fresh_token_mlp_outputs", "label_independent_mse", "two_sample_test",
    # inverse scaling
    "INVERSE_SCALING_SLOPE", "projected_energy_fraction", "projected_energy_expr", "projected_energy_mc",
    "copy_samples_needed",
]

Template = tuple  # entries: str (wildcard) or int (regular token id)

MAX_LENGTH = 64          # longest template / string accepted
MAX_SAMPLES = 10_000_000  # largest sample / draw count accepted
MAX_TOKENS = 100_000_000  # largest token range accepted
MAX_BETA_ORDER = 6        # kernel Taylor orders supported (Wick enumeration grows like (s-1)!!)
MAX_GAMMA_ORDER = 8


# =========================================================================================== template tasks


def _template(name: str, t) -> Template:
    """A validated template: a non-empty tuple of wildcards (non-empty str) and regular tokens (int >= 0)."""
    if isinstance(t, str):
        return parse_template(t)
    if isinstance(t, (bytes, dict, set)) or not isinstance(t, Sequence) and not isinstance(t, np.ndarray):
        raise TypeError(f"{name} must be a template (a string like 'ABA' or a sequence of wildcards (str) and "
                        f"regular tokens (int)), got {V._show(t)}")
    out = []
    for i, s in enumerate(t):
        if isinstance(s, str):
            if not s:
                raise ValueError(f"{name}[{i}] must be a non-empty wildcard name, got ''")
            out.append(s)
        elif isinstance(s, (bool, np.bool_)):
            raise TypeError(f"{name}[{i}] must be a wildcard (str) or a regular token (int), got {s!r}")
        elif isinstance(s, (int, np.integer)):
            out.append(V.integer(f"{name}[{i}]", s, low=0, high=MAX_TOKENS))
        else:
            raise TypeError(f"{name}[{i}] must be a wildcard (str) or a regular token (int), got {V._show(s)}")
    if not 1 <= len(out) <= MAX_LENGTH:
        raise ValueError(f"{name} must have length 1..{MAX_LENGTH}, got {len(out)}")
    return tuple(out)


def parse_template(spec: str | Sequence) -> Template:
    """A template from a compact string: letters (and any non-digit character) are wildcards, digits regular tokens.

    ``parse_template("ABA") == ("A", "B", "A")``; ``parse_template("AB0") == ("A", "B", 0)``. A sequence is
    validated and returned as a tuple (entries ``str`` = wildcard, ``int >= 0`` = regular token id).

    Raises:
        TypeError: not a string or a sequence of str / int.
        ValueError: empty, longer than 64, or an empty wildcard name.
    """
    if isinstance(spec, str):
        if not 1 <= len(spec) <= MAX_LENGTH:
            raise ValueError(f"spec must have length 1..{MAX_LENGTH}, got {spec!r}")
        return tuple(int(c) if c.isdigit() else c for c in spec)
    return _template("spec", spec)


def template_wildcards(template) -> tuple[str, ...]:
    """The distinct wildcards of a template, in order of first appearance (Boix-Adserà et al. 2024, Section 2)."""
    t = _template("template", template)
    return tuple(dict.fromkeys(s for s in t if isinstance(s, str)))


def equality_pattern(seq) -> np.ndarray:
    r"""The k x k equality matrix :math:`E_{ij}=1[s_i=s_j]` of a template or of a token string (int 0/1 matrix).

    For a token string with one-hot matrix X this is :math:`XX^\top`; under an injective substitution it equals the
    template's pattern (Boix-Adserà et al. 2024: the equality pattern plus the regular tokens determine the
    template, so :math:`XX^\top` is sufficient for the label).

    Raises:
        TypeError / ValueError: ``seq`` is not a template or a 1-D integer token string.
    """
    s = _seq("seq", seq)
    return np.array([[int(a == b) for b in s] for a in s], dtype=np.int64)


def _seq(name: str, seq) -> tuple:
    """A template (tuple with str entries) or a token string (tuple of ints)."""
    if isinstance(seq, str) or (isinstance(seq, Sequence) and any(isinstance(s, str) for s in seq)):
        return _template(name, seq)
    a = V.array(name, seq, ndim=1, dtype="int", min_size=1)
    if a.size > MAX_LENGTH:
        raise ValueError(f"{name} must have length <= {MAX_LENGTH}, got {a.size}")
    return tuple(int(v) for v in a)


def canonical_template(template) -> Template:
    """The template with its wildcards renamed ``"W0", "W1", ...`` in order of first appearance.

    Two templates are equivalent (:func:`templates_equivalent`) exactly when their canonical forms are equal.
    """
    t = _template("template", template)
    names = {w: f"W{i}" for i, w in enumerate(template_wildcards(t))}
    return tuple(names[s] if isinstance(s, str) else s for s in t)


def templates_equivalent(t1, t2) -> bool:
    r"""Whether two templates are equivalent (the paper's definition, Boix-Adserà et al. 2024, Section 2).

    :math:`t\sim t'` iff they have the same length, wildcards at the same positions, equal regular tokens elsewhere,
    and :math:`t_i=t_j\Leftrightarrow t'_i=t'_j` for all i, j. Equivalent templates generate the same strings, so
    a task may not contain two of them. Templates of different lengths are not equivalent.

    Raises:
        TypeError / ValueError: an argument is not a template.
    """
    a, b = _template("t1", t1), _template("t2", t2)
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if isinstance(x, str) != isinstance(y, str) or (not isinstance(x, str) and x != y):
            return False
    return all((a[i] == a[j]) == (b[i] == b[j]) for i in range(len(a)) for j in range(len(a)))


def _show_template(t: Template) -> str:
    if all(isinstance(s, int) and s < 10 or isinstance(s, str) and len(s) == 1 for s in t):
        return "".join(str(s) for s in t)
    return repr(t)


@dataclasses.dataclass(frozen=True)
class TemplateTask:
    """A template task (Boix-Adserà et al. 2024, Section 2); build it with :func:`template_task`.

    Attributes:
        templates: the templates (tuples of wildcards ``str`` and regular tokens ``int``), all of one length.
        labels: one label per template: a float (``"regression"``), or a wildcard of that template / a regular
            token id (``"next_token"``).
        label_type: ``"regression"`` or ``"next_token"``.
        probs: the probability of drawing each template.
        name: a short name.
    """

    templates: tuple[Template, ...]
    labels: tuple
    label_type: Literal["regression", "next_token"]
    probs: tuple[float, ...]
    name: str = ""

    @property
    def length(self) -> int:
        """The common template length k."""
        return len(self.templates[0])

    @property
    def n_regular(self) -> int:
        """Number of regular token ids reserved at the start of the vocabulary (1 + the largest one used)."""
        regs = [s for t in self.templates for s in t if isinstance(s, int)]
        regs += [lab for lab in self.labels if self.label_type == "next_token" and isinstance(lab, int)]
        return 1 + max(regs) if regs else 0

    @property
    def max_wildcards(self) -> int:
        """The largest number of distinct wildcards in one template (a substitution range needs at least this)."""
        return max(len(template_wildcards(t)) for t in self.templates)

    def __str__(self) -> str:
        pairs = ", ".join(f"{_show_template(t)}->{lab}" for t, lab in zip(self.templates, self.labels))
        return f"TemplateTask({self.name or 'unnamed'}: {pairs}; {self.label_type})"


def template_task(templates: Sequence, labels: Sequence, *, label_type: str = "regression",
                  probs: Sequence[float] | None = None, name: str = "") -> TemplateTask:
    r"""A validated template task (Boix-Adserà et al. 2024, Section 2).

    Args:
        templates: templates (strings like ``"ABA"`` or sequences of wildcards ``str`` / regular tokens ``int``),
            all of the same length; at most 10 000.
        labels: one per template: real numbers for ``"regression"``; for ``"next_token"`` a wildcard occurring in
            that template (the emitted token is the one substituted for it) or a regular token id (``int``).
        label_type: ``"regression"`` or ``"next_token"``.
        probs: template probabilities (default uniform).
        name: a short name for display.

    Returns:
        the :class:`TemplateTask`.

    Raises:
        TypeError: a template or label of the wrong type.
        ValueError: no templates, lengths differ, labels/probs of the wrong length, a next-token wildcard label
            absent from its template, or two equivalent templates (the message names both).
    """
    V.one_of("label_type", label_type, ["regression", "next_token"])
    if isinstance(templates, (str, bytes)) or not isinstance(templates, Sequence):
        raise TypeError(f"templates must be a sequence of templates, got {V._show(templates)}")
    if not 1 <= len(templates) <= 10_000:
        raise ValueError(f"templates must hold 1..10000 templates, got {len(templates)}")
    ts = tuple(_template(f"templates[{i}]", t) for i, t in enumerate(templates))
    if len({len(t) for t in ts}) != 1:
        raise ValueError(f"templates must all have the same length, got lengths {[len(t) for t in ts]}")
    if isinstance(labels, np.ndarray) and labels.ndim == 1:  # an array of labels is a sequence too
        labels = labels.tolist()
    if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence):
        raise TypeError(f"labels must be a sequence (one label per template), got {V._show(labels)}")
    if len(labels) != len(ts):
        raise ValueError(f"labels must have one entry per template ({len(ts)}), got {len(labels)}")
    if label_type == "regression":
        labs = tuple(V.real(f"labels[{i}]", lab) for i, lab in enumerate(labels))
    else:
        out = []
        for i, (t, lab) in enumerate(zip(ts, labels)):
            if isinstance(lab, str):
                if lab not in t:
                    raise ValueError(f"labels[{i}] = {lab!r} is a wildcard absent from template {_show_template(t)}")
                out.append(lab)
            elif isinstance(lab, (int, np.integer)) and not isinstance(lab, (bool, np.bool_)):
                out.append(V.integer(f"labels[{i}]", lab, low=0, high=MAX_TOKENS))
            else:
                raise TypeError(f"labels[{i}] must be a wildcard (str) or a regular token (int), got {V._show(lab)}")
        labs = tuple(out)
    if probs is None:
        p = tuple([1.0 / len(ts)] * len(ts))
    else:
        p = tuple(float(v) for v in V.probability_vector("probs", probs))
        if len(p) != len(ts):
            raise ValueError(f"probs must have one entry per template ({len(ts)}), got {len(p)}")
    canon: dict[Template, int] = {}
    for i, t in enumerate(ts):
        c = canonical_template(t)
        if c in canon:
            j = canon[c]
            raise ValueError(f"templates[{j}] = {_show_template(ts[j])} and templates[{i}] = {_show_template(t)} are "
                             "equivalent (same wildcard positions, regular tokens and equality pattern); a task may "
                             "not contain both")
        canon[c] = i
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {V._show(name)}")
    return TemplateTask(ts, labs, label_type, p, name)  # type: ignore[arg-type]


class TokenRanges(NamedTuple):
    """Disjoint token-id ranges ``[start, stop)``: regular tokens, then train, validation and test substitutions."""

    regular: tuple[int, int]
    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]

    @property
    def vocab_size(self) -> int:
        return self.test[1]


def token_ranges(n_regular: int, n_train: int, n_val: int, n_test: int) -> TokenRanges:
    """The vocabulary layout ``[regular | train | val | test]`` of the paper's generator (disjoint ranges).

    Args:
        n_regular: number of regular token ids (``TemplateTask.n_regular``).
        n_train, n_val, n_test: substitution alphabet sizes (the paper's ``*_substitution_alphabet_size``).

    Raises:
        TypeError / ValueError: a size is not a non-negative integer (at most 1e8).
    """
    r = V.integer("n_regular", n_regular, low=0, high=MAX_TOKENS)
    a = V.integer("n_train", n_train, low=0, high=MAX_TOKENS)
    b = V.integer("n_val", n_val, low=0, high=MAX_TOKENS)
    c = V.integer("n_test", n_test, low=0, high=MAX_TOKENS)
    return TokenRanges((0, r), (r, r + a), (r + a, r + a + b), (r + a + b, r + a + b + c))


def substitute(template, substitution: dict) -> tuple[int, ...]:
    """The token string ``sub(z, s)``: every wildcard replaced by ``substitution[wildcard]``, regular tokens kept.

    Raises:
        TypeError: ``substitution`` is not a dict of wildcard -> int token.
        ValueError: a wildcard of the template is missing, or the substitution is not injective on them.
    """
    t = _template("template", template)
    if not isinstance(substitution, dict):
        raise TypeError(f"substitution must be a dict wildcard -> token, got {V._show(substitution)}")
    ws = template_wildcards(t)
    missing = [w for w in ws if w not in substitution]
    if missing:
        raise ValueError(f"substitution has no token for wildcard(s) {missing} of template {_show_template(t)}")
    toks = {w: V.integer(f"substitution[{w!r}]", substitution[w], low=0) for w in ws}
    if len(set(toks.values())) != len(toks):
        raise ValueError(f"substitution must be injective on the wildcards, got {toks}")
    return tuple(toks[s] if isinstance(s, str) else s for s in t)


def _range(name: str, r) -> tuple[int, int]:
    if isinstance(r, np.ndarray) and r.shape == (2,):  # an array pair is a pair too (entries checked below)
        r = tuple(r.tolist())
    if isinstance(r, (str, bytes)) or not isinstance(r, Sequence) or len(r) != 2:
        raise TypeError(f"{name} must be a pair (start, stop), got {V._show(r)}")
    a = V.integer(f"{name}[0]", r[0], low=0)
    b = V.integer(f"{name}[1]", r[1], low=a)
    if b - a > MAX_TOKENS:
        raise ValueError(f"{name} must hold at most {MAX_TOKENS} tokens, got {b - a}")
    return a, b


def _distinct(rng: np.random.Generator, lo: int, hi: int, n: int, w: int) -> np.ndarray:
    """n rows of w distinct integers in [lo, hi), each row uniform over ordered w-subsets (sequential skip trick)."""
    m = hi - lo
    chosen = np.zeros((n, 0), dtype=np.int64)
    for j in range(w):
        r = rng.integers(0, m - j, size=n)
        srt = np.sort(chosen, axis=1)
        for c in range(j):  # shift past every already-chosen value (ascending): uniform over the remaining ones
            r = r + (r >= srt[:, c])
        chosen = np.concatenate([chosen, r[:, None]], axis=1)
    return chosen + lo


def sample_substitution(template, token_range, *, seed: int | np.random.Generator = 0) -> dict:
    """One injective substitution of the template's wildcards by tokens of ``token_range = (start, stop)``.

    Raises:
        ValueError: the range holds fewer tokens than the template has wildcards.
    """
    t = _template("template", template)
    lo, hi = _range("token_range", token_range)
    ws = template_wildcards(t)
    if hi - lo < len(ws):
        raise ValueError(f"token_range {(lo, hi)} holds {hi - lo} tokens, fewer than the {len(ws)} wildcards of "
                         f"{_show_template(t)}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(V.integer("seed", seed, low=0))
    toks = _distinct(rng, lo, hi, 1, len(ws))[0]
    return {w: int(v) for w, v in zip(ws, toks)}


@dataclasses.dataclass(frozen=True)
class TemplateSamples:
    """Strings drawn from a template task.

    Attributes:
        tokens: ``(n, k)`` int64 token ids.
        labels: ``(n,)`` float64 (regression) or int64 token ids (next-token).
        template: ``(n,)`` int64 index of the template each string instantiates.
    """

    tokens: np.ndarray
    labels: np.ndarray
    template: np.ndarray


def sample_strings(task: TemplateTask, token_range, n_samples: int, *,
                   seed: int | np.random.Generator = 0) -> TemplateSamples:
    r"""Draw strings: a template by ``task.probs``, then an injective substitution from ``token_range``.

    Regular token r is token id r (the regular range is ``[0, task.n_regular)``); wildcards get distinct tokens of
    ``token_range`` drawn without replacement (the paper's generator). Labels follow the template.

    Args:
        task: the task.
        token_range: ``(start, stop)`` substitution range, disjoint from ``[0, task.n_regular)``.
        n_samples: number of strings (0 .. 1e7).
        seed: an int seed or a numpy Generator.

    Raises:
        TypeError: ``task`` is not a :class:`TemplateTask`.
        ValueError: the range overlaps the regular tokens or holds fewer tokens than a template's wildcards.
    """
    if not isinstance(task, TemplateTask):
        raise TypeError(f"task must be a TemplateTask, got {V._show(task)}")
    lo, hi = _range("token_range", token_range)
    n = V.integer("n_samples", n_samples, low=0, high=MAX_SAMPLES)
    if lo < task.n_regular:
        raise ValueError(f"token_range {(lo, hi)} overlaps the regular tokens [0, {task.n_regular})")
    if hi - lo < task.max_wildcards:
        raise ValueError(f"token_range {(lo, hi)} holds {hi - lo} tokens, fewer than the {task.max_wildcards} "
                         "wildcards of a template (substitutions are injective)")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(V.integer("seed", seed, low=0))
    which = rng.choice(len(task.templates), size=n, p=np.asarray(task.probs))
    k = task.length
    tokens = np.zeros((n, k), dtype=np.int64)
    reg = task.label_type == "regression"
    labels = np.zeros(n, dtype=np.float64 if reg else np.int64)
    for ti, t in enumerate(task.templates):
        rows = np.flatnonzero(which == ti)
        if rows.size == 0:
            continue
        ws = template_wildcards(t)
        sub = _distinct(rng, lo, hi, rows.size, len(ws))
        col = {w: i for i, w in enumerate(ws)}
        for pos, s in enumerate(t):
            tokens[rows, pos] = sub[:, col[s]] if isinstance(s, str) else s
        lab = task.labels[ti]
        labels[rows] = lab if reg or isinstance(lab, int) else sub[:, col[lab]]
    return TemplateSamples(tokens, labels, which.astype(np.int64))


@dataclasses.dataclass(frozen=True)
class TemplateSplits:
    """Train / validation / test strings drawn from disjoint token ranges (:func:`make_splits`)."""

    task: TemplateTask
    ranges: TokenRanges
    train: TemplateSamples
    val: TemplateSamples
    test: TemplateSamples


def make_splits(task: TemplateTask, n_train: int, n_test: int, *, n_val: int = 0, n_train_tokens: int | None = None,
                n_val_tokens: int | None = None, n_test_tokens: int | None = None,
                seed: int = 0) -> TemplateSplits:
    """Train / val / test strings over disjoint substitution alphabets (Boix-Adserà et al. 2024, experiments).

    The paper's convention is ``n_train_tokens = n_train`` ("n = train alphabet size = #samples"), the default.
    Test (and validation) alphabets default to as many tokens as strings (at least the wildcard count).

    Raises:
        ValueError: an alphabet smaller than the number of wildcards of a template.
    """
    if not isinstance(task, TemplateTask):
        raise TypeError(f"task must be a TemplateTask, got {V._show(task)}")
    ntr = V.integer("n_train", n_train, low=0, high=MAX_SAMPLES)
    nte = V.integer("n_test", n_test, low=0, high=MAX_SAMPLES)
    nva = V.integer("n_val", n_val, low=0, high=MAX_SAMPLES)
    w = task.max_wildcards
    # with no training strings nothing is drawn from the train alphabet: give it the wildcard count of tokens
    a = (ntr if ntr > 0 else w) if n_train_tokens is None else V.integer("n_train_tokens", n_train_tokens, low=0, high=MAX_TOKENS)
    b = max(nva, w) if n_val_tokens is None else V.integer("n_val_tokens", n_val_tokens, low=0, high=MAX_TOKENS)
    c = max(nte, w) if n_test_tokens is None else V.integer("n_test_tokens", n_test_tokens, low=0, high=MAX_TOKENS)
    for nm, size, cnt in (("n_train_tokens", a, ntr), ("n_val_tokens", b, nva), ("n_test_tokens", c, nte)):
        if cnt > 0 and size < w:
            raise ValueError(f"{nm} = {size} is smaller than the {w} wildcards of a template")
    rr = token_ranges(task.n_regular, a, b, c)
    rng = np.random.default_rng(V.integer("seed", seed, low=0))
    return TemplateSplits(task, rr, sample_strings(task, rr.train, ntr, seed=rng),
                          sample_strings(task, rr.val, nva, seed=rng), sample_strings(task, rr.test, nte, seed=rng))


def template_of(task: TemplateTask, tokens) -> int:
    """The index of the template a token string instantiates (from its regular tokens and equality pattern).

    Under injective substitutions into ids ``>= task.n_regular`` at most one template matches (templates of a task
    are pairwise non-equivalent). Raises ``ValueError`` when none does.
    """
    if not isinstance(task, TemplateTask):
        raise TypeError(f"task must be a TemplateTask, got {V._show(task)}")
    s = V.array("tokens", tokens, ndim=1, dtype="int")
    if s.size != task.length:
        raise ValueError(f"tokens must have length {task.length}, got {s.size}")
    pat = equality_pattern(s)
    for i, t in enumerate(task.templates):
        if all((s[p] == v) if isinstance(v, int) else (s[p] >= task.n_regular) for p, v in enumerate(t)) \
                and np.array_equal(pat, equality_pattern(t)):
            return i
    raise ValueError(f"tokens {s.tolist()} instantiate no template of {task}")


def label_of(task: TemplateTask, tokens):
    """The label of a token string, computed from its template alone (float, or the emitted token id)."""
    i = template_of(task, tokens)
    lab = task.labels[i]
    if task.label_type == "regression" or isinstance(lab, int):
        return lab
    return int(np.asarray(tokens)[task.templates[i].index(lab)])


# ------------------------------------------------------------------------------------------------ named tasks


def aba_vs_abb() -> TemplateTask:
    """ABA -> +1, ABB -> -1 (the paper's main regression task)."""
    return template_task(["ABA", "ABB"], [1.0, -1.0], name="aba_vs_abb")


def aabb_vs_abab() -> TemplateTask:
    """AABB -> +1, ABAB -> -1."""
    return template_task(["AABB", "ABAB"], [1.0, -1.0], name="aabb_vs_abab")


def same_different() -> TemplateTask:
    """AA -> +1 (same), AB -> -1 (different)."""
    return template_task(["AA", "AB"], [1.0, -1.0], name="same_different")


def majority(length: int) -> TemplateTask:
    """Length-k majority over two wildcards: every pattern ``A?...?`` (first symbol A, the rest A or B).

    Label +1 when A fills more than half the positions, else -1 (so length 2 is same/different). The paper names
    "length-k majority" tasks (k = 2, 4, 6, 8) without printing their templates; this definition is a choice made
    here. ``2**(length-1)`` templates; ``length`` in 1..12.
    """
    k = V.integer("length", length, low=1, high=12)
    ts, labs = [], []
    for rest in itertools.product("AB", repeat=k - 1):
        t = ("A", *rest)
        ts.append(t)
        labs.append(1.0 if 2 * t.count("A") > k else -1.0)
    return template_task(ts, labs, name=f"majority_{k}")


def counting(length: int) -> TemplateTask:
    """Counting (next-token, classification): how often the first symbol occurs.

    Templates: A at position 0 and at any subset of the other positions, a distinct fresh wildcard everywhere else;
    the label is the regular token id ``c - 1`` for c occurrences of A (classes 0 .. length-1). The paper names
    "counting_5", "counting_7" (test error) without printing the templates; this definition is a choice made here.
    ``2**(length-1)`` templates; ``length`` in 1..12.
    """
    k = V.integer("length", length, low=1, high=12)
    ts, labs = [], []
    for mask in itertools.product((True, False), repeat=k - 1):
        t = ["A"] + [("A" if m else f"B{i}") for i, m in enumerate(mask)]
        ts.append(tuple(t))
        labs.append(t.count("A") - 1)
    return template_task(ts, labs, label_type="next_token", name=f"counting_{k}")


def random_template_task(n_wildcards: int, n_regular: int, n_templates: int, length: int, *,
                         seed: int = 0) -> TemplateTask:
    """Random templates (each position uniform over ``n_wildcards`` wildcards and ``n_regular`` regular tokens),
    equivalent draws rejected, labels +1 / -1 at random (the paper's random-template regression tasks).

    Raises:
        ValueError: fewer than ``n_templates`` non-equivalent templates found in 100 draws per template.
    """
    w = V.integer("n_wildcards", n_wildcards, low=0, high=26)
    r = V.integer("n_regular", n_regular, low=0, high=100)
    m = V.integer("n_templates", n_templates, low=1, high=1000)
    k = V.integer("length", length, low=1, high=MAX_LENGTH)
    if w + r == 0:
        raise ValueError("n_wildcards + n_regular must be >= 1")
    rng = np.random.default_rng(V.integer("seed", seed, low=0))
    alphabet = list(_string.ascii_uppercase[:w]) + list(range(r))
    found: dict[Template, Template] = {}
    for _ in range(100 * m):
        t = tuple(alphabet[i] for i in rng.integers(0, len(alphabet), size=k))
        found.setdefault(canonical_template(t), t)
        if len(found) == m:
            break
    if len(found) < m:
        raise ValueError(f"found only {len(found)} non-equivalent templates of length {k} over {w} wildcards and {r} "
                         f"regular tokens (wanted n_templates = {m})")
    labs = rng.choice([-1.0, 1.0], size=m)
    return template_task(list(found.values()), [float(v) for v in labs],
                         name=f"random_w{w}_r{r}_m{m}_k{k}")


def copy_task(length: int = 2) -> TemplateTask:
    """Next-token copy: ``length`` distinct wildcards, the label is the first one (``"AB" -> A``).

    The emitted token is a token of the string, never seen in training at test time. The paper's copy-task template
    is not printed; this is a choice made here (the last position holds a different token, so the output needs the
    first token moved by attention).
    """
    k = V.integer("length", length, low=1, high=26)
    return template_task([tuple(_string.ascii_uppercase[:k])], ["A"], label_type="next_token", name=f"copy_{k}")


NAMED_TASKS = {"aba_vs_abb": aba_vs_abb, "aabb_vs_abab": aabb_vs_abab, "same_different": same_different,
               "majority": majority, "counting": counting, "random_template_task": random_template_task,
               "copy": copy_task}


def named_task(name: str, **kwargs) -> TemplateTask:
    """One of :data:`NAMED_TASKS` by name (keyword arguments go to its constructor)."""
    V.one_of("name", name, list(NAMED_TASKS))
    return NAMED_TASKS[name](**kwargs)


# ==================================================================================================== kernel

K = sp.Symbol("k", positive=True, integer=True)
BETA = sp.Symbol("beta", nonnegative=True)
GAMMA = sp.Symbol("gamma", nonnegative=True)


class KernelEstimate(NamedTuple):
    """A Monte Carlo estimate: mean, standard error of the mean, number of draws."""

    mean: float
    stderr: float
    n_draws: int


def one_hot(tokens, vocab: Sequence[int] | None = None) -> np.ndarray:
    """The k x |vocab| one-hot matrix X of a token string (vocab defaults to its sorted distinct tokens)."""
    s = V.array("tokens", tokens, ndim=1, dtype="int", min_size=1)
    voc = sorted(set(s.tolist())) if vocab is None else V.array("vocab", vocab, ndim=1, dtype="int").tolist()
    idx = {t: i for i, t in enumerate(voc)}
    missing = sorted(set(s.tolist()) - set(idx))
    if missing:
        raise ValueError(f"vocab lacks tokens {missing}")
    x = np.zeros((s.size, len(voc)))
    x[np.arange(s.size), [idx[t] for t in s.tolist()]] = 1.0
    return x


def _pair(x, y) -> tuple[np.ndarray, np.ndarray]:
    a = V.array("x", x, ndim=1, dtype="int", min_size=1)
    b = V.array("y", y, ndim=1, dtype="int", min_size=1)
    if a.size != b.size:
        raise ValueError(f"x and y must have the same length (they share the positional draw p), got {a.size} and "
                         f"{b.size}")
    if a.size > MAX_LENGTH:
        raise ValueError(f"x must have length <= {MAX_LENGTH}, got {a.size}")
    return a, b


def _softmax_rows(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def kernel_mc(x, y, beta: float, gamma: float, *, n_draws: int = 100_000, seed: int = 0) -> KernelEstimate:
    r"""Monte Carlo estimate of the transformer random-features kernel :math:`\kappa_{X,Y}(\beta,\gamma)`.

    .. math::
        \kappa_{X,Y}(\beta,\gamma)=\mathbb E\big[\mathrm{softmax}(\beta u)^\top(XY^\top+\gamma^2 I)
        \mathrm{softmax}(\beta v)\big],\quad u=Xz+\gamma p,\ v=Yz+\gamma p,

    with :math:`z\sim N(0,I)` one Gaussian per token (so :math:`\mathrm{Cov}(\zeta,\xi)=XY^\top` etc.) and
    :math:`p\sim N(0,I_k)` (Boix-Adserà et al. 2024, Section 3; the form of their computer-algebra companion).

    Args:
        x, y: token strings (int sequences) of the same length k (1..64).
        beta: key-query scale (0 <= beta <= 1e100). gamma: positional scale (0 <= gamma <= 1e50; larger values
            overflow float64 in the squared integrand).
        n_draws: Monte Carlo draws (2 .. 1e7). seed: RNG seed.

    Returns:
        :class:`KernelEstimate` (mean, standard error of the mean over draws, n_draws). At β = 0 the integrand is
        constant and the standard error is 0.

    Raises:
        TypeError / ValueError: bad strings (lengths differ), negative β or γ, bad n_draws.
    """
    a, b = _pair(x, y)
    # bounds keep beta * gamma * p and the squared integrand (~ gamma^4) inside float64
    be = V.real("beta", beta, low=0.0, high=1e100)
    ga = V.real("gamma", gamma, low=0.0, high=1e50)
    n = V.integer("n_draws", n_draws, low=2, high=MAX_SAMPLES)
    rng = np.random.default_rng(V.integer("seed", seed, low=0))
    voc = sorted(set(a.tolist()) | set(b.tolist()))
    X, Y = one_hot(a, voc), one_hot(b, voc)
    M = X @ Y.T + ga ** 2 * np.eye(a.size)
    total, total2, done = 0.0, 0.0, 0
    while done < n:
        m = min(50_000, n - done)
        z = rng.standard_normal((m, len(voc)))
        p = rng.standard_normal((m, a.size))
        su = _softmax_rows(be * (z @ X.T + ga * p))
        sv = _softmax_rows(be * (z @ Y.T + ga * p))
        f = np.einsum("na,ab,nb->n", su, M, sv)
        total += float(f.sum())
        total2 += float((f * f).sum())
        done += m
    mean = total / n
    var = max(total2 / n - mean * mean, 0.0) * n / (n - 1)
    if be == 0.0:
        var = 0.0  # the integrand is the constant 1'M1/k^2; rounding noise is not sampling error
    return KernelEstimate(mean, math.sqrt(var / n), n)


def kernel_beta0(x, y, gamma: float) -> float:
    r""":math:`\kappa_{X,Y}(0,\gamma)=\gamma^2/k+k^{-2}\,\mathbf 1^\top XY^\top\mathbf 1` (closed form).

    At β = 0 both softmaxes are uniform (:math:`\mathbf 1/k`), so the expectation is the constant
    :math:`k^{-2}\mathbf 1^\top(XY^\top+\gamma^2I)\mathbf 1`; :math:`\mathbf 1^\top XY^\top\mathbf 1` counts the
    position pairs (a, b) with :math:`x_a=y_b`. Derived here from the kernel's definition (Boix-Adserà et al. 2024,
    Section 3).

    Raises:
        TypeError / ValueError: bad strings, negative γ or γ > 1e150 (γ² overflows float64).
    """
    a, b = _pair(x, y)
    g = V.real("gamma", gamma, low=0.0, high=1e150)  # gamma^2 stays finite in float64
    k = a.size
    return g * g / k + float(np.sum(a[:, None] == b[None, :])) / k ** 2


# --------------------------------------------------------------------- symbolic Taylor coefficients (Wick)

_MAT = {"A": "XXᵀ", "B": "YYᵀ", "C": "XYᵀ", "Ct": "YXᵀ"}


@dataclasses.dataclass(frozen=True)
class KernelInvariant:
    r"""One matrix invariant of the kernel expansion: a sum over k-valued indices (the graph's nodes) of a product
    of entries of :math:`A=XX^\top`, :math:`B=YY^\top`, :math:`C=XY^\top` (the edges, ``(type, i, j)``; for C the
    entry :math:`C_{ij}`) and diagonal entries (``labels``, ``(type, i)``: :math:`M_{ii}`).

    Attributes:
        name: its readable form (``1ᵀXYᵀ1``, ``tr(XYᵀ)``, ``tr(XXᵀYYᵀ)``, ...; a general contraction is written
            with explicit indices).
        symbol: the sympy symbol standing for it in expansions.
        n_nodes, edges, labels: the contraction graph (connected).
    """

    name: str
    symbol: sp.Symbol
    n_nodes: int
    edges: tuple[tuple[str, int, int], ...]
    labels: tuple[tuple[str, int], ...]

    @property
    def uses(self) -> frozenset[str]:
        """Which of ``"XX"``, ``"YY"``, ``"XY"`` (A, B, C) the invariant reads."""
        m = {"A": "XX", "B": "YY", "C": "XY"}
        return frozenset(m[t] for t, *_ in self.edges) | frozenset(m[t] for t, _ in self.labels)

    def evaluate(self, A: np.ndarray, B: np.ndarray, C: np.ndarray) -> float:
        """The invariant for numeric k x k matrices A, B, C (einsum over the nodes)."""
        letters = "abcdefghijklmnopqrstuvwxyz"
        ops, subs = [], []
        mats = {"A": A, "B": B, "C": C}
        for t, i, j in self.edges:
            ops.append(mats[t])
            subs.append(letters[i] + letters[j])
        for t, i in self.labels:
            ops.append(np.diagonal(mats[t]))
            subs.append(letters[i])
        for v in range(self.n_nodes):  # nodes without any factor (not produced, kept for safety)
            if not any(letters[v] in s for s in subs):
                ops.append(np.ones(A.shape[0]))
                subs.append(letters[v])
        return float(np.einsum(",".join(subs) + "->", *ops, optimize=self.n_nodes > 6 and "greedy"))

    def realize(self, A: sp.Matrix, B: sp.Matrix, C: sp.Matrix) -> sp.Expr:
        """The invariant as an explicit sympy sum for explicit k x k sympy matrices (brute force over k**nodes)."""
        k = A.shape[0]
        mats = {"A": A, "B": B, "C": C}
        total = sp.Integer(0)
        for idx in itertools.product(range(k), repeat=self.n_nodes):
            term = sp.Integer(1)
            for t, i, j in self.edges:
                term *= mats[t][idx[i], idx[j]]
            for t, i in self.labels:
                term *= mats[t][idx[i], idx[i]]
            total += term
        return total


_REGISTRY: dict[str, KernelInvariant] = {}


def _diag_name(types: Sequence[str]) -> str:
    return "".join(f"(I∘{_MAT[t]})" for t in sorted(types))


def _simple_name(n: int, edges, labels) -> str | None:
    """Readable name of a connected multigraph whose nodes have degree <= 2 (a path, a cycle or one node)."""
    deg = [0] * n
    for _, i, j in edges:
        deg[i] += 1
        deg[j] += 1
    if any(d > 2 for d in deg):
        return None
    lab = [[t for t, v in labels if v == i] for i in range(n)]
    if n == 1:
        ls = lab[0]
        if len(ls) == 1:
            return f"tr({_MAT[ls[0]]})"
        return f"tr({_diag_name(ls[:-1])}{_MAT[sorted(ls)[-1]]})"

    def step(e, frm):  # the matrix read when walking edge e from node frm
        t, i, j = e
        if t == "C":
            return ("C" if frm == i else "Ct"), (j if frm == i else i)
        return t, (j if frm == i else i)

    def walk(start, first_edge, cyc):
        names, used, node, e = [_diag_name(lab[start])], {first_edge}, start, first_edge
        while True:
            t, nxt = step(edges[e], node)
            names.append(_MAT[t])
            node = nxt
            if cyc and node == start:
                return "tr(" + "".join(names) + ")"
            names.append(_diag_name(lab[node]))
            rest = [f for f in range(len(edges)) if f not in used and node in edges[f][1:]]
            if not rest:
                return "1ᵀ" + "".join(names) + "1"
            e = rest[0]
            used.add(e)

    cands = []
    if all(d == 2 for d in deg):  # cycle: every rotation and both directions
        for s in range(n):
            for e in range(len(edges)):
                if s in edges[e][1:]:
                    cands.append(walk(s, e, True))
    else:
        for s in range(n):
            if deg[s] == 1:
                e = next(f for f in range(len(edges)) if s in edges[f][1:])
                cands.append(walk(s, e, False))
    return min(cands, key=lambda c: (len(c), c))


def _canonical(n: int, edges, labels):
    """Canonical form of a small connected typed multigraph (minimum over node permutations)."""
    best = None
    for perm in itertools.permutations(range(n)):
        es = []
        for t, i, j in edges:
            a, b = perm[i], perm[j]
            if t != "C" and a > b:
                a, b = b, a
            es.append((t, a, b))
        key = (tuple(sorted(es)), tuple(sorted((t, perm[v]) for t, v in labels)))
        if best is None or key < best:
            best = key
    return best


def _general_name(n: int, edges, labels) -> str:
    letters = "ijlmnpqrst"
    es, ls = _canonical(n, edges, labels)
    parts = [f"({_MAT[t]})_{letters[i]}{letters[j]}" for t, i, j in es] + \
            [f"({_MAT[t]})_{letters[v]}{letters[v]}" for t, v in ls]
    return f"Σ_{letters[:n]} " + "·".join(parts)


@functools.cache
def _invariant(n: int, edges: tuple, labels: tuple) -> sp.Symbol:
    """The registry symbol of one connected contraction graph (created on first use)."""
    name = _simple_name(n, list(edges), list(labels))
    if name is None:
        name = _general_name(n, edges, labels)
    if name not in _REGISTRY:
        es, ls = _canonical(n, edges, labels)
        _REGISTRY[name] = KernelInvariant(name, sp.Symbol(name), n, es, ls)
    return _REGISTRY[name].symbol


@functools.cache
def _softmax_coefficients(order: int) -> tuple[tuple[sp.Expr, int, tuple[int, ...]], ...]:
    r"""Coefficient of :math:`\beta^n` in :math:`\mathrm{softmax}_a(\beta u)` as monomials
    ``(coef(k), m0, (m1, m2, ...))`` meaning ``coef * u_a**m0 * prod_j S_{m_j}`` with :math:`S_m=\sum_c u_c^m`.

    :math:`e^{\beta u_a}/\sum_c e^{\beta u_c}=e^{\beta u_a}\,k^{-1}\sum_j(-D/k)^j` with
    :math:`D=\sum_{m\ge1}\beta^mS_m/m!`; a monomial with j power sums carries :math:`k^{-(j+1)}` (exact rational
    arithmetic on truncated series)."""
    from fractions import Fraction
    # series: list over beta-power of dict parts(tuple sorted) -> Fraction, for (-D/k)^j without the k powers
    one = [dict() for _ in range(order + 1)]
    one[0][()] = Fraction(1)
    inv = [dict(c) for c in one]  # sum_j (-D)^j, k-power implied by len(parts)
    term = one
    for _ in range(order):
        new = [dict() for _ in range(order + 1)]
        for i, ci in enumerate(term):
            for parts, c in ci.items():
                for m in range(1, order + 1 - i):
                    key = tuple(sorted((*parts, m)))
                    new[i + m][key] = new[i + m].get(key, Fraction(0)) - c / math.factorial(m)
        term = new
        for i in range(order + 1):
            for parts, c in term[i].items():
                inv[i][parts] = inv[i].get(parts, Fraction(0)) + c
    out = []
    for i in range(order + 1):  # t^i / i! times inv[order - i]
        for parts, c in inv[order - i].items():
            coef = c / math.factorial(i)
            if coef:
                out.append((sp.Rational(coef.numerator, coef.denominator) / K ** (len(parts) + 1), i, parts))
    return tuple(out)


def _matchings(items: list[int]):
    if not items:
        yield []
        return
    first = items[0]
    for i in range(1, len(items)):
        rest = items[1:i] + items[i + 1:]
        for m in _matchings(rest):
            yield [(first, items[i]), *m]


def _graph_term(n_nodes: int, side: list[str], pairs, delta: frozenset[int], outer_delta: bool,
                binary: bool) -> sp.Expr:
    """k-power times product of invariant symbols for one Wick term."""
    parent = list(range(n_nodes))

    def find(v):
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    edges = []
    for idx, (i, j) in enumerate(pairs):
        if idx in delta:
            parent[find(i)] = find(j)
            continue
        si, sj = side[i], side[j]
        if si == sj:
            edges.append(("A" if si == "u" else "B", i, j))
        else:
            edges.append(("C", i, j) if si == "u" else ("C", j, i))
    if outer_delta:
        parent[find(0)] = find(1)
    else:
        edges.append(("C", 0, 1))
    roots = sorted({find(v) for v in range(n_nodes)})
    rmap = {r: i for i, r in enumerate(roots)}
    m = len(roots)
    es, ls = [], []
    for t, i, j in edges:
        a, b = rmap[find(i)], rmap[find(j)]
        if a == b:
            if binary and t != "C":
                continue  # (XX^T)_ii = (YY^T)_ii = 1
            ls.append((t, a))
        else:
            es.append((t, a, b))
    if binary:  # entries are 0/1: repeated factors collapse
        es = list(dict.fromkeys((t, *sorted((a, b))) if t != "C" else (t, a, b) for t, a, b in es))
        ls = list(dict.fromkeys(ls))
    # connected components
    comp = list(range(m))

    def cf(v):
        while comp[v] != v:
            comp[v] = comp[comp[v]]
            v = comp[v]
        return v

    for _, a, b in es:
        comp[cf(a)] = cf(b)
    groups: dict[int, list[int]] = {}
    for v in range(m):
        groups.setdefault(cf(v), []).append(v)
    out = sp.Integer(1)
    for nodes in groups.values():
        loc = {v: i for i, v in enumerate(nodes)}
        ce = tuple(sorted((t, loc[a], loc[b]) for t, a, b in es if a in loc))
        cl = tuple(sorted((t, loc[a]) for t, a in ls if a in loc))
        if not ce and not cl:
            out *= K
        else:
            out *= _invariant(len(nodes), ce, cl)
    return out


@functools.cache
def _taylor(s1: int, s2: int, binary: bool) -> sp.Expr:
    if s1 % 2 or s2 % 2:
        return sp.Integer(0)
    from collections import Counter
    total: Counter = Counter()  # graph term -> coefficient (sympy in k), summed at the end
    cache: dict = {}
    for n1 in range(s1 + 1):
        for cu, mu0, pu in _softmax_coefficients(n1):
            for cv, mv0, pv in _softmax_coefficients(s1 - n1):
                side = ["u", "v"] + ["u"] * len(pu) + ["v"] * len(pv)
                legs = [0] * mu0 + [1] * mv0
                for j, m in enumerate(pu):
                    legs += [2 + j] * m
                for j, m in enumerate(pv):
                    legs += [2 + len(pu) + j] * m
                n_nodes = 2 + len(pu) + len(pv)
                acc: Counter = Counter()
                for outer_delta in (False, True):
                    q = s2 // 2 - int(outer_delta)
                    if q < 0 or q > s1 // 2:
                        continue
                    for pairs in _matchings(list(range(len(legs)))):
                        npairs = tuple(sorted(tuple(sorted((legs[i], legs[j]))) for i, j in pairs))
                        for delta in itertools.combinations(range(len(npairs)), q):
                            key = (tuple(side), npairs, delta, outer_delta)
                            if key not in cache:
                                cache[key] = _graph_term(n_nodes, side, npairs, frozenset(delta), outer_delta, binary)
                            acc[cache[key]] += 1
                w = cu * cv
                for g, c in acc.items():
                    total[g] += w * c
    total = sp.Add(*(sp.factor(c) * g for g, c in total.items()))
    return sp.expand(total)


def kernel_taylor_coefficient(beta_order: int, gamma_order: int, *, binary: bool = True) -> sp.Expr:
    r"""The Taylor coefficient of :math:`\beta^{s_1}\gamma^{s_2}` in :math:`\kappa_{X,Y}(\beta,\gamma)`, symbolically.

    Derivation (derived here from the kernel's definition, Boix-Adserà et al. 2024, Section 3; the paper computes
    the same derivatives with a computer-algebra system). Expand :math:`\mathrm{softmax}_a(\beta u)=e^{\beta u_a}/
    \sum_c e^{\beta u_c}` in β: the coefficient of :math:`\beta^n` is a polynomial of degree n in :math:`u_a` and
    the power sums :math:`S_m=\sum_c u_c^m`, each sum a new summed index. The coefficient of :math:`\beta^{s_1}` of
    :math:`\sum_{ab}\mathrm{softmax}_a(\beta u)\mathrm{softmax}_b(\beta v)(C_{ab}+\gamma^2\delta_{ab})` is a
    polynomial of degree :math:`s_1` in the Gaussians u, v, with :math:`\mathrm{Cov}(u_i,u_j)=A_{ij}+\gamma^2
    \delta_{ij}`, :math:`\mathrm{Cov}(u_i,v_j)=C_{ij}+\gamma^2\delta_{ij}`, :math:`\mathrm{Cov}(v_i,v_j)=B_{ij}+
    \gamma^2\delta_{ij}` (A = XXᵀ, B = YYᵀ, C = XYᵀ). Wick's formula sums, over the perfect matchings of the
    Gaussian factors, the product of the pair covariances; each term is a contraction graph (indices = nodes,
    matrix entries = edges, δ merges nodes), evaluated as a product over its connected components of the
    :class:`KernelInvariant` symbols (an index with no factor gives k). γ enters only through δ's, so odd orders
    vanish.

    Args:
        beta_order: :math:`s_1` in 0..6. gamma_order: :math:`s_2` in 0..8.
        binary: True (default) specialises to strings: A, B, C have 0/1 entries and unit diagonals of A, B, so
            repeated factors collapse and :math:`A_{ii}=B_{ii}=1`. False keeps a general Gaussian covariance
            :math:`\begin{pmatrix}A&C\\C^\top&B\end{pmatrix}` (used by the proofs on symbolic matrices).

    Returns:
        a sympy expression in ``K`` (the string length k) and invariant symbols (:func:`kernel_invariants`).

    Raises:
        TypeError / ValueError: orders not integers in range.
    """
    s1 = V.integer("beta_order", beta_order, low=0, high=MAX_BETA_ORDER)
    s2 = V.integer("gamma_order", gamma_order, low=0, high=MAX_GAMMA_ORDER)
    if not isinstance(binary, bool):
        raise TypeError(f"binary must be a bool, got {V._show(binary)}")
    return _taylor(s1, s2, binary)


def kernel_derivative(beta_order: int, gamma_order: int, *, binary: bool = True) -> sp.Expr:
    r""":math:`\partial_\beta^{s_1}\partial_\gamma^{s_2}\kappa_{X,Y}(0,0)=s_1!\,s_2!\times`
    :func:`kernel_taylor_coefficient` (same arguments, same derivation; derived here)."""
    c = kernel_taylor_coefficient(beta_order, gamma_order, binary=binary)
    return sp.expand(sp.factorial(beta_order) * sp.factorial(gamma_order) * c)


def kernel_beta0_expr() -> sp.Expr:
    r""":math:`\kappa(0,\gamma)=\gamma^2/k+k^{-2}\,\mathbf 1^\top XY^\top\mathbf 1` with the invariant symbol of
    :math:`\mathbf 1^\top XY^\top\mathbf 1` (the one :func:`kernel_taylor_coefficient` uses) and ``GAMMA``, ``K``."""
    return GAMMA ** 2 / K + _invariant(2, (("C", 0, 1),), ()) / K ** 2


def kernel_invariants(expr: sp.Expr) -> list[KernelInvariant]:
    """The :class:`KernelInvariant` objects whose symbols occur in an expansion (sorted by name)."""
    if not isinstance(expr, sp.Basic):
        raise TypeError(f"expr must be a sympy expression, got {V._show(expr)}")
    names = {s.name for s in expr.free_symbols}
    return [_REGISTRY[n] for n in sorted(names) if n in _REGISTRY]


def _abc(x, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, b = _pair(x, y)
    return ((a[:, None] == a[None, :]).astype(float), (b[:, None] == b[None, :]).astype(float),
            (a[:, None] == b[None, :]).astype(float))


@functools.lru_cache(maxsize=256)
def _compiled(expr: sp.Expr):
    invs = kernel_invariants(expr)
    known = {K} | {i.symbol for i in invs}
    extra = [s for s in expr.free_symbols if s not in known]
    if extra:
        raise ValueError(f"expr has free symbol(s) {sorted(map(str, extra))} that are not invariants or k")
    return invs, sp.lambdify([K, *[i.symbol for i in invs]], expr, "math", dummify=True)


def evaluate_kernel_expr(expr: sp.Expr, x, y) -> float:
    r"""Evaluate an expansion for two token strings: k = their length, :math:`A=XX^\top`, :math:`B=YY^\top`,
    :math:`C=XY^\top` (numerically, each invariant by einsum).

    Raises:
        TypeError: ``expr`` is not a sympy expression.
        ValueError: the expression has free symbols other than ``K`` and invariants (substitute γ, β first).
    """
    A, B, C = _abc(x, y)
    if not isinstance(expr, sp.Basic):
        raise TypeError(f"expr must be a sympy expression, got {V._show(expr)}")
    invs, f = _compiled(expr)
    return float(f(A.shape[0], *[i.evaluate(A, B, C) for i in invs]))


def realize_kernel_expr(expr: sp.Expr, A: sp.Matrix, B: sp.Matrix, C: sp.Matrix) -> sp.Expr:
    """Replace every invariant by its explicit sum over the entries of sympy matrices A, B, C and k by their size."""
    for nm, M in (("A", A), ("B", B), ("C", C)):
        if not isinstance(M, sp.MatrixBase):
            raise TypeError(f"{nm} must be an explicit sympy Matrix, got {V._show(M)}")
    k = A.shape[0]
    if any(M.shape != (k, k) for M in (A, B, C)):
        raise ValueError(f"A, B, C must all be square of one size, got {A.shape}, {B.shape}, {C.shape}")
    if k > 4:
        raise ValueError(f"realize_kernel_expr expands k**nodes terms; k must be <= 4, got {k}")
    subs = {inv.symbol: inv.realize(A, B, C) for inv in kernel_invariants(expr)}
    subs[K] = k
    return expr.xreplace(subs)


def disjoint_tokens(expr: sp.Expr) -> sp.Expr:
    r"""The expansion for two strings that share no token: :math:`XY^\top=0`, so every invariant reading
    :math:`XY^\top` vanishes. What remains is a function of :math:`XX^\top` and :math:`YY^\top` alone (the two
    equality patterns; :func:`equality_pattern_only`). Derived here (Boix-Adserà et al. 2024, Section 3)."""
    if not isinstance(expr, sp.Expr):
        raise TypeError(f"expr must be a sympy expression (a kernel expansion), got {V._show(expr)} ({type(expr).__name__})")
    return sp.expand(expr.xreplace({inv.symbol: 0 for inv in kernel_invariants(expr) if "XY" in inv.uses}))


def equality_pattern_only(expr: sp.Expr) -> bool:
    r"""Whether every invariant of an expansion reads only :math:`XX^\top` and :math:`YY^\top` (no :math:`XY^\top`)."""
    return all("XY" not in inv.uses for inv in kernel_invariants(expr))


def _series_mul(f: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Product of truncated bivariate power series stored as ``[P+1, Q+1, ...]`` coefficient arrays."""
    P, Q = f.shape[0] - 1, f.shape[1] - 1
    out = np.zeros((P + 1, Q + 1) + np.broadcast_shapes(f.shape[2:], g.shape[2:]))
    for i in range(P + 1):
        for j in range(Q + 1):
            fij = f[i, j]
            if not np.any(fij):
                continue
            out[i:, j:] += fij * g[:P + 1 - i, :Q + 1 - j]
    return out


def _softmax_series(z: np.ndarray, p: np.ndarray, P: int, Q: int) -> np.ndarray:
    """Series in (β, γ) of softmax(β(z + γ p)) per draw: shape (P+1, Q+1, n, k)."""
    n, k = z.shape
    e = np.zeros((P + 1, Q + 1, n, k))
    for i in range(P + 1):
        for j in range(min(i, Q) + 1):
            e[i, j] = z ** (i - j) / math.factorial(i - j) * p ** j / math.factorial(j)
    dp = e.sum(axis=-1)
    dp[0, 0] = 0.0  # the denominator is k + dp, dp has no constant term
    inv = np.zeros_like(dp)
    inv[0, 0] = 1.0
    term = inv.copy()
    for _ in range(P):
        term = _series_mul(term, -dp / k)
        inv = inv + term
    return _series_mul(e, inv[..., None] / k)


def kernel_taylor_mc(x, y, beta_order: int, gamma_order: int, *, n_draws: int = 100_000,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""Monte Carlo estimate of every Taylor coefficient :math:`[\beta^{i}\gamma^{j}]\kappa_{X,Y}`, i <= beta_order,
    j <= gamma_order, with standard errors: per draw the integrand's exact truncated power series in (β, γ)
    (exponential and series reciprocal of the softmax), averaged over draws. Independent of the Wick enumeration of
    :func:`kernel_taylor_coefficient`, which it checks.

    Returns:
        ``(mean, stderr)``, arrays of shape ``(beta_order + 1, gamma_order + 1)``.

    Raises:
        TypeError / ValueError: bad strings, orders outside 0..6 / 0..8, or n_draws outside 2..1e7.
    """
    a, b = _pair(x, y)
    P = V.integer("beta_order", beta_order, low=0, high=MAX_BETA_ORDER)
    Q = V.integer("gamma_order", gamma_order, low=0, high=MAX_GAMMA_ORDER)
    n = V.integer("n_draws", n_draws, low=2, high=MAX_SAMPLES)
    rng = np.random.default_rng(V.integer("seed", seed, low=0))
    voc = sorted(set(a.tolist()) | set(b.tolist()))
    X, Y = one_hot(a, voc), one_hot(b, voc)
    C = X @ Y.T
    s, s2, done = np.zeros((P + 1, Q + 1)), np.zeros((P + 1, Q + 1)), 0
    while done < n:
        m = min(20_000, n - done)
        z = rng.standard_normal((m, len(voc)))
        p = rng.standard_normal((m, a.size))
        su = _softmax_series(z @ X.T, p, P, Q)
        sv = _softmax_series(z @ Y.T, p, P, Q)
        w = np.einsum("ab,ijnb->ijna", C, sv)
        f = _series_mul(su, w).sum(axis=-1)  # (P+1, Q+1, m)
        if Q >= 2:
            g = _series_mul(su, sv).sum(axis=-1)
            f[:, 2:] += g[:, :Q - 1]
        s += f.sum(axis=-1)
        s2 += (f * f).sum(axis=-1)
        done += m
    mean = s / n
    var = np.maximum(s2 / n - mean ** 2, 0.0) * n / (n - 1)
    return mean, np.sqrt(var / n)


# ================================================================================================ MLP failure


def mlp_indistinguishable(t1, t2) -> bool:
    """Whether a position-wise one-hot MLP's outputs on fresh-token strings of the two templates are identically
    distributed: same length and the same regular tokens at the same positions (wildcards anywhere else).

    Every wildcard position reads a row :math:`W_1[\\mathrm{pos}, t]` of a token t unseen in training, which keeps
    its i.i.d. initialisation; rows at distinct positions are independent whether or not the tokens repeat, so the
    first-layer input, and hence the output, has one law for both templates (derived here; Boix-Adserà et al.
    2024, Section 3: fully-connected networks fail to generalise on unseen symbols).
    """
    a, b = _template("t1", t1), _template("t2", t2)
    return len(a) == len(b) and all((isinstance(x, str) and isinstance(y, str)) or x == y for x, y in zip(a, b))


def fresh_token_mlp_outputs(templates: Sequence, *, width: int = 16, n_draws: int = 4000, init_std: float = 1.0,
                            xxt_weight: float = 0.0, seed: int = 0) -> np.ndarray:
    r"""Outputs of a position-wise one-hot MLP on fresh-token strings, one row of draws per template.

    Model: :math:`f(x)=v^\top\mathrm{relu}(\sum_{\mathrm{pos}}W_1[\mathrm{pos},x_{\mathrm{pos}}]+U\,
    \mathrm{vec}(XX^\top)+c)`. The "trained" parts v, c, U (U scaled by ``xxt_weight``; 0 = no :math:`XX^\top`
    input) are fixed draws standing in for any trained values; the first-layer rows of the fresh tokens are drawn
    i.i.d. :math:`N(0,\mathrm{init\_std}^2)` per draw (untouched by training). Regular tokens read fixed rows.

    With ``xxt_weight = 0`` the rows are the same law for every template with the same regular tokens
    (:func:`mlp_indistinguishable`); with ``xxt_weight != 0`` the :math:`XX^\top` input separates templates.

    Returns:
        ``(len(templates), n_draws)`` float64 outputs.

    Raises:
        ValueError: templates of different lengths, or sizes out of range (``init_std`` and ``|xxt_weight|`` at
            most 1e100, beyond which the outputs overflow float64).
    """
    if isinstance(templates, (str, bytes)) or not isinstance(templates, Sequence) or not templates:
        raise TypeError(f"templates must be a non-empty sequence of templates, got {V._show(templates)}")
    ts = [_template(f"templates[{i}]", t) for i, t in enumerate(templates)]
    if len({len(t) for t in ts}) != 1:
        raise ValueError(f"templates must have one length, got {[len(t) for t in ts]}")
    h = V.integer("width", width, low=1, high=4096)
    n = V.integer("n_draws", n_draws, low=1, high=1_000_000)
    # bounds keep the pre-activations (sums of ~k terms of size init_std and k^2 of size xxt_weight) finite
    s = V.real("init_std", init_std, low=0.0, low_open=True, high=1e100)
    u = V.real("xxt_weight", xxt_weight, low=-1e100, high=1e100)
    rng = np.random.default_rng(V.integer("seed", seed, low=0))
    k = len(ts[0])
    v = rng.standard_normal(h) / math.sqrt(h)
    c = rng.standard_normal(h)
    U = u * rng.standard_normal((h, k * k))
    regs = sorted({x for t in ts for x in t if isinstance(x, int)})
    reg_rows = {r: rng.standard_normal((k, h)) for r in regs}
    out = np.zeros((len(ts), n))
    for ti, t in enumerate(ts):
        pre = np.broadcast_to(c + U @ equality_pattern(t).ravel().astype(float), (n, h)).copy()
        ws = template_wildcards(t)
        rows = {w: s * rng.standard_normal((n, k, h)) for w in ws}  # fresh token of wildcard w: rows at every pos
        for pos, x in enumerate(t):
            pre += rows[x][:, pos] if isinstance(x, str) else reg_rows[x][pos]
        out[ti] = np.maximum(pre, 0.0) @ v
    return out


def label_independent_mse(f_mean: float, f_var: float, p_plus: float = 0.5) -> float:
    r"""Test MSE on :math:`\pm1` labels of a prediction f independent of the label:
    :math:`\mathbb E(f-y)^2=\mathrm{Var}f+(\mathbb Ef)^2-2\,\mathbb Ef\,(2p_+-1)+1`, which is
    :math:`1+\mathbb Ef^2\ge1` for balanced labels (chance level; derived here).

    Raises:
        TypeError / ValueError: ``|f_mean| > 1e150`` or ``f_var > 1e300`` (the MSE would overflow float64),
            negative ``f_var``, ``p_plus`` outside [0, 1].
    """
    m = V.real("f_mean", f_mean, low=-1e150, high=1e150)  # f_mean^2 stays finite in float64
    var = V.real("f_var", f_var, low=0.0, high=1e300)
    p = V.real("p_plus", p_plus, low=0.0, high=1.0)
    return var + m * m - 2 * m * (2 * p - 1) + 1.0


def two_sample_test(a, b) -> float:
    """p-value of the two-sample Kolmogorov-Smirnov test that ``a`` and ``b`` come from one distribution."""
    x = V.array("a", a, ndim=1, min_size=2)
    y = V.array("b", b, ndim=1, min_size=2)
    return float(stats.ks_2samp(x, y).pvalue)


# =========================================================================================== inverse scaling

INVERSE_SCALING_SLOPE = 1.0
"""Predicted log-log slope of the copy threshold n* against the embedding dimension d (n* proportional to d)."""


def projected_energy_fraction(n: int, d: int) -> float:
    r""":math:`\mathbb E\,\|P_S g\|^2/\|g\|^2=\min(n,d)/d` for a Gaussian :math:`g\sim N(0,I_d)` and any subspace
    S of dimension :math:`\min(n,d)`, e.g. the span of n training-token embeddings, independent of g.

    Exact: by rotation invariance :math:`\|P_Sg\|^2/\|g\|^2\sim\mathrm{Beta}(n/2,(d-n)/2)`, mean n/d (derived here;
    the mechanism of the paper's inverse scaling law, Boix-Adserà et al. 2024, is [derived], not quoted).

    Raises:
        TypeError / ValueError: n < 0 or d < 1 (not integers).
    """
    nn = V.integer("n", n, low=0)
    dd = V.integer("d", d, low=1)
    return min(nn, dd) / dd


def projected_energy_expr() -> sp.Expr:
    """``n/d`` as a sympy expression in positive symbols n, d (the expectation of :func:`projected_energy_fraction`
    for n <= d)."""
    n, d = sp.symbols("n d", positive=True)
    return n / d


def projected_energy_mc(n: int, d: int, *, n_draws: int = 2000, seed: int = 0) -> KernelEstimate:
    """Monte Carlo of the energy fraction of a fresh Gaussian embedding in the span of n Gaussian training embeddings
    (``R^d``), mean and standard error over draws (an independent check of :func:`projected_energy_fraction`)."""
    nn = V.integer("n", n, low=0, high=4096)
    dd = V.integer("d", d, low=1, high=4096)
    m = V.integer("n_draws", n_draws, low=2, high=100_000)
    if nn * dd * m > 2e9:
        raise ValueError(f"n * d * n_draws must be <= 2e9, got {nn * dd * m}")
    rng = np.random.default_rng(V.integer("seed", seed, low=0))
    g = rng.standard_normal((m, dd))
    if nn == 0:
        f = np.zeros(m)
    else:
        # one orthonormal basis of the training span per draw, by (twice-applied) Gram-Schmidt in einsum: no BLAS /
        # LAPACK threads, which thrash on a loaded machine (a batched QR was 10x slower there)
        a = rng.standard_normal((m, dd, min(nn, dd)))
        q = np.zeros_like(a)
        for j in range(a.shape[2]):
            v = a[:, :, j]
            for _ in range(2):
                v = v - np.einsum("mdk,mk->md", q[:, :, :j], np.einsum("mdk,md->mk", q[:, :, :j], v))
            q[:, :, j] = v / np.linalg.norm(v, axis=1, keepdims=True)
        f = np.sum(np.einsum("mdn,md->mn", q, g) ** 2, axis=1) / np.sum(g * g, axis=1)
    return KernelEstimate(float(f.mean()), float(f.std(ddof=1) / math.sqrt(m)), m)


def copy_samples_needed(d: int, *, energy: float = 1.0 / 3.0, vo_identity: bool = False) -> int:
    r"""Predicted number of training tokens n* at which a tied-embedding transformer starts to copy unseen tokens.

    Plain model: the smallest n with :math:`n/d\ge` ``energy`` (:func:`projected_energy_fraction`), i.e.
    :math:`\lceil\mathrm{energy}\cdot d\rceil`, linear in d (log-log slope :data:`INVERSE_SCALING_SLOPE`). The
    constant is not predicted by the n/d law: the default 1/3 is read off the paper's figure (n* ≈ d/3 for d >= 256,
    Boix-Adserà et al. 2024). With the :math:`b\,I` value-output term every token is moved exactly, the fraction is
    1 for every n, and the prediction is 1 for every d. Derived here.

    Raises:
        TypeError / ValueError: d not a positive integer, energy not in (0, 1].
    """
    dd = V.integer("d", d, low=1, high=MAX_TOKENS)
    e = V.real("energy", energy, low=0.0, high=1.0, low_open=True)
    if not isinstance(vo_identity, bool):
        raise TypeError(f"vo_identity must be a bool, got {V._show(vo_identity)}")
    return 1 if vo_identity else max(1, math.ceil(e * dd - 1e-12))
