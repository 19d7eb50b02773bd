# Two commands: `make demo` (set up + the small oracle experiment) and `make test` (set up + the suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SEED   ?= 0

.PHONY: demo test lint bench clean

# torch is installed first and pinned, so pip never resolves it to a CUDA build from the index.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/seqgan train --preset small --seed $(SEED) --out runs/demo-seed$(SEED) --resume

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check seqgan tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_adversarial_step.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache *.egg-info
