"""`prosync serve`: migrate, optionally load the demo, and run the dashboard (with the HTTP API under
/api/v1) in a child process; `prosync api`: the same for the HTTP API alone."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from db.tools.commands.common import ROOT, CommandError, upgrade
from db.tools.commands.data import demo
from db.tools.processes import api_argv

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


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STOP_SECONDS = 30  # how long the dashboard may take to stop once asked
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies


def _die_with_parent() -> None:
    """In the child, before Streamlit starts: SIGTERM when `prosync serve` dies, even by SIGKILL."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _serve(args) -> None:
    _run(args, streamlit_argv(args.host, args.port), "the dashboard")


def _api(args) -> None:
    _run(args, api_argv(args.host, args.port, args.workers), "the API")


def _run(args, argv: list[str], what: str) -> None:
    # From the first moment, a stop signal ends this process through Python's exit (so the embedded
    # server it may start below is stopped); once the dashboard runs, the signal is passed to it.
    child: subprocess.Popen | None = None
    stopping: list[float] = []  # when each stop signal came

    def stop(received: int, _frame) -> None:
        stopping.append(time.monotonic())
        if child is None:
            raise SystemExit(128 + received)
        child.send_signal(signal.SIGINT if received == signal.SIGHUP else received)

    for signum in STOP_SIGNALS:
        signal.signal(signum, stop)
    upgrade()
    if getattr(args, "demo", False):
        demo(args)
    # The dashboard runs in a child process in a process group of its own, so a terminal's Ctrl-C
    # reaches it once, from here; this process holds the embedded server (started above) and stops
    # it when the child has ended.
    child = subprocess.Popen(
        [sys.executable, "-m", *argv],
        process_group=0,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )
    where = f"http://{args.host}:{args.port}"
    if what == "the API":
        print(f"ProSync API on {where}/api/v1 (documentation: {where}/api/v1/docs)", flush=True)
    else:
        print(f"ProSync on {where} (API: {where}/api/v1, documentation: {where}/api/v1/docs)", flush=True)
    try:
        while True:
            try:
                code = child.wait(timeout=1)
                break
            except subprocess.TimeoutExpired:
                if stopping and time.monotonic() - stopping[0] > STOP_SECONDS:
                    child.kill()  # asked to stop and still running: no more waiting
    finally:
        if child.poll() is None:  # this process is leaving for another reason: take the dashboard along
            child.terminate()
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
    # Streamlit answers SIGINT with "Aborted!" and status 1: asked to stop, any status is a stop.
    if code != 0 and not stopping:
        how = f"was killed by signal {-code}" if code < 0 else f"stopped with exit status {code}"
        raise CommandError(f"{what} {how}")


def add(commands) -> None:
    """Register this group's commands on the `prosync` parser."""
    serve = commands.add_parser("serve", help="migrate and run the dashboard")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8501)
    serve.add_argument("--demo", action="store_true", help="load the demo data first")
    serve.set_defaults(func=_serve)
    api = commands.add_parser("api", help="migrate and run the HTTP API alone (/api/v1)")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8502)
    api.add_argument("--workers", type=int, default=1, help="processes (each takes requests; default 1)")
    api.set_defaults(func=_api)
