r"""Derivations behind LiDAR (Thilak et al., ICLR 2024): invariances, range, limits in delta.

Notation as in :mod:`theory.lidar`: class means :math:`m_i`, grand mean :math:`\bar m`, views
:math:`e_{ij}`, :math:`\Sigma_b = \frac1{n-1}\sum_i(m_i-\bar m)(m_i-\bar m)^\top`,
:math:`\Sigma_w = \frac{1}{n(q-1)}\sum_{ij}(e_{ij}-m_i)(e_{ij}-m_i)^\top`, and the LDA spectrum
:math:`\lambda = \mathrm{spec}(\Sigma_w^{-1/2}\Sigma_b\Sigma_w^{-1/2})`. The scatter identities are
checked on explicit small instances (3 classes x 2 views x 2 features, fully symbolic entries); the
matrix identities with generic matrix symbols. The first derivation ties these symbolic scatters to the
package: :func:`theory.lidar.scatter_matrices` and :func:`theory.lidar.lidar` are evaluated on explicit instances and
must equal the formulas the other derivations manipulate. The properties are derived here, not quoted from the paper.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from theory import lidar as TL

from ._core import Proof, Step

PAPER = "lidar"

_N, _Q, _D = 3, 2, 2  # explicit instance: classes, views, features


def _views(name: str = "e"):
    """Symbolic views e[i][j] (2-vectors) of 3 classes x 2 views."""
    return [[sp.Matrix([sp.Symbol(f"{name}_{i}{j}{k}", real=True) for k in range(_D)]) for j in range(_Q)]
            for i in range(_N)]


def _scatter(views):
    n, q = len(views), len(views[0])
    means = [sum(v, sp.zeros(_D, 1)) / q for v in views]
    grand = sum(means, sp.zeros(_D, 1)) / n
    sb = sum(((m - grand) * (m - grand).T for m in means), sp.zeros(_D, _D)) / (n - 1)
    sw = sum(((e - means[i]) * (e - means[i]).T for i, v in enumerate(views) for e in v), sp.zeros(_D, _D)) / (n * (q - 1))
    return means, grand, sb, sw


def _package_link() -> Proof:
    """The package's numeric LiDAR is the formula of these derivations (explicit instances)."""
    rng = np.random.default_rng(0)
    e_num = rng.integers(-4, 5, size=(_N, _Q, _D)).astype(float)
    e_sym = _views()
    subs = {e_sym[i][j][k]: sp.Integer(int(e_num[i, j, k])) for i in range(_N) for j in range(_Q) for k in range(_D)}
    _, _, sb, sw = _scatter(e_sym)
    sb_pkg, sw_pkg = TL.scatter_matrices(e_num, delta=0.0, variant="paper")
    # a larger instance for the invariances: 6 classes x 4 views x 3 features, Sigma_w non-singular
    e6 = rng.normal(size=(6, 4, 3))
    A = rng.normal(size=(3, 3)) + 3 * np.eye(3)
    b = rng.normal(size=3)
    lid = TL.lidar(e6, delta=0.0, eps=0.0)
    lid_A = TL.lidar(e6 @ A.T, delta=0.0, eps=0.0)
    lid_b = TL.lidar(e6 + b, delta=1e-3, eps=0.0)
    lid_b0 = TL.lidar(e6, delta=1e-3, eps=0.0)
    k = 4
    return Proof(
        PAPER,
        "The package's LiDAR computes these formulas",
        [
            Step("theory.lidar Sigma_b = 1/(n-1) sum (m_i - mbar)(m_i - mbar)^T",
                 sp.Matrix(sb_pkg), sb.subs(subs),
                 why="scatter_matrices(variant='paper') on an explicit integer instance (3 classes x 2 views x 2 "
                     "features) equals the unbiased between-class scatter used below.", exact=False),
            Step("theory.lidar Sigma_w = 1/(n(q-1)) sum (e_ij - m_i)(e_ij - m_i)^T",
                 sp.Matrix(sw_pkg), sw.subs(subs),
                 why="Same instance: the unbiased within-class scatter.", exact=False),
            Step("LiDAR(A e) = LiDAR(e) (delta = 0, package)", sp.Float(lid_A), sp.Float(lid),
                 why="theory.lidar.lidar on random 6 x 4 x 3 views and an invertible A (eps = 0): the invariance "
                     "derived in 'LDA spectrum invariant under invertible linear maps', evaluated by the package.",
                 exact=False, rtol=1e-8),
            Step("LiDAR(e + b) = LiDAR(e) (delta > 0, package)", sp.Float(lid_b), sp.Float(lid_b0),
                 why="Translation invariance holds at any delta (here 1e-3).", exact=False, rtol=1e-8),
            Step("entropy rank of k equal eigenvalues = k (package)", sp.Float(TL.entropy_rank(np.ones(k))),
                 sp.Integer(k), why="theory.lidar.entropy_rank at the equality case of the range derivation.",
                 exact=False),
        ],
        statement="theory.lidar.scatter_matrices and theory.lidar.lidar evaluate the scatters and the entropy rank of "
                  "the derivations below; their invariances hold for the package's numbers.",
    )


def _linear_invariance() -> Proof:
    e = _views()
    A = sp.Matrix(_D, _D, sp.symbols("a_0:4", real=True))
    b = sp.Matrix(sp.symbols("b_0:2", real=True))
    _, _, sb, sw = _scatter(e)
    _, _, sb_a, sw_a = _scatter([[A * x for x in v] for v in e])
    n = 3
    Am, Wm, Bm = (sp.MatrixSymbol(s, n, n) for s in ("A", "W", "B"))
    S = sp.MatrixSymbol("S", n, n)
    P = sp.Matrix(2, 2, sp.symbols("p_0:4", real=True))
    M = sp.Matrix(2, 2, sp.symbols("m_0:4", real=True))
    x = sp.Symbol("x", real=True)
    return Proof(
        PAPER,
        "LDA spectrum invariant under invertible linear maps (delta = 0)",
        [
            Step("Sigma_b(A e) = A Sigma_b A^T", sb_a, A * sb * A.T,
                 why="Class and grand means are linear in the views, so every centred mean is mapped by A.",
                 domain="real"),
            Step("Sigma_w(A e) = A Sigma_w A^T", sw_a, A * sw * A.T,
                 why="Every within-class deviation e_ij - m_i is mapped by A.", domain="real"),
            Step("(A W A^T)^-1 (A B A^T) = A^-T (W^-1 B) A^T", (Am * Wm * Am.T).I * (Am * Bm * Am.T),
                 Am.T.I * Wm.I * Bm * Am.T,
                 why="For invertible A: (A W A^T)^{-1} = A^{-T} W^{-1} A^{-1}; so Sigma_w^{-1} Sigma_b is mapped to a "
                     "similar matrix (generic n x n matrix symbols; numeric check with random 3 x 3 matrices)."),
            Step("det(x I - P^-1 M P) = det(x I - M)", (x * sp.eye(2) - P.inv() * M * P).det(), (x * sp.eye(2) - M).det(),
                 why="Similar matrices share the characteristic polynomial, hence the spectrum (generic 2 x 2).",
                 domain="real"),
            Step("W^-1/2 B W^-1/2 = S (W^-1 B) S^-1 with W = S S", S.I * Bm * S.I, S * ((S * S).I * Bm) * S.I,
                 why="The whitened matrix Sigma_w^{-1/2} Sigma_b Sigma_w^{-1/2} is similar to Sigma_w^{-1} Sigma_b, so "
                     "its eigenvalues (LiDAR's lambda) are those of Sigma_w^{-1} Sigma_b: invariant under A. "
                     "With delta > 0 the ridge delta I is not mapped to A delta A^T: invariance is exact only at delta = 0."),
            Step("Sigma_b(e + b) = Sigma_b(e)", _scatter([[y + b for y in v] for v in e])[2], sb,
                 why="Translation shifts every class mean and the grand mean by b; the differences are unchanged.",
                 domain="real"),
            Step("Sigma_w(e + b) = Sigma_w(e)", _scatter([[y + b for y in v] for v in e])[3], sw,
                 why="The within-class deviations are unchanged by a translation, so LiDAR (any delta) is invariant.",
                 domain="real"),
        ],
        statement="For invertible A and delta = 0, the LiDAR spectrum of A e equals that of e; for any delta it is "
                  "invariant to e -> e + b.",
    )


def _scale_invariance() -> Proof:
    W = sp.Matrix(2, 2, sp.symbols("w_0:4", real=True))
    B = sp.Matrix(2, 2, sp.symbols("b_0:4", real=True))
    c = sp.Symbol("c", positive=True)
    l1, l2, l3 = sp.symbols("lambda_1:4", positive=True)
    nn = sp.Symbol("n", positive=True)
    p1 = l1 / (l1 + l2 + l3)
    return Proof(
        PAPER,
        "LiDAR is invariant to the scale of Sigma_b",
        [
            Step("W (c B) W = c (W B W)", W * (c * B) * W, c * (W * B * W),
                 why="Scaling Sigma_b scales Sigma_lidar, hence every eigenvalue, by c > 0 (explicit 2 x 2).",
                 domain={c: (0.2, 3.0)}),
            Step("p_1(c lambda) = p_1(lambda)", c * l1 / (c * l1 + c * l2 + c * l3), p1,
                 why="p = lambda / ||lambda||_1 is homogeneous of degree 0, so the entropy and LiDAR do not change."),
            Step("1/n normaliser = ((n-1)/n) x unbiased one", 1 / nn, ((nn - 1) / nn) / (nn - 1),
                 why="Sigma_b with 1/n is (n-1)/n times the unbiased one: a scale, so LiDAR is identical for either "
                     "normaliser (at any delta, with Sigma_w fixed).", domain={nn: (2.0, 50.0)}),
        ],
        statement="LiDAR(c Sigma_b, Sigma_w) = LiDAR(Sigma_b, Sigma_w) for every c > 0.",
    )


def _range() -> Proof:
    m = sp.symbols("m_1:5", real=True)
    mbar = sum(m) / 4
    p1, p2 = sp.symbols("p_1 p_2", positive=True)
    p3 = 1 - p1 - p2
    H = -(p1 * sp.log(p1) + p2 * sp.log(p2) + p3 * sp.log(p3))
    kl = p1 * sp.log(3 * p1) + p2 * sp.log(3 * p2) + p3 * sp.log(3 * p3)
    k = sp.Symbol("k", positive=True)
    t = sp.Symbol("t", positive=True)
    return Proof(
        PAPER,
        "Range 1 <= LiDAR <= rank Sigma_b <= min(d, n-1) (eps = 0)",
        [
            Step("sum_i (m_i - mbar) = 0", sum(mi - mbar for mi in m), sp.Integer(0),
                 why="The n centred class means are linearly dependent, so Sigma_b (a sum of their outer products) has "
                     "rank <= n - 1; and rank <= d trivially. Zero eigenvalues have p = 0.", domain="real"),
            Step("lim_{t->0} t log t = 0", sp.limit(t * sp.log(t), t, 0, "+"), sp.Integer(0),
                 why="So 0 log 0 = 0 is the continuous extension: zero eigenvalues drop out of the entropy, and "
                     "H is the entropy of the K = #{lambda > 0} <= rank Sigma_b non-zero p's."),
            Step("log 3 - H(p) = KL(p || uniform)", sp.log(3) - H, kl,
                 why="With sum p = 1 (here K = 3, p_3 = 1 - p_1 - p_2): log K - H = sum p log(K p) = KL(p || u) >= 0 "
                     "(Gibbs), so H <= log K and LiDAR = e^H <= K <= min(d, n - 1).",
                 domain={p1: (0.05, 0.45), p2: (0.05, 0.45)}),
            Step("uniform p = 1/k gives LiDAR = k", sp.exp(-k * (1 / k) * sp.log(1 / k)), k,
                 why="Equality holds exactly when the K non-zero eigenvalues are equal."),
            Step("-p log p = p log(1/p)", -p1 * sp.log(p1), p1 * sp.log(1 / p1),
                 why="Each term is >= 0 since 0 < p <= 1, so H >= 0 and LiDAR >= 1 (equality: one non-zero lambda).",
                 domain={p1: (0.05, 0.95)}),
        ],
        statement="With eps = 0 and 0 log 0 = 0: 1 <= LiDAR <= #{lambda > 0} <= min(d, n - 1).",
    )


def _delta_limits() -> Proof:
    w1, w2, w3 = sp.symbols("w_1 w_2 w_3", positive=True)
    delta = sp.Symbol("delta", positive=True)
    Sw = sp.Matrix([[w1, w2], [w2, w3]])
    inv_d = (Sw + delta * sp.eye(2)).inv()
    lim_inf = (delta * inv_d).applyfunc(lambda z: sp.limit(z, delta, sp.oo))
    lim_0 = inv_d.applyfunc(lambda z: sp.limit(z, delta, 0))
    l1, l2 = sp.symbols("lambda_1 lambda_2", positive=True)
    B = sp.Matrix([[sp.Symbol("b_1", real=True), sp.Symbol("b_2", real=True)],
                   [sp.Symbol("b_2", real=True), sp.Symbol("b_3", real=True)]])
    return Proof(
        PAPER,
        "Limits delta -> 0 and delta -> infinity",
        [
            Step("lim_{delta->0} (Sigma_w + delta I)^-1 = Sigma_w^-1", lim_0, Sw.inv(),
                 why="For non-singular Sigma_w the inverse is continuous at delta = 0: LiDAR(delta) -> pure LDA "
                     "(spectrum of Sigma_w^{-1} Sigma_b), and LiDAR is continuous in delta at 0.",
                 domain={w1: (2.0, 3.0), w3: (2.0, 3.0), w2: (0.0, 1.0)}),
            Step("lim_{delta->inf} delta (Sigma_w + delta I)^-1 = I", lim_inf, sp.eye(2),
                 why="So delta * spec((Sigma_w + delta I)^{-1} Sigma_b) -> spec(Sigma_b); LiDAR ignores the scale "
                     "delta, hence LiDAR(delta) -> erank of the eigenvalues of Sigma_b.",
                 domain={w1: (2.0, 3.0), w3: (2.0, 3.0), w2: (0.0, 1.0)}),
            Step("Sigma_w = 0: (delta I)^-1/2 B (delta I)^-1/2 = B / delta",
                 (sp.eye(2) / sp.sqrt(delta)) * B * (sp.eye(2) / sp.sqrt(delta)), B / delta,
                 why="A perfectly invariant encoder: Sigma_lidar = Sigma_b / delta."),
            Step("p(lambda / delta) = p(lambda)", (l1 / delta) / (l1 / delta + l2 / delta), l1 / (l1 + l2),
                 why="Hence for Sigma_w = 0, LiDAR = erank_eig(Sigma_b) for every delta > 0 (eigenvalues of Sigma_b, i.e. "
                     "squared singular values of the centred means: not the RankMe of the class means)."),
        ],
        statement="LiDAR(delta) -> LDA-LiDAR as delta -> 0 (Sigma_w non-singular) and -> erank_eig(Sigma_b) as delta -> inf.",
    )


def _leakage() -> Proof:
    s2, v2 = sp.symbols("s^2 v^2", positive=True)
    q, n, j = sp.symbols("q n j", positive=True, integer=True)
    sig2 = sp.Symbol("sigma^2", positive=True)
    qq = sp.Symbol("q", positive=True)
    return Proof(
        PAPER,
        "Finite-sample leakage: lambda ~ s^2/v^2 + 1/q (pure noise: 1/q)",
        [
            Step("Var(mean of q views' noise) = v^2/q", sp.summation(v2 / q**2, (j, 1, q)), v2 / q,
                 why="The class mean of a coordinate e_ij = s_i + nu_ij averages q independent view noises of variance v^2."),
            Step("E sum_i (x_i - xbar)^2 = (n-1) sigma^2",
                 n * (sig2 - 2 * sig2 / n + sig2 / n), (n - 1) * sig2,
                 why="E(x_i - xbar)^2 = sigma^2 - 2 sigma^2/n + sigma^2/n for i.i.d. x_i, so 1/(n-1) makes Sigma_b unbiased "
                     "for Var(m_i) = s^2 + v^2/q; likewise 1/(n(q-1)) makes Sigma_w unbiased for v^2.",
                 domain={n: (2.0, 50.0)}),
            Step("lambda = (s^2 + v^2/q) / v^2 = s^2/v^2 + 1/q", (s2 + v2 / qq) / v2, s2 / v2 + 1 / qq,
                 why="Per coordinate, the discriminant ratio of the expected scatters. A pure-noise direction (s = 0) has "
                     "lambda ~ 1/q: pure noise or mis-grouped views give a flat spectrum ~ 1/q and a HIGH LiDAR.",
                 domain={qq: (2.0, 100.0)}),
        ],
        statement="For class signal variance s^2 and view noise variance v^2 the expected scatters give "
                  "lambda = s^2/v^2 + 1/q.",
    )


def proofs() -> list[Proof]:
    """All LiDAR derivations."""
    return [_package_link(), _linear_invariance(), _scale_invariance(), _range(), _delta_limits(), _leakage()]
