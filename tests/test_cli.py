import json

import pytest

from seqgan.cli import main

from .conftest import REAL_DATA


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("train", "sample", "evaluate"):
        assert cmd in out


def test_evaluate_real_data_reports_the_papers_oracle_nll(capsys):
    assert main(["evaluate", "--samples", str(REAL_DATA), "--oracle", "paper", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["nll_oracle"] == pytest.approx(5.761, abs=0.003)
    assert result["num_sequences"] == 9984


def test_train_then_sample(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["-q", "train", "--preset", "tiny", "--out", str(run), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "after MLE pretraining" in out and "after SeqGAN" in out
    assert main(["sample", "--checkpoint", str(run), "--num", "5", "--temperature", "0.7"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5 and all(len(line.split()) == 8 for line in lines)
    assert main(["sample", "--checkpoint", str(run), "--num", "4", "--out", str(tmp_path / "s.txt")]) == 0
    assert len((tmp_path / "s.txt").read_text().splitlines()) == 4
    # its samples scored against the run's own (random) oracle agree with the trainer's last evaluation
    assert main(["evaluate", "--samples", str(run / "samples" / "final.txt"), "--oracle", str(run), "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)["nll_oracle"]
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["nll_oracle"]
    assert scored == pytest.approx(last, abs=0.15)
    # finishing an already finished run with --resume redoes nothing and prints the same table
    assert main(["-q", "train", "--preset", "tiny", "--out", str(run), "--seed", "3", "--resume"]) == 0
    assert out.split("wall time")[0] == capsys.readouterr().out.split("wall time")[0]


@pytest.mark.parametrize("argv, message", [
    (["train", "--preset", "tiny", "--out", "{tmp}/r", "--set", "train.rollout_num=0"], "rollout_num must be > 0"),
    (["train", "--config", "{tmp}/missing.toml", "--out", "{tmp}/r"], "not found"),
    (["sample", "--checkpoint", "{tmp}", "--num", "3"], "no checkpoint in"),
    (["sample", "--checkpoint", "{tmp}/junk.pt"], "corrupted or not a seqgan checkpoint"),
    (["evaluate", "--samples", "{tmp}/empty.txt"], "no sequences"),
    (["evaluate", "--samples", "{tmp}/junk.pt"], "binary"),
    (["evaluate", "--samples", "{tmp}/missing.txt"], "not found"),
    (["evaluate", "--samples", "{tmp}/ids.txt", "--oracle", "{tmp}"], "expected 'paper', a run folder"),
])
def test_bad_input_gives_a_message_and_exit_2_not_a_traceback(tmp_path, capsys, argv, message):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "junk.pt").write_bytes(b"\x00\x01junk")
    (tmp_path / "ids.txt").write_text("1 2 3\n")
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_help_config_documents_settings(capsys):
    assert main(["train", "--out", "x", "--help-config"]) == 0
    assert "train.update_rate = 0.8" in capsys.readouterr().out


def test_ctrl_c_says_how_to_resume_without_a_traceback(tmp_path, capsys, monkeypatch):
    import seqgan.run

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(seqgan.run, "train", interrupted)
    assert main(["-q", "train", "--preset", "tiny", "--out", str(tmp_path / "r")]) == 130
    err = capsys.readouterr().err
    assert "--resume" in err and "Traceback" not in err
