"""Machine-checked derivations, one module per paper.

Each public module ``proofs.<paper>`` defines ``proofs() -> list[Proof]``. ``python -m proofs`` checks
every one, prints a table and exits 1 if any step fails; ``--markdown DIR`` / ``--latex DIR`` write the
derivations as documents.
"""

from __future__ import annotations

import importlib
import pkgutil

from ._core import (
    Proof,
    ProofResult,
    Step,
    StepResult,
    check_proof,
    check_step,
    format_table,
    run_all,
    to_latex,
    to_markdown,
)

__all__ = [
    "Proof", "ProofResult", "Step", "StepResult", "check_proof", "check_step", "format_table", "run_all",
    "to_latex", "to_markdown", "paper_modules", "collect",
]


def paper_modules() -> list[str]:
    """Names of the per-paper proof modules (every public module of this package)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def collect(papers: list[str] | None = None, *, errors: str = "record") -> list[Proof]:
    """All proofs of the given papers (default: every paper module).

    A paper module whose ``proofs()`` raises (a theory function failing while the steps are assembled)
    becomes one failed :class:`Proof` carrying the traceback in ``error`` (``errors="record"``, so the
    table shows a FAIL row and the other papers are still checked), or re-raises (``errors="raise"``).
    """
    import traceback

    if errors not in ("record", "raise"):
        raise ValueError(f"errors must be 'record' or 'raise', got {errors!r}")
    names = paper_modules()
    if papers:
        unknown = sorted(set(papers) - set(names))
        if unknown:
            raise ValueError(f"papers: unknown proof module(s) {unknown}; known: {names}")
        names = [n for n in names if n in papers]
    out: list[Proof] = []
    for n in names:
        try:
            out.extend(importlib.import_module(f"{__name__}.{n}").proofs())
        except Exception:  # noqa: BLE001 - recorded as a failed proof
            if errors == "raise":
                raise
            out.append(Proof(n, f"{n} proofs (could not be assembled)", [], id=f"{n}.assembly",
                             error=traceback.format_exc()))
    return out
