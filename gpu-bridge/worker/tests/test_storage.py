"""Artifacts land under SPINBOT_DATA_DIR by key, atomically, and keys cannot escape the root."""

import pytest

from spinbot_worker.storage import FileStorage, InvalidKey, KeyNotFound, scene_key


def test_round_trip_list_stat_delete(tmp_path):
    storage = FileStorage(tmp_path / "root")
    storage.put_bytes("jobs/job-123456/scene-01.png", b"png bytes")
    source = tmp_path / "a.wav"
    source.write_bytes(b"wav bytes")
    storage.put_file("jobs/job-123456/scene-01.wav", source)

    assert storage.exists("jobs/job-123456/scene-01.png")
    assert storage.stat("jobs/job-123456/scene-01.wav").size == len(b"wav bytes")
    with storage.open("jobs/job-123456/scene-01.png") as stream:
        assert stream.read() == b"png bytes"
    copy = tmp_path / "copy.wav"
    storage.get_to_file("jobs/job-123456/scene-01.wav", copy)
    assert copy.read_bytes() == b"wav bytes"
    assert storage.list("jobs/job-123456/") == ["jobs/job-123456/scene-01.png", "jobs/job-123456/scene-01.wav"]
    assert storage.list("jobs/other") == []

    storage.put_bytes("jobs/job-123456/scene-01.png", b"new")  # rerun: overwrite, never duplicate
    assert storage.list("jobs/") == ["jobs/job-123456/scene-01.png", "jobs/job-123456/scene-01.wav"]
    assert [p.name for p in (tmp_path / "root/jobs/job-123456").iterdir() if "partial" in p.name] == []

    storage.delete("jobs/job-123456/scene-01.png")
    storage.delete("jobs/job-123456/scene-01.png")  # deleting twice is fine
    storage.delete("jobs/job-123456/scene-01.wav")
    assert not (tmp_path / "root/jobs").exists()  # no empty folders left behind
    with pytest.raises(KeyNotFound):
        storage.stat("jobs/job-123456/scene-01.wav")


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
