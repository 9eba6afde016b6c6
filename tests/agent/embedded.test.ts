// Integration: the REAL embedded models (Qwen2.5-Coder through node-llama-cpp, on the CPU). The
// small one (what `npm test` fetches) writes real plans here, checked the way a viewer would
// judge them. Slow on a 2-core machine (a minute or more); skipped only when the model is absent
// from the cache (`npm test`'s set-up fetches it).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { LIMITS, ScriptPlan } from '../../gpu-bridge/contracts/index.ts';
import { planVideo } from '../../agent/graph.ts';
import { createChatModel, disposeEmbeddedModels } from '../../agent/llm/index.ts';
import { chooseEmbeddedModel, JsonStringTracker, modelNameFromPath, PLANNER_MODELS, unparsableLlamaEnv } from '../../agent/llm/embedded.ts';
import { planFigures } from '../../agent/nodes/review.ts';
import { isUserError } from '../../pipeline/errors.ts';
import { modelDir, modelReady } from '../../setup/models.mjs';
import { BENCH_PROMPTS } from '../../bench/plan.ts';

const small = { SPINBOT_MODEL: 'small' };
const absent = modelReady(PLANNER_MODELS.small) ? false : `${PLANNER_MODELS.small} is not in the model cache; run \`node setup/models.mjs fetch ${PLANNER_MODELS.small}\``;

after(async () => {
  await disposeEmbeddedModels();
});

describe('which model plans', () => {
  test('the label names the model from the registry and the device', () => {
    assert.equal(createChatModel(small).label, 'Qwen2.5-Coder-0.5B-Instruct Q4_K_M (embedded, CPU)');
    assert.equal(createChatModel({ SPINBOT_MODEL: 'default' }).label, 'Qwen2.5-Coder-1.5B-Instruct Q4_K_M (embedded, CPU)');
    assert.equal(createChatModel({ ...small, SPINBOT_LLM_GPU: '1' }).label, 'Qwen2.5-Coder-0.5B-Instruct Q4_K_M (embedded, GPU)');
    assert.equal(createChatModel(small).licence, 'Apache-2.0');
    assert.equal(modelNameFromPath('/x/qwen2.5-0.5b-instruct-q4_k_m.gguf'), 'qwen2.5-0.5b-instruct');
    assert.equal(createChatModel({ SPINBOT_MODEL_PATH: '/x/my-model-q4_k_m.gguf' }).label, 'my-model (embedded, CPU)');
  });

  test('an unknown SPINBOT_MODEL is refused with the values it may take', () => {
    assert.throws(() => createChatModel({ SPINBOT_MODEL: 'huge' }), (error: unknown) => {
      assert.ok(isUserError(error));
      assert.equal(error.id, 'setup.modelInvalid');
      assert.match(error.message, /SPINBOT_MODEL must be "small" or "default" \(or unset\); it is "huge"/);
      return true;
    });
  });

  test('without the default model in the cache, the small one plans, and the handle says why', { skip: absent }, () => {
    const cache = mkdtempSync(join(tmpdir(), 'spinbot-cache-'));
    try {
      // A cache holding only the small model: its completion marker, copied from the real cache.
      mkdirSync(join(cache, PLANNER_MODELS.small));
      copyFileSync(join(modelDir(PLANNER_MODELS.small), '.complete'), join(cache, PLANNER_MODELS.small, '.complete'));
      const chosen = chooseEmbeddedModel({ SPINBOT_MODEL_CACHE: cache });
      assert.equal(chosen.id, PLANNER_MODELS.small);
      assert.equal(chosen.note, `${PLANNER_MODELS.default} is not in the model cache`);
      const handle = createChatModel({ SPINBOT_MODEL_CACHE: cache });
      assert.match(handle.label, /^Qwen2\.5-Coder-0\.5B-Instruct/);
      assert.equal(handle.note, chosen.note);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  test('a missing model file -> setup.missing naming `npm start` and the fetch command, before any loading', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'spinbot-cache-'));
    try {
      const llm = createChatModel({ ...small, SPINBOT_MODEL_CACHE: cache });
      await assert.rejects(planVideo({ prompt: 'why the sky is blue' }, llm), (error: unknown) => {
        assert.ok(isUserError(error), String(error));
        assert.equal(error.id, 'setup.missing');
        assert.match(error.message, /`npm start`.*`node setup\/models\.mjs fetch qwen2\.5-coder-0\.5b`/);
        return true;
      });
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
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
  json.feed('"}], "outline": ["Light sc');
  assert.deepEqual([json.property, json.stringChars], ['outline', 8], "an array's items count against the array's property");
});

test('the tracker keeps the narration just written, so the picture after it can be kept off its words', () => {
  const json = new JsonStringTracker();
  json.feed('{"scenes": [{"narration": "Light \\"scatters\\" in air.", "visualPrompt": "A pri');
  assert.deepEqual([json.property, json.lastValues.narration], ['visualPrompt', 'Light "scatters" in air.']);
  json.feed('sm"}, {"narration": "Dusk');
  assert.equal(json.lastValues.visualPrompt, 'A prism');
  assert.equal(json.lastValues.narration, 'Light "scatters" in air.', 'a value counts once it is complete');
});

describe('the environment cannot break the model import', () => {
  test('values node-llama-cpp would refuse are found (CI set but empty, CI=woodpecker)', () => {
    assert.deepEqual(unparsableLlamaEnv({ CI: '', HOME: '', NODE_LLAMA_CPP_GPU: '', NODE_LLAMA_CPP_DEBUG: 'false' }), ['CI', 'NODE_LLAMA_CPP_GPU']);
    assert.deepEqual(unparsableLlamaEnv({ CI: 'woodpecker' }), ['CI']);
    assert.deepEqual(unparsableLlamaEnv({ CI: 'true', NODE_LLAMA_CPP_GPU: 'false' }), []);
  });

  test('with CI= (set but empty) the small model loads and answers one line of JSON, and CI is still set afterwards', { skip: absent, timeout: 5 * 60_000 }, () => {
    // A script file, not \`node -e\`: getLlama() forks a child with this process's execArgv.
    const dir = mkdtempSync(join(tmpdir(), 'spinbot-ci-env-'));
    const file = join(dir, 'plan-with-empty-ci.mts');
    writeFileSync(
      file,
      `
      import { createChatModel, disposeEmbeddedModels } from ${JSON.stringify(join(import.meta.dirname, '..', '..', 'agent', 'llm', 'index.ts'))};
      const llm = createChatModel({ ...process.env });
      const answer = await llm.model.invoke('Name one colour of the sky.', {
        format: { type: 'object', properties: { colour: { type: 'string' } }, required: ['colour'], additionalProperties: false },
        maxTokens: 20,
      });
      console.log(JSON.stringify({ text: answer.text, ci: process.env.CI, gpu: process.env.NODE_LLAMA_CPP_GPU }));
      await disposeEmbeddedModels();
    `,
    );
    const child = spawnSync(process.execPath, ['--import', 'tsx', file], {
      cwd: join(import.meta.dirname, '..', '..'),
      env: { ...process.env, ...small, CI: '', NODE_LLAMA_CPP_GPU: '' },
      encoding: 'utf8',
    });
    rmSync(dir, { recursive: true, force: true });
    assert.equal(child.status, 0, child.stderr);
    const result = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { text: string; ci: string; gpu: string };
    assert.equal(typeof JSON.parse(result.text).colour, 'string');
    assert.ok(!result.text.includes('\n'), `the JSON is on one line: ${JSON.stringify(result.text)}`);
    assert.deepEqual([result.ci, result.gpu], ['', ''], 'the environment is given back as it was');
  });
});

// The quality bar of issue 10, on the small model by default (what `npm test` fetches), or on the
// default one with SPINBOT_QUALITY_MODEL=default (about 6 minutes a plan on 2 busy cores).
const qualityModel = process.env.SPINBOT_QUALITY_MODEL === 'default' ? 'default' : 'small';
const qualityAbsent = modelReady(PLANNER_MODELS[qualityModel]) ? false : `${PLANNER_MODELS[qualityModel]} is not in the model cache`;
// The 0.5B model meets it with its planning aids (agent/llm/embedded.ts PLANNING_AIDS: a repeat
// penalty, a narration and picture floor in the grammar and pictures kept off the narration's words;
// BENCHMARKS.md); without them it repeated one sentence in every scene or wrote 4-word scenes.
describe(`the ${qualityModel} model writes scripts a person would narrate`, { skip: qualityAbsent }, () => {
  for (const { prompt, seconds } of BENCH_PROMPTS.slice(0, 2)) {
    test(`"${prompt}", ${seconds} s`, { timeout: 15 * 60_000 }, async () => {
      const llm = createChatModel({ SPINBOT_MODEL: qualityModel });
      const started = Date.now();
      const plan = await planVideo({ prompt, seconds }, llm);
      console.log(`planned in ${((Date.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(plan)}`);

      ScriptPlan.parse(plan);
      const figures = planFigures(plan, prompt);
      assert.ok(Math.abs(figures.seconds - seconds) <= seconds * 0.2, `planned ${figures.seconds} s for ${seconds} s`);
      assert.ok(figures.distinctNarration, 'every scene says something different');
      assert.deepEqual(figures.repeatedPhrases, [], 'no 5-word phrase is said in two scenes');
      assert.ok(figures.wordsPerSecond >= 1.6 && figures.wordsPerSecond <= 3.3, `${figures.wordsPerSecond.toFixed(2)} words per second`);
      assert.ok(figures.distinctPictures, 'every scene has its own picture');
      assert.ok(figures.onTopic, `the script mentions its subject: ${prompt}`);
      for (const scene of plan.scenes) {
        assert.ok(scene.narration.split(/\s+/).length <= LIMITS.maxWordsPerSecond * scene.seconds, scene.narration);
        assert.notEqual(scene.visualPrompt.toLowerCase(), scene.narration.toLowerCase(), 'the picture is described, not the narration copied');
      }
    });
  }
});
