# dl_cls — one Makefile for the whole pipeline. `make help` lists targets and variables.
# Lower-case key=value words on the make command line (e.g. `make train MODEL=tiny epochs=2 pretrained=false`)
# are passed to the stage command as config overrides.

SHELL := /bin/bash
.DEFAULT_GOAL := help

WORK    ?= work
SAMPLE  ?= $(WORK)/sample
# DATA: data/ when it holds train.csv, otherwise the embedded sample (generated on first use).
DATA    ?= $(if $(wildcard data/train.csv),data,$(SAMPLE))
VENV    ?= .venv
PYTHON  ?= python3
DLCLS   := $(VENV)/bin/dl-cls
STAMP   := $(VENV)/.installed

# stage variables (empty = the command's default)
SCALE      ?= 10
PRESET     ?= doc
SIZE       ?=
WORKERS    ?=
SEED       ?=
BALANCE    ?=
OVERSAMPLE ?=
MODEL      ?= tiny
AUG        ?=
FOLDS      ?=
EPOCHS     ?=
POSE       ?=
NPROC      ?= 1
CLASSES    ?=
FOCUS      ?=
FRACTION   ?=
NAME       ?=
RESUME     ?=
RUNS       ?=
METHOD     ?=
SPECIALISTS ?=
RUN        ?=
PSEUDO     ?=
FROM       ?=
FILE       ?=
ARGS       ?=

# a path with a space cannot pass through make: it splits prerequisites (DATA_DEP) and arguments at spaces, so
# every target would get half a path. Refused here, before any target runs (WORK first: SAMPLE and DATA build on it).
$(foreach v,WORK SAMPLE DATA,$(if $(word 2,$($(v))),$(error $(v)='$($(v))' contains a space; make splits it into \
  words: use a path without spaces (a symlink to the folder will do))))

# lower-case key=value words given on the make command line -> config overrides
OVERRIDES := $(shell printf '%s\n' $(MAKEOVERRIDES) | grep -E '^[a-z_][a-zA-Z0-9_.]*=' || true)
COMMON    := --data $(DATA) --work $(WORK)

.PHONY: help install test test-fast demo sample check-data folds augment augment-list augment-preview bench-augment config train sweep-fraction merge-folds \
        predict ensemble pseudo runs notebook report check-submission profile profile-fit ocr ocr-deps clean-venv

help: ## list targets and variables
	@echo "dl_cls — document-image classification pipeline"
	@echo
	@echo "targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  make \1\t\2/' | expand -t 26
	@echo
	@echo "variables (current value):"
	@echo "  DATA=$(DATA)   data dir (default: data/ if it has train.csv, else the embedded sample at SAMPLE)"
	@echo "  WORK=$(WORK)   where folds, aug sets, runs and ensembles go"
	@echo "  augment:  SCALE=$(SCALE) PRESET=$(PRESET) SIZE WORKERS SEED BALANCE=1 OVERSAMPLE=3=2,4=2"
	@echo "  train:    MODEL=$(MODEL) AUG=dir FOLDS=0,1 EPOCHS NPROC=$(NPROC) CLASSES=3,4,7,14 FOCUS=3,4,7,14:3 FRACTION NAME RESUME=run"
	@echo "  train:    POSE=upright: learn upright pages; the pose model straightens each test page first"
	@echo "  train:    without AUG the current set of DATA (the last make augment) is used; AUG=none: the originals"
	@echo "  pseudo:   FROM=ensemble-or-run threshold=0.9 cap_ratio=1 NAME; then augment/train PSEUDO=set|none"
	@echo "  ensemble: RUNS=\"a b\" METHOD=soft|hard|weighted|stack SPECIALISTS=\"s\" NAME (no RUNS: every finished run)"
	@echo "  notebook: RUN=run-or-ensemble (default: the latest ensemble)"
	@echo "  report:   RUN=run-or-ensemble dir      check-submission: FILE=submission.csv"
	@echo "  ARGS=...  extra arguments for the stage command; lower-case key=value words are config overrides"

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	NO_ALBUMENTATIONS_UPDATE=1 $(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP) ocr-deps ## create .venv and install dl_cls (editable, with dev extra); idempotent

# the OCR engine is a Debian package (no pip wheel ships tesseract with Korean data): installed only when missing,
# only as root with apt-get (CI); otherwise one line says how, and the OCR tests skip. The sample draws Korean text
# with the Korean fonts (dl_cls/data/fonts.py looks for exactly these files): installed the same way.
ocr-deps: ## install tesseract + Korean data and Korean fonts (apt-get, as root) when missing
	@if command -v tesseract >/dev/null 2>&1 && tesseract --list-langs 2>/dev/null | grep -qx kor; then :; \
	 elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	   echo "ocr-deps: installing the OCR engine: apt-get install -y tesseract-ocr tesseract-ocr-kor"; \
	   { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-kor >/dev/null; } \
	     || echo "ocr-deps: apt-get failed; dl-cls ocr and its tests need tesseract (they skip without it)"; \
	 else echo "ocr-deps: tesseract with Korean data is missing (dl-cls ocr needs it): sudo apt-get install tesseract-ocr tesseract-ocr-kor"; fi
	@if [ -n "$$(ls /usr/share/fonts/truetype/nanum/*.ttf /usr/share/fonts/opentype/noto/*CJK*.ttc 2>/dev/null)" ]; then :; \
	 elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	   echo "ocr-deps: installing Korean fonts: apt-get install -y fonts-nanum fonts-noto-cjk"; \
	   { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-nanum fonts-noto-cjk >/dev/null; } \
	     || echo "ocr-deps: apt-get failed; dl-cls sample needs a Korean font (fonts-nanum)"; \
	 else echo "ocr-deps: no Korean font (dl-cls sample draws Korean text): sudo apt-get install fonts-nanum fonts-noto-cjk"; fi

test: install ## check the import layers, then run the test suite
	$(VENV)/bin/lint-imports
	NO_ALBUMENTATIONS_UPDATE=1 $(VENV)/bin/pytest -q --durations=15 $(ARGS)

test-fast: install ## the quick tests only (not marked slow): under a minute, for the edit-test loop
	NO_ALBUMENTATIONS_UPDATE=1 $(VENV)/bin/pytest -q -m "not slow" $(ARGS)

demo: install ## install + the whole pipeline on the embedded sample, on CPU
	bash scripts/demo.sh

$(SAMPLE)/train.csv: | $(STAMP)
	$(DLCLS) sample $(SAMPLE)

sample: install ## generate the embedded sample dataset into SAMPLE (contact_sheet.png inside)
	@if [ -f $(SAMPLE)/train.csv ]; then echo "$(SAMPLE) exists (delete it to regenerate)"; \
	 else $(DLCLS) sample $(SAMPLE) $(ARGS); fi

# the sample is generated on first use when DATA points at it
DATA_DEP := $(if $(filter $(SAMPLE),$(DATA)),$(SAMPLE)/train.csv)

check-data: install $(DATA_DEP) ## validate DATA and print a summary
	$(DLCLS) check-data $(DATA) $(ARGS)

folds: install $(DATA_DEP) ## write WORK/folds.csv (stratified k-fold, shared by every model)
	$(DLCLS) folds $(COMMON) $(ARGS)

augment: install $(DATA_DEP) ## offline augmentation: WORK/aug/<preset>_x<scale>_s<seed>/
	$(DLCLS) augment $(COMMON) --scale $(SCALE) --preset $(PRESET) $(if $(SIZE),--size $(SIZE)) \
	  $(if $(WORKERS),--workers $(WORKERS)) $(if $(SEED),--seed $(SEED)) $(if $(BALANCE),--balance) \
	  $(if $(OVERSAMPLE),--oversample $(OVERSAMPLE)) $(if $(PSEUDO),--pseudo $(PSEUDO)) $(ARGS)

augment-list: install ## print PRESET's ops and probabilities
	$(DLCLS) augment --list $(PRESET)

augment-preview: install $(DATA_DEP) ## contact sheet of PRESET: WORK/aug/preview_<preset>.png
	$(DLCLS) augment $(COMMON) --preview $(PRESET) $(if $(SIZE),--size $(SIZE)) $(if $(SEED),--seed $(SEED)) $(ARGS)

bench-augment: install ## doc preset vs augraphy's default pipeline, one core; ARGS="--data DIR --draws 1000"
	$(VENV)/bin/python bench/augment_speed.py $(ARGS)

TRAIN_CMD = $(if $(filter-out 1,$(NPROC)),$(VENV)/bin/torchrun --standalone --nproc_per_node=$(NPROC) -m dl_cls.cli,$(DLCLS))
# RESUME=run continues that run (its model comes from the run; finished folds are skipped)
TRAIN_ARGS = $(COMMON) $(if $(RESUME),--resume $(RESUME),--model $(MODEL)) $(if $(AUG),--aug $(AUG)) $(if $(PSEUDO),--pseudo $(PSEUDO)) \
	  $(if $(FOLDS),--folds $(FOLDS)) $(if $(NAME),--name $(NAME)) $(if $(EPOCHS),--epochs $(EPOCHS)) \
	  $(if $(POSE),--pose $(POSE)) $(if $(CLASSES),--classes $(CLASSES)) $(if $(FOCUS),--focus $(FOCUS)) $(if $(FRACTION),--fraction $(FRACTION)) \
	  $(OVERRIDES) $(ARGS)

config: install ## the resolved training config of MODEL, with where each value came from
	$(DLCLS) config $(MODEL) $(OVERRIDES) $(ARGS)

train: install $(DATA_DEP) ## k-fold training of MODEL: WORK/runs/<name>/
	$(TRAIN_CMD) train $(TRAIN_ARGS)

sweep-fraction: install $(DATA_DEP) ## train MODEL on 0.1..1.0 of AUG; table + plot of F1 and time
	$(DLCLS) sweep-fraction $(COMMON) --model $(MODEL) $(if $(AUG),--aug $(AUG)) $(if $(FOLDS),--folds $(FOLDS)) \
	  $(if $(NAME),--name $(NAME)) $(if $(EPOCHS),--epochs $(EPOCHS)) $(OVERRIDES) $(ARGS)

merge-folds: install ## merge folds of RUN trained in separate processes
	$(DLCLS) merge-folds $(RUN) --work $(WORK) $(ARGS)

predict: install ## test probabilities for DATA with RUN's models + TTA
	$(DLCLS) predict $(RUN) --data $(DATA) --work $(WORK) $(ARGS)

ensemble: install ## voting/stacking/specialists over RUNS -> WORK/ensembles/<name>/submission.csv
	$(DLCLS) ensemble $(RUNS) $(COMMON) $(if $(METHOD),--method $(METHOD)) \
	  $(if $(SPECIALISTS),--specialist $(SPECIALISTS)) $(if $(NAME),--name $(NAME)) $(ARGS)

pseudo: install $(DATA_DEP) ## label confident test images with FROM (default: the latest ensemble): WORK/pseudo/<name>/
	$(DLCLS) pseudo $(COMMON) $(if $(FROM),--from $(FROM)) $(if $(NAME),--name $(NAME)) $(OVERRIDES) $(ARGS)

OCR_GROUP := 3,4,7,14
# one pass reads every train page, its test-like copy and every test page once, and writes both text runs from that
# one table: the full-class member (ocr-all) and the expert of the confused form family (ocr-3-4-7-14)
ocr: install $(DATA_DEP) ## OCR every page once -> the full-class text member and the expert for CLASSES (default family)
	$(DLCLS) ocr $(COMMON) --classes all $(or $(CLASSES),$(OCR_GROUP)) $(if $(WORKERS),--workers $(WORKERS)) $(ARGS)

.PHONY: orient
orient: install $(DATA_DEP) ## page turn x mirror model from DATA's train pages (WORK/runs/orient-*), its accuracy
	$(DLCLS) orient $(COMMON) $(if $(EPOCHS),--epochs $(EPOCHS)) $(if $(SEED),--seed $(SEED)) \
	  $(if $(WORKERS),--workers $(WORKERS)) $(ARGS)

runs: install ## ledger of every run and ensemble in WORK (ARGS="--csv" / "--plot")
	$(DLCLS) runs --work $(WORK) $(ARGS)

NB_STAMP := $(VENV)/.notebook-installed
$(NB_STAMP): pyproject.toml | $(STAMP)
	NO_ALBUMENTATIONS_UPDATE=1 $(VENV)/bin/pip install --quiet -e '.[dev,notebook]'
	touch $@

notebook: install $(NB_STAMP) ## Jupyter on notebooks/confusion_matrix.ipynb for RUN (default: the latest ensemble)
	DL_CLS_RUN="$$($(DLCLS) runs --work $(WORK) --path $(RUN))" && echo "notebook on $$DL_CLS_RUN" && \
	  DL_CLS_RUN="$$DL_CLS_RUN" $(VENV)/bin/jupyter notebook notebooks/confusion_matrix.ipynb $(ARGS)

report: install ## confusion matrix, per-class F1, confused pairs, error gallery for RUN
	$(DLCLS) report $(RUN) --work $(WORK) $(ARGS)

check-submission: install ## validate FILE against DATA's sample_submission.csv
	$(DLCLS) check-submission $(FILE) --data $(DATA) $(ARGS)

profile: install $(DATA_DEP) ## statistics of DATA's train/ vs test/ side by side: table + WORK/profile/ (CSV, plots)
	$(DLCLS) profile $(DATA)/train $(DATA)/test --out $(WORK)/profile $(ARGS)

profile-fit: install $(DATA_DEP) ## propose a test-like config from DATA's test/: WORK/profile/testlike.yaml
	$(DLCLS) profile $(DATA)/train --fit $(DATA)/test --out $(WORK)/profile $(ARGS)

clean-venv: ## remove .venv
	rm -rf $(VENV)
