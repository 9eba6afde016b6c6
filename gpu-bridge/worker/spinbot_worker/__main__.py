"""Entry point: `PYTHONPATH=gpu-bridge/worker python -m spinbot_worker` (configuration: README.md)."""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import sys

from .config import ConfigError, load_config
from .worker import configure_logging, run_worker

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> None:
    """Started by the bot (SPINBOT_PARENT_PID set): ask Linux to SIGKILL this worker when the bot
    dies, however it dies (SIGKILL included), so that no worker is left running with parent 1.
    SIGKILL, not SIGTERM: a graceful stop would finish the current job first, for minutes; the
    abandoned job's lock expires and the bot's next worker runs it again."""
    parent = os.environ.get("SPINBOT_PARENT_PID", "").strip()
    if not parent.isdigit() or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        print(f"spinbot worker: cannot set a parent-death signal (errno {ctypes.get_errno()})", file=sys.stderr)
    # The bot may have died before prctl ran: then nobody will signal us.
    if os.getppid() != int(parent):
        sys.exit(0)


def main() -> int:
    die_with_parent()
    configure_logging()
    try:
        config = load_config()
        return asyncio.run(run_worker(config))
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
