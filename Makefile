# Two entry points (see README): `make demo` runs the main job on the sample data with local
# storage; `make test` lints and runs the tests. Both install first, once per dependency change.
PYTHON ?= python3.11
VENV ?= .venv
BLENDER_VENV ?= .venv-blender
STYLEMOTION_DATA ?= $(abspath $(CURDIR)/../shared/data)
STYLEMOTION_POSE_MODEL ?= $(abspath $(STYLEMOTION_DATA)/../models/pose_landmarker_full.task)
DEMO_OUT ?= out/demo
DEMO_STEPS ?= 120
BIN := $(VENV)/bin
export STYLEMOTION_DATA STYLEMOTION_POSE_MODEL PYTHON VENV BLENDER_VENV

.PHONY: install blender browser demo test lint clean-demo

$(VENV)/.installed: pyproject.toml scripts/install.sh
	./scripts/install.sh
	touch $@

install: $(VENV)/.installed

$(BLENDER_VENV)/.installed: scripts/install_blender.sh
	./scripts/install_blender.sh
	touch $@

blender: $(BLENDER_VENV)/.installed

browser:
	./scripts/install_browser.sh

# The main job: the Prefect `pipeline` flow on the sample data (flows/sample_config.py) with
# Prefect's embedded server: ingest-mocap + crawl-and-extract -> label-scenes (skipped without
# STYLEMOTION_SCENE_MODEL) -> train-encoders (short schedule) -> evaluate -> stylize-stages
# (motion VAE, diffusion base + adaptor, evaluator, three stylize jobs, evaluation) -> the
# report page $(DEMO_OUT)/report/index.html, with artifacts.
demo: install
	$(BIN)/stylemotion pipeline --data $(STYLEMOTION_DATA) --out $(DEMO_OUT) --steps $(DEMO_STEPS)
	$(BIN)/stylemotion inspect $(DEMO_OUT)/dataset

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint blender browser
	BLENDER_PYTHON=$(abspath $(BLENDER_VENV))/bin/python $(BIN)/pytest -q

clean-demo:
	rm -rf $(DEMO_OUT)
