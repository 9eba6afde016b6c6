// A style trained from chat, end to end with real parts: pictures served over HTTP and downloaded,
// checked and queued (BullMQ on redis-server), trained by the Python worker through the ComfyUI
// training workflow against the ComfyUI protocol emulator (its SaveLoRA writes a small safetensors
// file into output/loras/, not listed in /history), progress with steps and ETA in the chat, then
// stored, listed and removed; without ComfyUI one sentence and nothing queued.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { ConsoleChannel } from '../../bot/console-channel.ts';
import { runConsoleChat } from '../../bot/console/chat.ts';
import { agentActions } from '../../bot/conversation.ts';
import { createJobServices } from '../../bot/frontends.ts';
import { resolveChatConfig } from '../../bot/chat-config.ts';
import { fakePlanner } from '../channel/fixtures.ts';
import { StyleLibrary, comfyTrainingReadiness } from '../../bot/styles.ts';
import { buildVoiceProfile, trainStyleFromChat } from '../../bot/train.ts';
import { startComfyEmulator } from '../comfyui/emulator.ts';
import { openStudio, type Studio } from '../../pipeline/studio.ts';

let dir: string;
let comfyUrl: string;
const stops: Array<() => unknown> = [];
let files: Server;
let filesHost: string;
let studio: Studio;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'spinbot-train-e2e-'));
  for (let n = 0; n < 8; n += 1) {
    const made = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x640:rate=1', '-vf', `select=eq(n\\,${n})`, '-frames:v', '1', path.join(dir, `p${n}.png`)]);
    assert.equal(made.status, 0);
  }
  files = createServer((request, response) => createReadStream(path.join(dir, path.basename(request.url ?? ''))).on('error', () => response.writeHead(404).end()).pipe(response));
  await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
  filesHost = `127.0.0.1:${(files.address() as { port: number }).port}`;
  // Stopped in after() below: node:test's after() called from inside before() runs too early.
  const emulator = await startComfyEmulator({ after: (fn) => void stops.push(fn) }, ['checkpoints/sd_xl_base_1.0.safetensors']);
  comfyUrl = emulator.url;
  studio = await openStudio({ dataDir: path.join(dir, 'data'), workerEnv: { COMFYUI_URL: comfyUrl }, env: {}, log: () => {} });
});

after(async () => {
  await studio?.close();
  for (const stop of stops) await stop();
  files?.close();
  await rm(dir, { recursive: true, force: true });
});

function chat() {
  const output = new PassThrough();
  let text = '';
  output.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const channel = new ConsoleChannel({ output, userId: 'alice' });
  // What the chat was told while training ran (the console draws bars only on a terminal).
  const progress: string[] = [];
  const draw = channel.progress.bind(channel);
  channel.progress = async (view) => {
    progress.push(view.message);
    await draw(view);
  };
  return { channel, text: () => text, progress };
}

const uploads = () => Array.from({ length: 8 }, (_, n) => ({ url: `http://${filesHost}/p${n}.png`, name: `p${n}.png` }));
const owner = { platform: 'console', userId: 'alice', chatId: 'console' } as const;

test('/train from chat: trained on ComfyUI by the worker, told with steps and ETA, then stored, listed and removed', async () => {
  const { channel, text, progress } = chat();
  const downloads = { allowedHosts: [filesHost], maxBytes: 10_000_000 };
  await trainStyleFromChat({ storage: studio.storage, queue: studio.queue, channel, downloads, readiness: comfyTrainingReadiness({ ...process.env, COMFYUI_URL: comfyUrl }) },
    owner, 'Watercolour', uploads(), 'soft washes of colour');
  assert.ok(progress.some((m) => /^SDXL LoRA training: step \d+ of 500, about \d+ s left$/.test(m)), progress.join('\n'));
  assert.match(text(), /Style ready: 8 pictures, 500 steps on sd_xl_base_1\.0\.safetensors \(SDXL LoRA training \(ComfyUI\)\); final loss 0\.0\d{3}\./);
  assert.ok(await studio.storage.stat('users/console/alice/loras/watercolour-loss.png'), 'the loss curve is stored beside the style');

  const library = new StyleLibrary(studio.storage);
  const [style] = await library.list(owner);
  assert.equal(style?.name, 'Watercolour');
  assert.equal(style?.baseModel, 'sd_xl_base_1.0.safetensors');
  const lora = await studio.storage.get('users/console/alice/loras/watercolour.safetensors');
  assert.ok(lora.subarray(8).toString('latin1').startsWith('{"__metadata__"'), 'a safetensors file');
  assert.equal(await library.remove(owner, 'watercolour'), true);
  assert.deepEqual(await library.list(owner), []);
  assert.deepEqual(await studio.storage.list('users/console/alice/loras/'), [], 'the LoRA, its record and its loss curve are gone');
});

test('without ComfyUI: one sentence saying what is needed, nothing queued', async () => {
  const { channel, text } = chat();
  const before = await studio.queue.queue.getJobCounts();
  await trainStyleFromChat({ storage: studio.storage, queue: studio.queue, channel, downloads: { allowedHosts: [filesHost], maxBytes: 10_000_000 },
    readiness: comfyTrainingReadiness({}) }, { ...owner, userId: 'bob' }, 'Ink', uploads());
  assert.match(text(), /^Training a style needs a GPU worker with ComfyUI \(COMFYUI_URL\) and the SDXL base model/);
  assert.deepEqual(await studio.queue.queue.getJobCounts(), before);
  assert.deepEqual(await studio.storage.list('uploads/console/bob/'), []);
});

test('a saved voice sample becomes a voice profile on the worker: a 6-12 s reference clip, its words, how much clean speech', async () => {
  const text = 'The old lighthouse keeper climbed the narrow stairs every evening at dusk, and he polished the great lens until it shone brightly.';
  const wav = path.join(dir, 'anna.wav');
  assert.equal(spawnSync('espeak-ng', ['-v', 'en-us', '-w', wav, text]).status, 0);
  await studio.storage.put('users/console/alice/voices/anna.wav', { file: wav });
  const result = await buildVoiceProfile(studio.queue, owner, 'anna', ['users/console/alice/voices/anna.wav']);
  assert.ok(result.referenceSeconds >= 6 && result.referenceSeconds <= 12, String(result.referenceSeconds));
  assert.match(result.referenceText.toLowerCase(), /climbed the narrow stairs/); // what was said (Whisper on espeak-ng's voice)
  assert.equal(result.referenceKey, 'users/console/alice/voices/anna/reference.wav');
  assert.ok(await studio.storage.stat(result.referenceKey));
  // About 7 s of speaking, less its pauses: a usable clip, but the profile asks for more.
  assert.ok(result.cleanSpeechSeconds > 4 && result.cleanSpeechSeconds < 8, String(result.cleanSpeechSeconds));
  assert.equal(result.enough, false);
  assert.match(result.note, /add another sample to reach 8 s/);
  assert.equal(result.backends.denoise?.name, 'DeepFilterNet3 (CPU)');
});

test('the console trains "my style <name> from <folder>" (refusals first: no folder, a stray file), then "in my style Watercolour" renders its pictures through a LoraLoader; a style the user lacks is one sentence, nothing queued', async () => {
  const pictures = path.join(dir, 'pictures');
  const mixed = path.join(dir, 'mixed');
  await mkdir(pictures);
  await mkdir(mixed);
  for (let n = 0; n < 8; n += 1) await copyFile(path.join(dir, `p${n}.png`), path.join(pictures, `p${n}.png`));
  for (let n = 0; n < 7; n += 1) await copyFile(path.join(dir, `p${n}.png`), path.join(mixed, `p${n}.png`));
  await writeFile(path.join(mixed, 'notes.txt'), 'not a picture');

  const input = new PassThrough();
  const output = new PassThrough() as PassThrough & NodeJS.WriteStream;
  let said = '';
  output.on('data', (chunk: Buffer) => (said += chunk.toString()));
  const waitFor = async (pattern: RegExp) => {
    for (const started = Date.now(); !pattern.test(said); await new Promise((r) => setTimeout(r, 50))) {
      if (Date.now() - started > 180_000) throw new Error(`timed out waiting for ${pattern}; the chat printed:\n${said}`);
    }
  };
  const console = runConsoleChat({ studio, planner: fakePlanner(), input, output, trainingReadiness: comfyTrainingReadiness({ ...process.env, COMFYUI_URL: comfyUrl }) });
  const jobsBefore = await studio.queue.queue.getJobCounts();
  input.write(`train my style Watercolour from ${path.join(dir, 'nowhere')}\n`);
  await waitFor(/There is no folder .*nowhere\./);
  input.write(`train my style Watercolour from ${mixed}\n`);
  await waitFor(/notes\.txt is .*not a picture/);
  assert.deepEqual(await studio.queue.queue.getJobCounts(), jobsBefore, 'nothing queued for a refused folder');
  assert.deepEqual(await studio.storage.list('uploads/console/local/'), []);
  input.write(`train my style Watercolour from ${pictures}\n`);
  await waitFor(/Style ready: 8 pictures, 500 steps on sd_xl_base_1\.0\.safetensors/);

  try {
    const graphsBefore = Object.keys(await history()).length;
    input.write('make a 6 second video about the sea in my style Oils\n');
    await waitFor(/Approve\?/);
    const queued = await studio.queue.queue.getJobCounts();
    input.write('yes\n');
    await waitFor(/You have no style named "Oils"; yours: Watercolour\./);
    assert.deepEqual(await studio.queue.queue.getJobCounts(), queued, 'nothing queued for a style the user does not have');

    input.write('make a 6 second video about the sea in my style Watercolour\n');
    await waitFor(/Approve\?/);
    input.write('yes\n');
    await waitFor(/Done: /);
    // Every picture ComfyUI was asked for went through the user's LoRA, with its trigger word.
    const pictures = Object.values(await history()).slice(graphsBefore).map((entry) => entry.prompt[2])
      .filter((graph) => Object.values(graph).some((node) => node.class_type === 'KSampler'));
    assert.ok(pictures.length >= 1, 'pictures were made by the ComfyUI workflow');
    for (const graph of pictures) {
      const lora = Object.values(graph).find((node) => node.class_type === 'LoraLoader');
      assert.equal(lora?.inputs.lora_name, 'users_console_local_loras_watercolour.safetensors');
    }
  } finally {
    input.end();
    await console;
  }
});

async function history() {
  return (await (await fetch(`${comfyUrl}/history`)).json()) as Record<string, { prompt: [number, string, Record<string, { class_type: string; inputs: Record<string, unknown> }>] }>;
}

test('a voice saved in chat gets its profile built after the transcript, without delaying the reply; "my voices" then tells how much clean speech it holds', async () => {
  const wav = path.join(dir, 'carol.wav');
  assert.equal(spawnSync('espeak-ng', ['-v', 'en-us', '-w', wav, 'The old lighthouse keeper climbed the narrow stairs every evening at dusk, and he polished the great lens until it shone brightly.']).status, 0);
  const channel = new ConsoleChannel({ output: new PassThrough(), userId: 'carol' });
  const carol = { platform: 'console', userId: 'carol' } as const;
  const logged: string[] = [];
  const { services, close } = createJobServices({ studio, planner: fakePlanner(), config: {} }, resolveChatConfig({}), (line) => logged.push(line), { platform: 'console', resume: () => channel });
  try {
    const saved = await services.voices.addSample(carol, 'carol', (to) => copyFile(wav, to));
    assert.match(saved.transcript ?? '', /climbed the narrow stairs/i);
    // The reply (with the transcript) comes before the profile: it is still being built.
    assert.equal(await studio.storage.stat('users/console/carol/voices/carol/profile.json'), null);
    // What the chat the voice came from is told once the profile is built (Discord and Telegram post it).
    assert.match((await saved.profile) ?? '', /^Voice profile for 'carol' ready: \d+\.\d s of clean speech: not enough for cloning yet, add another sample\. Reference clip \(\d+\.\d s\): ".*narrow stairs.*"$/i);
    const actions = agentActions(channel, services);
    let voices = await actions.voices();
    for (const started = Date.now(); !/clean speech/.test(voices); voices = await actions.voices()) {
      if (Date.now() - started > 120_000) throw new Error(`no profile after 120 s: ${voices}; log: ${logged.join(' | ')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // Only the saved voice (its profile's reference clip is not another voice), with the profile's summary.
    assert.match(voices, /^Your saved voices: carol \(\d+\.\d s of clean speech: not enough for cloning yet, add another sample\)\.$/);
  } finally {
    await close();
  }
});
