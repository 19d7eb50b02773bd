"""Golden test: the tiny preset's evaluation records of every method, bit for bit.

`tests/golden/tiny_methods.json` was written by `tests/golden/record.py` from the code before the
methods were made plug-ins. A refactor must leave every number identical on CPU. If this fails after
a change that was *meant* to alter training (a new random draw, another loss), say so in the commit
and re-record; if the change was a refactor, it altered behaviour and is wrong.
"""

import json
from pathlib import Path

import pytest

from tests.golden.record import records

GOLDEN = json.loads((Path(__file__).parent / "golden" / "tiny_methods.json").read_text())
CASES = {
    "seqgan": ("seqgan", []),
    "mle": ("mle", []),
    "ss": ("ss", []),
    "pg_bleu": ("pg_bleu", []),
    "random": ("random", []),
    "seqgan_mean_baseline": ("seqgan", ["train.advantage='mean'"]),
    "seqgan_rescale": ("seqgan", ["train.advantage='rescale'"]),
    "maligan": ("maligan", []),
    "dpgan": ("dpgan", []),
}


@pytest.mark.parametrize("name", list(CASES))
def test_tiny_preset_records_are_bit_identical_to_the_golden_file(name):
    method, overrides = CASES[name]
    got = records(method, overrides)
    want = GOLDEN[name]
    assert len(got) == len(want), f"{name}: {len(got)} evaluations, golden has {len(want)}"
    for g, w in zip(got, want):
        # Metrics added since the recording (health/*, D_φ's fit: d/p_real_*) are extra keys; every recorded number
        # must be identical.
        extra = set(g) - set(w)
        assert all(k.startswith(("health/", "d/p_real_")) for k in extra), f"{name}: unexpected new keys {sorted(extra)}"
        assert {k: g[k] for k in w} == w, f"{name}: evaluation differs from the golden record:\n got  {g}\n want {w}"
