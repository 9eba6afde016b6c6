"""Worker configuration from environment variables, validated once at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit, urlunsplit

# Stages whose backend the operator may choose; values: auto | cpu | gpu | <backend id or name>.
CONFIGURABLE_STAGES = {"tts": "SPINBOT_TTS_BACKEND", "visuals": "SPINBOT_VISUALS_BACKEND", "upscale": "SPINBOT_UPSCALE_BACKEND"}
DEFAULT_QUEUE = "spinbot-gpu"  # GPU_QUEUE in gpu-bridge/contracts/index.ts


class ConfigError(Exception):
    """Start-up configuration is unusable; the message lists every problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("spinbot worker: invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Config:
    redis_url: str
    data_dir: Path
    queue: str = DEFAULT_QUEUE
    concurrency: int = 1  # one GPU: serialize jobs
    lock_duration_ms: int = 30_000
    stalled_interval_ms: int = 30_000
    max_stalled_count: int = 1
    backend_choices: dict[str, str] = field(default_factory=lambda: {s: "auto" for s in CONFIGURABLE_STAGES})
    plugins: tuple[str, ...] = ()

    @property
    def redis_url_for_logs(self) -> str:
        return redact_url(self.redis_url)


def redact_url(url: str) -> str:
    """The URL with any password replaced by ***, safe to log."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = parts.username or ""
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
    except ValueError:
        return "<unparsable url>"


def load_config(env: Mapping[str, str] = os.environ) -> Config:
    problems: list[str] = []

    def integer(name: str, default: int, minimum: int) -> int:
        raw = env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            problems.append(f"{name} must be a whole number, got {raw!r}")
            return default
        if value < minimum:
            problems.append(f"{name} must be at least {minimum}, got {value}")
        return value

    redis_url = env.get("REDIS_URL", "").strip()
    if not redis_url:
        problems.append("REDIS_URL is required (e.g. redis://127.0.0.1:6379)")
    elif urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
        problems.append(f"REDIS_URL must start with redis://, rediss:// or unix://, got {redact_url(redis_url)!r}")

    data_dir_raw = env.get("SPINBOT_DATA_DIR", "").strip()
    data_dir = Path(data_dir_raw).resolve() if data_dir_raw else Path()
    if not data_dir_raw:
        problems.append("SPINBOT_DATA_DIR is required (the folder where job artifacts are stored)")
    else:
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            if not os.access(data_dir, os.W_OK):
                problems.append(f"SPINBOT_DATA_DIR {data_dir} is not writable")
        except OSError as error:
            problems.append(f"SPINBOT_DATA_DIR {data_dir} cannot be created: {error.strerror}")

    queue = env.get("SPINBOT_QUEUE", "").strip() or DEFAULT_QUEUE
    if ":" in queue:
        problems.append(f"SPINBOT_QUEUE must not contain ':' (BullMQ uses it as a key separator), got {queue!r}")

    choices = {}
    for stage, name in CONFIGURABLE_STAGES.items():
        choices[stage] = env.get(name, "").strip() or "auto"

    plugins = tuple(p.strip() for p in env.get("SPINBOT_BACKEND_PLUGINS", "").split(",") if p.strip())

    config = Config(
        redis_url=redis_url,
        data_dir=data_dir,
        queue=queue,
        concurrency=integer("SPINBOT_WORKER_CONCURRENCY", 1, 1),
        lock_duration_ms=integer("SPINBOT_LOCK_DURATION_MS", 30_000, 1000),
        stalled_interval_ms=integer("SPINBOT_STALLED_INTERVAL_MS", 30_000, 1000),
        max_stalled_count=integer("SPINBOT_MAX_STALLED_COUNT", 1, 0),
        backend_choices=choices,
        plugins=plugins,
    )
    if problems:
        raise ConfigError(problems)
    return config
