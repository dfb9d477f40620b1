"""gunicorn settings for central-web; each can be overridden with GUNICORN_CMD_ARGS."""

import logging

bind = "0.0.0.0:8000"
workers = 2
threads = 4
accesslog = "-"
errorlog = "-"


def when_ready(server: object) -> None:
    logging.getLogger("gunicorn.error").info("central-web is alive")
