"""Write tests/golden/tiny_methods.json: the tiny preset's evaluation records for every method.

Run only when a change of behaviour is intended (say so in the commit); test_golden.py compares
today's code against this file, bit for bit.
"""

import json
import sys
import tempfile
from pathlib import Path

from seqgan.config import preset
from seqgan.run import train

HERE = Path(__file__).parent
METHODS = ("seqgan", "mle", "ss", "pg_bleu", "random")


def records(method: str, overrides: list[str] | None = None) -> list[dict]:
    cfg = preset("tiny").override([f"train.method={method!r}", *(overrides or [])])
    with tempfile.TemporaryDirectory() as tmp:
        train(cfg, Path(tmp) / "run")
        rows = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
    for row in rows:
        row.pop("time_s")
    return rows


if __name__ == "__main__":
    out = {m: records(m) for m in METHODS}
    out["seqgan_mean_baseline"] = records("seqgan", ["train.advantage='mean'"])
    # Added with the methods they pin (after the refactor; checked equal to the code the Table 1 rows ran with).
    out["seqgan_rescale"] = records("seqgan", ["train.advantage='rescale'"])
    out["maligan"] = records("maligan")
    out["dpgan"] = records("dpgan")
    (HERE / "tiny_methods.json").write_text(json.dumps(out, indent=1) + "\n")
    sys.stdout.write(f"wrote {HERE / 'tiny_methods.json'}\n")
