// Training from Discord, through real discord.js against the Discord emulator, a real studio (redis,
// BullMQ, the Python worker) and the ComfyUI protocol emulator run slowly. /cancel reaches a style
// training: a waiting one is taken out of the queue, a running one stops ComfyUI (/interrupt)
// mid-training; either way the user is told on /cancel and on the training's own message, and no
// style is stored. A saved voice's profile summary is posted where the voice was sent once built.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { openStudio, type Studio } from '../../pipeline/studio.ts';
import { startComfyEmulator } from '../comfyui/emulator.ts';
import { speechSample } from '../channel/fixtures.ts';
import type { InteractionHandle, OptionValue, StoredMessage } from '../emulators/discord/server.ts';
import { startDiscordBot } from '../discord/setup.ts';

let dir: string;
let comfyUrl: string;
const stops: Array<() => unknown> = [];
let studio: Studio;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'spinbot-discord-cancel-'));
  // 0.4 s a step: the training node's 30 emulated steps take 12 s, time enough to cancel it mid-way.
  // Stopped in after() below: node:test's after() called from inside before() runs too early.
  const emulator = await startComfyEmulator({ after: (fn) => void stops.push(fn) }, ['checkpoints/sd_xl_base_1.0.safetensors'], ['--step-delay', '0.4']);
  comfyUrl = emulator.url;
  // The bot asks the worker's preflight (bot/doctor.ts) whether training is ready, from its own environment.
  process.env.COMFYUI_URL = comfyUrl;
  studio = await openStudio({ dataDir: path.join(dir, 'data'), workerEnv: { COMFYUI_URL: comfyUrl }, env: {}, log: () => {} });
});

after(async () => {
  await studio?.close();
  for (const stop of stops) await stop();
  await rm(dir, { recursive: true, force: true });
});

const latest = (handle: InteractionHandle) => handle.messages().filter((m) => !m.deleted).map((m) => m.content).join('\n');
const answer = (handle: InteractionHandle) => handle.waitFor((h) => h.messages().find((m: StoredMessage) => !m.deleted && !m.loading && m.content), 30_000);

test('/cancel stops a waiting style training and a running one (ComfyUI interrupted); the user is told, no style is stored', async (t) => {
  const { emu } = await startDiscordBot(studio, t);
  const user = { id: '500000000000001', username: 'painter', global_name: 'painter' };
  const options: Record<string, OptionValue> = { name: 'Watercolour' };
  for (let n = 1; n <= 8; n += 1) {
    const bytes = execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=s=640x640:r=1', '-vf', `select=eq(n\\,${n})`, '-frames:v', '1', '-f', 'image2pipe', '-c:v', 'png', '-']);
    options[`image${n}`] = emu.registerAttachment({ bytes, filename: `p${n}.png`, contentType: 'image/png' });
  }

  // Waiting: the worker is kept from taking it by pausing the queue (real BullMQ pause).
  await studio.queue.queue.pause();
  t.after(() => studio.queue.queue.resume());
  const waiting = await emu.dispatchInteraction({ commandName: 'train', subcommand: 'style', options, user });
  await waiting.waitFor((h) => /Queued \(8 pictures\)/.test(latest(h)) || undefined, 60_000).catch((e) => { throw new Error(`${e.message}: ${latest(waiting)}`); });
  const first = await emu.dispatchInteraction({ commandName: 'cancel', user });
  assert.equal((await first.ack()).ephemeral, true);
  assert.match((await answer(first)).content, /^Cancelled the training of the style "Watercolour"; nothing was stored\.$/);
  await waiting.waitFor((h) => /The training of the style "Watercolour" was cancelled; nothing was stored\./.test(latest(h)) || undefined, 10_000);
  const { completed: _done, failed: _failed, ...inWorks } = await studio.queue.queue.getJobCounts();
  assert.equal(Object.values(inWorks).reduce((a, b) => a + b, 0), 0, `taken out of the queue: ${JSON.stringify(inWorks)}`);
  await studio.queue.queue.resume();

  // Running: cancelled mid-training, the worker interrupts ComfyUI's prompt.
  const running = await emu.dispatchInteraction({ commandName: 'train', subcommand: 'style', options, user });
  await running.waitFor((h) => /step \d+ of 500/.test(latest(h)) || undefined, 90_000);
  const second = await emu.dispatchInteraction({ commandName: 'cancel', user });
  assert.match((await answer(second)).content, /^Cancelled the training of the style "Watercolour"; nothing was stored\.$/);
  await running.waitFor((h) => /The training of the style "Watercolour" was cancelled; nothing was stored\./.test(latest(h)) || undefined, 30_000);
  const history = (await (await fetch(`${comfyUrl}/history`)).json()) as Record<string, { status: { status_str: string; messages: [string, unknown][] } }>;
  const training = Object.values(history).at(-1)!;
  assert.equal(training.status.status_str, 'error');
  assert.ok(training.status.messages.some(([kind]) => kind === 'execution_interrupted'), 'ComfyUI was told to stop (/interrupt)');
  assert.doesNotMatch(latest(running), /Style ready/);
  assert.deepEqual(await studio.storage.list(`users/discord/${user.id}/loras/`), [], 'no style stored');
  assert.deepEqual(await studio.storage.list(`uploads/discord/${user.id}/`), [], 'the pictures went with both cancelled trainings');

  // Nothing left to cancel: the usual sentence.
  const third = await emu.dispatchInteraction({ commandName: 'cancel', user });
  assert.match((await answer(third)).content, /no video in the works to cancel/);
});

test('/voice add: the reply comes first, then the voice profile\'s summary (clean speech, enough or not, the reference words) in the same conversation', async (t) => {
  const { emu } = await startDiscordBot(studio, t);
  const user = { id: '500000000000002', username: 'anna', global_name: 'anna' };
  const sample = emu.registerAttachment({ bytes: speechSample('ogg'), filename: 'me.ogg', contentType: 'audio/ogg' });
  const add = await emu.dispatchInteraction({ commandName: 'voice', subcommand: 'add', options: { sample, name: 'Anna' }, user });
  const saved = await answer(add);
  assert.match(saved.content, /^Saved your voice 'anna'/);
  assert.doesNotMatch(latest(add), /Voice profile/, 'the reply does not wait for the profile');
  const told = await add.waitFor((h) => h.messages().find((m: StoredMessage) => !m.deleted && /^Voice profile for 'anna' ready/.test(m.content)), 120_000);
  assert.equal(told.ephemeral, true, 'as private as the reply it follows');
  // espeak-ng's "Hello, this is my voice. I am recording a short sample..." (about 6 s): a usable clip, not enough speech yet.
  assert.match(told.content, /^Voice profile for 'anna' ready: \d+\.\d s of clean speech: not enough for cloning yet, add another sample\. Reference clip \(\d+\.\d s\): "[^"]*recording a short sample[^"]*"$/i);
  assert.ok(await studio.storage.stat(`users/discord/${user.id}/voices/anna/profile.json`));
});
