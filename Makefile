# Two commands a newcomer needs (see README):  make demo   and   make test
# Both create .venv on first use and reuse it afterwards.
VENV  ?= .venv
PY    := $(VENV)/bin/python
BIN   := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
# torch/torchvision pinned to the releases verified on the project's machines (PyPI's wheels for Python 3.11: CPU and CUDA).
TORCH ?= torch==2.14.1 torchvision==0.29.1

.PHONY: install demo test clean-venv
install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@# uv installs the same packages as pip in about half the time (it fetches and unpacks in parallel). Like pip, it is
	@# told to write the bytecode now: where PYTHONDONTWRITEBYTECODE is set, every stage would otherwise recompile torch
	@# from source (~20 s a process).
	$(PY) -m pip install -q uv
	$(PY) -m uv pip install --python $(PY) -q --compile-bytecode $(TORCH) -e '.[dev]'
	@# jsonschema imports rfc3987-syntax when present (jupyter-events pulls it in) and that builds a parser at import:
	@# papermill on an empty notebook takes 4.5 s with it, 1.7-2.1 s without; ~2 min over make demo's 42 stages.
	@# It only checks the 'iri' formats of JSON schemas, which nothing here uses.
	$(PY) -m uv pip uninstall --python $(PY) -q rfc3987-syntax
	@touch $(STAMP)

# dvc repro on a local Ray sized to the machine (bigarts.scheduler: on 2 cores, two one-thread trainings side by side).
# A plain `dvc repro` gives the same models and tables.
demo: install
	PATH="$(BIN):$$PATH" bigarts repro
	$(BIN)/bigarts readme   # the README's headline table := tables/table1.md (tests/test_audit.py checks they agree)

# Tests write checkpoints (up to ~230 MB each) into temporary folders. They live in one folder removed at the end,
# the notebooks' part of it is removed before pytest starts, and pytest drops each passing test's folder at once
# (tmp_path_retention_policy in pyproject.toml): the disk holds a few GB at most, never the sum over all tests.
test: install
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && export PATH="$(BIN):$$PATH" && mkdir "$$tmp/nbs" && set -x && \
	TMPDIR="$$tmp/nbs" nbdev-test --skip-folder-re '^(_|\.|experiments)' --n-workers 2 && rm -rf "$$tmp/nbs" && \
	TMPDIR="$$tmp" python -m pytest -q tests

clean-venv:
	rm -rf $(VENV)
