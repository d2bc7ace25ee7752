# The two set-up commands of the README are `make book` and `make test`: each creates the
# virtual environment when it is missing, installs everything, then does its job.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NOTEBOOKS ?= $(wildcard chapters/*.ipynb)

.PHONY: book test notebooks benchmark check-site clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	touch $(STAMP)

## make book: build the website into _build/html from the committed notebook outputs
book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going

## make test: lint, unit tests, then every chapter end to end in the smoke profile (nbval)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest tests
	SSL_TEACH_PROFILE=smoke $(BIN)/python -m pytest --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=900 chapters/

## make check-site: open the built website in headless Chromium (Debian's chromium) and check
## every page: console errors, images, mathematics, launch buttons, search; screenshots
check-site: $(STAMP)
	test -d _build/mathjax/node_modules/mathjax || npm install --silent --prefix _build/mathjax mathjax@3
	$(BIN)/python book/check_site.py

## make notebooks: re-execute the chapters in the cpu profile and store their outputs
notebooks: $(STAMP)
	$(BIN)/python book/execute_notebooks.py --profile cpu $(NOTEBOOKS)

## make benchmark: augmentation and training-step throughput against the DataLoader style
benchmark: $(STAMP)
	$(BIN)/python -m ssl_teach.benchmark

clean:
	rm -rf _build
