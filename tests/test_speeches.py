"""The speeches corpus: sentence splitting, cleaning, the split by paragraph, the shipped files and a tiny run."""

import hashlib
import json
import re

import pytest
import torch

from seqgan.cli import main
from seqgan.data import load_corpus
from seqgan.errors import DataError
from seqgan.speeches import CORPUS_DIR, FILES, clean_paragraph, read_paragraphs, speech_splits, split_sentences

# The counts seqgan/assets/corpora/speeches/README.md documents; a change here is a change of the corpus: update
# the README (and data/README.md) with the new numbers.
TRAIN_SENTENCES, TEST_SENTENCES = 2454, 238
TRAIN_KEPT, TEST_KEPT = 2405, 231  # at the default max_len 50, longer sentences dropped
VOCABULARY = 4669  # 4,665 training tokens + 4 specials


@pytest.mark.parametrize("paragraph, sentences", [
    ("We acted. And it worked.", ["We acted.", "And it worked."]),
    ("Is it over? No! We go on.", ["Is it over?", "No!", "We go on."]),
    ("Mr. Speaker, Mrs. Obama and Dr. King. Thank you.", ["Mr. Speaker, Mrs. Obama and Dr. King.", "Thank you."]),
    ("John F. Kennedy spoke. So do I. As I said.", ["John F. Kennedy spoke.", "So do I.", "As I said."]),
    ("The U.S. Senate voted. Good.", ["The U.S. Senate voted.", "Good."]),
    ('She wrote, "I voted." Then she left.', ['She wrote, "I voted."', "Then she left."]),
    ('It is done. "We did it," they said.', ["It is done.", '"We did it," they said.']),
    ("It grew faster in the U.S. than anywhere. see? lowercase goes on.", ["It grew faster in the U.S. than anywhere. see? "
                                                                           "lowercase goes on."]),
    ('He said, ". . . are willing." We are.', ['He said, ". . . are willing."', "We are."]),
    ("Chants of U.S.A.! U.S.A.!", ["Chants of U.S.A.!", "U.S.A.!"]),
    ("No end mark", ["No end mark"]),
])
def test_sentence_splitter_on_hand_made_cases(paragraph, sentences):
    assert split_sentences(paragraph) == sentences


def test_cleaning_removes_what_the_president_did_not_say():
    assert clean_paragraph("It works. [Applause] I thought so. [laughter]") == "It works. I thought so."
    assert clean_paragraph("The President. Mr. Speaker, thank you.") == "Mr. Speaker, thank you."
    assert clean_paragraph("My only agenda—[laughter]. Audience member. [Inaudible]") == "My only agenda— ."
    assert clean_paragraph("Audience members. U.S.A.! U.S.A.!") == ""
    assert clean_paragraph("projects based [on]* merit, and--[Laughter]--more") == "projects based on merit, and— —more"
    assert clean_paragraph("ran for President. These struggles") == "ran for President. These struggles"  # not a label


def test_split_keeps_each_paragraph_whole_and_counts_across_files(tmp_path):
    # 7 files x 3 paragraphs = paragraphs 0..20; 0, 10 and 20 are held out, wherever their file boundaries fall.
    for f, name in enumerate(FILES):
        paragraphs = [f"Paragraph {3 * f + k} opens. It ends {3 * f + k}." for k in range(3)]
        (tmp_path / name).write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    train, test = speech_splits(tmp_path)
    assert test == [s for i in (0, 10, 20) for s in (f"paragraph {i} opens.", f"it ends {i}.")]
    assert len(train) == 2 * 18 and not any(re.search(r"\b(0|10|20)\b", s) for s in train)
    (tmp_path / FILES[3]).unlink()
    with pytest.raises(DataError, match="2013-Obama-1.txt' not found"):
        speech_splits(tmp_path)


def test_every_shipped_file_matches_the_sha256_in_its_readme():
    readme = (CORPUS_DIR / "README.md").read_text(encoding="utf-8")
    documented = dict(re.findall(r"^\| `(\d{4}-Obama-1\.txt)` \|.*\| `([0-9a-f]{64})` \|$", readme, re.MULTILINE))
    assert sorted(documented) == list(FILES) == sorted(p.name for p in CORPUS_DIR.glob("*.txt"))
    for name, sha in documented.items():
        assert hashlib.sha256((CORPUS_DIR / name).read_bytes()).hexdigest() == sha, f"{name} differs from its README sha256"


def test_corpus_loads_with_the_documented_counts_and_a_fixed_split():
    train, test = speech_splits()
    assert (len(read_paragraphs()), len(train), len(test)) == (644, TRAIN_SENTENCES, TEST_SENTENCES)
    assert test[0].startswith("madam speaker, vice president biden, members of congress")  # paragraph 0 (2010)
    assert train[-2:] == ["god bless the united states of america.", "thank you."]  # 2016's end, paragraph 643
    assert all(s == s.lower() and s.strip() == s and s for s in train + test)
    # Only short refrains occur on both sides (the README lists them).
    assert set(train) & set(test) == {"it begins with our economy.", "not now.", "let's get it done.", "we do big things.",
                                      "but we can't stop there.", "it's time.", "it's the right thing to do."}
    torch.manual_seed(0)
    corpus = load_corpus("speeches")
    torch.manual_seed(1)
    again = load_corpus("speeches", split_seed=7)  # the split ignores seeds
    assert torch.equal(corpus.train, again.train) and torch.equal(corpus.test, again.test)
    assert (len(corpus.train), len(corpus.test), len(corpus.vocab), corpus.seq_len) == (TRAIN_KEPT, TEST_KEPT, VOCABULARY, 50)
    assert corpus.tokenizer == "word" and corpus.eos is not None and len(corpus.test_lines) == TEST_SENTENCES
    # The vocabulary is the training split's: "madam" opens only the 2010 address, whose paragraph 0 is held out.
    assert corpus.decode(corpus.test[0].tolist())[:4] == ["<unk>", "speaker", ",", "vice"]
    everything = load_corpus("speeches", max_len=89)
    assert (len(everything.train), len(everything.test)) == (TRAIN_SENTENCES, TEST_SENTENCES)


def test_tiny_training_run_on_speeches_writes_text_samples(tmp_path):
    run = tmp_path / "run"
    # A short max_len and a capped vocabulary keep the run (and its LM scores) to a few seconds.
    assert main(["-q", "train", "--preset", "tiny", "--dataset", "speeches", "--out", str(run), "--no-progress",
                 "--set", "train.adversarial_rounds=1", "--set", "train.pretrain_epochs=1", "--set", "data.max_len=16",
                 "--set", "data.max_vocab=500", "--set", "data.num_eval=64"]) == 0
    lines = (run / "samples" / "final.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1000 and all(line == line.lower() for line in lines)
    vocab = json.loads((run / "vocab.json").read_text())["tokens"]
    assert len(vocab) == 500 and vocab[4:7] == [".", ",", "the"]
    assert all(tok in vocab for line in lines for tok in line.split())
    final = json.loads((run / "summary.json").read_text())["final_samples"]
    assert 0 <= final["bleu3"] <= 1 and final["lm_score"] > 0
