# Two commands on a fresh clone: `make demo` (the main job) and `make test`.
# Each creates .venv and installs what it needs first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test system venv tools runtimes lint lock bench-stack bench-generate bench-feast bench-features bench-airflow bench-demo clean

demo: system venv
	$(BIN)/txlake demo

test: system venv tools
	$(BIN)/python -m pytest -p no:cacheprovider tests

system:
	@bash scripts/install_system.sh

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

# Validators for docker_all/ (compose CLI built from its Go module, hadolint).
tools: venv
	@bash scripts/install_compose_tools.sh

# Re-pin requirements.txt from the current .venv (after changing pyproject.toml).
lock: venv
	{ echo "# The pinned lock of the Python environment (.venv), made with pip freeze on Python 3.11."; \
	  echo "# Ranges live in pyproject.toml; regenerate after changing them: make lock"; \
	  $(BIN)/pip freeze --exclude-editable | grep -v -e '^-e' -e '^txlake'; } > requirements.txt

# The Spark 3.5 runtime the Deequ checks run in (installed on first use otherwise).
runtimes: venv
	$(BIN)/python -c "from txlake.settings import get_settings; from txlake.quality.runtime import install; install(get_settings())"

lint: venv
	$(BIN)/ruff check txlake tests bench external_scripts scripts

bench-stack: system venv
	$(BIN)/python bench/bench_stack.py

bench-generate: system venv
	$(BIN)/python bench/bench_generate.py

# Feast online lookup latency (sqlite, postgres) and materialization speed, on a copy.
bench-feast: system venv
	$(BIN)/python bench/bench_feast.py

# Airflow on the running stack (txlake stack up first): idle memory, start time, one daily run.
bench-airflow: venv
	$(BIN)/python bench/bench_airflow.py

# Needs the running stack (txlake stack up); writes only under s3://<bucket>/_bench/.
bench-features: venv
	$(BIN)/python bench/bench_features.py

bench-demo: system venv
	$(BIN)/python bench/bench_demo.py

clean:
	-$(BIN)/txlake stack down
	rm -rf $(VENV)
