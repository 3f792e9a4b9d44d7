"""Trino runs in the stack with catalogs `lakehouse` and `source`, on loopback only."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
import requests

from txlake.stack import manager, versions
from txlake.stack.service import Context
from txlake.stack.trino import MIN_OPEN_FILES, trino_cli

pytestmark = pytest.mark.stack


def _trino_row(stack) -> dict:
    (row,) = [r for r in manager.status(stack) if r["name"] == "trino"]
    return row


def test_trino_is_healthy_in_stack_status_with_its_ui(stack):
    row = _trino_row(stack)

    assert row["healthy"] is True
    assert row["endpoint"] == f"http://{stack.trino_host}:{stack.trino_port}"
    assert row["version"] == versions.TRINO
    ui = requests.get(row["ui"], timeout=10)
    assert ui.status_code == 200 and "<html" in ui.text.lower()


def test_both_catalogs_are_there(trino_query):
    catalogs = {row[0] for row in trino_query("SHOW CATALOGS")}

    assert {"lakehouse", "source"} <= catalogs
    assert ["project"] in trino_query("SHOW SCHEMAS FROM lakehouse")
    assert {"customers", "transactions"} <= {r[0] for r in trino_query("SHOW TABLES FROM source.public")}


def test_source_catalog_cannot_change_the_source(trino_query):
    with pytest.raises(Exception, match="(?i)permission denied"):
        trino_query("DELETE FROM source.public.transactions WHERE transaction_id = 'nothing'")
    with pytest.raises(Exception, match="(?i)permission denied"):
        trino_query("CREATE TABLE source.public.trino_was_here (x integer)")


def test_source_catalog_logs_in_as_the_read_only_role(stack, pg):
    # The role exists, may log in and read, and owns nothing.
    row = pg.execute("SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolcanlogin"
                     " FROM pg_roles WHERE rolname = %s", (stack.trino_source_user,)).fetchone()
    assert row == (False, False, False, False, True)
    privileges = {r[0] for r in pg.execute(
        "SELECT DISTINCT privilege_type FROM information_schema.role_table_grants"
        " WHERE grantee = %s AND table_schema = 'public'", (stack.trino_source_user,))}
    assert privileges == {"SELECT"}


def test_server_listens_on_loopback_only(stack):
    if stack.trino_host not in ("127.0.0.1", "localhost"):
        pytest.skip("TRINO_HOST is not this machine's loopback")
    # The address this machine would use towards the outside (no packet is sent).
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            pytest.skip("this machine has no route off loopback")
        outside = probe.getsockname()[0]
    if outside.startswith("127."):
        pytest.skip("this machine has no non-loopback IPv4 address")
    with pytest.raises(OSError):
        socket.create_connection((outside, stack.trino_port), timeout=2).close()


def test_server_process_has_enough_open_files(stack):
    pid = _trino_row(stack)["pid"]
    if pid is None:
        pytest.skip("Trino is not a process of this native stack (external stack)")
    limits = Path(f"/proc/{pid}/limits").read_text().splitlines()
    (line,) = [line for line in limits if line.startswith("Max open files")]
    assert int(line.split()[3]) >= MIN_OPEN_FILES


def test_trino_cli_runs_a_query(stack):
    cli = trino_cli(Context(stack))

    result = subprocess.run(
        [str(cli), "--server", stack.trino_url, "--user", stack.trino_user,
         "--output-format", "TSV", "--execute", "SELECT count(*) FROM source.public.customers"],
        capture_output=True, text=True, timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().isdigit()


def test_python_client_reads_both_catalogs_in_one_query(trino_query):
    [[source, lake]] = trino_query(
        "SELECT (SELECT count(*) FROM source.public.customers),"
        " (SELECT count(*) FROM lakehouse.information_schema.tables WHERE table_schema = 'project')")
    assert source >= 0 and lake >= 0


def test_no_secret_reaches_the_config_files_or_the_log(stack):
    from txlake.stack.trino import Trino

    ctx = Context(stack)
    secrets = [stack.s3_secret_key.get_secret_value(), stack.trino_source_password.get_secret_value(),
               stack.postgres_password.get_secret_value()]
    conf = ctx.conf_dir("trino")
    files = [p for p in conf.rglob("*") if p.is_file()] if conf.exists() else []
    log = Trino().log_path(ctx)
    if log.exists():
        files.append(log)
    if not files:
        pytest.skip("no native Trino files here (external stack)")
    for path in files:
        text = path.read_text(errors="replace")
        assert not [s for s in secrets if s in text], path

