"""The `prosync` command against a real server: each command works; mistakes give one line."""

import os
import subprocess
import sys

import pytest

from tests.conftest import create_database
from tests.waiting import wait_until


def prosync(*args, url, env=None):
    environment = {**os.environ, "DATABASE_URL": url, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "db.tools.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


@pytest.fixture(scope="module")
def cli_url(server_url):
    return create_database(server_url, "prosync_cli")


def test_upgrade_demo_and_partitions_through_the_command(cli_url, tmp_path):
    assert "empty" in prosync("db", "current", url=cli_url).stdout
    assert prosync("db", "upgrade", url=cli_url).returncode == 0
    assert "up to date" in prosync("db", "current", url=cli_url).stdout
    env = {"PROSYNC_STORAGE_DIR": str(tmp_path)}
    first = prosync("demo", url=cli_url, env=env)
    assert first.returncode == 0 and "lead@example.com" in first.stdout
    again = prosync("demo", url=cli_url, env=env)
    assert again.returncode == 0 and "already loaded" in again.stdout
    assert any(tmp_path.rglob("*")), "demo documents have their objects in storage"
    status = prosync("partitions", "status", url=cli_url)
    assert "documents.documents_default" in status.stdout and "audit.audit_log_p" in status.stdout
    maintain = prosync("partitions", "maintain", url=cli_url)
    assert maintain.returncode == 0


def test_user_create_and_its_mistakes(cli_url):
    prosync("db", "upgrade", url=cli_url)
    made = prosync(
        "user", "create", "--email", "new.ops@example.com", "--role", "ops",
        url=cli_url, env={"PROSYNC_NEW_PASSWORD": "a-long-ops-password"},
    )  # fmt: skip
    assert made.returncode == 0 and "new.ops@example.com" in made.stdout
    again = prosync(
        "user", "create", "--email", "NEW.OPS@example.com",
        url=cli_url, env={"PROSYNC_NEW_PASSWORD": "a-long-ops-password"},
    )  # fmt: skip
    assert again.returncode == 1
    assert again.stderr.strip() == "prosync: A user with this e-mail address already exists."
    weak = prosync(
        "user", "create", "--email", "weak@example.com", url=cli_url, env={"PROSYNC_NEW_PASSWORD": "short"}
    )
    assert weak.returncode == 1 and "Traceback" not in weak.stderr
    assert weak.stderr.count("\n") == 1


def test_unreachable_database_is_one_clear_line():
    result = prosync("db", "current", url="postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode == 1
    assert result.stderr.startswith("prosync: cannot reach the database:")
    assert "Traceback" not in result.stderr


def test_downgrade_to_base_through_the_command(server_url):
    url = create_database(server_url, "prosync_cli_down")
    assert prosync("db", "upgrade", url=url).returncode == 0
    assert prosync("db", "downgrade", "base", url=url).returncode == 0
    assert "empty" in prosync("db", "current", url=url).stdout


def _ended(pid: int) -> bool:
    """Whether process `pid` has ended (a zombie waiting for its parent counts as ended)."""
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _postmaster(pgdata) -> int | None:
    """The pid of the server running in `pgdata`, or None."""
    import psutil

    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().split()[0])
    return pid if psutil.pid_exists(pid) else None


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGINT"])
def test_serve_stopped_by_a_signal_stops_the_embedded_server_it_started(tmp_path, stop):
    import signal

    from db.tools.processes import free_port, wait_until_up

    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")},
        "PROSYNC_DATA_DIR": str(tmp_path / "data"),
    }
    serve = subprocess.Popen(
        [sys.executable, "-m", "db.tools.cli", "serve", "--port", str(port)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the signal reaches `prosync serve` alone, as `kill` would send it
    )
    pgdata = tmp_path / "data" / "pgdata"
    try:
        assert wait_until_up(f"http://127.0.0.1:{port}/_stcore/health", seconds=120), serve.stdout.read1()
        server = _postmaster(pgdata)
        assert server is not None, "serve started the embedded server"
        serve.send_signal(getattr(signal, stop))
        assert serve.wait(60) == 0
    finally:
        if serve.poll() is None:
            serve.kill()
    wait_until(lambda: _ended(server), timeout=30, what=f"the embedded server ({server}) to stop")
    assert _postmaster(pgdata) is None


def test_a_process_killed_outright_does_not_keep_the_embedded_server_alive(tmp_path):
    """The library's list of processes using the server keeps the pid of one killed by SIGKILL;
    the next user forgets it, so the last live one out still stops the server."""
    import json

    pgdata = tmp_path / "pgdata"
    script = (
        "import sys, pathlib; from db.core.embedded import ensure_server;"
        " ensure_server(pathlib.Path(sys.argv[1])); print('up', flush=True); sys.stdin.read()"
    )
    killed = subprocess.Popen(
        [sys.executable, "-c", script, str(pgdata)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert killed.stdout.readline().strip() == b"up"
    server = _postmaster(pgdata)
    killed.kill()
    killed.wait(30)
    assert killed.pid in json.loads((pgdata / ".handle_pids.json").read_text()), (
        "the library kept the dead pid"
    )
    ended = subprocess.run(
        [sys.executable, "-c", script, str(pgdata)], input=b"", capture_output=True, timeout=120
    )
    assert ended.returncode == 0, ended.stderr
    wait_until(lambda: _ended(server), timeout=30, what="the last live process to stop the server")
    assert _postmaster(pgdata) is None
