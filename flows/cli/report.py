"""The report subcommand of `stylemotion`: one static HTML page from the runs of a main job.

`stylemotion report ROOT RUN [RUN...] [--out DIR]` calls `flows.report.build.write_report`:
each RUN's kind is told by its files (dataset root, encoder / diffusion / VAE / scene /
evaluator run, stylize output, evaluate output), ROOT is included when it is one itself, and
`DIR/index.html` (default `ROOT/report`) shows what they hold, with every video and plot copied
beside it. A ROOT that is no directory, a RUN of no known kind or an unwritable DIR is one line
naming it (exit 2).
"""

from __future__ import annotations

import argparse
import sys


def add_report(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write a static HTML report (index.html) of runs",
        description="One self-contained page: open DIR/index.html from disk, no server needed.",
    )
    parser.add_argument(
        "root",
        metavar="ROOT",
        help="the job's output folder (the report goes to ROOT/report); shown too when it is a run",
    )
    parser.add_argument(
        "runs",
        nargs="+",
        metavar="RUN",
        help="dataset roots, encoder/diffusion/VAE/scene/evaluator runs, stylize outputs, "
        "evaluate outputs (a folder or its JSON report); a relative path not found from here "
        "is looked up under ROOT",
    )
    parser.add_argument("--out", metavar="DIR", help="report folder (default ROOT/report)")
    parser.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    from flows.report.build import write_report

    result = write_report(args.root, args.runs, args.out)
    print(
        f"wrote {result.index} from {len(result.inputs)} input(s), {result.assets} file(s) copied"
    )
    for item in result.inputs:
        print(f"  {item.kind.value}: {item.path}")
    if result.empty_sections:
        print(f"  not in these runs: {', '.join(result.empty_sections)}")
    for note in result.notes:
        print(f"WARNING: {note}", file=sys.stderr)
    return 0


REPORT_COMMANDS = (add_report,)
