"""The CLI's contract: user errors print one line without a traceback and exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from forecasting.cli import app, main
from forecasting.errors import EhcpError


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "version" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out.startswith("ehcp ")


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    err = capsys.readouterr().err
    assert "No such command" in err
    assert "Traceback" not in err


def test_user_error_is_one_readable_line(capsys: pytest.CaptureFixture[str]) -> None:
    @app.command("raise-user-error", hidden=True)
    def _raise() -> None:
        raise EhcpError("expected a number", file="f.csv", row=3, field="y", fix="correct it")

    try:
        assert main(["raise-user-error"]) == 2
    finally:
        app.registered_commands.pop()
    err = capsys.readouterr().err
    assert err.strip() == "error: f.csv, row 3, field 'y': expected a number. Fix: correct it."


def test_console_script_exit_code_without_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "forecasting.cli", "no-such-command"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
