# Two entry points, each working on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test venv clean qgis-plugin

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	# torch and torchvision as one release pair (the newest the package index here serves).
	$(BIN)/pip install --quiet "torch==2.14.1" "torchvision==0.29.1"
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

demo: $(STAMP)
	bash examples/demo.sh

# The QGIS Processing provider as $(DIST)/geopix_provider-<version>.zip (Plugins > Install from ZIP).
DIST ?= dist
qgis-plugin:
	$(PYTHON) qgis_plugin/build.py --out $(DIST)

clean:
	rm -rf $(VENV) out build *.egg-info
