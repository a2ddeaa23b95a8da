"""(b) The kernel through a finite bottleneck stays random: the head's tangent kernel concentrates while
the Jacobian product does not (Littwin et al. 2021)."""


from collections.abc import Mapping

import numpy as np

from theory import bottleneck as TB


# ----------------------------------------------------------------------------- (b)
def bottleneck_split(cfg: Mapping, seeds) -> list[dict]:
    r"""Per seed: for every (width n, bottleneck d), ``b_draws`` draws of the head's own kernel
    :math:`\hat\Theta_f(h, h')` and of the bottleneck part :math:`J_f(h)\cdot J_f(h')` (:math:`\Theta_g = I`)."""
    out = []
    for s in seeds:
        rng = np.random.default_rng(s)
        theta_f = np.zeros((len(cfg["widths"]), len(cfg["ds"]), cfg["draws"]))
        jj = np.zeros_like(theta_f)
        analytic = np.zeros(len(cfg["ds"]))
        for di, d in enumerate(cfg["ds"]):
            h = np.zeros((1, d))
            h2 = np.zeros((1, d))
            h[0, 0] = np.sqrt(d)  # q = |h|^2/d = 1
            h2[0, 0], h2[0, 1] = 0.5 * np.sqrt(d), np.sqrt(0.75 * d)  # cos(h, h') = 0.5
            analytic[di] = TB.f_kernels(h, h2, activation=cfg["activation"], w_var=cfg["w_var"], b_var=cfg["b_var"])[1][0, 0]
            for wi, n in enumerate(cfg["widths"]):
                for r in range(cfg["draws"]):
                    p = TB.f_random_features(rng, d, n, 1)
                    kw = dict(activation=cfg["activation"], w_var=cfg["w_var"], b_var=cfg["b_var"])
                    theta_f[wi, di, r] = TB.f_empirical_ntk(p, h, h2, **kw)[0, 0]
                    j1 = TB.f_apply(p, h, **kw)[1]
                    j2 = TB.f_apply(p, h2, **kw)[1]
                    jj[wi, di, r] = TB.effective_kernel(np.zeros((1, 1)), j1, j2, np.eye(1))[0, 0, 0, 0]
        out.append({"theta_f": theta_f, "jj": jj, "theta_f_analytic": analytic})
    return out
