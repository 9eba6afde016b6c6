// A plan becomes a clip through the real queue and worker with the GPU stages served by ComfyUI
// (the emulator): pictures, narration cloned from a saved voice and upscaling run as workflows; the clip is
// checked with ffprobe and its result line names the workflows.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatClip } from '../../bot/format.ts';
import { keys } from '../../storage/keys.ts';
import { assertWatchableClip, handWrittenPlan, openTestStudio, tempDir } from '../e2e/helpers.ts';
import { startComfyEmulator } from './emulator.ts';

test('pictures, a cloned voice and upscaling from ComfyUI workflows make a watchable clip that names them', async (t) => {
  const comfy = await startComfyEmulator(t, ['checkpoints/flux1-schnell-fp8.safetensors', 'upscale_models/RealESRGAN_x2plus.pth']);
  const studio = await openTestStudio(t, { COMFYUI_URL: comfy.url });
  // The user's saved voice sample: the narration is cloned from it.
  const sample = join(await tempDir(t), 'anna.wav');
  execFileSync('espeak-ng', ['-w', sample, 'This is how my voice sounds.']);
  const referenceKey = keys.userVoice('test', 'comfy', 'anna');
  await studio.storage.put(referenceKey, { file: sample });
  const plan = { ...handWrittenPlan(10, 2), voice: { engine: 'f5-tts' as const, id: 'anna', speed: 1, referenceKey } };
  const clip = await studio.render({ plan, requestedBy: { platform: 'test', userId: 'comfy' } }, () => {});

  const local = join(await tempDir(t), 'final.mp4');
  await studio.storage.getToFile(clip.key, local);
  await assertWatchableClip(local, { seconds: 10, sceneStarts: [0, 5] });
  assert.deepEqual(
    { tts: clip.backends.tts, visuals: clip.backends.visuals, upscale: clip.backends.upscale },
    { tts: 'Chatterbox (ComfyUI)', visuals: 'FLUX.1 schnell fp8 (ComfyUI)', upscale: 'Real-ESRGAN x2plus (ComfyUI)' },
  );
  const line = formatClip(clip);
  assert.match(line, /Voice: Chatterbox \(ComfyUI\); pictures: FLUX\.1 schnell fp8 \(ComfyUI\)/);
  // ComfyUI was given the sample as the voice to clone, for each scene's narration.
  const history = (await (await fetch(`${comfy.url}/history`)).json()) as Record<string, { prompt: [number, string, Record<string, ComfyNode>] }>;
  const voices = Object.values(history)
    .map((entry) => entry.prompt[2])
    .filter((graph) => graph['2']?.class_type === 'FL_ChatterboxTTSNode')
    .map((graph) => graph['1']!.inputs.audio);
  assert.deepEqual(voices, [`spinbot/${clip.jobId}-reference-anna.wav`, `spinbot/${clip.jobId}-reference-anna.wav`]);
});

interface ComfyNode {
  class_type: string;
  inputs: Record<string, unknown>;
}

test('without the picture model the clip is still made, on the CPU, and the result line says why', async (t) => {
  const comfy = await startComfyEmulator(t, ['upscale_models/RealESRGAN_x2plus.pth']);
  const studio = await openTestStudio(t, { COMFYUI_URL: comfy.url });
  const clip = await studio.render({ plan: handWrittenPlan(10, 2), requestedBy: { platform: 'test', userId: 'comfy' } }, () => {});
  const local = join(await tempDir(t), 'final.mp4');
  await studio.storage.getToFile(clip.key, local);
  await assertWatchableClip(local, { seconds: 10, sceneStarts: [0, 5] });
  assert.match(formatClip(clip), /pictures: [^;]*\(CPU; GPU workflow FLUX\.1 schnell fp8 not ready\)/);
});
