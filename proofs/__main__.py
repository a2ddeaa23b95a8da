"""``python -m proofs [PAPER ...] [--markdown DIR] [--latex DIR]``: check every derivation."""

from __future__ import annotations

import argparse
import pathlib
import sys

from theory._validate import writable_directory

from . import collect, format_table, paper_modules, run_all, to_latex, to_markdown


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m proofs", description=__doc__)
    ap.add_argument("papers", nargs="*", help=f"subset of {paper_modules()}")
    ap.add_argument("--markdown", metavar="DIR", help="write each paper's derivations as DIR/<paper>.md")
    ap.add_argument("--latex", metavar="DIR", help="write each paper's derivations as DIR/<paper>.tex")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    args = ap.parse_args(argv)
    try:
        for flag, d in (("--markdown", args.markdown), ("--latex", args.latex)):
            if d is not None:
                writable_directory(flag, d)
        proofs = collect(args.papers or None)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    progress = None if args.quiet else (lambda s: print("checking", s, file=sys.stderr, flush=True))
    results = run_all(proofs, progress=progress)
    print(format_table(results))
    for flag, render, ext in ((args.markdown, to_markdown, "md"), (args.latex, to_latex, "tex")):
        if flag:
            d = pathlib.Path(flag)
            try:
                d.mkdir(parents=True, exist_ok=True)
                for paper in sorted({r.proof.paper for r in results}):
                    mine = [r for r in results if r.proof.paper == paper]
                    (d / f"{paper}.{ext}").write_text(render(mine))
            except OSError as e:
                print(f"error: cannot write {ext} derivations to {str(d)!r}: {e.strerror or e}", file=sys.stderr)
                return 2
            print(f"wrote {ext} derivations to {d}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
