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
