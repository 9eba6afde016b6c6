"""The worker process, started as in production, serving real jobs from a real Redis queue."""

import json
import signal
import subprocess
import sys
import time

import redis

from PIL import Image, ImageStat

from spinbot_worker.contracts import schema_errors
from spinbot_worker.storage import FileStorage
from support import (
    REPO_ROOT, WORKER_DIR, contract_fixture, enqueue, job_counts, mean_volume_db, progress_events, queue_events,
    run_async, wait_finished, wait_for_progress,
)


def test_render_job_end_to_end(start_worker, redis_url, queue_name, data_dir):
    worker = start_worker()
    assert "visuals=illustrated (CPU), upscale=Real-ESRGAN animevideov3 (CPU)" in worker.lines[0]
    data = contract_fixture("valid-render.json")
    job_id = run_async(enqueue(redis_url, queue_name, data, attempts=3))
    job = run_async(wait_finished(redis_url, queue_name, job_id))

    assert job.failedReason is None, job.failedReason
    result = job.returnvalue
    assert schema_errors("render-result", result) == []
    tts = result["backends"]["tts"]
    assert (tts["name"], tts["device"]) == ("Piper joe-medium (CPU)", "cpu")
    # The licence for the clip's result line, from setup/models.json.
    assert tts["licence"].startswith("voice: MIT"), tts

    events = progress_events(redis_url, queue_name, job_id)
    for event in events:
        assert schema_errors("progress", event) == [], event
    assert {(e["stage"], e.get("scene")) for e in events} >= {(s, n) for s in ("tts", "visuals", "upscale") for n in (1, 2)}
    assert events[-1]["overall"] == 100

    storage = FileStorage(data_dir)
    for scene in result["scenes"]:
        wav, png = storage.path_for(scene["audioKey"]), storage.path_for(scene["imageKey"])
        assert mean_volume_db(wav) > -40
        assert 0 < scene["audioSeconds"] <= scene["seconds"]
        image = Image.open(png)
        assert image.size == (1280, 720) and min(ImageStat.Stat(image.convert("L")).stddev) > 15

    worker_log = worker.log()
    assert f"job {job_id} start" in worker_log and f"job {job_id} finished" in worker_log
    assert worker.terminate() == 0


def test_invalid_job_fails_once_without_retry_and_stores_nothing(start_worker, redis_url, queue_name, data_dir):
    worker = start_worker()
    data = contract_fixture("invalid-scene-seconds.json")
    job_id = run_async(enqueue(redis_url, queue_name, data, attempts=3))
    job = run_async(wait_finished(redis_url, queue_name, job_id))

    error = json.loads(job.failedReason)
    assert error == {"stage": "validate", "code": "BAD_INPUT", "retryable": False, "message": error["message"]}
    assert "plan.scenes[0].seconds" in error["message"]
    assert job.attemptsMade == 1  # attempts=3, but bad input is never retried
    assert run_async(job_counts(redis_url, queue_name))["failed"] == 1
    assert FileStorage(data_dir).list() == []
    assert f"job {job_id} failed" in worker.log()


def test_voice_training_whose_sample_is_gone_fails_once_naming_the_file(start_worker, redis_url, queue_name):
    # Voice profiles are built on every machine now (no GPU needed); a sample missing from storage
    # is bad input: one attempt, and the message names the file to upload again.
    start_worker()
    data = contract_fixture("valid-train-voice.json")
    job_id = run_async(enqueue(redis_url, queue_name, data, attempts=3))
    job = run_async(wait_finished(redis_url, queue_name, job_id))
    assert json.loads(job.failedReason) == {
        "stage": "train_voice", "code": "MISSING_ARTIFACT", "retryable": False,
        "message": "1 training file(s) are not in storage, e.g. users/discord/42/voices/anna.wav; upload them again.",
    }
    assert job.attemptsMade == 1
    # Stored as the bare JSON text (not JSON-quoted): the Node side parses failedReason once.
    raw = redis.Redis.from_url(redis_url, decode_responses=True).hget(f"bull:{queue_name}:{job_id}", "failedReason")
    assert raw.startswith('{"stage": "train_voice"')


def test_a_backend_that_fails_once_succeeds_on_the_second_attempt(start_worker, redis_url, queue_name):
    start_worker(SPINBOT_VISUALS_BACKEND="fake-fail-once")
    data = contract_fixture("valid-render.json")
    job_id = run_async(enqueue(redis_url, queue_name, data, attempts=2))
    job = run_async(wait_finished(redis_url, queue_name, job_id))
    assert job.returnvalue and job.returnvalue["backends"]["visuals"]["name"] == "FAKE fail-once (test only)"
    assert job.attemptsMade == 2
    assert len(job.stacktrace) == 1 and "fail-once" in job.stacktrace[0]
    assert run_async(job_counts(redis_url, queue_name))["completed"] == 1


def test_an_unrecoverable_backend_error_is_not_retried(start_worker, redis_url, queue_name):
    start_worker(SPINBOT_UPSCALE_BACKEND="fake-unrecoverable")
    job_id = run_async(enqueue(redis_url, queue_name, contract_fixture("valid-render.json"), attempts=3))
    job = run_async(wait_finished(redis_url, queue_name, job_id))
    error = json.loads(job.failedReason)
    assert (error["stage"], error["code"], error["retryable"]) == ("upscale", "BACKEND_UNAVAILABLE", False)
    assert job.attemptsMade == 1


def test_sigterm_lets_the_running_job_finish_then_exits_0(start_worker, redis_url, queue_name):
    worker = start_worker(SPINBOT_TTS_BACKEND="fake-slow", SPINBOT_FAKE_SLOW_SECONDS="1")
    job_id = run_async(enqueue(redis_url, queue_name, contract_fixture("valid-render.json"), attempts=1))
    wait_for_progress(redis_url, queue_name, job_id, worker)
    assert worker.terminate() == 0
    job = run_async(wait_finished(redis_url, queue_name, job_id, timeout=5))
    assert job.returnvalue and job.returnvalue["kind"] == "render"
    assert [e["event"] for e in queue_events(redis_url, queue_name, job_id)].count("completed") == 1


def test_a_second_sigterm_stops_at_once_and_leaves_the_job_for_another_worker(start_worker, redis_url, queue_name):
    worker = start_worker(SPINBOT_TTS_BACKEND="fake-slow", SPINBOT_FAKE_SLOW_SECONDS="20")
    job_id = run_async(enqueue(redis_url, queue_name, contract_fixture("valid-render.json"), attempts=1))
    wait_for_progress(redis_url, queue_name, job_id, worker)
    worker.process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert worker.terminate(timeout=10) == 0  # well before the 20 s backend call ends
    # Neither failed nor completed: still active, so the stalled-job check hands it to another worker.
    assert run_async(job_counts(redis_url, queue_name))["active"] == 1


def test_cancelling_a_running_job_stops_it_before_the_next_step_and_removes_its_scenes(
        start_worker, redis_url, queue_name, data_dir):
    worker = start_worker(SPINBOT_TTS_BACKEND="fake-slow", SPINBOT_FAKE_SLOW_SECONDS="1")
    job_id = run_async(enqueue(redis_url, queue_name, contract_fixture("valid-render.json"), attempts=3))
    deadline = time.monotonic() + 30
    while not any(e["stage"] == "tts" for e in progress_events(redis_url, queue_name, job_id)):
        assert worker.process.poll() is None and time.monotonic() < deadline, worker.log()
        time.sleep(0.02)
    # What GpuQueue.cancel (gpu-bridge/producer.ts) does for an active job.
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    cancel_key = f"bull:{queue_name}:cancel:{job_id}"
    client.set(cancel_key, "1", ex=24 * 3600)

    job = run_async(wait_finished(redis_url, queue_name, job_id))
    assert json.loads(job.failedReason) == {
        "stage": "tts", "code": "CANCELLED", "message": "Cancelled by the user.", "retryable": False}
    assert job.attemptsMade == 1  # attempts=3, but a cancelled job is never retried
    assert schema_errors("stage-error", json.loads(job.failedReason)) == []
    # Scene 1's narration was recorded before the cancel was seen; it is gone again, scene 2 never started.
    assert not any(e["stage"] == "tts" and e.get("scene") == 2 for e in progress_events(redis_url, queue_name, job_id))
    assert FileStorage(data_dir).list() == []
    assert client.exists(cancel_key) == 0
    client.close()
    assert worker.terminate() == 0


def test_configuration_errors_are_clear_and_secrets_stay_out_of_logs(start_worker, redis_url, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(WORKER_DIR)}
    missing = subprocess.run([sys.executable, "-m", "spinbot_worker"], cwd=REPO_ROOT, env=env,
                             capture_output=True, text=True, timeout=30)
    assert missing.returncode == 2
    assert "REDIS_URL is required" in missing.stderr and "SPINBOT_DATA_DIR is required" in missing.stderr

    secret_url = redis_url.replace("redis://", "redis://:hunter2-secret@")
    misconfigured = start_worker(REDIS_URL=secret_url, SPINBOT_TTS_BACKEND="no-such-backend", wait=False)
    assert misconfigured.process.wait(timeout=30) == 2
    assert "SPINBOT_TTS_BACKEND='no-such-backend'" in misconfigured.log()

    # Redis without requirepass ignores the password, so this worker starts and logs its URL.
    worker = start_worker(REDIS_URL=secret_url)
    assert worker.terminate() == 0
    output = worker.log() + "\n".join(worker.lines) + misconfigured.log()
    assert "redis://:***@127.0.0.1" in output
    assert "hunter2-secret" not in output
