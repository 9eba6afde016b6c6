// Under object storage the API hands the clip out as a redirect to a presigned link into the bucket
// (the bytes never pass through the bot); the link downloads the clip, ranges included.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseApiKeys } from '../../api/config.ts';
import { startApiServer } from '../../api/server.ts';
import { probeMedia } from '../../media/probe.ts';
import { S3Storage } from '../../storage/s3.ts';
import { keys } from '../../storage/keys.ts';
import { fakePlanner } from '../channel/fixtures.ts';
import { handWrittenPlan, openTestStudio, tempDir } from '../e2e/helpers.ts';
import { envFor, startMoto } from '../storage/servers.ts';
import { readEvents } from './helpers.ts';

test('with S3 storage GET /clip redirects to a presigned link that serves the clip and its ranges', async (t) => {
  const server = await startMoto();
  t.after(() => server.stop());
  const bucket = `spinbot-api-${process.pid}`;
  const studio = await openTestStudio(t, {}, envFor(server, bucket));
  assert.ok(studio.storage instanceof S3Storage);
  const key = 's3-test-key-0123456789abcdef';
  const api = await startApiServer(
    { studio, planner: fakePlanner(), config: { SPINBOT_DAILY_JOBS: '0' }, log: () => {} },
    { port: 0, host: '127.0.0.1', keys: parseApiKeys(`erin:${key}`, 'test keys') },
  );
  t.after(() => api.stop());
  const headers = { authorization: `Bearer ${key}` };

  const created = await fetch(`${api.url}/v1/videos`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ plan: handWrittenPlan(6, 2) }) });
  assert.equal(created.status, 201);
  const { id } = await created.json();
  const events = await readEvents(await fetch(`${api.url}/v1/videos/${id}/events`, { headers }));
  assert.equal(events.at(-1)?.name, 'done', JSON.stringify(events.at(-1)));

  const redirect = await fetch(`${api.url}/v1/videos/${id}/clip`, { headers, redirect: 'manual' });
  assert.equal(redirect.status, 302);
  const link = redirect.headers.get('location')!;
  assert.ok(link.startsWith(`${server.endpoint}/${bucket}/${keys.finalClip(id)}?`), link);
  assert.match(link, /X-Amz-Signature=/);
  // The link needs no API key: it is the bucket's own time-limited signature.
  const clip = Buffer.from(await (await fetch(link)).arrayBuffer());
  const file = join(await tempDir(t), 'clip.mp4');
  await writeFile(file, clip);
  const info = await probeMedia(file);
  assert.equal(info.video?.codec, 'h264');
  assert.ok(Math.abs(info.durationSeconds - 6) < 1, `duration ${info.durationSeconds} s`);
  const part = await fetch(link, { headers: { range: 'bytes=0-99' } });
  assert.equal(part.status, 206);
  assert.deepEqual(Buffer.from(await part.arrayBuffer()), clip.subarray(0, 100));
});
