"""Artifact storage by key. The worker reads and writes media only through this interface.

Keys follow the StorageKey contract: relative, no "..", characters [A-Za-z0-9._/-], at most 512
characters. FileStorage roots keys under SPINBOT_DATA_DIR; S3Storage (s3_storage.py) keeps them in
a bucket when S3_ENDPOINT is set, so the worker can run on another host than the bot.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# Same rule as StorageKey in gpu-bridge/contracts/index.ts. fullmatch: Python's "$" would also
# accept a trailing newline, which the TypeScript side rejects.
_KEY_PATTERN = re.compile(r"(?!/)(?!.*\.\.)[A-Za-z0-9._/-]+")
_MAX_KEY_CHARS = 512
# Temporary files of in-flight writes live beside their target and are hidden from list().
_PARTIAL_MARK = ".partial-"


class InvalidKey(ValueError):
    pass


class KeyNotFound(FileNotFoundError):
    pass


@dataclass(frozen=True)
class ObjectStat:
    key: str
    size: int
    modified: float  # seconds since the epoch


def validate_key(key: str) -> str:
    if not isinstance(key, str) or not 1 <= len(key) <= _MAX_KEY_CHARS or not _KEY_PATTERN.fullmatch(key):
        raise InvalidKey(f"invalid storage key {key!r}: relative, no '..', characters A-Za-z0-9._/- only")
    return key


# Mirrors storage/keys.ts: object storage expires a job's intermediates (tagged at write time)
# through a bucket lifecycle rule; the clip and its plan stay, as do users' files outside jobs/.
INTERMEDIATE_TAG = ("spinbot-kind", "intermediate")
_KEPT_JOB_FILES = {"final.mp4", "plan.json"}
_JOB_FILE = re.compile(r"jobs/[^/]+/(.+)")

_CONTENT_TYPES = {
    "mp4": "video/mp4", "webm": "video/webm", "mov": "video/quicktime",
    "wav": "audio/wav", "mp3": "audio/mpeg", "ogg": "audio/ogg", "oga": "audio/ogg", "m4a": "audio/mp4", "flac": "audio/flac",
    "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif",
    "json": "application/json", "srt": "application/x-subrip", "ass": "text/x-ssa", "vtt": "text/vtt",
    "txt": "text/plain; charset=utf-8", "md": "text/markdown; charset=utf-8",
}


def is_intermediate(key: str) -> bool:
    match = _JOB_FILE.fullmatch(key)
    return match is not None and match.group(1) not in _KEPT_JOB_FILES


def content_type_for(key: str) -> str:
    """The Content-Type stored with an object: from the key's extension."""
    extension = key.rsplit(".", 1)[-1].lower() if "." in key.rsplit("/", 1)[-1] else ""
    return _CONTENT_TYPES.get(extension, "application/octet-stream")


def scene_key(job_id: str, scene_index: int, extension: str) -> str:
    """jobs/<jobId>/scene-01.<ext> for the first scene (index 0): 1-based, 2 digits."""
    return validate_key(f"jobs/{job_id}/scene-{scene_index + 1:02d}.{extension}")


class Storage(ABC):
    @abstractmethod
    def put_file(self, key: str, source: str | os.PathLike) -> None:
        """Store a local file under key, replacing any previous object atomically."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None:
        """Store bytes under key, replacing any previous object atomically."""

    @abstractmethod
    def get_to_file(self, key: str, destination: str | os.PathLike) -> None:
        """Copy the object to a local file. Raises KeyNotFound."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A binary reader for the object (a context manager). Raises KeyNotFound."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def stat(self, key: str) -> ObjectStat:
        """Size and modification time. Raises KeyNotFound."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Keys that start with prefix, sorted."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error."""

    def describe(self) -> str:
        """Where the objects are, for logs (no credentials)."""
        return type(self).__name__


class FileStorage(Storage):
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def describe(self) -> str:
        return f"files under {self.root}"

    def path_for(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        # Belt and braces against symlinks leading out of the root.
        if path != self.root and self.root not in path.parents:
            raise InvalidKey(f"storage key {key!r} resolves outside the storage root")
        return path

    def _write_atomically(self, key: str, write) -> None:
        target = self.path_for(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{_PARTIAL_MARK}{uuid.uuid4().hex}-{target.name}")
        try:
            with open(partial, "wb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
            # rename is atomic on one filesystem: readers see the old or the new object, never half.
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)

    def put_file(self, key: str, source: str | os.PathLike) -> None:
        with open(source, "rb") as src:
            self._write_atomically(key, lambda out: shutil.copyfileobj(src, out, 1 << 20))

    def put_bytes(self, key: str, data: bytes) -> None:
        self._write_atomically(key, lambda out: out.write(data))

    def _existing(self, key: str) -> Path:
        path = self.path_for(key)
        if not path.is_file():
            raise KeyNotFound(f"no object stored under {key!r}")
        return path

    def get_to_file(self, key: str, destination: str | os.PathLike) -> None:
        shutil.copyfile(self._existing(key), destination)

    def open(self, key: str) -> BinaryIO:
        return open(self._existing(key), "rb")

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def stat(self, key: str) -> ObjectStat:
        info = self._existing(key).stat()
        return ObjectStat(key=key, size=info.st_size, modified=info.st_mtime)

    def list(self, prefix: str = "") -> list[str]:
        if prefix and (prefix.startswith("/") or ".." in prefix):
            raise InvalidKey(f"invalid storage prefix {prefix!r}")
        # Walk only the deepest folder the prefix names, not the whole root.
        folder = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not folder.is_dir():
            return []
        keys = []
        for dirpath, _dirs, files in os.walk(folder):
            for name in files:
                if name.startswith(_PARTIAL_MARK):
                    continue
                key = Path(dirpath, name).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def delete(self, key: str) -> None:
        path = self.path_for(key)
        path.unlink(missing_ok=True)
        # Folders are an artefact of the filesystem (S3 has none): drop the ones left empty.
        for folder in path.parents:
            if folder == self.root or self.root not in folder.parents:
                break
            try:
                folder.rmdir()
            except OSError:  # not empty (or raced by a writer): keep it
                break


def open_storage(config) -> Storage:
    """The storage the configuration names: S3 when S3_ENDPOINT is set, else files under the data dir."""
    if config.s3 is not None:
        from .s3_storage import S3Storage  # boto3 is only imported when it is used

        return S3Storage(config.s3)
    return FileStorage(config.data_dir)
