"""Several processes through PyTorch's own engine: `torchrun --nproc_per_node=N -m seqgan train ...`.

Every rank builds the same models and data from the run seed. G_θ and D_φ train under
DistributedDataParallel: each MLE and D batch is split across ranks (the MLE order is rank 0's
permutation, broadcast, so MLE pretraining follows the single-process run with the same global batch),
each rank samples its share of the policy-gradient batch and of the D negatives and computes their
rollouts, and the averaged gradients give every rank the same update. Rank 0 evaluates, logs and
writes checkpoints (with every rank's RNG state, so a resumed run continues exactly).

Rank 0 keeps the single-process random stream; rank r > 0 reseeds with `seed + r · RANK_SEED_STRIDE`
after the models are built, so ranks draw different samples.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

RANK_SEED_STRIDE = 1_000_003


@dataclass(frozen=True)
class Distributed:
    """This process's place among the ranks (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    def share(self, total: int, what: str) -> int:
        """This rank's part of `total` items; they must split evenly so the global batch stays the same."""
        if total % self.world:
            from seqgan.errors import ConfigError

            raise ConfigError(f"{what} = {total} does not split evenly over {self.world} processes; "
                              f"use a multiple of {self.world}")
        return total // self.world

    def broadcast_(self, tensor: torch.Tensor) -> torch.Tensor:
        """Rank 0's values in place on every rank."""
        if self.enabled:
            dist.broadcast(tensor, src=0)
        return tensor

    def gather(self, obj: Any) -> list[Any]:
        """One object from every rank, in rank order (on every rank)."""
        if not self.enabled:
            return [obj]
        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


def from_env() -> Distributed:
    """Join the process group torchrun describes in the environment (gloo on CPU, NCCL on CUDA)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Distributed()
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and os.environ.get("SEQGAN_BACKEND") != "gloo" else "gloo"
        dist.init_process_group(backend)
    return Distributed(dist.get_rank(), dist.get_world_size())


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


class LossModule(nn.Module):
    """Runs a loss function of `module` as this module's forward, so DistributedDataParallel sees the
    forward pass it needs to average the gradients of the backward that follows."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(self.module, *args)


def loss_runner(module: nn.Module, ctx: Distributed) -> Callable[..., Any]:
    """`run(fn, *args)` computes `fn(module, *args)`; under several processes through DDP."""
    if not ctx.enabled:
        return lambda fn, *args: fn(module, *args)
    device_ids = [module_device(module).index] if module_device(module).type == "cuda" else None
    ddp = nn.parallel.DistributedDataParallel(LossModule(module), device_ids=device_ids)
    return lambda fn, *args: ddp(fn, *args)


def module_device(module: nn.Module) -> torch.device:
    return next(module.parameters()).device
