# The two commands a newcomer needs: `make demo` and `make test`. Both bootstrap .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready
OUT := out/demo
# Blender writes logs to stdout itself; keep ours readable.
FORGE := $(BIN)/python scripts/forge.py

NODE_READY := tests/node/node_modules/.package-lock.json

.PHONY: all venv build lint test demo clean node corpus test-matrix test-matrix-smoke mutate

all: test

$(READY): requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: $(PYTHON) not found: Avatar Forge needs Python 3.11 (the bpy module is built for it)" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

venv: $(READY)

# mcp-for-blender (BlenderMCP's newer MCP server) for the socket server's compatibility tests. It gets a
# virtualenv of its own: it installs into the same `blender_mcp` package as blender-mcp 1.5.5 in .venv.
MCP4B := .venv-mcp4b
MCP4B_READY := $(MCP4B)/.ready

$(MCP4B_READY): requirements-mcp4b.txt
	@test -x $(MCP4B)/bin/python || $(PYTHON) -m venv $(MCP4B)
	$(MCP4B)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-mcp4b.txt
	@touch $@

venv: $(MCP4B_READY)
test: $(MCP4B_READY)

# The VRM consumers the export tests load files in: three + @pixiv/three-vrm, and the Khronos validator.
$(NODE_READY): tests/node/package.json tests/node/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make: npm not found: the VRM export tests need Node.js 20+ and npm" >&2; exit 1; }
	npm ci --prefix tests/node --no-audit --no-fund
	@touch $@

node: $(NODE_READY)

# The third-party humanoid corpus (tests/corpus/SOURCES.md): FBX2glTF from its own npm lock, then build.py,
# which skips the models already built from the same inputs.
CORPUS := out/corpus
CORPUS_NODE_READY := tests/corpus/node_modules/.package-lock.json

$(CORPUS_NODE_READY): tests/corpus/package.json tests/corpus/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make: npm not found: the corpus needs Node.js 20+ and npm (for FBX2glTF)" >&2; exit 1; }
	npm ci --prefix tests/corpus --no-audit --no-fund
	@touch $@

corpus: $(READY) $(CORPUS_NODE_READY)
	$(BIN)/python tests/corpus/build.py $(CORPUS)

build: $(READY)
	$(BIN)/python build.py

lint: $(READY)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy addon scripts build.py bench tests

test: lint build node corpus
	$(BIN)/python -m pytest

# Breaks each safety guard of tests/mutations.toml in a scratch copy and runs the tests that must notice
# (slow: one pytest run per mutation, twice; not part of `make test`). `make mutate ONLY=mapping` filters.
mutate: $(READY)
	$(BIN)/python bench/mutate.py $(ONLY)

# The suite on every Blender we support, each in its own pinned virtualenv under .venv-matrix/: 4.5 LTS is
# .venv itself; the others install requirements.txt with the pins of requirements/bpy-<version>.txt instead
# of its own, under the Python that file names (`# python: X.Y`, else 3.11). A table of results ends it.
MATRIX := 4.2 4.5 5.0 5.3
MATRIX_DIR := .venv-matrix
MATRIX_SMOKE := $(firstword $(MATRIX)) $(lastword $(MATRIX))
matrix_python = $(or $(shell sed -n 's/^\# python: *//p' requirements/bpy-$(1).txt 2>/dev/null),3.11)
matrix_bin = $(if $(filter 4.5,$(1)),$(BIN),$(MATRIX_DIR)/bpy-$(1)/bin)
matrix_ready = $(if $(filter 4.5,$(1)),$(READY),$(MATRIX_DIR)/bpy-$(1)/.ready)
# pythonX.Y from PATH, else pyenv's (its shim refuses a version that is installed but not selected).
find_python = for p in python$(1) "$$(pyenv root 2>/dev/null)"/versions/$(1).*/bin/python$(1); do \
	"$$p" -c "" 2>/dev/null && { echo "$$p"; break; }; done

$(MATRIX_DIR)/bpy-%/.ready: requirements/bpy-%.txt requirements.txt
	@py=$$($(call find_python,$(call matrix_python,$*))); test -n "$$py" || { echo "make: python$(call matrix_python,$*) not found: bpy $* is built for Python $(call matrix_python,$*) (install it, or put it on PATH)" >&2; exit 1; }; \
	test -x $(@D)/bin/python || "$$py" -m venv $(@D)
	@pinned=$$(sed -n 's/^\([A-Za-z0-9_.-]*\)==.*/\1/p' requirements/bpy-$*.txt | paste -sd'|'); \
	{ grep -viE "^($$pinned)==" requirements.txt; cat requirements/bpy-$*.txt; } > $(@D)/requirements.txt
	$(@D)/bin/python -m pip install --quiet --disable-pip-version-check -r $(@D)/requirements.txt
	@touch $@

test-matrix: build node corpus $(MCP4B_READY) $(foreach v,$(MATRIX),$(call matrix_ready,$(v)))
	$(BIN)/python tests/matrix.py $(foreach v,$(MATRIX),bpy-$(v)=$(call matrix_bin,$(v))/python)

# CI's cross-version check: the tests marked smoke on the oldest and the newest Blender.
test-matrix-smoke: build node $(MCP4B_READY) $(foreach v,$(MATRIX_SMOKE),$(call matrix_ready,$(v)))
	$(BIN)/python tests/matrix.py $(foreach v,$(MATRIX_SMOKE),bpy-$(v)=$(call matrix_bin,$(v))/python) -- -m smoke

demo: build node
	@mkdir -p $(OUT)
	$(FORGE) demo-avatar --out $(OUT)/Avatar.blend --render $(OUT)/Avatar.png --force
	$(FORGE) check --blend $(OUT)/Avatar.blend --target companions-web
	$(FORGE) export --blend $(OUT)/Avatar.blend --preset companions-web --out $(OUT)/Avatar.vrm --force
	@echo "three-vrm and the glTF validator on $(OUT)/Avatar.vrm:"
	@node tests/node/vrm_summary.mjs $(OUT)/Avatar.vrm
	@rm -rf $(OUT)/storage $(OUT)/serving && mkdir -p $(OUT)/storage
	$(FORGE) publish --blend $(OUT)/Avatar.blend --name Avatar --preset companions-web --root $(OUT)/storage
	$(FORGE) promote --config deploy/demo-promote.toml --once
	@echo
	@echo "demo results:"
	@echo "  extension zip   $$(ls dist/avatar_forge-*.zip)"
	@echo "  demo avatar     $(OUT)/Avatar.blend"
	@echo "  front render    $(OUT)/Avatar.png"
	@echo "  VRM export      $(OUT)/Avatar.vrm"
	@echo "  published       $(OUT)/storage/exports/Avatar-v1.vrm (and projects/, promotion/done/)"
	@echo "  promoted        $(OUT)/serving/{nfs,mirror,r2}-standin/Avatar-v1.vrm + index.json"

clean:
	rm -rf dist out
