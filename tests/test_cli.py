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
    assert main([*command.split(), "--help"]) == 0
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


def test_an_error_message_is_printed_as_written_without_emoji_or_markup(capsys):
    # Rich would turn ":end:" into an emoji and swallow "[...]" as a style.
    assert main(["features", "--workspace", "ws", "--index-dates", "2024-13-01"]) == 1
    err = capsys.readouterr().err
    assert "START:END:monthly" in err
    assert not [ch for ch in err if ord(ch) > 0x2000], "the error shows emoji"


def test_markup_like_text_in_an_error_survives(tmp_path, capsys):
    extract = tmp_path / "[bold]extract"
    assert main(["ingest", str(extract), "--workspace", str(tmp_path / "ws")]) == 1
    assert "[bold]extract" in capsys.readouterr().err


def _bool_options():
    import typer

    from falls_risk.cli import app

    def walk(command, path):
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])
        for param in command.params:
            if getattr(param, "is_flag", False) and param.name != "help":
                yield " ".join(path), param

    return list(walk(typer.main.get_command(app), []))


def test_there_are_on_off_options_to_check():
    assert {p.opts[0] for _, p in _bool_options()} >= {
        "--per-local-authority", "--keep-work", "--retrain", "--ablation", "--accept-quarantine"}


@pytest.mark.parametrize(("command", "param"), _bool_options(), ids=lambda x: getattr(x, "name", x))
def test_every_on_off_option_is_a_flag_pair_without_a_value_hint(command, param, capsys):
    flag = param.opts[0]
    assert param.secondary_opts == [f"--no-{flag.removeprefix('--')}"]
    assert main([*command.split(), "--help"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if flag[:12] in line]
    assert lines and not any("<bool>" in line for line in lines), lines


@pytest.mark.parametrize(("args", "on"), [([], False), (["--per-local-authority"], True),
                                          (["--no-per-local-authority"], False)])
def test_a_flag_turns_its_option_on_and_its_no_form_off(args, on, tmp_path, monkeypatch):
    import typer

    from falls_risk import scoring
    from falls_risk.scoring.tiers import OVERALL, PER_LOCAL_AUTHORITY

    seen = {}

    def parsed_only(request):  # stop right after parsing: what did the flag become?
        seen["per"] = request.policy.per
        raise typer.Exit(0)

    monkeypatch.setattr(scoring, "run_scoring", parsed_only)
    code = main(["score", "--extract", str(tmp_path), "--as-of", "2024-01-01", "--out", str(tmp_path / "run"),
                 "--capacity", "10", *args])
    assert code == 0
    assert seen["per"] == (PER_LOCAL_AUTHORITY if on else OVERALL)
