"""Run-store units record the configuration hash, key and seed they were computed for and are checked on read
(issue 17): an empty (0-byte) unit, a unit copied over another seed's or another configuration's, and a unit
written without that record are each recomputed with a log line, never reused silently."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from sims.harness.executor import LocalExecutor
from sims.harness.runner import Context
from sims.harness.store import RunStore, load_tree, load_tree_meta, save_tree

CALLS: list[tuple[float, int]] = []


def unit_fn(cfg, seeds):
    """A seed-dependent toy unit: the result identifies (a, seed) exactly."""
    CALLS.extend((cfg["a"], s) for s in seeds)
    return [{"x": np.full(3, cfg["a"] * 100 + s), "seed": s} for s in seeds]


def _ctx(path, seeds=(0, 1)):
    return Context(path, seeds=seeds, scale="quick", executor=LocalExecutor(), progress=False)


def _run(path, configs=None):
    CALLS.clear()
    return _ctx(path).sweep(unit_fn, configs or {"k": {"a": 1.0}}, desc="units")


def _log(path) -> str:
    return (path / "log.txt").read_text() if (path / "log.txt").exists() else ""


def _expected(a, seeds=(0, 1)):
    return [float(a * 100 + s) for s in seeds]


def test_units_record_hash_key_and_seed(tmp_path):
    _run(tmp_path)
    store = RunStore(tmp_path)
    p = store.unit_path(unit_fn, "k", {"a": 1.0}, 1)
    tree, meta = load_tree_meta(p)
    assert meta == {"unit_hash": p.parent.name, "key": "k", "seed": 1}
    assert tree["seed"] == 1
    assert store.load_unit(unit_fn, "k", {"a": 1.0}, 1)["seed"] == 1
    assert load_tree(p)["seed"] == 1  # load_tree still returns the tree alone


def test_empty_unit_is_recomputed_with_a_log_line(tmp_path):
    _run(tmp_path)
    p = RunStore(tmp_path).unit_path(unit_fn, "k", {"a": 1.0}, 0)
    p.write_bytes(b"")  # a 0-byte unit (crash between create and write on some file systems): was an EOFError
    res = _run(tmp_path)
    assert CALLS == [(1.0, 0)]  # only the empty unit is computed again
    assert [float(r["x"][0]) for r in res["k"]] == _expected(1.0)
    assert "empty" in _log(tmp_path)
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        load_tree(tmp_path / "empty.npz")


def test_unit_copied_over_another_seed_is_recomputed(tmp_path):
    _run(tmp_path)
    store = RunStore(tmp_path)
    p0, p1 = (store.unit_path(unit_fn, "k", {"a": 1.0}, s) for s in (0, 1))
    shutil.copyfile(p0, p1)  # a valid unit, but seed 0's, under seed 1's name: was reused silently
    res = _run(tmp_path)
    assert CALLS == [(1.0, 1)]
    assert [float(r["x"][0]) for r in res["k"]] == _expected(1.0)
    assert "seed" in _log(tmp_path) and "not" in _log(tmp_path)


def test_unit_copied_from_another_config_is_recomputed(tmp_path):
    configs = {"k": {"a": 1.0}, "j": {"a": 2.0}}
    _run(tmp_path, configs)
    store = RunStore(tmp_path)
    src, dst = store.unit_path(unit_fn, "j", {"a": 2.0}, 0), store.unit_path(unit_fn, "k", {"a": 1.0}, 0)
    shutil.copyfile(src, dst)
    res = _run(tmp_path, configs)
    assert CALLS == [(1.0, 0)]
    assert [float(r["x"][0]) for r in res["k"]] == _expected(1.0)
    assert [float(r["x"][0]) for r in res["j"]] == _expected(2.0)


def test_unit_without_provenance_is_recomputed(tmp_path):
    _run(tmp_path)
    p = RunStore(tmp_path).unit_path(unit_fn, "k", {"a": 1.0}, 0)
    save_tree(p, {"x": np.full(3, -1.0), "seed": 0})  # as written before units recorded their provenance
    res = _run(tmp_path)
    assert CALLS == [(1.0, 0)]
    assert [float(r["x"][0]) for r in res["k"]] == _expected(1.0)
    assert "records no config hash" in _log(tmp_path)


def test_intact_units_are_reused(tmp_path):
    _run(tmp_path)
    res = _run(tmp_path)
    assert CALLS == []
    assert [float(r["x"][0]) for r in res["k"]] == _expected(1.0)
