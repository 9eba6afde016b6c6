// The job runner against a real studio queue and Redis (no worker: nothing here needs rendering):
// an approved plan dispatched twice is one job, queued and counted once; a cancelled job gives its
// quota back; the job's record (owner, chat, plan, state) is in Redis for any process to read.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { JobLimits, MemoryDailyCounter } from '../../bot/access.ts';
import { ConsoleChannel } from '../../bot/console-channel.ts';
import { JobRunner } from '../../bot/jobs.ts';
import { VoiceLibrary } from '../../bot/uploads/voices.ts';
import { handWrittenPlan, openTestStudio } from './helpers.ts';

test('an approved plan dispatched twice is one job, counted once; a cancelled job gives its daily quota back', async (t) => {
  const studio = await openTestStudio(t, {}, { SPINBOT_LOCAL_WORKER: 'false' });
  const output = new Writable({ write: (_chunk, _encoding, done) => done() });
  const channel = new ConsoleChannel({ output: output as unknown as NodeJS.WriteStream, userId: `jobs-test-${process.pid}` });
  const jobs = new JobRunner({
    studio,
    voices: new VoiceLibrary(studio.storage, { maxVoices: 5 }),
    limits: new JobLimits({ maxRunning: 2, daily: 1, counter: new MemoryDailyCounter() }),
    minVideoKbps: 300,
    platform: 'console',
    log: () => {},
  });
  t.after(() => jobs.close());
  const plan = handWrittenPlan(6, 2);

  const first = await jobs.start(channel, { plan }, undefined, 'a1b2c3d4');
  // The same approval again (a second press, or a crash before the conversation saved it).
  const again = await jobs.start(channel, { plan }, undefined, 'a1b2c3d4');
  assert.equal(again.jobId, first.jobId);
  assert.deepEqual(await studio.queue.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized'), { waiting: 1, active: 0, delayed: 0, prioritized: 0 });
  const stored = await studio.jobs.get(first.jobId);
  assert.equal(stored?.owner.userId, channel.userId);
  assert.equal(stored?.chatId, 'console');
  assert.equal(stored?.plan.title, plan.title);
  assert.equal(stored?.state, 'queued');

  // The daily quota of 1 is used: another plan is refused, until the first is cancelled.
  await assert.rejects(jobs.start(channel, { plan }, undefined, 'e5f6a7b8'), /today's quota of 1 video/);
  await jobs.cancel({ platform: 'console', userId: channel.userId }, first.jobId);
  assert.equal((await studio.jobs.get(first.jobId))?.state, 'cancelled');
  assert.equal(await studio.queue.queue.getJob(first.jobId), undefined, 'the job left the queue');
  const next = await jobs.start(channel, { plan }, undefined, 'e5f6a7b8');
  assert.notEqual(next.jobId, first.jobId);
  await jobs.cancel({ platform: 'console', userId: channel.userId }, next.jobId);
});
