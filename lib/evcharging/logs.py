"""One log format for every service: time, service, level, message."""

from __future__ import annotations

import logging
from typing import Annotated

from pydantic import AfterValidator

from evcharging.config import Expects, ServiceSettings, load, variable

LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


def _level(text: str) -> str:
    level = text.strip().upper()
    if level not in LEVELS:
        raise ValueError(f"expected one of {', '.join(LEVELS)}, in any case")
    return level


Level = Annotated[str, AfterValidator(_level), Expects(f"one of {', '.join(f'`{name}`' for name in LEVELS)}")]
"""logging's level names, in any case: a misspelt one stops the service rather than
leaving it as quiet or as loud as it happens to be."""


class LogSettings(ServiceSettings):
    """How much a service logs, the same way in each."""

    level: Level = variable(
        "LOG_LEVEL", "the least severe level logged, in any case (central-web's is gunicorn's)", "INFO"
    )


def setup(service: str) -> logging.Logger:
    logging.basicConfig(
        level=load(LogSettings).level,
        format=f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s",
    )
    return logging.getLogger(service)
