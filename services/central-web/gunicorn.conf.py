"""gunicorn settings for central-web; each can be overridden with GUNICORN_CMD_ARGS.

Threads (the gthread worker) because each live viewer holds one thread with its
server-sent-event stream; every worker process runs its own Kafka feed (the app
is not preloaded, so the consumer is created after the fork).
"""

import logging
import signal
from typing import Any

from central_web.settings import ServerSettings
from evcharging.config import load

# gunicorn puts its working directory (the app's) on sys.path before it reads this file.
_server = load(ServerSettings)
bind = _server.bind
workers = _server.workers
threads = _server.threads
worker_class = "gthread"
preload_app = False
accesslog = "-"
errorlog = "-"
graceful_timeout = 5
# A stopping worker keeps an idle kept-alive connection open up to this long (for a
# request already on its way); 1 s, not gunicorn's 2, so `docker compose stop` stays
# under 3 s when a browser holds one. Live streams end at once (post_worker_init).
keepalive = 1


def when_ready(server: object) -> None:
    logging.getLogger("gunicorn.error").info("central-web is alive")


def post_worker_init(worker: Any) -> None:
    """End this worker's live streams as soon as it is told to stop (SIGTERM).

    gunicorn lets in-flight requests finish within graceful_timeout, and a
    server-sent-event stream never finishes by itself: one open status page would
    hold every `docker compose stop` for the whole timeout. Closing the board ends
    the streams at once (LiveBoard.close); browsers reconnect by themselves.
    """
    extensions = getattr(worker.wsgi, "extensions", {})
    board = extensions.get("live")
    if board is None:
        return
    previous = signal.getsignal(signal.SIGTERM)

    def stop(signum: int, frame: Any) -> None:
        board.close()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, stop)
    signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn has it: requests are not disturbed
