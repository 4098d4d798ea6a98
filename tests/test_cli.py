"""The command line: exit 0 on success, 1 with one clear message for bad input, 2 for bad usage."""

import pytest

from falls_risk.cli import main


def test_help_lists_commands(capsys):
    assert main(["--help"]) == 0
    assert "ingest" in capsys.readouterr().out


def _commands():
    from falls_risk.cli import app

    return [c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands]


def test_the_pipeline_commands_are_all_there():
    assert {"synth", "ingest", "link", "link-eval", "features", "train", "compare", "promote", "report", "score"} <= set(
        _commands()
    )


@pytest.mark.parametrize("command", _commands())
def test_every_command_has_readable_help(command, capsys):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage" in out
    # Rich turns ":name:" into emoji; help text must show the syntax the user types.
    assert not [ch for ch in out if ord(ch) > 0xFFFF], f"{command} --help shows emoji"


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
