// Failures told once, clearly, through the Telegram front-end (real grammY against the emulator):
// with Redis down, /generate's status message and a plain message each end with one sentence
// ("The queue is unavailable, try again in a minute"), and the log has one line for the outage,
// not a stack per request; once Redis is back the bot works again. A planner that throws ends the
// status message with a sentence (never "Planning… 0%" left hanging) and the error is logged. A
// stage that fails ends the status message with one sentence naming the stage.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { startTelegramFrontEnd } from '../../bot/telegram/front-end.ts';
import { REPO_ROOT, startRedis } from '../../pipeline/services.ts';
import { openStudio } from '../../pipeline/studio.ts';
import { fakePlanner } from '../channel/fixtures.ts';
import { openTestStudio, tempDir } from '../e2e/helpers.ts';
import { startTelegramEmulator, type TelegramEmulator } from '../emulators/telegram/server.ts';

const UNAVAILABLE = 'The queue is unavailable, try again in a minute.';

const lastText = (tg: TelegramEmulator, chat: number, pattern: RegExp) => () =>
  tg.botMessages(chat).find((m) => pattern.test(m.text ?? ''));

test('Redis down: each request ends with one sentence and the outage is logged once; a planner that throws ends the status with a sentence and is logged', async (t) => {
  const redis = await startRedis();
  const port = new URL(redis.url).port;
  const log: string[] = [];
  // No worker: nothing here renders; the failures happen before anything is queued.
  const studio = await openStudio({ dataDir: await tempDir(t), redisUrl: redis.url, env: { SPINBOT_LOCAL_WORKER: 'false' }, log: (line) => log.push(line) });
  const planner = fakePlanner();
  const plan = planner.plan.bind(planner);
  // As when the model's import throws (e.g. an empty CI variable): not the user's doing.
  planner.plan = async (request) => {
    if (/explode/.test(request.prompt)) throw new Error('node-llama-cpp: env-var CI is set but empty');
    return plan(request);
  };
  const tg = await startTelegramEmulator();
  const bot = await startTelegramFrontEnd({
    studio,
    planner,
    config: { TELEGRAM_BOT_TOKEN: tg.token, TELEGRAM_API_ROOT: tg.apiRoot, SPINBOT_PROGRESS_EDIT_MS: '150', SPINBOT_AUTO_APPROVE: 'false' },
    log: (line) => log.push(line),
  });
  // Redis on the same port again, as after a restart (also before closing: BullMQ connections
  // wait for Redis to close).
  let restarted: ReturnType<typeof spawn> | undefined;
  const restartRedis = () => {
    restarted ??= spawn('redis-server', ['--port', port, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  };
  t.after(async () => {
    if (redis.process?.exitCode !== null || redis.process?.signalCode !== null) restartRedis();
    await bot.stop();
    await studio.close();
    await tg.stop();
    await redis.stop();
    restarted?.kill('SIGTERM');
  });
  const user = { id: 720001, first_name: 'Nia' };

  // The planner throws: the status message ends with a sentence; the stack is in the log.
  tg.sendCommand(user.id, user, 'generate', 'explode please');
  const status = await tg.waitFor(lastText(tg, user.id, /^🎬|Planning/), 10_000);
  await tg.waitFor(() => /Planning failed on our side \(the error was logged\); please try again in a minute\./.test(tg.botMessage(user.id, status.messageId)!.text ?? '') || undefined, 20_000);
  assert.ok(log.some((line) => /env-var CI is set but empty/.test(line)), `the planner's error was not logged:\n${log.join('\n')}`);

  // Redis goes away (SIGKILL): two requests, two sentences, one log line.
  redis.process!.kill('SIGKILL');
  await new Promise((resolve) => redis.process!.once('exit', resolve));
  const before = tg.botMessages(user.id).length;
  tg.sendCommand(user.id, user, 'generate', 'a video about rivers');
  tg.sendText(user.id, user, 'a video about lakes');
  await tg.waitFor(() => tg.botMessages(user.id).slice(before).filter((m) => (m.text ?? '').includes(UNAVAILABLE)).length === 2 || undefined, 30_000);
  const generateStatus = tg.botMessages(user.id)[before]!;
  assert.match(generateStatus.text!, /⚠️ The queue is unavailable, try again in a minute\.$/, "/generate's status message ends with the sentence");
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const outage = log.filter((line) => /redis unavailable/i.test(line));
  assert.equal(outage.length, 1, `one line per outage, got:\n${outage.join('\n')}`);
  assert.deepEqual(log.filter((line) => /ECONNREFUSED|\n\s+at /.test(line) && !/env-var CI/.test(line)), [], 'no stack traces for the outage');

  // Back on the same port (as after a restart): the bot answers normally again.
  restartRedis();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis did not come back: ${log.join('\n')}`)), 20_000);
    const poll = setInterval(() => {
      if (!log.some((line) => /redis is back/.test(line))) return;
      clearInterval(poll);
      clearTimeout(timer);
      resolve();
    }, 100);
  });
  tg.sendText(user.id, user, 'a video about the sea');
  const shown = await tg.waitFor(lastText(tg, user.id, /^Plan: "a video about the sea"/), 30_000);
  assert.deepEqual(shown.buttons.map((b) => b.text), ['Approve', 'Edit', 'Cancel']);
});

test('a stage that fails ends the status message with one sentence naming the stage, and nothing else is posted', async (t) => {
  const workerDir = join(REPO_ROOT, 'gpu-bridge', 'worker');
  const studio = await openTestStudio(t, {
    PYTHONPATH: `${workerDir}:${join(workerDir, 'tests', 'fixtures')}`,
    SPINBOT_BACKEND_PLUGINS: 'misbehaving_backends',
    SPINBOT_TTS_BACKEND: 'fake-unrecoverable',
  });
  const tg = await startTelegramEmulator();
  const bot = await startTelegramFrontEnd({
    studio,
    planner: fakePlanner(),
    config: { TELEGRAM_BOT_TOKEN: tg.token, TELEGRAM_API_ROOT: tg.apiRoot, SPINBOT_PROGRESS_EDIT_MS: '150' },
    log: () => {},
  });
  t.after(async () => {
    await bot.stop();
    await tg.stop();
  });
  const user = { id: 720002, first_name: 'Ola' };
  tg.sendCommand(user.id, user, 'generate', 'a clip about owls');
  const status = await tg.waitFor(lastText(tg, user.id, /could not be made/), 60_000);
  assert.match(status.text!, /^❌ "a clip about owls" could not be made\. The tts stage failed: FAKE unrecoverable backend: this always fails\.$/);
  assert.deepEqual(status.buttons, [], 'no Cancel left');
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(tg.botMessages(user.id).length, 1, 'the status message says it all: no second message, no video');
  tg.sendCommand(user.id, user, 'status');
  const reply = await tg.waitFor(lastText(tg, user.id, /^Last finished:/), 10_000);
  assert.match(reply.text!, /failed — The tts stage failed/);
});
