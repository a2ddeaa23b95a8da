"""The one plotting style of ``sims``: figures, colours, theory-vs-experiment curves, atomic saving.

Figures are ``matplotlib.figure.Figure`` objects on the Agg canvas, made without ``pyplot``: nothing is
displayed, no global backend is switched, and nothing leaks between figures. Typical use in an
experiment's ``plots``::

    from . import plotting as P

    fig, axes = P.figure(1, 2)
    ax = axes[0, 0]
    for c, (lam, curve) in zip(P.colors(len(lams)), curves.items()):
        P.theory_and_experiment(ax, t, curve["ode"], exp_mean=m, exp_lo=lo, exp_hi=hi, color=c,
                                label=f"$\\\\lambda={lam}$")
    P.legend(ax)           # colour entries plus "theory" (solid) / "experiment" (dashed) keys
    return [P.save(fig, outdir, "fig2a")]   # outdir/fig2a.png (150 dpi) and fig2a.pdf

Conventions: theory is a solid line, experiment a dashed line with a few markers and a shaded band (e.g.
min..max or a quantile range over seeds); within a family, darker = larger parameter (:func:`colors`).
"""

from __future__ import annotations

import io
import logging
import os
import pathlib
from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .store import atomic_write

__all__ = ["STYLE", "CATEGORICAL", "LINE_KEYS", "figure", "colors", "theory_and_experiment", "legend", "line_keys", "save"]

#: rc settings applied to every figure (through :func:`figure`)
STYLE: dict[str, Any] = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 7.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.5,
    "lines.markersize": 3.5,
    "legend.frameon": False,
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "pdf.fonttype": 42,  # embed TrueType: editable text in the PDF
    "mathtext.fontset": "cm",
}

#: Okabe-Ito, a colour-blind-safe categorical palette (for unordered families such as objectives)
CATEGORICAL = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")

_SEQUENTIAL = ("Blues", "Reds", "Greens", "Purples", "Oranges", "Greys", "viridis", "magma")


def figure(nrows: int = 1, ncols: int = 1, *, width: float | None = None, height: float | None = None,
           sharex: bool = False, sharey: bool = False) -> tuple[Figure, np.ndarray]:
    """A new figure in the package style.

    Args:
        nrows, ncols: the grid of axes.
        width, height: inches; default 3.3 per column and 2.6 per row.
        sharex, sharey: share axes as in ``Figure.subplots``.

    Returns:
        ``(fig, axes)`` with ``axes`` always a 2-D ``ndarray`` of shape ``(nrows, ncols)``.

    Raises:
        ValueError: for non-positive ``nrows``, ``ncols``, ``width`` or ``height``.
    """
    for n, v in (("nrows", nrows), ("ncols", ncols)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"figure: {n} must be a positive int, got {v!r}")
    width = 3.3 * ncols if width is None else width
    height = 2.6 * nrows if height is None else height
    for n, v in (("width", width), ("height", height)):
        if not (isinstance(v, (int, float)) and v > 0):
            raise ValueError(f"figure: {n} must be a positive number of inches, got {v!r}")
    matplotlib.rcParams.update(STYLE)
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=sharex, sharey=sharey)
    return fig, axes


def colors(n: int, cmap: str = "Blues", *, lo: float = 0.35, hi: float = 1.0) -> list[tuple]:
    """``n`` colours from a sequential colormap, lightest first: darker = larger parameter.

    Args:
        n: number of colours.
        cmap: a matplotlib colormap name (e.g. ``"Blues"`` for JEPA, ``"Reds"`` for MAE).
        lo, hi: the part of the colormap used (``lo > 0`` avoids near-white lines).

    Returns:
        a list of RGBA tuples.

    Raises:
        ValueError: for ``n < 1``, an unknown ``cmap``, or not ``0 <= lo <= hi <= 1``.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"colors: n must be a positive int, got {n!r}")
    if not 0 <= lo <= hi <= 1:
        raise ValueError(f"colors: need 0 <= lo <= hi <= 1, got lo={lo!r}, hi={hi!r}")
    try:
        cm = matplotlib.colormaps[cmap]
    except KeyError:
        raise ValueError(f"colors: unknown cmap {cmap!r}; e.g. {_SEQUENTIAL}") from None
    if cmap.endswith("_r") or cmap in ("viridis", "magma", "plasma", "inferno", "cividis"):
        lo, hi = 1 - lo, 1 - hi  # dark-to-light maps: reverse so larger index = darker
    return [tuple(cm(float(x))) for x in np.linspace(lo, hi, int(n))]


def _vec(name: str, x: Any, n: int | None) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"theory_and_experiment: {name} must be 1-D, got shape {a.shape}")
    if n is not None and a.shape[0] != n:
        raise ValueError(f"theory_and_experiment: {name} must have length {n}, got {a.shape[0]}")
    return a


def theory_and_experiment(ax: Axes, t: Any, theory: Any | None, exp_mean: Any | None = None,
                          exp_lo: Any | None = None, exp_hi: Any | None = None, *, color: Any, label: str | None = None,
                          t_exp: Any | None = None, markers: int = 8) -> None:
    """Draw a theory curve (solid) and the matching experiment (dashed, markers, shaded band).

    Args:
        ax: the axes.
        t: times of ``theory`` (1-D).
        theory: theory values at ``t`` (1-D), or ``None`` to draw only the experiment.
        exp_mean: experiment mean (1-D) at ``t_exp``; optional.
        exp_lo, exp_hi: the band (both or neither), e.g. min/max or quantiles over seeds.
        color: one colour for both.
        label: legend label, attached to the theory line (or to the experiment when ``theory`` is None).
        t_exp: times of the experiment; default ``t``.
        markers: about how many markers on the experiment line.

    Raises:
        ValueError: for shapes that do not match, or only one of ``exp_lo`` / ``exp_hi``.
    """
    t = _vec("t", t, None)
    if theory is not None:
        ax.plot(t, _vec("theory", theory, len(t)), "-", color=color, label=label)
    if (exp_lo is None) != (exp_hi is None):
        raise ValueError("theory_and_experiment: give both exp_lo and exp_hi, or neither")
    if exp_mean is None and exp_lo is None:
        return
    te = t if t_exp is None else _vec("t_exp", t_exp, None)
    if exp_lo is not None:
        ax.fill_between(te, _vec("exp_lo", exp_lo, len(te)), _vec("exp_hi", exp_hi, len(te)), color=color,
                        alpha=0.18, linewidth=0)
    if exp_mean is not None:
        ax.plot(te, _vec("exp_mean", exp_mean, len(te)), "--", color=color, marker="o", markerfacecolor="none",
                markevery=max(1, len(te) // max(1, markers)), linewidth=1.1,
                label=label if theory is None else None)


def legend(ax: Axes, *, theory_experiment: bool = True, **kwargs: Any):
    """``ax.legend`` with, after the labelled curves, a black solid "theory" and dashed "experiment" key."""
    handles, labels = ax.get_legend_handles_labels()
    if theory_experiment:
        handles += [Line2D([], [], color="k", ls="-"),
                    Line2D([], [], color="k", ls="--", marker="o", markerfacecolor="none")]
        labels += ["theory", "experiment"]
    return ax.legend(handles, labels, **kwargs)


#: The package's line conventions, as black legend keys: the theory solid, a numerical ODE dotted, measurements
#: dashed with open markers. Experiments name the keys they use (:func:`line_keys`) instead of restyling them.
LINE_KEYS: dict[str, dict[str, Any]] = {
    "theory": dict(color="k", ls="-", label="theory (closed form)"),
    "ode": dict(color="k", ls=":", label="ODE, integrated numerically"),
    "ode_points": dict(color="k", ls="none", marker="o", mfc="none", label="ODE, integrated numerically"),
    "trained": dict(color="k", ls="--", marker="o", mfc="none", label="trained (band: over seeds)"),
    "trained_err": dict(color="k", ls="--", marker="o", mfc="none", label="trained (mean, sd over seeds)"),
    "measured": dict(color="k", ls="--", marker="o", mfc="none", label="measured (band: over seeds)"),
    "rank_line": dict(color="k", ls="-.", lw=0.8, label="vertical: learned rank"),
}


def line_keys(ax: Axes, *keys: str, labels: dict[str, str] | None = None) -> None:
    """Add black legend keys (empty proxy lines, no data) for the line styles of :data:`LINE_KEYS` used in ``ax``.

    Args:
        ax: the axes whose legend gets the keys (call before :func:`legend`).
        *keys: names in :data:`LINE_KEYS`, in legend order.
        labels: optional replacement labels by key (the style stays the package's).

    Raises:
        ValueError: for a key not in :data:`LINE_KEYS` or a ``labels`` key not among ``keys``.
    """
    for k in keys:
        if k not in LINE_KEYS:
            raise ValueError(f"line_keys: unknown key {k!r}; known: {sorted(LINE_KEYS)}")
    labels = dict(labels or {})
    extra = set(labels) - set(keys)
    if extra:
        raise ValueError(f"line_keys: labels given for keys not drawn: {sorted(extra)}")
    for k in keys:
        style = dict(LINE_KEYS[k])
        if k in labels:
            style["label"] = labels[k]
        ax.plot([], [], **style)


def save(fig: Figure, outdir: str | os.PathLike, stem: str, *, formats: Sequence[str] = ("png", "pdf")) -> pathlib.Path:
    """Write ``outdir/stem.png`` (150 dpi) and ``outdir/stem.pdf`` atomically; close the figure.

    Args:
        fig: the figure (from :func:`figure`, or a pyplot figure, which is then closed).
        outdir: the directory (created if missing).
        stem: the file name without suffix; no path separators.
        formats: which files to write; the first must be ``"png"``.

    Returns:
        the path of the PNG.

    Raises:
        ValueError: for a ``stem`` with a separator or empty, or ``formats`` not starting with ``"png"``.
    """
    if not isinstance(stem, str) or not stem or "/" in stem or os.sep in stem or stem in (".", ".."):
        raise ValueError(f"save: stem must be a plain file name without suffix, got {stem!r}")
    formats = tuple(formats)
    if not formats or formats[0] != "png":
        raise ValueError(f"save: formats must start with 'png', got {formats!r}")
    outdir = pathlib.Path(outdir)
    # fontTools, subsetting the bundled DejaVu fonts into a PDF, warns that their zero 'created'/'modified'
    # timestamps "seem very low" (twice per figure): harmless noise in every report log, silenced here only
    fonttools = logging.getLogger("fontTools")
    level = fonttools.level
    fonttools.setLevel(logging.ERROR)
    try:
        for fmt in formats:
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt, dpi=150, metadata={"Software": "theorylab"} if fmt == "png" else None)
            atomic_write(outdir / f"{stem}.{fmt}", buf.getvalue())
    finally:
        fonttools.setLevel(level)
        import sys

        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close(fig)
    return outdir / f"{stem}.png"
