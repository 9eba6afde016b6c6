// Shared pieces of the end-to-end tests: a studio on a private Redis and a temp data folder, a
// plan written in code (these tests are about rendering, not planning), and the checks a viewer
// would make of a clip.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { ScriptPlan } from '../../gpu-bridge/contracts/index.ts';
import { ScriptPlan as ScriptPlanSchema } from '../../gpu-bridge/contracts/index.ts';
import { frameDifference, grayFrame, meanVolumeDb, probeMedia } from '../../media/probe.ts';
import { openStudio, type Studio } from '../../pipeline/studio.ts';

/** A terminal for the console chat: types lines into it and collects what it prints. */
export function consoleTerminal() {
  const input = new PassThrough();
  const output = new PassThrough() as PassThrough & NodeJS.WriteStream;
  let text = '';
  output.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const waitFor = async (pattern: RegExp, timeoutMs = 120_000) => {
    const started = Date.now();
    while (!pattern.test(text)) {
      if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${pattern}; the chat printed:\n${text}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { input, output, type: (line: string) => input.write(`${line}\n`), waitFor, text: () => text };
}

export async function tempDir(t: { after(fn: () => unknown): void }, prefix = 'spinbot-e2e-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** `env`: the storage settings (S3_*) for the studio and its worker; default process.env. */
export async function openTestStudio(
  t: { after(fn: () => unknown): void },
  workerEnv: Record<string, string> = {},
  env?: Record<string, string | undefined>,
): Promise<Studio> {
  const dataDir = await tempDir(t, 'spinbot-data-');
  const studio = await openStudio({ dataDir, workerEnv, env });
  t.after(() => studio.close());
  return studio;
}

const SKY_SCENES = [
  ['Sunlight looks white, but it is a mix of every colour of the rainbow.', 'sunlight through a glass prism', 'White light is a mix'],
  ['As it crosses the air, tiny gas molecules scatter the light.', 'air molecules glowing in sunlight', 'Scattering'],
  ['Short blue waves scatter far more than long red ones.', 'blue and red light waves', 'Blue scatters most'],
  ['So blue light reaches our eyes from every part of the sky.', 'a clear blue sky over hills', 'That is why the sky is blue'],
];

/** A valid plan written by hand: `scenes` scenes sharing `seconds` evenly. */
export function handWrittenPlan(seconds = 20, scenes = 4): ScriptPlan {
  return ScriptPlanSchema.parse({
    title: 'Why the sky is blue',
    language: 'en',
    voice: { engine: 'espeak-ng', id: 'en-us', speed: 1 },
    scenes: Array.from({ length: scenes }, (_, i) => {
      const [narration, visualPrompt, onScreenText] = SKY_SCENES[i % SKY_SCENES.length]!;
      return { narration, visualPrompt, onScreenText, seconds: seconds / scenes };
    }),
  });
}

/** What a viewer would check: size, codecs, length, audible narration, pictures that change. */
export async function assertWatchableClip(path: string, expected: { seconds: number; sceneStarts: number[]; tolerance?: number }) {
  const info = await probeMedia(path);
  assert.equal(info.video?.codec, 'h264');
  assert.equal(info.video?.width, 1280);
  assert.equal(info.video?.height, 720);
  assert.equal(info.audio?.codec, 'aac');
  const tolerance = expected.tolerance ?? 0.15;
  assert.ok(
    Math.abs(info.durationSeconds - expected.seconds) <= expected.seconds * tolerance,
    `duration ${info.durationSeconds} s, expected ${expected.seconds} s ± ${tolerance * 100}%`,
  );
  const volume = await meanVolumeDb(path);
  assert.ok(volume > -40, `the narration is too quiet or silent (mean volume ${volume} dB)`);
  // One frame from the middle of each scene: every scene must look different from the next.
  const bounds = [...expected.sceneStarts, info.durationSeconds];
  const frames = await Promise.all(expected.sceneStarts.map((start, i) => grayFrame(path, (start + bounds[i + 1]!) / 2)));
  for (let i = 1; i < frames.length; i++) {
    const difference = frameDifference(frames[i - 1]!, frames[i]!);
    assert.ok(difference > 8, `scenes ${i} and ${i + 1} look the same (mean difference ${difference.toFixed(1)})`);
  }
  return info;
}
