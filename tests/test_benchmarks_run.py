"""The benchmark scripts still run against the library as it is (their --quick mode): a script broken by a refactor
would otherwise only show when someone needs its figures."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.mark.parametrize("script, argv", [
    ("bench_protocol", ["--quick", "--set", "runtime.precision='bf16'"]),
    ("bench_precision", ["--quick", "--threads", "1", "--d-sequences", "128"]),
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
    else:
        assert results["protocol_s"] > 0
