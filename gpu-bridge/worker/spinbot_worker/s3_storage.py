"""Storage in an S3 bucket (AWS S3, MinIO, ...), selected by S3_ENDPOINT; same keys and rules as
FileStorage. A PUT is atomic on S3 (readers see the old or the new object), so no temp objects are
needed; files above the part size go up in parts (boto3's managed transfer)."""

from __future__ import annotations

import os
import tempfile
from typing import BinaryIO
from urllib.parse import quote

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from .config import S3Settings
from .storage import INTERMEDIATE_TAG, InvalidKey, KeyNotFound, ObjectStat, Storage, content_type_for, is_intermediate, validate_key

_MISSING = {"404", "NoSuchKey", "NotFound"}
_TAGGING = f"{quote(INTERMEDIATE_TAG[0])}={quote(INTERMEDIATE_TAG[1])}"


def _missing(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in _MISSING


class S3Storage(Storage):
    def __init__(self, settings: S3Settings):
        self.settings = settings
        self.bucket = settings.bucket
        # One client for every thread (boto3 clients are thread-safe; sessions are not).
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.endpoint,
            aws_access_key_id=settings.access_key,
            aws_secret_access_key=settings.secret_key,
            region_name=settings.region,
            config=BotoConfig(
                signature_version="s3v4",
                s3={"addressing_style": "path"},  # MinIO has no per-bucket DNS names
                retries={"max_attempts": 5, "mode": "standard"},
                connect_timeout=10,
                read_timeout=60,
            ),
        )
        part = settings.part_size_bytes
        self.transfer = TransferConfig(multipart_threshold=part, multipart_chunksize=part, max_concurrency=4)
        self._ensure_bucket()

    def describe(self) -> str:
        return f"s3 {self.settings.endpoint} bucket {self.bucket}"

    def _ensure_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as error:
            if not _missing(error):
                raise
        try:
            if self.settings.region == "us-east-1":
                self.client.create_bucket(Bucket=self.bucket)
            else:
                self.client.create_bucket(Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": self.settings.region})
        except ClientError as error:
            # The bot may have created it a moment ago.
            if error.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    def _put_args(self, key: str) -> dict:
        args = {"ContentType": content_type_for(key)}
        if is_intermediate(key):
            args["Tagging"] = _TAGGING  # in the same request: the expiry rule can never miss it
        return args

    def put_file(self, key: str, source: str | os.PathLike) -> None:
        validate_key(key)
        self.client.upload_file(os.fspath(source), self.bucket, key, ExtraArgs=self._put_args(key), Config=self.transfer)

    def put_bytes(self, key: str, data: bytes) -> None:
        validate_key(key)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **self._put_args(key))

    def get_to_file(self, key: str, destination: str | os.PathLike) -> None:
        validate_key(key)
        try:
            self.client.download_file(self.bucket, key, os.fspath(destination), Config=self.transfer)
        except ClientError as error:
            if _missing(error):
                raise KeyNotFound(f"no object stored under {key!r}") from None
            raise

    def open(self, key: str) -> BinaryIO:
        validate_key(key)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _missing(error):
                raise KeyNotFound(f"no object stored under {key!r}") from None
            raise
        # A seekable local copy (wave and PIL seek); small objects stay in memory.
        copy = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
        body = response["Body"]
        try:
            for chunk in body.iter_chunks(1 << 20):
                copy.write(chunk)
        finally:
            body.close()
        copy.seek(0)
        return copy  # type: ignore[return-value]

    def _head(self, key: str) -> dict | None:
        validate_key(key)
        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _missing(error):
                return None
            raise

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def stat(self, key: str) -> ObjectStat:
        head = self._head(key)
        if head is None:
            raise KeyNotFound(f"no object stored under {key!r}")
        return ObjectStat(key=key, size=head["ContentLength"], modified=head["LastModified"].timestamp())

    def content_type(self, key: str) -> str | None:
        head = self._head(key)
        return head.get("ContentType") if head else None

    def list(self, prefix: str = "") -> list[str]:
        if prefix and (prefix.startswith("/") or ".." in prefix):
            raise InvalidKey(f"invalid storage prefix {prefix!r}")
        keys = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(keys)

    def delete(self, key: str) -> None:
        validate_key(key)
        self.client.delete_object(Bucket=self.bucket, Key=key)  # S3 answers 204 for a missing key too
