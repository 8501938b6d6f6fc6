# Two entry points (see README): `make demo` runs the main job on the sample data with local
# storage; `make test` lints and runs the tests. Both install first, once per dependency change.
PYTHON ?= python3.11
VENV ?= .venv
BLENDER_VENV ?= .venv-blender
STYLEMOTION_DATA ?= $(abspath $(CURDIR)/../shared/data)
STYLEMOTION_POSE_MODEL ?= $(abspath $(STYLEMOTION_DATA)/../models/pose_landmarker_full.task)
DEMO_OUT ?= out/demo
BIN := $(VENV)/bin
export STYLEMOTION_DATA STYLEMOTION_POSE_MODEL PYTHON VENV BLENDER_VENV

.PHONY: install blender demo test lint clean-demo

$(VENV)/.installed: pyproject.toml scripts/install.sh
	./scripts/install.sh
	touch $@

install: $(VENV)/.installed

$(BLENDER_VENV)/.installed: scripts/install_blender.sh
	./scripts/install_blender.sh
	touch $@

blender: $(BLENDER_VENV)/.installed

demo: install
	$(BIN)/stylemotion ingest-mocap $(STYLEMOTION_DATA)/motion/bandai_namco_1 --out $(DEMO_OUT)/dataset \
		--test-contents guide,byebye --val-fraction 0.1
	$(BIN)/stylemotion inspect $(DEMO_OUT)/dataset
	$(BIN)/stylemotion render $(DEMO_OUT)/dataset \
		$$($(BIN)/stylemotion list-clips $(DEMO_OUT)/dataset --style happy --content walk --limit 1 --ids-only) \
		$(DEMO_OUT)/happy_walk.mp4
	$(BIN)/stylemotion ingest-videos $(STYLEMOTION_DATA)/video/gvhmr/tennis.mp4 \
		$(STYLEMOTION_DATA)/video/footskate_reducer/dance.mp4 --style energetic --out $(DEMO_OUT)/dataset --sleep 0
	$(BIN)/stylemotion render $(DEMO_OUT)/dataset --overlay \
		$$($(BIN)/stylemotion list-clips $(DEMO_OUT)/dataset --style energetic --limit 1 --ids-only) \
		$(DEMO_OUT)/energetic_overlay.mp4

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint blender
	BLENDER_PYTHON=$(abspath $(BLENDER_VENV))/bin/python $(BIN)/pytest -q

clean-demo:
	rm -rf $(DEMO_OUT)
