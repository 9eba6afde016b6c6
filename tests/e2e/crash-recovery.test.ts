// A worker killed with SIGKILL in the middle of a job: once a worker runs again, the job finishes
// exactly once and nothing is lost. The first worker uses the test-only FAKE slow backend (real
// narration, just slower) so that there is a "middle" to kill it in.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { CONTRACT_VERSION } from '../../gpu-bridge/contracts/index.ts';
import { GpuQueue } from '../../gpu-bridge/producer.ts';
import { REPO_ROOT, startRedis, startWorker } from '../../pipeline/services.ts';
import { FsStorage } from '../../storage/fs.ts';
import { keys } from '../../storage/keys.ts';
import { handWrittenPlan, tempDir } from './helpers.ts';

const WORKER_DIR = join(REPO_ROOT, 'gpu-bridge', 'worker');
// Short locks so that the dead worker's job is noticed in seconds rather than the default 30 s.
const FAST_STALL = { SPINBOT_LOCK_DURATION_MS: '2000', SPINBOT_STALLED_INTERVAL_MS: '1000' };

test('a worker SIGKILLed mid-job: the next worker finishes the job exactly once', async (t) => {
  const redis = await startRedis();
  const dataDir = await tempDir(t, 'spinbot-data-');
  const queue = new GpuQueue(redis.url);
  const workers: Array<{ stop(): Promise<void> }> = [];
  // Workers and queue connections first: closing them after Redis is gone would wait forever.
  t.after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await queue.close();
    await redis.stop();
  });
  await queue.ready();

  const doomed = await startWorker({
    redisUrl: redis.url,
    dataDir,
    env: {
      ...FAST_STALL,
      PYTHONPATH: `${WORKER_DIR}:${join(WORKER_DIR, 'tests', 'fixtures')}`,
      SPINBOT_BACKEND_PLUGINS: 'misbehaving_backends',
      SPINBOT_TTS_BACKEND: 'fake-slow',
      SPINBOT_FAKE_SLOW_SECONDS: '2',
    },
  });
  workers.push(doomed);

  const completions: string[] = [];
  queue.events.on('completed', ({ jobId }) => completions.push(jobId));
  const job = await queue.submit({
    kind: 'render',
    contractVersion: CONTRACT_VERSION,
    jobId: 'crash-test-0001',
    requestedBy: { platform: 'test', userId: 'e2e' },
    plan: handWrittenPlan(8, 2),
  });

  // Kill the first worker as soon as it is visibly working on the job.
  let killed = false;
  const result = queue.waitForRender(job, {
    onProgress: (p) => {
      if (!killed && p.stage === 'tts') {
        killed = true;
        doomed.process.kill('SIGKILL');
      }
    },
  });
  await new Promise<void>((resolve) => doomed.process.once('exit', () => resolve()));
  assert.ok(killed, 'the first worker finished before it could be killed');
  assert.equal(await queue.queue.getJobState(job.id!), 'active', 'the job should still look active, held by a dead worker');

  const rescuer = await startWorker({ redisUrl: redis.url, dataDir, env: FAST_STALL });
  workers.push(rescuer);
  const rendered = await result;

  assert.equal(rendered.jobId, 'crash-test-0001');
  assert.equal(rendered.scenes.length, 2);
  const storage = new FsStorage(dataDir);
  for (const scene of rendered.scenes) {
    assert.ok((await storage.stat(scene.audioKey))!.bytes > 1000, 'narration missing after recovery');
    assert.ok((await storage.stat(scene.imageKey))!.bytes > 1000, 'picture missing after recovery');
  }
  // No stray temp files from the killed worker's half-written artifacts are listed as artifacts.
  assert.deepEqual(
    (await storage.list(keys.jobPrefix('crash-test-0001'))).map((o) => o.key).filter((k) => !/scene-0[12]\.(wav|png|sentences\.json)$/.test(k)),
    [],
  );

  await new Promise((r) => setTimeout(r, 1500)); // let any duplicate completion show up
  assert.deepEqual(completions, ['crash-test-0001'], 'the job must complete exactly once');
  const counts = await queue.queue.getJobCounts('completed', 'failed', 'active', 'waiting', 'delayed');
  assert.deepEqual(counts, { completed: 1, failed: 0, active: 0, waiting: 0, delayed: 0 });
});
