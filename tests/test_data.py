import pytest
import torch

from seqgan.data import (
    BOS_ID,
    DATASETS,
    EOS_ID,
    PAD_ID,
    UNK_ID,
    Vocabulary,
    dataset_path,
    detokenize,
    encode_lines,
    lengths,
    load_corpus,
    read_lines,
    tokenize,
    trim,
    valid_mask,
)
from seqgan.errors import DataError


def test_tokenizers_and_their_inverse():
    assert tokenize("a dog, running.", "word") == ["a", "dog", ",", "running", "."]
    assert tokenize("don't stop", "word") == ["don't", "stop"]
    assert tokenize("  a  b\tc ", "space") == ["a", "b", "c"]
    assert tokenize("秦 川", "char") == ["秦", " ", "川"]
    assert detokenize(tokenize("ab c", "char"), "char") == "ab c"
    with pytest.raises(DataError, match="unknown tokenizer"):
        tokenize("x", "bpe")


def test_vocabulary_build_frequency_order_cap_and_round_trip(tmp_path):
    seqs = [["b", "a", "b"], ["c", "b", "a"], ["d"]]
    vocab = Vocabulary.build(seqs)
    assert vocab.tokens[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert vocab.tokens[4:] == ["b", "a", "c", "d"]  # by count, ties alphabetical
    assert Vocabulary.build(seqs, min_freq=2).tokens[4:] == ["b", "a"]
    assert Vocabulary.build(seqs, max_size=6).tokens[4:] == ["b", "a"]
    assert vocab.encode(["a", "zzz"]) == [5, UNK_ID]
    assert vocab.decode([BOS_ID, 4, 5, EOS_ID, 6, PAD_ID]) == ["b", "a"]
    vocab.save(tmp_path / "v.json")
    assert Vocabulary.load(tmp_path / "v.json") == vocab
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="not a seqgan vocabulary"):
        Vocabulary.load(tmp_path / "bad.json")


def test_valid_mask_lengths_and_trim():
    tokens = torch.tensor([[5, 6, EOS_ID, 9, 9], [5, 5, 5, 5, 5], [EOS_ID, 0, 0, 0, 0]])
    assert valid_mask(tokens, EOS_ID).tolist() == [[1, 1, 1, 0, 0], [1] * 5, [1, 0, 0, 0, 0]]
    assert lengths(tokens, EOS_ID).tolist() == [3, 5, 1]
    assert lengths(tokens, None).tolist() == [5, 5, 5]
    assert valid_mask(tokens, None) is None
    assert trim([5, 6, EOS_ID, 9], EOS_ID) == [5, 6] and trim([5, 6], None) == [5, 6]


def test_encode_lines_appends_eos_pads_and_handles_long_lines():
    vocab = Vocabulary.build([["a", "b", "c"]])
    ids, too_long = encode_lines([["a"], ["a", "b", "c"], ["a", "b"]], vocab, seq_len=3)
    assert too_long == 1  # "a b c" + <eos> needs 4
    assert ids.tolist() == [[4, EOS_ID, PAD_ID], [4, 5, EOS_ID]]
    ids, _ = encode_lines([["a", "b", "c"]], vocab, seq_len=3, long_lines="truncate")
    assert ids.tolist() == [[4, 5, 6]]
    with pytest.raises(DataError, match="more than the 2 that fit"):
        encode_lines([["a", "b", "c"]], vocab, seq_len=3, long_lines="error")
    with pytest.raises(DataError, match="every sequence is longer"):
        encode_lines([["a", "b", "c"]], vocab, seq_len=2)
    fixed, _ = encode_lines([["a", "b", "c"]], vocab, seq_len=3, end_token=False)
    assert fixed.tolist() == [[4, 5, 6]]
    with pytest.raises(DataError, match="needs exactly 3"):
        encode_lines([["a"]], vocab, seq_len=3, end_token=False)


def test_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_lines(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("\n  \n")
    with pytest.raises(DataError, match="empty or blank"):
        read_lines(tmp_path / "empty.txt")
    (tmp_path / "bin.dat").write_bytes(b"\x89PNG\x00\x00\x01\x02")
    with pytest.raises(DataError, match="binary"):
        read_lines(tmp_path / "bin.dat")
    (tmp_path / "latin1.txt").write_bytes("ok line\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1.txt:2: not UTF-8"):
        read_lines(tmp_path / "latin1.txt")
    with pytest.raises(DataError, match="directory"):
        read_lines(tmp_path)


def test_user_file_corpus_with_held_out_split(tmp_path):
    lines = [f"the cat number {i} sat ." for i in range(40)] + ["a much longer line than any other line here " * 3]
    (tmp_path / "corpus.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    corpus = load_corpus("file", str(tmp_path / "corpus.txt"), max_len=8)
    assert corpus.seq_len == 8 and corpus.end_token
    assert len(corpus.train) + len(corpus.test) == 40  # the long line is dropped
    assert corpus.train[:, 0].eq(corpus.vocab.index["the"]).all()
    assert corpus.decode(corpus.train[0].tolist())[:2] == ["the", "cat"]
    again = load_corpus("file", str(tmp_path / "corpus.txt"), max_len=8)
    assert torch.equal(again.train, corpus.train) and torch.equal(again.test, corpus.test)  # fixed split
    auto = load_corpus("file", str(tmp_path / "corpus.txt"), test_path=str(tmp_path / "corpus.txt"))
    assert auto.seq_len == max(len(tokenize(line, "word")) for line in lines) + 1


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_bundled_datasets_load(name):
    ds = DATASETS[name]
    assert dataset_path(ds.train).exists() and dataset_path(ds.test).exists()  # files, or the folder a reader reads
    corpus = load_corpus(name)
    assert len(corpus.train) > 1000 and len(corpus.test) > (200 if name == "speeches" else 500)
    if name == "nottingham":
        assert corpus.seq_len == 32 and corpus.eos is None
        assert not (corpus.train == EOS_ID).any()
    else:
        assert (lengths(corpus.train, EOS_ID) <= corpus.seq_len).all()
        assert (corpus.train == EOS_ID).sum(1).eq(1).all()  # one end token per sequence
    if name == "poems":
        assert corpus.seq_len == 25  # 20 characters + 4 punctuation marks + <eos>


def test_every_bundled_dataset_is_a_data_source_and_a_dataset_choice():
    from seqgan.cli import DATASET_NAMES
    from seqgan.config import DATA_SOURCES

    assert DATA_SOURCES == ("oracle", "file", *DATASETS) and DATASET_NAMES == tuple(DATASETS)


def test_dropping_padding_columns_leaves_the_nll_unchanged():
    from seqgan.data import drop_padding_columns
    from seqgan.generator import Generator

    g = Generator(12, emb_dim=8, hidden_dim=8, seq_len=10, init_std=0.5, start_token=BOS_ID, eos_token=EOS_ID, pad_token=PAD_ID)
    batch = torch.tensor([[5, 6, EOS_ID] + [PAD_ID] * 7, [7, 8, 9, 5, EOS_ID] + [PAD_ID] * 5])
    cut = drop_padding_columns(batch, EOS_ID)
    assert cut.shape == (2, 5)
    assert torch.allclose(g.nll(cut), g.nll(batch), atol=1e-6)
    assert drop_padding_columns(batch, None) is batch
