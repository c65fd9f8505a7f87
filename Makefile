# Two commands do everything on a fresh Debian/Ubuntu machine with Python 3.11:
#   make run   set up, then read the bundled sample image
#   make test  set up, then run the whole test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SYSTEM_PACKAGES := tesseract-ocr
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test setup system clean

run: setup
	$(PY) -m htr read samples/hooker-line.png

test: setup
	$(PY) -m pytest -q

setup: system $(VENV)/.installed

# System packages, installed only when missing (apt-get needs root, or sudo).
system:
	@command -v tesseract >/dev/null 2>&1 || { $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $(SYSTEM_PACKAGES); }

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache
