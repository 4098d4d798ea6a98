"""The command line: exit 0 on success, 1 with one clear message for bad input, 2 for bad usage."""

import pytest

from falls_risk.cli import main


def test_help_lists_commands(capsys):
    assert main(["--help"]) == 0
    assert "ingest" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["synth", "ingest"])
def test_every_command_has_help(command, capsys):
    assert main([command, "--help"]) == 0
    assert "Usage" in capsys.readouterr().out


def test_bad_usage_exits_2(capsys):
    assert main(["ingest"]) == 2
    assert "Missing" in capsys.readouterr().err


def test_data_error_exits_1_without_traceback(tmp_path, capsys):
    code = main(["ingest", str(tmp_path / "no-such-extract"), "--workspace", str(tmp_path / "ws")])
    err = capsys.readouterr().err
    assert code == 1
    assert "no-such-extract" in err
    assert "Traceback" not in err


def test_debug_shows_the_traceback(tmp_path):
    from falls_risk.errors import FallsRiskError

    with pytest.raises(FallsRiskError):
        main(["ingest", str(tmp_path / "no-such-extract"), "--workspace", str(tmp_path / "ws"), "--debug"])
