"""Obama's State of the Union addresses as sentences: a public stand-in for the SeqGAN paper's speech corpus.

The paper's Obama corpus (11,092 paragraphs) was never published. `assets/corpora/speeches/` ships the seven
addresses of 2010-2016 byte for byte (provenance, checksums and counts in its README.md); this module turns them
into the sentences `load_corpus("speeches")` trains on. Nothing derived is written to disk: the rule below runs at
load time (a few milliseconds) and is the corpus's only definition.

1. Paragraphs (`read_paragraphs`): every non-blank line of a file is one paragraph (the files put a blank line
   between paragraphs), numbered 0, 1, ... across the files in year order (644 in all).
2. Split: paragraph i is held out for testing when i % 10 == 0, whatever the seed. Whole paragraphs go to one
   side, because the sentences of one paragraph share their topic, names and rhetorical repeats ("Not now."
   twice in a row); splitting every 10th sentence would put a test sentence's own paragraph in the training set
   and inflate BLEU against it.
3. Cleaning (`clean_paragraph`): what the transcript adds to the President's words goes: audience reactions
   `[Applause]`, `[Laughter]`, `[Inaudible]`; the speaker label `The President.`; an audience interjection from
   its `Audience member(s).` label to the end of its paragraph. An editor's insertion `[on]*` keeps its word.
   The 2010-2012 transcripts' `--` becomes the later ones' dash `—`.
4. Sentences (`split_sentences`): see its docstring. Sentences are lowercased afterwards (the paper's samples and
   the COCO captions are lowercase too), then `load_corpus` word-tokenizes them like COCO.
"""

from __future__ import annotations

import re
from pathlib import Path

from seqgan.errors import DataError

CORPUS_DIR = Path(__file__).resolve().parent / "assets" / "corpora" / "speeches"
FILES = tuple(f"{year}-Obama-1.txt" for year in range(2010, 2017))
TEST_EVERY = 10
"""Paragraph i is a test paragraph when i % TEST_EVERY == 0."""

# Titles that end with a period inside a sentence ("Mr. Speaker"); single capitals are handled apart.
ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "st", "jr", "sr"})

_END = re.compile(r"""[.?!]+["'”’)\]]*(?=\s+["'“‘(]?[A-Z])""")
_LAST_WORD = re.compile(r"(\w+)$")
_REACTION = re.compile(r"\[(?:applause|laughter|inaudible)\]", re.IGNORECASE)
_INSERTION = re.compile(r"\[([^\]]*)\]\*?")
_AUDIENCE = re.compile(r"(?:^|\s)Audience members?\..*$")
_PRESIDENT = re.compile(r"^The President\.\s+")


def split_sentences(paragraph: str) -> list[str]:
    """Sentences of one paragraph, their text unchanged apart from the whitespace between them.

    A sentence ends at a run of `.`, `?` or `!` (with any closing quotes or parenthesis after it) that is followed
    by whitespace and then an uppercase letter, optionally behind an opening quote or parenthesis. A lone period
    does not end a sentence after a title (`Mr.`, `Mrs.`, `Ms.`, `Dr.`, `St.`, `Jr.`, `Sr.`) or after a single
    capital other than "I" (initials: "John F. Kennedy", "the U.S. Senate"), so "So do I. As I told" still splits.
    """
    sentences, start = [], 0
    for m in _END.finditer(paragraph):
        if m.group() == ".":
            word = _LAST_WORD.search(paragraph, 0, m.start())
            word = word.group(1) if word else ""
            if word.lower() in ABBREVIATIONS or (len(word) == 1 and word.isupper() and word != "I"):
                continue
        sentences.append(paragraph[start:m.end()].strip())
        start = m.end()
    sentences.append(paragraph[start:].strip())
    return [s for s in sentences if s]


def clean_paragraph(text: str) -> str:
    """The President's words of one transcript paragraph (see the module docstring, step 3), whitespace collapsed."""
    text = _REACTION.sub(" ", text)
    text = _AUDIENCE.sub("", text)
    text = _PRESIDENT.sub("", text)
    text = _INSERTION.sub(r"\1", text)
    text = text.replace("--", "—")
    return " ".join(text.split())


def read_paragraphs(folder: str | Path = CORPUS_DIR) -> list[str]:
    """Every paragraph of the seven addresses, in year order, as in the files."""
    paragraphs = []
    for name in FILES:
        try:
            text = (Path(folder) / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DataError(f"{str(Path(folder) / name)!r} not found; the speeches corpus ships with the package "
                            "(reinstall seqgan)") from None
        paragraphs += [line for line in text.splitlines() if line.strip()]
    return paragraphs


def speech_splits(folder: str | Path = CORPUS_DIR) -> tuple[list[str], list[str]]:
    """(train, test) sentences, lowercased: the sentences of every 10th paragraph (0, 10, 20, ...) are the test set."""
    train: list[str] = []
    test: list[str] = []
    for i, paragraph in enumerate(read_paragraphs(folder)):
        side = test if i % TEST_EVERY == 0 else train
        side += [s.lower() for s in split_sentences(clean_paragraph(paragraph))]
    return train, test
