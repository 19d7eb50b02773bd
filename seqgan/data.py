"""Real sequences: reading text, tokenizers, the vocabulary, padded id tensors, the bundled corpora.

A corpus line is one sequence. It becomes token ids followed by the end token `<eos>` and then
`<pad>` up to the run's length T, so generated and real sequences have one format: a sequence ends at
its first `<eos>`, and everything after it is ignored by the generator's NLL, the rewards, the
discriminator and the metrics (see `valid_mask`). A corpus of fixed-length sequences (the oracle,
Nottingham at length 32) can leave the end token out.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import torch

from seqgan.errors import DataError
from seqgan.speeches import speech_splits

log = logging.getLogger(__name__)

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
PAD_ID, BOS_ID, EOS_ID, UNK_ID = range(4)

TOKENIZERS = ("word", "char", "space")
_WORD_RE = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


@dataclass(frozen=True)
class Dataset:
    """A corpus shipped with the package: its files, tokenizer and the paper's evaluation."""

    name: str
    train: str
    test: str
    tokenizer: str
    end_token: bool = True
    """False for fixed-length corpora (all sequences exactly max_len, no <eos>)."""
    max_len: int = 0
    """The length T it trains at, <eos> included; 0 is the longest training line + 1."""
    reader: Callable[[Path], tuple[list[str], list[str]]] | None = None
    """For a corpus shipped as documents: makes (train, test) lines from the folder `train` names."""


DATASETS = {
    "poems": Dataset("poems", "chinese_poems/train.txt", "chinese_poems/test.txt", "space"),
    # Texygen's BLEU runs nltk.word_tokenize over these lines ("wheel." -> "wheel", "."); 'word' does the same here.
    "coco": Dataset("coco", "coco/image_coco.txt", "coco/test_coco.txt", "word"),
    "emnlp": Dataset("emnlp", "emnlp_news/gfs_valid_news.txt", "emnlp_news/test_emnlp.txt", "space"),
    "nottingham": Dataset("nottingham", "nottingham/train.txt", "nottingham/test.txt", "space", end_token=False, max_len=32),
    # Sentences of the seven addresses (seqgan/speeches.py). T = 50 as emnlp's: the 49 training and 7 test sentences
    # over 49 tokens (2%; the longest has 88) would otherwise make every sequence and rollout 89 long.
    "speeches": Dataset("speeches", "speeches", "speeches", "word", max_len=50, reader=speech_splits),
}


def dataset_path(relative: str) -> Path:
    """A file of the bundled corpora (installed with the package)."""
    return Path(str(resources.files("seqgan") / "assets" / "corpora" / relative))


# ---- text files --------------------------------------------------------------------------------
def read_lines(path: str | Path, what: str = "sequences") -> list[str]:
    """Non-blank lines of a UTF-8 text file; a missing, empty, binary or non-UTF-8 file is a DataError."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"file {str(path)!r} not found") from None
    except IsADirectoryError:
        raise DataError(f"{str(path)!r} is a directory; give a text file with one sequence per line") from None
    if b"\x00" in raw[:65536]:
        raise DataError(f"{str(path)!r} looks binary (it holds NUL bytes); expected UTF-8 text with {what}, one per line")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise DataError(f"{str(path)}:{line}: not UTF-8 text ({exc.reason} at byte {exc.start}); convert it, e.g. "
                        f"iconv -f latin1 -t utf-8 {path} > {path.stem}.utf8{path.suffix}") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise DataError(f"{str(path)!r} holds no {what} (it is empty or blank)")
    return lines


# ---- tokenizers ---------------------------------------------------------------------------------
def tokenize(line: str, kind: str) -> list[str]:
    """'space': split on whitespace (pre-tokenized text); 'word': words and punctuation marks apart;
    'char': every character, spaces included."""
    if kind == "space":
        return line.split()
    if kind == "word":
        return _WORD_RE.findall(line)
    if kind == "char":
        return list(line.strip())
    raise DataError(f"unknown tokenizer {kind!r}; use one of {', '.join(TOKENIZERS)}")


def detokenize(tokens: Sequence[str], kind: str) -> str:
    """Tokens back to a line: joined by spaces, or directly for characters."""
    return "".join(tokens) if kind == "char" else " ".join(tokens)


# ---- vocabulary ---------------------------------------------------------------------------------
@dataclass
class Vocabulary:
    """Tokens by id; ids 0-3 are <pad>, <bos>, <eos>, <unk>."""

    tokens: list[str]
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if tuple(self.tokens[:len(SPECIALS)]) != SPECIALS:
            raise DataError(f"a vocabulary must start with {', '.join(SPECIALS)}")
        if len(set(self.tokens)) != len(self.tokens):
            raise DataError("the vocabulary lists a token twice")
        self.index = {tok: i for i, tok in enumerate(self.tokens)}

    @classmethod
    def build(cls, sequences: Iterable[Sequence[str]], min_freq: int = 1, max_size: int = 0) -> Vocabulary:
        """Specials, then tokens seen at least `min_freq` times, most frequent first (ties by token);
        `max_size` > 0 caps the total size, specials included."""
        counts = Counter(tok for seq in sequences for tok in seq)
        kept = sorted((t for t, c in counts.items() if c >= min_freq and t not in SPECIALS), key=lambda t: (-counts[t], t))
        if max_size:
            kept = kept[:max(0, max_size - len(SPECIALS))]
        return cls([*SPECIALS, *kept])

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.tokens == other.tokens

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self.index.get(tok, UNK_ID) for tok in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens up to the first <eos>, without <pad> and <bos>."""
        out = []
        for i in ids:
            if i == EOS_ID:
                break
            if i not in (PAD_ID, BOS_ID):
                out.append(self.tokens[i] if 0 <= i < len(self.tokens) else UNK)
        return out

    def to_json(self) -> str:
        return json.dumps({"format": 1, "tokens": self.tokens}, ensure_ascii=False)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(list(data["tokens"]))
        except FileNotFoundError:
            raise DataError(f"vocabulary file {str(path)!r} not found") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{str(path)!r} is not a seqgan vocabulary ({exc})") from None


# ---- id tensors ---------------------------------------------------------------------------------
def valid_mask(tokens_BxT: torch.Tensor, eos: int | None) -> torch.Tensor | None:
    """True at positions up to and including the first <eos>: (B, T). None when there is no end token."""
    if eos is None:
        return None
    is_eos = tokens_BxT == eos
    return (is_eos.cumsum(dim=1) - is_eos.long()) == 0  # no <eos> strictly before t


def lengths(tokens_BxT: torch.Tensor, eos: int | None) -> torch.Tensor:
    """Length of each sequence counting its <eos> (T when it has none): (B,)."""
    mask = valid_mask(tokens_BxT, eos)
    if mask is None:
        return torch.full(tokens_BxT.shape[:1], tokens_BxT.shape[1], dtype=torch.long, device=tokens_BxT.device)
    return mask.sum(dim=1)


def drop_padding_columns(tokens_BxT: torch.Tensor, eos: int | None) -> torch.Tensor:
    """The batch cut after its longest sequence: the columns dropped lie after every end token, where the
    generator's NLL is zero anyway, so its loss is unchanged at a fraction of the cost."""
    if eos is None:
        return tokens_BxT
    return tokens_BxT[:, :int(lengths(tokens_BxT, eos).max())]


def trim(ids: Sequence[int], eos: int | None) -> list[int]:
    """Ids before the first <eos> (all of them without an end token)."""
    ids = list(ids)
    if eos is not None and eos in ids:
        return ids[:ids.index(eos)]
    return ids


def decode_ids(vocab: Vocabulary, ids: Sequence[int], eos: int | None) -> list[str]:
    """Generated ids as tokens: up to the end token; without one (fixed length) every position is kept,
    a special token included, so position t stays position t (music: a special token plays as a rest)."""
    if eos is None:
        return [vocab.tokens[i] if 0 <= i < len(vocab) else UNK for i in ids]
    return vocab.decode(trim(ids, eos))


def encode_lines(token_lists: Sequence[Sequence[str]], vocab: Vocabulary, seq_len: int, end_token: bool = True,
                 long_lines: str = "drop", where: str = "data") -> tuple[torch.Tensor, int]:
    """Ids + <eos>, padded with <pad> to seq_len: (N, seq_len). Returns also how many lines were too long.

    A line too long for seq_len is dropped, truncated (no <eos>: it still ends at T) or an error, as
    `long_lines` says. Without an end token every line must have exactly seq_len tokens (or is handled
    the same way when longer; shorter lines are an error).
    """
    room = seq_len - 1 if end_token else seq_len
    rows, too_long = [], 0
    for lineno, toks in enumerate(token_lists, 1):
        ids = vocab.encode(toks)
        if len(ids) > room:
            too_long += 1
            if long_lines == "error":
                raise DataError(f"{where}: sequence {lineno} has {len(ids)} tokens, more than the {room} that fit "
                                f"max_len {seq_len}; raise --set data.max_len, or set data.long_lines to drop or truncate")
            if long_lines == "drop":
                continue
            ids = ids[:seq_len]  # truncated: no room left for <eos>
        elif end_token:
            ids = ids + [EOS_ID]
        elif len(ids) < seq_len:
            raise DataError(f"{where}: sequence {lineno} has {len(ids)} tokens but this fixed-length corpus needs exactly "
                            f"{seq_len}; set data.end_token = true for sequences of varying length")
        rows.append(ids + [PAD_ID] * (seq_len - len(ids)))
    if not rows:
        raise DataError(f"{where}: every sequence is longer than max_len {seq_len}; raise --set data.max_len")
    return torch.tensor(rows, dtype=torch.long), too_long


@dataclass
class Corpus:
    """A tokenized corpus: training and test id tensors (N, T) over one vocabulary."""

    train: torch.Tensor
    test: torch.Tensor
    vocab: Vocabulary
    tokenizer: str
    end_token: bool
    test_lines: list[list[str]]
    """Test sequences as tokens (the BLEU references), before any truncation."""

    @property
    def seq_len(self) -> int:
        return self.train.shape[1]

    @property
    def eos(self) -> int | None:
        return EOS_ID if self.end_token else None

    def decode(self, ids: Sequence[int]) -> list[str]:
        return decode_ids(self.vocab, ids, self.eos)


# A line this many times longer than the 99th percentile (and longer than OUTLIER_MIN tokens) would set the
# automatic data.max_len on its own: every sequence would be padded to it, and the rollouts sized for it.
OUTLIER_FACTOR = 10
OUTLIER_MIN = 256


def check_outlier_lines(lines: list[list[str]], where: str) -> None:
    """Refuse an automatic max_len set by a few lines far longer than the rest, naming them and the settings."""
    lengths_sorted = sorted(len(t) for t in lines)
    typical = lengths_sorted[min(len(lengths_sorted) - 1, int(0.99 * len(lengths_sorted)))]
    limit = max(OUTLIER_MIN, OUTLIER_FACTOR * typical)
    outliers = [i for i, t in enumerate(lines, 1) if len(t) > limit]
    if outliers:
        longest = max(len(t) for t in lines)
        more = f" and {len(outliers) - 1} more" if len(outliers) > 1 else ""
        raise DataError(f"{where}: line {outliers[0]}{more} is far longer than the rest "
                        f"({longest} tokens against {typical} for 99% of lines), and would set data.max_len; set "
                        f"--set data.max_len={typical + 1} to drop them (data.long_lines='truncate' keeps their "
                        "start), or data.max_len explicitly to keep them")


def load_corpus(source: str, path: str = "", test_path: str = "", tokenizer: str = "auto", max_len: int = 0,
                min_freq: int = 1, max_vocab: int = 0, long_lines: str = "drop", test_fraction: float = 0.1,
                end_token: bool | None = None, split_seed: int = 0) -> Corpus:
    """Read, tokenize and encode a bundled dataset (`source` its name) or a user's file (`source='file'`).

    Without a test file, `test_fraction` of the lines (a fixed permutation by `split_seed`) is held out.
    The vocabulary comes from the training split only; max_len 0 means the longest training line (+ <eos>).
    """
    if source in DATASETS:
        ds = DATASETS[source]
        train_file, test_file = dataset_path(ds.train), dataset_path(ds.test)
        tokenizer = ds.tokenizer if tokenizer == "auto" else tokenizer
        end_token = ds.end_token if end_token is None else end_token
        max_len = max_len or ds.max_len
        # A corpus shipped as documents (speeches) makes its lines itself; the others are one sequence a line.
        train_lines, test_lines = ds.reader(train_file) if ds.reader else (read_lines(train_file), read_lines(test_file))
    elif source == "file":
        if not path:
            raise DataError("data.source is 'file' but no data.path was given; pass --data FILE")
        train_file, test_file = Path(path), Path(test_path) if test_path else None
        tokenizer = "word" if tokenizer == "auto" else tokenizer
        end_token = True if end_token is None else end_token
        train_lines = read_lines(train_file)
        test_lines = read_lines(test_file) if test_file is not None else None
    else:
        raise DataError(f"unknown data source {source!r}; use 'file' or one of {', '.join(DATASETS)}")

    train_tokens = [tokenize(line, tokenizer) for line in train_lines]
    if test_lines is not None:
        test_tokens = [tokenize(line, tokenizer) for line in test_lines]
    else:
        if len(train_tokens) < 2:
            raise DataError(f"{str(train_file)!r} has {len(train_tokens)} sequence; a held-out split needs at least 2 "
                            "(or pass --test FILE)")
        order = torch.randperm(len(train_tokens), generator=torch.Generator().manual_seed(split_seed)).tolist()
        n_test = max(1, round(test_fraction * len(train_tokens)))
        test_tokens = [train_tokens[i] for i in sorted(order[:n_test])]
        train_tokens = [train_tokens[i] for i in sorted(order[n_test:])]
    train_tokens = [t for t in train_tokens if t]
    test_tokens = [t for t in test_tokens if t]
    if not train_tokens:
        raise DataError(f"{str(train_file)!r}: no line has a token under the {tokenizer!r} tokenizer")
    vocab = Vocabulary.build(train_tokens, min_freq, max_vocab)
    longest = max(len(t) for t in train_tokens)
    if not max_len:
        check_outlier_lines(train_tokens, str(train_file))
    seq_len = max_len or longest + (1 if end_token else 0)
    train, dropped = encode_lines(train_tokens, vocab, seq_len, end_token, long_lines, str(train_file))
    test, dropped_test = encode_lines(test_tokens, vocab, seq_len, end_token, long_lines, f"{test_file or train_file} (test)")
    if dropped or dropped_test:
        verb = {"drop": "dropped", "truncate": "truncated"}[long_lines]
        log.warning("%d training and %d test sequences are longer than max_len %d allows; %s them", dropped, dropped_test,
                    seq_len, verb)
    unk = (train == UNK_ID).float().mean().item()
    log.info("corpus %s: %d train / %d test sequences, vocabulary %d, length %d, <unk> %.2f%% of training positions",
             source if source != "file" else train_file, len(train), len(test), len(vocab), seq_len, 100 * unk)
    return Corpus(train, test, vocab, tokenizer, end_token, test_tokens)
