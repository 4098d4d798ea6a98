from falls_risk.cli import main


def test_score_command_refuses_a_future_date_with_exit_code_1(tmp_path, capsys):
    code = main(["score", "--extract", str(tmp_path), "--as-of", "2999-01-01", "--out",
                 str(tmp_path / "runs" / "2999-01"), "--capacity", "5"])
    assert code == 1
    assert "in the future" in capsys.readouterr().err
    assert not (tmp_path / "runs" / "2999-01").exists()


def test_score_command_needs_a_capacity_or_a_percentage(tmp_path, capsys):
    code = main(["score", "--extract", str(tmp_path), "--as-of", "2025-01-01", "--out",
                 str(tmp_path / "runs" / "2025-01")])
    assert code == 1
    assert "--capacity" in capsys.readouterr().err

