"""Entry point of cp-monitor: `python -m cp_monitor`."""

from evcharging.health import keep_alive
from evcharging.logs import setup


def main() -> None:
    log = setup("cp-monitor")
    log.info("cp-monitor is alive")
    keep_alive()


if __name__ == "__main__":
    main()
