"""The wheel holds every package and data file of the source tree (an editable install would hide a missing one)."""

from pathlib import Path, PurePosixPath

import tomllib

REPO = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_for_the_wheel():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "seqgan").rglob("__init__.py")}
    assert found == listed, f"pyproject.toml [tool.setuptools] packages should be {sorted(found)}"


def test_every_bundled_corpus_file_is_in_the_package_data():
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["seqgan"]
    corpora = REPO / "seqgan" / "assets" / "corpora"
    files = [p for p in corpora.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert {p.parent.name for p in files} >= {"coco", "chinese_poems", "emnlp_news", "nottingham", "speeches"}
    for path in files:
        relative = PurePosixPath(path.relative_to(REPO / "seqgan").as_posix())
        assert any(relative.match(g) for g in globs), f"{relative} is not in [tool.setuptools.package-data] seqgan = {globs}"
