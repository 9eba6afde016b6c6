"""Artifacts land under SPINBOT_DATA_DIR by key, atomically, and keys cannot escape the root."""

import pytest

from spinbot_worker.storage import FileStorage, InvalidKey, KeyNotFound, scene_key


def test_files_leave_no_partial_writes_or_empty_folders(tmp_path):
    # The round trip itself is in test_storage_conformance.py, for files and S3 alike.
    storage = FileStorage(tmp_path / "root")
    storage.put_bytes("jobs/job-123456/scene-01.png", b"png bytes")
    storage.put_bytes("jobs/job-123456/scene-01.png", b"new")  # rerun: overwrite, never duplicate
    assert storage.list("jobs/") == ["jobs/job-123456/scene-01.png"]
    assert [p.name for p in (tmp_path / "root/jobs/job-123456").iterdir() if "partial" in p.name] == []

    storage.delete("jobs/job-123456/scene-01.png")
    storage.delete("jobs/job-123456/scene-01.png")  # deleting twice is fine
    assert not (tmp_path / "root/jobs").exists()  # no empty folders left behind
    with pytest.raises(KeyNotFound):
        storage.stat("jobs/job-123456/scene-01.png")


@pytest.mark.parametrize("key", ["../etc/passwd", "/etc/passwd", "jobs/../../x", "jobs/a b.png", "", "jobs/x.png\n", "a" * 513])
def test_keys_outside_the_contract_are_refused(tmp_path, key):
    storage = FileStorage(tmp_path)
    with pytest.raises(InvalidKey):
        storage.put_bytes(key, b"x")


def test_symlinks_cannot_lead_out_of_the_root(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    storage = FileStorage(tmp_path / "root")
    (tmp_path / "root" / "link").symlink_to(outside)
    with pytest.raises(InvalidKey):
        storage.put_bytes("link/x.png", b"x")
    assert not (outside / "x.png").exists()


def test_scene_keys_are_one_based_with_two_digits():
    assert scene_key("job-123456", 0, "wav") == "jobs/job-123456/scene-01.wav"
    assert scene_key("job-123456", 11, "png") == "jobs/job-123456/scene-12.png"
