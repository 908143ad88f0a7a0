# Entry points, each working on a fresh machine: `make demo`, `make test` and `make lint`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# mypy's view of the installed package: geo_pix2pix/ with tiles/ and cli/ inside it, as symlinks
# (docs/contributing/checks.md says why)
TYPECHECK := build/typecheck/geo_pix2pix

.PHONY: demo test lint venv clean qgis-plugin

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	# torch and torchvision as one release pair (the newest the package index here serves).
	$(BIN)/pip install --quiet "torch==2.14.1" "torchvision==0.29.1"
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

# the checkers and the type stubs (the dev extra), on top of the test install
$(DEV_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e ".[test,dev]"
	touch $(DEV_STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

lint: $(DEV_STAMP)
	$(BIN)/python -m ruff check .
	rm -rf build/typecheck
	mkdir -p $(TYPECHECK)
	for f in geo_pix2pix/*; do case $$f in */__pycache__) ;; *) ln -s ../../../$$f $(TYPECHECK)/ ;; esac; done
	ln -s ../../../tiles $(TYPECHECK)/tiles
	ln -s ../../../cli $(TYPECHECK)/cli
	$(BIN)/python -m mypy

demo: $(STAMP)
	bash examples/demo.sh

# The QGIS Processing provider as $(DIST)/geopix_provider-<version>.zip (Plugins > Install from ZIP).
DIST ?= dist
qgis-plugin:
	$(PYTHON) qgis_plugin/build.py --out $(DIST)

clean:
	rm -rf $(VENV) out build dist *.egg-info
