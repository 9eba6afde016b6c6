import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTrainResult, describeTrainResult } from '../../bot/train-result.ts';

const voice = {
  kind: 'train_voice', jobId: 'voice-profile-1', profileKey: 'users/test/u1/voices/anna/profile.json',
  referenceKey: 'users/test/u1/voices/anna/reference.wav', referenceText: 'He polished the great lens until it shone.',
  referenceSeconds: 8.4, language: 'en',
  samples: [{ key: 'users/test/u1/voices/anna.wav', speechSeconds: 11.2, snrBeforeDb: 12.1, snrAfterDb: 48.3 }],
  cleanSpeechSeconds: 11.2, enough: true, embedding: false,
  note: 'No speaker embedding was made: the speaker encoder (Resemblyzer) needs torch, which only the GPU image installs.',
  backends: { denoise: { name: 'DeepFilterNet3 (CPU)', device: 'cpu' } },
};

test('a voice profile result from the worker is read and told to the user with its note', () => {
  const line = describeTrainResult(parseTrainResult(voice));
  assert.match(line, /11 s of clean speech, enough to clone from; reference 8\.4 s/);
  assert.match(line, /needs torch/);
});

test('a style result names its base model', () => {
  const line = describeTrainResult(parseTrainResult({
    kind: 'train_lora', jobId: 'train-lora-001', loraKey: 'users/test/u1/loras/watercolour.safetensors',
    baseModel: 'sd_xl_base_1.0.safetensors', trigger: 'spinstyle_watercolour', images: 8, steps: 500, finalLoss: null,
    backend: { name: 'SDXL LoRA training (ComfyUI)', device: 'gpu' },
  }));
  assert.equal(line, 'Style ready: 8 pictures, 500 steps on sd_xl_base_1.0.safetensors (SDXL LoRA training (ComfyUI)).');
});

test('a style result tells the final loss; the loss curve picture is part of the contract', () => {
  const result = parseTrainResult({
    kind: 'train_lora', jobId: 'train-lora-001', loraKey: 'users/test/u1/loras/watercolour.safetensors',
    baseModel: 'sd_xl_base_1.0.safetensors', trigger: 'spinstyle_watercolour', images: 8, steps: 500, finalLoss: 0.06321,
    lossGraphKey: 'users/test/u1/loras/watercolour-loss.png', backend: { name: 'SDXL LoRA training (ComfyUI)', device: 'gpu' },
  });
  assert.match(describeTrainResult(result), /500 steps on sd_xl_base_1\.0\.safetensors \(SDXL LoRA training \(ComfyUI\)\); final loss 0\.0632\.$/);
  assert.equal(result.kind === 'train_lora' && result.lossGraphKey, 'users/test/u1/loras/watercolour-loss.png');
});

test('the old ad-hoc dict (no profile, no base model) is refused with where it differs', () => {
  assert.throws(() => parseTrainResult({ kind: 'train_lora', jobId: 'train-lora-001', backend: { name: 'x', device: 'gpu' } }),
    /does not match its contract: loraKey/);
  assert.throws(() => parseTrainResult({ ...voice, referenceKey: '../escape.wav' }), /referenceKey/);
});
