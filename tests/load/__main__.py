"""``make loadtest``: DURATION seconds (default 600) at RATE operations/s (default 40, 40 % submits)
against 2 gunicorn workers + 2 job workers on PostgreSQL + Redis; prints the figures and the checks,
exits 1 on any error or lost/duplicated effect. CONCURRENCY bounds the requests in flight (32); MIX
changes the mix, e.g. ``MIX=submit=1`` for submits only (default: tests/load/generator.py MIX)."""

from __future__ import annotations

import json
import os
import sys

from tests.load.run import run


def main() -> int:
    if len(sys.argv) > 1:  # no options: configuration is by environment variables
        print(__doc__)
        return 0 if sys.argv[1] in ("-h", "--help") else 2
    seconds = float(os.environ.get("DURATION", "600"))
    rate = float(os.environ.get("RATE", "40"))
    concurrency = int(os.environ.get("CONCURRENCY", "32"))
    print(f"load: {seconds:.0f} s at {rate:.0f} operations/s, at most {concurrency} in flight", flush=True)
    print(
        f"mix: {os.environ.get('MIX') or 'default'}; machine: {os.cpu_count()} cores, load {os.getloadavg()}"
    )
    mix = (
        dict((k, int(v)) for k, v in (p.split("=") for p in os.environ["MIX"].split(",")))
        if os.environ.get("MIX")
        else None
    )
    report = run(seconds, rate, concurrency=concurrency, mix=mix)
    print(report.text())
    print("figures:", json.dumps(report.outcome.figures()))
    failed = report.problems or report.outcome.error_count()
    if failed:
        for name, errs in report.outcome.errors.items():
            print(f"errors of {name}: {errs[:5]}")
        print(report.logs[-8000:])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
