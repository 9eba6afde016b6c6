"""One conformance suite for every Storage implementation: files under a folder, and an S3 bucket on
a real S3-protocol server (moto in server mode, multipart included). Then what only object storage
does: content types, the intermediate tag the expiry rule matches, selection from S3_* variables,
and a render job through the real worker process with its artifacts in the bucket."""

from __future__ import annotations

import hashlib
import socket
import uuid

import boto3
import pytest
from moto.server import ThreadedMotoServer

from spinbot_worker.config import ConfigError, S3Settings, load_config
from spinbot_worker.s3_storage import S3Storage
from spinbot_worker.storage import FileStorage, InvalidKey, KeyNotFound, open_storage
from support import contract_fixture, enqueue, run_async, wait_finished

PART = 5 * 1024 * 1024  # S3's smallest part size


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def _settings(endpoint: str, bucket: str | None = None) -> S3Settings:
    return S3Settings(endpoint=endpoint, access_key="test-access", secret_key="test-secret",
                      bucket=bucket or f"spinbot-{uuid.uuid4().hex[:12]}", part_size_bytes=PART)


def _raw_client(endpoint: str):
    """A plain boto3 client, to look at what S3Storage wrote the way an operator's tools would."""
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test-access", aws_secret_access_key="test-secret",
                        region_name="us-east-1")


@pytest.fixture(params=["files", "s3"])
def storage(request, tmp_path):
    if request.param == "files":
        return FileStorage(tmp_path / "root")
    return S3Storage(_settings(request.getfixturevalue("s3_endpoint")))  # a fresh bucket per test


def test_round_trip_list_stat_delete(storage, tmp_path):
    storage.put_bytes("jobs/job-123456/scene-01.png", b"png bytes")
    source = tmp_path / "a.wav"
    source.write_bytes(b"wav bytes")
    storage.put_file("jobs/job-123456/scene-01.wav", source)
    storage.put_bytes("jobs/job-999999/final.mp4", b"another job")

    assert storage.exists("jobs/job-123456/scene-01.png")
    assert storage.stat("jobs/job-123456/scene-01.wav").size == len(b"wav bytes")
    assert storage.stat("jobs/job-123456/scene-01.wav").modified > 0
    with storage.open("jobs/job-123456/scene-01.png") as stream:
        assert stream.read() == b"png bytes"
    copy = tmp_path / "copy.wav"
    storage.get_to_file("jobs/job-123456/scene-01.wav", copy)
    assert copy.read_bytes() == b"wav bytes"
    assert storage.list("jobs/job-123456/") == ["jobs/job-123456/scene-01.png", "jobs/job-123456/scene-01.wav"]
    assert storage.list("jobs/job-9") == ["jobs/job-999999/final.mp4"]  # a prefix may end mid-name
    assert storage.list("jobs/other") == []

    storage.put_bytes("jobs/job-123456/scene-01.png", b"new")  # rerun: overwrite, never duplicate
    assert storage.list("jobs/job-123456/") == ["jobs/job-123456/scene-01.png", "jobs/job-123456/scene-01.wav"]
    with storage.open("jobs/job-123456/scene-01.png") as stream:
        assert stream.read() == b"new"

    storage.delete("jobs/job-123456/scene-01.png")
    storage.delete("jobs/job-123456/scene-01.png")  # deleting twice is fine
    assert not storage.exists("jobs/job-123456/scene-01.png")
    assert storage.list("jobs/") == ["jobs/job-123456/scene-01.wav", "jobs/job-999999/final.mp4"]


def test_missing_keys_raise_key_not_found(storage, tmp_path):
    assert not storage.exists("jobs/missing/scene-01.wav")
    with pytest.raises(KeyNotFound):
        storage.stat("jobs/missing/scene-01.wav")
    with pytest.raises(KeyNotFound):
        storage.open("jobs/missing/scene-01.wav")
    with pytest.raises(KeyNotFound):
        storage.get_to_file("jobs/missing/scene-01.wav", tmp_path / "x.wav")


@pytest.mark.parametrize("key", ["../etc/passwd", "/etc/passwd", "jobs/../../x", "jobs/a b.png", "", "jobs/x.png\n", "a" * 513])
def test_keys_outside_the_contract_are_refused(storage, key):
    with pytest.raises(InvalidKey):
        storage.put_bytes(key, b"x")
    with pytest.raises(InvalidKey):
        storage.exists(key)


def test_a_file_larger_than_the_part_size_round_trips(storage, tmp_path):
    # 12 MiB of non-repeating bytes: a part stored twice or out of order would change the hash.
    block = hashlib.sha256(b"seed").digest()
    data = b"".join(hashlib.sha256(block + i.to_bytes(4, "big")).digest() for i in range(12 * 1024 * 1024 // 32))
    source = tmp_path / "big.mp4"
    source.write_bytes(data)
    storage.put_file("jobs/job-123456/final.mp4", source)
    assert storage.stat("jobs/job-123456/final.mp4").size == len(data)
    copy = tmp_path / "copy.mp4"
    storage.get_to_file("jobs/job-123456/final.mp4", copy)
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    if isinstance(storage, S3Storage):
        # A multipart object's ETag is "<md5 of part md5s>-<part count>": 12 MiB in 5 MiB parts is 3.
        etag = _raw_client(storage.settings.endpoint).head_object(Bucket=storage.bucket, Key="jobs/job-123456/final.mp4")["ETag"]
        assert etag.strip('"').endswith("-3"), etag


# Object storage only --------------------------------------------------------------------------


def test_objects_carry_content_types_from_their_extension(s3_endpoint):
    storage = S3Storage(_settings(s3_endpoint))
    raw = _raw_client(s3_endpoint)
    for key, expected in [("jobs/j1/scene-01.wav", "audio/wav"), ("jobs/j1/scene-01.png", "image/png"),
                          ("jobs/j1/final.mp4", "video/mp4"), ("jobs/j1/plan.json", "application/json"),
                          ("jobs/j1/subtitles.srt", "application/x-subrip"), ("jobs/j1/blob", "application/octet-stream")]:
        storage.put_bytes(key, b"x")
        assert raw.head_object(Bucket=storage.bucket, Key=key)["ContentType"] == expected, key


def test_only_intermediates_carry_the_tag_the_expiry_rule_matches(s3_endpoint, tmp_path):
    storage = S3Storage(_settings(s3_endpoint))
    raw = _raw_client(s3_endpoint)
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * (PART + 1024))  # multipart: the tag must be set on the upload, too
    storage.put_file("jobs/j1/scene-02.wav", big)
    for key in ["jobs/j1/scene-01.png", "jobs/j1/work/scene-01-visual.png", "jobs/j1/final.mp4", "jobs/j1/plan.json",
                "users/discord/42/voices/anna.wav"]:
        storage.put_bytes(key, b"x")

    def tags(key):
        return {t["Key"]: t["Value"] for t in raw.get_object_tagging(Bucket=storage.bucket, Key=key)["TagSet"]}

    for key in ["jobs/j1/scene-01.png", "jobs/j1/scene-02.wav", "jobs/j1/work/scene-01-visual.png"]:
        assert tags(key) == {"spinbot-kind": "intermediate"}, key
    for key in ["jobs/j1/final.mp4", "jobs/j1/plan.json", "users/discord/42/voices/anna.wav"]:
        assert tags(key) == {}, key


def test_a_missing_bucket_is_created_and_an_existing_one_reused(s3_endpoint):
    bucket = f"spinbot-{uuid.uuid4().hex[:12]}"
    first = S3Storage(_settings(s3_endpoint, bucket))
    first.put_bytes("jobs/j1/final.mp4", b"clip")
    second = S3Storage(_settings(s3_endpoint, bucket))  # a second worker, or the bot, starting later
    assert second.list("jobs/") == ["jobs/j1/final.mp4"]
    assert bucket in [b["Name"] for b in _raw_client(s3_endpoint).list_buckets()["Buckets"]]


def test_s3_is_selected_by_s3_endpoint_and_needs_no_data_dir(s3_endpoint):
    bucket = f"spinbot-{uuid.uuid4().hex[:12]}"
    config = load_config({"REDIS_URL": "redis://127.0.0.1:6379", "S3_ENDPOINT": s3_endpoint, "S3_ACCESS_KEY": "test-access",
                          "S3_SECRET_KEY": "test-secret", "S3_BUCKET": bucket, "S3_PART_SIZE_MB": "5"})
    assert config.s3 is not None and (config.s3.bucket, config.s3.part_size_bytes) == (bucket, PART)
    assert "test-secret" not in repr(config)
    storage = open_storage(config)
    assert isinstance(storage, S3Storage) and storage.describe() == f"s3 {s3_endpoint} bucket {bucket}"


def test_files_are_the_default(tmp_path):
    config = load_config({"REDIS_URL": "redis://127.0.0.1:6379", "SPINBOT_DATA_DIR": str(tmp_path), "S3_ENDPOINT": ""})
    assert config.s3 is None and isinstance(open_storage(config), FileStorage)


def test_bad_s3_settings_are_named_without_the_secret():
    with pytest.raises(ConfigError) as caught:
        load_config({"REDIS_URL": "redis://127.0.0.1:6379", "S3_ENDPOINT": "minio:9000", "S3_SECRET_KEY": "hunter2-secret",
                     "S3_BUCKET": "Bad_Bucket", "S3_PART_SIZE_MB": "1"})
    text = str(caught.value)
    for words in ("S3_ENDPOINT must be an http:// or https:// URL", "S3_ACCESS_KEY is required", "S3_BUCKET must be",
                  "S3_PART_SIZE_MB must be at least 5"):
        assert words in text
    assert "hunter2-secret" not in text
    assert "SPINBOT_DATA_DIR" not in text  # not needed with object storage


def test_a_render_job_through_the_worker_process_stores_its_artifacts_in_the_bucket(
        start_worker, s3_endpoint, redis_url, queue_name, data_dir):
    bucket = f"spinbot-{uuid.uuid4().hex[:12]}"
    worker = start_worker(S3_ENDPOINT=s3_endpoint, S3_ACCESS_KEY="test-access", S3_SECRET_KEY="test-secret", S3_BUCKET=bucket)
    job_id = run_async(enqueue(redis_url, queue_name, contract_fixture("valid-render.json"), attempts=1))
    job = run_async(wait_finished(redis_url, queue_name, job_id))
    assert job.failedReason is None, f"{job.failedReason}\n{worker.log()}"

    storage = S3Storage(_settings(s3_endpoint, bucket))
    for scene in job.returnvalue["scenes"]:
        assert storage.stat(scene["audioKey"]).size > 1000
        with storage.open(scene["imageKey"]) as image:
            assert image.read(8) == b"\x89PNG\r\n\x1a\n"
    assert not any("/work/" in key for key in storage.list("jobs/")), "work files are removed once upscaled"
    assert not data_dir.exists() or not any(data_dir.rglob("*.*")), "nothing was written to the local data folder"
    assert f"storage: s3 {s3_endpoint} bucket {bucket}" in worker.log()
    assert "test-secret" not in worker.log()
    assert worker.terminate() == 0
