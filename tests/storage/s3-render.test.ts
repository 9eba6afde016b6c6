// A render through the real queue, the real Python worker and real ffmpeg with object storage:
// the worker writes the scenes into the bucket, the studio assembles from there and hands out a
// presigned link to the clip.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { S3Storage } from '../../storage/s3.ts';
import { keys } from '../../storage/keys.ts';
import { assertWatchableClip, handWrittenPlan, openTestStudio, tempDir } from '../e2e/helpers.ts';
import { envFor, startMoto } from './servers.ts';

test('with S3 storage a plan renders through the worker into the bucket, and the link downloads a watchable clip', async (t) => {
  const server = await startMoto();
  t.after(() => server.stop());
  const bucket = `spinbot-render-${process.pid}`;
  const studio = await openTestStudio(t, {}, envFor(server, bucket));
  const storage = studio.storage;
  assert.ok(storage instanceof S3Storage, 'S3_ENDPOINT set, but the studio did not use object storage');
  t.after(() => storage.close());

  const clip = await studio.render({ plan: handWrittenPlan(10, 2), requestedBy: { platform: 'test', userId: 'e2e-s3' } });

  // The location handed to the user is a time-limited link into the bucket, and it works.
  assert.ok(clip.location.startsWith(`${server.endpoint}/${bucket}/${keys.finalClip(clip.jobId)}?`), clip.location);
  assert.match(clip.location, /X-Amz-Signature=/);
  const response = await fetch(clip.location);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'video/mp4');
  const local = join(await tempDir(t), 'downloaded.mp4');
  await writeFile(local, Buffer.from(await response.arrayBuffer()));
  await assertWatchableClip(local, { seconds: 10, sceneStarts: [0, 5] });

  // The worker's scenes are in the bucket, tagged for expiry; the clip and the plan are not.
  const stored = (await storage.list(keys.jobPrefix(clip.jobId))).map((o) => o.key);
  const scenes = [0, 1].flatMap((i) => [keys.sceneAudio(clip.jobId, i), keys.sceneImage(clip.jobId, i), keys.sceneSentences(clip.jobId, i)]);
  assert.deepEqual(stored, [keys.finalClip(clip.jobId), keys.plan(clip.jobId), ...scenes].sort((a, b) => a.localeCompare(b)));
  for (const key of scenes) {
    assert.deepEqual(await storage.client.getObjectTagging(bucket, key), [{ Key: 'spinbot-kind', Value: 'intermediate' }], key);
  }
  assert.deepEqual(await storage.client.getObjectTagging(bucket, keys.finalClip(clip.jobId)), []);
});
