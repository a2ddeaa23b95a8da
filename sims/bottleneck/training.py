"""(c) Training finite bottleneck networks, the bottleneck limit (independent and conditional draws) and the
pure NTK model on digits (Littwin et al. 2021)."""


from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax

from theory import bottleneck as TB

from ..substrate.data import digits
from ..substrate.networks import ACTIVATION_FNS, ntk_mlp_apply, ntk_mlp_init
from ..substrate.train import fit

_init = jax.jit(ntk_mlp_init, static_argnums=1)  # one compiled initialiser per layer-size tuple


def digits_task(n_train: int, n_test: int, target_class: int, scale: float):
    """Digits inputs (standardised pixels) and a standardised one-vs-rest target times ``scale``.

    Returns ``(x_train (n_train, 64), y_train (n_train, 1), x_test, y_test)`` float64.
    """
    xtr, ltr, xte, lte = digits(seed=0)
    if not (1 <= n_train <= len(xtr) and 1 <= n_test <= len(xte)):
        raise ValueError(f"n_train/n_test must be in [1, {len(xtr)}]/[1, {len(xte)}], got {n_train}, {n_test}")
    ind_tr = (ltr[:n_train] == target_class).astype(np.float64)
    mu, sd = ind_tr.mean(), ind_tr.std()
    sd = sd if sd > 0 else 1.0
    ytr = scale * (ind_tr - mu) / sd
    yte = scale * ((lte[:n_test] == target_class).astype(np.float64) - mu) / sd
    return (xtr[:n_train].astype(np.float64), ytr[:, None], xte[:n_test].astype(np.float64), yte[:, None])


def bottleneck_activations(depth_g: int, activation: str) -> list[str]:
    """Hidden-layer activations of the finite bottleneck network: ``g``'s layers, the linear bottleneck, ``f``'s."""
    return [activation] * depth_g + ["identity", activation]


def finite_apply(params, x, cfg: Mapping):
    return ntk_mlp_apply(params, x, activations=bottleneck_activations(cfg["depth_g"], cfg["activation"]),
                         w_var=cfg["w_var"], b_var=cfg["b_var"])


def _mse(pred, y):
    return 0.5 * jnp.mean((pred - y) ** 2)


def _initial_outputs(apply, params, x_all, cfg: Mapping) -> jnp.ndarray:
    r"""``F_0`` at every input (``(n_points, 1)``) when ``cfg["centre"]``, else zeros: the models are trained as
    :math:`F_t - F_0` (centred outputs), which removes the random initial output from the comparison of models
    (every model then starts from the same loss :math:`\frac12\overline{y^2}`) without changing the parameter
    dynamics' kernel."""
    if not cfg.get("centre", False):
        return jnp.zeros((x_all.shape[0], 1), jnp.float32)
    return jnp.asarray(apply(params, jnp.asarray(x_all, jnp.float32)), jnp.float32)


def _xi(seed: int, n_points: int, d: int) -> np.ndarray:
    """The standard normals behind the initial bottleneck features of draw ``seed`` (shared by the finite
    networks and the limit: :func:`couple_bottleneck_layer`, :func:`limit_model`)."""
    return np.random.default_rng(10_000 + seed).standard_normal((n_points, d))


def couple_bottleneck_layer(params: list[dict], x_all: np.ndarray, xi: np.ndarray, cfg: Mapping) -> list[dict]:
    r"""Redraw the bottleneck layer of one finite network so that its initial features are
    :math:`h_0 = \hat K_g^{1/2}\xi` (symmetric square root of the network's own empirical :math:`K_g` on
    ``x_all``), while the layer stays exactly :math:`\mathcal N(0, I)` given the layers below.

    With :math:`\tilde\Phi = [\sqrt{\sigma_w^2/n}\,\phi(z^{L_g}),\ \sigma_b\mathbf 1] = USV^\top` (thin SVD) and
    :math:`\eta = [W_b; b_b]` the network's own draw, the new layer is :math:`VU^\top\xi + (I - VV^\top)\eta`:
    :math:`U^\top\xi` is standard normal and independent of the complement, so the layer's law is unchanged
    (common random numbers); :math:`h_0 = \tilde\Phi[W_b; b_b] = USU^\top\xi = (\tilde\Phi\tilde\Phi^\top)^{1/2}\xi`.
    The limit model draws :math:`h_0 = K_g^{1/2}\xi` with the same :math:`\xi`, so as the width grows the finite
    network's :math:`h_0` converges to the limit's draw pathwise, not only in law.
    """
    lb = cfg["depth_g"]  # index of the bottleneck dense layer
    z = np.asarray(ntk_mlp_apply(params[:lb], jnp.asarray(x_all, jnp.float32),
                                 activations=[cfg["activation"]] * (lb - 1), w_var=cfg["w_var"], b_var=cfg["b_var"]),
                   np.float64)
    n = z.shape[1]
    phi = np.concatenate([np.sqrt(cfg["w_var"] / n) * np.asarray(ACTIVATION_FNS[cfg["activation"]](z)),
                          np.full((z.shape[0], 1), np.sqrt(cfg["b_var"]))], axis=1)
    U, _, Vt = np.linalg.svd(phi, full_matrices=False)
    eta = np.concatenate([np.asarray(params[lb]["W"], np.float64), np.asarray(params[lb]["b"], np.float64)[None]])
    new = Vt.T @ (U.T @ xi) + eta - Vt.T @ (Vt @ eta)
    out = list(params)
    out[lb] = {"W": jnp.asarray(new[:-1], jnp.float32), "b": jnp.asarray(new[-1], jnp.float32)}
    return out


def finite_init(cfg: Mapping, seed: int, x_all: np.ndarray) -> list[dict]:
    r"""Initial parameters of the width-``cfg["width"]`` bottleneck network of draw ``seed`` (layout
    ``[d_in, width x depth_g, d, width, 1]``), its bottleneck layer coupled to the limit's :math:`\xi`
    (:func:`couple_bottleneck_layer`). Deterministic in ``seed``: :func:`train_finite` and
    :func:`train_conditional_limit` start from the same network."""
    sizes = [x_all.shape[1]] + [cfg["width"]] * cfg["depth_g"] + [cfg["d"], cfg["width"], 1]
    return couple_bottleneck_layer(_init(jax.random.PRNGKey(seed), tuple(sizes)), x_all, _xi(seed, len(x_all), cfg["d"]), cfg)


def train_finite(cfg: Mapping, seeds) -> list[dict]:
    """Finite-width bottleneck networks, all seeds in one vmapped :func:`sims.substrate.train.fit`; the bottleneck
    layer of seed ``s`` is coupled to the limit's draw ``s`` (:func:`couple_bottleneck_layer`)."""
    xtr_, ytr_, xte_, yte_ = digits_task(cfg["n_train"], cfg["n_test"], cfg["target_class"], cfg["scale"])
    x_all = np.concatenate([xtr_, xte_])
    xtr, ytr, xte, yte = (jnp.asarray(a, jnp.float32) for a in (xtr_, ytr_, xte_, yte_))
    plist = [finite_init(cfg, s, x_all) for s in seeds]
    N = xtr.shape[0]
    # centred outputs F - F_0 (cfg["centre"]): F_0 on the training and test inputs rides along as a frozen leaf
    plist = [{"net": p, "f0": _initial_outputs(lambda q, x: finite_apply(q, x, cfg), p, x_all, cfg)} for p in plist]
    params = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *plist)
    S = len(seeds)
    data = {"x": jnp.broadcast_to(xtr, (S,) + xtr.shape), "y": jnp.broadcast_to(ytr, (S,) + ytr.shape)}

    def out_tr(p, x):
        return finite_apply(p["net"], x, cfg) - jax.lax.stop_gradient(p["f0"][:N])

    def out_te(p):
        return finite_apply(p["net"], xte, cfg) - jax.lax.stop_gradient(p["f0"][N:])

    def loss(p, b):
        return _mse(out_tr(p, b["x"]), b["y"])

    res = fit(loss, params, optax.sgd(cfg["lr"]), steps=cfg["steps"], data=data, record_every=cfg["record_every"],
              key=jax.random.split(jax.random.PRNGKey(0), S),
              record_fn=lambda p: {"test": _mse(out_te(p), yte), "out": out_tr(p, xtr)[:, 0]},
              batched=True)
    t = res.steps * cfg["lr"]
    return [{"t": t, "train": res.losses[i], "test": res.records["test"][i], "out_train": res.records["out"][i]}
            for i in range(S)]


def _psd_sqrt(k: np.ndarray) -> np.ndarray:
    """Symmetric PSD square root :math:`V\\sqrt{\\Lambda}V^\\top` (negative eigenvalues clipped)."""
    ev, V = np.linalg.eigh(k)
    return (V * np.sqrt(np.maximum(ev, 0.0))) @ V.T


def limit_model(cfg: Mapping, seed: int, x_all: np.ndarray):
    """Parameters of the bottleneck limit for one seed and the kernel factor ``R`` (``R R^T = Theta_g``).

    ``{"c": zeros (N, d), "f": head of width limit_width, "h0": GP draw (N, d) with kernel K_g}``, with
    :math:`h_0 = K_g^{1/2}\\xi` (symmetric square root) for the :math:`\\xi` that :func:`train_finite` couples to.
    """
    kg_sqrt, tg_sqrt = _g_sqrt(x_all, cfg)
    h0 = kg_sqrt @ _xi(seed, x_all.shape[0], cfg["d"])  # the same xi as the finite networks of this seed
    head = _init(jax.random.PRNGKey(20_000 + seed), (cfg["d"], cfg["limit_width"], 1))
    params = {"c": jnp.zeros((x_all.shape[0], cfg["d"]), jnp.float32), "f": head, "h0": jnp.asarray(h0, jnp.float32)}
    return params, jnp.asarray(tg_sqrt, jnp.float32)


_G_SQRT: dict = {}


def _g_sqrt(x_all: np.ndarray, cfg: Mapping) -> tuple[np.ndarray, np.ndarray]:
    """``(K_g^{1/2}, Theta_g^{1/2})`` on ``x_all`` (symmetric PSD roots), computed once per inputs and kernel settings
    (every draw of the limit shares them; the eigendecompositions dominated the per-draw cost)."""
    key = (x_all.shape, hash(np.ascontiguousarray(x_all).tobytes()), cfg["depth_g"], cfg["activation"], cfg["w_var"],
           cfg["b_var"])
    if key not in _G_SQRT:
        kg, tg = TB.g_kernels(x_all, depth_g=cfg["depth_g"], activation=cfg["activation"], w_var=cfg["w_var"],
                              b_var=cfg["b_var"])
        _G_SQRT.clear()  # one entry: the inputs of the current run
        _G_SQRT[key] = (_psd_sqrt(kg), _psd_sqrt(tg))
    return _G_SQRT[key]


def limit_apply(params, R, idx, cfg: Mapping):
    """Outputs of the limit model at the points ``idx`` of ``x_all``: ``f(h0 + R c)``."""
    h = jax.lax.stop_gradient(params["h0"][idx]) + R[idx] @ params["c"]
    return ntk_mlp_apply(params["f"], h, activations=[cfg["activation"]], w_var=cfg["w_var"], b_var=cfg["b_var"])


def _fit_kernel_g(cfg: Mapping, seeds, make_model, apply, seed_batch: int | None = None) -> list[dict]:
    """Train one limit-type model per seed (``make_model(seed, x_all) -> (params, R)``, outputs
    ``apply(params, R, idx, cfg)`` at the points ``idx`` of ``x_all``; ``R`` shared by the seeds) in one
    vmapped :func:`sims.substrate.train.fit` (``seed_batch`` seeds at a time when given). Per seed: times, train
    loss, test loss and training-set outputs."""
    xtr, ytr, xte, yte = digits_task(cfg["n_train"], cfg["n_test"], cfg["target_class"], cfg["scale"])
    x_all = np.concatenate([xtr, xte])
    N = xtr.shape[0]
    tr, te = jnp.arange(N), jnp.arange(N, x_all.shape[0])
    models = [make_model(s, x_all) for s in seeds]
    R = models[0][1]
    every = jnp.arange(x_all.shape[0])
    # centred outputs (cfg["centre"]): F_0 at every input rides along as a frozen leaf "f0c"
    plist = [dict(m[0], f0c=_initial_outputs(lambda q, _x, m=m: apply(q, m[1], every, cfg), m[0], x_all, cfg))
             for m in models]
    params = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *plist)
    S = len(seeds)
    y_tr, y_te = jnp.asarray(ytr, jnp.float32), jnp.asarray(yte, jnp.float32)
    data = {"y": jnp.broadcast_to(y_tr, (S,) + y_tr.shape)}

    def out(p, idx):
        return apply(p, R, idx, cfg) - jax.lax.stop_gradient(p["f0c"][idx])

    def loss(p, b):
        return _mse(out(p, tr), b["y"])

    res = fit(loss, params, optax.sgd(cfg["lr"]), steps=cfg["steps"], data=data, record_every=cfg["record_every"],
              key=jax.random.split(jax.random.PRNGKey(0), S),
              record_fn=lambda p: {"test": _mse(out(p, te), y_te), "out": out(p, tr)[:, 0]},
              batched=True, seed_batch=seed_batch)
    t = res.steps * cfg["lr"]
    return [{"t": t, "train": res.losses[i], "test": res.records["test"][i], "out_train": res.records["out"][i]}
            for i in range(S)]


def train_limit(cfg: Mapping, seeds) -> list[dict]:
    """The bottleneck limit (kernel ``g``, wide head), all seeds in one :func:`sims.substrate.train.fit`, four
    draws at a time (``seed_batch=4``): the step of the width-16384 head is memory-bound, and the 24 draws of the
    default run train in 29 s per 300 steps in groups of four against 39 s all at once (2 draws: 29 s, 8: 41 s;
    2-core machine, 2026-12-02). The updates are the same up to float32 rounding (final losses agree to 2e-5
    relative)."""
    return _fit_kernel_g(cfg, seeds, lambda s, x_all: limit_model(cfg, s, x_all), limit_apply,
                         seed_batch=4 if len(seeds) > 4 else None)


def conditional_limit_model(cfg: Mapping, finite_params: list[dict], x_all: np.ndarray, seed: int):
    r"""The bottleneck limit started from one finite network's own draws.

    The limit is deterministic given :math:`(h_0, f_0)` (the limit equation has no other randomness). Here both are taken
    from the finite network ``finite_params`` (:func:`finite_init`): :math:`h_0 = g_0(x)` on ``x_all`` (its
    own features) and :math:`f_0` = its own head at initialisation (a frozen function on
    :math:`\mathbb R^d`). The dynamics are the limit's: :math:`h = h_0 + Rc` with :math:`RR^\top = \Theta_g`
    (analytic), and the head is

    .. math:: f_t(h) = f_0(h) + \big(u_{\theta_t}(h) - u_{\theta_0}(h)\big),

    where :math:`u_\theta` is a width-``limit_width`` head trained from :math:`\theta_0`: its increment moves
    :math:`f` by the kernel :math:`\hat\Theta_f \to \Theta_f` (error :math:`O(\text{limit\_width}^{-1/2})`), and its
    :math:`h`-derivative is the update of :math:`J_f`. What differs from the finite network is then only the
    width: its empirical :math:`\hat\Theta_g`, :math:`\hat\Theta_f` against the analytic ones at
    initialisation, and their motion during training, both :math:`O(\text{width}^{-1/2})`.

    Returns:
        ``(params, R)``: ``params = {"c": zeros (N, d), "u": theta_0, "u_init": theta_0, "f0": the finite head,
        "h0": (N, d)}`` (``u_init``, ``f0``, ``h0`` enter :func:`conditional_apply` through ``stop_gradient``, so
        gradient descent leaves them fixed); ``R`` float32 ``(N, N)``.
    """
    lb = cfg["depth_g"]
    h0 = ntk_mlp_apply(finite_params[: lb + 1], jnp.asarray(x_all, jnp.float32), activations=[cfg["activation"]] * lb,
                       w_var=cfg["w_var"], b_var=cfg["b_var"])
    _, tg_sqrt = _g_sqrt(x_all, cfg)
    u = _init(jax.random.PRNGKey(40_000 + seed), (cfg["d"], cfg["limit_width"], 1))
    params = {"c": jnp.zeros((x_all.shape[0], cfg["d"]), jnp.float32), "u": u, "u_init": u,
              "f0": list(finite_params[lb + 1:]), "h0": h0}
    return params, jnp.asarray(tg_sqrt, jnp.float32)


def conditional_apply(params, R, idx, cfg: Mapping):
    """Outputs of :func:`conditional_limit_model` at the points ``idx``: ``f0(h) + u(h) - u_init(h)``, ``h = h0 + R c``."""
    sg = jax.lax.stop_gradient
    h = sg(params["h0"][idx]) + R[idx] @ params["c"]
    kw = dict(activations=[cfg["activation"]], w_var=cfg["w_var"], b_var=cfg["b_var"])
    return (ntk_mlp_apply(sg(params["f0"]), h, **kw) + ntk_mlp_apply(params["u"], h, **kw)
            - ntk_mlp_apply(sg(params["u_init"]), h, **kw))


def train_conditional_limit(cfg: Mapping, seeds) -> list[dict]:
    """The bottleneck limit from the draws of the width-``cfg["width"]`` networks of :func:`train_finite`
    (:func:`conditional_limit_model`), all seeds in one vmapped :func:`sims.substrate.train.fit`."""
    return _fit_kernel_g(cfg, seeds, lambda s, x_all: conditional_limit_model(cfg, finite_init(cfg, s, x_all), x_all, s),
                         conditional_apply)


def ntk_baseline(cfg: Mapping, seeds) -> list[dict]:
    """Pure infinite-width network: closed-form kernel regression from an NNGP draw of F_0, per seed."""
    xtr, ytr, xte, yte = digits_task(cfg["n_train"], cfg["n_test"], cfg["target_class"], cfg["scale"])
    x_all = np.concatenate([xtr, xte])
    N = xtr.shape[0]
    kern, theta = TB.full_ntk(x_all, depth_g=cfg["depth_g"], activation=cfg["activation"], w_var=cfg["w_var"],
                              b_var=cfg["b_var"])
    t = np.arange(0, cfg["steps"] + 1, cfg["record_every"]) * cfg["lr"]
    out = []
    for s in seeds:
        f0 = _psd_sqrt(kern) @ np.random.default_rng(30_000 + s).standard_normal((x_all.shape[0], 1))
        if cfg.get("centre", False):
            f0 = np.zeros_like(f0)  # centred outputs: F_t - F_0 is kernel regression from 0
        ftr, fte = TB.ntk_mse_prediction(theta[:N, :N], ytr, f0[:N], t, lr=1.0, theta_test_train=theta[N:, :N],
                                         f0_test=f0[N:], size_normalized=True)
        out.append({"t": t, "train": 0.5 * np.mean((ftr - ytr) ** 2, axis=(1, 2)),
                    "test": 0.5 * np.mean((fte - yte) ** 2, axis=(1, 2))})
    return out


def limit_initial_kernel(cfg: Mapping, seed: int, x_all: np.ndarray, n_cols: int | None = None) -> np.ndarray:
    r"""The tangent kernel at initialisation of the bottleneck limit of draw ``seed`` (:func:`limit_model`), on
    ``x_all``: :math:`K_{\rm eff}(0) = \hat\Theta_f(h_0, h_0') + J_{f_0}(h_0)\,\Theta_g\,J_{f_0}(h_0')^\top`
    (:func:`theory.bottleneck.effective_kernel` with the head's own kernel
    :func:`theory.bottleneck.f_empirical_ntk` and Jacobians :func:`theory.bottleneck.f_apply`), float64,
    ``(n_points, n_cols)`` (the columns of the first ``n_cols`` points, default all). Random through :math:`h_0` and
    :math:`f_0` at finite ``d``."""
    params, _ = limit_model(cfg, seed, x_all)
    head = params["f"]
    p = {"W": np.asarray(head[0]["W"], np.float64), "b": np.asarray(head[0]["b"], np.float64),
         "a": np.asarray(head[1]["W"], np.float64), "beta": np.asarray(head[1]["b"], np.float64)}
    h0 = np.asarray(params["h0"], np.float64)
    kw = dict(activation=cfg["activation"], w_var=cfg["w_var"], b_var=cfg["b_var"])
    tg_sqrt = _g_sqrt(x_all, cfg)[1]
    m = x_all.shape[0] if n_cols is None else n_cols
    _, jf = TB.f_apply(p, h0, **kw)
    return TB.effective_kernel(TB.f_empirical_ntk(p, h0, h0[:m], **kw), jf, jf[:m], tg_sqrt @ tg_sqrt[:, :m])[:, :, 0, 0]


def lazy_limit(cfg: Mapping, seeds) -> list[dict]:
    r"""Small-target prediction for the bottleneck limit (derived here, not from the paper): per seed, kernel
    regression with the limit's own random initial kernel (:func:`limit_initial_kernel`), in closed form
    (:func:`theory.bottleneck.ntk_mse_prediction`, same loss and time as the trained models).

    Why: with centred outputs the limit's residual is the target, so its features move by
    :math:`O(\text{scale})` and :math:`K_{\rm eff}` changes by :math:`O(\text{scale})` relative to
    :math:`K_{\rm eff}(0)`; as the target scale goes to 0 the limit's trajectory, measured relative to the
    target, tends to this lazy one. Its speed-up over the pure NTK model is then a property of the random
    initial kernel alone (its size and spectrum on the training inputs against :math:`\Theta`)."""
    xtr, ytr, xte, yte = digits_task(cfg["n_train"], cfg["n_test"], cfg["target_class"], cfg["scale"])
    x_all = np.concatenate([xtr, xte])
    N = xtr.shape[0]
    t = np.arange(0, cfg["steps"] + 1, cfg["record_every"]) * cfg["lr"]
    out = []
    for s in seeds:
        k = limit_initial_kernel(cfg, s, x_all, n_cols=N)  # (train + test, train)
        k[:N] = 0.5 * (k[:N] + k[:N].T)
        if cfg.get("centre", False):
            f0 = np.zeros((x_all.shape[0], 1))
        else:
            params, R = limit_model(cfg, s, x_all)
            f0 = np.asarray(limit_apply(params, R, jnp.arange(x_all.shape[0]), cfg), np.float64)
        ftr, fte = TB.ntk_mse_prediction(k[:N, :N], ytr, f0[:N], t, lr=1.0, theta_test_train=k[N:, :N], f0_test=f0[N:],
                                         size_normalized=True)
        out.append({"t": t, "train": 0.5 * np.mean((ftr - ytr) ** 2, axis=(1, 2)),
                    "test": 0.5 * np.mean((fte - yte) ** 2, axis=(1, 2)),
                    "kernel_trace": float(np.trace(k[:N, :N]))})
    return out
