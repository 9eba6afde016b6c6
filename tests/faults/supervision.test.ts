// `npm start` keeps its processes running: a worker or a private redis-server killed in the middle
// of a render is started again, and the render still ends in exactly one clip for the user.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { botFixture, processesMentioning, slowNarration, startBot, waitFor, type RunningBot } from './process-helpers.ts';

import { RENDER_MS } from '../channel/fixtures.ts';

const story = (bot: RunningBot) => () => `chat:\n${bot.texts().join('\n')}\nbot log:\n${bot.output()}\nworker log:\n${bot.workerLog()}`;

/**
 * `npm start` with slow narration (a stage with a middle to kill in) and a render under way:
 * returns once the worker is inside the narration stage. Default lock settings (30 s).
 */
async function botRendering(t: { after(fn: () => unknown): void }) {
  const fixture = await botFixture(t);
  const bot = await startBot(t, fixture, slowNarration(2));
  bot.generate('a 6 second video about tides');
  await waitFor('the worker to start the job', () => /job \S+ start/.test(bot.workerLog()), 60_000, story(bot));
  await new Promise((r) => setTimeout(r, 700));
  return { fixture, bot };
}

/** One clip, and still one a moment later (a duplicate completion would post a second). */
async function assertOneClip(bot: RunningBot): Promise<void> {
  await waitFor('the clip', () => bot.videos()[0], RENDER_MS, story(bot));
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(bot.videos().length, 1, 'the clip must be posted exactly once');
}

test('the worker SIGKILLed mid-stage: npm start restarts it, says so, and the job finishes exactly once', async (t) => {
  // The job is handed back when the worker dies, not when its lock expires.
  const { bot } = await botRendering(t);
  const first = bot.workerPid();
  process.kill(first, 'SIGKILL');

  await waitFor('the restart', () => /The Python worker restarted \(pid \d+\)/.test(bot.output()), 30_000, story(bot));
  assert.match(bot.output(), /The Python worker stopped unexpectedly \(killed by SIGKILL\); restarting it in 0\.5 s \(restart 1\)\./);
  const second = bot.workerPid();
  assert.notEqual(second, first);
  assert.ok(processesMentioning(bot.dir).some((p) => p.pid === second && /spinbot_worker/.test(p.args)), 'the new worker is running');
  assert.equal(bot.botPid(), processesMentioning(bot.dir).find((p) => p.pid === second)!.ppid, "the new worker is the bot's child");

  assert.match(bot.output(), /Job \S+ of the stopped worker will run again on the new one\./);
  await assertOneClip(bot);
  // The user was told too: the status message said so while the job moved to the new worker.
  const status = bot.tg.botMessages(bot.tg.defaultUser.id).find((m) => m.history.some((v) => /🎬/.test(v.text ?? '')));
  assert.ok(status, `a status message:\n${story(bot)()}`);
  const shown = status.history.map((v) => v.text ?? '');
  assert.ok(shown.some((text) => text.includes('the renderer restarted; resuming')), `the status message's versions:\n${shown.join('\n---\n')}`);
  // The killed worker never finished it; the new one did, once.
  assert.equal(bot.workerLog().match(/job \S+ finished/g)?.length, 1, bot.workerLog());
});

test('redis-server SIGKILLed mid-render: restarted from its append-only file, and the job finishes exactly once', async (t) => {
  const { bot } = await botRendering(t);
  const first = bot.redisPid();
  process.kill(first, 'SIGKILL');

  await waitFor('the restart', () => /redis-server restarted \(pid \d+\)/.test(bot.output()), 30_000, story(bot));
  assert.match(bot.output(), /redis-server stopped unexpectedly \(killed by SIGKILL\); restarting it/);
  assert.notEqual(bot.redisPid(), first);
  await assertOneClip(bot);
});

test('the whole npm start group SIGKILLed mid-render and started again: the job resumes on the new worker at once and finishes exactly once', async (t) => {
  const { fixture, bot: first } = await botRendering(t);
  process.kill(-first.npm.pid!, 'SIGKILL');
  await first.exited;

  // Same state dir: the private Redis comes back from its append-only file with the job in it,
  // still locked by the dead worker; the new start hands it to its own worker without waiting 30 s.
  const second = await startBot(t, fixture, slowNarration(2));
  assert.match(second.output(), /Job \S+ of the stopped worker will run again on the new one\./);
  await assertOneClip(second);
  assert.equal(second.workerLog().match(/job \S+ finished/g)?.length, 1, second.workerLog());
});
