"""D_φ's training step (Eq. 5) replayed as a CUDA graph: on a GPU the paper protocol is ~1M small D steps.

The `paper` protocol trains D for 1,050 d-steps × 3 epochs × 313 batches of 64. On a GPU each step is a few
hundred small kernel launches (embedding, the window GEMMs per width, max-pool, highway, dropout, loss, backward,
fused Adam), so it is bound by launches and by the host, not by arithmetic. `GraphedDStep` records one whole step
— forward, backward, optimizer — once, and replays it per batch: one launch, no host work, no synchronisation
(the loss and the correct count accumulate on the device; `d_step` reads them once per d-step).

Everything the graph touches lives at fixed addresses: the batch is copied into static token and label buffers,
the gradients live in the graph's memory pool, and Adam runs with `capturable=True` for the runner's life (restored
afterwards, so checkpoints keep the optimizer's own settings). A runner lives for one d-step: loading a checkpoint
or anything else that replaces optimizer state between d-steps cannot leave a graph pointing at stale tensors.
Batches of another size (an epoch's last, ragged batch) run eagerly.

Off CUDA (and with `capture=False`) the runner runs the same step eagerly through the same static buffers: the
CPU tests check that path against the plain loop of `steps.d_step`, bit for bit. The capture itself has not run
here: no GPU was lent to the sessions that built it (`runtime.cuda_graphs` is off by default).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from seqgan.discriminator import Discriminator

WARMUP_STEPS = 3
"""Eager steps (real training steps, on a side stream) before the capture: cuBLAS/cuDNN workspaces and Adam's
state must exist before a graph can record the step."""


class GraphedDStep:
    """D_φ's training steps on batches of `batch_size` sequences of length `seq_len`, as one replayed CUDA graph.

    `step(tokens, labels)` trains on one batch; `loss_sum` and `correct` accumulate Σ loss·n and the correct count
    over the steps (device tensors: read them once, at the end). `close()` restores the optimizer's settings.
    """

    def __init__(self, discriminator: Discriminator, opt: torch.optim.Optimizer,
                 loss_fn: Callable[[Discriminator, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
                 batch_size: int, seq_len: int, device: torch.device, capture: bool = True):
        self.d = discriminator
        self.opt = opt
        self.loss_fn = loss_fn
        self.batch_size = batch_size
        self.capture = capture and device.type == "cuda"
        self.tokens_BxT = torch.zeros(batch_size, seq_len, dtype=torch.long, device=device)
        self.labels_B = torch.zeros(batch_size, dtype=torch.long, device=device)
        self.loss_sum = torch.zeros((), device=device)
        self.correct = torch.zeros((), dtype=torch.long, device=device)
        self.graph: torch.cuda.CUDAGraph | None = None
        self.steps = 0
        self._capturable = [group.get("capturable", False) for group in opt.param_groups]
        if self.capture:
            for group in opt.param_groups:
                group["capturable"] = True

    def _body(self) -> None:
        """One training step on the static batch, accumulating into the static totals (the graph's contents)."""
        loss, logits_Bx2 = self.loss_fn(self.d, self.tokens_BxT, self.labels_B)
        loss.backward()
        self.opt.step()
        self.loss_sum += loss.detach() * self.batch_size
        self.correct += (logits_Bx2.argmax(-1) == self.labels_B).sum()

    def step(self, tokens_BxT: torch.Tensor, labels_B: torch.Tensor) -> None:
        """Train on one batch of exactly `batch_size` sequences."""
        self.tokens_BxT.copy_(tokens_BxT)
        self.labels_B.copy_(labels_B)
        self.steps += 1
        if not self.capture:
            self.opt.zero_grad(set_to_none=True)
            self._body()
        elif self.graph is not None:
            self.graph.replay()
        elif self.steps <= WARMUP_STEPS:
            self._warmup_step()
        else:
            self._record()
            self.graph.replay()  # recording does not run the step: this is its first execution

    def _warmup_step(self) -> None:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            self.opt.zero_grad(set_to_none=True)
            self._body()
        torch.cuda.current_stream().wait_stream(side)

    def _record(self) -> None:
        # Gradients are None when recording starts, so backward allocates them in the graph's pool: every replay
        # writes them afresh at the same addresses, and the recorded optimizer step reads them there.
        self.opt.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self._body()

    def close(self) -> None:
        """Restore the optimizer's own `capturable` settings and drop the graph (and its memory pool)."""
        for group, capturable in zip(self.opt.param_groups, self._capturable):
            group["capturable"] = capturable
        self.graph = None
        if self.capture:
            self.opt.zero_grad(set_to_none=True)  # the graph's gradient tensors go with it
