"""(d) The deep-linear analogue of the bottleneck against the lazy model (a toy of this package, integrated
with :func:`sims.substrate.ode.solve`)."""


import math
from collections.abc import Mapping

import numpy as np

from theory import bottleneck as TB


def linear_toy(cfg: Mapping, seeds) -> list[dict]:
    r"""The linear bottleneck (:func:`theory.bottleneck.linear_flow`) against the lazy model with the same initial
    kernel trace: time to reach ``frac`` of the initial loss, per (tau, d), one result per seed.

    Whitened inputs (``X = I``, ``d0 = k = 20``), rank-3 target with singular values ``tau * (1, 1.5, 2)``;
    ``A_0``, ``B_0`` Gaussian with the infinite-width variances (``K_g/|x|^2 = 1/d0``, ``K_f/|h|^2 = 1/d``) and the
    rates ``c_g``, ``c_f`` of :func:`theory.bottleneck.linear_rates` (``depth_g = 1``, ``w_var = 1``). The lazy
    model :math:`\dot W = -c\nabla L` with :math:`c = (c_f k\,\mathrm{tr}A_0^\top A_0 + c_g d_0\,\mathrm{tr}B_0B_0^\top)/(kd_0)`
    starts from the same :math:`W_0 = B_0A_0` and reaches the level at :math:`\ln(1/\mathrm{frac})/(2c)`.
    Integrated with :func:`sims.substrate.ode.solve` (LSODA, terminal event at the level).
    """
    from ..substrate.ode import solve

    d0 = k = 20
    frac = cfg["frac"]
    out = []
    for s in seeds:
        rng = np.random.default_rng(s)
        U = np.linalg.qr(rng.standard_normal((k, k)))[0][:, :3]
        V = np.linalg.qr(rng.standard_normal((d0, d0)))[0][:, :3]
        t_b = np.zeros((len(cfg["taus"]), len(cfg["ds"])))
        t_l = np.zeros_like(t_b)
        for di, d in enumerate(cfg["ds"]):
            c_g, c_f, _ = TB.linear_rates(depth_g=1, d_in=d0, d=d)
            A0 = rng.standard_normal((d, d0)) / np.sqrt(d0)
            B0 = rng.standard_normal((k, d)) / np.sqrt(d)
            c_lazy = (c_f * k * np.sum(A0 * A0) + c_g * d0 * np.sum(B0 * B0)) / (k * d0)
            for ti, tau_ in enumerate(cfg["taus"]):
                Wstar = tau_ * U @ np.diag([1.0, 1.5, 2.0]) @ V.T
                X, Y = np.eye(d0), Wstar.T
                L0 = 0.5 * np.sum((B0 @ A0 - Wstar) ** 2)

                def rhs(t, z, d=d, c_g=c_g, c_f=c_f, X=X, Y=Y):
                    dA, dB = TB.linear_flow(z[: d * d0].reshape(d, d0), z[d * d0:].reshape(k, d), X, Y, c_g=c_g, c_f=c_f)
                    return np.concatenate([dA.ravel(), dB.ravel()])

                def level(t, z, d=d, Wstar=Wstar, L0=L0):
                    W = z[d * d0:].reshape(k, d) @ z[: d * d0].reshape(d, d0)
                    return 0.5 * np.sum((W - Wstar) ** 2) - frac * L0

                level.terminal = True
                t_l[ti, di] = np.log(1.0 / frac) / (2 * c_lazy)
                horizon = 50.0 * t_l[ti, di]
                _, sol = solve(rhs, np.concatenate([A0.ravel(), B0.ravel()]), [0.0, horizon], events=level,
                               rtol=1e-8, atol=1e-10)
                t_b[ti, di] = float(sol.t_events[0][0]) if sol.t_events[0].size else math.inf
        out.append({"t_bottleneck": t_b, "t_lazy": t_l})
    return out
