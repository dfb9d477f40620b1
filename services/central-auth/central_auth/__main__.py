"""Entry point of central-auth: `python -m central_auth`."""

from evcharging.health import keep_alive
from evcharging.logs import setup


def main() -> None:
    log = setup("central-auth")
    log.info("central-auth is alive")
    keep_alive()


if __name__ == "__main__":
    main()
