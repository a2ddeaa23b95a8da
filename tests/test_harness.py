"""The generic simulation machinery: store, sweeps (resume, executors, Dask), runner, report, CLI, plotting,
bench harness. Toy experiments are registered into a temporary registry (the real one is untouched and
the real experiment modules are not imported)."""

from __future__ import annotations

import dataclasses
import json
import math
import os

import numpy as np
import pytest

import sims
from sims.harness import experiment as _experiment
from sims.harness.bench import (
    BenchResult,
    format_bench_table,
    register_bench,
    run_benches,
    timeit,
)
from sims.harness.cli import main
from sims.harness.executor import (
    DaskExecutor,
    LocalExecutor,
    ProcessExecutor,
    ThreadExecutor,
    make_executor,
)
from sims.harness.report import fmt, write_report
from sims.harness.runner import (
    Context,
    SweepError,
    check_seeds,
    reanalyse,
    run_experiment,
)
from sims.harness.store import (
    RunStore,
    atomic_write,
    atomic_writer,
    flatten,
    load_tree,
    save_tree,
    unit_hash,
)

# ------------------------------------------------------------------------------------------------ toys
CALLS: list[tuple[float, tuple[int, ...]]] = []  # (cfg a, seeds) of every toy_fn call in this process
FAIL: set[float] = set()  # toy_fn raises for these values of a


def toy_fn(cfg: dict, seeds):
    """A seeded numpy computation standing in for a training run: one result pytree per seed."""
    CALLS.append((cfg["a"], tuple(seeds)))
    if cfg["a"] in FAIL:
        raise RuntimeError(f"toy failure at a={cfg['a']}")
    return [{"x": cfg["a"] * noise(cfg["a"], s), "mean": float(noise(cfg["a"], s).mean()),
             "pair": (np.float32(s), [s, "tag"])} for s in seeds]


def noise(a: float, seed: int) -> np.ndarray:
    return np.random.default_rng([seed, int(1000 * a)]).normal(size=5)


def toy_fn_other(cfg: dict, seeds):
    return [{"x": -np.ones(5), "mean": -1.0, "pair": (np.float32(s), [s, "other"])} for s in seeds]


def toy_fn_short(cfg: dict, seeds):
    return toy_fn(cfg, seeds)[:-1]  # one result too few


def same(a, b) -> bool:
    """Exact structural equality: same containers, same Python / numpy types, same values (NaN == NaN)."""
    if isinstance(a, dict):
        return type(b) is dict and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or hasattr(a, "__array__") and not isinstance(a, np.generic):
        a = np.asarray(a)
        return (isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if type(a) is not type(b):
        return False
    if isinstance(a, (float, np.floating)) and math.isnan(a):
        return math.isnan(b)
    return a == b


@dataclasses.dataclass(frozen=True)
class ToyConfig(sims.Config):
    amps: tuple[float, ...] = (1.0, 2.0, 0.5)
    n: int = 50
    PRESETS = {"quick": {"amps": (1.0, 2.0)}, "default": {}, "paper": {"n": 200}}


class ToyExperiment(sims.Experiment):
    name = "toy"
    paper = "Toy et al. (2024)"
    description = "A toy: a line as theory, seeded noise as experiment."
    config_cls = ToyConfig

    def run(self, config, ctx):
        res = ctx.sweep(toy_fn, {f"a={a}": {"a": a} for a in config.amps}, desc="toy")
        t = np.linspace(0.0, 1.0, config.n)
        return {"t": t, "theory": {a: a * t for a in config.amps},
                "exp": {k: np.stack([r["x"] for r in v]) for k, v in res.items()},
                "means": {k: [r["mean"] for r in v] for k, v in res.items()}, "seeds": list(ctx.seeds)}

    def claims(self, config, results):
        a = config.amps[0]
        # predicted from the noise directly, measured from the stored results
        pred = [a * noise(a, s).mean() for s in results["seeds"]]
        meas = results["exp"][f"a={a}"].mean(axis=1).tolist()
        return [sims.Claim("toy.mean", "scaled mean matches a direct call", pred, meas, 1e-12,
                           bool(np.allclose(pred, meas, rtol=0, atol=1e-12))),
                sims.Claim("toy.never", "a claim that does not hold", 1.0, 2.0, 0.1, False)]

    def plots(self, config, results, outdir):
        from sims.harness import plotting as P

        fig, axes = P.figure(1, 1)
        for c, a in zip(P.colors(len(config.amps)), config.amps):
            e = results["exp"][f"a={a}"]
            P.theory_and_experiment(axes[0, 0], results["t"], results["theory"][a], e.mean(0), e.min(0), e.max(0),
                                    color=c, label=f"a={a}", t_exp=np.linspace(0, 1, e.shape[1]))
        P.legend(axes[0, 0])
        return [P.save(fig, outdir, "toy")]


@dataclasses.dataclass(frozen=True)
class FailConfig(sims.Config):
    pass


class FailingExperiment(sims.Experiment):
    name = "toyfail"
    paper = "Nobody (2024)"
    description = "Raises inside run."
    config_cls = FailConfig

    def run(self, config, ctx):
        raise RuntimeError("toyfail exploded on purpose")

    def claims(self, config, results):
        return []

    def plots(self, config, results, outdir):
        return []


@pytest.fixture
def toys(monkeypatch):
    """A private registry holding the two toy experiments; real modules are not discovered."""
    monkeypatch.setattr(_experiment, "_REGISTRY", {})
    monkeypatch.setattr(_experiment, "_discover", lambda: None)
    sims.register(ToyExperiment())
    sims.register(FailingExperiment())
    CALLS.clear()
    FAIL.clear()
    yield
    CALLS.clear()
    FAIL.clear()


def ctx_at(path, seeds=(0, 1, 2), executor=None) -> Context:
    return Context(path, seeds=seeds, scale="quick", executor=executor or LocalExecutor(), progress=False)


# ------------------------------------------------------------------------------------------------ store
def test_atomic_write_replaces_or_leaves_untouched(tmp_path):
    p = tmp_path / "f.json"
    atomic_write(p, "old")
    with pytest.raises(RuntimeError):
        with atomic_writer(p, "w") as f:
            f.write("half-written")
            raise RuntimeError("crash mid-write")
    assert p.read_text() == "old"
    atomic_write(p, b"new")
    assert p.read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path)) == ["f.json"]  # no temporary file left behind
    with pytest.raises(ValueError, match="mode"):
        with atomic_writer(p, "a"):
            pass


def test_tree_round_trip(tmp_path):
    import jax.numpy as jnp

    tree = {
        "theory": {"jepa/L=2": np.linspace(0, 1, 7), 3: [np.float32(2.5), (1, 2.0, None, "s", True)]},
        "3": jnp.arange(4.0),  # str "3" next to int 3 in another dict; a JAX array comes back as numpy
        "dtypes": [np.arange(6, dtype=np.int64).reshape(2, 3), np.asfortranarray(np.eye(3, dtype=np.float32)),
                   np.array([True, False]), np.array([1 + 2j]), np.array(7.0), np.zeros((0, 4)),
                   np.array(["ab", "c"])],
        "nums": {"nan": math.nan, "inf": -math.inf, "big": 2**70, "z": 1 - 3j, "np": np.int16(-3)},
        "empty": {"list": [], "dict": {}, "tuple": ()},
    }
    back = load_tree(save_tree(tmp_path / "t.npz", tree))
    expect = dict(tree, **{"3": np.arange(4.0, dtype=np.float32)})
    assert same(expect, back)
    arrays, _ = flatten(tree)
    assert "theory/jepa%2FL=2" in arrays  # readable entry names; '/' inside a key escaped
    with pytest.raises(TypeError, match="object array at a"):
        flatten({"a": np.array([{}, 1], dtype=object)})
    with pytest.raises(TypeError, match="dict keys"):
        flatten({(1, 2): 1.0})
    with pytest.raises(TypeError, match="unsupported leaf"):
        flatten({"f": lambda: 0})


# ------------------------------------------------------------------------------------------------ sweeps
def test_sweep_equals_direct_calls_keeps_finished_work_and_resumes(tmp_path, toys):
    configs = {"a=1": {"a": 1.0}, "a=2": {"a": 2.0}, "bad": {"a": 3.0}}
    FAIL.add(3.0)
    with pytest.raises(SweepError, match="bad") as err:
        ctx_at(tmp_path).sweep(toy_fn, configs)
    assert set(err.value.failures) == {"bad"} and isinstance(err.value.__cause__, RuntimeError)
    store = RunStore(tmp_path)
    for key in ("a=1", "a=2"):  # the configurations that finished are stored despite the failure
        assert store.stored_seeds(toy_fn, key, configs[key], [0, 1, 2]) == [0, 1, 2]
    assert store.stored_seeds(toy_fn, "bad", configs["bad"], [0, 1, 2]) == []
    assert sorted(CALLS) == [(1.0, (0, 1, 2)), (2.0, (0, 1, 2)), (3.0, (0, 1, 2))]  # one call per config

    # re-run with one more seed: only missing seeds are computed, one call per configuration
    FAIL.clear()
    CALLS.clear()
    res = ctx_at(tmp_path, seeds=(0, 1, 2, 3)).sweep(toy_fn, configs)
    assert sorted(CALLS) == [(1.0, (3,)), (2.0, (3,)), (3.0, (0, 1, 2, 3))]
    # the result for each seed equals a direct call with that seed alone (exact: same numpy computation;
    # the np.float32 leaf and the list/tuple containers survive the store)
    for key, cfg in configs.items():
        assert same(res[key], [toy_fn(cfg, [s])[0] for s in (0, 1, 2, 3)])
    # a third run computes nothing and returns the same
    CALLS.clear()
    again = ctx_at(tmp_path, seeds=(3, 0)).sweep(toy_fn, configs)
    assert CALLS == [] and same(again["a=2"], [res["a=2"][3], res["a=2"][0]])


def test_changed_config_or_function_does_not_reuse_units(tmp_path, toys):
    ctx = ctx_at(tmp_path, seeds=(0, 1))
    ctx.sweep(toy_fn, {"k": {"a": 1.0}})
    CALLS.clear()
    res = ctx.sweep(toy_fn, {"k": {"a": 1.5}})  # same key, changed config
    assert CALLS == [(1.5, (0, 1))]
    assert same(res["k"], toy_fn({"a": 1.5}, [0, 1]))
    other = ctx.sweep(toy_fn_other, {"k": {"a": 1.0}})  # same key and config, other function
    assert same(other["k"], toy_fn_other({"a": 1.0}, [0, 1]))
    # an unreadable stored result is computed again, not trusted
    RunStore(tmp_path).unit_path(toy_fn, "k", {"a": 1.5}, 1).write_bytes(b"garbage")
    CALLS.clear()
    res = ctx.sweep(toy_fn, {"k": {"a": 1.5}})
    assert CALLS == [(1.5, (1,))] and same(res["k"], toy_fn({"a": 1.5}, [0, 1]))
    assert len({unit_hash(toy_fn, "k", {"a": 1.0}), unit_hash(toy_fn, "k", {"a": 1.5}),
                unit_hash(toy_fn_other, "k", {"a": 1.0}), unit_hash(toy_fn, "k2", {"a": 1.0})}) == 4


def test_sweep_recomputes_after_code_change(tmp_path, monkeypatch):
    """Stored per-seed results are reused only while the code that made them is unchanged: a unit whose
    module source is edited (here, what it computes) is computed again, so results of old code are never
    mixed into a new run (a stale cache once failed a report with a KeyError on a field added since)."""
    import importlib
    import sys

    mod_dir = tmp_path / "mods"
    mod_dir.mkdir()
    src = mod_dir / "unitmod_tl.py"
    src.write_text("def unit(cfg, seeds):\n    return [{'v': cfg['a'] * s} for s in seeds]\n")
    monkeypatch.syspath_prepend(str(mod_dir))
    mod = importlib.import_module("unitmod_tl")
    try:
        ctx = ctx_at(tmp_path / "run", seeds=(1, 2))
        assert [r["v"] for r in ctx.sweep(mod.unit, {"k": {"a": 3.0}})["k"]] == [3.0, 6.0]
        h0 = unit_hash(mod.unit, "k", {"a": 3.0})
        assert unit_hash(mod.unit, "k", {"a": 3.0}) == h0  # same code, same config: reused
        src.write_text("def unit(cfg, seeds):\n    return [{'v': cfg['a'] * s, 'w': 1.0} for s in seeds]\n")
        os.utime(src, ns=(1, 10**18))  # a distinct mtime even on coarse-clock file systems
        mod = importlib.reload(mod)
        assert unit_hash(mod.unit, "k", {"a": 3.0}) != h0
        res = ctx.sweep(mod.unit, {"k": {"a": 3.0}})["k"]
        assert [r["w"] for r in res] == [1.0, 1.0]  # computed by the new code, not read from the old store
    finally:
        sys.modules.pop("unitmod_tl", None)


def test_sweep_rejects_bad_input(tmp_path, toys):
    ctx = ctx_at(tmp_path)
    with pytest.raises(SweepError) as err:
        ctx.sweep(toy_fn_short, {"k": {"a": 1.0}})
    assert isinstance(err.value.__cause__, ValueError) and "3 per-seed results" in str(err.value.__cause__)
    with pytest.raises(TypeError, match="keys must be str"):
        ctx.sweep(toy_fn, {1: {"a": 1.0}})
    with pytest.raises(ValueError, match="distinct"):
        ctx.sweep(toy_fn, {"k": {"a": 1.0}}, seeds=[1, 1])
    assert check_seeds(3) == (0, 1, 2)
    for bad in (0, [], -2):
        with pytest.raises(ValueError, match="seeds"):
            check_seeds(bad)
    with pytest.raises(ValueError, match="workers"):
        make_executor(workers=0)
    with pytest.raises(ValueError, match="scheduler"):
        make_executor("tcp://nowhere:1", workers=2)


def test_thread_and_dask_sweeps_equal_local_sweep(tmp_path, toys):
    distributed = pytest.importorskip("distributed")
    configs = {f"a={a}": {"a": a} for a in (0.5, 1.0, 2.0)}
    local = ctx_at(tmp_path / "local").sweep(toy_fn, configs)
    with ThreadExecutor(2) as ex:
        threaded = ctx_at(tmp_path / "threads", executor=ex).sweep(toy_fn, configs)
    # --workers 2: two spawned processes (fn and results pickled); the parent's FAIL flag is not seen there either
    with make_executor(workers=2) as ex:
        assert isinstance(ex, ProcessExecutor) and ex.description == "local, 2 processes"
        spawned = ctx_at(tmp_path / "processes", executor=ex).sweep(toy_fn, configs)
    assert same(local, spawned)
    # two worker processes: fn and results really cross process boundaries (pickled)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cl, \
            make_executor(cl.scheduler_address) as ex:
        assert isinstance(ex, DaskExecutor)
        remote = ctx_at(tmp_path / "dask", executor=ex).sweep(toy_fn, configs)
        FAIL.add(2.0)  # local flag only: workers are other processes, so the remote run must not see it
    assert same(local, threaded)  # exact: the same numpy computation in each case
    assert same(local, remote)
    assert sorted(p.name for p in (tmp_path / "dask" / "units").iterdir()) == sorted(configs)


# ------------------------------------------------------------------------------------------------ runner
def test_run_experiment_writes_a_complete_run_dir_and_reanalyses(tmp_path, toys):
    out = tmp_path / "run"
    rec = run_experiment("toy", scale="quick", seeds=[4, 7], out=out, progress=False)
    assert rec.out == out and rec.seeds == (4, 7) and rec.seconds > 0
    assert [c.holds for c in rec.claims] == [True, False]
    assert {p.name for p in (out / "figures").iterdir()} == {"toy.png", "toy.pdf"}
    assert (out / "figures" / "toy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "figures" / "toy.pdf").read_bytes()[:5] == b"%PDF-"
    meta = json.loads((out / "meta.json").read_text())
    assert meta["status"] == "ok" and meta["seeds"] == [4, 7] and meta["scale"] == "quick"
    for lib in ("numpy", "scipy", "sympy", "jax", "equinox", "optax", "diffrax", "matplotlib"):
        assert meta["versions"][lib], lib
    assert set(meta["git"]) == {"revision", "dirty"} and meta["device"]["platform"] in ("cpu", "gpu", "cuda", "tpu")
    assert meta["started"] <= meta["finished"]
    config = json.loads((out / "config.json").read_text())
    assert config["config"] == {"amps": [1.0, 2.0], "n": 50}
    claims = json.loads((out / "claims.json").read_text())
    assert [c["id"] for c in claims] == ["toy.mean", "toy.never"]
    # stored results equal a recomputation from direct calls
    res = RunStore(out).load_results()
    assert same(res["exp"]["a=2.0"], np.stack([toy_fn({"a": 2.0}, [s])[0]["x"] for s in (4, 7)]))
    assert same(res["theory"][2.0], 2.0 * np.linspace(0, 1, 50))  # float dict keys survive the store
    # claims and figures recomputed from the stored run equal the run's own
    os.remove(out / "figures" / "toy.png")
    again = reanalyse(out)
    assert [c.to_dict() for c in again.claims] == claims and (out / "figures" / "toy.png").exists()
    # a second run in the same directory reuses every stored seed
    CALLS.clear()
    run_experiment("toy", scale="quick", seeds=[4, 7], out=out, progress=False)
    assert CALLS == []
    run_experiment("toy", scale="quick", seeds=[4, 7], out=out, progress=False, fresh=True)
    assert len(CALLS) == 2  # fresh: recomputed
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "data.txt").write_text("x")
    with pytest.raises(ValueError, match="not a run directory"):
        run_experiment("toy", scale="quick", seeds=1, out=tmp_path / "precious", fresh=True, progress=False)
    assert (tmp_path / "precious" / "data.txt").exists()


def test_failed_run_records_failure(tmp_path, toys):
    with pytest.raises(RuntimeError, match="on purpose"):
        run_experiment("toyfail", scale="quick", seeds=1, out=tmp_path, progress=False)
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["status"] == "failed" and "on purpose" in meta["traceback"]


# ------------------------------------------------------------------------------------------------ report + CLI
def test_report_with_a_failing_experiment(tmp_path, toys, capsys):
    out = tmp_path / "report"
    assert main(["report", "--out", str(out), "--scale", "quick", "--seeds", "2", "--no-progress"]) == 1
    printed = capsys.readouterr().out
    assert "FAILED: toyfail" in printed and "claims 1/2 hold" in printed
    page = (out / "index.html").read_text()
    for needle in ("toy.mean", "toy.never", "scaled mean matches a direct call", "Toy et al. (2024)",
                   "toyfail exploded on purpose", "class='hold'>yes", "class='fail'>no"):
        assert needle in page, needle
    assert "src='toy/figures/toy.png'" in page and (out / "toy" / "figures" / "toy.png").exists()
    claims = json.loads((out / "claims.json").read_text())
    assert [c["id"] for c in claims] == ["toy.mean", "toy.never"]
    for c in claims:
        assert {"experiment", "id", "statement", "predicted", "measured", "tolerance", "holds"} <= set(c)
        assert c["experiment"] == "toy" and isinstance(c["holds"], bool)
    status = {e["name"]: e["status"] for e in json.loads((out / "experiments.json").read_text())}
    assert status == {"toy": "ok", "toyfail": "failed"}
    # only the working experiment: exit 0 even though one of its claims does not hold
    rep = write_report(out, scale="quick", seeds=2, only=["toy"], progress=False)
    assert rep.ok and [e.name for e in rep.entries] == ["toy"]
    with pytest.raises(ValueError, match="unknown experiment"):
        write_report(out, only=["nope"], progress=False)


def test_cli_list_and_run(tmp_path, toys, capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("toy ") and "Toy et al. (2024)" in lines[0]
    assert main(["run", "toy", "--scale", "quick", "--seeds", "2", "--out", str(tmp_path), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "1/2 claims hold" in printed and "toy.never" in printed and str(tmp_path) in printed
    assert main(["run", "nope"]) == 2
    with pytest.raises(SystemExit):
        main(["run", "toy", "--seeds", "0"])


def test_fmt():
    assert fmt(3.14159265) == "3.142" and fmt(1234567.0) == "1.235e+06" and fmt(2) == "2"
    assert fmt(np.float32(0.1)) == "0.1" and fmt(math.nan) == "nan" and fmt(None) == "-"
    assert fmt(list(range(100))) == "[0, 1, 2, 3, ..., 99] (n=100)"
    assert fmt({"a": 1.23456, "b": [1.0, 2.0]}) == "a: 1.235, b: [1, 2]"


# ------------------------------------------------------------------------------------------------ plotting
def test_plotting_palette_and_save(tmp_path):
    from sims.harness import plotting as P

    for cmap in ("Blues", "viridis"):
        rgb = np.array(P.colors(5, cmap))[:, :3]
        lum = rgb @ np.array([0.2126, 0.7152, 0.0722])  # relative luminance (Rec. 709 weights)
        assert np.all(np.diff(lum) < 0), cmap  # darker = larger parameter
    with pytest.raises(ValueError, match="n must"):
        P.colors(0)
    with pytest.raises(ValueError, match="cmap"):
        P.colors(3, "NoSuchMap")
    fig, axes = P.figure(1, 2, width=3.0)
    assert axes.shape == (1, 2) and tuple(fig.get_size_inches()) == (3.0, 2.6)
    with pytest.raises(ValueError, match="theory must have length 4"):
        P.theory_and_experiment(axes[0, 0], np.arange(4), np.arange(5), color="k")
    with pytest.raises(ValueError, match="both exp_lo and exp_hi"):
        P.theory_and_experiment(axes[0, 0], np.arange(4), np.arange(4), exp_lo=np.arange(4), color="k")
    with pytest.raises(ValueError, match="stem"):
        P.save(fig, tmp_path, "a/b")
    png = P.save(fig, tmp_path, "grid")
    assert png == tmp_path / "grid.png" and (tmp_path / "grid.pdf").exists()
    assert sorted(os.listdir(tmp_path)) == ["grid.pdf", "grid.png"]


# ------------------------------------------------------------------------------------------------ bench
def test_bench_harness(monkeypatch, toys, capsys):
    from sims.harness import bench as _bench

    monkeypatch.setattr(_bench, "_BENCHES", {})
    calls = []
    assert timeit(lambda: calls.append(1), repeat=3, warmup=2) >= 0 and len(calls) == 5

    def good(quick):
        return [BenchResult("fast", 2.0, 0.5, 3.0, note="n=4"), BenchResult("slow", 1.0, 1.0, 3.0)]

    def broken(quick):
        raise RuntimeError("bench broke")

    register_bench("good", good)
    register_bench("good", good)  # idempotent
    register_bench("broken", broken)
    with pytest.raises(ValueError, match="already registered"):
        register_bench("good", broken)
    res = run_benches(quick=True, echo=False)
    by = {r.name: r for r in res}
    assert by["fast"].ratio == 4.0 and by["fast"].met and not by["slow"].met  # 2.0/0.5 = 4 >= 3; 1/1 < 3
    assert by["broken"].error == "RuntimeError: bench broke" and not by["broken"].met
    table = format_bench_table(res)
    assert "4.0x" in table and "ERROR" in table and "n=4" in table
    with pytest.raises(ValueError, match="baseline_s"):
        BenchResult("x", 0.0, 1.0, 2.0)
    assert main(["bench", "--quick", "--only", "good"]) == 1  # "slow" misses its target: a failing exit by default
    assert main(["bench", "--quick", "--only", "good", "--no-check"]) == 0
    assert main(["bench", "--only", "nope"]) == 2


def test_line_keys_draw_the_package_styles_and_reject_unknown_keys():
    """The legend keys every experiment uses come from one table: the proxy lines carry exactly its styles (compared
    with matplotlib's own view of the artist), a label override changes only the label, and a typo is refused."""
    from sims.harness import plotting as P

    fig, axes = P.figure(1, 1)
    ax = axes[0, 0]
    P.line_keys(ax, "theory", "trained", labels={"trained": "gradient ascent"})
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == [P.LINE_KEYS["theory"]["label"], "gradient ascent"]
    assert lines[0].get_linestyle() == "-" and lines[1].get_linestyle() == "--"
    assert lines[1].get_marker() == "o" and len(lines[1].get_xdata()) == 0
    with pytest.raises(ValueError, match="unknown key 'theroy'"):
        P.line_keys(ax, "theroy")
    with pytest.raises(ValueError, match="labels given for keys not drawn"):
        P.line_keys(ax, "theory", labels={"ode": "x"})


def test_fingerprint_covers_the_theory_and_substrate_a_real_unit_imports(monkeypatch):
    """A unit's stored results depend on the theory and substrate code it imports, not only its own module: the
    jepa training unit's fingerprint lists ``theory/jepa.py`` and the training loop, leaves the harness out, and
    changes when the theory module's content changes. (A fingerprint that dropped ``theory/`` once let a rerun
    reuse stale units; the toy-module test above cannot see that.)"""
    import sims.jepa as SJ
    from sims.harness import store

    files = {p.relative_to(store._PACKAGE_ROOT).as_posix() for p in store._code_files(SJ.train_modes)}
    assert {"theory/jepa.py", "theory/__init__.py", "sims/substrate/train.py", "sims/jepa.py"} <= files
    assert not any(f.startswith("sims/harness/") for f in files)
    h0 = store.code_fingerprint(SJ.train_modes)
    real = store._file_digest
    monkeypatch.setattr(store, "_file_digest",
                        lambda path, *a: "edited" if path.endswith("theory/jepa.py") else real(path, *a))
    assert store.code_fingerprint(SJ.train_modes) != h0


class LinkedToyExperiment(ToyExperiment):
    """The toy with evidence links: a real proof id, a figure and a caption."""

    name = "toylinked"
    captions = {"toy": "Theory solid, toy measurement dashed."}
    PROOF = "lidar.the_package_s_lidar_computes_these_formulas"

    def claims(self, config, results):
        return [dataclasses.replace(c, links={"proof": self.PROOF, "figures": ["toy"]})
                for c in super().claims(config, results)]


def test_report_html_structure_links_and_proof_documents(tmp_path, monkeypatch):
    """The rendered report of a quick run, parsed as HTML (not string-matched): every table is laid out inside its
    container (fixed layout at 100% width, cells wrap), every figure has a caption, the claim rows link an
    existing derivation document at an anchor that exists in it, and a second report reuses the documents."""
    from html.parser import HTMLParser

    import proofs as _proofs
    from sims.harness import report as R
    from sims.harness import store as S

    monkeypatch.setattr(_experiment, "_REGISTRY", {})
    monkeypatch.setattr(_experiment, "_discover", lambda: None)
    sims.register(LinkedToyExperiment())
    # only the linked derivation is checked (the whole lidar module is the proofs test's job), and the code
    # fingerprint is pinned: other theory modules may be edited while this runs (it is tested on its own above)
    real_collect = _proofs.collect
    monkeypatch.setattr(_proofs, "collect",
                        lambda papers: [p for p in real_collect(papers) if p.id == LinkedToyExperiment.PROOF])
    monkeypatch.setattr(S, "code_fingerprint", lambda fn: "pinned")
    out = tmp_path / "rep"
    write_report(out, scale="quick", seeds=2, progress=False)

    class Page(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack, self.tags, self.hrefs, self.ids, self.css = [], [], [], set(), ""

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            self.tags.append((tag, list(self.stack)))
            if tag not in ("img", "br", "meta", "link"):
                self.stack.append(tag)
            if "href" in a:
                self.hrefs.append(a["href"])
            if "id" in a:
                self.ids.add(a["id"])

        def handle_endtag(self, tag):
            if tag in self.stack:
                while self.stack.pop() != tag:
                    pass

        def handle_data(self, data):
            if self.stack and self.stack[-1] == "style":
                self.css += data

    page = Page()
    page.feed((out / "index.html").read_text())
    css = page.css.replace("\n", "")
    table_rule = css[css.index("table{"):].split("}")[0]
    assert "table-layout:fixed" in table_rule and "width:100%" in table_rule
    assert "overflow-wrap:anywhere" in css[css.index("th,td{"):].split("}")[0]
    assert any(t == "table" for t, _ in page.tags)
    imgs = [parents for t, parents in page.tags if t == "img"]
    assert imgs and all("figure" in parents for parents in imgs)
    assert sum(t == "figcaption" for t, _ in page.tags) == len(imgs)
    proof_links = [h for h in page.hrefs if h.startswith("proofs/")]
    assert proof_links, page.hrefs
    for h in proof_links:
        doc, anchor = h.split("#")
        assert anchor == LinkedToyExperiment.PROOF
        target = Page()
        target.feed((out / doc).read_text())
        assert anchor in target.ids  # the anchor the row links to exists in the document
    meta = json.loads((out / "proofs" / "lidar.json").read_text())
    assert meta["failed"] == [] and LinkedToyExperiment.PROOF in meta["ids"]
    # a warm report does not re-run the derivations: the documents are untouched
    stamp = (out / "proofs" / "lidar.html").stat().st_mtime_ns
    calls = []
    monkeypatch.setattr(R, "_markdown_page", lambda *a: calls.append(a) or "")
    write_report(out, scale="quick", seeds=2, progress=False)
    assert not calls and (out / "proofs" / "lidar.html").stat().st_mtime_ns == stamp


def test_import_parse_cache_follows_edits(tmp_path):
    """The fingerprint's import parse is cached per (file, mtime, size) (re-parsing the closure cost ~1 s per unit
    and seed); an edited file must be parsed again, so the closure follows the new imports. Compared with the
    imports written into the file."""
    import os

    from sims.harness import store

    f = tmp_path / "mod.py"
    f.write_text("import theory.jepa\nimport numpy\n")
    assert store._imports_of(f, "sims.mod") == {"theory.jepa"}
    assert store._imports_of(f, "sims.mod") == {"theory.jepa"}  # served from the cache
    st = f.stat()
    f.write_text("from theory import lidar\n")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a new mtime even on coarse clocks
    assert store._imports_of(f, "sims.mod") == {"theory", "theory.lidar"}


def test_dask_workers_get_the_persistent_compile_cache(tmp_path, monkeypatch):
    """``DaskExecutor`` turns JAX's persistent compilation cache on in every worker process (the CLI's default
    locally); with ``compile_cache=False`` the workers keep JAX's default (no cache directory). Read back from the
    worker processes' own JAX configuration, not from this process."""
    distributed = pytest.importorskip("distributed")
    monkeypatch.setenv("THEORYLAB_JAX_CACHE", str(tmp_path / "jaxcache"))  # spawned workers inherit the environment

    def cache_dir_on_worker():
        import jax

        return jax.config.jax_compilation_cache_dir

    with distributed.LocalCluster(n_workers=1, processes=True, threads_per_worker=1, dashboard_address=None) as cl:
        with make_executor(cl.scheduler_address) as ex:
            assert set(ex.client.run(cache_dir_on_worker).values()) == {str(tmp_path / "jaxcache")}
    with distributed.LocalCluster(n_workers=1, processes=True, threads_per_worker=1, dashboard_address=None) as cl:
        with make_executor(cl.scheduler_address, compile_cache=False) as ex:
            assert set(ex.client.run(cache_dir_on_worker).values()) == {None}


def test_report_in_two_processes_equals_the_sequential_report(tmp_path, toys):
    """``jobs=2`` runs the experiments in spawned processes: the same claims file (byte for byte: same code, same
    seeds), the entries in name order, a failing experiment recorded with its traceback. Compared with ``jobs=1``."""
    one = write_report(tmp_path / "one", scale="quick", seeds=2, progress=False)
    two = write_report(tmp_path / "two", scale="quick", seeds=2, progress=False, jobs=2)
    assert [e.name for e in two.entries] == [e.name for e in one.entries] == ["toy", "toyfail"]
    assert [e.status for e in two.entries] == ["ok", "failed"]
    assert "toyfail exploded on purpose" in two.entries[1].error
    assert (tmp_path / "two" / "claims.json").read_text() == (tmp_path / "one" / "claims.json").read_text()
    assert (tmp_path / "two" / "toy" / "figures" / "toy.png").exists()
    with pytest.raises(ValueError, match="jobs"):
        write_report(tmp_path / "x", jobs=0, progress=False)
    with pytest.raises(TypeError, match="jobs"):
        write_report(tmp_path / "x", jobs=True, progress=False)
    with pytest.raises(ValueError, match="executor"):
        write_report(tmp_path / "x", jobs=2, executor=make_executor(), progress=False)
    assert main(["report", "--out", str(tmp_path / "x"), "--jobs", "2", "--workers", "2"]) == 2


def test_report_workers_share_the_blas_threads():
    """Each of the report's ``jobs`` processes limits BLAS/LAPACK to its share of the cores (multithreaded OpenBLAS
    spins when every core is busy: numpy ``eigh`` 30x slower). Read back from threadpoolctl in a fresh process."""
    import os
    import subprocess
    import sys

    code = ("from sims.harness.executor import share_cores; share_cores(2); from threadpoolctl import threadpool_info; "
            "print(sorted({i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.strip() == str([max(1, (os.cpu_count() or 1) // 2)])


def test_report_order_longest_first(tmp_path):
    """A fresh report directory starts its experiments in the order of the cold-run hint (longest first); an earlier
    run's own ``meta.json`` seconds override the hint; an unknown experiment without a run counts as short."""
    import json

    from sims.harness.report import _COLD_SECONDS_HINT, _previous_seconds

    assert _previous_seconds(tmp_path / "bottleneck", "bottleneck") == _COLD_SECONDS_HINT["bottleneck"]
    assert max(_COLD_SECONDS_HINT, key=_COLD_SECONDS_HINT.get) == "bottleneck"
    assert _previous_seconds(tmp_path / "nothing", "nothing") == -1.0
    (tmp_path / "bottleneck").mkdir()
    (tmp_path / "bottleneck" / "meta.json").write_text(json.dumps({"seconds": 12.5}))
    assert _previous_seconds(tmp_path / "bottleneck", "bottleneck") == 12.5
    assert set(_COLD_SECONDS_HINT) == set(_experiment.registry()), "every experiment needs a hint (and no stale names)"


def test_bench_experiment_row_flags_the_budget(monkeypatch):
    """The bench's experiment row says when a default-scale cold run is over the 3-minute budget (and not otherwise).
    The two ``python -m sims run`` processes are replaced by a fake clock: cold 200 s, warm 20 s, then 100 s / 10 s."""
    import subprocess
    import types

    from sims.harness import bench as _bench

    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd) or types.SimpleNamespace(returncode=0))
    for cold, warm, over in ((200.0, 20.0, True), (100.0, 10.0, False)):
        clock = iter([0.0, cold, 0.0, warm])
        monkeypatch.setattr(_bench, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
        row = _bench._experiment_time("toy", "default", echo=False)
        assert (row.baseline_s, row.candidate_s) == (cold, warm)
        assert ("OVER the budget by 20 s" in row.note) is over
    assert [c[c.index("run") + 1] for c in calls] == ["toy"] * 4
