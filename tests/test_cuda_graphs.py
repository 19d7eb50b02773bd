"""runtime.cuda_graphs: D_φ's training step through static buffers (a CUDA graph on a GPU) against the plain loop."""

import pytest
import torch

from seqgan import cuda_graphs, steps
from seqgan.train import SeqGANTrainer

# 256 sequences (128 real + 128 negatives) in batches of 48: five full batches and a ragged one of 16 per epoch,
# so both the static path and the eager path for other sizes run.
OVERRIDES = ["discriminator.batch_size=48", "train.num_negatives=128"]


class CountingStep(cuda_graphs.GraphedDStep):
    made: list["CountingStep"] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        CountingStep.made.append(self)


def _d_step(cfg, graphed: bool, device: str = "cpu") -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    trainer = SeqGANTrainer(cfg.override([*OVERRIDES, f"runtime.device={device!r}"]))
    trainer.graph_d_steps = graphed  # on CPU the runner's stand-in: the same step, eagerly, through its buffers
    metrics = steps.d_step(trainer, epochs=2)
    return metrics, {k: v.detach().clone() for k, v in trainer.discriminator.state_dict().items()}


def test_static_buffer_d_step_equals_the_plain_loop_bit_for_bit(tiny_cfg, monkeypatch):
    monkeypatch.setattr(steps, "GraphedDStep", CountingStep)
    CountingStep.made.clear()
    plain_metrics, plain_state = _d_step(tiny_cfg, graphed=False)
    assert not CountingStep.made
    graphed_metrics, graphed_state = _d_step(tiny_cfg, graphed=True)
    (runner,) = CountingStep.made
    assert runner.steps == 2 * 5 and not runner.capture  # the full batches went through it; no graph on CPU
    assert graphed_metrics == plain_metrics
    for key, value in plain_state.items():
        assert torch.equal(value, graphed_state[key]), key
    torch.manual_seed(0)
    initial = SeqGANTrainer(tiny_cfg.override(OVERRIDES)).discriminator.state_dict()
    assert all(not torch.equal(initial[k], plain_state[k]) for k in ("highway_h.weight", "out.weight"))  # it trained


def test_the_runner_leaves_the_optimizer_as_it_found_it_off_cuda(tiny_cfg):
    trainer = SeqGANTrainer(tiny_cfg)
    groups = [dict(g) for g in trainer.d_opt.param_groups]
    runner = cuda_graphs.GraphedDStep(trainer.discriminator, trainer.d_opt, steps._d_loss, 4, 8, torch.device("cpu"))
    assert not runner.capture and runner.graph is None
    runner.step(torch.randint(0, 50, (4, 8)), torch.tensor([0, 1, 0, 1]))
    runner.close()
    assert [{k: v for k, v in g.items() if k != "params"} for g in trainer.d_opt.param_groups] == \
        [{k: v for k, v in g.items() if k != "params"} for g in groups]
    assert runner.loss_sum.item() > 0 and 0 <= runner.correct.item() <= 4


def test_cuda_graphs_are_ignored_with_a_warning_off_cuda(tiny_cfg, caplog):
    with caplog.at_level("WARNING", logger="seqgan.train"):
        trainer = SeqGANTrainer(tiny_cfg.override(["runtime.cuda_graphs=true", "runtime.device='cpu'"]))
    assert not trainer.graph_d_steps
    assert "runtime.cuda_graphs is ignored" in caplog.text
    assert not SeqGANTrainer(tiny_cfg).graph_d_steps  # off by default


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (the GPU check)")
def test_captured_d_step_trains_as_the_eager_loop_on_cuda(tiny_cfg):
    # Replays run the recorded kernels; only the atomics of the embedding's backward may round apart.
    plain_metrics, plain_state = _d_step(tiny_cfg, graphed=False, device="cuda")
    graphed_metrics, graphed_state = _d_step(tiny_cfg, graphed=True, device="cuda")
    assert graphed_metrics["d/train_accuracy"] == pytest.approx(plain_metrics["d/train_accuracy"], abs=0.02)
    assert graphed_metrics["losses/d"] == pytest.approx(plain_metrics["losses/d"], rel=1e-4)
    for key, value in plain_state.items():
        assert torch.allclose(value, graphed_state[key], rtol=1e-4, atol=1e-5), key
