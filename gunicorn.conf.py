"""gunicorn settings, shared by ``make run`` and the container (``gunicorn -c gunicorn.conf.py
wsgi:app``). Environment: ``HTR_BIND`` (address, default 127.0.0.1:5000; the container sets
0.0.0.0:5000), ``WEB_CONCURRENCY`` (worker processes), ``HTR_THREADS`` (threads per worker).
"""

import os

bind = os.environ.get("HTR_BIND", "127.0.0.1:5000")
# One process per core: each loads the model once (about 0.5 GB) and reads one image at a time
# (the network uses the cores it is given); its second thread answers /healthz and queues uploads.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("HTR_THREADS", "2"))
# TensorFlow is imported by each worker after the fork, never by the master: its thread pools
# do not survive a fork.
preload_app = False
# A large page takes seconds; a worker silent for this long is restarted.
timeout = 120
graceful_timeout = 30
keepalive = 5
# Uploads: the app limits bodies itself (MAX_CONTENT_LENGTH); headers are kept small.
limit_request_line = 8190
limit_request_fields = 100
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("HTR_LOG_LEVEL", "info")
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"  # heartbeat files in memory (containers' /tmp may be slow)
