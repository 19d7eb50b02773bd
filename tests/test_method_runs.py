"""Whole runs of the plug-in methods: exact resume (MaliGAN, DPGAN), sampling from their run folders, the CLI's
method errors and --help-config, checkpoints of format 1 (seqgan 0.1) and of an unknown format, saved configs."""

import json
import re

import pytest
import tomllib
import torch

from seqgan.cli import main
from seqgan.config import Config, load_config, preset, to_toml
from seqgan.errors import CheckpointError
from seqgan.methods import METHODS
from seqgan.run import train
from seqgan.train import load_checkpoint
from tests.runs import Crash, cli_sample_ids, run_metrics

ALL_METHODS = ("seqgan", "mle", "ss", "pg_bleu", "random", "maligan", "dpgan", "rankgan", "leakgan", "relgan", "pg_constant")
METHOD_SECTIONS = tuple(name for name, cls in METHODS.items() if cls.config is not None)


def _cfg(method):
    """The tiny preset (checkpoint_every=2, 4 adversarial rounds) with `method`; PG-BLEU with BLEU-3; MaliGAN with
    N = 3, 2, 1, 0 real tokens teacher-forced in its 4 rounds (the default N is 7 of the 8 tokens in every round,
    where G_β's rollouts never count)."""
    extra = {"pg_bleu": ["pg_bleu.n=3"], "maligan": ["maligan.mixed_start=3", "maligan.mixed_every=1"]}.get(method, [])
    return preset("tiny").override([f"train.method={method!r}", *extra])


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The run folder of an uninterrupted tiny run of a method, trained once per module."""
    runs = {}

    def run(method):
        if method not in runs:
            out = tmp_path_factory.mktemp(f"whole-{method}") / "run"
            train(_cfg(method), out)
            runs[method] = out
        return runs[method]

    return run


def _latest(run_dir):
    return load_checkpoint(run_dir / "checkpoints" / "latest.pt")


def _assert_same_tensors(a, b, what):
    assert set(a) == set(b), what
    for key, value in a.items():
        assert torch.equal(value, b[key]), f"{what}: {key}"


def _crash(cfg, run_dir, phase, after):
    """A run killed after `after` units of `phase`; its checkpoint is behind the kill (checkpoint_every=2)."""
    with pytest.raises(KeyboardInterrupt):
        train(cfg, run_dir, callbacks=Crash(phase, after))
    progress = _latest(run_dir)["progress"]
    lost = after % cfg.train.checkpoint_every
    assert lost, "the crash must lose work that the resumed run redoes"
    assert progress == {"phase": phase, "done": after - lost}


# ---- 1. exact resume of MaliGAN and DPGAN ---------------------------------------------------------------------


@pytest.mark.parametrize("method, phase, after", [("maligan", "adversarial", 3), ("dpgan", "adversarial", 3),
                                                  ("dpgan", "d_pretrain", 1)])
def test_resume_after_a_crash_equals_the_uninterrupted_run(uninterrupted, tmp_path, method, phase, after):
    cfg = _cfg(method)
    whole_dir, cut_dir = uninterrupted(method), tmp_path / "cut"
    _crash(cfg, cut_dir, phase, after)
    train(cfg, cut_dir, resume=True)
    assert run_metrics(cut_dir) == run_metrics(whole_dir)
    whole, cut = _latest(whole_dir), _latest(cut_dir)
    assert cut["progress"] == {"phase": "done", "done": 0}
    _assert_same_tensors(whole["generator"], cut["generator"], "generator")
    _assert_same_tensors(whole["discriminator"], cut["discriminator"], "discriminator")
    if method == "maligan":  # G_β of its Monte Carlo rewards, which count from the N-th token on
        assert [r["maligan/prefix"] for r in run_metrics(whole_dir) if r["phase"] == "adversarial"] == [3, 1, 0]
        assert whole["method"]["rollout"] is not None
        _assert_same_tensors(whole["method"]["rollout"], cut["method"]["rollout"], "G_β")
    if method == "dpgan":
        # DPGAN's discriminator is the method's own LSTM language model: trained, and restored on resume
        assert whole["method"]["lm_optimizer"]["state"], "the LM discriminator was never trained"
        _assert_same_tensors(whole["method"]["lm"], cut["method"]["lm"], "LM discriminator")


# ---- 2. sampling from a finished run's folder ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["maligan", "dpgan"])
def test_sample_ids_from_a_finished_run_folder(uninterrupted, capsys, method):
    rows, expected = cli_sample_ids(uninterrupted(method), capsys, 5)
    assert len(rows) == 5 and all(len(row) == 8 and all(0 <= t < 50 for t in row) for row in rows)
    assert rows == expected  # drawn from the run's final G_θ with the default sampling seed 0


# ---- 3. the CLI: method errors and --help-config ---------------------------------------------------------------


def _one_error_line(err):
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_unknown_method_is_refused_naming_every_method(tmp_path, capsys):
    assert set(METHODS) == set(ALL_METHODS)
    out = tmp_path / "r"
    assert main(["train", "--preset", "tiny", "--set", "train.method='gan'", "--out", str(out)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "'gan'" in line
    for name in ALL_METHODS:
        assert re.search(rf"\b{name}\b", line), f"{name} missing from: {line}"
    assert not out.exists()


def test_a_setting_of_an_unselected_method_is_refused(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", "--preset", "tiny", "--set", "maligan.mixed_start=3", "--out", str(out)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "setting of method 'maligan'" in line and "maligan.mixed_start" in line
    assert not out.exists()
    # the same setting with its method selected is accepted
    assert preset("tiny").override(["train.method='maligan'", "maligan.mixed_start=3"]).method.mixed_start == 3


def _assert_help_config_text(out):
    for section in ("[maligan]", "[dpgan]", "[ss]", "[pg_bleu]"):
        assert section in out, section
    for key in ("train.advantage =", "maligan.mixed_start =", "dpgan.real_weight =", "ss.schedule =", "pg_bleu.n ="):
        assert key in out, key


def test_help_config_lists_the_method_sections(capsys):
    assert main(["train", "--out", "unused", "--help-config"]) == 0
    _assert_help_config_text(capsys.readouterr().out)


def test_help_config_needs_no_run_folder(capsys):
    # README: `seqgan train --help-config` prints every setting; it writes no run folder, so --out is not needed
    try:
        code = main(["train", "--help-config"])
    except SystemExit as exc:  # argparse refusing the missing --out
        code = exc.code
    captured = capsys.readouterr()
    assert code == 0, captured.err
    _assert_help_config_text(captured.out)


# ---- 4. checkpoints of seqgan 0.1 (format 1) and of an unknown format ------------------------------------------


def _legacy_config(config):
    """A config dict (today's layout) in the layout of checkpoint format 1: no method sections, their settings
    (and train.advantage) under [train] with their old names."""
    config = Config.from_dict(config).to_dict(every_method=True)  # format 1 wrote every setting
    old = {k: dict(v) if isinstance(v, dict) else v for k, v in config.items() if k not in METHOD_SECTIONS}
    t = old["train"]
    t["pg_bleu_n"] = config["pg_bleu"]["n"]
    t["ss_schedule"], t["ss_k"], t["ss_floor"] = (config["ss"][k] for k in ("schedule", "k", "floor"))
    t["pg_baseline"] = t.pop("advantage")
    return old


def _to_format_1(state):
    old = {k: v for k, v in state.items() if k != "method"}
    method = state["method"]
    assert set(method) == {"optimizer", "rollout"}  # all that format 1 kept of a policy-gradient method
    old["format"] = 1
    old["optimizers"] = {**state["optimizers"], "pg": method["optimizer"]}
    old["rollout"] = method["rollout"]
    old["config"] = _legacy_config(state["config"])
    return old


def _toml(data):
    lines = [f"{k} = {json.dumps(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for section, values in data.items():
        if isinstance(values, dict):
            lines += ["", f"[{section}]", *(f"{k} = {json.dumps(v)}" for k, v in values.items())]
    return "\n".join(lines) + "\n"


def test_a_format_1_checkpoint_resumes_like_the_uninterrupted_run(uninterrupted, tmp_path):
    cfg = _cfg("pg_bleu")
    whole_dir, cut_dir = uninterrupted("pg_bleu"), tmp_path / "cut"
    _crash(cfg, cut_dir, "adversarial", 3)
    path = cut_dir / "checkpoints" / "latest.pt"
    state = torch.load(path, weights_only=True)
    assert state["format"] == 2 and state["method"]["rollout"] is not None and state["method"]["optimizer"]["state"]
    torch.save(_to_format_1(state), path)
    # the run folder's config.toml as seqgan 0.1 wrote it
    (cut_dir / "config.toml").write_text(_toml(_legacy_config(cfg.to_dict(every_method=True))), encoding="utf-8")
    legacy = tomllib.loads((cut_dir / "config.toml").read_text())
    assert legacy["train"]["pg_bleu_n"] == 3 and legacy["train"]["pg_baseline"] == "none"
    assert "ss_schedule" in legacy["train"] and not set(METHOD_SECTIONS) & set(legacy)

    train(cfg, cut_dir, resume=True)
    assert run_metrics(cut_dir) == run_metrics(whole_dir)
    whole, cut = _latest(whole_dir), _latest(cut_dir)
    _assert_same_tensors(whole["generator"], cut["generator"], "generator")
    _assert_same_tensors(whole["method"]["rollout"], cut["method"]["rollout"], "G_β")
    # written back in today's format and layout
    assert cut["format"] == 2 and "rollout" not in cut and "pg" not in cut["optimizers"]
    assert load_config(cut_dir / "config.toml").to_dict() == cfg.to_dict()


def test_a_checkpoint_of_an_unknown_format_is_refused(tiny_cfg, tmp_path, capsys):
    run = tmp_path / "r"
    _crash(tiny_cfg, run, "mle", 3)
    path = run / "checkpoints" / "latest.pt"
    state = torch.load(path, weights_only=True)
    state["format"] = 99
    torch.save(state, path)
    with pytest.raises(CheckpointError) as exc:
        train(tiny_cfg, run, resume=True)
    assert "format 99" in str(exc.value) and "another version" in str(exc.value)
    capsys.readouterr()
    assert main(["-q", "train", "--preset", "tiny", "--out", str(run), "--resume"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "format 99" in line and "another version" in line


# ---- 5. a run folder's saved config holds only the selected method's section -----------------------------------


@pytest.mark.parametrize("method, other", [("maligan", "dpgan"), ("dpgan", "maligan")])
def test_saved_config_holds_only_the_selected_methods_section(uninterrupted, tmp_path, method, other):
    cfg = _cfg(method)
    text = to_toml(cfg)
    assert f"[{method}]" in text and f"[{other}]" not in text
    for unselected in set(METHOD_SECTIONS) - {method}:
        assert f"[{unselected}]" not in text
    saved = (uninterrupted(method) / "config.toml").read_text(encoding="utf-8")
    assert saved == text
    changed = preset("tiny").override(["train.method='maligan'", "maligan.mixed_start=3"])
    path = tmp_path / "config.toml"
    path.write_text(to_toml(changed), encoding="utf-8")
    assert load_config(path) == changed and load_config(path).method.mixed_start == 3
