"""G_β and the Monte Carlo estimate of Q(s, a) (Eq. 4).

For a sampled sequence Y_1:T and every prefix length t < T, `rollout_num` continuations Y_t+1:T are
drawn from the rollout policy G_β and scored by the reward function (D_φ); Q at step t is their mean
reward, and Q at t = T is the reward of Y itself.

`Rollout.rewards` does this batched: one pass of G_β over Y gives the state after every prefix, and
then all prefixes and all rollouts advance together, one position at a time. Rows are ordered by
prefix length, so at position p the rows still generating (prefix length < p) are one contiguous
slice: no prefix is re-run and nothing is computed for rows that are already complete.
`naive_rewards` is the plain per-rollout, per-prefix loop of the reference code, kept as the
reference that tests and benchmarks compare against.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch

from seqgan.data import lengths, valid_mask
from seqgan.generator import LSTMPolicy
from seqgan.kernels.sampling import cdf_chunk, sample_block_rows, sample_from_hidden, sample_from_logits

RewardFn = Callable[[torch.Tensor], torch.Tensor]
"""Maps complete sequences (N, T) to rewards (N,): D_φ's probability of real, BLEU, ...

A reward may also have `of_rollouts(sequences_BxT, rollouts_RxT, seq_R, prefix_R) -> (R,)`, the same
rewards for rollouts known to keep the first prefix_R[r] tokens of sequences_BxT[seq_R[r]];
`batched_rewards` then calls it instead (seqgan.discriminator.DiscriminatorReward shares D's
convolution windows inside each prefix)."""


class Rollout:
    """G_β: a delayed copy of G_θ used only to complete partial sequences."""

    def __init__(self, generator: LSTMPolicy, update_rate: float = 0.8):
        if not 0.0 <= update_rate <= 1.0:
            raise ValueError(f"update_rate must be in [0, 1], got {update_rate}")
        self.update_rate = update_rate
        self.policy = copy.deepcopy(generator).requires_grad_(False)

    @torch.no_grad()
    def update(self, generator: LSTMPolicy) -> None:
        """β ← r·β + (1 − r)·θ. (The reference code builds this op but never runs it; here it takes effect.)"""
        for beta, theta in zip(self.policy.parameters(), generator.parameters()):
            beta.mul_(self.update_rate).add_(theta.detach(), alpha=1.0 - self.update_rate)

    def rewards(self, sequences_BxT: torch.Tensor, reward_fn: RewardFn, rollout_num: int,
                uniforms: torch.Tensor | None = None, memory_budget_mb: float = 1024) -> torch.Tensor:
        """Q(Y_1:t−1, y_t) for every t: (B, T). See `batched_rewards`."""
        return batched_rewards(self.policy, sequences_BxT, reward_fn, rollout_num, uniforms, memory_budget_mb)


def rollout_uniforms(batch: int, seq_len: int, rollout_num: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Random draws for a whole reward pass: (N, T−1, B, T); entry [n, t−1, b, p−1] draws position p
    of rollout n from prefix length t of sequence b (only p > t are used)."""
    return torch.rand(rollout_num, seq_len - 1, batch, seq_len, device=device)


def reward_pass_bytes(policy: LSTMPolicy, batch: int, seq_len: int) -> tuple[int, int]:
    """Working memory of `batched_rewards`: (fixed bytes, bytes per seed), for sizing its chunks.

    Per row (T−1 per seed, all alive at the last position): its sequence and the copy scored, the
    LSTM state and the step's temporaries (~17 H floats with the copies `cat` makes), and the
    sampler's per-row level of the two-level inverse CDF. Fixed: the sampler's block of logits, the
    input and output tables, and the states of the pass over Y. The reward function's own working
    memory is not counted (D scores in fixed-size chunks).
    """
    H = policy.hidden_dim
    V = policy.vocab_size
    T = seq_len
    word = 4  # bytes per float32
    width = cdf_chunk(V)
    chunks = -(-V // width)
    per_row = 2 * T * 8 + 17 * H * word + (H + 1) * word + (3 * chunks + 2 * width) * word + width + 64
    fixed = (sample_block_rows(policy.output.weight.device) * V + V * (4 * H + H + 1) + 2 * batch * T * H) * word
    return fixed, (T - 1) * per_row


@torch.no_grad()
def batched_rewards(policy: LSTMPolicy, sequences_BxT: torch.Tensor, reward_fn: RewardFn, rollout_num: int,
                    uniforms: torch.Tensor | None = None, memory_budget_mb: float = 1024) -> torch.Tensor:
    """Monte Carlo Q for every prefix of every sequence, all prefixes and rollouts at once: (B, T).

    With an end token, a prefix that already holds Y's end needs no rollout (Q = D(Y) there and after),
    and a rollout that samples the end token leaves the batch, padded from there on.
    """
    B, T = sequences_BxT.shape
    device = sequences_BxT.device
    eos = policy.eos_token
    pad = policy.pad_token
    len_B = lengths(sequences_BxT, eos)  # T when there is no end token
    h_BxTxH, c_BxTxH = policy.states(sequences_BxT)  # s_1..s_T; s_{t+1} has consumed the prefix y_1..y_t
    table = policy.input_table()
    w_aug = policy.output_aug()

    # A "seed" is one (rollout n, sequence b) pair, m = n·B + b. Seeds are processed in chunks whose
    # rows ((T−1) per seed) fit the memory budget together with the pass's fixed buffers.
    seeds = rollout_num * B
    fixed, per_seed = reward_pass_bytes(policy, B, T)
    chunk = max(1, min(seeds, int((memory_budget_mb * 2**20 - fixed) // per_seed)))
    q_sum_BxTm1 = torch.zeros(B, T - 1, dtype=torch.float64, device=device)
    of_rollouts = getattr(reward_fn, "of_rollouts", None)  # a reward that can share work across a prefix's rollouts

    for m0 in range(0, seeds, chunk):
        m_M = torch.arange(m0, min(seeds, m0 + chunk), device=device)
        M = len(m_M)
        n_M, b_M = m_M // B, m_M % B
        # Row r = (t−1)·M + i continues sequence b_M[i] from prefix length t (P = T−1 prefix lengths).
        seqs_RxT = sequences_BxT[b_M].unsqueeze(0).repeat(T - 1, 1, 1).view(-1, T)
        needed_R = (torch.arange(1, T, device=device).repeat_interleave(M) < len_B[b_M].repeat(T - 1))
        # The rows still generating, their states, in the order they joined (by prefix length, then i).
        alive_A = torch.empty(0, dtype=torch.long, device=device)
        h = h_BxTxH.new_empty(0, policy.hidden_dim)
        c = torch.empty_like(h)
        for p in range(2, T + 1):  # 1-based position being drawn
            # Prefix length t = p − 1 joins now, starting from s_p (after consuming y_1..y_{p−1}).
            join_J = torch.nonzero(len_B[b_M] > p - 1).squeeze(1)
            alive_A = torch.cat([alive_A, (p - 2) * M + join_J])
            h = torch.cat([h, h_BxTxH[b_M[join_J], p - 1]])
            c = torch.cat([c, c_BxTxH[b_M[join_J], p - 1]])
            if len(alive_A) == 0:
                continue
            i_A, t_A = alive_A % M, alive_A // M + 1
            if uniforms is None:
                u_A = torch.rand(len(alive_A), device=device)
            else:
                u_A = uniforms[n_M[i_A], t_A - 1, b_M[i_A], p - 1]
            tokens_A = sample_from_hidden(h, w_aug, u_A)
            seqs_RxT[alive_A, p - 1] = tokens_A
            if eos is not None:
                ended = tokens_A == eos
                if bool(ended.any()):
                    seqs_RxT[alive_A[ended], p:] = pad
                    going = ~ended
                    alive_A, tokens_A, h, c = alive_A[going], tokens_A[going], h[going], c[going]
            if p < T and len(alive_A):
                h, c = policy.step(table, tokens_A, h, c)
        rows_K = torch.nonzero(needed_R).squeeze(1)
        if len(rows_K):
            i_K, t_K = rows_K % M, rows_K // M + 1
            if of_rollouts is not None:  # rows K keep the first t_K tokens of sequence b_M[i_K]
                rewards_K = of_rollouts(sequences_BxT, seqs_RxT[rows_K], b_M[i_K], t_K).to(torch.float64)
            else:
                rewards_K = reward_fn(seqs_RxT[rows_K]).to(torch.float64)
            q_sum_BxTm1.index_put_((b_M[i_K], t_K - 1), rewards_K, accumulate=True)

    q_BxT = torch.empty(B, T, dtype=torch.float64, device=device)
    q_BxT[:, :T - 1] = q_sum_BxTm1 / rollout_num
    # The complete sequence: D(Y), scored once, is Q at its last position and after (nothing to roll out).
    done_BxT = torch.arange(1, T + 1, device=device) >= len_B[:, None]
    q_BxT[done_BxT] = reward_fn(sequences_BxT).to(torch.float64)[:, None].expand(B, T)[done_BxT]
    return q_BxT.to(h_BxTxH.dtype)


@torch.no_grad()
def naive_rewards(policy: LSTMPolicy, sequences_BxT: torch.Tensor, reward_fn: RewardFn, rollout_num: int,
                  uniforms: torch.Tensor | None = None) -> torch.Tensor:
    """The reference code's loop: for each rollout, for each prefix, re-run the prefix, sample the rest
    token by token and score the batch. Without `uniforms` it samples with `torch.multinomial` as the
    popular implementations do. Reference for tests and benchmarks only: (B, T)."""
    B, T = sequences_BxT.shape
    q_BxT = torch.zeros(B, T, dtype=torch.float64, device=sequences_BxT.device)
    table = policy.input_table()
    eos = policy.eos_token
    pad = policy.pad_token
    for n in range(rollout_num):
        for t in range(1, T):
            h, c = policy.zero_state(B)
            tokens_B = torch.full((B,), policy.start_token, dtype=torch.long, device=sequences_BxT.device)
            completed_BxT = sequences_BxT.clone()
            prefix_mask = valid_mask(sequences_BxT[:, :t], eos)
            # A prefix that already holds the end token is complete: nothing is sampled after it.
            ended_B = torch.zeros(B, dtype=torch.bool) if prefix_mask is None else ~prefix_mask.all(1) | (
                sequences_BxT[:, t - 1] == eos)
            for p in range(1, T + 1):
                h, c = policy.step(table, tokens_B, h, c)
                if p <= t:
                    tokens_B = sequences_BxT[:, p - 1]  # teacher-force the given prefix
                    continue
                logits_BxV = policy.output(h)
                if uniforms is None:
                    tokens_B = torch.multinomial(torch.softmax(logits_BxV, dim=-1), 1).squeeze(1)
                else:
                    tokens_B = sample_from_logits(logits_BxV, uniforms[n, t - 1, :, p - 1])
                completed_BxT[:, p - 1] = torch.where(ended_B, pad, tokens_B)
                if eos is not None:
                    ended_B = ended_B | (tokens_B == eos)
            q_BxT[:, t - 1] += reward_fn(completed_BxT).to(torch.float64)
        q_BxT[:, T - 1] += reward_fn(sequences_BxT).to(torch.float64)
    return (q_BxT / rollout_num).to(policy.output.weight.dtype)
