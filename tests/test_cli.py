import json
from pathlib import Path

import pytest
import torch

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
    assert result["num_sequences"] == 9984 and "note" not in result
    short = REAL_DATA.read_text().splitlines()[:5]
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/short.txt"
        open(path, "w").write("".join(" ".join(line.split()[:8]) + "\n" for line in short))
        assert main(["evaluate", "--samples", path, "--oracle", "paper"]) == 0
    assert "length 20; these have length 8" in capsys.readouterr().err


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
    (["train", "--preset", "tiny", "--out", "{tmp}/r", "--set", "train.rollout_num=0"], "rollout_num must be a finite"),
    (["train", "--preset", "tiny", "--out", "{tmp}/r", "--set", "generator.lr=inf"], "generator.lr must be a finite"),
    (["train", "--preset", "tiny", "--out", "{tmp}/r", "--set", "train.update_rate=nan"], "update_rate must be in"),
    (["sample", "--checkpoint", "{tmp}", "--temperature", "nan"], "--temperature must be a finite number > 0"),
    (["sample", "--checkpoint", "{tmp}", "--temperature", "inf"], "--temperature must be a finite number > 0"),
    (["sample", "--checkpoint", "{tmp}", "--out", "{tmp}"], "is a folder"),
    (["sample", "--checkpoint", "{tmp}", "--out", "{tmp}/missing/s.txt"], "folder that does not exist"),
    (["train", "--config", "{tmp}", "--out", "{tmp}/r"], "is a folder"),
    (["train", "--config", "{tmp}/preset5.toml", "--out", "{tmp}/r"], "preset must be a name in quotes"),
    (["train", "--preset", "tiny", "--out", "{tmp}/empty.txt/r"], "cannot create the run folder"),
    (["reproduce", "table1", "--preset", "tiny", "--out", "{tmp}/empty.txt"], "is a file"),
    (["evaluate", "--samples", "{tmp}/huge.txt"], "below 2^63"),
    (["evaluate", "--samples", "{tmp}/ids.txt", "--oracle", "{tmp}/other.npz"], "is not an oracle: it lacks"),
    (["evaluate", "--samples", "{tmp}/ids.txt", "--oracle", "{tmp}/pickled.npz"], "is not an oracle npz file"),
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
    (tmp_path / "preset5.toml").write_text("preset = 5\n")
    (tmp_path / "huge.txt").write_text("1 2 " + "9" * 20 + "\n")
    import numpy as np

    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    from seqgan.oracle import _NPZ_KEYS

    np.savez(tmp_path / "pickled.npz", **{k: np.array([{"a": 1}], dtype=object) for k in _NPZ_KEYS})
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_help_config_documents_settings(capsys):
    assert main(["train", "--out", "x", "--help-config"]) == 0
    assert "train.update_rate = 0.8" in capsys.readouterr().out


def test_help_config_shows_the_chosen_presets_values(capsys):
    assert main(["train", "--preset", "tiny", "--help-config"]) == 0
    out = capsys.readouterr().out
    assert "tiny preset" in out and "train.pretrain_epochs = 4\n" in out and "oracle.vocab_size = 50\n" in out
    assert main(["train", "--help-config", "--set", "train.method='maligan'", "--set", "maligan.mixed_start=2"]) == 0
    assert "maligan.mixed_start = 2\n" in capsys.readouterr().out


def test_sigterm_ends_a_run_like_ctrl_c(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    run = tmp_path / "r"
    proc = subprocess.Popen([sys.executable, "-m", "seqgan", "-q", "train", "--preset", "small", "--out", str(run)],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run / "config.toml").exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130
    assert "--resume" in err and "Traceback" not in err


def test_a_start_that_failed_before_any_work_does_not_block_the_corrected_command(tmp_path, capsys):
    run = tmp_path / "r"
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert main(["-q", "train", "--preset", "tiny", "--data", str(empty), "--out", str(run)]) == 2
    capsys.readouterr()
    good = tmp_path / "good.txt"
    good.write_text("".join(f"line {i} of text\n" for i in range(40)))
    assert main(["-q", "train", "--preset", "tiny", "--set", "train.adversarial_rounds=0", "--data", str(good),
                 "--out", str(run)]) == 0, capsys.readouterr().err


def test_ctrl_c_says_how_to_resume_without_a_traceback(tmp_path, capsys, monkeypatch):
    import seqgan.run

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(seqgan.run, "train", interrupted)
    assert main(["-q", "train", "--preset", "tiny", "--out", str(tmp_path / "r")]) == 130
    err = capsys.readouterr().err
    assert "--resume" in err and "Traceback" not in err


def test_train_on_text_then_sample_text_and_evaluate_bleu(tmp_path, capsys, text_corpus):
    run = tmp_path / "run"
    assert main(["-q", "train", "--preset", "tiny", "--data", str(text_corpus), "--out", str(run),
                 "--set", "data.num_eval=32"]) == 0
    out = capsys.readouterr().out
    assert "NLL_test" in out and "bleu2" in out
    assert main(["sample", "--checkpoint", str(run), "--num", "6", "--out", str(tmp_path / "s.txt")]) == 0
    words = set(text_corpus.read_text().split())
    lines = (tmp_path / "s.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6 and all(tok in words for line in lines for tok in line.split())
    assert main(["evaluate", "--samples", str(tmp_path / "s.txt"), "--references", str(text_corpus), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {f"bleu{n}" for n in range(2, 6)} | {f"self_bleu{n}" for n in range(2, 6)} <= set(result)
    assert 0 <= result["bleu2"] <= 1 and result["num_samples"] == 6
    # a text run has no oracle: NLL_oracle against it is refused, not scored by an oracle it never had
    assert main(["evaluate", "--samples", str(tmp_path / "s.txt"), "--oracle", str(run)]) == 2
    assert "not on an oracle" in capsys.readouterr().err
    # a text run has no melodies: --midi is refused, not written as empty files
    assert main(["sample", "--checkpoint", str(run), "--num", "2", "--midi", str(tmp_path / "midi")]) == 2
    assert "writes text" in capsys.readouterr().err and not (tmp_path / "midi").exists()


def test_evaluate_references_equals_nltk(tmp_path, capsys):
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    hyps = ["a cat sat on the mat", "the dog ran", "a bird sang in a tree today"]
    refs = ["the cat sat on a mat", "a dog ran away", "birds sang in the tree", "the end"]
    (tmp_path / "h.txt").write_text("\n".join(hyps) + "\n")
    (tmp_path / "r.txt").write_text("\n".join(refs) + "\n")
    assert main(["evaluate", "--samples", str(tmp_path / "h.txt"), "--references", str(tmp_path / "r.txt"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    r = [x.split() for x in refs]
    for n in (2, 3, 4, 5):
        expected = sum(sentence_bleu(r, h.split(), weights=(1 / n,) * n, smoothing_function=SmoothingFunction().method1)
                       for h in hyps) / len(hyps)
        assert result[f"bleu{n}"] == pytest.approx(expected, abs=1e-12)


def test_evaluate_lm_train_adds_the_lm_scores_over_the_training_files_vocabulary(tmp_path, capsys, text_corpus):
    from seqgan.data import Vocabulary, encode_lines
    from seqgan.lm_score import lm_scores

    lines = text_corpus.read_text().splitlines()
    (tmp_path / "s.txt").write_text("\n".join(lines[:40] + ["a zebra sits on the moon"]) + "\n")  # two unknown words
    (tmp_path / "r.txt").write_text("\n".join(lines[250:]) + "\n")
    argv = ["evaluate", "--samples", str(tmp_path / "s.txt"), "--references", str(tmp_path / "r.txt"),
            "--lm-train", str(text_corpus)]
    assert main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    vocab = Vocabulary.build([line.split() for line in lines])
    parts = [[line.split() for line in part] for part in (lines[:40] + ["a zebra sits on the moon"], lines, lines[250:])]
    seq_len = 1 + max(len(tokens) for part in parts for tokens in part)
    samples, train, references = (encode_lines(part, vocab, seq_len)[0] for part in parts)
    expected = lm_scores(samples, train, references, len(vocab))
    assert result["lm_score"] == pytest.approx(expected["lm_score"], rel=1e-9)
    assert result["reverse_lm_score"] == pytest.approx(expected["reverse_lm_score"], rel=1e-9)
    assert result["bleu2"] > 0  # the other metrics are still there
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"lm_score {result['lm_score']:.4f}" in out and f"reverse_lm_score {result['reverse_lm_score']:.4f}" in out


@pytest.mark.parametrize("lm_train, extra, message", [
    ("missing.txt", [], "not found"),
    ("empty.txt", [], "empty or blank"),
    ("junk.pt", [], "binary"),
    ("ok.txt", ["--no-references"], "--lm-train goes with --references"),
])
def test_bad_lm_train_input_is_a_one_line_error(tmp_path, capsys, lm_train, extra, message):
    (tmp_path / "s.txt").write_text("a b c\nd e f\n")
    (tmp_path / "empty.txt").write_text("\n\n")
    (tmp_path / "junk.pt").write_bytes(b"\x00\x01junk")
    (tmp_path / "ok.txt").write_text("a b c\n")
    argv = ["evaluate", "--samples", str(tmp_path / "s.txt"), "--lm-train", str(tmp_path / lm_train)]
    if "--no-references" not in extra:
        argv += ["--references", str(tmp_path / "s.txt"), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_music_run_samples_midi(tmp_path, capsys):
    run = tmp_path / "m"
    assert main(["-q", "train", "--preset", "tiny", "--dataset", "nottingham", "--out", str(run),
                 "--set", "train.pretrain_epochs=1", "--set", "train.adversarial_rounds=1", "--set", "data.num_eval=16"]) == 0
    assert "pitch_mse" in capsys.readouterr().out
    assert main(["sample", "--checkpoint", str(run), "--num", "2", "--midi", str(tmp_path / "midi")]) == 0
    melodies = capsys.readouterr().out.strip().splitlines()
    assert len(melodies) == 2 and all(len(m.split()) == 32 for m in melodies)
    files = sorted((tmp_path / "midi").glob("*.mid"))
    assert len(files) == 2 and files[0].read_bytes()[:4] == b"MThd"


@pytest.mark.parametrize("setup, argv, message", [
    ("empty", ["--data", "{f}"], "empty or blank"),
    ("binary", ["--data", "{f}"], "binary"),
    ("latin1", ["--data", "{f}"], "not UTF-8"),
    ("long", ["--data", "{f}", "--set", "data.max_len=4", "--set", "data.long_lines='error'"], "more than the 3 that fit"),
    ("ok", ["--test", "{f}"], "--test goes with --data"),
    ("ok", ["--data", "{f}", "--set", "data.tokenizer='bpe'"], "data.tokenizer must be"),
])
def test_bad_text_input_gives_a_message_and_exit_2(tmp_path, capsys, setup, argv, message):
    f = tmp_path / "in.txt"
    content = {"empty": b"\n\n", "binary": b"\x00\x01\x02PK", "latin1": "caf\xe9\n".encode("latin-1"),
               "long": b"one two three four five\n" * 5, "ok": b"a b\nc d\n"}[setup]
    f.write_bytes(content)
    args = ["train", "--preset", "tiny", "--out", str(tmp_path / "r"), *(a.replace("{f}", str(f)) for a in argv)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_the_cli_flushes_denormals_in_torchs_worker_threads_too():
    import subprocess
    import sys

    code = ("import torch\n"
            "from seqgan.cli import _flush_denormals_in_every_thread\n"
            "_flush_denormals_in_every_thread()\n"
            "torch.set_num_threads(2)\n"
            "a = torch.full((2_000_000,), 1e-20)\n"
            "print(int(((a * a) != 0).sum()))\n")  # 1e-40 is denormal; both threads must flush it
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"


def test_an_unsafe_checkpoint_is_refused_without_advice_to_unpickle_it(tmp_path, capsys):
    import argparse

    import torch

    path = tmp_path / "unsafe.pt"
    torch.save({"generator": {}, "config": {}, "payload": argparse.Namespace(a=1)}, path)  # a pickled object
    assert main(["sample", "--checkpoint", str(path)]) == 2
    err = capsys.readouterr().err
    assert "never unpickles" in err and "weights_only" not in err and "\x1b[" not in err and len(err.splitlines()) == 1


def test_the_configured_flush_denormal_reaches_the_cli_before_any_work():
    from seqgan.cli import _wanted_flush, build_parser

    parse = build_parser().parse_args
    assert _wanted_flush(parse(["train", "--preset", "tiny", "--out", "x", "--set", "runtime.flush_denormal=false"])) is False
    assert _wanted_flush(parse(["train", "--preset", "tiny", "--out", "x"])) is True
    assert _wanted_flush(parse(["train", "--preset", "tiny", "--out", "x", "--set", "train.rollout_num=0"])) is True
    args = parse(["train", "--preset", "tiny", "--out", "x", "--seed", "4"])
    _wanted_flush(args)
    from seqgan.cli import resolve_config

    assert resolve_config(args).seed == 4 and args.set.count("seed=4") == 1  # read once, not twice


def _full_disk_after(monkeypatch, writes):
    """torch.save fails as on a full disk from its `writes`-th call on, after writing part of the file."""
    import errno

    real_save = torch.save
    calls = []

    def save(obj, path, *args, **kwargs):
        calls.append(path)
        if len(calls) >= writes:
            Path(path).write_bytes(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)


def test_a_full_disk_while_writing_a_checkpoint_says_which_file_and_keeps_the_last_one(tmp_path, capsys, monkeypatch):
    run = tmp_path / "r"
    args = ["-q", "train", "--preset", "tiny", "--out", str(run)]
    _full_disk_after(monkeypatch, writes=3)  # the first two checkpoints are written, the third fails
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "latest.pt" in err and "No space left on device" in err and "is intact" in err and "--resume" in err
    latest = run / "checkpoints" / "latest.pt"
    assert not latest.with_name("latest.pt.tmp").exists(), "a partial checkpoint was left behind"
    kept = torch.load(latest, weights_only=True)["progress"]
    monkeypatch.undo()  # space freed: the same command with --resume finishes the run from the kept checkpoint
    assert main([*args, "--resume"]) == 0, capsys.readouterr().err
    assert kept["phase"] != "done" and (run / "summary.json").is_file()


def test_a_full_disk_on_any_other_write_is_one_line_too(tmp_path, capsys, monkeypatch):
    import errno

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "r" / "config.toml"))

    monkeypatch.setattr(Path, "write_text", full)
    assert main(["-q", "train", "--preset", "tiny", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "No space left on device" in err and "config.toml" in err


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
def test_out_under_proc_is_a_one_line_error(capsys):
    assert main(["-q", "train", "--preset", "tiny", "--out", "/proc/seqgan-run"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "cannot create the run folder" in err


def test_library_errors_name_both_the_cli_option_and_the_python_argument(tmp_path, capsys):
    from seqgan.config import preset
    from seqgan.errors import ConfigError
    from seqgan.run import train

    cfg = preset("tiny").override(["train.adversarial_rounds=0", "train.pretrain_epochs=1"])
    train(cfg, tmp_path / "r")
    with pytest.raises(ConfigError, match=r"resume=True in Python"):
        train(cfg, tmp_path / "r")
    # and the CLI names its own option for Self-BLEU's sample count, not the Python argument
    (tmp_path / "s.txt").write_text("a b c\nd e f\n")
    assert main(["evaluate", "--samples", str(tmp_path / "s.txt"), "--references", str(tmp_path / "s.txt"),
                 "--self-bleu-max", "1"]) == 2
    err = capsys.readouterr().err
    assert "--self-bleu-max must be at least 2" in err and "self_bleu_max" not in err
