"""Entry point of driver: `python -m driver`."""

from evcharging.health import keep_alive
from evcharging.logs import setup


def main() -> None:
    log = setup("driver")
    log.info("driver is alive")
    keep_alive()


if __name__ == "__main__":
    main()
