// Styles from chat, before and after the GPU: the picture set is checked by content (too few, not
// pictures, too small, a decompression bomb, duplicates dropped) with nothing stored or queued on a
// refusal; a good set is stored and queued as a train_lora job; without a GPU one sentence and no
// job; the worker's trained style is listed, applied to a render job, and removed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { GpuJob } from '../../gpu-bridge/contracts/index.ts';
import { GpuQueue } from '../../gpu-bridge/producer.ts';
import { startRedis, type RedisHandle } from '../../pipeline/services.ts';
import { FsStorage } from '../../storage/fs.ts';
import { NEEDS_GPU, StyleLibrary, startTraining, trainedStyleOf } from '../../bot/styles.ts';
import { cancelTraining } from '../../bot/train.ts';
import { parseStyle } from '../../agent/nodes/understand.ts';

const alice = { platform: 'test', userId: 'alice', chatId: 'c1' } as const;
const bob = { platform: 'test', userId: 'bob', chatId: 'c2' } as const;
const ready = async () => null;
let redis: RedisHandle;
let dir: string;
let pictures: { path: string; name: string }[];

function picture(name: string, size: string, frame: number): { path: string; name: string } {
  const file = path.join(dir, name);
  const made = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=1`, '-vf', `select=eq(n\\,${frame})`, '-frames:v', '1', file]);
  assert.equal(made.status, 0, made.stderr?.toString());
  return { path: file, name };
}

/** A PNG whose header declares 20000x20000 pixels (400 MP) and holds almost nothing: opening it decodes nothing. */
async function bomb(): Promise<{ path: string; name: string }> {
  const header = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(header, 0);
  header.writeUInt32BE(13, 8);
  header.write('IHDR', 12, 'latin1');
  header.writeUInt32BE(20000, 16);
  header.writeUInt32BE(20000, 20);
  header.set([8, 2, 0, 0, 0], 24);
  const file = path.join(dir, 'bomb.png');
  await writeFile(file, header);
  return { path: file, name: 'bomb.png' };
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'spinbot-styles-'));
  redis = await startRedis({ dir });
  pictures = Array.from({ length: 9 }, (_, n) => picture(`p${n}.png`, '640x640', n));
});
after(async () => {
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function setUp(name: string) {
  const storage = new FsStorage(path.join(dir, `data-${name}`));
  const queue = new GpuQueue(redis.url, `styles-${name}`);
  await queue.ready();
  const counts = async () => Object.values(await queue.queue.getJobCounts()).reduce((a, b) => a + b, 0);
  return { storage, queue, library: new StyleLibrary(storage), counts };
}

test('a good picture set is stored and queued as a train_lora job, duplicates left out', async (t) => {
  const { storage, queue, library } = await setUp('good');
  t.after(() => Promise.all([queue.queue.close(), queue.events.close()]));
  const duplicate = path.join(dir, 'copy.png');
  await copyFile(pictures[0]!.path, duplicate);
  const started = await startTraining(library, queue, alice, 'Watercolour', [...pictures, { path: duplicate, name: 'copy.png' }],
    { jobId: 'train-style-0001', readiness: ready, caption: 'soft washes' });
  assert.ok(started.ok, !started.ok ? started.message : '');
  assert.equal(started.duplicates, 1);
  const job = GpuJob.parse((await queue.queue.getJob('train-style-0001'))!.data);
  assert.equal(job.kind, 'train_lora');
  assert.equal(job.kind === 'train_lora' && job.imageKeys.length, 9);
  assert.equal((await storage.list('uploads/test/alice/')).length, 9);
});

for (const [label, files, message] of [
  ['too few', async () => pictures.slice(0, 5), /needs 8 to 40 different pictures; I have 5/],
  ['not a picture', async () => {
    const pdf = path.join(dir, 'notes.png');
    await writeFile(pdf, '%PDF-1.7\n%âãÏÓ\n1 0 obj <<>> endobj\n');
    return [...pictures.slice(0, 8), { path: pdf, name: 'notes.png' }];
  }, /notes\.png is a PDF document, not a picture/],
  ['too small', async () => [...pictures.slice(0, 8), picture('small.png', '300x200', 0)], /small\.png is 300x200; each picture needs at least 512 px/],
  ['a decompression bomb', async () => [await bomb(), ...pictures.slice(0, 8)], /bomb\.png declares 20000x20000 pixels/],
] as const) {
  test(`a picture set with ${label} is refused; nothing is stored or queued`, async (t) => {
    const { storage, queue, library, counts } = await setUp(label.replace(/\W/g, '-'));
    t.after(() => Promise.all([queue.queue.close(), queue.events.close()]));
    const started = await startTraining(library, queue, alice, 'Watercolour', await files(), { jobId: 'train-style-0002', readiness: ready });
    assert.equal(started.ok, false);
    assert.match(!started.ok ? started.message : '', message);
    assert.deepEqual(await storage.list('uploads/'), []);
    assert.equal(await counts(), 0);
  });
}

test('without a GPU worker: one sentence, nothing stored or queued', async (t) => {
  const { storage, queue, library, counts } = await setUp('no-gpu');
  t.after(() => Promise.all([queue.queue.close(), queue.events.close()]));
  const started = await startTraining(library, queue, alice, 'Watercolour', pictures, { jobId: 'train-style-0003', readiness: async () => NEEDS_GPU });
  assert.deepEqual(started, { ok: false, message: NEEDS_GPU });
  assert.deepEqual(await storage.list('uploads/'), []);
  assert.equal(await counts(), 0);
});

test('a trained style is listed, applied to a render job, kept apart from another user\'s of the same name, and removed', async (t) => {
  const { storage, queue, library, counts } = await setUp('library');
  t.after(() => Promise.all([queue.queue.close(), queue.events.close()]));
  // What the worker stores when training ends (gpu-bridge/worker/spinbot_worker/training/lora.py).
  await storage.put('users/test/alice/loras/watercolour.safetensors', Buffer.from('lora'));
  await storage.put('users/test/alice/loras/watercolour.json', Buffer.from(JSON.stringify({
    name: 'Watercolour', baseModel: 'sd_xl_base_1.0.safetensors', trigger: 'spinstyle_watercolour', images: 9, steps: 500 })));
  assert.deepEqual((await library.list(alice)).map((s) => [s.name, s.baseModel]), [['Watercolour', 'sd_xl_base_1.0.safetensors']]);
  const applied = await library.styleFor(alice, 'watercolour');
  assert.deepEqual(applied, { ok: true, style: { name: 'Watercolour', loraKey: 'users/test/alice/loras/watercolour.safetensors', baseModel: 'sd_xl_base_1.0.safetensors', trigger: 'spinstyle_watercolour' } });
  // Discord's `/generate style:watercolour` names her style: applied; a style word she has no style of stays words;
  // "in my style Oils" (parseStyle's "my style Oils") must be hers.
  assert.deepEqual(await trainedStyleOf(library, alice, 'watercolour'), { ok: true, style: applied.ok && applied.style, planStyle: 'Watercolour' });
  assert.deepEqual(await trainedStyleOf(library, alice, 'neon'), { ok: true, planStyle: 'neon' });
  assert.deepEqual(await trainedStyleOf(library, alice, parseStyle('a video about cats in my style Oils')!), { ok: false, message: 'You have no style named "Oils"; yours: Watercolour.' });

  // Alice's own name again: refused; Bob's "Watercolour" is his own and leaves Alice's alone.
  const again = await startTraining(library, queue, alice, 'Watercolour', pictures, { jobId: 'train-style-0004', readiness: ready });
  assert.match(!again.ok ? again.message : '', /already have a style named "Watercolour"/);
  assert.equal(await counts(), 0);
  assert.deepEqual(await library.styleFor(bob, 'Watercolour'), { ok: false, message: 'You have no style named "Watercolour".' });
  const bobs = await startTraining(library, queue, bob, 'Watercolour', pictures, { jobId: 'train-style-0005', readiness: ready });
  assert.ok(bobs.ok);
  assert.equal((await library.list(alice)).length, 1);

  assert.equal(await library.remove(alice, 'Watercolour'), true);
  assert.deepEqual(await library.list(alice), []);
  assert.equal(await storage.stat('users/test/alice/loras/watercolour.safetensors'), null);
  assert.equal(await library.remove(alice, 'Watercolour'), false);
});

test('/cancel reaches a style training in the works: found in the queue by its owner and removed; another user\'s stays', async (t) => {
  const { queue, library, counts } = await setUp('cancel');
  t.after(() => Promise.all([queue.queue.close(), queue.events.close()]));
  const started = await startTraining(library, queue, alice, 'Watercolour', pictures, { jobId: 'train-style-0006', readiness: ready });
  assert.ok(started.ok);
  assert.equal(await counts(), 1);
  assert.equal(await cancelTraining(queue, bob), null);
  assert.equal(await counts(), 1);
  assert.equal(await cancelTraining(queue, alice), 'Watercolour');
  assert.equal(await counts(), 0);
  assert.equal(await cancelTraining(queue, alice), null);
});
