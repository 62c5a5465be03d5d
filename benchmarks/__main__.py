"""`python -m benchmarks [NAME...] [--json] [--repeats N]` — `make bench` prints the table."""

from __future__ import annotations

import argparse
import json
import sys

from benchmarks import BENCHMARKS
from benchmarks import designer as _designer  # noqa: F401  (registers designer.*)
from benchmarks import expressions as _expressions  # noqa: F401  (registers expr.*)
from benchmarks import flows as _flows  # noqa: F401  (registers flow.*)
from benchmarks import forms as _forms  # noqa: F401  (registers forms.*)
from benchmarks import http as _http  # noqa: F401  (registers http.*)
from benchmarks import imports as _imports  # noqa: F401  (registers import.xlsx)
from benchmarks import reports as _reports  # noqa: F401  (registers reports.*)
from benchmarks import rules as _rules  # noqa: F401  (registers rules.*)
from benchmarks import scale as _scale  # noqa: F401  (registers scale.*)
from benchmarks import store as _store  # noqa: F401  (registers store.*)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--json", action="store_true", help="one JSON object a line")
    parser.add_argument("--repeats", type=int, default=5, help="repeats per measurement (median is reported)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    names = args.names or list(BENCHMARKS)
    if not args.json:
        print(f"{'benchmark':<16} {'ours':>12} {'baseline':>12} {'unit':<12} {'ratio':>7}  baseline")
    for name in names:
        result = BENCHMARKS[name](args.repeats)
        if args.json:
            print(json.dumps(result.as_dict()), flush=True)
        else:
            print(
                f"{result.name:<16} {result.ours:>12,.0f} {result.baseline:>12,.0f} {result.unit:<12} "
                f"{result.ratio:>7.2f}  {result.baseline_name}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
