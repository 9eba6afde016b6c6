// The HTTP API's front door, through a real HTTP client against the real server: keys, planning,
// the bad-input set (each refused with a code and a sentence, nothing queued or stored), another
// key's videos, and the OpenAPI document (validated, every route listed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { parseApiKeys } from '../../api/config.ts';
import { startApiServer } from '../../api/server.ts';
import { FsStorage } from '../../storage/fs.ts';
import { handWrittenPlan } from '../e2e/helpers.ts';
import { pngImage, speechSample } from '../channel/fixtures.ts';
import { snapshot } from '../inputs/studio.ts';
import { KEYS, sharedApi } from './helpers.ts';

const { api, studio, planner, call } = await sharedApi();
const dataDir = (studio.storage as FsStorage).root;

async function errorOf(response: Response): Promise<{ status: number; code: string; message: string }> {
  assert.match(response.headers.get('content-type') ?? '', /application\/json/);
  const body = await response.json();
  assert.equal(typeof body.error?.message, 'string');
  assert.ok(body.error.message.length > 15, `a sentence, not "${body.error.message}"`);
  return { status: response.status, ...body.error };
}

/** What exists: jobs per queue state, files, job records and plans awaiting approval. */
async function everything() {
  const [state, alice, bob, drafts] = await Promise.all([
    snapshot(studio, dataDir),
    studio.jobs.byOwner({ platform: 'api', userId: 'alice' }),
    studio.jobs.byOwner({ platform: 'api', userId: 'bob' }),
    studio.jobs.redis.keys('spinbot:api-draft:*'),
  ]);
  return { ...state, records: alice.length + bob.length, drafts: drafts.length };
}

test('without a valid key every /v1 route answers 401 with a JSON sentence; /healthz and /docs are open', async () => {
  for (const [path, method] of [['/v1/voices', 'GET'], ['/v1/videos', 'POST'], ['/v1/plans', 'POST'], ['/v1/videos/20260101-abcdef/events', 'GET']] as const) {
    const none = await errorOf(await call(null, path, { method }));
    assert.equal(none.status, 401);
    assert.equal(none.code, 'auth.required');
    const wrong = await fetch(`${api.url}${path}`, { method, headers: { authorization: `Bearer ${KEYS.alice}x` } });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get('www-authenticate'), 'Bearer');
  }
  // No spelling of a path gets past the key check.
  for (const path of ['/%761/voices', '//v1/voices', '/v1//voices', '/v1/voices/', '/v1/voices?x=1']) {
    const response = await fetch(`${api.url}${path}`);
    assert.ok([401, 404].includes(response.status), `${path}: ${response.status}`);
    assert.doesNotMatch(await response.text(), /"voices"/, path);
  }
  // The other header form works too.
  assert.equal((await fetch(`${api.url}/v1/voices`, { headers: { 'x-api-key': KEYS.bob } })).status, 200);
  const health = await fetch(`${api.url}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { ok: true, queue: 'ok' });
  assert.match(await (await fetch(`${api.url}/docs`)).text(), /\/docs\/openapi\.json/);
});

test('POST /v1/plans returns the validated plan from the same planner as chat, and queues nothing', async () => {
  const before = await everything();
  const response = await call('alice', '/v1/plans', { method: 'POST', json: { prompt: 'why the sky is blue', seconds: 8, aspect: '9:16' } });
  assert.equal(response.status, 200);
  const plan = await response.json();
  assert.equal(plan.title, 'why the sky is blue');
  assert.equal(plan.scenes.reduce((sum: number, s: { seconds: number }) => sum + s.seconds, 0), 8);
  assert.deepEqual(planner.requests.at(-1), { prompt: 'why the sky is blue', seconds: 8, aspect: '9:16' });
  assert.deepEqual(await everything(), before);
});

test('the bad-input set: each refused with a code and a sentence, nothing planned, queued or stored', async () => {
  const before = await everything();
  const planned = planner.requests.length;
  const big = 'x'.repeat(70 * 1024);
  const tooLongPlan = handWrittenPlan(30, 4);
  tooLongPlan.scenes = Array.from({ length: 8 }, () => ({ ...tooLongPlan.scenes[0]!, seconds: 30 }));
  const withForeignVoice = { ...handWrittenPlan(6, 2), voice: { engine: 'f5-tts', id: 'x', speed: 1, referenceKey: 'users/discord/1/voices/x.wav' } };
  // One at a time: a request in flight holds the key's running-job slot, as a chat request does.
  const cases: Array<[string, () => Promise<Response>, number, string, RegExp?]> = [
    ['wrong type', () => call('alice', '/v1/videos', { method: 'POST', json: { prompt: 5 } }), 400, 'request.invalid', /prompt: .*expected string/],
    ['unknown field', () => call('alice', '/v1/videos', { method: 'POST', json: { prompt: 'tea', colour: 'red' } }), 400, 'request.invalid', /colour/],
    ['unknown field in a plan scene', () => call('alice', '/v1/videos', { method: 'POST', json: { plan: { ...handWrittenPlan(6, 2), scenes: [{ ...handWrittenPlan(6, 2).scenes[0], mood: 'x' }] } } }), 400, 'request.invalid', /mood/],
    ['another user\u2019s sample in a plan', () => call('alice', '/v1/videos', { method: 'POST', json: { plan: withForeignVoice } }), 400, 'request.invalid', /referenceKey/],
    ['both prompt and plan', () => call('alice', '/v1/videos', { method: 'POST', json: { prompt: 'tea', plan: handWrittenPlan(6, 2) } }), 400, 'request.invalid', /not both/],
    ['neither prompt nor plan', () => call('alice', '/v1/videos', { method: 'POST', json: { approve: true } }), 400, 'request.invalid'],
    ['options with a plan', () => call('alice', '/v1/videos', { method: 'POST', json: { plan: handWrittenPlan(6, 2), seconds: 20 } }), 400, 'request.invalid', /seconds only apply to a prompt/],
    ['seconds out of range', () => call('alice', '/v1/plans', { method: 'POST', json: { prompt: 'tea', seconds: 1000 } }), 400, 'request.invalid', /seconds/],
    ['a plan longer than the limit', () => call('alice', '/v1/videos', { method: 'POST', json: { plan: tooLongPlan } }), 422, 'seconds.outOfRange'],
    ['an unknown saved voice', () => call('alice', '/v1/videos', { method: 'POST', json: { prompt: 'tea', voice: 'nobody' } }), 404, 'voice.notFound'],
    ['an invisible prompt', () => call('alice', '/v1/videos', { method: 'POST', json: { prompt: '\u200b\u200b' } }), 422, 'prompt.empty'],
    ['oversize body', () => call('alice', '/v1/videos', { method: 'POST', json: { prompt: big } }), 413, 'request.tooLarge'],
    ['text/plain body', () => call('alice', '/v1/plans', { method: 'POST', body: 'a video about tea', headers: { 'content-type': 'text/plain' } }), 415, 'request.contentType'],
    ['broken JSON', () => call('alice', '/v1/plans', { method: 'POST', body: '{"prompt": ', headers: { 'content-type': 'application/json' } }), 400, 'request.invalidJson'],
    ['multipart to a JSON route', () => call('alice', '/v1/videos', { method: 'POST', body: formWith('tea') }), 415, 'request.contentType'],
    ['JSON to the voice upload', () => call('alice', '/v1/voices', { method: 'POST', json: { name: 'anna' } }), 415, 'request.contentType'],
    ['a picture as a voice', () => call('alice', '/v1/voices', { method: 'POST', body: formWith('anna', pngImage(), 'me.png') }), 422, 'upload.unsupported', /PNG/],
    ['a voice over the size limit', () => call('alice', '/v1/voices', { method: 'POST', body: formWith('anna', Buffer.alloc(1.5 * 1024 * 1024, 1), 'big.wav') }), 413, 'upload.tooLarge'],
    ['a bad voice name', () => call('alice', '/v1/voices', { method: 'POST', body: formWith('../../etc', speechSample('ogg'), 'a.ogg') }), 422, 'voice.nameInvalid'],
    ['the file before the name', () => call('alice', '/v1/voices', { method: 'POST', body: fileFirstForm() }), 400, 'request.invalid', /name.*before/],
    ['unknown video id', () => call('alice', '/v1/videos/20260101-0123456789'), 404, 'job.notFound'],
    ['a malformed id', () => call('alice', '/v1/videos/..%2F..%2Fetc'), 404, 'job.notFound'],
    ['approving an unknown id', () => call('alice', '/v1/videos/20260101-0123456789/approve', { method: 'POST' }), 404, 'job.notFound'],
    ['cancelling an unknown id', () => call('alice', '/v1/videos/20260101-0123456789', { method: 'DELETE' }), 404, 'job.notFound'],
    ['the clip of an unknown id', () => call('alice', '/v1/videos/20260101-0123456789/clip'), 404, 'job.notFound'],
    ['removing an unknown voice', () => call('alice', '/v1/voices/nobody', { method: 'DELETE' }), 404, 'voice.notFound'],
    ['an unknown route', () => call('alice', '/v1/trains'), 404, 'route.notFound'],
  ];
  for (const [name, send, status, code, message] of cases) {
    const error = await errorOf(await send());
    assert.equal(error.status, status, `${name}: ${JSON.stringify(error)}`);
    assert.equal(error.code, code, `${name}: ${JSON.stringify(error)}`);
    if (message) assert.match(error.message, message, name);
  }
  assert.equal(planner.requests.length, planned, 'nothing was planned');
  assert.deepEqual(await everything(), before);
});

test('another key cannot see, approve, follow, download or cancel the video: 404, as for an unknown id', async () => {
  const created = await call('alice', '/v1/videos', { method: 'POST', json: { prompt: 'a video about tea', approve: false } });
  assert.equal(created.status, 201);
  const video = await created.json();
  assert.equal(video.status, 'awaiting_approval');
  for (const [path, method] of [[``, 'GET'], [`/approve`, 'POST'], [`/events`, 'GET'], [`/clip`, 'GET'], [``, 'DELETE']] as const) {
    const error = await errorOf(await call('bob', `/v1/videos/${video.id}${path}`, { method }));
    assert.equal(error.status, 404, `${method} ${path}`);
    assert.equal(error.code, 'job.notFound');
    assert.doesNotMatch(error.message, /alice/);
  }
  // Still there for its owner, who drops it: nothing was rendered.
  assert.equal((await (await call('alice', `/v1/videos/${video.id}`)).json()).status, 'awaiting_approval');
  const dropped = await call('alice', `/v1/videos/${video.id}`, { method: 'DELETE' });
  assert.equal((await dropped.json()).status, 'cancelled');
  assert.equal((await call('alice', `/v1/videos/${video.id}`)).status, 404);
});

test('the daily quota counts per key as per chat user, and a cancelled video gives its count back', async (t) => {
  // A second API process on the same studio, with a quota of one video a day and no running limit.
  const quota = await startApiServer(
    { studio, planner, config: { SPINBOT_MAX_RUNNING_JOBS: '0', SPINBOT_DAILY_JOBS: '1' }, log: () => {} },
    { port: 0, host: '127.0.0.1', keys: parseApiKeys(`carol:carol-key-0123456789abcdef,dave:dave-key-0123456789abcdef`, 'quota keys') },
  );
  t.after(() => quota.stop());
  const post = (key: string) =>
    fetch(`${quota.url}/v1/videos`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ plan: handWrittenPlan(30, 6) }) });
  const first = await post('carol-key-0123456789abcdef');
  assert.equal(first.status, 201);
  const { id } = await first.json();
  const refused = await errorOf(await post('carol-key-0123456789abcdef'));
  assert.equal(refused.status, 429);
  assert.equal(refused.code, 'limit.daily');
  assert.match(refused.message, /quota of 1 video/);
  // Another key is another user.
  const daves = await post('dave-key-0123456789abcdef');
  assert.equal(daves.status, 201);
  for (const [key, video] of [['carol-key-0123456789abcdef', id], ['dave-key-0123456789abcdef', (await daves.json()).id]]) {
    const cancelled = await fetch(`${quota.url}/v1/videos/${video}`, { method: 'DELETE', headers: { authorization: `Bearer ${key}` } });
    assert.equal(cancelled.status, 200);
  }
  const again = await post('carol-key-0123456789abcdef');
  assert.equal(again.status, 201, 'the cancelled video did not give its count back');
  await fetch(`${quota.url}/v1/videos/${(await again.json()).id}`, { method: 'DELETE', headers: { authorization: 'Bearer carol-key-0123456789abcdef' } });
});

test('the OpenAPI document validates and lists every route the server has', async () => {
  const response = await fetch(`${api.url}/docs/openapi.json`);
  assert.equal(response.status, 200);
  const document = await response.json();
  const validator = new Validator();
  const result = await validator.validate(document);
  assert.equal(result.valid, true, JSON.stringify(result.errors)?.slice(0, 2000));
  const documented = new Set(Object.entries(document.paths as Record<string, object>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)));
  const served = api.routes.filter((r) => !r.url.startsWith('/docs')).map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
  assert.deepEqual([...documented].sort(), [...new Set(served)].sort());
  for (const route of ['POST /v1/plans', 'POST /v1/videos', 'POST /v1/videos/{id}/approve', 'GET /v1/videos/{id}', 'GET /v1/videos/{id}/events', 'GET /v1/videos/{id}/clip', 'DELETE /v1/videos/{id}', 'POST /v1/voices', 'GET /v1/voices', 'DELETE /v1/voices/{name}', 'POST /v1/train', 'GET /v1/train/{id}', 'GET /healthz']) {
    assert.ok(documented.has(route), `${route} is not documented`);
  }
  // Generated from the contracts: the plan body's limits are the planner's.
  assert.equal(document.components.schemas.PlanBody.properties.seconds.maximum, 180);
  assert.deepEqual(document.components.schemas.PlanBody.additionalProperties, false);
});

function formWith(name: string, file: Buffer = speechSample('ogg'), filename = 'sample.ogg'): FormData {
  const form = new FormData();
  form.append('name', name);
  form.append('file', new Blob([new Uint8Array(file)]), filename);
  return form;
}

function fileFirstForm(): FormData {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(speechSample('ogg'))]), 'sample.ogg');
  form.append('name', 'anna');
  return form;
}
