# Generative Models, Hands-On. Two commands do everything:
#   make lab    set up .venv if missing, then open JupyterLab on notebooks/
#   make test   set up .venv if missing, then run the unit tests and execute every notebook (fast mode)
#   make book   set up .venv if missing, then build the course website into build/book/html/ (TUTORIAL_FAST=1: fast mode)
# Repeat runs reuse .venv; it is updated only when requirements.txt, constraints.txt or pyproject.toml change.
# The set-up and these commands live in scripts/course.py (Windows: py -3.11 scripts\course.py lab|test|book);
# the targets below only call it, so both ways in run the same steps.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
COURSE := $(PYTHON) scripts/course.py
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# What `make test` runs; narrow it with e.g.  make test TESTS=notebooks/02_building_a_vae.ipynb
TESTS  ?= tests notebooks
LAB_PORT ?= 8888

.PHONY: setup lab test book unit notebooks student pretrained bench-vae bench-gan2d bench-compare bench-stacked bench-stacked-600s bench-stacked-10k bench-notebooks clean distclean

# The stamp's rule and the script agree: both reinstall when one of the three files is newer than the stamp.
$(STAMP): requirements.txt constraints.txt pyproject.toml
	$(COURSE) setup

setup:
	$(COURSE) setup

lab:
	$(COURSE) lab --port $(LAB_PORT)

# Fast mode (TUTORIAL_FAST=1) shrinks data and steps; strict checks make exercise checkers raise;
# offline mode forbids downloads (scripts/course.py sets these; they reach the kernels nbval starts).
test:
	$(COURSE) test $(TESTS)

# The website: every notebook executed (full mode; TUTORIAL_FAST=1 make book for fast mode) through jupyter-cache.
book:
	$(COURSE) book

unit: $(STAMP)
	$(MAKE) test TESTS=tests

notebooks: $(STAMP)
	$(MAKE) test TESTS=notebooks

student: $(STAMP)
	$(PY) scripts/make_student.py notebooks build/student

# Retrain the four models notebook 06 compares (same budget each) and notebook 08's three, and ship them in
# tutorial_lib/assets/ (at most about 10 min each on 2 cores).
pretrained: $(STAMP)
	$(PY) scripts/train_pretrained.py
	$(PY) scripts/train_conditional.py

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

# Every notebook in full mode, one after the other: wall time, CPU time and peak memory into
# benchmarks/results/notebooks.json (about an hour; run it on a quiet machine). Some: make bench-notebooks NB="02 06"
bench-notebooks: $(STAMP)
	$(PY) -m tutorial_lib.bench notebooks $(NB)

# Notebook 09's Stacked MNIST table: 11 rows x 3 seeds, 4 min of training and 1-2 min of scoring each (the curve of
# the first seed adds 2 min), two at a time: about 1 h 45 min on 2 cores.
bench-stacked: $(STAMP)
	$(PY) -m tutorial_lib.bench stacked

# Notebook 09's longer budget (section 4.1): the DCGAN and PacGAN2 with the standard discriminator, the steps that
# 600 s of one core allow (the runs took 9 to 13 min each), 3 seeds, two at a time: about 45 min on 2 cores.
bench-stacked-600s: $(STAMP)
	$(PY) -m tutorial_lib.bench stacked --rows pacgan2 dcgan --settings standard --seeds 0 1 2 \
	  --budget-seconds 600 --out benchmarks/results/stacked_mnist_600s.json

# Section 4.1's equal-steps table: the same two rows for 10,000 steps each (PacGAN's tables compare rows at equal
# epochs), 3 seeds, three runs at a time: about 70 minutes on a 2-core AMD EPYC (PacGAN2's runs take 23 to 25 min of
# one core there), longer on a slower CPU.
bench-stacked-10k: $(STAMP)
	$(PY) -m tutorial_lib.bench stacked --rows pacgan2 dcgan --settings standard --seeds 0 1 2 --steps 10000 \
	  --workers 3 --out benchmarks/results/stacked_mnist_10k.json

clean:
	rm -rf build .pytest_cache data/checkpoints/*-fast.pt
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
