"""Abstract symbols in template tasks (Boix-Adserà et al., ICLR 2024): theory.symbols against brute-force
definitions, an independent Monte Carlo of the kernel and of its Taylor coefficients, and two-sample tests."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import symbols as S

SET = settings(deadline=None, max_examples=30, derandomize=True)
FEW = settings(deadline=None, max_examples=4, derandomize=True)
seeds = st.integers(0, 2**31 - 1)
symbols_ = st.sampled_from(["A", "B", "C", "D", 0, 1])
templates = st.lists(symbols_, min_size=1, max_size=5).map(tuple)


# --------------------------------------------------------------------------- independent references


def brute_equivalent(t1, t2) -> bool:
    """The paper's definition written out: wildcard positions, regular tokens, pairwise equalities."""
    if len(t1) != len(t2):
        return False
    for a, b in zip(t1, t2):
        if isinstance(a, str) != isinstance(b, str):
            return False
        if not isinstance(a, str) and a != b:
            return False
    k = len(t1)
    return all((t1[i] == t1[j]) == (t2[i] == t2[j]) for i in range(k) for j in range(k))


def brute_substitution(template, tokens) -> dict | None:
    """The substitution that maps the template onto the string, or None if the string is not an instance."""
    sub = {}
    for s, t in zip(template, tokens):
        if isinstance(s, str):
            if sub.setdefault(s, int(t)) != int(t):
                return None
        elif s != t:
            return None
    return sub


def all_tasks():
    return [S.aba_vs_abb(), S.aabb_vs_abab(), S.same_different(), S.majority(4), S.counting(4), S.copy_task(2),
            S.random_template_task(3, 1, 4, 5, seed=3)]


# --------------------------------------------------------------------------- template tasks


@SET
@given(task_i=st.integers(0, 6), seed=seeds)
def test_substitutions_injective_and_labels_follow_template(task_i, seed):
    task = all_tasks()[task_i]
    sp_ = S.make_splits(task, 40, 40, n_val=10, seed=seed)
    for part in (sp_.train, sp_.val, sp_.test):
        for tok, lab, ti in zip(part.tokens, part.labels, part.template):
            t = task.templates[ti]
            sub = brute_substitution(t, tok)
            assert sub is not None  # the string instantiates its template
            assert len(set(sub.values())) == len(sub)  # injective
            assert all(v >= task.n_regular for v in sub.values())  # wildcards never take a regular token
            assert S.template_of(task, tok) == ti  # the equality pattern identifies the template
            expect = task.labels[ti]
            if task.label_type == "next_token" and isinstance(expect, str):
                expect = sub[expect]
            assert lab == expect == S.label_of(task, tok)  # a function of the template (and the substitution)
            assert np.array_equal(S.equality_pattern(tok), S.equality_pattern(t))  # XX^T = template pattern


@SET
@given(task_i=st.integers(0, 6), seed=seeds, n=st.integers(4, 60))
def test_token_ranges_disjoint(task_i, seed, n):
    task = all_tasks()[task_i]
    sp_ = S.make_splits(task, n, 30, n_val=7, seed=seed)
    r = sp_.ranges
    assert r.regular[1] == r.train[0] and r.train[1] == r.val[0] and r.val[1] == r.test[0]
    assert r.train[1] - r.train[0] == n  # n = train alphabet size = #samples (the paper's convention)
    sets = []
    for part, (lo, hi) in ((sp_.train, r.train), (sp_.val, r.val), (sp_.test, r.test)):
        wild = {int(v) for tok, ti in zip(part.tokens, part.template)
                for v, s in zip(tok, task.templates[ti]) if isinstance(s, str)}
        assert all(lo <= v < hi for v in wild)
        sets.append(wild)
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])


@SET
@given(a=templates, b=templates, c=templates)
def test_equivalence_matches_definition_and_is_equivalence_relation(a, b, c):
    eq = S.templates_equivalent
    assert eq(a, b) == brute_equivalent(a, b)
    assert eq(a, a)
    assert eq(a, b) == eq(b, a)
    if eq(a, b) and eq(b, c):
        assert eq(a, c)
    assert eq(a, b) == (S.canonical_template(a) == S.canonical_template(b))


@SET
@given(a=templates, b=templates, perm=st.permutations(["A", "B", "C", "D"]))
def test_equivalence_invariant_under_renaming_wildcards(a, b, perm):
    ren = dict(zip(["A", "B", "C", "D"], [p + "'" for p in perm]))
    ra = tuple(ren[s] if isinstance(s, str) else s for s in a)
    assert S.templates_equivalent(a, ra)
    assert S.templates_equivalent(ra, b) == S.templates_equivalent(a, b)


def test_task_with_equivalent_templates_names_them():
    with pytest.raises(ValueError, match=r"ABA.*CDC"):
        S.template_task(["ABA", "ABB", "CDC"], [1, -1, 1])
    with pytest.raises(ValueError, match="same length"):
        S.template_task(["AB", "ABA"], [1, -1])
    with pytest.raises(ValueError, match="absent"):
        S.template_task(["AB"], ["C"], label_type="next_token")
    with pytest.raises(TypeError):
        S.template_task(["AB"], ["x"])
    with pytest.raises(ValueError, match="fewer"):
        S.sample_strings(S.aba_vs_abb(), (0, 1), 3)


def test_named_tasks():
    assert S.majority(2).labels == S.same_different().labels
    assert [S.canonical_template(t) for t in S.majority(2).templates] == \
        [S.canonical_template(t) for t in S.same_different().templates]
    assert len(S.majority(6).templates) == 32 and len(S.counting(5).templates) == 16
    assert S.counting(5).n_regular == 5
    for name in S.NAMED_TASKS:
        kw = {"length": 3} if name in ("majority", "counting") else {}
        if name == "random_template_task":
            kw = {"n_wildcards": 2, "n_regular": 1, "n_templates": 3, "length": 4}
        t = S.named_task(name, **kw)
        for i, j in itertools.combinations(range(len(t.templates)), 2):
            assert not brute_equivalent(t.templates[i], t.templates[j])


# --------------------------------------------------------------------------- kernel

tok3 = st.lists(st.integers(0, 3), min_size=3, max_size=3)


@SET
@given(x=tok3, y=tok3, gamma=st.floats(0, 2), seed=seeds)
def test_kernel_mc_at_beta0_equals_closed_form(x, y, gamma, seed):
    # at beta = 0 the integrand is the constant 1'(C + gamma^2 I)1/k^2: agreement to rounding
    e = S.kernel_mc(x, y, 0.0, gamma, n_draws=1000, seed=seed % 1000)
    assert e.stderr == 0.0
    assert e.mean == pytest.approx(S.kernel_beta0(x, y, gamma), rel=1e-12, abs=1e-12)
    expr = S.kernel_beta0_expr().subs(S.GAMMA, gamma)
    assert S.evaluate_kernel_expr(expr, x, y) == pytest.approx(S.kernel_beta0(x, y, gamma), rel=1e-12)


@FEW
@given(x=tok3, y=tok3, seed=seeds)
def test_wick_coefficients_match_monte_carlo_taylor_coefficients(x, y, seed):
    # independent route: per draw the exact truncated power series of the integrand, averaged. Tolerance 4.5 standard
    # errors per coefficient (about 20 nonzero coefficients over the examples: a false alarm has probability ~1e-4);
    # coefficients with no Gaussian factor have zero variance and must agree to rounding.
    m, se = S.kernel_taylor_mc(x, y, 4, 4, n_draws=20_000, seed=seed % 10_000)
    for s1, s2 in itertools.product(range(5), range(5)):
        sym = S.evaluate_kernel_expr(S.kernel_taylor_coefficient(s1, s2), x, y)
        assert abs(sym - m[s1, s2]) <= 4.5 * se[s1, s2] + 1e-10, (s1, s2, sym, m[s1, s2], se[s1, s2])


@SET
@given(x=tok3, y=tok3)
def test_binary_specialisation_equals_general_gaussian_form(x, y):
    # the string form (0/1 entries collapse, unit diagonals) and the general Gaussian form evaluate alike on strings
    for s1, s2 in ((2, 0), (2, 2), (4, 0), (4, 2)):
        a = S.evaluate_kernel_expr(S.kernel_taylor_coefficient(s1, s2), x, y)
        b = S.evaluate_kernel_expr(S.kernel_taylor_coefficient(s1, s2, binary=False), x, y)
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12)


def test_kernel_taylor_polynomial_matches_mc_at_small_beta():
    # kappa(0.2, 0.7) by direct Monte Carlo vs the Wick Taylor polynomial through beta^4 (all gamma orders). The
    # truncation is beta^6 |c_6| (1 + ...) ~ 0.2^6 * 0.5 = 3e-5, far below 4 standard errors (~6e-4).
    x, y = [0, 1, 0], [0, 2, 2]
    e = S.kernel_mc(x, y, 0.2, 0.7, n_draws=200_000, seed=5)
    poly = sum(0.2 ** s1 * 0.7 ** s2 * S.evaluate_kernel_expr(S.kernel_taylor_coefficient(s1, s2), x, y)
               for s1 in range(0, 5, 2) for s2 in range(0, 9, 2))
    assert abs(e.mean - poly) <= 4 * e.stderr + 3e-5


def test_printed_expansions():
    # the paper's computer-algebra companion prints kappa(0,0) = c1 1'XY'1 and d2b d2g kappa = c1 1'XY'1 + c2 tr(XY')
    names = lambda e: {i.name for i in S.kernel_invariants(e)}  # noqa: E731
    assert names(S.kernel_derivative(0, 0)) == {"1ᵀXYᵀ1"}
    assert names(S.kernel_derivative(2, 2)) == {"1ᵀXYᵀ1", "tr(XYᵀ)"}
    assert "1ᵀXXᵀXYᵀ1" in names(S.kernel_derivative(4, 0))
    for s in range(0, 9, 2):  # the beta = 0 terms depend only on 1'XY'1
        assert names(S.kernel_taylor_coefficient(0, s)) <= {"1ᵀXYᵀ1"}
    assert S.kernel_derivative(3, 2) == 0 and S.kernel_derivative(2, 1) == 0


@SET
@given(x=tok3, y=tok3, perm=st.permutations(range(4)))
def test_disjoint_tokens_depend_only_on_equality_patterns(x, y, perm):
    y = [v + 10 for v in y]  # no shared token
    xr = [perm[v] + 20 for v in x]  # same equality pattern, other tokens
    for s1, s2 in ((2, 0), (4, 0), (4, 2), (4, 4)):
        full = S.kernel_taylor_coefficient(s1, s2)
        red = S.disjoint_tokens(full)
        assert S.equality_pattern_only(red)
        assert S.evaluate_kernel_expr(full, x, y) == pytest.approx(S.evaluate_kernel_expr(red, x, y), abs=1e-12)
        assert S.evaluate_kernel_expr(full, x, y) == pytest.approx(S.evaluate_kernel_expr(full, xr, y), abs=1e-12)


def test_disjoint_kernel_mc_invariant_under_relabelling():
    # Monte Carlo: relabelling the tokens of x (x and y disjoint) leaves kappa unchanged within 4 combined standard
    # errors (independent draws: the vocabulary order differs)
    a = S.kernel_mc([0, 1, 0], [5, 6, 6], 2.0, 1.0, n_draws=100_000, seed=1)
    b = S.kernel_mc([3, 9, 3], [5, 6, 6], 2.0, 1.0, n_draws=100_000, seed=2)
    assert abs(a.mean - b.mean) <= 4 * math.hypot(a.stderr, b.stderr)


@pytest.mark.claim("symbols.kernel_template_gap")
def test_template_gap_positive_and_growing():
    # kappa(ABA, A'B'A') - kappa(ABA, A'B'B') > 0, growing with beta; common random numbers (same seed, same
    # vocabulary size) so the difference has a small standard error. Symbolically the first template-dependent
    # term is 1'XX'YY'1/k^4 at beta^4 gamma^2 (9 vs 8 for these patterns), positive as well.
    x = [0, 1, 0]
    gaps = []
    for beta in (1.0, 2.0, 3.0):
        a = S.kernel_mc(x, [5, 6, 5], beta, 1.0, n_draws=100_000, seed=7)
        b = S.kernel_mc(x, [5, 6, 6], beta, 1.0, n_draws=100_000, seed=7)
        gaps.append(a.mean - b.mean)
        if beta > 1:  # the unpaired standard error bounds the paired one from above (positively correlated draws)
            assert a.mean - b.mean > 4 * math.hypot(a.stderr, b.stderr)
    assert gaps[0] < gaps[1] < gaps[2]
    red = S.disjoint_tokens(S.kernel_taylor_coefficient(4, 2))
    assert S.evaluate_kernel_expr(red, x, [5, 6, 5]) - S.evaluate_kernel_expr(red, x, [5, 6, 6]) == \
        pytest.approx(1 / 81)


def test_realize_matches_numeric_evaluation():
    x, y = [0, 1, 0], [0, 2, 2]
    A, B, C = (sp.Matrix(m.astype(int).tolist()) for m in S._abc(x, y))
    for s1, s2 in ((2, 0), (4, 2)):
        e = S.kernel_taylor_coefficient(s1, s2)
        assert float(S.realize_kernel_expr(e, A, B, C)) == pytest.approx(S.evaluate_kernel_expr(e, x, y), abs=1e-12)


# --------------------------------------------------------------------------- MLP failure


@pytest.mark.claim("symbols.mlp_same_law", "symbols.mlp_chance")
def test_mlp_outputs_on_fresh_aba_abb_identically_distributed():
    # two-sample KS at a fixed seed: without the XX^T input the laws are equal (p well above 0.01); the negative
    # control with the XX^T input separates them (p < 1e-6).
    out = S.fresh_token_mlp_outputs(["ABA", "ABB"], n_draws=4000, seed=0)
    assert S.two_sample_test(out[0], out[1]) > 0.01
    aug = S.fresh_token_mlp_outputs(["ABA", "ABB"], n_draws=4000, xxt_weight=3.0, seed=0)
    assert S.two_sample_test(aug[0], aug[1]) < 1e-6
    # test MSE on +-1 labels of a label-independent predictor: 1 + E f^2 >= 1 (empirical vs formula, 4 se)
    f = np.concatenate([out[0], out[1]])
    y = np.concatenate([np.ones(4000), -np.ones(4000)])
    mse = np.mean((f - y) ** 2)
    pred = S.label_independent_mse(float(f.mean()), float(f.var()))
    assert mse >= 1.0 - 4 * np.std((f - y) ** 2) / np.sqrt(f.size)
    assert mse == pytest.approx(pred, abs=4 * np.std((f - y) ** 2) / np.sqrt(f.size))


@pytest.mark.claim("symbols.mlp_chance")
def test_mlp_indistinguishable():
    assert S.mlp_indistinguishable("ABA", "ABB") and S.mlp_indistinguishable("AABB", "ABAB")
    assert not S.mlp_indistinguishable("AB0", "A0B") and not S.mlp_indistinguishable("AB", "ABA")
    # a regular token at a different position is visible: the negative control separates them
    out = S.fresh_token_mlp_outputs(["AB0", "A0B"], n_draws=4000, seed=1)
    assert S.two_sample_test(out[0], out[1]) < 1e-6


# --------------------------------------------------------------------------- inverse scaling


@pytest.mark.claim("symbols.projected_energy", "symbols.copy_inverse_scaling")
@SET
@given(d=st.integers(2, 40), frac=st.floats(0, 1), seed=st.integers(0, 1000))
def test_projected_energy_fraction_matches_mc(d, frac, seed):
    n = int(round(frac * d))
    e = S.projected_energy_mc(n, d, n_draws=400, seed=seed)
    # 5 standard errors (the fraction is Beta distributed; n = 0 or n = d give zero variance, exact)
    assert abs(e.mean - S.projected_energy_fraction(n, d)) <= 5 * e.stderr + 1e-12


@pytest.mark.claim("symbols.copy_inverse_scaling")
def test_copy_samples_needed_linear_in_d():
    ds = np.array([64, 128, 256, 512, 1024, 2048, 4096])
    ns = np.array([S.copy_samples_needed(int(d)) for d in ds])
    slope = np.polyfit(np.log(ds), np.log(ns), 1)[0]
    assert slope == pytest.approx(S.INVERSE_SCALING_SLOPE, abs=0.01)
    assert all(S.copy_samples_needed(int(d), vo_identity=True) == 1 for d in ds)
    assert S.projected_energy_fraction(10, 5) == 1.0


# --------------------------------------------------------------------------- argument checks


@pytest.mark.parametrize("call, err", [
    (lambda: S.kernel_mc([0, 1], [0, 1, 2], 1.0, 1.0), ValueError),
    (lambda: S.kernel_mc([0, 1], [0, 1], -1.0, 1.0), ValueError),
    (lambda: S.kernel_mc([0, 1], [0, 1], "1", 1.0), TypeError),
    (lambda: S.kernel_taylor_coefficient(7, 0), ValueError),
    (lambda: S.kernel_taylor_coefficient(2.0, 0), TypeError),
    (lambda: S.parse_template(""), ValueError),
    (lambda: S.template_task(["AB", "AB"], [1, 2]), ValueError),
    (lambda: S.template_task(["A", True], [1, 2]), TypeError),
    (lambda: S.projected_energy_fraction(3, 0), ValueError),
    (lambda: S.copy_samples_needed(10, energy=0.0), ValueError),
    (lambda: S.majority(13), ValueError),
    (lambda: S.substitute("AB", {"A": 1, "B": 1}), ValueError),
])
def test_argument_checks(call, err):
    with pytest.raises(err):
        call()


# --------------------------------------------------------------------------- experiment machinery (sims.symbols)


@settings(deadline=None, max_examples=3, derandomize=True)
@given(a=st.lists(st.floats(-3, 3), min_size=2, max_size=2), b=st.lists(st.floats(-3, 3), min_size=2, max_size=2),
       seed=st.integers(0, 1000))
def test_gated_off_identity_terms_equal_plain_attention_exactly(a, b, seed):
    # the experiment trains every variant with both scalars present and multiplies them by a 0/1 gate; with the gate
    # at 0 the model must equal the plain transformer (no identity terms) bit for bit, whatever a and b hold
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    from sims import symbols as SS
    from sims.substrate.transformer import Transformer, TransformerConfig

    kw = dict(vocab=11, d_model=8, n_heads=2, n_layers=2, max_len=4, init_std=0.3)
    key = jax.random.PRNGKey(seed)
    plain = Transformer(TransformerConfig(**kw), key=key)
    ident = Transformer(TransformerConfig(**kw, qk_identity=True, vo_identity=True), key=key)
    ident = eqx.tree_at(lambda m: [blk.attn.a for blk in m.blocks] + [blk.attn.b for blk in m.blocks], ident,
                        [jnp.asarray(a, jnp.float32)] * 2 + [jnp.asarray(b, jnp.float32)] * 2)
    tokens = jnp.asarray([3, 7, 3, 0])
    run = eqx.filter_jit(lambda m, t: m(t))
    off = SS._gate(ident, 0, 0, 1.0, 100.0)
    assert np.array_equal(np.asarray(run(off, tokens)), np.asarray(run(plain, tokens)))
    on = SS._gate(ident, 1, 1, 1.0, 1.0)
    if max(map(abs, a + b)) > 0.1:  # the gate on does change the output (a negative control)
        assert not np.allclose(np.asarray(run(on, tokens)), np.asarray(run(plain, tokens)), atol=1e-6)


def test_crossing_and_slope_helpers():
    from sims import symbols as SS

    ns = [16, 32, 64, 128]
    # log-linear interpolation: error 1 at 32, 0 at 64 -> 0.5 at sqrt(32 * 64)
    assert SS._crossing(ns, [1.0, 1.0, 0.0, 0.0]) == pytest.approx(math.sqrt(32 * 64))
    assert np.isinf(SS._crossing(ns, [1.0, 0.9, 0.8, 0.7]))
    assert SS._slope([32, 64, 128], np.array([10.0, 20.0, 40.0])) == pytest.approx(1.0)


def test_splits_keep_fresh_tokens_apart():
    # the experiment's vocabulary layout: training tokens, validation and test tokens never overlap
    from sims import symbols as SS

    d = SS._split(S.aba_vs_abb(), 64, 32, 0, 256)
    tr, va, te = (set(np.unique(d[k][0])) for k in ("train", "val", "test"))
    assert not (tr & va) and not (tr & te) and not (va & te)
    assert max(tr) < 1 + 256 <= min(va) and max(va) < 1 + 256 + 32 <= min(te) and max(te) < d["vocab"]


def _fake_symbols_results(cfg, plain_end=0.05):
    """Results shaped like a run's (2 seeds): curves that cross 0.5 where the claims expect, by construction."""
    from sims import symbols as SS

    S_, ns, V = 2, np.array(cfg.reg_ns, float), len(cfg.reg_variants)
    labs = [SS.VARIANTS[i][0] for i in cfg.reg_variants]
    shift = {"transformer": 0.0, "+a I (KQ)": 4.0, "+b I (VO)": 0.5, "+a I, +b I": 4.0}
    lg = np.log2(ns / ns[0])
    curves = np.stack([np.clip(1.2 - 0.35 * (lg + shift[lab]), 0, None) for lab in labs])  # [V, n]
    curves[0, -1] = plain_end
    reg = {"test_mse": np.broadcast_to(curves, (S_, V, len(ns))).copy(), "a_abs": np.zeros((S_, V, len(ns))),
           "test_curve": np.broadcast_to(curves[..., None], (S_, V, len(ns), 2)).copy(),
           "curve_steps": np.tile([0, cfg.reg_steps], (S_, 1))}
    m = len(cfg.mlp_ns)
    mlp = {"test_mse": np.stack([np.ones((S_, m)), np.full((S_, m), 0.01)], 1), "mean_pos": np.zeros((S_, 2, m)),
           "mean_neg": np.zeros((S_, 2, m)), "diff_se": np.full((S_, 2, m), 0.01)}
    ll = {"test_mse": np.broadcast_to(np.linspace(1.0, 0.5, len(cfg.ll_scales))[:, None],
                                      (S_, len(cfg.ll_scales), len(cfg.ll_ns))).copy()}
    cns = np.array(cfg.copy_ns, float)
    copy = {f"d{d}": {"plain_best": np.tile(np.clip(1 - np.log(cns / d) / 3, 0, 1), (S_, 1)),
                      "vo_best": np.zeros((S_, len(cfg.copy_vo_ns))), "b_eff": np.ones((S_, len(cfg.copy_vo_ns)))}
            for d in cfg.copy_ds}
    pred = np.array([S.projected_energy_fraction(n, d) for n, d in cfg.energy_pairs])
    th = {"gap": np.array([[0.01, 0.02, 0.03]]), "gap_se": np.full((1, 3), 1e-3), "kappa": np.ones((1, 3)),
          "energy": pred[None], "energy_se": np.full((1, len(pred)), 1e-3)}
    tasks = {t: reg for t in cfg.reg_tasks}
    return {"reg": tasks, "mlp": {t: mlp for t in cfg.reg_tasks}, "lastlayer": ll, "copy": copy, "theory": th}


@pytest.mark.parametrize("scale", ["default", "paper"])
def test_claims_and_plots_from_synthetic_results(tmp_path, scale):
    # claim and plot code on results shaped like a run's, for the default variants (plain, +a I, +b I) and the
    # paper preset's four: the claims index the variant axis by label, so both layouts give the same verdicts
    from sims import symbols as SS

    cfg = SS.SymbolsConfig.preset(scale)
    exp = SS.SymbolsExperiment()
    claims = {c.id: c for c in exp.claims(cfg, _fake_symbols_results(cfg))}
    for c in claims.values():
        assert c.statement and c.kind in ("claim", "check") and (c.holds or c.finding), c.id
    # constructed: +a I is 16x ahead of the plain curve in n, the plain model ends at 0.05, n* = e^{1.5} d (slope 1)
    assert claims["symbols.transformer_learns"].holds and claims["symbols.kq_identity_fewer_samples"].holds
    assert claims["symbols.copy_inverse_scaling"].measured == pytest.approx(1.0, abs=1e-6)
    assert ("symbols.tasks_identity_helps" in claims) == (scale == "paper")
    bad = {c.id: c for c in exp.claims(cfg, _fake_symbols_results(cfg, plain_end=0.9))}
    assert not bad["symbols.transformer_learns"].holds and bad["symbols.transformer_learns"].finding
    pngs = exp.plots(cfg, _fake_symbols_results(cfg), tmp_path)
    assert all(p.exists() for p in pngs) and len(pngs) == (3 if scale == "paper" else 2)


@pytest.mark.slow
def test_quick_run_produces_complete_claims(tmp_path):
    from sims.harness.runner import run_experiment

    rec = run_experiment("symbols", scale="quick", seeds=1, out=tmp_path, progress=False)
    ids = {c.id for c in rec.claims}
    assert {"symbols.mlp_chance", "symbols.mlp_same_law", "symbols.mlp_xxt_learns", "symbols.transformer_learns",
            "symbols.kq_identity_fewer_samples", "symbols.lastlayer_init_scale", "symbols.copy_inverse_scaling",
            "symbols.copy_vo_identity", "symbols.kernel_template_gap", "symbols.projected_energy"} <= ids
    for c in rec.claims:
        assert c.statement and c.kind in ("claim", "check") and isinstance(c.holds, bool)
        assert c.holds or c.finding, c.id
        assert c.links.get("figures") or c.links.get("tests"), c.id
