// Shared pieces of the chat front-end tests: a fake planner that returns a hand-written plan (the
// planner is not what these tests are about), real audio made with espeak-ng + ffmpeg, a studio
// shared by all tests of one file, how long and for what the tests wait on a render, and a
// front-end the tests can stop and start again.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { ScriptPlan } from '../../gpu-bridge/contracts/index.ts';
import { understandRequest } from '../../agent/nodes/understand.ts';
import { stageScenes } from '../../agent/nodes/presenter.ts';
import type { JobState } from '../../pipeline/job-store.ts';
import type { Studio } from '../../pipeline/studio.ts';
import type { Planner, PlanRequest } from '../../bot/planner.ts';
import { ScriptedFakeChatModel, type ScriptedAnswer } from '../agent/fakeChatModel.ts';
import { openTestStudio } from '../e2e/helpers.ts';

/**
 * A FAKE planner: no model; it returns a short hand-written plan titled after the prompt. What it
 * refuses, it refuses by the real rules (understandRequest), so refusals tested through it are the
 * product's. The plan is `options.seconds` long (default 6, to keep renders short) unless the request
 * names a length as an option (/generate seconds=..., a revision's "shorter").
 */
export function fakePlanner(options: { seconds?: number; scenes?: number; modelScript?: ScriptedAnswer[] } = {}): Planner & { requests: PlanRequest[] } {
  const requests: PlanRequest[] = [];
  return {
    label: 'fake planner (hand-written plan, tests only)',
    requests,
    // A scripted FAKE model: most tests use words the conversation understands without one (an
    // unscripted call throws); a test that rewrites a scene scripts the answer.
    llm: { model: new ScriptedFakeChatModel(options.modelScript ?? []) },
    validate: (request) => void understandRequest(request),
    async plan(request) {
      const brief = understandRequest(request);
      requests.push(request);
      const scenes = options.scenes ?? 2;
      const seconds = request.seconds ?? options.seconds ?? 6;
      const lines = [
        ['Sunlight is a mix of every colour.', 'sunlight through a prism', 'White light'],
        ['Blue light scatters the most in air.', 'a clear blue sky', 'Blue scatters'],
        ['So the sky looks blue to us.', 'hills under a blue sky', 'Blue sky'],
      ];
      // Presenter and motion marked as the real planner graph's presenter node does.
      return stageScenes(ScriptPlan.parse({
        title: brief.prompt.slice(0, 60).trim(),
        language: 'en',
        style: brief.style, // carried into the plan as the planner graph's enforce node does
        voice: { engine: 'espeak-ng', id: 'en-us', speed: 1 },
        scenes: Array.from({ length: scenes }, (_, i) => {
          const [narration, visualPrompt, onScreenText] = lines[i % lines.length]!;
          return { narration, visualPrompt, onScreenText, seconds: seconds / scenes };
        }),
      }), brief);
    },
  };
}

/**
 * How long a chat test waits for a short clip (the fake planner's 6 s) to render on the CPU backends:
 * about 20 s alone, but CI's 2 cores also run Whisper and the voice profile a saved sample starts
 * (one render timed out at 90 s there). Only a failing test waits this long.
 */
export const RENDER_MS = 180_000;
/** A status line of a stage at work, e.g. "⚙️ assembling 40% — Assembling the clip". */
export const MID_RENDER = /⚙️ (checking the job|narration|pictures|sizing|assembling) \d+%/;

/** Waits until the job's record is in `state` (or `timeoutMs` has passed); returns the state it is in then. */
export async function waitForJobState(studio: Studio, jobId: string, state: JobState, timeoutMs = RENDER_MS): Promise<JobState | undefined> {
  for (const until = Date.now() + timeoutMs; Date.now() < until; ) {
    if ((await studio.jobs.get(jobId))?.state === state) return state;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return (await studio.jobs.get(jobId))?.state;
}

export type TestContextLike = { after(fn: () => unknown): void };

/** A posted clip's bytes in a file (removed after the test), for the checks that read a file. */
export async function saveClip(bytes: Buffer, t: TestContextLike): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'spinbot-chat-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'clip.mp4');
  await writeFile(file, bytes);
  return file;
}

/** A running front-end that a test can stop and start again, as a bot going down and back up would. */
export interface RestartableFrontEnd<B> {
  /** The front-end running now (a new one after startBot()). */
  readonly bot: B;
  /** Stops the front-end (the emulator and the studio go on). */
  stopBot(): Promise<void>;
  /** Starts a new front-end with the same settings against the same emulator. */
  startBot(): Promise<void>;
}

/** Starts a front-end with `start`; after the test it is stopped (if running), then the emulator. */
export async function restartableFrontEnd<B extends { stop(): Promise<void> }>(
  t: TestContextLike,
  start: () => Promise<B>,
  stopEmulator: () => Promise<void>,
): Promise<RestartableFrontEnd<B>> {
  let bot = await start();
  let running = true;
  // The bot stops first (Telegram's last getUpdates confirms what it handled), then the emulator.
  t.after(async () => {
    if (running) await bot.stop();
    await stopEmulator();
  });
  return {
    get bot() {
      return bot;
    },
    async stopBot() {
      running = false;
      await bot.stop();
    },
    async startBot() {
      bot = await start();
      running = true;
    },
  };
}

/** One studio (private redis + Python worker) for every test in the file. */
export async function sharedStudio(): Promise<Studio> {
  const cleanups: Array<() => unknown> = [];
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  return openTestStudio({ after: (fn) => cleanups.push(fn) });
}

const SPEECH = 'Hello, this is my voice. I am recording a short sample for the video studio, so it can learn how I sound.';

/**
 * Real speech (espeak-ng) with half a second of silence at both ends, encoded as `format`.
 * `seconds` cuts the speech (e.g. 1 for a too-short sample).
 */
export function speechSample(format: 'ogg' | 'wav' | 'mp3', options: { seconds?: number; text?: string } = {}): Buffer {
  const dir = mkdtempSync(path.join(tmpdir(), 'spinbot-fixture-'));
  try {
    const wav = path.join(dir, 'speech.wav');
    execFileSync('espeak-ng', ['-v', 'en-us', '-w', wav, options.text ?? SPEECH]);
    const out = path.join(dir, `sample.${format}`);
    const cut = options.seconds ? ['-t', String(options.seconds)] : [];
    const codec = format === 'ogg' ? ['-c:a', 'libopus', '-b:a', '32k'] : format === 'mp3' ? ['-c:a', 'libmp3lame'] : ['-c:a', 'pcm_s16le'];
    execFileSync('ffmpeg', ['-v', 'error', '-i', wav, ...cut, '-af', 'adelay=500:all=1,apad=pad_dur=0.5', '-ar', '48000', ...codec, out]);
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A real 64x64 PNG picture. */
export function pngImage(): Buffer {
  return execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=s=64x64:d=1', '-frames:v', '1', '-f', 'image2pipe', '-c:v', 'png', '-']);
}
