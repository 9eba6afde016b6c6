// POST /v1/train and GET /v1/train/{id} through a real HTTP client against the real server, on the
// same studio (queue, Python worker, storage) as chat: a saved voice's profile is built by the worker
// and followed to done; a style is refused like chat refuses it (no GPU worker: 503; pictures that
// are not pictures or too few: 400), nothing stored or queued; another key sees nothing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { speechSample } from '../channel/fixtures.ts';
import { sharedApi } from './helpers.ts';

const { call, studio } = await sharedApi();

function picture(frame: number): Buffer {
  return execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x640:rate=1', '-vf', `select=eq(n\\,${frame})`, '-frames:v', '1', '-f', 'image2pipe', '-c:v', 'png', '-']);
}

function styleForm(name: string, images: Buffer[]): FormData {
  const form = new FormData();
  form.append('name', name);
  for (const [n, image] of images.entries()) form.append('image', new Blob([new Uint8Array(image)]), `p${n}.png`);
  return form;
}

const queued = async () => Object.values(await studio.queue.queue.getJobCounts('waiting', 'active', 'prioritized', 'delayed', 'completed', 'failed')).reduce((a, b) => a + b, 0);

test('a saved voice\'s profile is built through POST /v1/train and followed with GET /v1/train/{id} to its summary; another key gets 404', async () => {
  const form = new FormData();
  form.append('name', 'anna');
  form.append('file', new Blob([new Uint8Array(speechSample('ogg'))]), 'anna.ogg');
  assert.equal((await call('alice', '/v1/voices', { method: 'POST', body: form })).status, 201);

  const started = await call('alice', '/v1/train', { method: 'POST', json: { kind: 'voice', name: 'anna' } });
  assert.equal(started.status, 202);
  const { id } = (await started.json()) as { id: string };
  assert.equal(started.headers.get('location'), `/v1/train/${id}`);
  let training: any;
  for (const deadline = Date.now() + 120_000; ; await new Promise((r) => setTimeout(r, 300))) {
    training = await (await call('alice', `/v1/train/${id}`)).json();
    if (training.status === 'done' || training.status === 'failed' || Date.now() > deadline) break;
  }
  assert.equal(training.status, 'done', JSON.stringify(training));
  assert.match(training.summary, /^Voice profile ready: \d+ s of clean speech/);
  assert.equal(training.result.referenceKey, 'users/api/alice/voices/anna/reference.wav');
  assert.equal((await call('bob', `/v1/train/${id}`)).status, 404);
  assert.equal((await call('alice', '/v1/train/train-00000000-0000-0000-0000-000000000000')).status, 404);
});

test('refusals, each with a code and a sentence, nothing stored or queued: no GPU worker (503), not pictures or too few (400), an unknown voice (404)', async () => {
  const before = await queued();
  const images = Array.from({ length: 8 }, (_, n) => picture(n));
  const cases: Array<[string, () => Promise<Response>, number, string, RegExp]> = [
    ['eight good pictures without a GPU worker', () => call('alice', '/v1/train', { method: 'POST', body: styleForm('Watercolour', images) }), 503, 'train.noGpu', /^Training a style needs a GPU worker/],
    ['a text file among the pictures', () => call('alice', '/v1/train', { method: 'POST', body: styleForm('Watercolour', [...images.slice(0, 7), Buffer.from('not a picture at all')]) }), 400, 'train.invalid', /p7\.png is .*not a picture/],
    ['three pictures', () => call('alice', '/v1/train', { method: 'POST', body: styleForm('Watercolour', images.slice(0, 3)) }), 400, 'train.invalid', /needs 8 to 40 different pictures; I have 3/],
    ['an unknown voice', () => call('alice', '/v1/train', { method: 'POST', json: { kind: 'voice', name: 'nobody' } }), 404, 'voice.notFound', /no saved voice called "nobody"/],
    ['an unknown field', () => call('alice', '/v1/train', { method: 'POST', json: { kind: 'voice', name: 'anna', steps: 5 } }), 400, 'request.invalid', /"kind": "voice"/],
  ];
  for (const [what, send, status, code, message] of cases) {
    const response = await send();
    const body = (await response.json()) as { error: { code: string; message: string } };
    assert.equal(response.status, status, `${what}: ${JSON.stringify(body)}`);
    assert.equal(body.error.code, code, what);
    assert.match(body.error.message, message, what);
  }
  assert.equal(await queued(), before);
  assert.deepEqual(await studio.storage.list('uploads/api/alice/'), []);
});
