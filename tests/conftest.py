"""Shared fixtures: tiny models in float64 so fast paths and references agree to rounding."""

from pathlib import Path

import pytest
import torch

from seqgan.config import preset

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO / "data" / "oracle" / "real_data.txt"


@pytest.fixture
def tiny_cfg():
    return preset("tiny")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(1234)


@pytest.fixture
def text_corpus(tmp_path):
    """A small English corpus of varying line lengths: 300 lines from a few templates."""
    import random

    rng = random.Random(0)
    subjects = ["a dog", "the cat", "two birds", "a man", "some children", "an old woman"]
    verbs = ["sits on", "runs across", "looks at", "walks near", "sleeps under"]
    objects = ["the bench", "a green field", "the busy street", "a wooden table near the window", "the river"]
    lines = [f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)}" + rng.choice(["", " .", " today ."])
             for _ in range(300)]
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
