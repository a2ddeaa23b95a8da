"""Whole-package checks: the evidence links of claim records resolve, and (slow) every registered
experiment runs end to end at the quick scale, its claims survive the run store and every link of every
record points at something real. Undefined names are ruff's job (F821, run by ``.ci/run``)."""

from __future__ import annotations

import json

import pytest

from sims.harness import evidence
from sims.harness.experiment import Claim, registry

EXPERIMENTS = sorted(registry())


def test_claim_markers_name_registered_experiments():
    """Every ``@pytest.mark.claim(id)`` names ``<experiment>.<claim>`` of a registered experiment."""
    found = evidence.claim_tests()
    bad = {cid: tests for cid, tests in found.items() if cid.split(".")[0] not in EXPERIMENTS or "." not in cid}
    assert not bad, bad


def test_link_problems_flags_dangling_links():
    """Negative controls for the link checker: each kind of dangling link is reported, real ones are not."""
    good = Claim("x.ok", "s", 1, 1, 0, True, links={
        "theory": ["theory.jepa.time_to_learn"], "proof": "p.real", "tests": ["tests/test_proofs.py::test_false_step_fails"],
        "figures": ["fig_a"]})
    assert evidence.link_problems(good, ["fig_a"], known_proofs={"p.real"}) == []
    bad = Claim("x.bad", "s", 1, 1, 0, True, links={
        "theory": ["theory.jepa.no_such_function"], "proof": "p.missing", "tests": ["tests/test_proofs.py::test_nope"],
        "figures": ["fig_b"]})
    problems = evidence.link_problems(bad, ["fig_a"], known_proofs={"p.real"})
    assert len(problems) == 4, problems


def test_attach_tests_adds_marked_tests():
    cid = next(iter(evidence.claim_tests()), None)
    if cid is None:
        pytest.skip("no test carries a claim marker yet")
    (c,) = evidence.attach_tests([Claim(cid, "s", 1, 1, 0, True)])
    assert set(evidence.claim_tests()[cid]) <= set(c.links["tests"])


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_runs_quick(name, tmp_path):
    """Each experiment runs at the quick scale; the claims written by the run equal those recomputed from
    the stored results by :func:`sims.harness.runner.reanalyse` (the store round-trips what ``claims`` reads), and
    every figure it lists exists. Whether the claims hold is the experiment's business, not this test's."""
    from sims.harness.runner import reanalyse, run_experiment

    rec = run_experiment(name, scale="quick", out=tmp_path / name, progress=False)
    again = reanalyse(tmp_path / name)
    first = json.dumps([c.to_dict() for c in rec.claims], sort_keys=True)
    assert json.dumps([c.to_dict() for c in again.claims], sort_keys=True) == first
    assert rec.claims and rec.figures and all(p.exists() for p in rec.figures)
    stems = [p.stem for p in rec.figures]
    problems = [p for c in rec.claims for p in evidence.link_problems(c, stems)]
    assert not problems, problems
    assert all(c.finding for c in rec.claims if not c.holds), [c.id for c in rec.claims if not c.holds and not c.finding]


def test_theory_imports_no_jax():
    """``theory/`` is sympy / numpy / scipy only: importing every theory module loads no JAX (checked in a fresh
    interpreter, since this test process has JAX loaded already)."""
    import subprocess
    import sys

    code = ("import sys, importlib, pkgutil, theory\n"
            "for m in pkgutil.walk_packages(theory.__path__, 'theory.'): importlib.import_module(m.name)\n"
            "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in ('jax', 'jaxlib', 'equinox')}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout
