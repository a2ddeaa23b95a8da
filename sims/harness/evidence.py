"""Evidence links of claim records: one key per statement across theory, proof, tests and figure.

A claim record (:class:`~sims.harness.experiment.Claim`) names the evidence behind it in ``links``:
``{"theory": [dotted names], "proof": proof id, "tests": [pytest node ids], "figures": [figure stems]}``.
Tests are not typed twice: a test that backs a record carries ``@pytest.mark.claim("<experiment>.<id>")``,
:func:`claim_tests` collects those markers from the test files, and :func:`attach_tests` adds them to the
records when a run finishes. :func:`link_problems` says which links point at nothing (tested for every
record of every experiment).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import pathlib
from collections.abc import Iterable, Mapping, Sequence

from .experiment import Claim

__all__ = ["TESTS_DIR", "claim_tests", "attach_tests", "link_problems", "proof_ids", "test_ids"]

#: The package's test directory (absent in an installed copy without tests: nothing is then attached).
TESTS_DIR = pathlib.Path(__file__).resolve().parents[2] / "tests"


def _is_claim_marker(dec: ast.expr) -> list[str] | None:
    """The claim ids of a ``pytest.mark.claim(...)`` decorator, or None for any other decorator."""
    if not isinstance(dec, ast.Call):
        return None
    f = dec.func
    if isinstance(f, ast.Attribute) and f.attr == "claim" and isinstance(f.value, ast.Attribute) and f.value.attr == "mark":
        return [a.value for a in dec.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    return None


def _test_functions(path: pathlib.Path) -> Iterable[tuple[str, ast.FunctionDef]]:
    """``(node id suffix, function)`` of the test functions (and methods of ``Test*`` classes) in a file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            yield node.name, node
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) and sub.name.startswith("test"):
                    yield f"{node.name}::{sub.name}", sub


@functools.lru_cache(maxsize=4)
def _scan(tests_dir: str, stamp: tuple) -> tuple[dict[str, list[str]], frozenset[str]]:
    claims: dict[str, list[str]] = {}
    ids: set[str] = set()
    root = pathlib.Path(tests_dir)
    for path in sorted(root.glob("test_*.py")):
        rel = f"tests/{path.name}"
        for suffix, fn in _test_functions(path):
            node = f"{rel}::{suffix}"
            ids.add(node)
            for dec in fn.decorator_list:
                for cid in _is_claim_marker(dec) or []:
                    claims.setdefault(cid, []).append(node)
    return claims, frozenset(ids)


def _scan_now(tests_dir: pathlib.Path | None) -> tuple[dict[str, list[str]], frozenset[str]]:
    d = pathlib.Path(tests_dir) if tests_dir is not None else TESTS_DIR
    if not d.is_dir():
        return {}, frozenset()
    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(d.glob("test_*.py")))
    return _scan(str(d), stamp)


def claim_tests(tests_dir: pathlib.Path | None = None) -> dict[str, list[str]]:
    """``{claim id: [pytest node ids]}`` from the ``@pytest.mark.claim(...)`` markers in ``tests_dir``
    (default: the package's ``tests/``), read from the syntax tree without importing the tests."""
    return {k: list(v) for k, v in _scan_now(tests_dir)[0].items()}


def test_ids(tests_dir: pathlib.Path | None = None) -> frozenset[str]:
    """Node ids (without parametrisation) of every test function in ``tests_dir``."""
    return _scan_now(tests_dir)[1]


test_ids.__test__ = False  # not a test, despite the name


def attach_tests(claims: Sequence[Claim], tests_dir: pathlib.Path | None = None) -> list[Claim]:
    """The records with the tests that carry their id added to ``links["tests"]`` (no duplicates)."""
    found = claim_tests(tests_dir)
    out = []
    for c in claims:
        extra = found.get(c.id, [])
        if not extra:
            out.append(c)
            continue
        links = dict(c.links or {})
        links["tests"] = list(dict.fromkeys([*(links.get("tests") or []), *extra]))
        out.append(dataclasses.replace(c, links=links))
    return out


@functools.lru_cache(maxsize=1)
def proof_ids() -> frozenset[str]:
    """Ids of every registered proof (:func:`proofs.collect`; building the proofs evaluates the package's
    expressions, which takes a while: cached)."""
    import proofs

    return frozenset(p.id for p in proofs.collect())


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def link_problems(claim: Claim, figures: Iterable[str] = (), *, tests_dir: pathlib.Path | None = None,
                  known_proofs: Iterable[str] | None = None) -> list[str]:
    """What in ``claim.links`` points at nothing: theory names that do not import, a proof id that no
    registered proof has, test node ids that name no test function, figure stems not among ``figures``.
    Empty when every link resolves."""
    links: Mapping = claim.links or {}
    bad = []
    for name in links.get("theory", []) or []:
        if not _resolves(name):
            bad.append(f"{claim.id}: theory name {name!r} does not resolve")
    proof = links.get("proof")
    if proof:
        pool = frozenset(known_proofs) if known_proofs is not None else proof_ids()
        if proof not in pool:
            bad.append(f"{claim.id}: proof id {proof!r} is not a registered proof")
    ids = test_ids(tests_dir)
    for t in links.get("tests", []) or []:
        if t.split("[")[0] not in ids:
            bad.append(f"{claim.id}: test {t!r} does not exist")
    figs = set(figures)
    for f in links.get("figures", []) or []:
        if f not in figs:
            bad.append(f"{claim.id}: figure {f!r} is not among the experiment's figures {sorted(figs)}")
    return bad
