// `npm start`'s program (after set-up): with a chat token it starts the Telegram front-end (not the
// console), answers a user and keeps the token out of its output; without one, the console chat.
// Either way SIGTERM stops it and everything it started.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../../pipeline/services.ts';
import { startTelegramEmulator } from '../emulators/telegram/server.ts';
import { tempDir } from './helpers.ts';

test('with TELEGRAM_BOT_TOKEN set, the bot answers on Telegram and SIGTERM stops it cleanly', async (t) => {
  const tg = await startTelegramEmulator();
  t.after(() => tg.stop());
  const dir = await tempDir(t);
  const child = spawn(process.execPath, ['--import', 'tsx', 'bot/main.ts'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.apiRoot,
      DISCORD_TOKEN: '',
      SPINBOT_DATA_DIR: join(dir, 'data'),
      SPINBOT_STATE_DIR: join(dir, 'state'),
      REDIS_URL: '',
    },
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c));
  child.stderr.on('data', (c: Buffer) => (output += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.after(() => child.kill('SIGKILL'));

  const user = tg.defaultUser;
  await tg.waitFor(() => /Running: telegram/.test(output), 60_000).catch(() => assert.fail(`the bot did not start:\n${output}`));
  tg.sendCommand(user.id, user, 'start');
  const reply = await tg.waitFor(() => tg.botMessages(user.id).find((m) => /MySpinBot/.test(m.text ?? '')), 30_000);
  assert.match(reply.text!, /MySpinBot/);

  child.kill('SIGTERM');
  assert.equal(await exited, 143);
  assert.ok(!output.includes(tg.token), 'the token appeared in the output');
  assert.doesNotMatch(output, /Hi, I'm MySpinBot\. Describe a video/, 'the console chat started instead of Telegram');
  // The private redis-server (its --dir is under the state folder) and the worker (its
  // SPINBOT_DATA_DIR is this test's) are gone with it.
  const leftovers = processesMentioning(join(dir, 'state'), `SPINBOT_DATA_DIR=${join(dir, 'data')}`);
  assert.deepEqual(leftovers, [], `still running: ${leftovers.join('; ')}`);
});

test('the console chat (no token): greets, and SIGTERM stops it and everything it started', async (t) => {
  const dir = await tempDir(t);
  const child = spawn(process.execPath, ['--import', 'tsx', 'bot/main.ts'], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, TELEGRAM_BOT_TOKEN: '', DISCORD_TOKEN: '', SPINBOT_DATA_DIR: join(dir, 'data'), SPINBOT_STATE_DIR: join(dir, 'state'), REDIS_URL: '' },
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c));
  child.stderr.on('data', (c: Buffer) => (output += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.after(() => child.kill('SIGKILL'));
  for (let waited = 0; !/Try: make a 20 second video/.test(output); waited += 100) {
    assert.ok(waited < 60_000, `no greeting:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGTERM');
  assert.equal(await exited, 143);
  const leftovers = processesMentioning(join(dir, 'state'), `SPINBOT_DATA_DIR=${join(dir, 'data')}`);
  assert.deepEqual(leftovers, [], `still running: ${leftovers.join('; ')}`);
});

/** Command lines of live processes whose arguments or environment contain one of `needles`. */
function processesMentioning(...needles: string[]): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (needles.some((n) => args.includes(n) || env.split('\0').includes(n))) found.push(args.replaceAll('\0', ' ').trim());
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}
