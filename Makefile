# Two commands do everything on a fresh Debian/Ubuntu machine with Python 3.11:
#   make run   set up, then serve the web app at http://127.0.0.1:5000 (gunicorn, as in the container)
#   make test  set up, then run the whole test suite (installs chromium for the browser test)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SYSTEM_PACKAGES := tesseract-ocr
# The browser test drives Debian's chromium through Playwright (no browser download).
TEST_SYSTEM_PACKAGES := chromium
# Declares numpy<2 but runs on numpy 2 (the beam decoder): installed without its dependencies.
NODEPS_PACKAGES := pyctcdecode==0.5.0
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test setup system system-test fonts clean

# The same command the Dockerfile runs (there HTR_BIND=0.0.0.0:5000).
run: setup
	$(VENV)/bin/gunicorn -c gunicorn.conf.py wsgi:app

test: setup system-test fonts
	$(PY) -m pytest -q

setup: system $(VENV)/.installed

# System packages, installed only when missing (apt-get needs root, or sudo).
system:
	@command -v tesseract >/dev/null 2>&1 || { $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $(SYSTEM_PACKAGES); }

system-test:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $(TEST_SYSTEM_PACKAGES); }

# Handwriting fonts for synthetic training lines (train.py --data fonts:...), tested by make test;
# the package list is the reader's own (htr.readers.fonts.FONT_PACKAGES).
fonts: setup
	@[ -d /usr/share/fonts/truetype/fifthhorseman ] || { $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends \
	  $$($(PY) -c 'from htr.readers.fonts import FONT_PACKAGES; print(*FONT_PACKAGES)'); }

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps $(NODEPS_PACKAGES)
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache
