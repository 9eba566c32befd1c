"""``thetaevolve dashboard`` and ``thetaevolve run --dashboard``: the CLI side of the
dashboard, kept here so that ``cli.py`` only registers it."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

DEFAULT_PORT = 8470


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "dashboard",
        help="watch runs in the browser (live, read-only; several runs side by side)",
        description="Serve a local web page over the runs' stores. It only reads them, so a "
                    "live run is undisturbed; a finished or killed run shows the same way.",
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                   help="run directories (a folder of runs, e.g. runs/, stands for all of them)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port to serve on (default {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to serve on (default 127.0.0.1: this machine only)")
    p.add_argument("--poll", type=float, default=0.5, metavar="SECONDS",
                   help="how often the stores are checked for new programs (default 0.5)")
    p.set_defaults(func=cmd_dashboard)


def add_flag(p: argparse.ArgumentParser) -> None:
    """``--dashboard [PORT]`` on a command that runs (a free port unless one is given)."""
    p.add_argument("--dashboard", nargs="?", type=int, const=0, default=None, metavar="PORT",
                   help="serve the live dashboard beside the run and print its URL")


def cmd_dashboard(args: argparse.Namespace) -> int:
    from thetaevolve.dashboard.server import Dashboard, DashboardError, expand_run_dirs

    if args.poll <= 0:
        raise DashboardError(f"--poll must be a positive number of seconds, got {args.poll}")
    if not 0 <= args.port <= 65535:
        raise DashboardError(f"--port must be between 0 and 65535, got {args.port}")
    run_dirs = expand_run_dirs([Path(d) for d in args.run_dirs])
    dashboard = Dashboard(run_dirs, host=args.host, port=args.port, poll_interval_s=args.poll)
    for follower in dashboard.followers:
        follower.poll()
        if follower.error:
            print(f"thetaevolve: warning: {follower.error} (the page says so too)",
                  file=sys.stderr)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"thetaevolve: warning: serving on {args.host}: anyone who can reach it can "
              "read the runs' programs and prompts", file=sys.stderr)
    print(f"dashboard: {dashboard.url}  ({len(run_dirs)} run(s); Ctrl-C stops it)", flush=True)
    try:
        dashboard.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        dashboard.close()
    return 0


@contextlib.contextmanager
def beside_run(run_dir: Path, port: int | None) -> Iterator[None]:
    """Serve the dashboard for ``run_dir`` while the block runs (nothing when port is None)."""
    if port is None:
        yield
        return
    from thetaevolve.dashboard.server import Dashboard

    dashboard = Dashboard([run_dir], port=port, prepare_ahead=False).start()
    print(f"dashboard: {dashboard.url}  (stops with the run; afterwards: "
          f"thetaevolve dashboard {run_dir})", file=sys.stderr, flush=True)
    try:
        yield
    finally:
        dashboard.close()
