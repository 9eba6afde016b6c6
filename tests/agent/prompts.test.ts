// Every prompt file renders with sample inputs, leaving no {{placeholder}} for a model to read.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listPrompts, promptVariables, renderPrompt } from '../../agent/prompts.ts';

/** One sample per variable any prompt uses; a prompt with a new variable fails until it is added here. */
const SAMPLES: Record<string, string | number> = {
  request: 'a 20 second explainer about why the sky is blue',
  seconds: 20,
  sceneCount: 4,
  minWords: 11,
  maxWords: 14,
  sceneSeconds: 5,
  scenes: 'Scene 1: Sunlight holds every colour. (picture: a prism)\nScene 2: (to write again)',
  point: 'blue light scatters most',
  problems: 'Scene 2 repeats the sentence "sunlight holds every colour" from scene 1.',
  languageName: 'English',
  error: 'it is not valid JSON',
  tools: '- generate_video: make a new video\n- chat_reply: small talk',
  situation: 'no video has been planned yet.',
  sceneNumber: 2,
  narration: 'Blue light scatters the most in air.',
  visualPrompt: 'a clear blue sky',
  change: 'redo scene 2 with a sunset',
};

test('prompts/ holds versioned templates', () => {
  const names = listPrompts();
  for (const expected of ['plan.v2', 'plan-system.v2', 'plan-retry.v2', 'plan-scene.v1', 'route-system.v2', 'route-retry.v1', 'revise-scene.v2']) {
    assert.ok(names.includes(expected), `${expected} missing from ${names.join(', ')}`);
  }
  for (const name of names) assert.match(name, /^[a-z0-9-]+\.v\d+$/);
});

for (const name of listPrompts()) {
  test(`${name} renders with sample inputs and no leftover {{...}}`, () => {
    const text = renderPrompt(name, SAMPLES);
    assert.ok(text.length > 0);
    assert.doesNotMatch(text, /\{\{|\}\}/);
    assert.doesNotMatch(text, /<!--/, 'comments are for people, not the model');
    for (const variable of promptVariables(name)) assert.ok(text.includes(String(SAMPLES[variable])), variable);
  });
}

test('a missing variable throws instead of reaching the model', () => {
  assert.throws(() => renderPrompt('plan.v2', { seconds: 20 }), /missing variable\(s\) .*sceneCount/);
});

test('user text is inserted literally, not rendered again', () => {
  const text = renderPrompt('plan.v2', { ...SAMPLES, request: 'cats {{sceneCount}}' });
  assert.match(text, /video: cats \{\{sceneCount\}\}/);
});
