"""The report: run every registered experiment and write ``index.html`` and ``claims.json``.

``python -m sims report [--out DIR]`` runs each experiment into ``DIR/<name>/`` (a full run directory,
see :mod:`sims._store`, so an interrupted report resumes) and writes

* ``DIR/index.html``: per experiment its paper, description, run time, figures (PNG, linked to the PDF)
  and a claims table (id, statement, predicted, measured, tolerance, holds in green / red); a failed
  experiment shows its traceback;
* ``DIR/claims.json``: every claim, each with its ``experiment``;
* ``DIR/experiments.json``: each experiment's status, run time, claim count and run directory.

An experiment that raises is recorded as failed and the others still run.
"""

from __future__ import annotations

import dataclasses
import html
import math
import os
import pathlib
import time
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._executor import Executor, make_executor
from ._experiment import SCALES, Claim, Experiment, registry
from ._runner import run_experiment
from ._store import atomic_write, now, write_json

__all__ = ["fmt", "format_claims_table", "ReportEntry", "Report", "write_report", "render_html"]


def fmt(x: Any, sig: int = 4, max_items: int = 6) -> str:
    """A short readable string: ``sig`` significant digits, long lists compacted as
    ``[a, b, c, ..., z] (n=100)``, dicts as ``k: v, ...``."""
    if x is None:
        return "-"
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return str(x) if not math.isfinite(x) else f"{x:.{sig}g}"
    if isinstance(x, complex):
        return f"{fmt(x.real, sig)}{'+' if x.imag >= 0 else '-'}{fmt(abs(x.imag), sig)}j"
    if isinstance(x, np.ndarray):
        return fmt(x.tolist(), sig, max_items)
    if isinstance(x, Mapping):
        return ", ".join(f"{k}: {fmt(v, sig, max_items)}" for k, v in x.items())
    if isinstance(x, (list, tuple)):
        items = [fmt(v, sig, max_items) for v in x]
        if len(items) > max_items:
            items = [*items[: max_items - 2], "...", items[-1]]
            return "[" + ", ".join(items) + f"] (n={len(x)})"
        return "[" + ", ".join(items) + "]"
    return str(x)


def format_claims_table(claims: Sequence[Claim], *, width: int = 60) -> str:
    """Plain-text table of claims (id, predicted, measured, tolerance, holds) and a ``k/n claims hold``
    summary line."""
    rows = [("claim", "predicted", "measured", "tolerance", "holds")]
    for c in claims:
        cells = [c.id, fmt(c.predicted), fmt(c.measured), fmt(c.tolerance), "yes" if c.holds else "NO"]
        rows.append(tuple(s if len(s) <= width else s[: width - 3] + "..." for s in cells))
    w = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip() for r in rows]
    lines.insert(1, "-" * max(len(s) for s in lines))
    n_hold = sum(c.holds for c in claims)
    lines.append(f"{n_hold}/{len(claims)} claims hold")
    return "\n".join(lines)


@dataclasses.dataclass
class ReportEntry:
    """One experiment in the report (``status`` is ``"ok"`` or ``"failed"``; ``error`` the traceback)."""

    name: str
    paper: str
    description: str
    status: str
    seconds: float
    out: pathlib.Path
    claims: list[Claim] = dataclasses.field(default_factory=list)
    figures: list[pathlib.Path] = dataclasses.field(default_factory=list)
    error: str | None = None


@dataclasses.dataclass
class Report:
    """The written report: its directory, entries, and whether every experiment ran."""

    out: pathlib.Path
    entries: list[ReportEntry]

    @property
    def ok(self) -> bool:
        return all(e.status == "ok" for e in self.entries)

    @property
    def index(self) -> pathlib.Path:
        return self.out / "index.html"


def write_report(out: str | os.PathLike = "report", *, scale: str = "default", seeds: int | Sequence[int] | None = None,
                 executor: Executor | None = None, only: Sequence[str] | None = None, progress: bool = True,
                 fresh: bool = False) -> Report:
    """Run every registered experiment (or those in ``only``) into ``out/<name>/`` and write the report.

    Args:
        out: the report directory.
        scale, seeds, progress, fresh: passed to :func:`~sims._runner.run_experiment` for each experiment.
        executor: shared by all experiments; default in-process (closed afterwards).
        only: names of the experiments to run.

    Returns:
        :class:`Report`; ``report.ok`` is False if an experiment failed.

    Raises:
        ValueError: for an unknown ``scale`` or a name in ``only`` that is not registered (before any run).
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    reg = registry()
    if only:
        unknown = [n for n in only if n not in reg]
        if unknown:
            raise ValueError(f"only: unknown experiment(s) {unknown}; registered: {sorted(reg)}")
        names = list(dict.fromkeys(only))
    else:
        names = sorted(reg)
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    own = executor is None
    executor = make_executor() if own else executor
    entries: list[ReportEntry] = []
    try:
        for name in names:
            exp: Experiment = reg[name]
            t0 = time.perf_counter()
            try:
                rec = run_experiment(exp, scale=scale, seeds=seeds, out=out / name, executor=executor,
                                     progress=progress, fresh=fresh)
            except Exception:  # noqa: BLE001 - recorded in the report, the others still run
                tb = traceback.format_exc()
                if progress:
                    print(f"experiment {name} FAILED:\n{tb}", flush=True)
                entries.append(ReportEntry(name, exp.paper, exp.description, "failed", time.perf_counter() - t0,
                                           out / name, error=tb))
            else:
                entries.append(ReportEntry(name, exp.paper, exp.description, "ok", rec.seconds, rec.out,
                                           rec.claims, rec.figures))
            _write_files(out, entries, scale)  # after every experiment: a partial report is still a report
    finally:
        if own:
            executor.shutdown()
    return Report(out, entries)


def _write_files(out: pathlib.Path, entries: Sequence[ReportEntry], scale: str) -> None:
    write_json(out / "claims.json", [{"experiment": e.name, **c.to_dict()} for e in entries for c in e.claims])
    write_json(out / "experiments.json", [
        {"name": e.name, "paper": e.paper, "status": e.status, "seconds": e.seconds,
         "claims_hold": sum(c.holds for c in e.claims), "claims_total": len(e.claims),
         "run_dir": _rel(e.out, out), "error": e.error} for e in entries])
    atomic_write(out / "index.html", render_html(entries, out, scale))


def _rel(p: pathlib.Path, base: pathlib.Path) -> str:
    return pathlib.Path(os.path.relpath(pathlib.Path(p).resolve(), base.resolve())).as_posix()


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{font-family:ui-monospace,monospace;white-space:nowrap}
.hold{background:#d9f2d9;color:#145214;font-weight:bold}.fail{background:#f8d4d4;color:#7a1010;font-weight:bold}
.figs img{max-width:100%;width:560px;margin:.4em;border:1px solid #eee}
pre{background:#fbeaea;padding:1em;overflow-x:auto;font-size:.85em}.meta{color:#666;font-size:.9em}
"""


def render_html(entries: Sequence[ReportEntry], out: str | os.PathLike, scale: str) -> str:
    """The ``index.html`` page for ``entries``; figure links are relative to ``out``."""
    out = pathlib.Path(out)
    e_ = html.escape
    n_claims = sum(len(e.claims) for e in entries)
    n_hold = sum(c.holds for e in entries for c in e.claims)
    failed = [e.name for e in entries if e.status != "ok"]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>theorylab report</title>"
             f"<style>{_CSS}</style></head><body>",
             "<h1>theorylab: theory against experiment</h1>",
             f"<p class='meta'>scale <b>{e_(scale)}</b> &middot; generated {e_(now())} &middot; "
             f"<b>{n_hold}/{n_claims}</b> claims hold &middot; {len(entries) - len(failed)}/{len(entries)} "
             f"experiments ran" + (f" (failed: {e_(', '.join(failed))})" if failed else "") + "</p>",
             "<table><tr><th>experiment</th><th>paper</th><th>status</th><th>claims hold</th><th>run time</th></tr>"]
    for e in entries:
        k = sum(c.holds for c in e.claims)
        cls = "hold" if e.status == "ok" and k == len(e.claims) else "fail"
        parts.append(f"<tr><td><a href='#{e_(e.name)}'>{e_(e.name)}</a></td><td>{e_(e.paper)}</td>"
                     f"<td class='{'hold' if e.status == 'ok' else 'fail'}'>{e_(e.status)}</td>"
                     f"<td class='{cls}'>{k}/{len(e.claims)}</td><td class='num'>{e.seconds:.1f} s</td></tr>")
    parts.append("</table>")
    for e in entries:
        parts.append(f"<h2 id='{e_(e.name)}'>{e_(e.name)}</h2>")
        parts.append(f"<p><i>{e_(e.paper)}</i></p><p>{e_(e.description)}</p>")
        parts.append(f"<p class='meta'>{e_(e.status)} in {e.seconds:.1f} s &middot; run directory "
                     f"<a href='{e_(_rel(e.out, out))}/'>{e_(_rel(e.out, out))}</a></p>")
        if e.error:
            parts.append(f"<p class='fail'>This experiment failed.</p><pre>{e_(e.error)}</pre>")
        if e.figures:
            parts.append("<div class='figs'>")
            for f in e.figures:
                png = _rel(f, out)
                pdf = pathlib.Path(f).with_suffix(".pdf")
                href = _rel(pdf, out) if pdf.exists() else png
                parts.append(f"<a href='{e_(href)}'><img src='{e_(png)}' alt='{e_(pathlib.Path(f).stem)}'></a>")
            parts.append("</div>")
        if e.claims:
            parts.append("<table><tr><th>id</th><th>statement</th><th>predicted</th><th>measured</th>"
                         "<th>tolerance</th><th>holds</th></tr>")
            for c in e.claims:
                parts.append(f"<tr><td>{e_(c.id)}</td><td>{e_(c.statement)}</td>"
                             f"<td class='num'>{e_(fmt(c.predicted))}</td><td class='num'>{e_(fmt(c.measured))}</td>"
                             f"<td class='num'>{e_(fmt(c.tolerance))}</td>"
                             f"<td class='{'hold' if c.holds else 'fail'}'>{'yes' if c.holds else 'no'}</td></tr>")
            parts.append("</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
