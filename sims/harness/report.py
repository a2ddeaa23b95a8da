"""The report: run every registered experiment and write ``index.html`` and ``claims.json``.

``python -m sims report [--out DIR]`` runs each experiment into ``DIR/<name>/`` (a full run directory,
see :mod:`sims.harness.store`, so an interrupted report resumes) and writes

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

from .executor import Executor, ProcessExecutor, make_executor
from .experiment import SCALES, Claim, Experiment, registry
from .runner import run_experiment
from .store import atomic_write, now, write_json

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
    rows = [("record", "kind", "predicted", "measured", "tolerance", "holds")]
    for c in claims:
        cells = [c.id, c.kind, fmt(c.predicted), fmt(c.measured), fmt(c.tolerance), "yes" if c.holds else "NO"]
        rows.append(tuple(s if len(s) <= width else s[: width - 3] + "..." for s in cells))
    w = [max(len(r[i]) for r in rows) for i in range(6)]
    lines = ["  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip() for r in rows]
    lines.insert(1, "-" * max(len(s) for s in lines))
    lines.append(_count_text(claims))
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
    intro: Mapping[str, str] = dataclasses.field(default_factory=dict)
    captions: Mapping[str, str] = dataclasses.field(default_factory=dict)
    compile_s: float | None = None  # XLA compilation seconds within ``seconds`` (from the run's CompileStats)


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
                 fresh: bool = False, jobs: int = 1) -> Report:
    """Run every registered experiment (or those in ``only``) into ``out/<name>/`` and write the report.

    Args:
        out: the report directory.
        scale, seeds, progress, fresh: passed to :func:`~sims.harness.runner.run_experiment` for each experiment.
        executor: shared by all experiments; default in-process (closed afterwards).
        only: names of the experiments to run.
        jobs: run this many experiments at once, each in its own (spawned) process. Experiments share nothing but
            the compilation cache (each has its own run directory and seeds), so the claims are the same as with
            ``jobs=1``; on a small machine much of an experiment's time is single-threaded (compilation, Python
            and scipy work), which a second process overlaps. The longest experiments of an earlier run in ``out``
            (their ``meta.json``) start first. Needs the default executor (``executor=None``).

    Returns:
        :class:`Report`; ``report.ok`` is False if an experiment failed. The entries keep the order of the names.

    Raises:
        ValueError: for an unknown ``scale``, a name in ``only`` that is not registered, ``jobs`` < 1, or
            ``jobs`` > 1 with an ``executor`` (before any run). TypeError: ``jobs`` not an int.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int):
        raise TypeError(f"jobs must be an int, got {jobs!r}")
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs!r}")
    if jobs > 1 and executor is not None:
        raise ValueError(f"jobs={jobs} runs experiments in their own processes; it cannot share the executor {executor!r}")
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
    if jobs > 1 and len(names) > 1:
        return _write_report_parallel(out, [reg[n] for n in names], scale=scale, seeds=seeds, progress=progress,
                                      fresh=fresh, jobs=jobs)
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
                entries.append(_entry(exp, out, ("failed", time.perf_counter() - t0, tb)))
            else:
                entries.append(_entry(exp, out, ("ok", rec)))
            _write_files(out, entries, scale)  # after every experiment: a partial report is still a report
    finally:
        if own:
            executor.shutdown()
    return Report(out, entries)


def _entry(exp: Experiment, out: pathlib.Path, outcome: tuple) -> ReportEntry:
    """The report entry of one experiment from ``("ok", RunRecord)`` or ``("failed", seconds, traceback)``."""
    if outcome[0] == "ok":
        rec = outcome[1]
        return ReportEntry(exp.name, exp.paper, exp.description, "ok", rec.seconds, rec.out, rec.claims, rec.figures,
                           intro=exp.intro_paragraphs(), captions=dict(exp.captions),
                           compile_s=(rec.compile or {}).get("compile_s"))
    return ReportEntry(exp.name, exp.paper, exp.description, "failed", outcome[1], out / exp.name, error=outcome[2],
                       intro=exp.intro_paragraphs())


def _run_in_process(exp: Experiment, out: pathlib.Path, scale: str, seeds, progress: bool, fresh: bool) -> tuple:
    """Body of one process of :func:`_write_report_parallel`: one experiment, its outcome as :func:`_entry` reads it."""
    from . import runner

    runner._BARS[0] = False  # several processes share the terminal: log lines, no progress bars
    t0 = time.perf_counter()
    try:
        rec = run_experiment(exp, scale=scale, seeds=seeds, out=out / exp.name, progress=progress, fresh=fresh)
    except Exception:  # noqa: BLE001 - recorded in the report, the others still run
        tb = traceback.format_exc()
        if progress:
            print(f"experiment {exp.name} FAILED:\n{tb}", flush=True)
        return ("failed", time.perf_counter() - t0, tb)
    return ("ok", rec)


# Cold default-scale seconds of each experiment in the 2-process report on the 2-core machine (2026-12-02): only
# the order in which a fresh report directory starts its experiments (longest first, so that the last ones to
# finish are short), never a result. An earlier run in the directory overrides it; a missing name counts as short.
_COLD_SECONDS_HINT = {"bottleneck": 601.0, "autoencoder": 320.0, "rft": 167.0, "symbols": 135.0, "hyper_ut": 133.0,
                      "lidar": 127.0, "locality": 95.0, "jepa": 80.0, "rasp_l": 67.0, "rft_class": 63.0, "slingshot": 62.0}


def _previous_seconds(run_dir: pathlib.Path, name: str | None = None) -> float:
    """Wall seconds of an earlier run in ``run_dir`` (its ``meta.json``); without one, the cold-run hint of the
    experiment ``name`` (:data:`_COLD_SECONDS_HINT`), else -1."""
    import json

    try:
        return float(json.loads((run_dir / "meta.json").read_text())["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return _COLD_SECONDS_HINT.get(name, -1.0) if name is not None else -1.0


def _write_report_parallel(out: pathlib.Path, exps: Sequence[Experiment], *, scale: str, seeds, progress: bool,
                           fresh: bool, jobs: int) -> Report:
    """:func:`write_report` with ``jobs`` processes (:class:`~sims.harness.executor.ProcessExecutor`: spawned, each
    with its share of the BLAS threads and this process's compilation cache)."""
    # longest first (stable: ties keep names), so that the last experiments to finish are short ones
    order = sorted(range(len(exps)), key=lambda i: -_previous_seconds(out / exps[i].name, exps[i].name))
    done: dict[int, ReportEntry] = {}
    with ProcessExecutor(min(jobs, len(exps))) as pool:
        futures = {pool.submit(_run_in_process, exps[i], out, scale, seeds, progress, fresh): i for i in order}
        for fut in pool.as_completed(futures):
            i = futures[fut]
            try:
                outcome = fut.result()
            except Exception:  # noqa: BLE001 - a worker that died (killed, out of memory): recorded, others go on
                outcome = ("failed", float("nan"), traceback.format_exc())
            done[i] = _entry(exps[i], out, outcome)
            _write_files(out, [done[k] for k in sorted(done)], scale)
    return Report(out, [done[k] for k in sorted(done)])


def _write_files(out: pathlib.Path, entries: Sequence[ReportEntry], scale: str) -> None:
    write_json(out / "claims.json", [{"experiment": e.name, **c.to_dict()} for e in entries for c in e.claims])
    write_json(out / "experiments.json", [
        {"name": e.name, "paper": e.paper, "status": e.status, "seconds": e.seconds, "compile_s": e.compile_s,
         "claims_hold": _counts(e.claims)["claim"][0], "claims_total": _counts(e.claims)["claim"][1],
         "checks_hold": _counts(e.claims)["check"][0], "checks_total": _counts(e.claims)["check"][1],
         "run_dir": _rel(e.out, out), "error": e.error} for e in entries])
    atomic_write(out / "index.html", render_html(entries, out, scale, proof_docs=proof_documents(out, entries)))


# ------------------------------------------------------------------------------------- derivation documents
def _proof_ids(entries: Sequence[ReportEntry]) -> set[str]:
    ids: set[str] = set()
    for e in entries:
        for c in e.claims:
            p = (getattr(c, "links", None) or {}).get("proof")
            ids.update([p] if isinstance(p, str) else list(p or []))
    return ids


def proof_documents(out: str | os.PathLike, entries: Sequence[ReportEntry]) -> dict[str, str]:
    """Write the derivation documents behind the report's claim records and return their links.

    For every proof module (``proofs.<paper>``) that a claim record links to, the derivations are checked
    (:func:`proofs.run_all`) and written as ``out/proofs/<paper>.md`` (the text of ``python -m proofs --markdown``)
    and ``out/proofs/<paper>.html`` (the same, readable in the browser, with an anchor per proof). A document is
    rewritten only when the code it depends on changed (the proof module and the theory it imports, by
    :func:`~sims.harness.store.code_fingerprint`), so a warm report does not re-run the proofs.

    Returns:
        proof id -> link relative to ``out`` (``proofs/<paper>.html#<id>``), for the ids that exist.
    """
    import importlib
    import json

    import proofs as _proofs

    from .store import code_fingerprint

    out = pathlib.Path(out)
    wanted = _proof_ids(entries)
    papers = sorted({i.split(".")[0] for i in wanted} & set(_proofs.paper_modules()))
    docs: dict[str, str] = {}
    for paper in papers:
        mod = importlib.import_module(f"proofs.{paper}")
        fp = code_fingerprint(mod.proofs) + ":" + code_fingerprint(_proofs.to_markdown)
        d = out / "proofs"
        meta_path = d / f"{paper}.json"
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            meta = {}
        if meta.get("fingerprint") != fp or not (d / f"{paper}.html").is_file():
            results = _proofs.run_all(_proofs.collect([paper]))
            md = _proofs.to_markdown(results)
            d.mkdir(parents=True, exist_ok=True)
            atomic_write(d / f"{paper}.md", md)
            atomic_write(d / f"{paper}.html", _markdown_page(md, f"Derivations: {paper}"))
            meta = {"fingerprint": fp, "ids": [r.proof.id for r in results],
                    "failed": [r.proof.id for r in results if not r.ok]}
            write_json(meta_path, meta)
        docs.update({i: f"proofs/{paper}.html#{i}" for i in meta.get("ids", [])})
    return docs


def _inline_md(text: str) -> str:
    """Escape ``text`` and render Markdown's inline code, bold and italics."""
    import re

    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) >= 2:
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
            continue
        t = html.escape(part, quote=False)
        t = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", t)
        t = re.sub(r"(?<![*\w])\*(?!\s)(.+?)(?<!\s)\*(?![*\w])", r"<i>\1</i>", t)
        out.append(t)
    return "".join(out)


def _markdown_page(md: str, title: str) -> str:
    """The derivation Markdown of :func:`proofs.to_markdown` as a plain HTML page: headings, paragraphs, lists,
    code blocks, the collapsible blocks and anchors it already contains, and display math kept as LaTeX source in
    a preformatted block (no script, so the page works offline)."""
    lines = md.splitlines()
    body: list[str] = []
    para: list[str] = []

    def flush():
        if para:
            body.append("<p>" + _inline_md(" ".join(para)) + "</p>")
            para.clear()

    i = 0
    while i < len(lines):
        ln = lines[i]
        st = ln.strip()
        if st in ("$$", "```"):
            flush()
            j = i + 1
            while j < len(lines) and lines[j].strip() != st:
                j += 1
            cls = "math" if st == "$$" else "code"
            body.append(f"<pre class='{cls}'>" + html.escape("\n".join(lines[i + 1 : j])) + "</pre>")
            i = j + 1
            continue
        if st.startswith("<"):
            flush()
            body.append(ln)
        elif st.startswith("#"):
            flush()
            level = min(len(st) - len(st.lstrip("#")), 4)
            body.append(f"<h{level}>{_inline_md(st[level:].strip())}</h{level}>")
        elif st.startswith("- "):
            flush()
            items = []
            while i < len(lines) and lines[i].strip().startswith("- "):
                items.append("<li>" + _inline_md(lines[i].strip()[2:]) + "</li>")
                i += 1
            body.append("<ul>" + "".join(items) + "</ul>")
            continue
        elif not st:
            flush()
        else:
            para.append(st)
        i += 1
    flush()
    css = ("body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;line-height:1.45;"
           "color:#222}pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f6f6;padding:.6em;"
           "font-size:.85em}pre.math{background:#f3f6fb}h2{border-bottom:1px solid #ddd;margin-top:2em}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{css}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def _rel(p: pathlib.Path, base: pathlib.Path) -> str:
    return pathlib.Path(os.path.relpath(pathlib.Path(p).resolve(), base.resolve())).as_posix()


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;
line-height:1.4}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em;width:100%;max-width:100%;table-layout:fixed}
th,td{border:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top;overflow-wrap:anywhere;word-break:break-word}
th{background:#f4f4f4}td.num{font-family:ui-monospace,monospace;font-size:.92em}
.hold{background:#d9f2d9;color:#145214;font-weight:bold}.fail{background:#f8d4d4;color:#7a1010;font-weight:bold}
.kind{font-size:.8em;color:#555;text-transform:uppercase}
figure{display:inline-block;vertical-align:top;margin:.5em .5em 1em 0;max-width:100%}
figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#444;max-width:100%}
details{margin-top:.3em;font-size:.92em}summary{cursor:pointer;color:#245}
.finding{background:#fff6e0;border-left:3px solid #d9a300;padding:.3em .5em;margin-top:.3em}
.links a{margin-right:.5em}.intro p{margin:.4em 0}
pre{background:#fbeaea;padding:1em;overflow-x:auto;font-size:.85em;white-space:pre-wrap}.meta{color:#666;font-size:.9em}
"""

#: The line-style convention of every figure (stated once, in the report header).
LEGEND_CONVENTION = ("Figures: theory is drawn solid, trained networks dashed with a shaded band over seeds, and "
                     "numerical ODE integration dotted; markers are single measurements.")


def _png_width(path: pathlib.Path) -> int | None:
    """Pixel width of a PNG, read from its IHDR header (None when unreadable)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(24)
        if head[:8] != b"\x89PNG\r\n\x1a\n":
            return None
        return int.from_bytes(head[16:20], "big")
    except OSError:
        return None


def _counts(claims: Sequence[Claim]) -> dict[str, tuple[int, int]]:
    """``{"claim": (holding, total), "check": (holding, total)}``."""
    out = {}
    for kind in ("claim", "check"):
        cs = [c for c in claims if getattr(c, "kind", "claim") == kind]
        out[kind] = (sum(c.holds for c in cs), len(cs))
    return out


def _count_text(claims: Sequence[Claim]) -> str:
    k = _counts(claims)
    txt = f"claims {k['claim'][0]}/{k['claim'][1]} hold"
    if k["check"][1]:
        txt += f"; checks {k['check'][0]}/{k['check'][1]}"
    return txt


def _tolerance_text(c: Claim) -> str:
    tol = fmt(c.tolerance)
    kind = (c.details or {}).get("tolerance_kind") if isinstance(c.details, Mapping) else None
    if kind:
        return f"{tol} ({kind})"
    return tol


def _links_html(c: Claim, out: pathlib.Path, figure_ids: Mapping[str, str], proof_docs: Mapping[str, str]) -> str:
    e_ = html.escape
    links = c.links or {}
    parts = []
    proof = links.get("proof")
    if proof:
        href = proof_docs.get(proof)
        parts.append(f"<a href='{e_(href)}'>proof</a>" if href else f"<span title='{e_(proof)}'>proof</span>")
    for t in links.get("tests", []) or []:
        parts.append(f"<span class='num' title='{e_(t)}'>test: {e_(t.split('::')[-1])}</span>")
    for fig in links.get("figures", []) or []:
        anchor = figure_ids.get(fig)
        parts.append(f"<a href='#{e_(anchor)}'>figure {e_(fig)}</a>" if anchor else f"figure {e_(fig)}")
    return "<div class='links'>" + "<br>".join(parts) + "</div>" if parts else ""


def render_html(entries: Sequence[ReportEntry], out: str | os.PathLike, scale: str,
                proof_docs: Mapping[str, str] | None = None) -> str:
    """The ``index.html`` page for ``entries``; figure links are relative to ``out``.

    Per experiment: the three paragraphs of its module (what the paper claims, what is reproduced here
    and at which scale, where this departs from the paper), the figures at a width set by their size
    (each links to its full-size PNG and PDF) with a caption naming the claims they support, and a claims
    table that wraps inside the page: plain statement (technical detail and, for a record that does not
    hold, its finding on demand), predicted, measured, tolerance, kind, holds, and links to the proof,
    tests and figure. ``proof_docs`` maps proof ids to relative links of their derivation documents.
    """
    out = pathlib.Path(out)
    proof_docs = proof_docs or {}
    e_ = html.escape
    all_claims = [c for e in entries for c in e.claims]
    failed = [e.name for e in entries if e.status != "ok"]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
             f"<title>theorylab report</title><style>{_CSS}</style></head><body>",
             "<h1>theorylab: theory against experiment</h1>",
             f"<p class='meta'>scale <b>{e_(scale)}</b> &middot; generated {e_(now())} &middot; "
             f"<b>{e_(_count_text(all_claims))}</b> &middot; {len(entries) - len(failed)}/{len(entries)} "
             f"experiments ran" + (f" (failed: {e_(', '.join(failed))})" if failed else "") + "</p>",
             "<p class='meta'>A <b>claim</b> is a prediction of the paper or of the theory that the measurement "
             "could refute; a <b>check</b> holds by construction (an identity evaluated numerically) and guards the "
             "machinery. A record that does not hold states its finding. Tolerances are absolute unless marked "
             f"relative. {e_(LEGEND_CONVENTION)}</p>",
             "<table><colgroup><col style='width:16%'><col style='width:44%'><col style='width:10%'>"
             "<col style='width:18%'><col style='width:12%'></colgroup>"
             "<tr><th>experiment</th><th>paper</th><th>status</th><th>records</th><th>run time</th></tr>"]
    for e in entries:
        k = _counts(e.claims)
        ok = e.status == "ok" and k["claim"][0] == k["claim"][1] and k["check"][0] == k["check"][1]
        parts.append(f"<tr><td><a href='#{e_(e.name)}'>{e_(e.name)}</a></td><td>{e_(e.paper)}</td>"
                     f"<td class='{'hold' if e.status == 'ok' else 'fail'}'>{e_(e.status)}</td>"
                     f"<td class='{'hold' if ok else 'fail'}'>{e_(_count_text(e.claims))}</td>"
                     f"<td class='num'>{e.seconds:.1f} s"
                     + (f"<br><small>compile {e.compile_s:.1f} s</small>" if e.compile_s is not None else "")
                     + "</td></tr>")
    parts.append("</table>")
    for e in entries:
        parts.append(f"<h2 id='{e_(e.name)}'>{e_(e.name)}</h2>")
        parts.append(f"<p><i>{e_(e.paper)}</i></p>")
        intro = [(lbl, txt) for lbl, txt in (("What the paper claims", e.intro.get("paper", "")),
                                              ("What is reproduced here", e.intro.get("reproduced", "")),
                                              ("Where this departs from the paper", e.intro.get("departures", "")))
                 if txt]
        if intro:
            parts.append("<div class='intro'>" + "".join(f"<p><b>{e_(lbl)}.</b> {e_(txt)}</p>" for lbl, txt in intro)
                         + "</div>")
        else:
            parts.append(f"<p>{e_(e.description)}</p>")
        parts.append(f"<p class='meta'>{e_(e.status)} in {e.seconds:.1f} s &middot; {e_(_count_text(e.claims))} "
                     f"&middot; run directory <a href='{e_(_rel(e.out, out))}/'>{e_(_rel(e.out, out))}</a></p>")
        if e.error:
            parts.append(f"<p class='fail'>This experiment failed.</p><pre>{e_(e.error)}</pre>")
        figure_ids: dict[str, str] = {}
        for f in e.figures:
            figure_ids[pathlib.Path(f).stem] = f"fig-{e.name}-{pathlib.Path(f).stem}"
        if e.figures:
            for f in e.figures:
                stem = pathlib.Path(f).stem
                png = _rel(f, out)
                pdf = pathlib.Path(f).with_suffix(".pdf")
                width = _png_width(pathlib.Path(f))
                style = f" style='width:{round(width / 1.5)}px'" if width else ""
                supports = [c.id for c in e.claims if stem in ((c.links or {}).get("figures") or [])]
                cap = e_(e.captions.get(stem, ""))
                if supports:
                    cap += (" " if cap else "") + "Supports: " + ", ".join(
                        f"<a href='#claim-{e_(cid)}'>{e_(cid)}</a>" for cid in supports) + "."
                pdf_link = f" (<a href='{e_(_rel(pdf, out))}'>PDF</a>)" if pdf.exists() else ""
                parts.append(f"<figure id='{e_(figure_ids[stem])}'><a href='{e_(png)}'><img src='{e_(png)}'{style} "
                             f"alt='{e_(stem)}'></a><figcaption><b>{e_(stem)}</b>{pdf_link}. {cap}</figcaption></figure>")
        if e.claims:
            parts.append("<table><colgroup><col style='width:14%'><col style='width:34%'><col style='width:11%'>"
                         "<col style='width:11%'><col style='width:9%'><col style='width:6%'><col style='width:15%'>"
                         "</colgroup><tr><th>record</th><th>statement</th><th>predicted</th><th>measured</th>"
                         "<th>tolerance</th><th>holds</th><th>evidence</th></tr>")
            for c in sorted(e.claims, key=lambda c: (c.kind != "claim", c.id)):
                more = ""
                if c.detail:
                    more += f"<details><summary>technical detail</summary>{e_(c.detail)}</details>"
                if c.finding:
                    more += f"<div class='finding'><b>Finding:</b> {e_(c.finding)}</div>"
                parts.append(f"<tr id='claim-{e_(c.id)}'><td>{e_(c.id)}<br><span class='kind'>{e_(c.kind)}</span></td>"
                             f"<td>{e_(c.statement)}{more}</td>"
                             f"<td class='num'>{e_(fmt(c.predicted))}</td><td class='num'>{e_(fmt(c.measured))}</td>"
                             f"<td class='num'>{e_(_tolerance_text(c))}</td>"
                             f"<td class='{'hold' if c.holds else 'fail'}'>{'yes' if c.holds else 'no'}</td>"
                             f"<td>{_links_html(c, out, figure_ids, proof_docs)}</td></tr>")
            parts.append("</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
