"""`prosync serve`: migrate, optionally load the demo, and run the dashboard in a child process."""

from __future__ import annotations

import signal
import subprocess
import sys

from db.tools.commands.common import ROOT, CommandError, upgrade
from db.tools.commands.data import demo

# Started as a script path by `streamlit run`, never imported: the tools do not import the dashboard.
SERVER = ROOT / "dashboard" / "server.py"


def streamlit_argv(host: str, port: int) -> list[str]:
    """`streamlit run` for ProSync's server with ProSync's Streamlit settings (.streamlit/config.toml
    beside the code) passed as flags: Streamlit reads that file only from the directory it is
    started in, and started elsewhere it showed its developer toolbar and error details."""
    import tomllib

    with (ROOT / ".streamlit" / "config.toml").open("rb") as fh:
        config = tomllib.load(fh)
    flags = [
        item
        for section, values in config.items()
        for key, value in values.items()
        for item in (f"--{section}.{key}", str(value).lower() if isinstance(value, bool) else str(value))
    ]
    return [
        "streamlit", "run", str(SERVER), *flags,
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip


def _serve(args) -> None:
    upgrade()
    if args.demo:
        demo(args)
    # The dashboard runs in a child process; this one holds the embedded server (started above) and
    # stops it when the child ends: by itself, by Ctrl-C or by SIGTERM, which are passed on to it.
    child = subprocess.Popen([sys.executable, "-m", *streamlit_argv(args.host, args.port)])
    stopping: list[int] = []

    def pass_on(received: int, _frame) -> None:
        stopping.append(received)
        child.send_signal(received)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, pass_on)
    print(f"ProSync on http://{args.host}:{args.port}", flush=True)
    code = child.wait()
    # Streamlit answers SIGINT with "Aborted!" and status 1: asked to stop, any status is a stop.
    if code != 0 and not stopping:
        raise CommandError(f"the dashboard stopped with exit status {code}")


def add(commands) -> None:
    """Register this group's commands on the `prosync` parser."""
    serve = commands.add_parser("serve", help="migrate and run the dashboard")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8501)
    serve.add_argument("--demo", action="store_true", help="load the demo data first")
    serve.set_defaults(func=_serve)
