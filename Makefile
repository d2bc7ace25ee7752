# The two set-up commands of the README are `make book` and `make test`: each creates the
# virtual environment when it is missing, installs everything, then does its job.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NOTEBOOKS ?= $(wildcard chapters/*.ipynb)

.PHONY: book test data notebooks experiments grid benchmark check-site sync-install-cells assignments clean

# chapter 9's UCR/UEA files ship inside aeon's wheel; ssl_teach reads them without importing aeon,
# so aeon goes in without its dependencies (its numba pins numpy below 2.4): requirements.txt says why
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	$(BIN)/python -m pip install --quiet --no-deps "aeon>=1.6,<1.7"
	touch $(STAMP)

## make data: make sure every dataset the chapters load is available (a torchvision download,
## else the offline copies; installs Debian's dataset-fashion-mnist when root), or stop with
## one message that says what is missing and the commands that provide it
data: $(STAMP)
	$(BIN)/python book/ensure_data.py

## make book: build the website into _build/html from the committed notebook outputs (it does
## not need the data: the same data step runs, but a missing dataset is only a note)
book: $(STAMP)
	$(BIN)/python book/ensure_data.py --optional
	$(BIN)/jupyter-book build . -W -n --keep-going

## make test: lint, the pages' glue and cell-length check (book/check_pages.py), unit tests, every chapter end to end in the smoke profile (nbval), then the
## Colab rehearsal (a clean venv outside the checkout, the package from a git URL, chapter 3)
test: $(STAMP) data
	$(BIN)/ruff check .
	$(BIN)/python book/check_pages.py
	$(BIN)/python assignments/build.py --check
	$(BIN)/python -m pytest tests
	SSL_TEACH_PROFILE=smoke $(BIN)/python -m pytest --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=900 chapters/
	$(BIN)/python book/colab_rehearsal.py

## make check-site: open the built website in headless Chromium (Debian's chromium) and check
## every page: console errors, images, mathematics, launch buttons, search; screenshots
check-site: $(STAMP)
	test -d _build/mathjax/node_modules/mathjax || npm install --silent --prefix _build/mathjax mathjax@3
	$(BIN)/python book/check_site.py

## make notebooks: re-execute the chapters in the book profile (the protocol) and store their outputs
notebooks: $(STAMP) data
	$(BIN)/python book/execute_notebooks.py --profile book $(NOTEBOOKS)

## make experiments: fill the results store (results/) with every run the chapters read: the floor's
## and ceiling's candidate budgets (chosen on validation), the floors and converged ceilings, each
## chapter's headline on both datasets and the variants its sweeps read, the isolating ablations
## and credit references of chapters 3 to 6, the runs behind the short-run recipe, then chapter 9's
## series runs, chapter 7's SelfMatch runs, then chapter 8's label-budget grid and pool study (make
## grid; book profile; trains only what is missing)
experiments: $(STAMP) data
	$(BIN)/python -m ssl_teach.experiments --profile book --budgets
	$(BIN)/python -m ssl_teach.experiments --profile book --book
	$(BIN)/python -m ssl_teach.experiments --profile book --ablations
	$(BIN)/python -m ssl_teach.experiments --profile book --recipe
	$(BIN)/python -m ssl_teach.series_runs --profile book
	$(BIN)/python -m ssl_teach.selfmatch_runs --profile book
	$(BIN)/python -m ssl_teach.experiments --profile book --grid

## make grid: fill the label-budget grid (every method at 1, 4, 10 and 25 labels per class on both
## datasets, 3 seeds; resumable, a progress bar with the time left from the stored seconds)
grid: $(STAMP) data
	$(BIN)/python -m ssl_teach.experiments --profile book --grid

## make benchmark: augmentation and training-step throughput against the DataLoader style
benchmark: $(STAMP)
	$(BIN)/python -m ssl_teach.benchmark

## make sync-install-cells: write the repository URL and the tag v<ssl_teach.__version__> into
## every chapter's install cell (README, "Releasing")
sync-install-cells: $(STAMP)
	$(BIN)/python book/sync_repository.py

## make assignments: regenerate the course assignments (student notebooks, autograders, wrong
## submissions) from their masters in assignments/masters (make test fails when they drift)
assignments: $(STAMP)
	$(BIN)/python assignments/build.py

clean:
	rm -rf _build
