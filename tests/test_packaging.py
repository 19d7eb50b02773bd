"""The wheel holds every package of the source tree (an editable install would hide a missing one)."""

from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_for_the_wheel():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "seqgan").rglob("__init__.py")}
    assert found == listed, f"pyproject.toml [tool.setuptools] packages should be {sorted(found)}"
