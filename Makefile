# Two commands do everything on a fresh Debian/Ubuntu machine with Python 3.11:
#   make run   set up, then serve the web app at http://127.0.0.1:5000 (gunicorn, as in the container)
#   make test  set up, then run the whole test suite (installs chromium for the browser test)
# Python packages come from the locks only (every package pinned, with hashes); `make lock`
# regenerates them from requirements*.txt, `make upgrade` moves them to the newest allowed versions.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Tesseract (the comparison column); DejaVu, the searchable PDF's font for the words' text layer;
# espeak-ng speaks the text (Listen); Apertium and its pairs translate it offline.
SYSTEM_PACKAGES := tesseract-ocr fonts-dejavu-core espeak-ng apertium apertium-eng-spa \
	apertium-eng-cat apertium-fr-es apertium-fra-cat
# The browser test drives Debian's chromium through Playwright (no browser download); the jobs'
# tests start their own redis-server on a loopback port.
TEST_SYSTEM_PACKAGES := chromium redis-server
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The locks are resolved for this interpreter and platform (the machines and the container's base).
LOCK_TARGET := --python-version 3.11 --python-platform x86_64-manylinux_2_28
# The lock is complete, so pip resolves nothing (--no-deps): pyctcdecode's stale numpy<2 is
# overridden at lock time (requirements-overrides.txt), and --require-hashes refuses any file
# whose hash is not in the lock.
PIP_INSTALL := $(PY) -m pip install -q --no-deps --require-hashes --disable-pip-version-check

.PHONY: run test setup setup-test python system system-test fonts lock upgrade clean

# The same command the Dockerfile runs (there HTR_BIND=0.0.0.0:5000).
run: setup
	$(VENV)/bin/gunicorn -c gunicorn.conf.py wsgi:app

test: setup-test system-test fonts
	$(PY) -m pytest -q

setup: system $(VENV)/.installed-run
setup-test: system $(VENV)/.installed-test

python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { \
	  echo "The locks are resolved for Python 3.11; $(PYTHON) is $$($(PYTHON) -V 2>&1)." \
	       "Run make with PYTHON=python3.11." >&2; exit 1; }

# A lock that changed makes a new environment, so that nothing of the old one stays behind
# (tests/test_install.py fails on any package that is not in the lock, or not at its version).
$(VENV)/pyvenv.cfg: requirements.lock requirements-dev.lock | python
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)

# make run: the app's lock. make test: the same pins, plus the tests' packages.
$(VENV)/.installed-run: $(VENV)/pyvenv.cfg
	$(PIP_INSTALL) -r requirements.lock
	touch $@

$(VENV)/.installed-test: $(VENV)/pyvenv.cfg
	$(PIP_INSTALL) -r requirements-dev.lock
	touch $@

# System packages, each installed only when missing (apt-get needs root, or sudo).
APT_ENSURE = missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	  grep -q '^install ok installed' || echo $$p; done); [ -z "$$missing" ] || { \
	  $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y \
	  --no-install-recommends $$missing; }

system:
	@$(call APT_ENSURE,$(SYSTEM_PACKAGES))

system-test:
	@$(call APT_ENSURE,$(TEST_SYSTEM_PACKAGES))

# Handwriting fonts for synthetic training lines (train.py --data fonts:...), tested by make test;
# the package list is the reader's own (htr.readers.fonts.FONT_PACKAGES).
fonts: setup
	@$(call APT_ENSURE,$$($(PY) -c 'from htr.readers.fonts import FONT_PACKAGES; print(*FONT_PACKAGES)'))

# The locks, from the human-edited lists. The tests' lock is resolved first; the app's lock is
# held to its versions (-c), so that make run and make test run the very same packages.
# Versions already locked stay where they are unless a requirement moved past them; `make
# upgrade` takes the newest allowed versions instead (then run the suite, and re-measure the
# model's validation table if OpenCV, Pillow, numpy, TensorFlow or Keras moved: README).
UV_COMPILE = $(VENV)/bin/uv pip compile -q --generate-hashes $(LOCK_TARGET) \
	--override requirements-overrides.txt --custom-compile-command "make lock" --annotation-style line
lock: $(VENV)/.installed-test
	$(UV_COMPILE) $(UPGRADE) requirements.txt requirements-dev.txt -o requirements-dev.lock
	$(UV_COMPILE) $(UPGRADE) requirements.txt -c requirements-dev.lock -o requirements.lock

upgrade:
	$(MAKE) lock UPGRADE=--upgrade

clean:
	rm -rf $(VENV) .pytest_cache
