"""The `prosync` command against a real server: each command works; mistakes give one line."""

import os
import subprocess
import sys

import pytest

from tests.conftest import create_database


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
