"""Entry point of cp-engine: `python -m cp_engine`."""

from evcharging.health import keep_alive
from evcharging.logs import setup


def main() -> None:
    log = setup("cp-engine")
    log.info("cp-engine is alive")
    keep_alive()


if __name__ == "__main__":
    main()
