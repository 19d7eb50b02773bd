"""The steps every method is built from, as plain functions that train and return metrics.

Each takes the trainer (`seqgan.train.SeqGANTrainer`) for what a run shares — the models, the real
data, the optimisers, DDP and the NaN guard — and does one unit of work: an MLE epoch, a D_φ step on
fresh negatives, a policy-gradient update (Eq. 8).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import torch

from seqgan.cuda_graphs import GraphedDStep
from seqgan.data import drop_padding_columns
from seqgan.discriminator import Discriminator
from seqgan.policy_gradient import pg_loss

if TYPE_CHECKING:
    from seqgan.train import SeqGANTrainer


def adam(params: Iterable[torch.nn.Parameter], lr: float) -> torch.optim.Adam:
    """Adam with the fused kernel: one pass over all parameters instead of ~10 (D's optimizer step
    on 2 cores: 6.2 s → 1.6 s per 10,000 sequences)."""
    return torch.optim.Adam(params, lr=lr, fused=True)


def mle_epoch(trainer: SeqGANTrainer, opt: torch.optim.Optimizer) -> dict[str, float]:
    """One pass of teacher-forced maximum likelihood over the real data (full batches only)."""
    g = trainer.cfg.generator
    trainer.generator.train()
    order = trainer.shared_order(len(trainer.real_data))
    total = torch.zeros((), device=trainer.device)
    batches = len(order) // g.batch_size
    for i in range(batches):
        batch = drop_padding_columns(trainer.real_data[trainer.my_part(order, i, g.batch_size)], trainer.eos)
        loss = trainer.run_g(_nll, batch)
        trainer.update(opt, trainer.generator, loss, g.grad_clip)
        total += loss.detach()
    return {"losses/g_mle": trainer.finite(total.item() / max(1, batches), "MLE loss")}


def negatives_and_positives(trainer: SeqGANTrainer) -> tuple[torch.Tensor, torch.Tensor]:
    """Fresh samples of G_θ and as many real sequences (all of them when there are fewer): this rank's share. With
    oracle.fresh_positives the real ones are fresh oracle samples too."""
    num_negatives = trainer.cfg.train.num_negatives // trainer.dist.world
    negatives = trainer.generator.sample(num_negatives)
    if trainer.cfg.oracle.fresh_positives:
        return negatives, trainer.oracle.sample(num_negatives)
    real = trainer.real_data
    if num_negatives < len(real):  # keep the classes balanced, as the reference code's equal files
        real = real[torch.randperm(len(real), device=trainer.device)[:num_negatives]]
    return negatives, real


def d_step(trainer: SeqGANTrainer, epochs: int) -> dict[str, float]:
    """Train D_φ (Eq. 5) for `epochs` passes over real sequences and as many fresh samples of G_θ."""
    batch_size = trainer.cfg.discriminator.batch_size // trainer.dist.world  # this rank's
    negatives, real = negatives_and_positives(trainer)
    data = torch.cat([real, negatives])
    labels = torch.cat([torch.ones(len(real)), torch.zeros(len(negatives))]).long().to(trainer.device)
    trainer.discriminator.train()
    if trainer.graph_d_steps:  # full batches replayed as one CUDA graph (seqgan.cuda_graphs)
        graphed = GraphedDStep(trainer.discriminator, trainer.d_opt, _d_loss, batch_size, data.shape[1], trainer.device)
        total, correct = graphed.loss_sum, graphed.correct
    else:
        graphed = None
        total = torch.zeros((), device=trainer.device)
        correct = torch.zeros((), device=trainer.device)
    seen = 0
    try:
        for _ in range(epochs):
            order = torch.randperm(len(data), device=trainer.device)
            for lo in range(0, len(order), batch_size):
                idx = order[lo:lo + batch_size]
                seen += len(idx)
                if graphed is not None and len(idx) == batch_size:
                    graphed.step(data[idx], labels[idx])
                    continue
                loss, logits = trainer.run_d(_d_loss, data[idx], labels[idx])
                trainer.update(trainer.d_opt, trainer.discriminator, loss, None)
                total += loss.detach() * len(idx)
                correct += (logits.argmax(-1) == labels[idx]).sum()
    finally:
        if graphed is not None:
            graphed.close()
    return {"losses/d": trainer.finite(total.item() / seen, "discriminator loss"),
            "d/train_accuracy": correct.item() / seen}


def pg_step(trainer: SeqGANTrainer, opt: torch.optim.Optimizer, sequences_BxT: torch.Tensor,
            weights_BxT: torch.Tensor) -> dict[str, float]:
    """One policy-gradient update of G_θ (Eq. 8): −Σ weight · log G_θ over this rank's sequences."""
    # DDP averages gradients over ranks; the loss is a sum over the global batch, so scale back up.
    loss = trainer.run_g(pg_loss, sequences_BxT, weights_BxT) * trainer.dist.world
    trainer.update(opt, trainer.generator, loss, trainer.cfg.generator.grad_clip)
    return {"losses/g_pg": trainer.finite(loss.item(), "policy-gradient loss")}


def _nll(generator: torch.nn.Module, tokens_BxT: torch.Tensor) -> torch.Tensor:
    """G_θ's MLE loss, whatever its class (the LSTM policy, a method's own generator)."""
    return generator.nll(tokens_BxT)


def _d_loss(d: Discriminator, tokens_NxT: torch.Tensor, labels_N: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """D_φ's training loss and its logits (for the accuracy)."""
    logits_Nx2 = d(tokens_NxT)
    return d.loss_from_logits(logits_Nx2, labels_N), logits_Nx2
