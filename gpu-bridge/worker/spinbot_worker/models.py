"""The model cache, as set-up (setup/models.mjs) fills it: where a model's files are, and whether
they are complete and verified. Names, sources and licences come from setup/models.json, the one
registry of models; the worker only reads it.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

_DEFAULT_REGISTRY = Path(__file__).resolve().parents[3] / "setup" / "models.json"


@lru_cache(maxsize=1)
def _registry() -> dict[str, Any]:
    path = Path(os.environ.get("SPINBOT_MODEL_REGISTRY") or _DEFAULT_REGISTRY)
    return json.loads(path.read_text(encoding="utf-8"))


def cache_dir() -> Path:
    """$SPINBOT_MODEL_CACHE, else $XDG_CACHE_HOME/myspinbot/models, else ~/.cache/myspinbot/models."""
    if os.environ.get("SPINBOT_MODEL_CACHE"):
        return Path(os.environ["SPINBOT_MODEL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "myspinbot" / "models"


def model_info(model_id: str) -> dict[str, Any]:
    registry = _registry()
    for entry in [*registry["models"], *registry["engines"]]:
        if entry["id"] == model_id:
            return entry
    raise KeyError(f'Unknown model "{model_id}" (see setup/models.json).')


def model_dir(model_id: str) -> Path:
    model_info(model_id)
    return cache_dir() / model_id


def model_path(model_id: str, file: str | None = None) -> Path:
    """A file of the model in the cache; by default its first (main) file."""
    return model_dir(model_id) / (file or model_info(model_id)["files"][0]["name"])


def _entry_digest(entry: dict[str, Any]) -> str:
    # The same digest setup/models.mjs writes (JSON.stringify of {packages, files}, no spaces).
    text = json.dumps({"packages": entry["packages"], "files": entry["files"]}, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model_ready(model_id: str) -> bool:
    marker = model_dir(model_id) / ".complete"
    try:
        return marker.read_text(encoding="utf-8").strip() == _entry_digest(model_info(model_id))
    except OSError:
        return False
