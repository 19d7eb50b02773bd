"""What code a run ran on: seqgan's version and, in a git checkout, its commit; torch's and Python's versions.

train.log opens with it, summary.json and every checkpoint keep it, and a resumed run says in train.log when the
checkpoint it continues was written by other code (a resumed run is exact only on the same code and threads).
"""

from __future__ import annotations

import functools
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch


@functools.lru_cache(maxsize=1)
def software() -> dict[str, str]:
    """{"seqgan", "commit" (in a git checkout; "+changes" when seqgan/ differs from it), "torch", "python"}, read once
    per process: the code a process runs is what it imported."""
    import seqgan

    info = {"seqgan": seqgan.__version__}
    commit = _git_commit(Path(__file__).resolve().parent)
    if commit:
        info["commit"] = commit
    info.update(torch=str(torch.__version__), python=platform.python_version())  # TorchVersion is no plain str
    return info


def _git_commit(package: Path) -> str | None:
    """The checkout's commit holding `package`, None where it is not in one (an installed wheel) or git is absent."""
    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "-C", str(package), *args], capture_output=True, text=True, timeout=10)

    try:
        head = git("rev-parse", "--short=12", "HEAD")
        if head.returncode != 0:
            return None
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ".").stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+changes" if changed else "")


def describe(info: dict[str, Any]) -> str:
    """One line: "seqgan 0.1.0 (commit 788b7f0a1b2c), torch 2.13.0+cpu, Python 3.12.3"."""
    commit = f" (commit {info['commit']})" if info.get("commit") else ""
    return f"seqgan {info.get('seqgan', '?')}{commit}, torch {info.get('torch', '?')}, Python {info.get('python', '?')}"
