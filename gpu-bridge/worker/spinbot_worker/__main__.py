"""Entry point: `PYTHONPATH=gpu-bridge/worker python -m spinbot_worker` (configuration: README.md)."""

from __future__ import annotations

import asyncio
import sys

from .config import ConfigError, load_config
from .worker import configure_logging, run_worker


def main() -> int:
    configure_logging()
    try:
        config = load_config()
        return asyncio.run(run_worker(config))
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
