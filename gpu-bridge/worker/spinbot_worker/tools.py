"""Running command-line tools (espeak-ng, ffmpeg) as stage steps, and reading WAV lengths."""

from __future__ import annotations

import subprocess
import wave
from typing import BinaryIO

from .errors import StageFailure


def run_tool(cmd: list[str], *, stage: str, timeout: float, stdin: bytes | None = None,
             check: bool = True) -> subprocess.CompletedProcess:
    """Run cmd; failures become StageFailures of `stage` (TIMEOUT retries, a missing tool does not)."""
    try:
        done = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise StageFailure(stage, "TIMEOUT", f"{cmd[0]} took longer than {timeout:g} s.", True) from None
    except FileNotFoundError:
        raise StageFailure(stage, "BACKEND_UNAVAILABLE", f"{cmd[0]} is not installed on the worker.", False) from None
    if check and done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip()[-300:]
        raise StageFailure(stage, "INTERNAL", f"{cmd[0]} failed (exit {done.returncode}): {tail}", True)
    return done


def wav_seconds(source: str | BinaryIO) -> float:
    with wave.open(source, "rb") as wav:
        return wav.getnframes() / float(wav.getframerate())
