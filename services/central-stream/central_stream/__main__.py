"""Entry point of central-stream: `python -m central_stream`."""

from evcharging.health import keep_alive
from evcharging.logs import setup


def main() -> None:
    log = setup("central-stream")
    log.info("central-stream is alive")
    keep_alive()


if __name__ == "__main__":
    main()
