# The web application under gunicorn: the same steps as `make run` (system package, venv,
# requirements.lock, then `gunicorn -c gunicorn.conf.py wsgi:app`), on a slim Python base.
#   docker build -t htr .  &&  docker run --rm -p 5000:5000 htr   ->  http://127.0.0.1:5000
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    HTR_BIND=0.0.0.0:5000

# make run's `system` target: Tesseract (the comparison column), DejaVu (the searchable PDF's font),
# espeak-ng (Listen) and Apertium with its pairs (offline translation).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tesseract-ocr fonts-dejavu-core \
    espeak-ng apertium apertium-eng-spa apertium-eng-cat apertium-fr-es apertium-fra-cat \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# make run's venv step: the app's lock, every package pinned with its hashes (the test-only
# packages stay out of the image); --no-deps as the lock is complete (Makefile, PIP_INSTALL).
COPY requirements.lock ./
RUN python -m venv .venv \
 && .venv/bin/python -m pip install -q --no-deps --require-hashes -r requirements.lock

# The library, the shipped model and the web app; nothing else (see .dockerignore).
COPY htr/ htr/
COPY web/ web/
COPY models/default/ models/default/
COPY models/linemask/linemask-int8.onnx models/linemask/
COPY app.py wsgi.py gunicorn.conf.py openapi.json ./
COPY templates/ templates/
COPY static/ static/

# A user without a login; the code stays root's and read-only to it (Keras keeps its
# settings in the home directory).
RUN useradd --system --uid 10001 --create-home --shell /usr/sbin/nologin htr
USER htr
# Word beam search is compiled by numba on its first use (about 11 s on 2 cores): compile it now,
# into this user's cache (the code is read-only to it), so that each worker only loads it.
RUN .venv/bin/python -c "from htr.recognizer import Recognizer; from web.engine import _warm_up; \
_warm_up(Recognizer.load('models/default'))"

EXPOSE 5000
# /healthz answers once a worker has loaded the model (about 10 s after start).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/app/.venv/bin/python", "-c", "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:5000/healthz', timeout=4).status == 200 else 1)"]

# make run's command.
CMD ["/app/.venv/bin/gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
