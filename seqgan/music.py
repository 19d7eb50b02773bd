"""The paper's music experiment: Nottingham melodies as 32-token pitch sequences, MIDI output and the pitch MSE.

Yu et al. (AAAI 2017), section "Music Generation": the Nottingham folk tunes are turned into sequences of
pitch tokens, "pitch of the melody at each time step", of length 32, and generated sequences are scored with
BLEU-4 and an MSE. This module derives that corpus from the Boulanger-Lewandowski (2012) piano rolls
(`assets/corpora/nottingham/README.md` says how and what came out), writes token sequences as standard MIDI
files so they can be listened to, and defines the MSE, which the paper leaves unspecified (see `pitch_mse`).

Tokens are strings: a MIDI pitch number ("67" is the G above middle C) or `REST` ("r") for a step where the
melody is silent. Anything else (a generator's "<eos>", "<pad>", "<unk>") is read as a rest by `write_midi`
and `pitch_mse`, so raw generator output can be played and scored without cleaning.

Usage: `python -m seqgan.music build [--length 32]` rebuilds the corpus files;
`python -m seqgan.music midi SEQUENCES.txt OUT_DIR` renders one MIDI file per line of a token file.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import math
import struct
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

REST = "r"  # one short letter, so corpus lines stay readable and it can never be mistaken for a pitch number
SEQ_LEN = 32  # the paper's sequence length
CORPUS_DIR = Path(__file__).resolve().parent / "assets" / "corpora" / "nottingham"
SOURCE = CORPUS_DIR / "nottingham_midi_pitches.json.gz"
SPLITS = ("train", "valid", "test")

TICKS_PER_QUARTER = 480  # MIDI file resolution; 480 divides evenly into all the usual note values
DEFAULT_STEP_TICKS = 240  # one piano-roll step played as an eighth note (chords in the data change every 6 or 8 steps)
DEFAULT_TEMPO_BPM = 120.0
DEFAULT_VELOCITY = 90
_MAX_VLQ = 0x0FFFFFFF  # the largest number a MIDI variable-length quantity can hold (4 bytes of 7 bits)


# ---------------------------------------------------------------------------------------------------------------
# Melody extraction and the corpus
# ---------------------------------------------------------------------------------------------------------------

def melody_tokens(tune: Sequence[Iterable[int]]) -> list[str]:
    """One token per time step: the highest sounding MIDI pitch as a string, or `REST` where nothing sounds."""
    tokens = []
    for step, pitches in enumerate(tune):
        pitches = list(pitches)
        for p in pitches:
            if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or not 0 <= p <= 127:
                raise ValueError(f"time step {step}: {p!r} is not a MIDI pitch; a tune is a list of time steps, "
                                 "each a list of sounding MIDI pitches (integers 0-127)")
        # Nottingham's melody is the top voice over a chord accompaniment (checked on the data, see the corpus README)
        tokens.append(str(max(pitches)) if pitches else REST)
    return tokens


def melody_sequences(tunes: Iterable[Sequence[Iterable[int]]], length: int = SEQ_LEN) -> list[list[str]]:
    """Each tune's melody cut into consecutive, non-overlapping windows of `length` steps; a shorter tail is dropped."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be a positive integer, got {length!r}")
    sequences = []
    for tune in tunes:
        tokens = melody_tokens(tune)
        # Dropping the tail (instead of padding it) keeps every sequence real music of exactly the paper's length.
        sequences.extend(tokens[i:i + length] for i in range(0, len(tokens) - length + 1, length))
    return sequences


@dataclass(frozen=True)
class SplitCounts:
    """What `build_corpus` wrote for one split."""

    file: str
    tunes: int
    steps: int
    sequences: int
    dropped_steps: int  # the short tails left out
    rest_tokens: int  # rests among the tokens written


def build_corpus(json_gz_path: str | Path = SOURCE, out_dir: str | Path = CORPUS_DIR,
                 length: int = SEQ_LEN) -> dict[str, SplitCounts]:
    """Write train.txt, valid.txt and test.txt (one melody window per line, tokens space-separated); return counts.

    Each split of the source becomes its own file. The train split alone (694 tunes) is the paper's "695 songs";
    valid is kept apart for model selection and test is the reference set for BLEU and MSE, as in the paper.
    """
    json_gz_path, out_dir = Path(json_gz_path), Path(out_dir)
    try:
        with gzip.open(json_gz_path, "rt", encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise ValueError(f"{str(json_gz_path)!r} not found; it ships with the package under "
                         "seqgan/assets/corpora/nottingham/") from None
    missing = [s for s in SPLITS if s not in data]
    if missing:
        raise ValueError(f"{str(json_gz_path)!r} lacks the split(s) {missing}; expected keys {list(SPLITS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split in SPLITS:
        tunes = data[split]
        sequences = melody_sequences(tunes, length)
        name = f"{split}.txt"
        (out_dir / name).write_text("".join(" ".join(seq) + "\n" for seq in sequences), encoding="utf-8")
        steps = sum(len(t) for t in tunes)
        counts[split] = SplitCounts(file=name, tunes=len(tunes), steps=steps, sequences=len(sequences),
                                    dropped_steps=steps - len(sequences) * length,
                                    rest_tokens=sum(seq.count(REST) for seq in sequences))
        logger.info("%s: %d tunes, %d steps -> %d sequences of %d", name, len(tunes), steps, len(sequences), length)
    return counts


def read_sequences(path: str | Path) -> list[list[str]]:
    """Token sequences from a text file, one per line, tokens separated by whitespace; blank lines are skipped."""
    return [line.split() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------------------------------
# Tokens to pitches
# ---------------------------------------------------------------------------------------------------------------

def token_pitch(token: str) -> int | None:
    """The MIDI pitch a token stands for, or None for a rest, a special token or anything else unknown."""
    if isinstance(token, str) and token.isascii() and token.isdigit():
        pitch = int(token)
        if pitch <= 127:
            return pitch
    return None


def _pitch_array(sequences: Sequence[Sequence[str]], what: str) -> np.ndarray:
    """(N, T) int array of pitches with -1 for rests; strict: only pitches, `REST` and "<...>" specials are accepted."""
    if isinstance(sequences, str) or len(sequences) == 0:
        raise ValueError(f"{what} must be a non-empty list of token sequences")
    length = None
    cache: dict[str, int] = {}
    rows = []
    for i, seq in enumerate(sequences):
        if isinstance(seq, str):
            raise ValueError(f"{what}[{i}] is a string, not a sequence of tokens; split it first (line.split())")
        seq = list(seq)
        if length is None:
            length = len(seq)
            if length == 0:
                raise ValueError(f"{what}[0] is empty; sequences need at least one token")
        elif len(seq) != length:
            raise ValueError(f"{what}[{i}] has {len(seq)} tokens but {what}[0] has {length}; "
                             "the MSE compares position by position, so all sequences need one length")
        row = []
        for tok in seq:
            value = cache.get(tok)
            if value is None:
                pitch = token_pitch(tok)
                if pitch is not None:
                    value = pitch
                elif tok == REST or (isinstance(tok, str) and tok.startswith("<") and tok.endswith(">")):
                    value = -1
                else:
                    # A typo or a foreign vocabulary would silently become rests and flatter the score; refuse it.
                    raise ValueError(f"{what}[{i}] holds the token {tok!r}; tokens must be MIDI pitch numbers '0'-'127', "
                                     f"the rest token {REST!r}, or a special token like '<eos>' (read as a rest)")
                cache[tok] = value
            row.append(value)
        rows.append(row)
    return np.asarray(rows, dtype=np.int64)


# ---------------------------------------------------------------------------------------------------------------
# The music MSE
# ---------------------------------------------------------------------------------------------------------------

def pitch_mse_per_sample(samples: Sequence[Sequence[str]], references: Sequence[Sequence[str]],
                         chunk_size: int = 1024) -> np.ndarray:
    """Each sample's mean squared pitch difference to its nearest reference (NaN where no reference is comparable).

    The definition is `pitch_mse`'s. The sums over positions are three matrix products over a chunk of samples,
    (S**2)·M_rᵀ + M_s·(R**2)ᵀ − 2·S·Rᵀ with rests zeroed and masks M, so memory is chunk × references; every
    operand is an integer below 2**53, so float64 makes them exact, equal to the plain loop bit for bit.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    s_pitch = _pitch_array(samples, "samples")
    r_pitch = _pitch_array(references, "references")
    if s_pitch.shape[1] != r_pitch.shape[1]:
        raise ValueError(f"samples have {s_pitch.shape[1]} tokens but references have {r_pitch.shape[1]}; "
                         "score samples against references of the same length (the paper uses 32)")
    r_mask = (r_pitch >= 0).astype(np.float64)
    r_val = np.where(r_pitch >= 0, r_pitch, 0).astype(np.float64)
    r_mask_t, r_val_t, r_sq_t = r_mask.T, r_val.T, (r_val ** 2).T
    result = np.empty(len(s_pitch), dtype=np.float64)
    for start in range(0, len(s_pitch), chunk_size):
        chunk = s_pitch[start:start + chunk_size]
        s_mask = (chunk >= 0).astype(np.float64)
        s_val = np.where(chunk >= 0, chunk, 0).astype(np.float64)
        count = s_mask @ r_mask_t  # (chunk, references): positions where both have a pitch
        sq_sum = (s_val ** 2) @ r_mask_t + s_mask @ r_sq_t - 2.0 * (s_val @ r_val_t)
        with np.errstate(divide="ignore", invalid="ignore"):
            mse = np.where(count > 0, sq_sum / np.maximum(count, 1.0), np.inf)
        best = mse.min(axis=1)
        result[start:start + len(chunk)] = np.where(np.isfinite(best), best, np.nan)
    return result


def pitch_mse(samples: Sequence[Sequence[str]], references: Sequence[Sequence[str]], chunk_size: int = 1024) -> float:
    """Mean over samples of the mean squared MIDI-pitch difference to the nearest reference, rests skipped.

    The paper reports an MSE for Nottingham without defining it; this is the definition used here, built like its
    BLEU (each sample against the whole test set): for a sample s and a reference r of the same length,
    mse(s, r) = mean over positions t where both s_t and r_t are pitches of (s_t − r_t)², in squared semitones
    (MIDI numbers; the same as the paper's 88 piano-key tokens, which differ from MIDI by a constant).
    A sample scores min over references of mse(s, r) (its nearest reference), and the result is the mean over
    samples. Positions where either side rests are left out rather than given an arbitrary pitch, because a rest
    has no pitch to be near; they are 0.2% of the corpus. Tokens other than pitches count as rests (`REST`, "<eos>").
    A sample with no position comparable to any reference (all rests) has no MSE: it is left out with a warning,
    and a ValueError is raised if that leaves nothing. Identical samples and references give 0.
    """
    per_sample = pitch_mse_per_sample(samples, references, chunk_size)
    undefined = int(np.isnan(per_sample).sum())
    if undefined == len(per_sample):
        raise ValueError("no sample shares a pitched position with any reference (all rests?); the MSE is undefined")
    if undefined:
        logger.warning("pitch MSE: %d of %d samples have no pitch comparable to any reference and are left out",
                       undefined, len(per_sample))
    return float(np.nanmean(per_sample))


# ---------------------------------------------------------------------------------------------------------------
# MIDI files
# ---------------------------------------------------------------------------------------------------------------

def encode_vlq(value: int) -> bytes:
    """A MIDI variable-length quantity: 7 bits a byte, most significant first, the high bit set on all but the last."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_VLQ:
        raise ValueError(f"a MIDI variable-length quantity holds 0..{_MAX_VLQ}, got {value!r}")
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def decode_vlq(data: bytes, pos: int) -> tuple[int, int]:
    """Read a variable-length quantity at `pos`; return (value, position after it)."""
    value = 0
    for i in range(4):
        if pos + i >= len(data):
            raise ValueError(f"MIDI data ends inside a variable-length quantity at byte {pos}")
        byte = data[pos + i]
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, pos + i + 1
    raise ValueError(f"variable-length quantity at byte {pos} is longer than 4 bytes")


def melody_notes(tokens: Sequence[str], step_ticks: int = DEFAULT_STEP_TICKS) -> list[tuple[int, int, int]]:
    """(pitch, start tick, end tick) of the notes a token sequence plays: equal neighbours tied, non-pitches silent."""
    notes: list[tuple[int, int, int]] = []
    current, start = None, 0
    for step, tok in enumerate([*tokens, REST]):  # the sentinel rest closes the last note
        pitch = token_pitch(tok)
        # A piano roll cannot tell a held note from a repeated one, so equal neighbours are one long note.
        if pitch != current:
            if current is not None:
                notes.append((current, start * step_ticks, step * step_ticks))
            current, start = pitch, step
    return notes


def write_midi(tokens: Sequence[str], path: str | Path, step_ticks: int = DEFAULT_STEP_TICKS,
               tempo: float = DEFAULT_TEMPO_BPM, velocity: int = DEFAULT_VELOCITY) -> int:
    """Write the melody as a standard MIDI file (format 0, one track, channel 1); return the number of notes.

    One token lasts `step_ticks` ticks at 480 ticks per quarter note (the default 240 plays a step as an eighth
    note) and `tempo` quarter notes per minute. Consecutive equal pitches are tied into one note; `REST` and
    any other non-pitch token ("<eos>", "<pad>", "<unk>") are silence. Trailing rests are kept as track length.
    """
    if isinstance(tokens, str):
        raise ValueError("tokens must be a sequence of tokens, not one string; split it first (line.split())")
    if isinstance(step_ticks, bool) or not isinstance(step_ticks, int) or step_ticks < 1:
        raise ValueError(f"step_ticks must be a positive integer, got {step_ticks!r}")
    if not (isinstance(tempo, (int, float)) and math.isfinite(tempo) and tempo > 0):
        raise ValueError(f"tempo must be a positive number of beats per minute, got {tempo!r}")
    us_per_quarter = round(60_000_000 / tempo)
    if not 1 <= us_per_quarter < 1 << 24:  # the tempo meta event stores it in 3 bytes
        raise ValueError(f"tempo {tempo} bpm is outside what a MIDI file can store (about 3.6 to 60,000,000 bpm)")
    if isinstance(velocity, bool) or not isinstance(velocity, int) or not 1 <= velocity <= 127:
        raise ValueError(f"velocity must be an integer 1-127 (0 would be a note-off), got {velocity!r}")
    tokens = list(tokens)
    unknown = sorted({t for t in tokens if token_pitch(t) is None and t != REST}, key=str)
    if unknown:
        logger.debug("write_midi: tokens %s are not pitches and play as rests", unknown[:10])
    notes = melody_notes(tokens, step_ticks)
    end_tick = len(tokens) * step_ticks
    if end_tick > _MAX_VLQ:
        raise ValueError(f"{len(tokens)} steps of {step_ticks} ticks exceed what a MIDI delta time can hold")

    # (tick, order, bytes): at equal ticks a note-off (order 0) goes before the next note-on (order 1).
    events = [(0, 0, b"\xff\x51\x03" + us_per_quarter.to_bytes(3, "big"))]
    for pitch, start, end in notes:
        events.append((start, 1, bytes([0x90, pitch, velocity])))
        events.append((end, 0, bytes([0x80, pitch, 64])))
    events.sort(key=lambda e: (e[0], e[1]))
    track = bytearray()
    now = 0
    for tick, _, payload in events:
        track += encode_vlq(tick - now) + payload
        now = tick
    track += encode_vlq(end_tick - now) + b"\xff\x2f\x00"  # end of track, after any trailing rest
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_QUARTER)
    Path(path).write_bytes(header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track))
    return len(notes)


def read_midi_notes(path: str | Path) -> list[tuple[int, int, int]]:
    """(pitch, start tick, end tick) of every note in a format-0 MIDI file, sorted by start; a minimal parser."""
    data = Path(path).read_bytes()
    if data[:4] != b"MThd" or len(data) < 14:
        raise ValueError(f"{str(path)!r} is not a standard MIDI file (no MThd header)")
    header_len, fmt, ntracks, _division = struct.unpack(">IHHH", data[4:14])
    if fmt != 0 or ntracks != 1:
        raise ValueError(f"{str(path)!r} is MIDI format {fmt} with {ntracks} tracks; only format 0 (one track) is read")
    pos = 8 + header_len
    if data[pos:pos + 4] != b"MTrk":
        raise ValueError(f"{str(path)!r}: expected a track chunk (MTrk) at byte {pos}")
    (track_len,) = struct.unpack(">I", data[pos + 4:pos + 8])
    pos, end = pos + 8, pos + 8 + track_len
    if end > len(data):
        raise ValueError(f"{str(path)!r} is truncated: the track claims {track_len} bytes")
    notes: list[tuple[int, int, int]] = []
    sounding: dict[tuple[int, int], list[int]] = {}  # (channel, pitch) -> start ticks of notes still on
    tick, status = 0, None
    while pos < end:
        delta, pos = decode_vlq(data, pos)
        tick += delta
        if data[pos] & 0x80:
            status, pos = data[pos], pos + 1
        elif status is None or status >= 0xF0:  # running status applies only to channel messages
            raise ValueError(f"{str(path)!r}: data byte without a status at byte {pos}")
        if status == 0xFF:  # meta event: type, length, data
            meta_type = data[pos]
            length, pos = decode_vlq(data, pos + 1)
            pos += length
            if meta_type == 0x2F:
                break
            status = None
        elif status in (0xF0, 0xF7):  # sysex: length, data
            length, pos = decode_vlq(data, pos)
            pos += length
            status = None
        else:
            kind, channel = status & 0xF0, status & 0x0F
            n_data = 1 if kind in (0xC0, 0xD0) else 2
            args, pos = data[pos:pos + n_data], pos + n_data
            if kind == 0x90 and args[1] > 0:
                sounding.setdefault((channel, args[0]), []).append(tick)
            elif kind == 0x80 or (kind == 0x90 and args[1] == 0):  # note-on with velocity 0 is a note-off
                starts = sounding.get((channel, args[0]))
                if starts:
                    notes.append((args[0], starts.pop(0), tick))
    return sorted(notes, key=lambda n: (n[1], n[0]))


# ---------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    """`python -m seqgan.music build|midi ...`."""
    parser = argparse.ArgumentParser(prog="python -m seqgan.music", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build", help="derive train/valid/test.txt from the Nottingham piano rolls")
    p.add_argument("--length", type=int, default=SEQ_LEN, help="tokens per sequence (default: the paper's 32)")
    p.add_argument("--source", type=Path, default=SOURCE, help="the piano-roll JSON (default: the packaged one)")
    p.add_argument("--out", type=Path, default=CORPUS_DIR, help="where the .txt files go (default: next to the source)")
    p = sub.add_parser("midi", help="write one MIDI file per line of a token file")
    p.add_argument("sequences", type=Path, help="text file, one token sequence per line")
    p.add_argument("out", type=Path, help="folder for the .mid files")
    p.add_argument("--limit", type=int, default=None, help="only the first N lines")
    p.add_argument("--tempo", type=float, default=DEFAULT_TEMPO_BPM, help="quarter notes per minute")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        if args.command == "build":
            counts = build_corpus(args.source, args.out, args.length)
            vocab: Counter[str] = Counter()
            for c in counts.values():
                vocab.update(tok for seq in read_sequences(args.out / c.file) for tok in seq)
            for split, c in counts.items():
                print(json.dumps({"split": split, **asdict(c)}))
            pitches = sorted(int(t) for t in vocab if t != REST)
            print(json.dumps({"vocabulary_size": len(vocab), "pitch_range": [pitches[0], pitches[-1]],
                              "rest_share": vocab[REST] / sum(vocab.values())}))
        else:
            args.out.mkdir(parents=True, exist_ok=True)
            sequences = read_sequences(args.sequences)[:args.limit]
            width = len(str(len(sequences)))
            for i, seq in enumerate(sequences):
                write_midi(seq, args.out / f"{i:0{width}d}.mid", tempo=args.tempo)
            print(f"wrote {len(sequences)} MIDI files to {args.out}")
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
