r"""Infinite-width kernels of fully connected networks: NNGP and NTK by the layer recursions.

**Network and conventions** (those of neural-tangents ``stax``, so values can be compared with it).
A network of ``depth`` hidden layers, each ``Dense -> activation``, then a ``Dense`` readout, in NTK
parametrisation: :math:`z^{l+1} = \sqrt{\sigma_w^2/n_l}\,W^{l+1}\phi(z^l) + \sigma_b\,b^{l+1}` with
:math:`W, b \sim \mathcal N(0, 1)`; the input layer uses the raw input :math:`x` with
:math:`n_0 = d_{in}`.

**Recursions** (Neal 1996; Lee et al. 2018; Jacot et al. 2018). Start from the input kernel
:math:`\Sigma = x\cdot x'/d_{in}` and :math:`\Theta = 0`;

* Dense: :math:`\Sigma \leftarrow \sigma_w^2\Sigma + \sigma_b^2`, then :math:`\Theta \leftarrow \Sigma + \sigma_w^2\Theta`;
* activation: with
  :math:`(u, v) \sim \mathcal N\big(0, \begin{smallmatrix} q_{11} & q_{12}\\ q_{12} & q_{22}\end{smallmatrix}\big)`
  (:math:`q_{12} = \Sigma(x, x')`, :math:`q_{ii}` the diagonal),
  :math:`\Sigma \leftarrow \mathbb E[\phi(u)\phi(v)]`, :math:`\Theta \leftarrow \Theta\,\mathbb E[\phi'(u)\phi'(v)]`.

**Gaussian expectations** (derived by sympy integration in :func:`gaussian_expectations`; the numpy
code below evaluates the same closed forms, which the tests and ``proofs.bottleneck`` check):

* ReLU, :math:`\theta = \arccos(q_{12}/\sqrt{q_{11}q_{22}})`:
  :math:`\mathbb E[\phi\phi] = \frac{1}{2\pi}\big(\sqrt{q_{11}q_{22}-q_{12}^2} + (\pi-\theta)q_{12}\big)`,
  :math:`\mathbb E[\phi'\phi'] = \frac{\pi-\theta}{2\pi}`, diagonal :math:`q/2`
  (the degree-1 and degree-0 arc-cosine kernels of Cho & Saul 2009, up to a factor 2).
* erf: :math:`\mathbb E[\phi\phi] = \frac{2}{\pi}\arcsin\frac{2q_{12}}{\sqrt{(1+2q_{11})(1+2q_{22})}}`,
  :math:`\mathbb E[\phi'\phi'] = \frac{4}{\pi\sqrt{(1+2q_{11})(1+2q_{22}) - 4q_{12}^2}}` (Williams 1997).
* identity: :math:`\mathbb E[uv] = q_{12}`, :math:`\mathbb E[1] = 1`.

The empirical kernels of a finite JAX network, which estimate these, are on the numeric side
(:func:`sims.substrate.kernels.empirical_ntk`, :func:`sims.substrate.kernels.empirical_nngp`).

References:
    Jacot, Gabriel, Hongler (2018), arXiv:1806.07572; Lee et al. (2018), arXiv:1711.00165;
    Novak et al. (2020), neural-tangents, arXiv:1912.02803; Cho & Saul (2009); Williams (1997).
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
from collections.abc import Sequence

import numpy as np
import sympy as sp

from . import _validate as V

__all__ = [
    "ACTIVATIONS",
    "activation_moments",
    "arccos_kernel",
    "gaussian_expectations",
    "mlp_kernels",
    "nngp",
    "ntk",
    "q11",
    "q12",
    "q22",
]

ACTIVATIONS = ("relu", "erf", "identity")

#: Symbols of the bivariate Gaussian: variances q11, q22 and covariance q12.
q11, q22 = sp.symbols("q11 q22", positive=True)
q12 = sp.Symbol("q12", real=True)


# ----------------------------------------------------------------------------- symbolic derivations
@functools.cache
def gaussian_expectations(activation: str) -> dict[str, sp.Expr]:
    r"""Gaussian expectations of an activation, derived by sympy integration (cached).

    For :math:`(u, v)` centred Gaussian with variances ``q11``, ``q22`` and covariance ``q12``:

    * ``"nngp"``: :math:`\mathbb E[\phi(u)\phi(v)]`;
    * ``"dot"``: :math:`\mathbb E[\phi'(u)\phi'(v)]`;
    * ``"diag"``: :math:`\mathbb E[\phi(u)^2]` as a function of ``q11``.

    Derivations. ReLU: write :math:`u = \sqrt{q_{11}}\,r\cos\varphi`, :math:`v = \sqrt{q_{22}}\,r\cos(\varphi-\theta)`
    in polar coordinates of a standard 2-D Gaussian; both are positive for
    :math:`\varphi\in(\theta-\pi/2, \pi/2)`; the radial integrals are :math:`\int_0^\infty r^3 e^{-r^2/2}dr = 2`
    and :math:`\int_0^\infty r e^{-r^2/2}dr = 1`. erf: Price's theorem
    :math:`\partial_{q_{12}}\mathbb E[\phi\phi] = \mathbb E[\phi'\phi']`, the Gaussian integral
    :math:`\mathbb E[\phi'\phi'] = \frac4\pi\mathbb E[e^{-u^2-v^2}]` done as two 1-D integrals, then
    integration in :math:`q_{12}` from 0 (where the expectation vanishes because erf is odd).

    Args:
        activation: one of :data:`ACTIVATIONS`.

    Returns:
        dict with sympy expressions in :data:`q11`, :data:`q22`, :data:`q12`.

    Raises:
        ValueError: unknown activation.
    """
    _check_activation(activation)
    if activation == "identity":
        return {"nngp": q12, "dot": sp.Integer(1), "diag": q11}
    if activation == "relu":
        return _relu_derivation()
    return _erf_derivation()


def _relu_derivation() -> dict[str, sp.Expr]:
    r, phi = sp.Symbol("r", positive=True), sp.Symbol("varphi", real=True)
    th = sp.Symbol("theta", positive=True)
    region = (phi, th - sp.pi / 2, sp.pi / 2)
    radial3 = sp.integrate(r**3 * sp.exp(-r**2 / 2), (r, 0, sp.oo))
    radial1 = sp.integrate(r * sp.exp(-r**2 / 2), (r, 0, sp.oo))
    angular_uv = sp.integrate(sp.cos(phi) * sp.cos(phi - th), region)
    angular_1 = sp.integrate(sp.Integer(1), region)
    # E[relu(u) relu(v)] = sqrt(q11 q22)/(2 pi) * radial3 * angular_uv;  E[step step] = radial1 angular_1/(2 pi)
    k_theta = sp.sqrt(q11 * q22) * radial3 * angular_uv / (2 * sp.pi)
    dot_theta = radial1 * angular_1 / (2 * sp.pi)
    cos_t = q12 / sp.sqrt(q11 * q22)
    at = {sp.sin(th): sp.sqrt(1 - cos_t**2), sp.cos(th): cos_t}
    nngp_ = sp.expand(sp.expand_trig(k_theta).subs(at)).subs(th, sp.acos(cos_t))
    nngp_ = sp.simplify(nngp_.subs(sp.sqrt(q11 * q22) * sp.sqrt(1 - q12**2 / (q11 * q22)), sp.sqrt(q11 * q22 - q12**2)))
    dot_ = dot_theta.subs(th, sp.acos(cos_t))
    diag = sp.simplify(sp.limit(nngp_.subs(q22, q11), q12, q11, dir="-"))
    return {"nngp": nngp_, "dot": dot_, "diag": diag}


def _erf_derivation() -> dict[str, sp.Expr]:
    z = sp.Symbol("z", real=True)
    c, qq = sp.Symbol("c", positive=True), sp.Symbol("qq", positive=True)
    p = sp.Symbol("p", real=True)
    gauss = sp.exp(-z**2 / 2) / sp.sqrt(2 * sp.pi)
    # lemmas: E[exp(-(p + qq z)^2)] and E[exp(-c z^2)] for z ~ N(0, 1)
    lem_shift = sp.simplify(sp.integrate(sp.exp(-(p + qq * z) ** 2) * gauss, (z, -sp.oo, sp.oo), conds="none"))
    lem_scale = sp.simplify(sp.integrate(sp.exp(-c * z**2) * gauss, (z, -sp.oo, sp.oo), conds="none"))
    # u = s1 z1, v = s2 (rho z1 + eta z2): integrate z2 (lem_shift), then z1 (lem_scale)
    s1, s2, rho = sp.sqrt(q11), sp.sqrt(q22), sp.Symbol("rho", positive=True)
    eta = sp.sqrt(1 - rho**2)
    z1 = sp.Symbol("z1", real=True)
    inner = lem_shift.subs({p: s2 * rho * z1, qq: s2 * eta})
    # inner = exp(-coef z1^2) / sqrt(1 + 2 q22 eta^2): read coef off the log's second derivative
    coef = sp.simplify(-sp.diff(sp.expand_log(sp.log(inner), force=True), z1, 2) / 2)
    e_exp = sp.simplify(lem_scale.subs(c, s1**2 + coef) / sp.sqrt(1 + 2 * q22 * eta**2))
    e_exp = sp.simplify(e_exp.subs(rho, q12 / sp.sqrt(q11 * q22)))
    # e_exp > 0, so e_exp = (1/e_exp^2)^(-1/2); 1/e_exp^2 is a rational function: det(I + 2 Sigma)
    dot_ = 4 / sp.pi / sp.sqrt(sp.factor(sp.cancel(1 / e_exp**2)))
    # Price: E[erf erf] = int_0^{q12} E[erf' erf'] dq12 (odd activation: zero at q12 = 0)
    a = sp.Symbol("a", positive=True)
    cc = sp.Symbol("cc", positive=True)
    antider = sp.integrate(4 / (sp.pi * sp.sqrt(a - 4 * cc**2)), (cc, 0, cc))
    nngp_ = antider.subs({a: (1 + 2 * q11) * (1 + 2 * q22), cc: q12})
    diag = nngp_.subs({q22: q11, q12: q11})
    return {"nngp": nngp_, "dot": dot_, "diag": diag}


# ----------------------------------------------------------------------------- numeric recursions
def _check_activation(activation, name: str = "activation") -> None:
    if not isinstance(activation, str):
        raise TypeError(f"{name} must be one of {ACTIVATIONS}, got {activation!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"{name} must be one of {ACTIVATIONS}, got {activation!r}")


def activation_moments(activation: str, cov, var1, var2):
    r"""Numeric Gaussian expectations of one activation, elementwise (float64).

    Args:
        activation: one of :data:`ACTIVATIONS`.
        cov: ``(n1, n2)`` covariances :math:`q_{12}`.
        var1, var2: ``(n1,)`` and ``(n2,)`` variances :math:`q_{11}`, :math:`q_{22}`.

    Returns:
        ``(E[phi phi] (n1, n2), E[phi' phi'] (n1, n2), E[phi(u)^2] (n1,), E[phi(v)^2] (n2,))``.
    """
    _check_activation(activation)
    var1 = V.array("var1", var1, ndim=1)
    var2 = V.array("var2", var2, ndim=1)
    cov = V.array("cov", cov, ndim=2)
    if cov.shape != (var1.size, var2.size):
        raise ValueError(f"cov must have shape (len(var1), len(var2)) = ({var1.size}, {var2.size}), got {cov.shape}")
    for name, v in (("var1", var1), ("var2", var2)):
        if np.any(v < 0):
            raise ValueError(f"{name} must be >= 0 (variances), got min {float(v.min())!r}")
    if np.any(cov * cov > np.multiply.outer(var1, var2) * (1 + 1e-9) + 1e-300):
        raise ValueError("cov must satisfy cov^2 <= var1 var2 entrywise (a Gaussian covariance), got a larger entry")
    k, dot, d1, d2 = _moments(activation, cov.copy(), var1, var2)
    if not all(np.all(np.isfinite(x)) for x in (k, dot, d1, d2)):
        raise ValueError("cov/var1/var2: the moments overflow float64 (entries too large)")
    return k, dot, d1, d2


def _moments(activation: str, cov, var1, var2):
    """:func:`activation_moments` without the checks (the layer recursion's inner loop)."""
    if activation == "identity":
        return cov, np.ones_like(cov), var1, var2
    if activation == "relu":
        prod = np.multiply.outer(var1, var2)
        det = np.maximum(prod - cov * cov, 0.0, out=prod)
        np.sqrt(det, out=det)
        theta = np.arctan2(det, cov)  # in [0, pi]; stable near theta = 0
        dot = np.pi - theta
        dot *= 1.0 / (2.0 * np.pi)
        k = det
        k *= 1.0 / (2.0 * np.pi)
        k += dot * cov
        return k, dot, var1 / 2.0, var2 / 2.0
    a = np.multiply.outer(1.0 + 2.0 * var1, 1.0 + 2.0 * var2)
    k = (2.0 / np.pi) * np.arcsin(np.clip(2.0 * cov / np.sqrt(a), -1.0, 1.0))
    a -= 4.0 * cov * cov
    dot = (4.0 / np.pi) / np.sqrt(np.maximum(a, np.finfo(np.float64).tiny))
    d1 = (2.0 / np.pi) * np.arcsin(2.0 * var1 / (1.0 + 2.0 * var1))
    d2 = (2.0 / np.pi) * np.arcsin(2.0 * var2 / (1.0 + 2.0 * var2))
    return k, dot, d1, d2


def _inputs(x1, x2, names=("x1", "x2")):
    x1 = V.array(names[0], x1)
    x2 = x1 if x2 is None else V.array(names[1], x2)
    if x1.ndim != 2 or x2.ndim != 2:
        raise ValueError(f"{names[0]} and {names[1]} must be 2-D (n, d_in), got shapes {x1.shape} and {x2.shape}")
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(f"{names[0]} and {names[1]} must have the same d_in, got shapes {x1.shape} and {x2.shape}")
    if x1.shape[1] < 1:
        raise ValueError(f"d_in must be >= 1, got shape {x1.shape}")
    if not (np.all(np.isfinite(x1)) and np.all(np.isfinite(x2))):
        raise ValueError("x1 and x2 must be finite")
    return x1, x2


def _check_var(name, v) -> float:
    return V.real(name, v, low=0.0)


def _check_finite_kernel(out, x1, x2, names=("x1", "x2"), **variances):
    """No silent inf/NaN: a kernel that left the float range is refused, naming the inputs that set its scale."""
    if all(o is None or np.all(np.isfinite(o)) for o in out):
        return out
    scale = max(float(np.max(np.abs(x1))), float(np.max(np.abs(x2))))
    extra = "".join(f", {k} = {v!r}" for k, v in variances.items())
    a, b = names
    raise ValueError(f"the kernel overflows float64 for these inputs (max |{a}|, |{b}| entry = {scale:.3g}{extra}); "
                     f"rescale {a}/{b} or the variances")


def mlp_kernels(x1, x2=None, *, activations: Sequence[str], w_var: float = 1.0, b_var: float = 0.0,
                get_ntk: bool = True):
    r"""NNGP and NTK of a network with one hidden layer per entry of ``activations``, then a readout.

    The general form of :func:`nngp`/:func:`ntk`: layer ``l`` is ``Dense -> activations[l]``;
    ``"identity"`` entries give linear layers (e.g. a bottleneck layer made infinitely wide).

    Args:
        x1: ``(n1, d_in)`` inputs; x2: ``(n2, d_in)`` inputs (default ``x1``).
        activations: sequence of names from :data:`ACTIVATIONS`, length >= 1.
        w_var, b_var: :math:`\sigma_w^2 \ge 0`, :math:`\sigma_b^2 \ge 0` of every dense layer.
        get_ntk: also compute the NTK (otherwise ``None`` is returned in its place).

    Returns:
        ``(nngp, ntk)``, float64 arrays ``(n1, n2)``.

    Raises:
        ValueError: bad shapes, empty ``activations``, unknown activation, negative variances.
    """
    return _mlp_kernels(x1, x2, activations, w_var, b_var, get_ntk)


def _mlp_kernels(x1, x2, activations, w_var, b_var, get_ntk, names=("x1", "x2"), act_name=None):
    """:func:`mlp_kernels` with the argument names used in error messages (``theory.bottleneck`` calls its inputs
    ``h1``/``h2`` and its single activation ``activation``)."""
    x1, x2 = _inputs(x1, x2, names)
    w_var, b_var = _check_var("w_var", w_var), _check_var("b_var", b_var)
    if isinstance(activations, (str, bytes)) or not isinstance(activations, Sequence):
        raise TypeError(f"activations must be a sequence of names from {ACTIVATIONS}, got {activations!r}")
    acts = list(activations)
    if len(acts) < 1:
        raise ValueError(f"activations must name at least one hidden layer, got {activations!r}")
    if len(acts) > MAX_DEPTH:
        raise ValueError(f"activations must name at most {MAX_DEPTH} layers (cost grows with depth), got {len(acts)}")
    for i, a in enumerate(acts):
        _check_activation(a, act_name or f"activations[{i}]")
    d_in = x1.shape[1]
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow reaches the kernel, which is checked below
        gram = (x1 @ x2.T) / d_in  # one BLAS call (per-block matmuls would oversubscribe BLAS threads)
        v1 = np.einsum("ij,ij->i", x1, x1) / d_in
        v2 = np.einsum("ij,ij->i", x2, x2) / d_in
    n1 = x1.shape[0]
    if n1 * x2.shape[0] <= _BLOCK_ELEMS:
        with np.errstate(over="ignore", invalid="ignore"):  # checked just below
            out = _recursion(gram, v1, v2, acts, w_var, b_var, get_ntk)
        return _check_finite_kernel(out, x1, x2, names, w_var=w_var, b_var=b_var)
    # row blocks: cache-sized, and spread over threads (numpy releases the GIL inside ufuncs)
    rows = max(1, _BLOCK_ELEMS // x2.shape[0])
    starts = list(range(0, n1, rows))
    k_out = np.empty((n1, x2.shape[0]))
    t_out = np.empty((n1, x2.shape[0])) if get_ntk else None

    def work(i):
        k, t = _recursion(gram[i:i + rows].copy(), v1[i:i + rows], v2, acts, w_var, b_var, get_ntk)
        k_out[i:i + rows] = k
        if get_ntk:
            t_out[i:i + rows] = t

    workers = min(len(starts), os.cpu_count() or 1, 8)
    if workers > 1:
        with concurrent.futures.ThreadPoolExecutor(workers) as ex:
            list(ex.map(work, starts))
    else:
        for i in starts:
            work(i)
    return _check_finite_kernel((k_out, t_out), x1, x2, names, w_var=w_var, b_var=b_var)


_BLOCK_ELEMS = 1 << 15  # 32k float64 = 256 KiB per array: the recursion's arrays stay in cache


def _recursion(k, v1, v2, acts, w_var, b_var, get_ntk):
    """The layer recursion on one block of rows of the input kernel ``k`` (modified in place; see
    :func:`mlp_kernels`)."""
    affine = not (w_var == 1.0 and b_var == 0.0)
    t = None
    for i, a in enumerate(acts):
        if affine:
            k *= w_var
            k += b_var
            v1, v2 = w_var * v1 + b_var, w_var * v2 + b_var
        if get_ntk:
            if i == 0:
                t = k.copy()
            else:
                if w_var != 1.0:
                    t *= w_var
                t += k
        k, dot, v1, v2 = _moments(a, k, v1, v2)
        if get_ntk:
            t *= dot
    k = k * w_var + b_var
    if get_ntk:
        t *= w_var
        t += k
    return k, t


#: Deepest network :func:`nngp` / :func:`ntk` / :func:`mlp_kernels` accept (the recursion costs O(depth n1 n2)).
MAX_DEPTH = 10_000


def _check_depth(depth) -> int:
    return V.integer("depth", depth, low=1, high=MAX_DEPTH)


def nngp(x1, x2=None, *, depth: int, activation: str = "relu", w_var: float = 1.0, b_var: float = 0.0) -> np.ndarray:
    r"""NNGP kernel :math:`\Sigma^{(L+1)}(x_1, x_2)` of ``depth`` hidden ``Dense -> activation`` layers and a readout.

    Equals neural-tangents' ``stax.serial(*[Dense(n, W_std, b_std), Act()] * depth, Dense(1, W_std,
    b_std)).kernel_fn(x1, x2, 'nngp')`` with ``W_std**2 = w_var``, ``b_std**2 = b_var``.

    Args:
        x1: ``(n1, d_in)``; x2: ``(n2, d_in)`` (default ``x1``).
        depth: number of hidden layers, >= 1.
        activation: ``"relu"``, ``"erf"`` or ``"identity"``.
        w_var, b_var: weight and bias variances, >= 0.

    Returns:
        float64 array ``(n1, n2)``.

    Raises:
        ValueError: ``depth < 1``, negative variances, mismatched shapes, unknown activation.
    """
    depth = _check_depth(depth)
    _check_activation(activation)
    return mlp_kernels(x1, x2, activations=[activation] * depth, w_var=w_var, b_var=b_var, get_ntk=False)[0]


def ntk(x1, x2=None, *, depth: int, activation: str = "relu", w_var: float = 1.0, b_var: float = 0.0) -> np.ndarray:
    r"""Neural tangent kernel :math:`\Theta^{(L+1)}(x_1, x_2)` (NTK parametrisation), same network as :func:`nngp`.

    Equals neural-tangents' ``kernel_fn(x1, x2, 'ntk')`` for the same ``stax`` network. Arguments,
    returns and raises as in :func:`nngp`.
    """
    depth = _check_depth(depth)
    _check_activation(activation)
    return mlp_kernels(x1, x2, activations=[activation] * depth, w_var=w_var, b_var=b_var)[1]


def arccos_kernel(x1, x2=None, *, degree: int = 1) -> np.ndarray:
    r"""Arc-cosine kernel of Cho & Saul (2009), degree 0 or 1.

    :math:`k_0 = 1 - \theta/\pi`, :math:`k_1 = \frac1\pi\|x\|\|y\|\big(\sin\theta + (\pi-\theta)\cos\theta\big)`.
    One ReLU layer with :math:`w\sim\mathcal N(0, I)`: :math:`k_1 = 2\,\mathbb E[\mathrm{relu}(w\cdot x)\mathrm{relu}(w\cdot y)]`.

    Raises:
        ValueError: degree not in (0, 1), bad shapes.
    """
    degree = V.integer("degree", degree, low=0, high=1)
    x1, x2 = _inputs(x1, x2)
    # the angle is scale-free: compute it from inputs scaled to max |entry| 1 (no overflow for huge inputs)
    s1 = float(np.max(np.abs(x1))) or 1.0 if x1.size else 1.0
    s2 = float(np.max(np.abs(x2))) or 1.0 if x2.size else 1.0
    y1, y2 = x1 / s1, x2 / s2
    n1 = np.linalg.norm(y1, axis=1)
    n2 = np.linalg.norm(y2, axis=1)
    nn = np.multiply.outer(n1, n2)
    cos = np.clip((y1 @ y2.T) / np.where(nn > 0, nn, 1.0), -1.0, 1.0)
    theta = np.arccos(cos)
    if degree == 0:
        return 1.0 - theta / np.pi
    with np.errstate(over="ignore", invalid="ignore"):
        out = (s1 * s2) * (nn * (np.sin(theta) + (np.pi - theta) * cos) / np.pi)
    return _check_finite_kernel((out,), x1, x2)[0]
