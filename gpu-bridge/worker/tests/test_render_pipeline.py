"""A render job run in-process (no queue): progress per scene and stage, reuse of kept scenes."""

import asyncio

import pytest

from spinbot_worker.backends import BackendRegistry, build_registry
from spinbot_worker.contracts import schema_errors
from spinbot_worker.errors import StageFailure
from spinbot_worker.pipeline import handle_job
from spinbot_worker.runtime import JobRuntime
from spinbot_worker.storage import FileStorage
from support import contract_fixture


def run_job(data, storage, tmp_path, attempt=1, **operator_choices):
    events = []

    async def collect(event):
        events.append(event)

    registry = build_registry(("misbehaving_backends",), BackendRegistry(gpu_probe=lambda: None))
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    rt = JobRuntime(job_id=data.get("jobId", "x"), storage=storage, registry=registry, workdir=workdir,
                    send_progress=collect, attempt=attempt, operator_choices=operator_choices)
    return asyncio.run(handle_job(data, rt)), events


def test_progress_reports_every_stage_of_every_scene(tmp_path):
    storage = FileStorage(tmp_path / "data")
    result, events = run_job(contract_fixture("valid-render.json"), storage, tmp_path)
    assert schema_errors("render-result", result) == []
    for event in events:
        assert schema_errors("progress", event) == [], event
    seen = {(e["stage"], e.get("scene")) for e in events}
    assert {(stage, scene) for stage in ("tts", "visuals", "upscale") for scene in (1, 2)} <= seen
    overall = [e["overall"] for e in events]
    assert overall == sorted(overall) and overall[-1] == 100
    assert all(e["backend"] for e in events if e.get("scene"))
    # Only the final artifacts stay in storage (the sentence timings beside the audio, for a later refine).
    assert storage.list("jobs/fixture-render-001/") == [
        "jobs/fixture-render-001/scene-01.png", "jobs/fixture-render-001/scene-01.sentences.json",
        "jobs/fixture-render-001/scene-01.wav",
        "jobs/fixture-render-001/scene-02.png", "jobs/fixture-render-001/scene-02.sentences.json",
        "jobs/fixture-render-001/scene-02.wav"]


def test_refining_one_scene_keeps_the_others(tmp_path):
    storage = FileStorage(tmp_path / "data")
    first, _ = run_job(contract_fixture("valid-render.json"), storage, tmp_path)
    kept_before = storage.stat("jobs/fixture-render-001/scene-01.png")
    # Scene 2's files are replaced by markers: only a render that really redoes scene 2 overwrites
    # them (a timestamp comparison would also hold when nothing was redone).
    for key in ("jobs/fixture-render-001/scene-02.png", "jobs/fixture-render-001/scene-02.wav"):
        storage.put_bytes(key, b"stale")

    second, events = run_job(contract_fixture("valid-render.json", reuseScenes=[0]), storage, tmp_path)
    assert [s["reused"] for s in second["scenes"]] == [True, False]
    assert second["scenes"][0]["audioSeconds"] == pytest.approx(first["scenes"][0]["audioSeconds"], abs=0.01)
    assert storage.stat("jobs/fixture-render-001/scene-01.png") == kept_before
    for key in ("jobs/fixture-render-001/scene-02.png", "jobs/fixture-render-001/scene-02.wav"):
        with storage.open(key) as stream:
            assert stream.read() != b"stale", f"{key} was not rendered again"
    assert {e["stage"] for e in events if e.get("scene") == 2} >= {"tts", "visuals", "upscale"}
    assert not any(e.get("scene") == 1 for e in events)
    assert schema_errors("render-result", second) == []


def test_a_kept_scene_whose_files_are_gone_is_rendered_again(tmp_path):
    storage = FileStorage(tmp_path / "data")
    run_job(contract_fixture("valid-render.json"), storage, tmp_path)
    storage.delete("jobs/fixture-render-001/scene-01.wav")
    result, _ = run_job(contract_fixture("valid-render.json", reuseScenes=[0]), storage, tmp_path)
    assert [s["reused"] for s in result["scenes"]] == [False, False]
    assert storage.exists("jobs/fixture-render-001/scene-01.wav")


def test_a_missing_reference_image_is_reported_before_any_work(tmp_path):
    storage = FileStorage(tmp_path / "data")
    data = contract_fixture("valid-render.json", referenceImageKey="users/test/u1/photo.png")
    with pytest.raises(StageFailure) as caught:
        run_job(data, storage, tmp_path)
    assert (caught.value.code, caught.value.stage, caught.value.retryable) == ("MISSING_ARTIFACT", "visuals", False)
    assert storage.list() == []


def test_a_bug_in_a_backend_is_a_retryable_internal_error_of_its_stage(tmp_path):
    storage = FileStorage(tmp_path / "data")
    with pytest.raises(StageFailure) as caught:
        run_job(contract_fixture("valid-render.json"), storage, tmp_path, visuals="fake-broken")
    assert (caught.value.code, caught.value.stage, caught.value.retryable) == ("INTERNAL", "visuals", True)
    assert "FAKE broken backend" in caught.value.message
