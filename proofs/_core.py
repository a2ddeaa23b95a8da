"""Machine-checked derivations: a proof is a list of steps, each an identity checked by sympy.

A :class:`Step` states ``lhs == rhs``. :func:`check_step` decides it in three stages:

1. ``sympy.expand(lhs - rhs) == 0`` (cheap, exact);
2. only where that fails, ``sympy.simplify(lhs - rhs) == 0`` (exact, slower);
3. always, a numeric spot check: every free symbol is replaced by a random value drawn from the
   step's ``domain`` (positive reals by default) and ``|lhs - rhs| <= atol + rtol * scale``, where the
   scale is ``max(|lhs|, |rhs|, 1)``.

A step passes when one of the exact stages proves it *and* the numeric check agrees. A step whose
identity is an asymptotic or a limit statement is written as an identity between sympy objects
(``sympy.limit(...)``, ``sympy.series(...).removeO()``), so the same three stages apply.

Matrix identities use sympy matrix expressions (``MatrixSymbol``): the exact stage expands the
non-commutative products, and the numeric stage substitutes random ``n x n`` matrices.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

import numpy as np
import sympy as sp

Domain = Literal["positive", "real", "unit"]  # unit: (0, 1)

__all__ = ["Step", "Proof", "StepResult", "ProofResult", "check_step", "check_proof"]


@dataclasses.dataclass(frozen=True)
class Step:
    """One checked step of a derivation: the identity ``lhs == rhs``.

    Args:
        name: short label shown in the table.
        lhs, rhs: sympy expressions (scalars, explicit matrices, or matrix expressions).
        why: the mathematical justification in words (goes into the Markdown output).
        domain: where free symbols are drawn for the numeric check: ``"positive"`` (0.2..3),
            ``"real"`` (-3..3) or ``"unit"`` (0.05..0.95); or a dict symbol -> (low, high).
        rtol, atol: tolerances of the numeric check (float64 evaluation; 1e-9 leaves room for
            cancellation in sums of large terms).
        exact: set ``False`` for a step that sympy cannot decide exactly (e.g. a numeric quadrature
            identity); it then passes on the numeric check alone and is flagged ``numeric`` in the table.
    """

    name: str
    lhs: object
    rhs: object
    why: str = ""
    domain: Domain | dict = "positive"
    rtol: float = 1e-9
    atol: float = 1e-12
    exact: bool = True

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")


@dataclasses.dataclass(frozen=True)
class Proof:
    """A named derivation: an ordered list of steps, from one paper.

    Attributes:
        paper: the paper module (``"jepa"``, ``"rasp"``, ...).
        title: a short title.
        steps: the checked steps, in order.
        statement: what is proved, in words a researcher of the field reads (with the math).
        id: a stable identifier ``"<paper>.<short-name>"`` that claim records link to (defaults to the
            paper plus a slug of the title).
        assumptions: the hypotheses the derivation uses, one sentence each.
        claims: ids of the claim records (``"<experiment>.<claim>"``) this derivation backs.
    """

    paper: str
    title: str
    steps: Sequence[Step]
    statement: str = ""
    id: str = ""
    assumptions: Sequence[str] = ()
    claims: Sequence[str] = ()
    error: str = ""  # set when the proofs of a paper could not be assembled (the traceback): a failed proof

    def __post_init__(self):
        if not self.id:
            slug = re.sub(r"[^a-z0-9]+", "_", self.title.lower()).strip("_")[:60]
            object.__setattr__(self, "id", f"{self.paper}.{slug}")


@dataclasses.dataclass(frozen=True)
class StepResult:
    step: Step
    method: str  # "expand", "simplify", "numeric" or "failed"
    numeric_error: float
    ok: bool
    seconds: float
    message: str = ""


@dataclasses.dataclass(frozen=True)
class ProofResult:
    proof: Proof
    steps: list[StepResult]

    @property
    def ok(self) -> bool:
        return not self.proof.error and all(s.ok for s in self.steps)


def _is_matrix_expr(x) -> bool:
    return isinstance(x, sp.MatrixExpr) and not isinstance(x, sp.MatrixBase)


def _free(x) -> set:
    return set(getattr(x, "free_symbols", set()))


def _draw(sym, domain, rng: np.random.Generator) -> float:
    if isinstance(domain, dict) and sym in domain:
        lo, hi = domain[sym]
    else:
        d = domain if isinstance(domain, str) else "positive"
        lo, hi = {"positive": (0.2, 3.0), "real": (-3.0, 3.0), "unit": (0.05, 0.95)}[d]
    return float(rng.uniform(lo, hi))


def _numeric_error(step: Step, rng: np.random.Generator, trials: int = 3) -> float:
    """Largest scaled |lhs - rhs| over a few random substitutions."""
    lhs, rhs = step.lhs, step.rhs
    worst = 0.0
    for _ in range(trials):
        if _is_matrix_expr(lhs) or _is_matrix_expr(rhs):
            mats = {m for m in (lhs.atoms(sp.MatrixSymbol) | rhs.atoms(sp.MatrixSymbol))}
            subs = {m: sp.Matrix(rng.standard_normal(m.shape).tolist()) for m in mats}
            a = np.array(sp.Matrix(lhs.subs(subs).doit()).evalf(), dtype=float)
            b = np.array(sp.Matrix(rhs.subs(subs).doit()).evalf(), dtype=float)
        else:
            syms = sorted(_free(lhs) | _free(rhs), key=str)
            subs = {s: _draw(s, step.domain, rng) for s in syms}
            a = np.array(sp.N(sp.sympify(lhs).subs(subs), 30), dtype=complex)
            b = np.array(sp.N(sp.sympify(rhs).subs(subs), 30), dtype=complex)
        diff = np.max(np.abs(a - b)) if np.size(a) else 0.0
        scale = max(np.max(np.abs(a)) if np.size(a) else 0.0, np.max(np.abs(b)) if np.size(b) else 0.0, 1.0)
        err = float(diff / scale)
        if not np.isfinite(err):
            return float("inf")
        worst = max(worst, err)
    return worst


def _exact(lhs, rhs) -> str | None:
    if _is_matrix_expr(lhs) or _is_matrix_expr(rhs):
        d = (lhs - rhs).expand().doit()
        if d == 0 or d == sp.ZeroMatrix(*d.shape) or sp.simplify(d) == 0:
            return "expand"
        return None
    d = sp.sympify(lhs) - sp.sympify(rhs)
    if isinstance(d, sp.MatrixBase):
        if d.applyfunc(sp.expand).is_zero_matrix:
            return "expand"
        if d.applyfunc(sp.simplify).is_zero_matrix:
            return "simplify"
        return None
    if sp.expand(d) == 0:
        return "expand"
    if sp.simplify(d) == 0:
        return "simplify"
    return None


def check_step(step: Step, *, seed: int = 0) -> StepResult:
    """Check one step: exact (expand, then simplify) and a numeric spot check; never raises."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    try:
        method = _exact(step.lhs, step.rhs) if step.exact else "numeric"
        err = _numeric_error(step, rng)
        tol_ok = err <= step.rtol + step.atol
        ok = method is not None and tol_ok
        msg = "" if ok else ("not proved exactly" if method is None else f"numeric check failed: {err:.3g}")
        return StepResult(step, method or "failed", err, ok, time.perf_counter() - t0, msg)
    except Exception as exc:  # a step that cannot even be evaluated is a failed step, reported as such
        return StepResult(step, "failed", float("nan"), False, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}")


def check_proof(proof: Proof, *, seed: int = 0) -> ProofResult:
    return ProofResult(proof, [check_step(s, seed=seed + i) for i, s in enumerate(proof.steps)])


def run_all(proofs: Iterable[Proof], *, progress: Callable[[str], None] | None = None) -> list[ProofResult]:
    out = []
    for p in proofs:
        if progress:
            progress(f"{p.paper}: {p.title}")
        out.append(check_proof(p))
    return out


def format_table(results: Sequence[ProofResult]) -> str:
    rows = [("paper", "proof", "step", "method", "num.err", "time[s]", "status")]
    for r in results:
        if r.proof.error:
            last = r.proof.error.strip().splitlines()[-1] if r.proof.error.strip() else "error"
            rows.append((r.proof.paper, r.proof.title[:38], "(assembling the proofs)", "failed", "-", "-",
                         "FAIL " + last[:60]))
        for s in r.steps:
            rows.append(
                (
                    r.proof.paper,
                    r.proof.title[:38],
                    s.step.name[:44],
                    s.method,
                    f"{s.numeric_error:.1e}",
                    f"{s.seconds:.2f}",
                    "ok" if s.ok else "FAIL " + s.message[:60],
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    n_ok = sum(s.ok for r in results for s in r.steps)
    n = sum(len(r.steps) for r in results) + sum(bool(r.proof.error) for r in results)
    lines.append(f"\n{n_ok}/{n} steps checked, {n - n_ok} failed")
    return "\n".join(lines)


#: How symbol names used in the package print in the documents (as in the papers).
_GREEK = {"lam": r"\lambda", "lambda": r"\lambda", "rho": r"\rho", "eps": r"\varepsilon", "epsilon": r"\varepsilon",
          "sigma": r"\sigma", "gamma": r"\gamma", "beta": r"\beta", "alpha": r"\alpha", "eta": r"\eta",
          "delta": r"\delta", "theta": r"\theta", "tau": r"\tau", "kappa": r"\kappa", "mu": r"\mu", "nu": r"\nu",
          "phi": r"\phi", "psi": r"\psi", "omega": r"\omega", "xi": r"\xi", "pi": r"\pi", "Sigma": r"\Sigma",
          "Theta": r"\Theta", "Delta": r"\Delta", "wbar": r"\bar W", "Wbar": r"\bar W", "enc": "W", "pred": "V"}

_LONG = 600  # characters of LaTeX above which an expression is abbreviated by a named sub-expression


def _symbol_tex(name: str) -> str:
    """``lam`` -> ``\\lambda``, ``enc_1`` -> ``W_{1}``, ``sigma_xx`` -> ``\\sigma_{xx}``, ``wbar`` -> ``\\bar W``."""
    import re

    m = re.fullmatch(r"([A-Za-z]+)(?:_?(\w+))?", name)
    if not m:
        return name
    base, sub = m.group(1), m.group(2)
    if base not in _GREEK:
        m2 = re.fullmatch(r"([A-Za-z]+?)(\d+)", name)
        if m2 and m2.group(1) in _GREEK:
            base, sub = m2.group(1), m2.group(2)
        else:
            return name if "_" not in name else f"{name.split('_', 1)[0]}_{{{name.split('_', 1)[1]}}}"
    tex = _GREEK[base]
    return f"{tex}_{{{sub}}}" if sub else tex


def _latex(x) -> str:
    try:
        syms = getattr(x, "free_symbols", set()) or set()
        names = {s: _symbol_tex(s.name) for s in syms if hasattr(s, "name")}
        return sp.latex(x, symbol_names=names)
    except Exception:
        try:
            return sp.latex(x)
        except Exception:
            return str(x)


class _Abbrev:
    """Names long expressions ``E_1, E_2, ...`` for a document and lists their definitions after the step."""

    def __init__(self):
        self.n = 0

    def __call__(self, tex: str, defs: list[str]) -> str:
        if len(tex) <= _LONG:
            return tex
        self.n += 1
        name = f"E_{{{self.n}}}"
        defs.append(f"<details><summary>where $E_{{{self.n}}}$ is ({len(tex)} characters of LaTeX)</summary>\n\n"
                    f"$$\n{name} = {tex}\n$$\n</details>\n")
        return name


def to_markdown(results: Sequence[ProofResult]) -> str:
    """The derivations as a document a researcher can follow (LaTeX math inside Markdown).

    Per proof: its id (an anchor the report links to), title, the statement proved, its assumptions,
    the claims it backs, then each step as *left side* -> *right side* with the rule applied (``why``)
    and how it was checked. Symbols print as in the papers (``lam`` as λ, ``enc_1`` as W₁); an expression
    longer than a few lines is named (E₁, ...) and given in a collapsible block; a step whose two sides
    print identically says so and shows what the check compared.
    """
    out = []
    papers = sorted({r.proof.paper for r in results})
    if len(papers) == 1:
        out.append(f"# Derivations: {papers[0]}\n")
        out.append("Each step states an identity *left = right* obtained by the rule in its text; it is checked "
                   "exactly by sympy (expansion, then simplification) and numerically at random points "
                   "(the numeric error is the largest relative difference).\n")
    for r in results:
        p = r.proof
        abbrev = _Abbrev()
        out.append(f"<a id=\"{p.id}\"></a>\n\n## {p.title}\n")
        out.append(f"*id* `{p.id}`" + (f" · backs {', '.join(f'`{c}`' for c in p.claims)}" if p.claims else "") + "\n")
        if p.error:
            out.append("**These derivations could not be assembled:**\n\n```\n" + p.error.strip() + "\n```\n")
        if p.statement:
            out.append("**Statement.** " + p.statement + "\n")
        if p.assumptions:
            out.append("**Assumptions.**\n\n" + "\n".join(f"- {a}" for a in p.assumptions) + "\n")
        for i, s in enumerate(r.steps, 1):
            st = s.step
            status = "checked" if s.ok else "**FAILED**"
            how = {"expand": "exact, by expansion", "simplify": "exact, by simplification",
                   "numeric": "numeric only"}.get(s.method, s.method)
            out.append(f"**Step {i}. {st.name}** — {status} ({how}; numeric error {s.numeric_error:.1e})\n")
            if st.why:
                out.append(st.why + "\n")
            defs: list[str] = []
            lt, rt = _latex(st.lhs), _latex(st.rhs)
            if lt == rt and not st.exact and not getattr(st.lhs, "free_symbols", True):
                out.append(f"$$\n{abbrev(lt, defs)}\n$$\n")
                out.append("*Both sides are numbers computed separately (see the step's text) and agree to the "
                           "digits shown; the numeric error above is their relative difference.*\n")
            elif lt == rt:
                out.append(f"$$\n{abbrev(lt, defs)}\n$$\n")
                out.append("*Both sides print identically here: the left side is the package's expression and the "
                           "right side the closed form it is compared with, and sympy's automatic evaluation "
                           "already brought them to the same form; the check confirms their difference is 0.*\n")
            else:
                out.append(f"$$\n{abbrev(lt, defs)} \\;=\\; {abbrev(rt, defs)}\n$$\n")
            out.extend(defs)
    return "\n".join(out)


def to_latex(results: Sequence[ProofResult]) -> str:
    """The derivations as a LaTeX fragment (one subsection per proof)."""
    out = []
    for r in results:
        out.append(f"\\subsection*{{{r.proof.title}}}")
        for i, s in enumerate(r.steps, 1):
            out.append(f"\\paragraph{{Step {i}: {s.step.name}}} {s.step.why}")
            out.append(f"\\begin{{equation*}}{_latex(s.step.lhs)} = {_latex(s.step.rhs)}\\end{{equation*}}")
    return "\n".join(out)
