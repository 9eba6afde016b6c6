// `npm start`'s program with SPINBOT_API_PORT set: the API starts beside the console front-end and
// answers; a bad key setting stops the start with a sentence; no key ever appears in the output.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../../pipeline/services.ts';
import { tempDir } from '../e2e/helpers.ts';

const KEY = 'start-test-key-9f8e7d6c5b4a';

function startBot(env: Record<string, string>, dir: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bot/main.ts'], {
    cwd: REPO_ROOT,
    // stdin stays open: the console chat waits for input while the API serves.
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, TELEGRAM_BOT_TOKEN: '', DISCORD_TOKEN: '', REDIS_URL: '', SPINBOT_DATA_DIR: join(dir, 'data'), SPINBOT_STATE_DIR: join(dir, 'state'), SPINBOT_API_KEYS_FILE: '', ...env },
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c));
  child.stderr.on('data', (c: Buffer) => (output += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

test('a bad key setting stops the start with a sentence that names the entry, not the key', async (t) => {
  const dir = await tempDir(t);
  const bot = startBot({ SPINBOT_API_PORT: '0', SPINBOT_API_KEYS: `alice:${KEY},bob:short-${KEY.slice(0, 5)}` }, dir);
  t.after(() => bot.child.kill('SIGKILL'));
  assert.equal(await bot.exited, 1);
  assert.match(bot.output(), /SPINBOT_API_KEYS entry 2 \(owner bob\): the key must be 16-256 printable characters/);
  for (const key of [KEY, `short-${KEY.slice(0, 5)}`]) assert.ok(!bot.output().includes(key), 'a key appeared in the output');
  assert.doesNotMatch(bot.output(), /Starting:/, 'it started anyway');
});

test('with SPINBOT_API_PORT the API runs beside the console chat, answers with a key, and SIGTERM stops both', async (t) => {
  const dir = await tempDir(t);
  const bot = startBot({ SPINBOT_API_PORT: '0', SPINBOT_API_KEYS: `alice:${KEY}` }, dir);
  t.after(() => bot.child.kill('SIGKILL'));
  const deadline = Date.now() + 90_000;
  let url: string | undefined;
  while (!(url = /HTTP API: (http:\/\/127\.0\.0\.1:\d+)/.exec(bot.output())?.[1])) {
    if (Date.now() > deadline || bot.child.exitCode !== null) assert.fail(`the API did not start:\n${bot.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  assert.equal((await fetch(`${url}/v1/voices`)).status, 401);
  const voices = await fetch(`${url}/v1/voices`, { headers: { authorization: `Bearer ${KEY}` } });
  assert.deepEqual(await voices.json(), { voices: [] });
  assert.match(bot.output(), /keys for alice/);
  bot.child.kill('SIGTERM');
  assert.equal(await bot.exited, 143);
  assert.ok(!bot.output().includes(KEY), 'the key appeared in the output');
  await assert.rejects(fetch(`${url}/healthz`), 'the API still answers after the stop');
});
