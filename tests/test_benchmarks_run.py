"""The benchmark scripts still run against the library as it is (their --quick mode): a script broken by a refactor
would otherwise only show when someone needs its figures."""

import json
import re
import shutil
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.mark.parametrize("script, argv", [
    ("bench_protocol", ["--quick", "--set", "runtime.precision='bf16'"]),
    ("bench_precision", ["--quick", "--threads", "1", "--d-sequences", "128"]),
    ("bench_malloc", ["--quick", "--threads", "1", "--work", "d_bf16"]),
    ("bench_blocks", ["--quick", "--threads", "1"]),
    ("bench_dstep", ["--quick", "--threads", "1"]),
    pytest.param("bench_compile", ["--quick", "--threads", "1", "--work", "mle_step"],
                 marks=pytest.mark.skipif(not shutil.which("cc"), reason="torch.compile on CPU needs a C compiler")),
])
def test_benchmark_runs_quick(script, argv, tmp_path, capsys):
    module = __import__(script)
    threads = torch.get_num_threads()
    try:
        results = module.main([*argv, "--json", str(tmp_path / "out.json")])
    finally:  # the scripts set process-wide torch state, as their command lines should
        torch.set_num_threads(threads)
        torch.set_flush_denormal(False)
    assert (tmp_path / "out.json").is_file()
    assert "|" in capsys.readouterr().out  # printed its table
    if script == "bench_precision":  # both precisions did the same work on the same weights
        losses = [results["disc"][p]["loss"][0] for p in ("fp32", "bf16")]
        assert losses[1] == pytest.approx(losses[0], rel=0.01)
    elif script == "bench_malloc":  # the kept memory really is reused: the steps stop faulting pages in
        faults = results["d_bf16"]["median"]
        assert faults["kept"]["faults"] < faults["default"]["faults"] / 10
    elif script == "bench_compile":  # both paths trained the same steps from the same weights
        losses = results["mle_step"]["loss"]
        assert losses["compiled"] == pytest.approx(losses["eager"], rel=1e-4)
    elif script == "bench_blocks":  # each kernel timed at the value in use and another, which is restored after
        import seqgan.kernels.sampling as sampling

        for kernel in ("sample", "score", "loss", "mle"):
            assert len(results[kernel]["seconds"]) == 2 and results[kernel]["in_use"] in results[kernel]["seconds"]
        assert sampling.SAMPLE_BLOCK_ROWS == results["sample"]["in_use"]
    elif script == "bench_dstep":  # the parts add up to the step; the floor is Adam plus the four casts
        for split in results["split"].values():
            assert split["step"] == pytest.approx(sum(v for k, v in split.items() if k != "step"))
        traffic = results["weight_traffic"]
        assert traffic["per step"] == pytest.approx(traffic["Adam"] + 2 * traffic["weight cast, after a step"]
                                                    + 2 * traffic["gradient cast, after a step"])
    else:
        assert results["protocol_s"] > 0



def test_paper_protocol_report_reads_a_run_in_progress_and_a_finished_one(tiny_cfg, tmp_path, monkeypatch):
    import paper_protocol_report
    from paper_protocol_report import report

    from seqgan.run import train
    from tests.runs import Crash

    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):  # killed after 3 of the tiny preset's 4 rounds (checkpointed at 2)
        train(tiny_cfg, run, callbacks=Crash("adversarial", 3))
    text = report(run, tmp_path / "partial")
    assert "(in progress)" in text and "phase `adversarial`, 2 units" in text
    assert re.search(r"Recent pace: [0-9.]+ min a round \(rounds 0–2; .*the 1 rounds left take about", text)
    assert "    code: seqgan " in text  # each start's code, from train.log
    assert "| MLE pretraining | 4 | 4 |" in text and "| D pretraining | 2 | 2 |" in text and "| adversarial | 2 | 4 |" in text
    assert "NLL_oracle, last evaluation" in text and "8.736" in text  # beside the paper's figure
    train(tiny_cfg, run, resume=True)
    monkeypatch.setattr(paper_protocol_report, "AUTHORS_LOG_ROUND", 2)  # the tiny run's stand-in for round 150
    text = report(run, tmp_path / "done")
    assert "(in progress)" not in text and "**Finished:** every phase" in text and "| adversarial | 4 | 4 |" in text
    assert "D_φ at the last checkpoint (the run's end)" in text and "Recent pace" not in text
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    at_2 = next(r for r in records if r["phase"] == "adversarial" and r["epoch"] == 2)
    assert f"| NLL_oracle at the authors' log's point | {at_2['nll_oracle']:.3f} | round 2 | 8.68" in text
    # the learning signal: D's accuracy and the mean reward beside the NLLs, every 10 rounds and the last
    signal = [line for line in text.splitlines() if re.match(r"\| \d+ \| ", line)]
    assert [line.split(" | ")[0] for line in signal] == ["| 0", "| 3"]
    last = records[-1]
    assert signal[-1] == (f"| 3 | {last['nll_oracle']:.3f} | {last['nll_test']:.3f} | {last['rewards/mean_q']:.2e} | "
                          f"{last['d/train_accuracy']:.4f} | {last['losses/d']:.2e} | {last['d/p_real_training']:.3f} | "
                          f"{last['d/p_real_heldout']:.3f} | {last['d/p_real_generated']:.2e} |")
    # D_φ of the last checkpoint scored afresh: the same real sequences as the last evaluation, so the same figures
    assert f"| real, the ones it trains on | {last['d/p_real_training']:.4f} |" in text
    assert f"| real, a held-out draw of the oracle | {last['d/p_real_heldout']:.4f} |" in text
    assert "| G_θ's samples | " in text
    # where the wall time went: the three spans add up to the records' clock at the last evaluation
    spans = [float(h) for h in re.findall(r"^\| (?:MLE pretraining|D pretraining and|adversarial rounds 1–3).*\| "
                                          r"([0-9.]+) h \|$", text, flags=re.M)]
    assert len(spans) == 3 and all(s >= 0 for s in spans)
    total = float(re.search(r"^\| total to round 3 \| ([0-9.]+) h \|$", text, flags=re.M).group(1))
    assert abs(sum(spans) - total) <= 0.011 and abs(total - last["time_s"] / 3600) <= 0.005
    for name in ("README.md", "figure2.png", "nll_test.png", "metrics.jsonl", "summary.json"):
        assert (tmp_path / "done" / name).is_file()
    assert not (tmp_path / "partial" / "summary.json").exists()  # the run writes it when it finishes


def test_bench_peer_without_a_checkout_of_the_peer_says_what_to_do(tmp_path):
    # The peer's code is never copied here; the script imports it from a checkout the user names.
    import bench_peer

    with pytest.raises(SystemExit, match="not a TextGAN-PyTorch checkout.*--peer"):
        bench_peer.main(["--peer", str(tmp_path), "--quick"])
