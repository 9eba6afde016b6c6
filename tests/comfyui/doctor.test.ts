// `npm start -- doctor` against the ComfyUI emulator (run as a process): the preflight lines a user reads.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { runDoctor } from '../../bot/doctor.ts';
import { REPO_ROOT } from '../../pipeline/services.ts';
import { startComfyEmulator } from './emulator.ts';

test('doctor names the GPU, each ready workflow and the model file a workflow lacks', async (t) => {
  const comfy = await startComfyEmulator(t, [
    'checkpoints/flux1-schnell-fp8.safetensors',
    'checkpoints/sd_xl_base_1.0.safetensors',
    'upscale_models/RealESRGAN_x2plus.pth',
  ]);
  const report = runDoctor({ ...process.env, COMFYUI_URL: comfy.url, SPINBOT_COMMERCIAL_SAFE: '' });
  assert.equal(report.ok, true, report.text);
  const lines = report.text.split('\n');
  assert.equal(lines[0], `ComfyUI at ${comfy.url}: ComfyUI 0.33.0, NVIDIA GeForce RTX 5070 Ti, 16.0 GiB`);
  assert.ok(lines.includes('visuals: FLUX.1 schnell fp8 — ready'), report.text);
  assert.ok(lines.includes('upscale: Real-ESRGAN x2plus — ready'), report.text);
  assert.ok(
    lines.includes(
      'motion: Wan 2.2 TI2V-5B — missing diffusion_models/wan2.2_ti2v_5B_fp16.safetensors (download page https://huggingface.co/Comfy-Org/Wan_2.2_ComfyUI_Repackaged), ' +
        'text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors (download page https://huggingface.co/Comfy-Org/Wan_2.1_ComfyUI_repackaged), ' +
        'vae/wan2.2_vae.safetensors (download page https://huggingface.co/Comfy-Org/Wan_2.2_ComfyUI_Repackaged)',
    ),
    report.text,
  );
});

test('doctor without COMFYUI_URL says the GPU stages are off', () => {
  const env = { ...process.env };
  delete env.COMFYUI_URL;
  const report = runDoctor(env);
  assert.equal(report.ok, true);
  assert.equal(report.text, 'GPU stages: off (COMFYUI_URL is not set); every stage runs on its CPU backend.');
});

test('npm start -- doctor runs the report from the command line', () => {
  const env = { ...process.env };
  delete env.COMFYUI_URL;
  const done = spawnSync(process.execPath, ['--import', 'tsx', 'bot/main.ts', 'doctor'], { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(done.status, 0, done.stderr);
  assert.equal(done.stdout.trim(), 'GPU stages: off (COMFYUI_URL is not set); every stage runs on its CPU backend.');
});
