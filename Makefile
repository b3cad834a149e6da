# Generative Models, Hands-On. Two commands do everything:
#   make lab    set up .venv if missing, then open JupyterLab on notebooks/
#   make test   set up .venv if missing, then run the unit tests and execute every notebook (fast mode)
# Repeat runs reuse .venv; it is updated only when requirements.txt, constraints.txt or pyproject.toml change.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# What `make test` runs; narrow it with e.g.  make test TESTS=notebooks/02_building_a_vae.ipynb
TESTS  ?= tests notebooks
LAB_PORT ?= 8888
# JupyterLab refuses to run as root (containers, some VMs) unless told to.
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test unit notebooks student pretrained bench-vae bench-gan2d bench-compare clean distclean

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@test -x $(PY) || { echo "Creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade-strategy only-if-needed -r requirements.txt -c constraints.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --port=$(LAB_PORT) $(LAB_ROOT)

# Fast mode (TUTORIAL_FAST=1) shrinks data and steps; strict checks make exercise checkers raise;
# offline mode forbids downloads. These variables reach the notebook kernels that nbval starts.
test: $(STAMP)
	TUTORIAL_FAST=1 TUTORIAL_OFFLINE=1 TUTORIAL_CHECKS_STRICT=1 MPLBACKEND=agg \
	  $(PY) -m pytest $(TESTS) --nbval-lax --nbval-current-env --durations=10 -p no:cacheprovider

unit: $(STAMP)
	$(MAKE) test TESTS=tests

notebooks: $(STAMP)
	$(MAKE) test TESTS=notebooks

student: $(STAMP)
	$(PY) scripts/make_student.py notebooks build/student

# Retrain the four models notebook 06 compares (same budget each) and ship them in tutorial_lib/assets/.
pretrained: $(STAMP)
	$(PY) scripts/train_pretrained.py

bench-vae: $(STAMP)
	$(PY) -m tutorial_lib.bench vae

bench-gan2d: $(STAMP)
	$(PY) -m tutorial_lib.bench gan2d
	$(PY) -m tutorial_lib.bench gan2d --recipes common --methods baseline wgan-gp spectral-norm hinge pacgan \
	  --steps 20000 --out benchmarks/results/gan2d-20k-steps.json
	$(PY) -m tutorial_lib.bench gan2d --recipes common --methods baseline --batch-size 512 --steps 15000 \
	  --out benchmarks/results/gan2d-batch512.json

bench-compare: $(STAMP)
	$(PY) -m tutorial_lib.bench compare

clean:
	rm -rf build .pytest_cache data/checkpoints/*-fast.pt
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
