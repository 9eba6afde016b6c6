"""Is there a usable NVIDIA GPU? torch.cuda when torch is installed, else `nvidia-smi -L`."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from functools import lru_cache


@lru_cache(maxsize=1)
def detect_gpu() -> str | None:
    """A short description of the GPU(s), or None when there is none."""
    if importlib.util.find_spec("torch") is not None:
        try:
            import torch  # noqa: PLC0415 - optional, heavy: only imported where installed

            if torch.cuda.is_available():
                return ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
            return None
        except Exception:  # a broken torch install must not stop a CPU worker
            pass
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        done = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    gpus = [line.strip() for line in done.stdout.splitlines() if line.startswith("GPU ")]
    return "; ".join(gpus) if done.returncode == 0 and gpus else None
