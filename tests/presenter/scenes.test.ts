// Presenter and motion scenes in a render, through the real queue, the real Python worker (mediapipe
// presenter on the CPU) and the real assembly: the clip shows the presenter where the plan asks for it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ScriptPlan } from '../../gpu-bridge/contracts/index.ts';
import { checkPresenterPhoto } from '../../gpu-bridge/presenter.ts';
import { grayFrame, probeMedia } from '../../media/probe.ts';
import { keys } from '../../storage/keys.ts';
import { handWrittenPlan, openTestStudio, tempDir } from '../e2e/helpers.ts';

const run = promisify(execFile);

/** Grace Hopper's official US Navy portrait (public domain), shipped by matplotlib, which mediapipe installs. */
function portrait(): Buffer {
  const lib = path.resolve('.venv/lib');
  const python = readdirSync(lib).find((name) => name.startsWith('python'))!;
  return readFileSync(path.join(lib, python, 'site-packages/matplotlib/mpl-data/sample_data/grace_hopper.jpg'));
}

/** Faces mediapipe finds in the clip's frame at `seconds` (the worker's own face detection). */
async function facesAt(clip: string, seconds: number, dir: string): Promise<number> {
  const frame = path.join(dir, `frame-${seconds}.png`);
  await run('ffmpeg', ['-v', 'error', '-y', '-ss', String(seconds), '-i', clip, '-frames:v', '1', frame]);
  const script =
    'import sys, numpy as np; from PIL import Image; from spinbot_worker.presenter.portrait import detect_faces; ' +
    'print(len(detect_faces(np.asarray(Image.open(sys.argv[1]).convert("RGB")))))';
  const { stdout } = await run('.venv/bin/python', ['-c', script, frame], { env: { ...process.env, PYTHONPATH: 'gpu-bridge/worker' } });
  return Number(stdout.trim());
}

/** Mean absolute difference of two 64x36 gray frames within a box of cells. */
function regionDifference(a: Buffer, b: Buffer, x0: number, y0: number, x1: number, y1: number): number {
  let sum = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) sum += Math.abs(a[y * 64 + x]! - b[y * 64 + x]!);
  return sum / ((x1 - x0) * (y1 - y0));
}

function withScenes(plan: ScriptPlan, scenes: Array<Partial<ScriptPlan['scenes'][number]>>, extra: Partial<ScriptPlan> = {}): ScriptPlan {
  return ScriptPlan.parse({ ...plan, ...extra, scenes: plan.scenes.map((scene, i) => ({ ...scene, ...scenes[i] })) });
}

test('a presenter scene from the user\'s portrait: the clip shows a face there and not in the other scenes', async (t) => {
  const studio = await openTestStudio(t);
  const dir = await tempDir(t);
  const owner = { platform: 'telegram' as const, userId: '42' };
  await studio.storage.put('uploads/telegram/42/photo.jpg', portrait());
  const photo = await checkPresenterPhoto(studio.queue, { imageKey: 'uploads/telegram/42/photo.jpg', owner });

  const plan = withScenes(handWrittenPlan(10, 2), [{ presenter: 'full' }, {}], { presenterKey: photo.presenterKey });
  const clip = await studio.render({ plan, requestedBy: { platform: 'telegram', userId: '42' } });
  const local = path.join(dir, 'final.mp4');
  await studio.storage.getToFile(clip.key, local);

  const info = await probeMedia(local);
  assert.equal(info.video?.width, 1280);
  assert.equal(info.video?.height, 720);
  assert.ok(Math.abs(info.durationSeconds - 10) < 0.3, `duration ${info.durationSeconds} s`);
  assert.equal(await facesAt(local, 1.5, dir), 1, 'the presenter scene shows one face');
  assert.equal(await facesAt(local, 3.5, dir), 1, 'the presenter stays in the frame');
  assert.equal(await facesAt(local, 7.5, dir), 0, 'the scene without the presenter shows the picture');
  // The presenter speaks: the mouth (and head) move between two moments of the scene.
  assert.ok(regionDifference(await grayFrame(local, 1.2), await grayFrame(local, 2.0), 20, 4, 44, 26) > 0.5, 'the presenter does not move');
  assert.match(clip.backends.lipsync!, /Presenter: mediapipe/);
  assert.notEqual(await studio.storage.stat(keys.sceneVideo(clip.jobId, 0)), null);
  assert.equal(await studio.storage.stat(keys.sceneVideo(clip.jobId, 1)), null);
});

test('without a photo the built-in character presents in the corner over a still picture; motion on CPU stays a panned still and says so', async (t) => {
  const studio = await openTestStudio(t);
  const dir = await tempDir(t);
  const plan = withScenes(handWrittenPlan(10, 2), [{ presenter: 'corner' }, { motion: true }]);
  const clip = await studio.render({ plan, requestedBy: { platform: 'test', userId: 'e2e' } });
  const local = path.join(dir, 'final.mp4');
  await studio.storage.getToFile(clip.key, local);
  const info = await probeMedia(local);
  assert.equal(info.video?.width, 1280);
  assert.equal(info.video?.height, 720);

  const [early, late] = [await grayFrame(local, 0.8), await grayFrame(local, 4.2)];
  // The scene video is used as it is: its picture does not pan (top-left unchanged) while the presenter in
  // the bottom-right corner moves.
  assert.ok(regionDifference(early, late, 0, 0, 24, 12) < 1, 'the picture behind the presenter moved (panned still used?)');
  assert.ok(regionDifference(early, late, 50, 18, 64, 30) > 1, 'the presenter in the corner does not move');
  assert.match(clip.backends.lipsync!, /Presenter/);
  assert.match(clip.backends.motion!, /still picture with a slow pan \(CPU; no motion workflow ready\)/);
  assert.equal(await studio.storage.stat(keys.sceneVideo(clip.jobId, 1)), null, 'no motion clip on CPU');
});
