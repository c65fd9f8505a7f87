"""The object gunicorn serves: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Each worker process imports this module and so loads the model once, at start-up. Settings come
from the environment (``FLASK_<KEY>``, values as JSON; see :data:`app.DEFAULTS`).
"""

from app import create_app

app = create_app()
