"""Typed configuration: defaults are the paper's (and its reference code's), presets scale them down.

Every field carries a one-line docstring (the string under it); `seqgan train --help-config`
prints them. Validation happens in `__post_init__` so a bad value fails before any work starts.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomllib

from seqgan.errors import ConfigError


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _positive(section: str, **values: float) -> None:
    for name, value in values.items():
        _check(value > 0 and math.isfinite(value),
               f"{section}.{name} must be a finite number > 0, got {value!r}; set e.g. --set {section}.{name}=1")


def _non_negative(section: str, **values: float) -> None:
    for name, value in values.items():
        _check(value >= 0 and math.isfinite(value), f"{section}.{name} must be a finite number >= 0, got {value!r}")


# The checks a method's config section uses in its own __post_init__ (seqgan/methods/*.py).
check = _check
positive = _positive
non_negative = _non_negative


@dataclass
class OracleConfig:
    """The synthetic oracle: a fixed LSTM that writes the training data and scores the generator."""

    source: str = "paper"
    """'paper' (the authors' oracle, vocab 5000) or 'random' (fresh N(0,1) parameters)."""
    vocab_size: int = 5000
    """Vocabulary of a random oracle (the paper oracle's is fixed at 5000)."""
    emb_dim: int = 32
    """Embedding width of a random oracle."""
    hidden_dim: int = 32
    """LSTM width of a random oracle."""
    seq_len: int = 20
    """Length T of every sequence."""
    seed: int = 88
    """Seed of a random oracle's parameters (independent of the run seed)."""
    num_train: int = 10_000
    """Oracle samples forming the real training data (the reference code's generate_num)."""
    num_eval: int = 10_000
    """Generator samples scored for NLL_oracle."""
    num_test: int = 10_000
    """Held-out oracle samples on which G_θ's own NLL (NLL_test, coverage) is measured; 0 skips it."""
    fresh_positives: bool = False
    """Give each discriminator step fresh oracle samples as its real sequences (train.num_negatives of them) instead of
    the fixed training data S. The oracle is an unlimited source of real data, so D_φ cannot memorise its positives
    (with S it does: `d/p_real_heldout` far below `d/p_real_training`). Not the paper's protocol, whose reference code
    trains D on one fixed file; G_θ's MLE data stays S."""

    def __post_init__(self) -> None:
        _check(self.source in ("paper", "random"), f"oracle.source must be 'paper' or 'random', got {self.source!r}")
        _positive("oracle", vocab_size=self.vocab_size, emb_dim=self.emb_dim, hidden_dim=self.hidden_dim,
                  num_train=self.num_train, num_eval=self.num_eval)
        _non_negative("oracle", num_test=self.num_test)
        _check(self.seq_len >= 2, f"oracle.seq_len must be >= 2 (a rollout needs a prefix), got {self.seq_len}")
        if self.source == "paper":
            _check((self.vocab_size, self.emb_dim, self.hidden_dim) == (5000, 32, 32),
                   "the paper oracle has vocab_size 5000, emb_dim 32, hidden_dim 32; "
                   "to change them use --set oracle.source=random")


DATA_SOURCES = ("oracle", "file", "poems", "coco", "emnlp", "nottingham", "speeches")


@dataclass
class DataConfig:
    """The real data: the synthetic oracle (the default), a user's text file or a bundled corpus."""

    source: str = "oracle"
    """'oracle' (the [oracle] section), 'file' (data.path) or a bundled corpus: 'poems', 'coco', 'emnlp', 'nottingham',
    'speeches'."""
    path: str = ""
    """Training text file, one sequence per line (UTF-8), for source 'file'."""
    test_path: str = ""
    """Held-out text file; empty holds out data.test_fraction of data.path."""
    tokenizer: str = "auto"
    """'word' (words, punctuation apart), 'char', 'space' (whitespace) or 'auto' (corpus default; 'word' for files)."""
    max_len: int = 0
    """Length T of every sequence, <eos> included; 0 is the longest training line + 1."""
    long_lines: str = "drop"
    """A line longer than max_len allows: 'drop' it, 'truncate' it (it then has no <eos>) or stop with an 'error'."""
    min_freq: int = 1
    """Tokens seen fewer times in the training split become <unk>."""
    max_vocab: int = 0
    """Largest vocabulary, the 4 special tokens included; 0 keeps every token."""
    test_fraction: float = 0.1
    """Share of data.path held out when there is no test file (a fixed permutation)."""
    num_eval: int = 1000
    """Generated sequences scored by BLEU against the test set at each evaluation."""

    def __post_init__(self) -> None:
        _check(self.source in DATA_SOURCES, f"data.source must be one of {', '.join(DATA_SOURCES)}, got {self.source!r}")
        _check(self.tokenizer in ("auto", "word", "char", "space"),
               f"data.tokenizer must be 'word', 'char', 'space' or 'auto', got {self.tokenizer!r}")
        _check(self.long_lines in ("drop", "truncate", "error"),
               f"data.long_lines must be 'drop', 'truncate' or 'error', got {self.long_lines!r}")
        _non_negative("data", max_len=self.max_len, max_vocab=self.max_vocab)
        _positive("data", min_freq=self.min_freq, num_eval=self.num_eval)
        _check(self.max_len == 0 or self.max_len >= 2, f"data.max_len must be 0 (automatic) or >= 2, got {self.max_len}")
        _check(self.max_vocab == 0 or self.max_vocab > 4, f"data.max_vocab must be 0 (no cap) or > 4, got {self.max_vocab}")
        _check(0 < self.test_fraction < 1, f"data.test_fraction must be in (0, 1), got {self.test_fraction}")
        _check(self.source != "file" or bool(self.path), "data.source is 'file' but data.path is empty; pass --data FILE")


@dataclass
class GeneratorConfig:
    """G_θ: the LSTM policy and its optimisers."""

    emb_dim: int = 32
    """Token embedding width."""
    hidden_dim: int = 32
    """LSTM hidden width."""
    init_std: float = 0.1
    """Standard deviation of the N(0, std) initialisation of every parameter (reference code)."""
    lr: float = 0.01
    """Adam learning rate for MLE pretraining."""
    pg_lr: float = 0.01
    """Adam learning rate of the adversarial phase (a fresh optimiser, as the reference code)."""
    grad_clip: float = 5.0
    """Global gradient-norm clip for both MLE and policy-gradient steps."""
    batch_size: int = 64
    """Sequences per MLE batch and per policy-gradient step."""

    def __post_init__(self) -> None:
        _positive("generator", emb_dim=self.emb_dim, hidden_dim=self.hidden_dim, init_std=self.init_std,
                  lr=self.lr, pg_lr=self.pg_lr, grad_clip=self.grad_clip, batch_size=self.batch_size)


@dataclass
class DiscriminatorConfig:
    """D_φ: the CNN of Kim (2014) with highway and dropout."""

    emb_dim: int = 64
    """Token embedding width."""
    filter_sizes: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20])
    """Convolution widths."""
    num_filters: list[int] = field(default_factory=lambda: [100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160])
    """Feature maps per width (same length as filter_sizes)."""
    dropout: float = 0.25
    """Dropout before the output layer (keep probability 0.75 in the reference code)."""
    l2_reg: float = 0.2
    """L2 penalty on the output layer (tf.nn.l2_loss, i.e. half the squared norm)."""
    lr: float = 1e-4
    """Adam learning rate."""
    batch_size: int = 64
    """Sequences per discriminator batch."""

    def __post_init__(self) -> None:
        _positive("discriminator", emb_dim=self.emb_dim, lr=self.lr, batch_size=self.batch_size)
        _non_negative("discriminator", l2_reg=self.l2_reg)
        _check(0 <= self.dropout < 1, f"discriminator.dropout must be in [0, 1), got {self.dropout}")
        _check(len(self.filter_sizes) > 0 and len(self.filter_sizes) == len(self.num_filters),
               f"discriminator.filter_sizes ({len(self.filter_sizes)} entries) and num_filters "
               f"({len(self.num_filters)} entries) must be non-empty lists of the same length")
        _check(all(w > 0 for w in self.filter_sizes) and all(n > 0 for n in self.num_filters),
               "discriminator.filter_sizes and num_filters must hold positive integers")


MAX_ROLLOUT_NUM = 10_000


@dataclass
class TrainConfig:
    """Algorithm 1: pretraining and the adversarial schedule, shared by every method."""

    pretrain_epochs: int = 120
    """MLE pretraining epochs of G_θ over the real data."""
    d_pretrain_steps: int = 50
    """Discriminator pretraining steps, each on fresh negatives (methods that train a discriminator)."""
    d_pretrain_epochs: int = 3
    """Epochs over real + fresh negatives per pretraining step."""
    adversarial_rounds: int = 200
    """Rounds of the method's training after pretraining (the reference code's TOTAL_BATCH)."""
    g_steps: int = 1
    """Policy-gradient steps of G_θ per round."""
    d_steps: int = 5
    """Discriminator steps per round, each on fresh negatives."""
    d_epochs: int = 3
    """k: epochs over real + negatives per d-step."""
    rollout_num: int = 16
    """Monte Carlo rollouts per prefix (N in Eq. 4)."""
    update_rate: float = 0.8
    """r in β ← r·β + (1−r)·θ after each round; 0 makes G_β = G_θ."""
    num_negatives: int = 10_000
    """Generated sequences per d-step (balanced against as many real ones)."""
    advantage: str = "none"
    """What multiplies log G_θ in the policy gradient, from the rewards Q (seqgan.rewards.ADVANTAGES): 'none' (the
    paper: Q itself), 'mean' (Q minus the batch mean at each step), 'rescale' (LeakGAN's σ(δ·(0.5 − rank/B)) of each
    reward's rank in the batch at each step), 'normalize' ((Q − mean) / std over the batch at each step) or
    'importance' (MaliGAN's Q / ΣQ over the batch minus 1/B)."""
    rescale_delta: float = 16.0
    """δ of the 'rescale' advantage (the official LeakGAN code's 16: σ(16·x − 8))."""
    method: str = "seqgan"
    """What trains G_θ after MLE pretraining: a name from seqgan.methods (`seqgan train --help-config` lists them
    with their sections)."""
    eval_every: int = 5
    """Evaluate NLL_oracle every this many epochs/rounds (and at the end of each phase)."""
    checkpoint_every: int = 5
    """Write the run checkpoint every this many epochs/rounds (and at the end of each phase)."""
    checkpoint_minutes: float = 10.0
    """Also write it after any epoch/round that ends this many minutes of wall time after the last one was written, so
    a kill loses at most about this much work whatever a unit takes (the paper's rounds: 2 minutes each on a CPU); 0
    writes only every checkpoint_every units. Resuming from any unit is exact, so this changes no result."""
    keep_best: bool = False
    """MLE pretraining scores G_θ at each evaluation on a validation draw of the oracle (its own seed, never the
    test draw: NLL_valid) and hands the adversarial phase the G_θ of the lowest, not the last (early stopping)."""
    keep_generators: bool = False
    """Keep G_θ's weights at every evaluation (checkpoints/generators/<phase>-<global epoch>.pt); `reproduce
    table1` reads an MLE run's to draw MLE's quality–coverage frontier."""

    def __post_init__(self) -> None:
        from seqgan.methods import method_names
        from seqgan.rewards import ADVANTAGES

        _non_negative("train", pretrain_epochs=self.pretrain_epochs, d_pretrain_steps=self.d_pretrain_steps,
                      adversarial_rounds=self.adversarial_rounds, g_steps=self.g_steps, d_steps=self.d_steps)
        _positive("train", d_pretrain_epochs=self.d_pretrain_epochs, d_epochs=self.d_epochs,
                  rollout_num=self.rollout_num, num_negatives=self.num_negatives, eval_every=self.eval_every,
                  checkpoint_every=self.checkpoint_every, rescale_delta=self.rescale_delta)
        _non_negative("train", checkpoint_minutes=self.checkpoint_minutes)
        _check(0 <= self.update_rate <= 1, f"train.update_rate must be in [0, 1], got {self.update_rate}")
        _check(self.rollout_num <= MAX_ROLLOUT_NUM, f"train.rollout_num = {self.rollout_num} can only be a mistake (the "
               f"paper uses 16; at most {MAX_ROLLOUT_NUM:,}): every prefix is completed that many times per g-step")
        _check(self.advantage in ADVANTAGES,
               f"train.advantage must be one of {', '.join(ADVANTAGES)}, got {self.advantage!r}")
        names = method_names()
        _check(self.method in names, f"train.method must be one of {', '.join(names)}, got {self.method!r}")


PRECISIONS = ("fp32", "bf16", "auto")


@dataclass
class RuntimeConfig:
    """Where and how the work runs."""

    device: str = "auto"
    """'auto' (CUDA when available), 'cpu', 'cuda' or 'cuda:N'."""
    memory_budget_mb: int = 1024
    """Bound on the large temporary tensors of sampling and rewards; work is chunked to fit."""
    threads: int = 0
    """CPU threads for PyTorch; 0 chooses: one for small work (the tiny preset), else PyTorch's default capped at the
    CPUs idle when the run starts (a core another process keeps busy stalls every parallel operation: 10-50x slower
    small operations measured on 2 cores). OMP_NUM_THREADS, when set, is kept."""
    flush_denormal: bool = True
    """Treat denormal floats as zero on CPU. Adam's moments of rarely used rows decay into the denormal range,
    where x86 arithmetic is many times slower: a late MLE epoch on the poems corpus took 2.6-3.3x longer without it.
    The flag is per thread and inherited by new threads: the CLI sets it before torch's thread pool starts; from
    Python, call torch.set_flush_denormal(True) before any other torch work."""
    malloc_tuning: bool = True
    """On Linux (glibc), keep freed memory in the process for reuse instead of returning it to the OS at once
    (seqgan.cpu.keep_freed_memory): the tensors a step frees and allocates again stop page-faulting every step. The
    paper's D epoch in bfloat16 ran 1.12× faster, in float32 1.06×, sampling 1.17× (benchmarks/bench_malloc.py). Process-wide; the
    process keeps up to 1 GiB of freed memory."""
    tf32: bool = False
    """On CUDA, let float32 matmuls and convolutions use TF32 tensor cores (Ampere and later): a higher matmul rate at
    about 1e-3 relative precision. Off by default for exact float32; no effect on CPU. Not yet measured here (no GPU
    was available to the sessions that built this)."""

    cuda_graphs: bool = False
    """On CUDA, replay D_φ's training step (forward, backward, Adam) as one CUDA graph per batch instead of a few
    hundred kernel launches (seqgan.cuda_graphs): the paper protocol is ~1M small D steps, launch-bound on a GPU.
    Off by default: it has not run on a GPU yet (none was lent to the sessions that built it); its CPU stand-in is
    tested against the plain loop. Ignored, with a warning, on CPU and with several processes (DDP)."""
    precision: str = "auto"
    """'auto' (the default), 'fp32' or 'bf16'. 'bf16': D_φ's convolutions and highway (training, and scoring the rewards) run as
    bfloat16 GEMMs (Intel AMX or AVX512-BF16 on CPU, tensor cores on CUDA), and so do the two gradient GEMMs of G_θ's
    training losses (MLE, Eq. 8, Scheduled Sampling), with float32 master weights, optimizer states, features,
    logits, losses and rewards. 'auto': bf16 where the hardware has it and the model is large
    enough to gain, each model on its own (D: the paper's, not the small or tiny preset's, which bf16 slows; G: an
    output projection of 150 MFLOP a batch or more, such as 5,000 words at batch 64), else fp32. Applies to the CNN
    D_φ of SeqGAN and the methods built on it and to the LSTM and relational-memory G_θ (not RelGAN's critic, not
    DPGAN's language model, not LeakGAN's G, not sampling: its projection measured slower in bf16). At the small
    preset (forced bf16, 3 seeds) SeqGAN's final NLL_oracle and NLL_test equal float32's within 0.011 nats with D
    in bf16 (Welch p 0.84, 0.53), and within 0.008 with D and G in bf16 from scratch (p 0.88, 0.75):
    reports/precision-small; so 'auto' is the default (the small preset keeps 'fp32', see its docstring). 'fp32':
    float32 everywhere. A run started at 'fp32' (the
    earlier default) continues in fp32 when resumed by a command that leaves the setting at its default."""

    def __post_init__(self) -> None:
        _check(self.precision in PRECISIONS, f"runtime.precision must be one of {', '.join(map(repr, PRECISIONS))}, "
                                             f"got {self.precision!r}")
        _check(self.device == "auto" or self.device == "cpu" or self.device.startswith("cuda"),
               f"runtime.device must be 'auto', 'cpu' or 'cuda[:N]', got {self.device!r}")
        _positive("runtime", memory_budget_mb=self.memory_budget_mb)
        _non_negative("runtime", threads=self.threads)


@dataclass
class Config:
    """A whole SeqGAN run: the data, G_θ, D_φ and Algorithm 1's schedule."""

    seed: int = 0
    """Seed of the run: data, initialisation, sampling, dropout."""
    data: DataConfig = field(default_factory=DataConfig)
    oracle: OracleConfig = field(default_factory=OracleConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    methods: dict[str, Any] = field(default_factory=lambda: _default_method_sections())
    """Each method's own section ([seqgan.methods registry]: e.g. [ss], [maligan]), by method name."""

    def __post_init__(self) -> None:
        from seqgan.methods import method_class

        missing = {k: v for k, v in _default_method_sections().items() if k not in self.methods}
        self.methods = {**self.methods, **missing}
        method_class(self.train.method).validate(self)

    @property
    def method(self) -> Any:
        """The selected method's own settings (None for a method without a section)."""
        return self.methods.get(self.train.method)

    def to_dict(self, every_method: bool = False) -> dict[str, Any]:
        """Nested dicts; the selected method's section (every method's with every_method) sits at the top level
        beside train, as in TOML. Another method's section does not change a run, so it is neither written, saved
        nor compared."""
        data = dataclasses.asdict(self)
        methods = data.pop("methods")
        return {**data, **{k: v for k, v in methods.items() if every_method or k == self.train.method}}

    def __eq__(self, other: object) -> bool:
        """Equal when they run the same: the shared sections and the selected method's."""
        return self.to_dict() == other.to_dict() if isinstance(other, Config) else NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, as a dataclass with eq

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> Config:
        """Build from nested dicts, rejecting unknown keys with a suggestion."""
        return _build(cls, data, where)

    def override(self, assignments: list[str]) -> Config:
        """Apply `section.key=value` strings (values parsed as TOML, else taken as text)."""
        data = self.to_dict(every_method=True)
        touched: set[str] = set()
        for item in assignments:
            key, sep, raw = item.partition("=")
            _check(bool(sep) and bool(key.strip()), f"--set expects key=value (e.g. train.rollout_num=8), got {item!r}")
            path = key.strip().split(".")
            node = data
            for part in path[:-1]:
                _check(isinstance(node.get(part), dict), f"unknown config section {'.'.join(path[:-1])!r} in --set {item!r}; "
                       f"sections: {', '.join(k for k, v in data.items() if isinstance(v, dict))}")
                node = node[part]
            # An unknown final key is reported by from_dict, with a suggestion.
            node[path[-1]] = _parse_value(raw.strip())
            if len(path) > 1:
                touched.add(f"{path[0]}.{path[1]}")
        cfg = Config.from_dict(data, where="--set")
        refuse_other_methods_settings(cfg, touched, "--set")
        return cfg


def _parse_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    _check(isinstance(data, dict), f"{where}: expected a table of settings, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls) if not (cls is Config and f.name == "methods")}
    method_sections = _method_section_classes() if cls is Config else {}
    kwargs: dict[str, Any] = {}
    methods: dict[str, Any] = {}
    for key, value in data.items():
        if key in method_sections:
            methods[key] = _build(method_sections[key], value, f"{where}.{key}")
            continue
        if key not in known:
            renamed = next((new for old, new in LEGACY_KEYS.items() if where.endswith(old.split(".")[0])
                            and old.endswith("." + key)), None)
            if renamed:
                raise ConfigError(f"{where}: {key!r} was renamed {renamed!r} when methods got sections of their own; "
                                  f"set {renamed} instead")
            names = [*known, *method_sections]
            hint = difflib.get_close_matches(key, names, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else f"; valid keys: {', '.join(names)}"
            raise ConfigError(f"{where}: unknown setting {key!r}{suggestion}")
        f = known[key]
        if cls is Config and key in _SECTIONS:
            kwargs[key] = _build(_SECTIONS[key], value, f"{where}.{key}")
        else:
            kwargs[key] = _coerce(value, f, f"{where}.{key}")
    if cls is Config:
        kwargs["methods"] = methods
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a missing/extra argument the checks above did not catch
        raise ConfigError(f"{where}: {exc}") from None


def _coerce(value: Any, f: dataclasses.Field, where: str) -> Any:
    """Check a value against the field's declared type; ints are accepted for floats."""
    kind = str(f.type)
    if kind == "int":
        _check(isinstance(value, int) and not isinstance(value, bool), f"{where} must be an integer, got {value!r}")
    elif kind == "float":
        _check(isinstance(value, (int, float)) and not isinstance(value, bool), f"{where} must be a number, got {value!r}")
        value = float(value)
    elif kind == "bool":
        _check(isinstance(value, bool), f"{where} must be true or false, got {value!r}")
    elif kind == "str":
        _check(isinstance(value, str), f"{where} must be a string, got {value!r}")
    elif kind.startswith("list[int]"):
        _check(isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value),
               f"{where} must be a list of integers, got {value!r}")
    return value


def _method_section_classes() -> dict[str, type]:
    """Method name → its config dataclass, for the methods that have settings of their own."""
    from seqgan.methods import METHODS

    return {name: cls.config for name, cls in METHODS.items() if cls.config is not None}


def _default_method_sections() -> dict[str, Any]:
    return {name: section() for name, section in _method_section_classes().items()}


def refuse_other_methods_settings(cfg: Config, keys: set[str], where: str) -> None:
    """A setting in another method's section than train.method's is a mistake: say whose it is."""
    sections = _method_section_classes()
    for key in sorted(keys):
        section = key.split(".")[0]
        if section in sections and section != cfg.train.method:
            raise ConfigError(f"{where}: {key} is a setting of method {section!r}, but train.method is "
                              f"{cfg.train.method!r}; add --set train.method={section!r} or drop the setting")


# Settings of checkpoints and config files written before methods had sections of their own (format 1):
# old key → new key. Values of an unselected method's old keys were shared defaults then; they are dropped.
LEGACY_KEYS = {"train.ss_schedule": "ss.schedule", "train.ss_k": "ss.k", "train.ss_floor": "ss.floor",
               "train.pg_bleu_n": "pg_bleu.n", "train.pg_baseline": "train.advantage"}


def migrate_legacy(data: dict[str, Any]) -> dict[str, Any]:
    """A config dict of seqgan 0.1 (checkpoint format 1) in today's layout."""
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    train = data.get("train", {})
    method = train.get("method", TrainConfig.method)
    for old, new in LEGACY_KEYS.items():
        section, key = old.split(".")
        if key not in data.get(section, {}):
            continue
        value = data[section].pop(key)
        new_section, new_key = new.split(".")
        if new_section == "train" or new_section == method:
            data.setdefault(new_section, {})[new_key] = value
    return data


SAVED_DEFAULTS: dict[str, Any] = {"runtime.precision": "fp32"}
"""Settings whose default has changed, with the value a run saved without them ran at: runtime.precision was
'fp32' (before it existed, and its default until 'auto' passed the quality test of reports/precision-small)."""


def complete_saved(data: dict[str, Any]) -> dict[str, Any]:
    """A config dict that seqgan itself saved (a checkpoint's, a run folder's config.toml), with each setting of
    SAVED_DEFAULTS it lacks set to the value that run ran at rather than today's default. Not for a user's own config
    file, where an absent setting means today's default."""
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for dotted, value in SAVED_DEFAULTS.items():
        section, key = dotted.split(".")
        data.setdefault(section, {}).setdefault(key, value)
    return data


def keep_run_settings(cfg: Config, saved: Config) -> tuple[Config, list[str]]:
    """On resume, each setting of SAVED_DEFAULTS that the command leaves at today's default continues at the value the
    run was started with, so the command that started a run resumes it after a default changed. Returns the config
    and one line per setting kept."""
    kept = []
    for dotted in SAVED_DEFAULTS:
        section, key = dotted.split(".")
        ours, theirs = getattr(getattr(cfg, section), key), getattr(getattr(saved, section), key)
        default = getattr(type(getattr(cfg, section))(), key)
        if ours != theirs and ours == default:
            cfg = dataclasses.replace(cfg, **{section: dataclasses.replace(getattr(cfg, section), **{key: theirs})})
            kept.append(f"{dotted} = {theirs!r}, as the run started (today's default is {default!r})")
    return cfg, kept


_SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "oracle": OracleConfig,
    "generator": GeneratorConfig,
    "discriminator": DiscriminatorConfig,
    "train": TrainConfig,
    "runtime": RuntimeConfig,
}


def _preset_paper() -> Config:
    """The paper's sizes and schedule (D_φ and G_θ's gradient GEMMs in bfloat16 where the hardware has it: the default
    runtime.precision = 'auto')."""
    return Config()


def _preset_small() -> Config:
    """CPU-sized: under about 10 minutes on 2 cores; the adversarial phase still beats the MLE plateau.

    The paper's oracle and G_θ; a smaller D whose higher learning rate makes up for ~30x fewer
    D passes than the paper's schedule, so D is a real critic when the adversarial phase starts.
    RelGAN: a narrower relational memory and critic, 200 iterations (5 per round) of the official 5000.
    Float32 (runtime.precision = 'fp32'): the README's small-preset tables were measured in it and `make demo`
    reproduces them bit for bit; at these sizes 'auto' would keep D in float32 anyway and gain 1.15x on G's MLE only.
    """
    from seqgan.methods.relgan import RelGANConfig

    return Config(
        methods={"relgan": RelGANConfig(head_size=64, d_emb_dim=16, num_rep=16, num_filters=[64, 64, 64, 64],
                                        iterations=5)},
        discriminator=DiscriminatorConfig(emb_dim=32, filter_sizes=[2, 3, 4, 5, 8, 12], num_filters=[32, 32, 32, 32, 32, 32],
                                          lr=1e-3),
        train=TrainConfig(pretrain_epochs=30, d_pretrain_steps=10, d_pretrain_epochs=2, adversarial_rounds=40,
                          d_steps=1, d_epochs=1, num_negatives=5000),
        runtime=RuntimeConfig(precision="fp32"),
    )


def _preset_tiny() -> Config:
    """Seconds: a small random oracle, for tests and smoke runs."""
    from seqgan.methods.relgan import RelGANConfig

    return Config(
        methods={"relgan": RelGANConfig(emb_dim=8, head_size=8, d_emb_dim=8, num_rep=4, filter_sizes=[2, 3],
                                        num_filters=[8, 8], iterations=1, critic_steps=2)},
        oracle=OracleConfig(source="random", vocab_size=50, emb_dim=8, hidden_dim=8, seq_len=8, num_train=256, num_eval=256,
                            num_test=256),
        generator=GeneratorConfig(emb_dim=8, hidden_dim=8, batch_size=16),
        discriminator=DiscriminatorConfig(emb_dim=8, filter_sizes=[2, 3], num_filters=[8, 8], batch_size=32),
        train=TrainConfig(pretrain_epochs=4, d_pretrain_steps=2, d_pretrain_epochs=1, adversarial_rounds=4,
                          d_steps=1, d_epochs=1, rollout_num=4, num_negatives=128, eval_every=2, checkpoint_every=2),
    )


PRESETS = {"paper": _preset_paper, "small": _preset_small, "tiny": _preset_tiny}


def preset(name: str) -> Config:
    """Return a fresh config for a named preset."""
    if name not in PRESETS:
        hint = difflib.get_close_matches(name, PRESETS, n=1)
        raise ConfigError(f"unknown preset {name!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
                          + f" (presets: {', '.join(PRESETS)})")
    return PRESETS[name]()


def load_config(path: str | Path, base: Config | None = None, saved: bool = False) -> Config:
    """Read a TOML config file; a `preset = "name"` key at the top picks the base it overrides. `saved`: the file is
    one seqgan wrote (a run folder's config.toml), read with complete_saved."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} not found") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {str(path)!r} is a folder; give the path of a .toml file "
                          "(a run folder's is RUN/config.toml)") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    name = data.pop("preset", None)
    _check(name is None or isinstance(name, str), f"{str(path)}: preset must be a name in quotes "
           f"({', '.join(repr(p) for p in PRESETS)}), got {name!r}")
    data = migrate_legacy(data)  # a config.toml of seqgan 0.1; unchanged otherwise
    if saved:
        data = complete_saved(data)
    start = preset(name) if name is not None else (base or Config())
    merged = _merge(start.to_dict(every_method=True), data)
    cfg = Config.from_dict(merged, where=str(path))
    refuse_other_methods_settings(cfg, {f"{k}.{key}" for k, v in data.items() if isinstance(v, dict) for key in v},
                                  str(path))
    return cfg


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def to_toml(cfg: Config) -> str:
    """Write a config as TOML (flat sections of scalars and lists)."""
    data = cfg.to_dict()  # the selected method's section only: another's would be refused when read back
    lines = [f"seed = {data.pop('seed')}", ""]
    for section, values in data.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a config dataclass (the string literal right after it)."""
    import ast
    import inspect
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for prev, node in zip(body, body[1:]):
        if isinstance(prev, ast.AnnAssign) and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            docs[prev.target.id] = str(node.value.value)  # type: ignore[union-attr]
    return docs


def describe(base: Config | None = None) -> str:
    """Every setting with its value in `base` (the paper's defaults without one) and its docstring: the
    documentation `--help-config` prints (for the chosen preset or config file)."""

    from seqgan.methods import METHODS

    out = []
    for section, cls in [("", Config), *_SECTIONS.items(), *_method_section_classes().items()]:
        docs = field_docs(cls)
        if base is None:
            defaults = cls()
        elif cls is Config:
            defaults = base
        else:
            defaults = base.methods[section] if section in METHODS else getattr(base, section)
        if section in METHODS:
            out.append(f"[{section}]  method {section!r}: {METHODS[section].title}. {cls.__doc__}")
        elif section:
            out.append(f"[{section}]  {cls.__doc__}")
        for f in fields(cls):
            if cls is Config and (f.name in _SECTIONS or f.name == "methods"):  # sections, listed on their own
                continue
            name = f"{section}.{f.name}" if section else f.name
            out.append(f"  {name} = {_toml_value(getattr(defaults, f.name))}\n      {docs.get(f.name, '')}")
    out.append("\nmethods (train.method):")
    out += [f"  {name:<10} {cls.title}" for name, cls in METHODS.items()]
    return "\n".join(out)
