// A plan becomes a clip through the real queue, the real Python worker and real ffmpeg.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Progress } from '../../gpu-bridge/contracts/index.ts';
import { keys } from '../../storage/keys.ts';
import { assertWatchableClip, handWrittenPlan, openTestStudio, tempDir } from './helpers.ts';

test('a 20 s plan renders to a watchable 1280x720 clip with narration, through queue and worker', async (t) => {
  const studio = await openTestStudio(t);
  const plan = handWrittenPlan(20, 4);
  const progress: Progress[] = [];
  const clip = await studio.render({ plan, requestedBy: { platform: 'test', userId: 'e2e' } }, (p) => progress.push(p));

  assert.equal(clip.key, keys.finalClip(clip.jobId));
  assert.ok((await studio.storage.stat(clip.key))!.bytes > 50_000, 'the stored clip is suspiciously small');
  const local = join(await tempDir(t), 'final.mp4');
  await studio.storage.getToFile(clip.key, local);
  await assertWatchableClip(local, { seconds: 20, sceneStarts: [0, 5, 10, 15], tolerance: 0.05 });

  // Progress for every stage, in pipeline order, ending with assembly at 100%.
  const stages = [...new Set(progress.map((p) => p.stage))];
  assert.deepEqual(stages, ['validate', 'tts', 'visuals', 'upscale', 'assemble']);
  for (const stage of ['tts', 'visuals', 'upscale', 'assemble']) {
    assert.ok(progress.some((p) => p.stage === stage && p.percent === 100), `${stage} never reached 100%`);
  }
  assert.equal(progress.at(-1)?.stage, 'assemble');
  assert.equal(progress.at(-1)?.percent, 100);
  const overall = progress.map((p) => p.overall);
  assert.ok(overall.every((v, i) => i === 0 || v >= overall[i - 1]! - 1e-9), 'overall progress went backwards');

  assert.match(clip.backends.tts!, /^Piper joe-medium/, 'English is narrated by Piper');
  assert.match(clip.backends.visuals!, /CPU/);
  // The scenes' intermediates are kept under the job's prefix, next to the plan.
  const stored = (await studio.storage.list(keys.jobPrefix(clip.jobId))).map((o) => o.key);
  for (const index of [0, 1, 2, 3]) {
    assert.ok(stored.includes(keys.sceneAudio(clip.jobId, index)));
    assert.ok(stored.includes(keys.sceneImage(clip.jobId, index)));
  }
  assert.ok(stored.includes(keys.plan(clip.jobId)));
});
