"""Helpers shared by the tests: paths, the real queue, media measurements."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import subprocess
import time
from pathlib import Path

import redis
from bullmq import Job, Queue

WORKER_DIR = Path(__file__).resolve().parents[1]  # gpu-bridge/worker
REPO_ROOT = WORKER_DIR.parents[1]
CONTRACT_FIXTURES = REPO_ROOT / "gpu-bridge" / "contracts" / "fixtures"
TEST_FIXTURES = Path(__file__).resolve().parent / "fixtures"


def contract_fixture(name: str, **changes) -> dict:
    data = json.loads((CONTRACT_FIXTURES / name).read_text())
    data = copy.deepcopy(data)
    data.update(changes)
    return data


async def enqueue(redis_url: str, queue_name: str, data: dict, **opts) -> str:
    queue = Queue(queue_name, {"connection": redis_url})
    try:
        job = await queue.add(data.get("kind", "job"), data, {"jobId": data.get("jobId"), **opts})
        return job.id
    finally:
        await queue.close()


async def wait_finished(redis_url: str, queue_name: str, job_id: str, timeout: float = 40) -> Job:
    """The job once it has completed or failed for good (a guard, not a timing assertion)."""
    queue = Queue(queue_name, {"connection": redis_url})
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = await Job.fromId(queue, job_id)
            if job is not None and job.finishedOn:
                return job
            await asyncio.sleep(0.1)
        state = await queue.getJobState(job_id)
        raise AssertionError(f"job {job_id} did not finish within {timeout} s (state: {state})")
    finally:
        await queue.close()


async def job_counts(redis_url: str, queue_name: str) -> dict:
    queue = Queue(queue_name, {"connection": redis_url})
    try:
        return await queue.getJobCounts("completed", "failed", "active", "wait", "delayed")
    finally:
        await queue.close()


def run_async(coroutine):
    return asyncio.run(coroutine)


def queue_events(redis_url: str, queue_name: str, job_id: str | None = None) -> list[dict]:
    """The queue's event stream (what Node's QueueEvents reads), oldest first."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        entries = client.xrange(f"bull:{queue_name}:events")
    finally:
        client.close()
    events = [fields for _id, fields in entries]
    return [e for e in events if job_id is None or e.get("jobId") == job_id]


def progress_events(redis_url: str, queue_name: str, job_id: str) -> list[dict]:
    return [json.loads(e["data"]) for e in queue_events(redis_url, queue_name, job_id) if e["event"] == "progress"]


def mean_volume_db(wav: Path) -> float:
    done = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-i", str(wav), "-af", "volumedetect", "-f", "null", "-"],
                          capture_output=True, text=True, check=True)
    match = re.search(r"mean_volume:\s*(-?[\d.]+|-inf) dB", done.stderr)
    assert match, done.stderr
    return float(match.group(1))


def probe_seconds(media: Path) -> float:
    done = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(media)],
                          capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


def wait_for_progress(redis_url: str, queue_name: str, job_id: str, worker, timeout: float = 30) -> list[dict]:
    """The job's progress events once there is at least one (the worker must stay alive meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = progress_events(redis_url, queue_name, job_id)
        if events:
            return events
        assert worker.process.poll() is None, f"worker exited early:\n{worker.log()}"
        time.sleep(0.05)
    raise AssertionError(f"no progress from job {job_id} within {timeout} s:\n{worker.log()}")
