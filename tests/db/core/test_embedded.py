"""db/core/embedded.py: the embedded PostgreSQL that several processes share, stopped by the last
one out, even when another was killed outright. (`prosync serve` stopping the server it started:
tests/db/tools/test_cli.py.)"""

import subprocess
import sys

import pytest

from tests.conftest import postmaster_pid, process_ended
from tests.waiting import wait_until

pytestmark = pytest.mark.embedded_only  # its own embedded servers, on any pass


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
    server = postmaster_pid(pgdata)
    killed.kill()
    killed.wait(30)
    assert killed.pid in json.loads((pgdata / ".handle_pids.json").read_text()), (
        "the library kept the dead pid"
    )
    ended = subprocess.run(
        [sys.executable, "-c", script, str(pgdata)], input=b"", capture_output=True, timeout=120
    )
    assert ended.returncode == 0, ended.stderr
    wait_until(lambda: process_ended(server), timeout=30, what="the last live process to stop the server")
    assert postmaster_pid(pgdata) is None
