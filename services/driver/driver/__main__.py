"""Entry point: `python -m driver …` and the `driver` command in the image."""

import sys

from driver.cli import main

if __name__ == "__main__":
    sys.exit(main())
