"""Why three baseline rows of Table 1 (Random, Scheduled Sampling, PG-BLEU) differ from the paper at the `small`
preset: the measurements behind reports/baselines-small/README.md.

    OMP_NUM_THREADS=1 .venv/bin/python reports/baselines-small/analysis.py            # about 2 minutes on 1 core
    OMP_NUM_THREADS=1 .venv/bin/python reports/baselines-small/analysis.py --only-train --train-seeds 0,1,2
        (40-round PG-BLEU runs; --train-rewards project,reference,constant picks the rewards)

It reads the Table 1 run folders (runs/table1-methods/seed{0,1,2}/..., not committed: `seqgan reproduce table1
--preset small --seeds 3 --out runs/table1-methods` makes them) and their committed metrics
(reports/table1-methods-small/metrics_seed{S}_{row}.jsonl). `--train` (or `--only-train`) adds PG-BLEU runs of
40 rounds from seed S's shared pretraining with up to three rewards (about 2-6 minutes each on one busy core).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics as st
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from seqgan.config import preset  # noqa: E402
from seqgan.generator import Generator  # noqa: E402
from seqgan.methods.pg_bleu import PGBleuReward  # noqa: E402
from seqgan.oracle import Oracle, oracle_data  # noqa: E402
from seqgan.run import load_generator  # noqa: E402
from seqgan.scheduled_sampling import teacher_forcing_prob  # noqa: E402
from seqgan.train import SeqGANTrainer, build_oracle, load_checkpoint  # noqa: E402

RUNS = ROOT / "runs" / "table1-methods"
METRICS = ROOT / "reports" / "table1-methods-small"
SEEDS = (0, 1, 2)
N = 10_000  # sequences per NLL_oracle, as the runs' evaluations
REPEAT_TOKEN = 2068  # the token the collapsed PG-BLEU runs repeat


def records(seed: int, row: str) -> list[dict]:
    path = METRICS / f"metrics_seed{seed}_{row}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def mean_sd(values: list[float]) -> str:
    return f"{st.mean(values):.3f} ± {st.stdev(values):.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def nll_of_generator(oracle: Oracle, g: torch.nn.Module, seed: int, n: int = N) -> float:
    torch.manual_seed(seed)
    return oracle.nll_of(g.sample(n))


def header(title: str) -> None:
    print(f"\n=== {title} ===")


# ---- Random -------------------------------------------------------------------------------------------------------

def random_baseline(oracle: Oracle, real: torch.Tensor) -> None:
    header("Random: what scores 10.310?")
    rec = [records(s, "random")[-1]["nll_oracle"] for s in SEEDS]
    print(f"recorded Random rows (untrained G, N(0, 0.1) init): {[round(v, 3) for v in rec]}  mean {mean_sd(rec)}")
    print(f"ln V = ln 5000 = {math.log(5000):.3f} (NLL of a uniform model; the Random rows' NLL_test is this)")
    uniform = torch.randint(0, 5000, (N, 20), generator=torch.Generator().manual_seed(0))
    print(f"uniform tokens (each of 5000 with p 1/5000) under the oracle: {oracle.nll_of(uniform):.3f}")
    print(f"the oracle's own samples (the floor, its entropy rate): {oracle.nll_of(real):.3f}")
    counts = torch.bincount(real.flatten(), minlength=5000).double()
    unigram = torch.multinomial(counts / counts.sum(), N * 20, replacement=True,
                                generator=torch.Generator().manual_seed(1)).view(N, 20)
    print(f"unigram model of the training data (context-free token frequencies): {oracle.nll_of(unigram):.3f}")
    saved = [nll_of_generator(oracle, load_generator(RUNS / f"seed{s}" / "random"), 100 + s) for s in SEEDS]
    print(f"the Random runs' saved generators, re-sampled: {[round(v, 3) for v in saved]}")
    for what, make in [("N(0, 1) (the oracle's own init scale)", lambda: Generator(5000, init_std=1.0)),
                       ("PyTorch's default init", lambda: _torch_default())]:
        vals = []
        for s in SEEDS:
            torch.manual_seed(200 + s)
            vals.append(nll_of_generator(oracle, make(), 300 + s))
        print(f"untrained G, {what}: {[round(v, 3) for v in vals]}")
    print("other oracles (fresh N(0, 1) LSTMs of the paper's shape, as the authors' SS and PG-BLEU scripts built):")
    for s in range(3):
        other = Oracle.random(5000, seed=s)
        data = oracle_data(other, 5000, 88)
        c = torch.bincount(data.flatten(), minlength=5000).double()
        uni = torch.multinomial(c / c.sum(), 5000 * 20, replacement=True,
                                generator=torch.Generator().manual_seed(1)).view(5000, 20)
        print(f"  oracle seed {s}: own samples {other.nll_of(data):.3f}, uniform tokens "
              f"{other.nll_of(uniform[:5000]):.3f}, unigram {other.nll_of(uni):.3f}")
    print("MLE from the N(0, 0.1) init, batches of 64 in file order as the reference code (Adam, clip 5):")
    for lr in (1e-3, 1e-2):
        torch.manual_seed(0)
        g = Generator(5000)
        opt = torch.optim.Adam(g.parameters(), lr=lr)
        out = []
        for step in range(1, 313):
            i = (step - 1) % 156
            loss = g.nll(real[i * 64:(i + 1) * 64])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(g.parameters(), 5.0)
            opt.step()
            if step in (50, 156, 312):
                out.append(f"step {step}{' (1 epoch)' if step == 156 else ' (2 epochs)' if step == 312 else ''}: "
                           f"{nll_of_generator(oracle, g, 1):.3f}")
        note = "TF's default, what the authors' baseline scripts used" if lr == 1e-3 else "this project's and sequence_gan.py's"
        print(f"  lr {lr:g} ({note}): " + ", ".join(out))


def _torch_default() -> Generator:
    g = Generator(5000)
    for m in (g.embedding, g.lstm, g.output):
        m.reset_parameters()
    return g


# ---- PG-BLEU ------------------------------------------------------------------------------------------------------

def pg_bleu(oracle: Oracle, real: torch.Tensor, heldout: torch.Tensor) -> None:
    header("PG-BLEU: the reward of a token run against typical sequences")
    ends = [records(s, "pg_bleu")[-1] for s in SEEDS]
    for s, r in zip(SEEDS, ends):
        print(f"recorded seed {s}: NLL_oracle {r['nll_oracle']:.3f}, distinct {r['health/distinct']:.3f}, "
              f"most repeated sample {r['health/top_repeat']:.1%} of all")
    final = [list(map(int, line.split())) for line in
             (RUNS / "seed0" / "pg_bleu" / "samples" / "final.txt").read_text().splitlines()]
    share = sum(row.count(REPEAT_TOKEN) for row in final) / sum(len(row) for row in final)
    print(f"seed 0's final samples: {share:.0%} of all tokens are {REPEAT_TOKEN}; e.g. {final[3]}")
    run = torch.full((1, 20), REPEAT_TOKEN)
    print(f"NLL under the oracle of 20 × {REPEAT_TOKEN}: {oracle.nll_of(run):.3f} per token "
          f"(the oracle's own samples: {oracle.nll_of(real):.3f})")
    longest = max(_longest_run(row, REPEAT_TOKEN) for row in real.tolist())
    most = max(row.count(REPEAT_TOKEN) for row in real.tolist())
    print(f"in the training data: longest run of {REPEAT_TOKEN} {longest}, most {REPEAT_TOKEN}s in one sequence {most}")
    pretrained = load_generator(RUNS / "seed0" / "pretrain")
    torch.manual_seed(0)
    g_pre = pretrained.sample(1000)
    torch.manual_seed(1)
    print(f"G after pretraining (seed 0): NLL of its own samples (its entropy rate) "
          f"{pretrained.nll_of(pretrained.sample(N)):.3f}")
    sets = {"G after pretraining": g_pre, "held-out oracle": heldout[:1000], "training seqs": real[:1000],
            "collapsed PG-BLEU (seed 0)": torch.tensor(final[:1000])}
    variants = [("project: BLEU-4, method1, all 10,000", 4, "method1", 1.0),
                ("reference code: BLEU-3, nltk3.2, 40%", 3, "nltk3.2", 0.4),
                ("BLEU-3, method1, 40%", 3, "method1", 0.4),
                ("BLEU-3, method1, all", 3, "method1", 1.0),
                ("BLEU-4, nltk3.2, all", 4, "nltk3.2", 1.0),
                ("BLEU-2, method1, all", 2, "method1", 1.0)]
    print(f"mean ± sd of the reward over 1000 sequences; [share scoring above 20 × {REPEAT_TOKEN}]")
    g_nll = oracle.token_nll(g_pre).mean(1)
    for name, n, smoothing, fraction in variants:
        reward = PGBleuReward(real, n, None, smoothing, fraction)
        r_run = reward(run).item()
        cells = []
        for label, seqs in sets.items():
            v = reward(seqs)
            cells.append(f"{label} {v.mean():.3f} ± {v.std():.3f} [{(v > r_run).double().mean():.0%}]")
        r_g = reward(g_pre)
        rho = _spearman(r_g, -g_nll)
        print(f"{name:38s} run {r_run:.3f} | " + " | ".join(cells) + f" | Spearman(reward, oracle log-lik) on G {rho:+.2f}")
    authors = PGBleuReward(real, 3, None, "nltk3.2", 0.4)
    counts = [authors.scorer.clipped_counts(s, 3) for s in g_pre.tolist()]
    v = authors(g_pre)
    no_bigram = [i for i, c in enumerate(counts) if c[1] == 0]
    print(f"reference-code reward on G's samples: {sum(1 for c in counts if c[2] == 0) / 10:.1f}% have no 3-gram match "
          f"(that order is left out), {len(no_bigram) / 10:.1f}% no 2-gram match; {(v == 1).double().mean():.1%} "
          f"score the maximum 1.0; of these, {sum(1 for i in no_bigram if v[i] == 1) / 10:.1f}% (of all) match every "
          f"unigram and no bigram")


def _longest_run(row: list[int], token: int) -> int:
    best = cur = 0
    for t in row:
        cur = cur + 1 if t == token else 0
        best = max(best, cur)
    return best


def _spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    ra = a.double().argsort().argsort().double()
    rb = b.double().argsort().argsort().double()
    return torch.corrcoef(torch.stack([ra, rb]))[0, 1].item()


def train_pg_bleu(seeds: list[int], rewards: list[str]) -> None:
    header("PG-BLEU: 40 rounds from the shared pretraining")

    class Constant:
        def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
            return torch.full((len(tokens),), 0.53, dtype=torch.float64)

    for seed in seeds:
        for key, name, settings in [("project", "project's reward", []),
                                    ("reference", "reference code's reward",
                                     ["pg_bleu.n=3", "pg_bleu.smoothing='nltk3.2'", "pg_bleu.reference_fraction=0.4"]),
                                    ("constant", "constant reward 0.53", [])]:
            if key not in rewards:
                continue
            cfg = preset("small").override([f"seed={seed}", "train.method='pg_bleu'", *settings])
            trainer = SeqGANTrainer(cfg)
            trainer.start_from_pretrained(load_checkpoint(RUNS / f"seed{seed}" / "pretrain" / "checkpoints" / "latest.pt"))
            if name.startswith("constant"):
                trainer.method._reward = Constant()
            start = time.time()
            recs = [r for r in trainer.fit() if r["phase"] == "baseline"]
            curve = ", ".join(f"{r['epoch']}: {r['nll_oracle']:.3f}" for r in recs)
            end = recs[-1]
            torch.manual_seed(600 + seed)
            entropy = trainer.generator.nll_of(trainer.generator.sample(N))
            print(f"seed {seed}, {name}: NLL_oracle by round {curve}; at the end NLL_test {end['nll_test']:.3f}, "
                  f"G's NLL of its own samples {entropy:.3f}, distinct {end['health/distinct']:.3f}, top repeat "
                  f"{end['health/top_repeat']:.2%} ({time.time() - start:.0f} s)")


# ---- Scheduled Sampling -----------------------------------------------------------------------------------------

def scheduled_sampling(oracle: Oracle) -> None:
    header("Scheduled Sampling: the schedule and its effect")
    cfg = preset("small")
    s = cfg.methods["ss"]
    batches = cfg.oracle.num_train // cfg.generator.batch_size
    rounds = cfg.train.adversarial_rounds
    total = rounds * batches
    probe = [0, 5, 10, 20, 30, 39]
    probs = [teacher_forcing_prob(r * batches, total, s.schedule, s.k, s.floor) for r in probe]
    last = teacher_forcing_prob(total - 1, total, s.schedule, s.k, s.floor)
    print(f"ours: {s.schedule}, k = {s.k:g}, floor {s.floor}, {batches} steps per round, {total} steps in all")
    print("  teacher-forcing probability at the start of round " +
          ", ".join(f"{r}: {p:.3f}" for r, p in zip(probe, probs)) + f"; last step {last:.3f}")
    floor_step = s.k * math.log(s.k * (1 - s.floor) / s.floor) if s.floor > 0 else float("inf")
    print(f"  the floor {s.floor} would be reached at step {floor_step:,.0f} (round {floor_step / batches:.1f}): never "
          f"within {rounds} rounds; mean probability over the phase "
          f"{st.mean(teacher_forcing_prob(i, total, s.schedule, s.k, s.floor) for i in range(total)):.3f}")
    coin = random.Random(88).random()
    first = next((e for e in range(10_000) if coin >= max(0.0, 1.0 - 0.002 * (e + 1))), None)
    print(f"reference code (schedule_sampling/model.py): one coin tf.constant(random.random()) = {coin:.4f} for the "
          f"whole run (drawn once when the graph is built, after random.seed(88)); true tokens are fed wherever "
          f"coin < curriculum_rate = 1 - 0.002·(epoch + 1), own samples everywhere otherwise: first own sample at "
          f"epoch {first}, after the script's 300 epochs, so its SS trained as plain teacher-forced MLE")
    for seed in SEEDS:
        ss = [r for r in records(seed, "ss") if r["phase"] == "baseline"]
        mle = [r for r in records(seed, "mle") if r["phase"] == "baseline"]
        print(f"seed {seed}: round " + ", ".join(
            f"{a['epoch']}: SS {a['nll_oracle']:.3f} (ε {a.get('ss/teacher_prob', 1.0):.2f}) / MLE {b['nll_oracle']:.3f}"
            for a, b in zip(ss, mle) if a["epoch"] in (0, 10, 20, 30, 39)))
    ent = {"ss": [], "mle": []}
    test = {"ss": [], "mle": []}
    for seed in SEEDS:
        for row in ("ss", "mle"):
            g = load_generator(RUNS / f"seed{seed}" / row)
            torch.manual_seed(400 + seed)
            own = g.sample(N)
            ent[row].append(g.nll_of(own))
            test[row].append(records(seed, row)[-1]["nll_test"])
    for row in ("mle", "ss"):
        print(f"{row.upper():3s} after 40 rounds: G's NLL of its own samples (its entropy rate) {mean_sd(ent[row])}, "
              f"NLL_test {mean_sd(test[row])}")
    g = load_generator(RUNS / "seed0" / "mle")
    draws = [nll_of_generator(oracle, g, 500 + i) for i in range(5)]
    print(f"noise of one NLL_oracle evaluation (MLE seed 0, 5 draws of {N:,}): sd {st.stdev(draws):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", action="store_true", help="also run 40-round PG-BLEU with three rewards")
    parser.add_argument("--train-seeds", default="0", help="seeds of --train, e.g. 0,1,2")
    parser.add_argument("--train-rewards", default="project,reference,constant",
                        help="rewards of --train: project (BLEU-4, method1, all), reference (the reference code's), "
                             "constant (0.53 for every sequence, a control)")
    parser.add_argument("--only-train", action="store_true", help="skip the measurements, run only --train")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.time()
    oracle = build_oracle(preset("small"))
    real = oracle_data(oracle, 10_000, 88)  # the runs' training data (oracle.seed 88)
    heldout = oracle_data(oracle, N, 12345)
    if not args.only_train:
        random_baseline(oracle, real)
        pg_bleu(oracle, real, heldout)
        scheduled_sampling(oracle)
    if args.train or args.only_train:
        train_pg_bleu([int(s) for s in args.train_seeds.split(",")], args.train_rewards.split(","))
    print(f"\n({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
