"""Every registered proof module checks (the derivations run in the test suite, parametrised from the
registry, so a new paper's proofs are covered without editing this file), plus the machinery's own
negative controls: a false step fails, and a proof module that raises becomes a failed proof."""

from __future__ import annotations

import pytest
import sympy as sp

import proofs
from proofs import Proof, Step, check_proof, check_step, format_table


@pytest.mark.parametrize("paper", proofs.paper_modules())
def test_paper_proofs_check(paper):
    results = proofs.run_all(proofs.collect([paper], errors="raise"))
    assert results, f"proofs.{paper} registers no proof"
    failed = [(r.proof.title, s.step.name, s.message) for r in results for s in r.steps if not s.ok]
    assert not failed, format_table([r for r in results if not r.ok])
    ids = [r.proof.id for r in results]
    assert len(ids) == len(set(ids)), f"duplicate proof ids in proofs.{paper}: {ids}"
    assert all(i.startswith(f"{paper}.") for i in ids), ids


def test_false_step_fails():
    x = sp.Symbol("x", positive=True)
    assert not check_step(Step("wrong", (x + 1) ** 2, x**2 + 1)).ok
    assert check_step(Step("right", (x + 1) ** 2, x**2 + 2 * x + 1)).ok


def test_failing_assembly_is_a_failed_proof(monkeypatch):
    """A theory function raising while a paper's steps are built gives a FAIL row, not a traceback."""
    import importlib

    mod = importlib.import_module("proofs.lidar")

    def boom():
        raise ArithmeticError("theory exploded")

    monkeypatch.setattr(mod, "proofs", boom)
    got = proofs.collect(["lidar"])
    assert len(got) == 1 and got[0].error and "theory exploded" in got[0].error
    res = check_proof(got[0])
    assert not res.ok and "FAIL" in format_table([res])
    with pytest.raises(ArithmeticError):
        proofs.collect(["lidar"], errors="raise")


def test_proof_ids_default_to_paper_and_title():
    p = Proof("demo", "A short Title!", [])
    assert p.id == "demo.a_short_title"
