import json
import re
from pathlib import Path

import pytest
import torch

from seqgan.errors import CheckpointError, ConfigError, DataError, TrainingDiverged
from seqgan.run import train
from seqgan.train import SeqGANTrainer, configure_runtime, load_checkpoint, pace
from tests.runs import Crash, run_metrics


def test_same_seed_same_metrics_and_adversarial_phase_runs(tiny_cfg, tmp_path):
    a = train(tiny_cfg, tmp_path / "a")
    b = train(tiny_cfg, tmp_path / "b")
    assert run_metrics(tmp_path / "a") == run_metrics(tmp_path / "b")
    assert a["nll_oracle_pretrained"] == b["nll_oracle_pretrained"]
    phases = [r["phase"] for r in run_metrics(tmp_path / "a")]
    assert phases.count("mle") == 3 and phases.count("adversarial") == 3  # epochs 0, 2, 3 of each
    other = train(tiny_cfg.override(["seed=1"]), tmp_path / "c")
    assert other["nll_oracle_pretrained"] != a["nll_oracle_pretrained"]


def test_run_folder_holds_every_artifact(tiny_cfg, tmp_path):
    train(tiny_cfg, tmp_path / "r")
    r = tmp_path / "r"
    for name in ("config.toml", "metrics.jsonl", "learning_curve.png", "summary.json", "train.log",
                 "checkpoints/latest.pt", "checkpoints/generator.pt", "samples/final.txt"):
        assert (r / name).is_file(), name
    assert any((r / "tb").iterdir())
    record = run_metrics(r)[-1]
    assert {"phase", "epoch", "nll_oracle", "losses/g_pg", "losses/d"} <= set(record)
    # the log opens with where the run computes: device, threads, and the precision each model resolved to
    log = (r / "train.log").read_text(encoding="utf-8")
    assert "D_φ's GEMMs in float32, G_θ's gradient GEMMs in float32" in log
    assert "d_pretrain unit 2/2: losses/d " in log  # D pretraining, which has no evaluations, reports its progress
    assert re.search(r"adversarial \(seqgan\) epoch 3: nll_oracle [0-9.]+ \[4/4, [0-9.]+ s a unit, about 0.0 s to go\]",
                     log)  # and each line says where its phase stands


def test_the_log_says_how_long_a_phase_has_to_go():
    # the paper protocol's adversarial phase, 2.5 minutes a round, resumed at round 30 and timed over one round
    assert pace(150.0, 1, 31, 200) == "[31/200, 2.5 min a unit, about 7.0 h to go]"
    assert pace(10.0, 4, 10, 120) == "[10/120, 2.5 s a unit, about 4.6 min to go]"


@pytest.mark.parametrize("phase, after", [("mle", 3), ("d_pretrain", 1), ("adversarial", 3)])
def test_resume_after_a_crash_equals_the_uninterrupted_run(tiny_cfg, tmp_path, phase, after):
    # checkpoint_every=2: a crash at an odd unit loses work that the resumed run must redo identically.
    train(tiny_cfg, tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        train(tiny_cfg, tmp_path / "cut", callbacks=Crash(phase, after))
    train(tiny_cfg, tmp_path / "cut", resume=True)
    assert run_metrics(tmp_path / "cut") == run_metrics(tmp_path / "whole")
    assert f"resumed at {phase} unit" in (tmp_path / "cut" / "train.log").read_text(encoding="utf-8")
    whole = load_checkpoint(tmp_path / "whole" / "checkpoints" / "latest.pt")
    cut = load_checkpoint(tmp_path / "cut" / "checkpoints" / "latest.pt")
    for key, value in whole["generator"].items():
        assert torch.equal(value, cut["generator"][key]), key


@pytest.mark.parametrize("minutes, resumed_at", [(0.0, 0), (1e-6, 2)])
def test_checkpoints_by_wall_time_resume_exactly(tiny_cfg, tmp_path, minutes, resumed_at):
    # checkpoint_every out of reach: only train.checkpoint_minutes writes checkpoints within the phase (here after
    # every unit), and a kill after 3 rounds resumes from the one written after round 2 (with 0: from the phase start).
    cfg = tiny_cfg.override(["train.checkpoint_every=1000", f"train.checkpoint_minutes={minutes}"])
    train(cfg, tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "cut", callbacks=Crash("adversarial", 3))
    train(cfg, tmp_path / "cut", resume=True)
    assert f"resumed at adversarial unit {resumed_at}," in (tmp_path / "cut" / "train.log").read_text(encoding="utf-8")
    assert run_metrics(tmp_path / "cut") == run_metrics(tmp_path / "whole")


def test_resume_without_checkpoint_starts_from_the_beginning(tiny_cfg, tmp_path):
    train(tiny_cfg, tmp_path / "fresh", resume=True)
    train(tiny_cfg, tmp_path / "plain")
    assert run_metrics(tmp_path / "fresh") == run_metrics(tmp_path / "plain")


def test_existing_run_folder_is_not_overwritten(tiny_cfg, tmp_path):
    train(tiny_cfg, tmp_path / "r")
    before = (tmp_path / "r" / "metrics.jsonl").read_text()
    with pytest.raises(ConfigError, match="--resume"):
        train(tiny_cfg, tmp_path / "r")
    assert (tmp_path / "r" / "metrics.jsonl").read_text() == before


def test_resume_with_a_different_config_is_refused(tiny_cfg, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        train(tiny_cfg, tmp_path / "r", callbacks=Crash("mle", 3))
    with pytest.raises(ConfigError, match="differs"):
        train(tiny_cfg.override(["train.rollout_num=2"]), tmp_path / "r", resume=True)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupted_checkpoint_gives_a_clear_error(tiny_cfg, tmp_path, damage):
    with pytest.raises(KeyboardInterrupt):
        train(tiny_cfg, tmp_path / "r", callbacks=Crash("mle", 3))
    ckpt = tmp_path / "r" / "checkpoints" / "latest.pt"
    data = ckpt.read_bytes()
    ckpt.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"not a checkpoint" * 10, "empty": b""}[damage])
    with pytest.raises(CheckpointError, match="corrupted or not a seqgan checkpoint"):
        train(tiny_cfg, tmp_path / "r", resume=True)


def test_checkpoint_of_another_vocabulary_is_refused(tiny_cfg, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        train(tiny_cfg, tmp_path / "r", callbacks=Crash("mle", 3))
    state = load_checkpoint(tmp_path / "r" / "checkpoints" / "latest.pt")
    other = SeqGANTrainer(tiny_cfg.override(["oracle.vocab_size=60"]))
    with pytest.raises(CheckpointError, match=r"vocabulary \(50 tokens\) does not match this data's \(60 tokens\)"):
        other.load_state_dict(state)


def test_nan_guard_stops_loudly(tiny_cfg, tmp_path):
    trainer = SeqGANTrainer(tiny_cfg, tmp_path / "r")
    with torch.no_grad():
        trainer.generator.output.bias.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="Lower the learning rate"):
        trainer.fit()


def test_adversarial_round_changes_the_generator_and_the_discriminator(tiny_cfg):
    trainer = SeqGANTrainer(tiny_cfg.override(["train.pretrain_epochs=1", "train.d_pretrain_steps=1",
                                               "train.adversarial_rounds=0"]))
    trainer.fit()
    g0 = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    d0 = {k: v.clone() for k, v in trainer.discriminator.state_dict().items()}
    trainer.progress.phase = "adversarial"
    trainer.method.round()
    assert all(not torch.equal(v, trainer.generator.state_dict()[k]) for k, v in g0.items() if k != "lstm.bias_hh_l0")
    assert any(not torch.equal(v, trainer.discriminator.state_dict()[k]) for k, v in d0.items())
    # G_β was synced once: it is strictly between its start (θ before the round) and the new θ
    beta = trainer.method.rollout.policy.output.bias
    assert torch.allclose(beta, 0.8 * g0["output.bias"] + 0.2 * trainer.generator.output.bias)


@pytest.mark.parametrize("method", ["mle", "ss", "pg_bleu"])
def test_baselines_train_from_the_pretrained_generator_and_change_it(tiny_cfg, method):
    cfg = tiny_cfg.override([f"train.method={method!r}"])
    trainer = SeqGANTrainer(cfg)
    records = trainer.fit()
    assert [r["phase"] for r in records] == ["mle"] * 3 + ["baseline"] * 3
    assert all(r["method"] == method for r in records)
    assert (getattr(trainer.method, "rollout", None) is not None) == (method == "pg_bleu")  # only PG-BLEU has G_β
    # D was never trained
    fresh = SeqGANTrainer(cfg)
    assert all(torch.equal(v, fresh.discriminator.state_dict()[k]) for k, v in trainer.discriminator.state_dict().items())
    # the baseline phase moved G away from where pretraining left it
    pretrained = SeqGANTrainer(cfg.override(["train.adversarial_rounds=0"]))
    pretrained.fit()
    assert not torch.equal(pretrained.generator.output.weight, trainer.generator.output.weight)
    assert torch.allclose(torch.tensor(pretrained.records[-1]["nll_oracle"]), torch.tensor(records[2]["nll_oracle"]))


def test_random_baseline_is_the_untrained_generator(tiny_cfg):
    trainer = SeqGANTrainer(tiny_cfg.override(["train.method='random'"]))
    untrained = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    records = trainer.fit()
    assert len(records) == 1 and records[0]["phase"] == "baseline" and records[0]["method"] == "random"
    assert all(torch.equal(v, trainer.generator.state_dict()[k]) for k, v in untrained.items())


def test_nll_test_is_the_generators_nll_of_held_out_oracle_data(tiny_cfg):
    trainer = SeqGANTrainer(tiny_cfg.override(["train.adversarial_rounds=0", "train.d_pretrain_steps=0"]))
    records = trainer.fit()
    assert "nll_test" in records[-1]
    assert records[-1]["nll_test"] == pytest.approx(trainer.generator.nll_of(trainer.test_data), abs=1e-6)
    # held out: a different draw from the training data
    assert not torch.equal(trainer.test_data, trainer.real_data)
    assert records[-1]["nll_test"] < records[0]["nll_test"]  # MLE improves coverage
    no_test = SeqGANTrainer(tiny_cfg.override(["oracle.num_test=0", "train.adversarial_rounds=0"])).fit()
    assert "nll_test" not in no_test[-1]


def test_pg_bleu_reward_is_the_bleu_of_the_completed_sequence(tiny_cfg):
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    from seqgan.rollout import batched_rewards

    trainer = SeqGANTrainer(tiny_cfg.override(["train.method='pg_bleu'", "pg_bleu.n=3"]))
    refs = trainer.real_data.tolist()
    seen = []

    def recording(seqs):
        seen.append(seqs.clone())
        return trainer.method.reward()(seqs)

    y = trainer.generator.sample(3)
    q = batched_rewards(trainer.generator, y, recording, rollout_num=2)
    completed = seen[0][:4].tolist()  # a few completed rollouts
    rewards = trainer.method.reward()(seen[0][:4])
    for seq, r in zip(completed, rewards.tolist()):
        expected = sentence_bleu(refs, seq, weights=(1 / 3,) * 3, smoothing_function=SmoothingFunction().method1)
        assert r == pytest.approx(expected, abs=1e-12)
    assert q[:, -1].tolist() == pytest.approx([sentence_bleu(refs, s, weights=(1 / 3,) * 3,
                                               smoothing_function=SmoothingFunction().method1) for s in y.tolist()])


def _text_cfg(tiny_cfg, path):
    return tiny_cfg.override(["data.source='file'", f"data.path={str(path)!r}", "data.num_eval=64"])


def test_training_on_a_text_file_end_to_end(tiny_cfg, tmp_path, text_corpus):
    cfg = _text_cfg(tiny_cfg, text_corpus)
    summary = train(cfg, tmp_path / "r")
    run = tmp_path / "r"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"nll_test", "bleu2", "bleu3", "bleu4"} <= set(records[-1]) and "nll_oracle" not in records[-1]
    assert summary["metric"] == "nll_test" and summary["nll_test_final"] is not None
    assert records[-1]["nll_test"] < records[0]["nll_test"] + 1.0
    final = summary["final_samples"]
    assert {f"bleu{n}" for n in range(2, 6)} | {f"self_bleu{n}" for n in range(2, 6)} <= set(final)
    words = set(text_corpus.read_text().split())
    lines = (run / "samples" / "final.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1000 and all(tok in words or tok == "<unk>" for line in lines for tok in line.split())
    assert (run / "vocab.json").is_file() and (run / "learning_curve.png").is_file()
    # LM score and reverse LM score of the same 1,000 samples, the real-data LM trained on the run's training data
    from seqgan.lm_score import lm_scores
    from seqgan.oracle import read_token_file
    from seqgan.train import build_corpus

    corpus = build_corpus(cfg)
    expected = lm_scores(read_token_file(run / "samples" / "final.ids.txt"), corpus.train, corpus.test, len(corpus.vocab))
    on_disk = json.loads((run / "summary.json").read_text())["final_samples"]
    assert {k: on_disk[k] for k in expected} == expected and all(0 < v < 10 for v in expected.values())


def test_resume_on_changed_text_is_refused_for_its_vocabulary(tiny_cfg, tmp_path, text_corpus):
    cfg = _text_cfg(tiny_cfg, text_corpus)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "r", callbacks=Crash("mle", 3))
    text_corpus.write_text(text_corpus.read_text() + "an entirely new word zebra appears\n" * 3)
    with pytest.raises(CheckpointError, match="vocabulary"):
        train(cfg, tmp_path / "r", resume=True)


@pytest.mark.parametrize("method", ["mle", "ss", "pg_bleu", "seqgan"])
def test_every_method_trains_on_variable_length_text(tiny_cfg, text_corpus, method):
    cfg = _text_cfg(tiny_cfg, text_corpus).override([f"train.method={method!r}", "train.pretrain_epochs=1",
                                                     "train.adversarial_rounds=1"])
    trainer = SeqGANTrainer(cfg)
    trainer.fit()
    assert trainer.eos is not None
    samples = trainer.generator.sample(64)
    from seqgan.data import valid_mask

    assert (samples[~valid_mask(samples, trainer.eos)] == 0).all()


def test_denormals_are_flushed_on_cpu_unless_turned_off(tiny_cfg):
    small = torch.tensor([1e-20])  # small * small = 1e-40, a denormal float32
    cpu = torch.device("cpu")
    try:
        configure_runtime(tiny_cfg.runtime, cpu)
        assert (small * small).item() == 0.0, "runtime.flush_denormal should make denormal results zero"
        configure_runtime(tiny_cfg.override(["runtime.flush_denormal=false"]).runtime, cpu)
        assert (small * small).item() > 0.0
    finally:
        torch.set_flush_denormal(False)


def test_building_a_trainer_leaves_global_torch_state_alone(tiny_cfg):
    threads = torch.get_num_threads()
    small = torch.tensor([1e-20])
    torch.set_flush_denormal(False)
    SeqGANTrainer(tiny_cfg.override(["runtime.threads=1", "runtime.flush_denormal=true"]))
    assert torch.get_num_threads() == threads
    assert (small * small).item() > 0.0  # still not flushed


def test_a_second_writer_of_a_run_folder_is_refused_and_a_dead_ones_lock_never_blocks(tiny_cfg, tmp_path):
    import subprocess
    import sys
    import time

    run = tmp_path / "r"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom seqgan.run import RunFolderLock\n"
                               f"RunFolderLock({str(run)!r}).acquire()\nprint('held', flush=True)\ntime.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError, match=f"in use by process {holder.pid}"):
            train(tiny_cfg, run, resume=True)
    finally:
        holder.kill()  # SIGKILL: the holder never releases; the OS does
        holder.wait()
    time.sleep(0.1)
    train(tiny_cfg.override(["train.adversarial_rounds=0", "train.pretrain_epochs=1"]), run, resume=True)
    assert (run / "summary.json").is_file()


def test_resume_on_changed_data_with_the_same_vocabulary_is_refused(tiny_cfg, tmp_path, text_corpus):
    cfg = _text_cfg(tiny_cfg, text_corpus)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "r", callbacks=Crash("mle", 3))
    lines = text_corpus.read_text().splitlines()
    changed = lines[:-1] + [" ".join(reversed(lines[-1].split()))]  # the same words and counts, one line reordered
    text_corpus.write_text("\n".join(changed) + "\n")
    with pytest.raises(CheckpointError, match="data changed since this checkpoint"):
        train(cfg, tmp_path / "r", resume=True)
    text_corpus.write_text("\n".join(lines) + "\n")
    train(cfg, tmp_path / "r", resume=True)  # back to the data it started with: it continues


def test_one_enormous_line_is_refused_at_load_time_naming_the_setting(tiny_cfg, tmp_path):
    import time

    path = tmp_path / "lines.txt"
    lines = [f"a short line number {i} ." for i in range(200)]
    lines.insert(17, " ".join(["word"] * 200_000))
    path.write_text("\n".join(lines) + "\n")
    start = time.perf_counter()
    with pytest.raises(DataError, match=r"far longer than the rest .*data.max_len=7"):
        SeqGANTrainer(_text_cfg(tiny_cfg, path))
    assert time.perf_counter() - start < 5  # refused before any tensor of that length exists
    # with data.max_len set, the long line is dropped as usual and training can start
    SeqGANTrainer(_text_cfg(tiny_cfg, path).override(["data.max_len=7"]))


def test_preflight_refuses_rollouts_that_cannot_fit_the_memory_budget(tiny_cfg, text_corpus):
    cfg = _text_cfg(tiny_cfg, text_corpus).override(["data.max_len=4000", "runtime.memory_budget_mb=1"])
    with pytest.raises(ConfigError, match="rollouts of one sequence of length 4000 need .* MiB, more than "
                                          "runtime.memory_budget_mb = 1"):
        SeqGANTrainer(cfg)
    SeqGANTrainer(cfg.override(["train.method='dpgan'"]))  # no rollouts: nothing to refuse
    with pytest.raises(ConfigError, match="can only be a mistake"):
        tiny_cfg.override(["train.rollout_num=1000000000000"])


def test_preflight_refuses_a_memory_budget_above_what_the_machine_has(tiny_cfg, monkeypatch):
    import seqgan.methods.base

    cfg = tiny_cfg.override(["runtime.memory_budget_mb=100000"])
    SeqGANTrainer(cfg)  # the tiny reward pass needs far less than it may use: nothing to refuse
    monkeypatch.setattr(seqgan.methods.base, "available_bytes", lambda device: 2**20)  # 1 MiB left on this machine
    with pytest.raises(ConfigError, match="more than the 1 MiB this machine has available"):
        SeqGANTrainer(cfg.override(["train.rollout_num=10000"]))


def _drop_precision(run_dir):
    """Make a run folder look written before runtime.precision existed: neither config.toml nor the checkpoint has it."""
    toml = run_dir / "config.toml"
    toml.write_text("\n".join(line for line in toml.read_text(encoding="utf-8").splitlines()
                              if not line.startswith("precision =")), encoding="utf-8")
    path = run_dir / "checkpoints" / "latest.pt"
    state = load_checkpoint(path)
    del state["config"]["runtime"]["precision"]
    torch.save(state, path)


@pytest.mark.parametrize("written", ["with fp32", "before the setting existed"])
def test_a_run_started_at_the_old_default_precision_resumes_with_the_same_command(tiny_cfg, tmp_path, written):
    # A run that started when runtime.precision defaulted to 'fp32' (or before it existed) resumes under today's
    # default ('auto') with the command that started it, and continues in fp32: an interrupted run is never lost to
    # a changed default.
    old = tiny_cfg.override(["runtime.precision='fp32'"])
    assert tiny_cfg.runtime.precision == "auto"
    train(old, tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        train(old, tmp_path / "cut", callbacks=Crash("adversarial", 3))
    if written == "before the setting existed":
        _drop_precision(tmp_path / "cut")
    train(tiny_cfg, tmp_path / "cut", resume=True)
    assert run_metrics(tmp_path / "cut") == run_metrics(tmp_path / "whole")
    assert "resumed with runtime.precision = 'fp32', as the run started" in (tmp_path / "cut" / "train.log").read_text(
        encoding="utf-8")
    assert load_checkpoint(tmp_path / "cut" / "checkpoints" / "latest.pt")["config"]["runtime"]["precision"] == "fp32"
    assert "precision = \"fp32\"" in (tmp_path / "cut" / "config.toml").read_text(encoding="utf-8")


def test_a_precision_the_command_sets_must_match_the_run_s(tiny_cfg, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        train(tiny_cfg.override(["runtime.precision='fp32'"]), tmp_path / "r", callbacks=Crash("mle", 3))
    with pytest.raises(ConfigError, match="differs"):
        train(tiny_cfg.override(["runtime.precision='bf16'"]), tmp_path / "r", resume=True)


def test_a_run_records_its_code_and_says_when_a_resume_changes_it(tiny_cfg, tmp_path):
    from seqgan.provenance import software

    here = software()
    assert here["seqgan"] and here["torch"] == torch.__version__
    if (Path(__file__).resolve().parents[1] / ".git").exists():  # a git checkout (CI clones one) names its commit
        assert len(here["commit"].removesuffix("+changes")) == 12
    run = tmp_path / "r"
    with pytest.raises(KeyboardInterrupt):
        train(tiny_cfg, run, callbacks=Crash("adversarial", 3))
    path = run / "checkpoints" / "latest.pt"
    state = load_checkpoint(path)
    assert state["software"] == here
    state["software"] = {**here, "seqgan": "0.0.9", "commit": "0123456789ab"}  # written by an older version
    torch.save(state, path)
    train(tiny_cfg, run, resume=True)
    log = (run / "train.log").read_text(encoding="utf-8")
    assert log.count(f"code: seqgan {here['seqgan']}") == 2  # each start says what it runs
    assert "the checkpoint resumed from was written by other code: seqgan 0.0.9 (commit 0123456789ab)" in log
    assert json.loads((run / "summary.json").read_text())["software"] == here


def _host_reads(monkeypatch):
    """Counts the tensor-to-Python reads (.item, .tolist, bool/int/float of a tensor): each is a host sync on a GPU."""
    counts = {"n": 0}
    for name in ("item", "tolist", "__bool__", "__int__", "__float__"):
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, **kwargs):
            counts["n"] += 1
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(torch.Tensor, name, counted)
    return counts


def test_the_training_loops_read_no_tensor_back_per_batch(tiny_cfg, monkeypatch):
    # The D step's and the MLE epoch's losses and accuracies accumulate on the device and are read once at the end:
    # three times the batches, the same number of reads (on a GPU each read waits for the queue to drain).
    import seqgan.kernels.fused as fused
    from seqgan import steps

    trainer = SeqGANTrainer(tiny_cfg.override(["train.num_negatives=256", "discriminator.batch_size=16"]))
    counts = _host_reads(monkeypatch)
    reads = []
    for epochs in (1, 3):
        trainer.generator.sample(4)  # warm: the sampler's first-call work is not the loop's
        start = counts["n"]
        steps.d_step(trainer, epochs)
        reads.append(counts["n"] - start)
    assert reads[0] == reads[1]  # 32 batches or 96: the reads are the sampler's and the two at the end
    # The fused loss asks once per call whether exp needs its shift, on CPU only (seqgan.kernels.fused.needs_shift);
    # an accelerator always shifts instead. Answered as an accelerator does, the epoch reads nothing per batch.
    monkeypatch.setattr(fused, "needs_shift", lambda h_aug, w_aug: True)
    opt, real = trainer.mle_opt, trainer.real_data
    mle_reads = []
    for size in (64, 256):
        trainer.real_data = torch.cat([real] * 2)[:size]
        start = counts["n"]
        steps.mle_epoch(trainer, opt)
        mle_reads.append(counts["n"] - start)
    assert mle_reads[0] == mle_reads[1] == 1  # 4 batches or 16: one read, the mean loss
