"""Nottingham melody corpus, MIDI writing and the pitch MSE (seqgan.music)."""

import gzip
import json
import re

import numpy as np
import pytest

from seqgan.music import (
    CORPUS_DIR,
    REST,
    SEQ_LEN,
    build_corpus,
    decode_vlq,
    encode_vlq,
    melody_sequences,
    melody_tokens,
    pitch_mse,
    pitch_mse_per_sample,
    read_midi_notes,
    read_sequences,
    write_midi,
)

C_MAJOR = [48, 52, 55]
G7 = [43, 47, 50, 53]


def test_melody_is_the_top_voice_over_chords_with_rests():
    tune = [[*C_MAJOR, 64], [64, *C_MAJOR], [*C_MAJOR, 67], [], [*G7, 65], [71], [], [60]]
    assert melody_tokens(tune) == ["64", "64", "67", REST, "65", "71", REST, "60"]


def test_melody_accepts_any_iterable_of_pitches_and_numpy_ints():
    assert melody_tokens([(60, 72), {55}, np.array([40, 41])]) == ["72", "55", "41"]


@pytest.mark.parametrize("step", [[128], [-1], [60.0], ["60"], [True]])
def test_melody_rejects_non_pitches(step):
    with pytest.raises(ValueError, match="not a MIDI pitch"):
        melody_tokens([[60], step])


def test_windows_are_consecutive_and_drop_the_tail():
    tune_a = [[60 + i % 12] for i in range(10)]  # 10 steps -> 3 windows of 3, tail of 1 dropped
    tune_b = [[70]] * 2  # shorter than a window -> nothing
    seqs = melody_sequences([tune_a, tune_b], length=3)
    assert seqs == [["60", "61", "62"], ["63", "64", "65"], ["66", "67", "68"]]
    assert melody_sequences([tune_a], length=5) == [[str(60 + i) for i in range(5)], [str(65 + i) for i in range(5)]]
    with pytest.raises(ValueError, match="positive integer"):
        melody_sequences([tune_a], length=0)


def test_build_corpus_writes_each_split(tmp_path):
    data = {"train": [[[60]] * 7, [[62], []] * 2], "valid": [[[64]] * 3], "test": [[[67, 48]] * 6]}
    src = tmp_path / "src.json.gz"
    with gzip.open(src, "wt", encoding="utf-8") as f:
        json.dump(data, f)
    counts = build_corpus(src, tmp_path / "out", length=3)
    assert (counts["train"].tunes, counts["train"].sequences, counts["train"].dropped_steps) == (2, 3, 2)
    assert counts["train"].rest_tokens == 1
    assert read_sequences(tmp_path / "out" / "train.txt") == [["60"] * 3, ["60"] * 3, ["62", REST, "62"]]
    assert read_sequences(tmp_path / "out" / "valid.txt") == [["64"] * 3]
    assert read_sequences(tmp_path / "out" / "test.txt") == [["67"] * 3] * 2


def test_vlq_matches_the_midi_specification_examples():
    cases = {0: "00", 0x40: "40", 0x7F: "7F", 0x80: "81 00", 0x2000: "C0 00", 0x3FFF: "FF 7F",
             0x4000: "81 80 00", 0x100000: "C0 80 00", 0x1FFFFF: "FF FF 7F", 0x200000: "81 80 80 00",
             0x8000000: "C0 80 80 00", 0xFFFFFFF: "FF FF FF 7F"}
    for value, hex_bytes in cases.items():
        encoded = encode_vlq(value)
        assert encoded == bytes.fromhex(hex_bytes)
        assert decode_vlq(b"\x99" + encoded, 1) == (value, 1 + len(encoded))
    for bad in (-1, 0x10000000):
        with pytest.raises(ValueError):
            encode_vlq(bad)


def test_midi_round_trip_ties_rests_and_timing(tmp_path):
    tokens = [REST, "60", "60", "62", REST, "<unk>", "64", "64", "64", "60", "<eos>", "<pad>"]
    path = tmp_path / "m.mid"
    assert write_midi(tokens, path, step_ticks=100, tempo=90, velocity=77) == 4
    assert read_midi_notes(path) == [(60, 100, 300), (62, 300, 400), (64, 600, 900), (60, 900, 1000)]
    data = path.read_bytes()
    assert data[:14] == b"MThd" + bytes.fromhex("00000006 0000 0001 01e0")  # format 0, one track, 480 ticks/quarter
    assert b"\xff\x51\x03" + round(60e6 / 90).to_bytes(3, "big") in data  # tempo meta event
    assert data.endswith(encode_vlq(200) + b"\xff\x2f\x00")  # end of track after the two trailing rests
    assert int.from_bytes(data[18:22], "big") == len(data) - 22  # track chunk length
    assert bytes([0x90, 60, 77]) in data


def test_midi_long_notes_and_all_rests(tmp_path):
    path = tmp_path / "long.mid"
    write_midi(["67"] * 300, path)  # 300 * 240 ticks needs a 3-byte delta
    assert read_midi_notes(path) == [(67, 0, 72_000)]
    write_midi([REST] * 4, path)
    assert read_midi_notes(path) == []


def test_midi_rejects_bad_arguments(tmp_path):
    path = tmp_path / "x.mid"
    with pytest.raises(ValueError, match="split it"):
        write_midi("60 62", path)
    with pytest.raises(ValueError, match="velocity"):
        write_midi(["60"], path, velocity=0)
    with pytest.raises(ValueError, match="tempo"):
        write_midi(["60"], path, tempo=0)
    with pytest.raises(ValueError, match="step_ticks"):
        write_midi(["60"], path, step_ticks=0)
    path.write_bytes(b"not midi")
    with pytest.raises(ValueError, match="not a standard MIDI file"):
        read_midi_notes(path)


def _loop_mse(samples, references):
    """The definition written out: nearest reference by mean squared pitch difference over positions where both have a pitch."""
    total, n = 0.0, 0
    for s in samples:
        best = None
        for r in references:
            diffs = [(int(a) - int(b)) ** 2 for a, b in zip(s, r) if a.isdigit() and b.isdigit()]
            if diffs:
                m = sum(diffs) / len(diffs)
                best = m if best is None else min(best, m)
        if best is not None:
            total, n = total + best, n + 1
    return total / n


def _random_sequences(rng, n, length, rest_p=0.1):
    vocab = [str(p) for p in range(55, 80)]
    return [[REST if rng.random() < rest_p else str(rng.choice(vocab)) for _ in range(length)] for _ in range(n)]


def test_pitch_mse_equals_the_plain_loop():
    rng = np.random.default_rng(0)
    samples, refs = _random_sequences(rng, 30, 8), _random_sequences(rng, 45, 8)
    expected = _loop_mse(samples, refs)
    for chunk in (1, 7, 1024):  # chunking must not change the result
        assert pitch_mse(samples, refs, chunk_size=chunk) == pytest.approx(expected, rel=1e-12)


def test_pitch_mse_is_zero_for_a_reference_and_reads_specials_as_rests():
    rng = np.random.default_rng(1)
    refs = _random_sequences(rng, 20, SEQ_LEN)
    assert pitch_mse([refs[3], refs[11]], refs) == 0.0
    # a special token where the reference has a pitch is skipped, exactly like a rest
    sample = ["<eos>" if i == 0 else tok for i, tok in enumerate(refs[5])]
    assert pitch_mse([sample], refs) == 0.0
    per = pitch_mse_per_sample([["60", "62"], [REST, REST]], [["61", "62"], ["60", "65"]])
    assert per[0] == pytest.approx(0.5) and np.isnan(per[1])


def test_pitch_mse_nearest_reference_and_rest_skipping_by_hand():
    refs = [["60", "62", "64"], ["70", REST, "70"]]
    # to ref 0: (1 + 0 + 16) / 3; to ref 1: positions 0 and 2 only, (81 + 36) / 2 -> nearest is ref 0
    assert pitch_mse([["61", "62", "60"]], refs) == pytest.approx(17 / 3)
    assert pitch_mse([["70", "50", "71"]], refs) == pytest.approx(0.5)


def test_pitch_mse_at_evaluation_size_equals_the_plain_loop_on_a_subset():
    rng = np.random.default_rng(2)

    def corpus(n):  # pitches 48-89 with about 5% rests, so the masks matter
        tokens = rng.integers(48, 90, size=(n, SEQ_LEN)).astype(str)
        tokens[rng.random(tokens.shape) < 0.05] = REST
        return tokens.tolist()

    samples, refs = corpus(1000), corpus(2000)
    per_sample = pitch_mse_per_sample(samples, refs)
    assert per_sample.shape == (1000,)
    assert np.isfinite(per_sample).all() and (per_sample > 0).all() and (per_sample < 42 ** 2).all()
    # Every 25th sample against all 2000 references by the plain loop: exact integer sums, so equal bit for bit.
    subset = samples[::25]
    loop = [_loop_mse([s], refs) for s in subset]
    assert per_sample[::25].tolist() == loop
    assert pitch_mse_per_sample(subset, refs).tolist() == loop
    assert pitch_mse(subset, refs) == pytest.approx(sum(loop) / len(loop), rel=1e-12)  # _loop_mse(subset, refs)
    # The full result is the mean over samples of the per-sample values, whatever the chunking.
    result = pitch_mse(samples, refs)
    assert result == float(np.mean(per_sample))
    assert pitch_mse(samples, refs, chunk_size=300) == result
    assert pitch_mse_per_sample(samples, refs, chunk_size=300).tolist() == per_sample.tolist()


@pytest.mark.parametrize(("samples", "references", "message"), [
    ([], [["60"]], "non-empty"),
    ([["60"]], [], "non-empty"),
    (["60 62"], [["60", "62"]], "split it"),
    ([["60", "62"], ["60"]], [["60", "62"]], "one length"),
    ([["60", "62"]], [["60", "62", "64"]], "same length"),
    ([["60", "C4"]], [["60", "62"]], "'C4'"),
    ([["60", "128"]], [["60", "62"]], "'128'"),
    ([[]], [[]], "empty"),
    ([[REST, REST]], [["60", "62"]], "undefined"),
])
def test_pitch_mse_rejects_bad_input(samples, references, message):
    with pytest.raises(ValueError, match=message):
        pitch_mse(samples, references)


def test_pitch_mse_warns_about_all_rest_samples(caplog):
    with caplog.at_level("WARNING", logger="seqgan.music"):
        assert pitch_mse([["60", "62"], [REST, REST]], [["60", "62"]]) == 0.0
    assert "1 of 2 samples" in caplog.text


def test_committed_corpus_matches_its_readme():
    files = {s: read_sequences(CORPUS_DIR / f"{s}.txt") for s in ("train", "valid", "test")}
    readme = (CORPUS_DIR / "README.md").read_text(encoding="utf-8")
    for split, seqs in files.items():
        assert seqs and all(len(seq) == SEQ_LEN for seq in seqs), split
        row = re.search(rf"^\| {split} \| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \|", readme, re.M)
        assert row and int(row.group(3).replace(",", "")) == len(seqs), split
    vocab = {tok for seqs in files.values() for seq in seqs for tok in seq}
    assert vocab <= {REST} | {str(p) for p in range(128)}
    assert len(vocab) == int(re.search(r"Vocabulary size: (\d+)", readme).group(1))
    assert len(files["train"]) == 5355 and len(files["test"]) == 1344
