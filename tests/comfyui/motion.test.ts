// A motion scene through the real queue and worker with ComfyUI (the emulator) serving the Wan 2.2
// image-to-video workflow: the scene's picture is uploaded, the clip comes back and is assembled in
// place of the still.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ScriptPlan } from '../../gpu-bridge/contracts/index.ts';
import { formatClip } from '../../bot/format.ts';
import { probeMedia } from '../../media/probe.ts';
import { keys } from '../../storage/keys.ts';
import { handWrittenPlan, openTestStudio, tempDir } from '../e2e/helpers.ts';
import { startComfyEmulator } from './emulator.ts';

const WAN_MODELS = [
  'diffusion_models/wan2.2_ti2v_5B_fp16.safetensors',
  'text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors',
  'vae/wan2.2_vae.safetensors',
];

interface ComfyNode {
  class_type: string;
  inputs: Record<string, unknown>;
}

test('a motion scene comes from the Wan 2.2 workflow and is assembled instead of its still', async (t) => {
  const comfy = await startComfyEmulator(t, WAN_MODELS);
  const studio = await openTestStudio(t, { COMFYUI_URL: comfy.url });
  const base = handWrittenPlan(10, 2);
  const plan = ScriptPlan.parse({ ...base, scenes: base.scenes.map((scene, i) => (i === 1 ? { ...scene, motion: true } : scene)) });
  const clip = await studio.render({ plan, requestedBy: { platform: 'test', userId: 'comfy' } }, () => {});

  assert.equal(clip.backends.motion, 'Wan 2.2 TI2V-5B (ComfyUI)');
  assert.match(formatClip(clip), /motion: Wan 2\.2 TI2V-5B \(ComfyUI\)/);
  assert.equal(await studio.storage.stat(keys.sceneVideo(clip.jobId, 0)), null, 'the still scene has no video');
  assert.notEqual(await studio.storage.stat(keys.sceneVideo(clip.jobId, 1)), null);
  const local = join(await tempDir(t), 'final.mp4');
  await studio.storage.getToFile(clip.key, local);
  const info = await probeMedia(local);
  assert.equal(info.video?.width, 1280);
  assert.equal(info.video?.height, 720);
  assert.ok(Math.abs(info.durationSeconds - 10) < 0.3, `duration ${info.durationSeconds} s`);

  // ComfyUI ran the Wan graph once, from the scene's picture, for the scene's 5 s at 24 fps, prompted by its picture description.
  const history = (await (await fetch(`${comfy.url}/history`)).json()) as Record<string, { prompt: [number, string, Record<string, ComfyNode>] }>;
  const wan = Object.values(history).map((entry) => entry.prompt[2]).filter((graph) => graph['37']?.class_type === 'UNETLoader');
  assert.equal(wan.length, 1);
  assert.equal(wan[0]!['56']!.inputs.image, `spinbot/${clip.jobId}-motion-in-scene-02.png`);
  assert.equal(wan[0]!['55']!.inputs.length, 121);
  assert.equal(wan[0]!['6']!.inputs.text, plan.scenes[1]!.visualPrompt);
});
