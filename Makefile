# The two commands of README: `make demo` (main job) and `make test` (test suite).
# Both create the virtual environment and install the Debian data package on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup data demo test bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e ".[dev]"
	touch $@

data:
	@[ -e /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || \
		{ $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist; }

setup: $(VENV)/.installed data

demo: setup
	$(VENV)/bin/hf-nda demo --output_dir outputs/demo

test: setup
	$(PY) -m pytest -q -p no:cacheprovider

bench: setup
	$(PY) benchmarks/transforms.py

clean:
	rm -rf $(VENV) outputs
