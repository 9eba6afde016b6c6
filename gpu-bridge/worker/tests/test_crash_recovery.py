"""A worker killed mid-job (SIGKILL, OOM killer, power loss): another worker finishes the job, once."""

from spinbot_worker.contracts import schema_errors
from spinbot_worker.storage import FileStorage
from support import contract_fixture, enqueue, job_counts, queue_events, run_async, wait_finished, wait_for_progress

# Short lock and stalled-check intervals so recovery takes seconds, not the default ~minute.
FAST_RECOVERY = dict(SPINBOT_LOCK_DURATION_MS=2000, SPINBOT_STALLED_INTERVAL_MS=2000,
                     SPINBOT_TTS_BACKEND="fake-slow", SPINBOT_FAKE_SLOW_SECONDS=1)


def test_job_of_a_killed_worker_is_completed_exactly_once_by_another(start_worker, redis_url, queue_name, data_dir):
    first = start_worker(**FAST_RECOVERY)
    job_id = run_async(enqueue(redis_url, queue_name, contract_fixture("valid-render.json"), attempts=1))
    wait_for_progress(redis_url, queue_name, job_id, first)
    first.kill()  # SIGKILL: no chance to release the job

    second = start_worker(**FAST_RECOVERY)
    job = run_async(wait_finished(redis_url, queue_name, job_id, timeout=45))

    assert job.failedReason is None, job.failedReason
    assert schema_errors("render-result", job.returnvalue) == []
    assert job.finishedOn and job.attemptsMade == 1  # the stall did not use up an attempt
    assert job.stalledCounter == 1 and job.attemptsStarted == 2
    events = [e["event"] for e in queue_events(redis_url, queue_name, job_id)]
    assert events.count("completed") == 1 and events.count("stalled") == 1 and "failed" not in events
    assert run_async(job_counts(redis_url, queue_name)) == {"completed": 1, "failed": 0, "active": 0, "wait": 0, "delayed": 0}
    # The rerun overwrote the deterministic keys: one set of artifacts, nothing half-written.
    assert FileStorage(data_dir).list(f"jobs/{job.data['jobId']}/") == [
        f"jobs/{job.data['jobId']}/scene-0{n}.{ext}" for n in (1, 2) for ext in ("png", "sentences.json", "wav")]
    assert f"job {job_id} finished" in second.log()



def test_a_job_that_keeps_killing_its_worker_ends_failed_instead_of_looping(start_worker, redis_url, queue_name):
    crashing = dict(FAST_RECOVERY, SPINBOT_TTS_BACKEND="fake-crash",
                    SPINBOT_LOCK_DURATION_MS=1000, SPINBOT_STALLED_INTERVAL_MS=1000)
    job_id = run_async(enqueue(redis_url, queue_name, contract_fixture("valid-render.json"), attempts=3))
    for _ in range(2):  # crash, recovered once (maxStalledCount=1), crash again
        worker = start_worker(**crashing)
        assert worker.process.wait(timeout=30) == 70  # the fake backend's os._exit code

    start_worker(**crashing)  # finds the job stalled a second time: bullmq fails it
    job = run_async(wait_finished(redis_url, queue_name, job_id, timeout=45))
    # bullmq's own reason, not a StageError JSON: the TypeScript side must treat it as INTERNAL.
    assert job.failedReason == "job stalled more than allowable limit"
    assert job.returnvalue is None
    assert run_async(job_counts(redis_url, queue_name))["failed"] == 1
