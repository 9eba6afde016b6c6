// A motion scene through the real queue and worker with ComfyUI (the emulator) serving the Wan 2.2
// image-to-video workflow: the scene's picture is uploaded, the clip comes back and is assembled in
// place of the still.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ScriptPlan } from '../../gpu-bridge/contracts/index.ts';
import { approvalMessage } from '../../bot/conversation.ts';
import { renderablePlan } from '../../bot/doctor.ts';
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

  // The worker says motion is ready, so the plan shown for approval keeps its moving scene.
  const shown = await approvalMessage({ planId: 'abcdef12', plan, reminder: false }, studio);
  assert.match(shown, /Motion: scenes 2 move/);
  assert.doesNotMatch(shown, /Motion is off/);
});

test('while no motion workflow is ready a plan asking for motion moves no scene, says why, and queues none', async (t) => {
  const base = handWrittenPlan(10, 2);
  const asked = ScriptPlan.parse({ ...base, scenes: base.scenes.map((scene, i) => (i === 1 ? { ...scene, motion: true } : scene)) });
  const approval = { planId: 'abcdef12', plan: asked, reminder: false };

  // ComfyUI without the Wan 2.2 files: the worker's preflight, published in Redis, names the missing one.
  const comfy = await startComfyEmulator(t, ['checkpoints/flux1-schnell-fp8.safetensors']);
  const gpu = await openTestStudio(t, { COMFYUI_URL: comfy.url });
  const shown = await approvalMessage(approval, gpu);
  assert.doesNotMatch(shown, /Motion: scenes|moving/);
  assert.match(shown, /\nMotion is off: the GPU worker's motion workflow is not ready \(motion: Wan 2\.2 TI2V-5B — missing diffusion_models\/wan2\.2_ti2v_5B_fp16\.safetensors [^\n]*\), so every scene stays a still picture with a slow pan\.$/);
  // What is queued on approval is what was shown: no scene asks the worker to move.
  assert.deepEqual((await renderablePlan(gpu.queue, asked)).plan.scenes.map((scene) => scene.motion), [undefined, undefined]);

  // No GPU worker at all (the CPU-only install): the same cap, another reason.
  const cpu = await openTestStudio(t);
  assert.match(await approvalMessage(approval, cpu), /\nMotion is off: no GPU worker with ComfyUI is running, so every scene stays a still picture with a slow pan\.$/);
});
