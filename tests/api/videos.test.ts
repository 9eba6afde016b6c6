// Videos through the HTTP API, end to end with a real HTTP client, the real server, redis, the
// Python worker and ffmpeg: create and approve, follow the event stream to done, download the clip
// (whole and by range, checked with ffprobe), cancel mid-render, and narrate with an uploaded voice.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseApiKeys } from '../../api/config.ts';
import { startApiServer } from '../../api/server.ts';
import { probeMedia } from '../../media/probe.ts';
import { keys } from '../../storage/keys.ts';
import { fakePlanner, speechSample } from '../channel/fixtures.ts';
import { handWrittenPlan, tempDir } from '../e2e/helpers.ts';
import { KEYS, readEvents, sharedApi, waitForStatus, type ServerEvent } from './helpers.ts';

const { api, studio, call } = await sharedApi();

test('create with approve:false, approve, follow the event stream to done, download the clip whole and by range', async (t) => {
  const created = await call('alice', '/v1/videos', { method: 'POST', json: { prompt: 'why the sky is blue', seconds: 6, approve: false } });
  assert.equal(created.status, 201);
  const draft = await created.json();
  assert.equal(draft.status, 'awaiting_approval');
  assert.equal(created.headers.get('location'), `/v1/videos/${draft.id}`);
  // Waiting for approval: nothing is queued yet, and there are no events to follow.
  assert.equal(await studio.renders.exists(draft.id), false);
  assert.equal((await call('alice', `/v1/videos/${draft.id}/events`)).status, 409);

  const approved = await call('alice', `/v1/videos/${draft.id}/approve`, { method: 'POST' });
  assert.equal(approved.status, 202);
  const queued = await approved.json();
  assert.equal(queued.id, draft.id, 'the id handed out before approval is the job');
  assert.ok(['queued', 'running'].includes(queued.status));
  // A second approval does not make a second job.
  assert.equal((await call('alice', `/v1/videos/${draft.id}/approve`, { method: 'POST' })).status, 409);

  // Three listeners on one job share one watch of the queue's events.
  const streams = await Promise.all([0, 1, 2].map(() => call('alice', `/v1/videos/${draft.id}/events`)));
  for (const stream of streams) assert.match(stream.headers.get('content-type') ?? '', /text\/event-stream/);
  const watchers = () => (studio.renders as unknown as { watchers: Map<string, Set<unknown>> }).watchers.get(draft.id)?.size ?? 0;
  assert.equal(api.events.topicCount, 1);
  const watchersDuring = watchers();
  const all = await Promise.all(streams.map((stream) => readEvents(stream)));
  const [events] = all as [ServerEvent[]];
  assert.ok(watchersDuring <= 2, `one watch for the stream topic (plus the job runner's own), not one per listener: ${watchersDuring}`);
  assert.equal(events[0]!.name, 'status');
  assert.equal(events.at(-1)!.name, 'done');
  for (const other of all) assert.equal(other.at(-1)!.name, 'done');
  assert.equal(api.events.topicCount, 0, 'the ended stream let go of the job');
  const progress = events.filter((e) => e.name === 'progress').map((e) => e.data);
  const stages = [...new Set(progress.map((p) => p.stage))];
  for (const stage of ['tts', 'visuals', 'assemble']) assert.ok(stages.includes(stage), `no ${stage} progress in ${stages.join(', ')}`);
  assert.ok(progress.every((p, i) => i === 0 || p.overall >= progress[i - 1].overall - 1e-9), 'overall progress went backwards');
  const done = events.at(-1)!.data;
  assert.equal(done.status, 'done');
  assert.match(done.result.backends.tts, /\S/);
  assert.equal(done.result.backends.assemble, 'ffmpeg (CPU)');

  // GET says the same, with the result line's backends.
  const video = await (await call('alice', `/v1/videos/${draft.id}`)).json();
  assert.equal(video.status, 'done');
  assert.equal(video.overall, 100);
  assert.equal(video.result.clipUrl, `/v1/videos/${draft.id}/clip`);

  const clip = await call('alice', video.result.clipUrl);
  assert.equal(clip.status, 200);
  assert.equal(clip.headers.get('content-type'), 'video/mp4');
  assert.equal(clip.headers.get('accept-ranges'), 'bytes');
  const bytes = Buffer.from(await clip.arrayBuffer());
  assert.equal(bytes.length, video.result.bytes);
  const file = join(await tempDir(t), 'clip.mp4');
  await writeFile(file, bytes);
  const info = await probeMedia(file);
  assert.equal(info.video?.codec, 'h264');
  assert.equal(info.video?.width, 1280);
  assert.equal(info.audio?.codec, 'aac');
  assert.ok(Math.abs(info.durationSeconds - 6) < 1, `duration ${info.durationSeconds} s`);

  const part = await call('alice', video.result.clipUrl, { headers: { range: 'bytes=100-1123' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 100-1123/${bytes.length}`);
  assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(100, 1124));
  const tail = await call('alice', video.result.clipUrl, { headers: { range: 'bytes=-500' } });
  assert.deepEqual(Buffer.from(await tail.arrayBuffer()), bytes.subarray(bytes.length - 500));
  const outside = await call('alice', video.result.clipUrl, { headers: { range: `bytes=${bytes.length}-` } });
  assert.equal(outside.status, 416);
  assert.equal(outside.headers.get('content-range'), `bytes */${bytes.length}`);

  // A finished video's stream tells its end at once; it cannot be cancelled any more.
  const replay = await readEvents(await call('alice', `/v1/videos/${draft.id}/events`));
  assert.deepEqual(replay.map((e) => e.name), ['status', 'done']);
  assert.equal((await call('alice', `/v1/videos/${draft.id}`, { method: 'DELETE' })).status, 409);
  // The API's outbox was drained: the job is recorded as delivered.
  const record = await studio.jobs.get(draft.id);
  assert.equal(record?.state, 'done');
  assert.deepEqual(record?.owner, { platform: 'api', userId: 'alice' });
});

test('cancel mid-render: the stream ends with cancelled, another key cannot cancel it, the running-job limit is per key', async () => {
  const plan = handWrittenPlan(30, 6);
  const created = await call('alice', '/v1/videos', { method: 'POST', json: { plan } });
  assert.equal(created.status, 201);
  const video = await created.json();
  assert.deepEqual(video.plan.scenes.map((s: { narration: string }) => s.narration), plan.scenes.map((s) => s.narration));
  // One video in the works per key (SPINBOT_MAX_RUNNING_JOBS=1), as per chat user; bob is not alice.
  const second = await call('alice', '/v1/videos', { method: 'POST', json: { plan } });
  assert.equal(second.status, 429);
  assert.equal((await second.json()).error.code, 'limit.running');
  const bobs = await call('bob', '/v1/videos', { method: 'POST', json: { prompt: 'tea', approve: false } });
  assert.equal(bobs.status, 201);

  let cancelledWhile: string | undefined;
  const events = await readEvents(await call('alice', `/v1/videos/${video.id}/events`), async (event) => {
    if (event.name !== 'progress' || cancelledWhile || !['tts', 'visuals'].includes(event.data.stage)) return;
    cancelledWhile = event.data.stage;
    assert.equal((await call('bob', `/v1/videos/${video.id}`, { method: 'DELETE' })).status, 404);
    const cancel = await call('alice', `/v1/videos/${video.id}`, { method: 'DELETE' });
    assert.equal(cancel.status, 200);
    assert.equal((await cancel.json()).status, 'cancelled');
  });
  assert.ok(cancelledWhile, 'the render never reported progress');
  assert.equal(api.events.topicCount, 0);
  assert.equal(events.at(-1)!.name, 'cancelled');
  assert.ok(!events.some((e) => e.name === 'done'));
  const after = await (await call('alice', `/v1/videos/${video.id}`)).json();
  assert.equal(after.status, 'cancelled');
  assert.equal((await call('alice', `/v1/videos/${video.id}/clip`)).status, 409);
  // The slot is free again, and the worker let go: no clip is ever stored.
  const next = await call('alice', '/v1/videos', { method: 'POST', json: { prompt: 'tea', approve: false } });
  assert.equal(next.status, 201);
  await call('alice', `/v1/videos/${(await next.json()).id}`, { method: 'DELETE' });
  for (let i = 0; i < 60 && (await studio.renders.cancel(video.id).catch(() => 'unknown')) === 'signalled'; i++) await new Promise((r) => setTimeout(r, 500));
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(await studio.storage.stat(keys.finalClip(video.id)), null);
});

test('upload a voice, list it, narrate a video with it; another key neither sees nor uses it', async () => {
  const form = new FormData();
  form.append('name', 'Anna Smith');
  form.append('file', new Blob([new Uint8Array(speechSample('ogg'))]), 'anna.ogg');
  const uploaded = await call('alice', '/v1/voices', { method: 'POST', body: form });
  assert.equal(uploaded.status, 201, await uploaded.clone().text());
  const saved = await uploaded.json();
  assert.equal(saved.name, 'anna-smith');
  assert.ok(saved.seconds >= 3 && saved.seconds <= 30, `${saved.seconds} s`);
  assert.deepEqual((await (await call('alice', '/v1/voices')).json()).voices.map((v: { name: string }) => v.name), ['anna-smith']);
  assert.deepEqual((await (await call('bob', '/v1/voices')).json()).voices, []);
  assert.equal((await call('bob', '/v1/videos', { method: 'POST', json: { prompt: 'tea', voice: 'anna-smith' } })).status, 404);
  assert.equal((await call('bob', '/v1/voices/anna-smith', { method: 'DELETE' })).status, 404);

  const created = await call('alice', '/v1/videos', { method: 'POST', json: { prompt: 'a video about tea', seconds: 6, voice: 'anna-smith' } });
  assert.equal(created.status, 201);
  const video = await created.json();
  assert.equal(video.plan.voice.id, 'anna-smith');
  assert.equal(video.plan.voice.referenceKey, 'users/api/alice/voices/anna-smith.wav');
  const done = await waitForStatus(call, video.id, ['done', 'failed']);
  assert.equal(done.status, 'done', done.error);
  assert.match(done.result.backends.tts, /\S/);

  assert.equal((await call('alice', '/v1/voices/anna-smith', { method: 'DELETE' })).status, 204);
  assert.deepEqual((await (await call('alice', '/v1/voices')).json()).voices, []);
});

test('a video outlives the API process that took it: another one follows it to done and hands out the clip', async (t) => {
  const first = await startApiServer(
    { studio, planner: fakePlanner(), config: { SPINBOT_DAILY_JOBS: '0' }, log: () => {} },
    { port: 0, host: '127.0.0.1', keys: parseApiKeys(`alice:${KEYS.alice}`, 'test keys') },
  );
  const created = await fetch(`${first.url}/v1/videos`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEYS.alice}`, 'content-type': 'application/json' },
    body: JSON.stringify({ plan: handWrittenPlan(6, 2) }),
  });
  assert.equal(created.status, 201);
  const { id } = await created.json();
  await first.stop();
  // The shared server (another process, as far as the job is concerned) takes it up.
  const events = await readEvents(await call('alice', `/v1/videos/${id}/events`));
  assert.equal(events.at(-1)!.name, 'done');
  assert.equal((await call('alice', `/v1/videos/${id}/clip`)).status, 200);
  t.diagnostic(`${events.filter((e) => e.name === 'progress').length} progress events after the hand-over`);
  // Its outcome was taken from the 'api' outbox once: the record says delivered.
  for (let i = 0; i < 50 && (await studio.jobs.get(id))?.state !== 'done'; i++) await new Promise((r) => setTimeout(r, 200));
  assert.equal((await studio.jobs.get(id))?.state, 'done');
  assert.deepEqual(await studio.jobs.outbox('api'), []);
});
