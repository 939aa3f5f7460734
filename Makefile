# Two commands a newcomer needs (see README):  make demo   and   make test
# Both create .venv on first use and reuse it afterwards.
VENV  ?= .venv
PY    := $(VENV)/bin/python
BIN   := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
# torch/torchvision pinned to the releases verified on the project's machines (DESIGN.md §9).
TORCH ?= torch==2.14.1 torchvision==0.29.1

.PHONY: install demo test clean-venv
install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: install
	PATH="$(BIN):$$PATH" dvc repro

# Tests write checkpoints of ~230 MB into temporary folders; they all live in one folder that is removed at the end,
# so repeated runs never fill the disk.
test: install
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && export TMPDIR="$$tmp" PATH="$(BIN):$$PATH" && set -x && \
	nbdev-test --skip-folder-re '^(_|\.|experiments)' --n-workers 2 && \
	python -m pytest -q tests

clean-venv:
	rm -rf $(VENV)
