# Entry points, each working on a fresh machine: `make demo`, `make test`, `make lint` and `make docs`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
DOCS_STAMP := $(VENV)/.installed-docs
# mypy's view of the installed package: geo_pix2pix/ with tiles/ and cli/ inside it, as symlinks
# (docs/contributing/checks.md says why)
TYPECHECK := build/typecheck/geo_pix2pix

.PHONY: demo test lint docs docs-serve venv clean qgis-plugin

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

# the docs site's builders (the docs extra), on top of the test install
$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e ".[test,docs]"
	touch $(DOCS_STAMP)

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

# The docs site into site/ (docs/ + mkdocs.yml); --strict: a broken link, a missing page or an API
# reference that no longer resolves fails the build. Offline: nothing is fetched while building.
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --site-dir site

# The same site, served with live reload on http://127.0.0.1:8000 while you edit docs/.
docs-serve: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs serve

demo: $(STAMP)
	bash examples/demo.sh

# The QGIS Processing provider as $(DIST)/geopix_provider-<version>.zip (Plugins > Install from ZIP).
DIST ?= dist
qgis-plugin:
	$(PYTHON) qgis_plugin/build.py --out $(DIST)

clean:
	rm -rf $(VENV) out build dist site *.egg-info
