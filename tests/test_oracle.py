import pytest
import torch

from seqgan.errors import DataError
from seqgan.oracle import Oracle, nll_oracle, read_token_file, write_token_file

from .conftest import REAL_DATA


def test_paper_oracle_scores_the_authors_data_at_5_761():
    # Golden value: the authors' real_data.txt under their own oracle. A change here means the npz→nn.LSTM
    # mapping (gate order, transposes, biases) or the NLL reduction no longer matches the reference code.
    nll = Oracle.paper().nll_of(read_token_file(REAL_DATA))
    assert nll == pytest.approx(5.761, abs=0.003)


def test_oracle_samples_score_near_its_own_entropy_and_uniform_scores_worse():
    oracle = Oracle.paper()
    own = oracle.nll_of(oracle.sample(2000))
    uniform = oracle.nll_of(torch.randint(0, 5000, (2000, 20)))
    assert own == pytest.approx(5.744, abs=0.08)
    assert uniform == pytest.approx(11.43, abs=0.15)


def test_random_oracle_is_determined_by_its_seed():
    a, b, c = Oracle.random(40, 8, 8, 6, seed=3), Oracle.random(40, 8, 8, 6, seed=3), Oracle.random(40, 8, 8, 6, seed=4)
    assert torch.equal(a.output.weight, b.output.weight)
    assert not torch.equal(a.output.weight, c.output.weight)
    assert a.output.weight.std().item() == pytest.approx(1.0, abs=0.2)  # N(0, 1) as the paper's oracle


def test_nll_oracle_of_the_oracle_itself_is_lower_than_of_a_random_generator():
    oracle = Oracle.random(30, 8, 8, 6, seed=0)
    stranger = Oracle.random(30, 8, 8, 6, seed=1)
    assert nll_oracle(oracle, oracle, 2000) < nll_oracle(oracle, stranger, 2000)


def test_token_files_round_trip(tmp_path):
    seqs = torch.randint(0, 50, (7, 5))
    write_token_file(tmp_path / "s.txt", seqs)
    assert torch.equal(read_token_file(tmp_path / "s.txt"), seqs)


@pytest.mark.parametrize("content, message", [
    (b"", "no sequences"),
    (b"\n  \n", "no sequences"),
    (b"\x00\x01\x02binary", "binary"),
    (b"1 2 \xff\xfe 3\n", "not UTF-8"),
    (b"1 2 3\n4 5\n", "length 2"),
    (b"1 2 x\n", "integer token ids"),
])
def test_bad_token_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_token_file(path)


def test_out_of_vocabulary_tokens_are_rejected():
    with pytest.raises(DataError, match=r"\[0, 4999\]"):
        Oracle.paper().nll_of(torch.full((2, 20), 5000))
