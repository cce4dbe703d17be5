# Every target creates or reuses .venv from requirements.txt, so a fresh clone needs only Python 3.11+ and make.
SHELL := bash
export TF_CPP_MIN_LOG_LEVEL ?= 2
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
SUBMISSIONS ?= instructor/submitted
WORKERS ?= 2
# Seconds one notebook cell may run while autograding; empty keeps instructor/nbgrader_config.py's limit.
TIMEOUT ?=

.PHONY: test run notebook data references figures release autograde bench model photo-stats feedback-report clean

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed (found $$($(PYTHON) --version))."; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

## test: run the project's own test suite
test: $(STAMP)
	$(PY) -m pytest tests

## data: build datasets/train_signs.h5 and datasets/test_signs.h5 (SIGNS_ARCHIVE=<zip> to use a local copy)
data: $(STAMP)
	$(PY) signs_data.py

## run: build the data if needed, execute the notebook with the reference solution, write outputs/
run: data
	$(PY) tools/run_notebook.py

## notebook: open the student notebook in JupyterLab
notebook: $(STAMP)
	$(VENV)/bin/jupyter lab ResNet50.ipynb

## references: regenerate the reference tensors in outputs/references from the instructor solution
references: $(STAMP)
	$(PY) tools/make_references.py

## figures: redraw the diagrams in images/
figures: $(STAMP)
	$(PY) tools/draw_figures.py

## release: generate the student notebook from the instructor source with nbgrader
release: $(STAMP)
	$(PY) tools/release.py

## autograde: grade SUBMISSIONS/<student>.ipynb into outputs/grades.csv and outputs/feedback/
autograde: $(STAMP)
	$(PY) tools/autograde.py "$(SUBMISSIONS)" --workers $(WORKERS) $(if $(TIMEOUT),--timeout $(TIMEOUT))

## bench: precision, speed, accuracy, camera shift and robustness of the recipes, write outputs/bench.json
bench: data
	$(PY) tools/bench.py

## model: train the model for learners' own photos (about 10 min on 2 cores), save outputs/resnet50_signs.keras
model: data
	$(PY) tools/train_model.py

## photo-stats: measure the SIGNS photos (colour, hand size and position, sharpness) and their camera-shifted copies
photo-stats: data
	$(PY) tools/photo_statistics.py

## feedback-report: show how the public tests react to the catalogue of learner mistakes
feedback-report: $(STAMP)
	$(PY) tools/feedback_report.py

clean:
	rm -rf $(VENV) .pytest_cache
