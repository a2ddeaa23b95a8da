"""The ``bottleneck`` experiment: runs (a)-(d), claims and figures (Littwin et al. 2021)."""


import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..harness import plotting as P
from ..harness.experiment import Claim, Experiment, register
from .config import BottleneckConfig
from .kernels import kernel_errors
from .linear_toy import linear_toy
from .split import bottleneck_split
from .training import ntk_baseline, train_conditional_limit, train_finite, train_limit


def _time_to(t: np.ndarray, loss: np.ndarray, level: float) -> float:
    """First time the curve reaches ``level`` (log-linear interpolation between records), inf if never."""
    hit = np.flatnonzero(loss <= level)
    if hit.size == 0:
        return math.inf
    k = hit[0]
    if k == 0:
        return float(t[0])
    a, b = np.log(loss[k - 1]), np.log(loss[k])
    return float(t[k - 1] + (np.log(level) - a) / (b - a) * (t[k] - t[k - 1]))


def _log_axes(ax, x=True, y=True):
    """Log axes without minor tick labels (they collide on short decades)."""
    from matplotlib.ticker import NullFormatter

    if x:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
    if y:
        ax.set_yscale("log")
        ax.yaxis.set_minor_formatter(NullFormatter())


def _conditional_distance(fin_out, cond_out, fin_loss, cond_loss, widths, rng, n_boot: int = 400) -> dict:
    r"""Distances of finite networks to the bottleneck limit started from their own draws, paired by seed.

    ``fin_out``, ``cond_out``: ``(W, S, T, N)`` training-set outputs of the finite networks and of their
    conditional limits (:func:`train_conditional_limit`) at the recorded times; ``fin_loss``, ``cond_loss``:
    ``(W, S, T)`` training losses. Per width and seed the function-space distance

    .. math:: D_{n,s} = \Big(\frac{\sum_{t,i}(F_{n,s}(x_i,t) - F^{\rm lim}_{n,s}(x_i,t))^2}
              {\sum_{t,i}F^{\rm lim}_{n,s}(x_i,t)^2}\Big)^{1/2}

    and the loss-curve distance :math:`\mathrm{mean}_t|\log L_{n,s} - \log L^{\rm lim}_{n,s}|`; their seed
    means :math:`D_n`; the ratios :math:`D_{n_{k+1}}/D_{n_k}` of consecutive widths and the log-log slope of
    :math:`D_n` against width, each with its bootstrap sd over seeds (seeds resampled jointly for all widths:
    the seed of every width is the same draw of :math:`h_0`).

    Returns:
        ``{"fun": (W,), "fun_per_seed": (W, S), "fun_ratio": (W-1,), "fun_ratio_sd": (W-1,), "fun_slope",
        "fun_slope_sd", "loss": (W,), "loss_per_seed": (W, S), "loss_slope", "loss_slope_sd"}``.
    """
    fo, co = np.asarray(fin_out, float), np.asarray(cond_out, float)
    fun = np.sqrt(np.sum((fo - co) ** 2, axis=(2, 3)) / np.sum(co**2, axis=(2, 3)))  # (W, S)
    loss = np.mean(np.abs(np.log(np.asarray(fin_loss, float)) - np.log(np.asarray(cond_loss, float))), axis=-1)
    S = fun.shape[1]
    idx = [rng.integers(0, S, S) for _ in range(n_boot)]
    out: dict = {}
    for name, per in (("fun", fun), ("loss", loss)):
        m = per.mean(1)
        out[name], out[f"{name}_per_seed"] = m, per
        out[f"{name}_slope"] = _slope(widths, m)
        out[f"{name}_slope_sd"] = float(np.std([_slope(widths, per[:, k].mean(1)) for k in idx]))
        out[f"{name}_ratio"] = m[1:] / m[:-1]
        out[f"{name}_ratio_sd"] = np.std([per[1:, k].mean(1) / per[:-1, k].mean(1) for k in idx], axis=0)
    return out


def _slope(x, y) -> float:
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


# ----------------------------------------------------------------------------- experiment
class BottleneckExperiment(Experiment):
    name = "bottleneck"
    paper = ("Littwin et al. 2021, Implicit Acceleration and Feature Learning in Infinitely Wide Neural Networks with "
             "Bottlenecks (arXiv:2107.00364)")
    description = ("NNGP/NTK convergence at rate width^-1/2; the bottleneck part of the kernel stays random "
                   "(spread ~ d^-1/2); finite bottleneck networks vs their limit vs the pure NTK on digits.")
    config_cls = BottleneckConfig

    def run(self, config: BottleneckConfig, ctx) -> dict[str, Any]:
        c = config
        common = dict(activation=c.activation, w_var=c.w_var, b_var=c.b_var)
        ctx.log("(a) empirical vs analytic kernels")
        a = ctx.sweep(kernel_errors, {"a": dict(widths=list(c.a_widths), depth=c.a_depth, points=c.a_points, draws=c.a_draws,
                                                **common)}, seeds=[0], desc="bottleneck: (a) kernels")["a"][0]
        ctx.log("(b) bottleneck kernel split")
        b = ctx.sweep(bottleneck_split, {"b": dict(widths=list(c.b_widths), ds=list(c.b_ds), draws=c.b_draws, **common)},
                      seeds=[0], desc="bottleneck: (b) split")["b"][0]
        out: dict[str, Any] = {
            "a": {"widths": np.array(c.a_widths), **{k: np.asarray(v) for k, v in a.items()}},
            "b": {"widths": np.array(c.b_widths), "ds": np.array(c.b_ds), **{k: np.asarray(v) for k, v in b.items()}},
            "c": {},
        }
        ctx.log("(d) deep linear analogue")
        lin = ctx.sweep(linear_toy, {"lin": dict(taus=list(c.lin_taus), ds=list(c.lin_ds), frac=1e-3)},
                        seeds=list(range(c.lin_draws)), desc="bottleneck: (d) linear")["lin"]
        out["lin"] = {"taus": np.array(c.lin_taus), "ds": np.array(c.lin_ds),
                      "t_bottleneck": np.stack([np.asarray(r["t_bottleneck"]) for r in lin]),
                      "t_lazy": np.stack([np.asarray(r["t_lazy"]) for r in lin])}
        base = dict(d=c.d, depth_g=c.depth_g, n_train=c.n_train, n_test=c.n_test, target_class=c.target_class, lr=c.lr,
                    steps=c.steps, record_every=c.record_every, **common)
        for scale in c.scales:
            tag = f"scale{scale:g}"
            ctx.log(f"(c) training, {tag}")
            units = {f"{tag}-n{n}": dict(base, scale=scale, width=n) for n in c.c_widths}
            fin = ctx.sweep(train_finite, units, desc=f"bottleneck: (c) finite {tag}")
            cond = ctx.sweep(train_conditional_limit,
                             {f"{tag}-cond-n{n}": dict(base, scale=scale, width=n, limit_width=c.cond_ratio * n)
                              for n in c.c_widths}, desc=f"bottleneck: (c) conditional limit {tag}")
            lim = ctx.sweep(train_limit, {f"{tag}-limit": dict(base, scale=scale, limit_width=c.limit_width)},
                            desc=f"bottleneck: (c) limit {tag}")[f"{tag}-limit"]
            ntk = ctx.sweep(ntk_baseline, {f"{tag}-ntk": dict(base, scale=scale)},
                            desc=f"bottleneck: (c) ntk {tag}")[f"{tag}-ntk"]

            def stack(rs, key):
                return np.stack([np.asarray(r[key]) for r in rs])

            out["c"][tag] = {
                "scale": scale, "t": np.asarray(lim[0]["t"]), "widths": np.array(c.c_widths),
                "finite_train": np.stack([stack(fin[f"{tag}-n{n}"], "train") for n in c.c_widths]),
                "finite_test": np.stack([stack(fin[f"{tag}-n{n}"], "test") for n in c.c_widths]),
                "finite_out": np.stack([stack(fin[f"{tag}-n{n}"], "out_train") for n in c.c_widths]),
                "cond_train": np.stack([stack(cond[f"{tag}-cond-n{n}"], "train") for n in c.c_widths]),
                "cond_out": np.stack([stack(cond[f"{tag}-cond-n{n}"], "out_train") for n in c.c_widths]),
                "limit_train": stack(lim, "train"), "limit_test": stack(lim, "test"),
                "ntk_train": stack(ntk, "train"), "ntk_test": stack(ntk, "test"),
            }
        return out

    def claims(self, config: BottleneckConfig, results: Mapping[str, Any]) -> list[Claim]:
        c = config
        out = []
        a = results["a"]
        rng = np.random.default_rng(0)
        for key in ("ntk", "nngp"):
            e = np.asarray(a[key])  # (draws, widths): relative Frobenius error of one network per draw
            err = np.sqrt(np.mean(e**2, axis=0))  # RMS over draws: sqrt(E|err|^2) ~ width^-1/2
            sl = _slope(a["widths"], err)
            # statistical error of the slope: bootstrap over draws (each draw is one network per width)
            boot = [_slope(a["widths"], np.sqrt(np.mean(e[rng.integers(0, len(e), len(e))] ** 2, axis=0)))
                    for _ in range(400)]
            tol = max(0.1, 2 * float(np.std(boot)))
            out.append(Claim(f"bottleneck.a-{key}-rate", f"the empirical {key.upper()} of a finite ReLU MLP converges to "
                             "the analytic kernel at rate width^-1/2 (log-log slope of the RMS relative error over draws)",
                             -0.5, round(sl, 3), round(tol, 3), abs(sl + 0.5) <= tol,
                             {"widths": a["widths"], "draws": int(e.shape[0]), "rms_rel_error": err,
                              "sqrt_width_times_rms": err * np.sqrt(np.asarray(a["widths"], float)),
                              "rel_error_of_draw_mean": np.asarray(a.get(f"{key}_mean", [])),
                              "bootstrap_slope_sd": float(np.std(boot)),
                              "tolerance": "max(0.1, 2 bootstrap sd over draws)"}))
        b = results["b"]
        jj_sd = np.asarray(b["jj"]).std(-1, ddof=1)  # (widths, ds)
        tf_sd = np.asarray(b["theta_f"]).std(-1, ddof=1)
        se = np.sqrt(2.0 / (np.asarray(b["jj"]).shape[-1] - 1))  # relative standard error of a sample std (Gaussian)
        sl_jj_n = [_slope(b["widths"], jj_sd[:, i]) for i in range(len(b["ds"]))]
        sl_tf_n = [_slope(b["widths"], tf_sd[:, i]) for i in range(len(b["ds"]))]
        sl_jj_d = _slope(b["ds"], jj_sd[-1])
        tol_n = 3 * se * np.sqrt(2) / np.log(b["widths"][-1] / b["widths"][0])
        out.append(Claim("bottleneck.b-random-at-fixed-d", "at fixed d the bottleneck part J_f Theta_g J_f^T stays random: "
                         "its spread over draws does not shrink with width (slope vs width ~ 0), while Theta_f's does (~ -1/2)",
                         {"jj": 0.0, "theta_f": -0.5},
                         {"jj": [round(s, 3) for s in sl_jj_n], "theta_f": [round(s, 3) for s in sl_tf_n]},
                         f"|jj slope| <= {0.1 + tol_n:.3f}; theta_f slope within 0.15 of -0.5",
                         bool(max(abs(s) for s in sl_jj_n) <= 0.1 + tol_n and all(abs(s + 0.5) <= 0.15 for s in sl_tf_n)),
                         {"jj_sd": jj_sd, "theta_f_sd": tf_sd}))
        out.append(Claim("bottleneck.b-spread-vs-d", "the spread of J_f.J_f' over draws shrinks like d^-1/2 (largest width)",
                         -0.5, round(sl_jj_d, 3), 0.15, abs(sl_jj_d + 0.5) <= 0.15, {"ds": b["ds"], "jj_sd": jj_sd[-1]}))
        if "lin" in results:
            lin = results["lin"]
            sp_ = np.exp(np.mean(np.log(np.asarray(lin["t_lazy"]) / np.asarray(lin["t_bottleneck"])), axis=0))  # (taus, ds)
            taus = np.asarray(lin["taus"])
            order = np.argsort(taus)
            big, small = sp_[order[-1]], sp_[order[0]]
            rising = bool(np.all(np.diff(sp_[order], axis=0) > 0))
            out.append(Claim("bottleneck.d-linear-acceleration", "deep linear analogue (reference note section 3): the "
                             "finite-bottleneck linear model reaches 1e-3 of its initial loss faster than the lazy model with "
                             f"the same initial kernel trace for the largest target (tau = {taus[order[-1]]:g}) at every d, "
                             "slower "
                             f"for the smallest (tau = {taus[order[0]]:g}), the speed-up rising with tau (the logistic's rate "
                             "near the optimum is 2 kappa tau against the lazy c)",
                             "speed-up > 1 at the largest tau, < 1 at the smallest, increasing in tau",
                             {f"tau={t:g}": [round(float(v), 3) for v in row] for t, row in zip(taus, sp_)},
                             "sign", bool(np.all(big > 1) and np.all(small < 1) and rising),
                             {"ds": lin["ds"], "geometric mean over draws": True}))
        speed = {}
        for tag, r in results["c"].items():
            t = np.asarray(r["t"])
            lim = np.asarray(r["limit_train"]).mean(0)
            fin = np.asarray(r["finite_train"]).mean(1)  # (W, R)
            cd = _conditional_distance(r["finite_out"], r["cond_out"], r["finite_train"], r["cond_train"], r["widths"], rng)
            ok = bool(len(cd["fun"]) >= 2 and np.all(cd["fun_ratio"] + 2 * cd["fun_ratio_sd"] < 1))
            out.append(Claim(f"bottleneck.c-{tag}-finite-to-limit", f"({tag}) finite bottleneck networks approach the "
                             "bottleneck-limit dynamics as width grows: relative RMS distance (over training inputs and "
                             "recorded times) between the outputs of each network and of the limit started from the same "
                             "draws (h_0 = its own g_0(x), f_0 = its own head), paired by seed",
                             "decreasing in width", [round(float(x), 4) for x in cd["fun"]],
                             "each step to the next width lowers the seed-mean distance by more than 2 bootstrap sd "
                             "(ratio + 2 sd < 1)", ok,
                             {"widths": r["widths"], "seeds": int(np.shape(r["cond_train"])[1]),
                              "limit_head_width": [int(config.cond_ratio * n) for n in r["widths"]],
                              "distance_per_seed": np.round(cd["fun_per_seed"], 4),
                              "ratio_to_previous_width": np.round(cd["fun_ratio"], 3),
                              "ratio_bootstrap_sd": np.round(cd["fun_ratio_sd"], 3),
                              "loglog_slope": round(cd["fun_slope"], 3),
                              "loglog_slope_bootstrap_sd": round(cd["fun_slope_sd"], 3),
                              "loss_curve_distance": np.round(cd["loss"], 4),
                              "loss_curve_distance_per_seed": np.round(cd["loss_per_seed"], 4),
                              "loss_curve_slope": round(cd["loss_slope"], 3),
                              "loss_curve_slope_sd": round(cd["loss_slope_sd"], 3),
                              "note": "first-order perturbation theory gives width^-1/2 for smooth activations; the rate is "
                                      "reported, not tested: ReLU heads have a piecewise-constant J_f0 (see module docstring)"}))
            ntk_m = np.asarray(r["ntk_train"]).mean(0)
            # each model against its own initial loss (the reference note's measure; F_0 differs between models)
            t_ntk = _time_to(t, ntk_m, c.loss_level * ntk_m[0])
            t_lim = _time_to(t, lim, c.loss_level * lim[0])
            t_fin = _time_to(t, fin[-1], c.loss_level * fin[-1][0])
            speed[tag] = (t_ntk / t_lim if math.isfinite(t_lim) else 0.0, t_ntk / t_fin if math.isfinite(t_fin) else 0.0)
            test = {"limit": float(np.asarray(r["limit_test"]).mean(0)[-1]), "ntk": float(np.asarray(r["ntk_test"]).mean(0)[-1]),
                    f"finite n={int(r['widths'][-1])}": float(np.asarray(r["finite_test"]).mean(1)[-1, -1])}
            large_targets = r["scale"] == max(v["scale"] for v in results["c"].values())
            want = "> 1 (large targets)" if large_targets else "<= 1 (small targets)"
            sp = speed[tag][0]
            out.append(Claim(f"bottleneck.c-{tag}-speedup", f"({tag}) speed-up of the bottleneck over the pure NTK: time for the "
                             f"NTK model to reach {c.loss_level:g} x its initial training loss (seed-mean curve) over the "
                             "same time "
                             "for the bottleneck model (limit; widest finite network in details); final test losses in details. "
                             "Predicted from the deep-linear analogue (reference note section 3): acceleration for targets "
                             "large against the initial outputs, none for small ones",
                             want, round(sp, 3), "sign", bool(sp > 1) if large_targets else bool(sp <= 1),
                             {"t_ntk": t_ntk, "t_limit": t_lim, "t_finite_widest": t_fin, "speedup_finite_widest": speed[tag][1],
                              "final_test_loss": test,
                              "final_train_loss": {"limit": float(lim[-1]),
                                                   "ntk": float(np.asarray(r["ntk_train"]).mean(0)[-1])}}))
        if len(speed) >= 2:
            tags = sorted(results["c"], key=lambda k: results["c"][k]["scale"])
            small, large = speed[tags[0]][0], speed[tags[-1]][0]
            out.append(Claim("bottleneck.c-acceleration-needs-large-targets", "the bottleneck accelerates training over the "
                             "pure NTK when targets are large against the initial outputs, and not (or less) when they are small",
                             "speed-up(large) > 1 and speed-up(large) > speed-up(small)",
                             {"small": round(small, 3), "large": round(large, 3)}, "sign", bool(large > 1 and large > small)))
        return out

    def plots(self, config: BottleneckConfig, results: Mapping[str, Any], outdir) -> list:
        pngs = []
        a, b = results["a"], results["b"]
        fig, ax = P.figure(1, 3, width=10.5)
        cols = P.CATEGORICAL
        w = np.asarray(a["widths"], float)
        for i, key in enumerate(("ntk", "nngp")):
            e = np.asarray(a[key])
            m = np.sqrt(np.mean(e**2, axis=0))
            ax[0, 0].plot(w, e.T, ".", color=cols[i], alpha=0.3, ms=3)
            ax[0, 0].plot(w, m, "o", color=cols[i], label=f"empirical {key.upper()} (RMS)")
            ax[0, 0].plot(w, m[0] * (w / w[0]) ** -0.5, "-", color=cols[i], lw=0.8)
        _log_axes(ax[0, 0])
        ax[0, 0].set(xlabel="width", ylabel="relative error", title="(a) kernel convergence")
        ax[0, 0].legend(title="line: width$^{-1/2}$", fontsize=7)
        jj_sd = np.asarray(b["jj"]).std(-1, ddof=1)
        tf_sd = np.asarray(b["theta_f"]).std(-1, ddof=1)
        bw = np.asarray(b["widths"], float)
        dcols = P.colors(len(b["ds"]), "Blues")
        for i, d in enumerate(b["ds"]):
            ax[0, 1].plot(bw, jj_sd[:, i], "o-", color=dcols[i], label=f"$J_fJ_f'$, d={int(d)}")
            ax[0, 1].plot(bw, tf_sd[:, i], "s--", color=P.colors(len(b["ds"]), "Reds")[i], lw=0.8)
        _log_axes(ax[0, 1])
        ax[0, 1].set(xlabel="width n", ylabel="std over draws",
                     title="(b) bottleneck part stays random")
        ax[0, 1].legend(fontsize=6, title=r"dashed: $\Theta_f$", title_fontsize=6)
        ds = np.asarray(b["ds"], float)
        ax[0, 2].plot(ds, jj_sd[-1], "o", color=cols[0], label=f"n={int(bw[-1])}")
        ax[0, 2].plot(ds, jj_sd[-1][0] * (ds / ds[0]) ** -0.5, "-", color="k", lw=0.8, label="$d^{-1/2}$")
        _log_axes(ax[0, 2])
        ax[0, 2].set(xlabel="bottleneck d", ylabel=r"std of $J_f(h)\cdot J_f(h')$",
                     title="(b) spread vs d")
        ax[0, 2].legend(fontsize=7)
        pngs.append(P.save(fig, outdir, "bottleneck_kernels"))
        if "lin" in results:
            lin = results["lin"]
            ratio = np.asarray(lin["t_lazy"]) / np.asarray(lin["t_bottleneck"])  # (draws, taus, ds)
            fig, axl = P.figure(1, 1, width=4.0)
            ax1 = axl[0, 0]
            lc = P.colors(len(lin["ds"]), "Purples")
            taus = np.asarray(lin["taus"], float)
            for i, d in enumerate(lin["ds"]):
                ax1.plot(taus, np.exp(np.log(ratio[:, :, i]).mean(0)), "o-", color=lc[i], label=f"d={int(d)}")
                ax1.plot(np.repeat(taus[None], ratio.shape[0], 0).ravel(), ratio[:, :, i].ravel(), ".", color=lc[i],
                         alpha=0.4, ms=3)
            ax1.axhline(1.0, color="k", lw=0.8)
            _log_axes(ax1)
            ax1.set(xlabel=r"target scale $\tau$", ylabel="speed-up (t lazy / t bottleneck)",
                    title="(d) linear bottleneck vs lazy, 1e-3 loss")
            ax1.legend(fontsize=7)
            pngs.append(P.save(fig, outdir, "bottleneck_linear"))
        tags = sorted(results["c"], key=lambda k: results["c"][k]["scale"])
        if tags:
            fig, ax = P.figure(2, len(tags), width=4.2 * len(tags), height=6.0)
            for j, tag in enumerate(tags):
                r = results["c"][tag]
                t = np.asarray(r["t"])
                wc = P.colors(len(r["widths"]), "Blues")
                for row, key in enumerate(("train", "test")):
                    axx = ax[row, j]
                    fin = np.asarray(r[f"finite_{key}"])
                    for i, n in enumerate(r["widths"]):
                        P.theory_and_experiment(axx, t, None, fin[i].mean(0), fin[i].min(0), fin[i].max(0), color=wc[i],
                                                label=f"finite n={int(n)}")
                    lim = np.asarray(r[f"limit_{key}"])
                    axx.plot(t, lim.mean(0), "-", color="k", label="bottleneck limit")
                    axx.fill_between(t, lim.min(0), lim.max(0), color="k", alpha=0.1, lw=0)
                    ntk = np.asarray(r[f"ntk_{key}"])
                    axx.plot(t, ntk.mean(0), "-", color=cols[1], label="pure NTK (closed form)")
                    axx.set(yscale="log", xlabel="time (lr x step)", ylabel=f"{key} loss",
                            title=f"(c) target scale {r['scale']:g}, {key}")
                    if row == 0 and j == 0:
                        axx.legend(fontsize=6)
            pngs.append(P.save(fig, outdir, "bottleneck_training"))
            if all("cond_out" in results["c"][tag] for tag in tags):
                fig, axd = P.figure(1, 1, width=4.0)
                ax1 = axd[0, 0]
                for j, tag in enumerate(tags):
                    r = results["c"][tag]
                    w = np.asarray(r["widths"], float)
                    fo, co = np.asarray(r["finite_out"], float), np.asarray(r["cond_out"], float)
                    per = np.sqrt(np.sum((fo - co) ** 2, axis=(2, 3)) / np.sum(co**2, axis=(2, 3)))  # (W, S)
                    ax1.plot(np.repeat(w[:, None], per.shape[1], 1).ravel(), per.ravel(), ".", color=cols[j], alpha=0.4, ms=3)
                    ax1.plot(w, per.mean(1), "o-", color=cols[j], label=f"target scale {r['scale']:g}")
                    ax1.plot(w, per.mean(1)[0] * (w / w[0]) ** -0.5, ":", color=cols[j], lw=0.8)
                _log_axes(ax1)
                ax1.set(xlabel="width n", ylabel="relative RMS output distance",
                        title="(c) finite net vs limit from its own draws")
                ax1.legend(fontsize=7, title="dotted: width$^{-1/2}$", title_fontsize=7)
                pngs.append(P.save(fig, outdir, "bottleneck_finite_to_limit"))
        return pngs


register(BottleneckExperiment())
