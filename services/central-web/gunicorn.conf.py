"""gunicorn settings for central-web; each can be overridden with GUNICORN_CMD_ARGS.

Threads (the gthread worker) because each live viewer holds one thread with its
server-sent-event stream; every worker process runs its own Kafka feed (the app
is not preloaded, so the consumer is created after the fork).
"""

import logging
import os

bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "8"))
worker_class = "gthread"
preload_app = False
accesslog = "-"
errorlog = "-"
graceful_timeout = 5


def when_ready(server: object) -> None:
    logging.getLogger("gunicorn.error").info("central-web is alive")
