"""Create the contract's Kafka topics: `python -m evcharging.create_topics [BOOTSTRAP]`.

Run once at stack start-up (the `kafka-setup` service of infra/compose.yml);
running it again changes nothing.
"""

from __future__ import annotations

import sys

from evcharging.config import KafkaSettings, env_int
from evcharging.kafka import create_topics
from evcharging.logs import setup


def main(argv: list[str]) -> int:
    log = setup("kafka-setup")
    bootstrap = argv[1] if len(argv) > 1 else KafkaSettings.from_env().bootstrap
    created = create_topics(bootstrap, replication=env_int("TOPIC_REPLICATION", 1))
    log.info("topics created: %s", ", ".join(created) or "none, all exist")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
