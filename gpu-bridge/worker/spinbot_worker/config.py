"""Worker configuration from environment variables, validated once at start-up."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit, urlunsplit

# Stages whose backend the operator may choose; values: auto | cpu | gpu | <backend id or name>.
CONFIGURABLE_STAGES = {"tts": "SPINBOT_TTS_BACKEND", "visuals": "SPINBOT_VISUALS_BACKEND", "upscale": "SPINBOT_UPSCALE_BACKEND"}
DEFAULT_QUEUE = "spinbot-gpu"  # GPU_QUEUE in gpu-bridge/contracts/index.ts
COMFYUI_PLUGIN = "spinbot_worker.comfyui.backends"


class ConfigError(Exception):
    """Start-up configuration is unusable; the message lists every problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("spinbot worker: invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class S3Settings:
    """Object storage (S3, MinIO); the same S3_* variables as the TypeScript side (storage/select.ts)."""

    endpoint: str  # http(s)://host:port
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)  # never logged: repr=False keeps it out of tracebacks too
    bucket: str = "spinbot"
    region: str = "us-east-1"
    part_size_bytes: int = 16 * 1024 * 1024


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
    s3: S3Settings | None = None  # None: files under data_dir
    metrics_port: int | None = None  # None: no /metrics server; 0: any free port
    metrics_host: str = "127.0.0.1"
    comfyui_url: str | None = None  # None: no GPU engine, CPU backends only
    models_dir: Path | None = None  # SPINBOT_MODELS_DIR: the weights folder, ComfyUI's models tree in comfyui/

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

    s3 = _s3_settings(env, problems, integer)
    data_dir_raw = env.get("SPINBOT_DATA_DIR", "").strip()
    data_dir = Path(data_dir_raw).resolve() if data_dir_raw else Path()
    if not data_dir_raw:
        # With object storage the worker needs no shared folder (it may run on another host).
        if s3 is None:
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
    # ComfyUI, the GPU engine: its backends load when its address is set (a preflight runs at start).
    comfyui = comfyui_url(env, problems)
    if comfyui and COMFYUI_PLUGIN not in plugins:
        plugins = (*plugins, COMFYUI_PLUGIN)
    models = models_dir(env, problems)

    # Unset: no metrics server, so that tests and several workers on one machine do not collide.
    metrics_port = integer("SPINBOT_WORKER_METRICS_PORT", 0, 0) if env.get("SPINBOT_WORKER_METRICS_PORT", "").strip() else None
    if metrics_port is not None and metrics_port > 65535:
        problems.append(f"SPINBOT_WORKER_METRICS_PORT must be a port number (0-65535), got {metrics_port}")

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
        s3=s3,
        metrics_port=metrics_port,
        metrics_host=env.get("SPINBOT_METRICS_HOST", "").strip() or "127.0.0.1",
        comfyui_url=comfyui,
        models_dir=models,
    )
    if problems:
        raise ConfigError(problems)
    return config


def comfyui_url(env: Mapping[str, str], problems: list[str]) -> str | None:
    """COMFYUI_URL without a trailing slash; None when unset. A bad address is added to problems."""
    url = env.get("COMFYUI_URL", "").strip().rstrip("/")
    if not url:
        return None
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port is None or parts.port > 0)
    except ValueError:  # e.g. a port that is not a number
        valid = False
    if not valid:
        problems.append(f"COMFYUI_URL must be an http:// or https:// address, e.g. http://comfyui:8188, got {redact_url(url)!r}")
        return None
    return url


def models_dir(env: Mapping[str, str], problems: list[str]) -> Path | None:
    """SPINBOT_MODELS_DIR, the folder of model weights (read-only is fine); None when unset."""
    raw = env.get("SPINBOT_MODELS_DIR", "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser().resolve()
    if not path.is_dir():
        what = "is not a folder" if path.exists() else "does not exist"
        problems.append(f"SPINBOT_MODELS_DIR {path} {what} (the folder of model weights, ComfyUI's models tree in its comfyui/ "
                        "subfolder, as docker-compose.yml mounts it; unset it to go without)")
    elif not os.access(path, os.R_OK | os.X_OK):
        problems.append(f"SPINBOT_MODELS_DIR {path} is not readable by this user")
    else:
        return path
    return None


def comfyui_models_dir(models: Path) -> Path:
    """ComfyUI's models tree within SPINBOT_MODELS_DIR: its comfyui/ subfolder (docker-compose.yml mounts
    that one into ComfyUI), or the folder itself when it has none (pointed straight at ComfyUI/models)."""
    return models / "comfyui" if (models / "comfyui").is_dir() else models


_BUCKET_PATTERN = re.compile(r"(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def _s3_settings(env: Mapping[str, str], problems: list[str], integer) -> S3Settings | None:
    """S3Settings when S3_ENDPOINT is set, else None; problems name the variable, never a secret."""
    endpoint = env.get("S3_ENDPOINT", "").strip()
    if not endpoint:
        return None
    try:
        parts = urlsplit(endpoint)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.path in ("", "/") \
            and parts.username is None and (parts.port is None or parts.port > 0)
    except ValueError:
        valid = False
    if not valid:
        problems.append("S3_ENDPOINT must be an http:// or https:// URL with only scheme, host and port, e.g. http://minio:9000")
    access_key = env.get("S3_ACCESS_KEY", "").strip()
    secret_key = env.get("S3_SECRET_KEY", "").strip()
    for name, value in (("S3_ACCESS_KEY", access_key), ("S3_SECRET_KEY", secret_key)):
        if not value:
            problems.append(f"{name} is required when S3_ENDPOINT is set")
    bucket = env.get("S3_BUCKET", "").strip() or "spinbot"
    if not _BUCKET_PATTERN.fullmatch(bucket):
        problems.append(f"S3_BUCKET must be 3-63 lowercase letters, digits, dots or hyphens, got {bucket!r}")
    region = env.get("S3_REGION", "").strip() or "us-east-1"
    if not re.fullmatch(r"[a-z0-9-]{2,32}", region):
        problems.append(f"S3_REGION must look like us-east-1, got {region!r}")
    part_mb = integer("S3_PART_SIZE_MB", 16, 5)  # S3's smallest part is 5 MiB
    return S3Settings(endpoint=endpoint.rstrip("/"), access_key=access_key, secret_key=secret_key, bucket=bucket,
                      region=region, part_size_bytes=part_mb * 1024 * 1024)
