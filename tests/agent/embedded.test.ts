// Integration: the REAL embedded model (Gemma 3 270M through node-llama-cpp, on the CPU) plans a
// video end to end. Slow on a 2-core machine (tens of seconds); skipped only when the model file
// is absent (`npm start` or `npm test` set-up downloads it).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, test } from 'node:test';
import { LIMITS, ScriptPlan } from '../../gpu-bridge/contracts/index.ts';
import { planVideo } from '../../agent/graph.ts';
import { createChatModel, disposeEmbeddedModels } from '../../agent/llm/index.ts';
import { DEFAULT_MODEL_PATH, JsonStringTracker, modelNameFromPath } from '../../agent/llm/embedded.ts';
import { isUserError } from '../../pipeline/errors.ts';

const modelPath = process.env.SPINBOT_MODEL_PATH || DEFAULT_MODEL_PATH;
const absent = existsSync(modelPath) ? false : `embedded model file absent at ${modelPath}; run \`npm start\` (set-up) to fetch it`;

after(async () => {
  await disposeEmbeddedModels();
});

test('the label names the model and the device', () => {
  assert.equal(modelNameFromPath('/x/gemma-3-270m-q4_k_m.gguf'), 'gemma-3-270m');
  assert.equal(modelNameFromPath('/x/qwen2.5-0.5b-instruct-f16.gguf'), 'qwen2.5-0.5b-instruct');
  assert.equal(createChatModel({ SPINBOT_MODEL_PATH: '/x/gemma-3-270m-q4_k_m.gguf', SPINBOT_LLM_GPU: '1' }).label, 'gemma-3-270m (embedded, GPU)');
});

test('the runaway-string guard measures the JSON string being written', () => {
  const json = new JsonStringTracker();
  json.feed('{"title": "Why is');
  assert.equal(json.stringChars, 6);
  assert.equal(json.property, 'title');
  json.feed(' the \\"sky\\" blue');
  assert.equal(json.stringChars, 21);
  json.feed('", "scenes": [');
  assert.equal(json.stringChars, 0);
  assert.equal(json.property, undefined);
  json.feed('{"narr');
  assert.equal(json.property, undefined, 'a key is not a value');
  json.feed('ation":"The sky');
  assert.deepEqual([json.property, json.stringChars], ['narration', 7]);
  json.feed('", "onScreenText": "Blue');
  assert.deepEqual([json.property, json.stringChars], ['onScreenText', 4]);
});

test('a missing model file -> setup.missing naming `npm start`, before any loading', async () => {
  const llm = createChatModel({ SPINBOT_MODEL_PATH: '/nonexistent/gemma.gguf' });
  assert.equal(llm.label, 'gemma (embedded, CPU)');
  try {
    await planVideo({ prompt: 'why the sky is blue' }, llm);
    assert.fail('expected setup.missing');
  } catch (error) {
    assert.ok(isUserError(error), String(error));
    assert.equal(error.id, 'setup.missing');
    assert.match(error.message, /`npm start`/);
  }
});

test('the embedded model plans "a 20 second explainer about why the sky is blue"', { skip: absent, timeout: 15 * 60_000 }, async () => {
  const llm = createChatModel({ SPINBOT_MODEL_PATH: modelPath });
  assert.equal(llm.label, 'gemma-3-270m (embedded, CPU)');
  const started = Date.now();
  const plan = await planVideo({ prompt: 'a 20 second explainer about why the sky is blue' }, llm);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);

  ScriptPlan.parse(plan);
  assert.equal(plan.scenes.reduce((n, s) => n + s.seconds, 0), 20);
  assert.equal(plan.scenes.length, 4);
  assert.ok(plan.title.trim().length > 0);
  for (const scene of plan.scenes) {
    assert.ok(scene.narration.trim().split(/\s+/).length >= 3, `narration: "${scene.narration}"`);
    assert.ok(scene.narration.split(/\s+/).length <= LIMITS.maxWordsPerSecond * scene.seconds);
    assert.ok(scene.visualPrompt.trim().length > 0 && scene.onScreenText.trim().length > 0);
  }
  // Not an assertion on quality (a 270M model is weak), but it should be about the sky.
  assert.match(JSON.stringify(plan).toLowerCase(), /sky|blue|light/);
  console.log(`embedded plan in ${seconds}s: ${JSON.stringify(plan)}`);
});
