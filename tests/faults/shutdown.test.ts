// Stopping `npm start` every way an operator or a crash does: everything it started ends, in
// order and within 10 s, and a crash leaves no process behind (checked in /proc).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, REPO_ROOT } from '../../pipeline/services.ts';
import { writePidFile } from '../../pipeline/supervisor.ts';
import { botFixture, pidFromFile, processesMentioning, slowNarration, startBot, waitFor, waitUntilAllGone, type RunningBot } from './process-helpers.ts';

import { RENDER_MS } from '../channel/fixtures.ts';

test('SIGTERM to the whole process group after a render: the bot, the worker and redis-server are all gone within 10 s', async (t) => {
  const fixture = await botFixture(t);
  const bot = await startBot(t, fixture);
  bot.generate('a 6 second video about tides');
  await waitFor('the clip', () => bot.videos()[0], RENDER_MS, () => `${bot.texts().join('\n')}\n${bot.output()}`);
  const running = processesMentioning(bot.dir);
  assert.ok(running.some((p) => /spinbot_worker/.test(p.args)), 'no worker running');
  const redisPid = bot.redisPid();

  // What systemd and `kill -- -PGID` do: every process of the group gets SIGTERM at the same moment.
  process.kill(-bot.npm.pid!, 'SIGTERM');
  const tookMs = await waitUntilAllGone(bot.dir, [redisPid], 10_000);
  t.diagnostic(`all gone ${tookMs} ms after the group SIGTERM`);
  // In order: Redis was still there when the queue connections closed (no "did not close" line),
  // and nothing had to be killed past the deadline.
  assert.doesNotMatch(bot.output(), /did not close within|killing what is left/, bot.output());
  assert.match(bot.output(), /Stopping \(SIGTERM\)/);
  assertWorkerClosedBeforeRedis(bot);
});

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The worker logged its clean close before redis-server began its shutdown (both log local time). */
function assertWorkerClosedBeforeRedis(bot: RunningBot): void {
  const worker = bot.workerLog().match(/^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d),(\d{3}) spinbot-worker INFO worker closed/m);
  assert.ok(worker, `the worker did not close cleanly:\n${bot.workerLog()}`);
  const redis = bot.redisLog().match(/(\d+) (\w{3}) (\d{4}) (\d\d:\d\d:\d\d)\.(\d{3}) # User requested shutdown/);
  assert.ok(redis, `redis-server did not shut down cleanly:\n${bot.redisLog()}`);
  const workerClosed = Date.parse(`${worker[1]}T${worker[2]}.${worker[3]}Z`);
  const month = String(MONTHS.indexOf(redis[2]!) + 1).padStart(2, '0');
  const redisStopping = Date.parse(`${redis[3]}-${month}-${redis[1]!.padStart(2, '0')}T${redis[4]}.${redis[5]}Z`);
  assert.ok(workerClosed <= redisStopping, `redis-server stopped (${redis[0]}) before the worker closed (${worker[0]})`);
}

test('the bot SIGKILLed (a hard crash): the worker and redis-server die with it, no orphans', async (t) => {
  const fixture = await botFixture(t);
  const bot = await startBot(t, fixture);
  const [botPid, workerPid, redisPid] = [bot.botPid(), bot.workerPid(), bot.redisPid()];
  process.kill(botPid, 'SIGKILL');
  const tookMs = await waitUntilAllGone(bot.dir, [workerPid, redisPid], 5000);
  t.diagnostic(`worker and redis-server gone ${tookMs} ms after the bot's SIGKILL`);
});

test('an uncaught exception in the bot: it logs the crash, stops everything in order and exits 1', async (t) => {
  const fixture = await botFixture(t);
  const crashOnSignal = join(import.meta.dirname, 'fixtures', 'crash-on-sigusr2.mjs');
  const bot = await startBot(t, fixture, { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${crashOnSignal}`.trim() });
  const redisPid = bot.redisPid();
  process.kill(bot.botPid(), 'SIGUSR2');
  const tookMs = await waitUntilAllGone(bot.dir, [redisPid], 10_000);
  t.diagnostic(`all gone ${tookMs} ms after the crash`);
  assert.match(bot.output(), /Crashed \(uncaught exception\): Error: FAKE crash/);
  assert.doesNotMatch(bot.output(), /killing what is left/);
  assertWorkerClosedBeforeRedis(bot);
  assert.notEqual((await bot.exited).code, 0);
});

test('a redis-server and a worker left running by an earlier crash are stopped at the next start', async (t) => {
  const fixture = await botFixture(t);
  const redisDir = join(fixture.stateDir, 'redis');
  mkdirSync(redisDir, { recursive: true });
  // What a crash that escaped the parent-death signal would leave: both still serving this state dir.
  const port = await freePort();
  const staleRedis = spawn('redis-server', ['--port', String(port), '--dir', redisDir, '--appendonly', 'yes', '--save', ''], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, SPINBOT_FAULT_TEST_DIR: fixture.dir },
  });
  const staleWorker = spawn(join(REPO_ROOT, '.venv', 'bin', 'python'), ['-m', 'spinbot_worker'], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: 'ignore',
    env: {
      ...process.env,
      PYTHONPATH: join(REPO_ROOT, 'gpu-bridge', 'worker'),
      REDIS_URL: `redis://127.0.0.1:${port}`,
      SPINBOT_DATA_DIR: fixture.dataDir,
      SPINBOT_FAULT_TEST_DIR: fixture.dir,
    },
  });
  t.after(() => [staleRedis, staleWorker].forEach((c) => c.kill('SIGKILL')));
  await new Promise((r) => setTimeout(r, 1500)); // both up (the worker needs Redis to stay up)
  writePidFile(join(redisDir, 'spinbot-redis.pid'), staleRedis.pid!);
  writePidFile(join(fixture.stateDir, 'worker.pid'), staleWorker.pid!);
  const staleGone = Promise.all([staleRedis, staleWorker].map((c) => new Promise((r) => c.once('exit', r))));

  const bot = await startBot(t, fixture);
  await staleGone;
  assert.match(bot.output(), /redis-server \(pid \d+\) is still running from an earlier start that did not stop cleanly; stopping it\./);
  assert.match(bot.output(), /The Python worker \(pid \d+\) is still running from an earlier start/);
  assert.notEqual(bot.redisPid(), staleRedis.pid);
  assert.notEqual(bot.workerPid(), staleWorker.pid);
  // And the new bot works: a render is delivered.
  bot.generate('a 6 second video about tides');
  await waitFor('the clip', () => bot.videos()[0], RENDER_MS, () => `${bot.texts().join('\n')}\n${bot.output()}`);
});

test('/quit in the console and SIGINT to the bot: each stops everything, in order, and exits cleanly', async (t) => {
  for (const how of ['/quit', 'SIGINT'] as const) {
    const fixture = await botFixture(t);
    const bot = await startBot(t, fixture, {}, { frontEnd: 'console' });
    const redisPid = bot.redisPid();
    if (how === '/quit') bot.npm.stdin!.write('/quit\n');
    else process.kill(bot.botPid(), 'SIGINT');
    const tookMs = await waitUntilAllGone(bot.dir, [redisPid], 10_000);
    t.diagnostic(`${how}: all gone ${tookMs} ms later`);
    assert.doesNotMatch(bot.output(), /did not close within|killing what is left/, bot.output());
    assertWorkerClosedBeforeRedis(bot);
    assert.equal((await bot.exited).code, how === '/quit' ? 0 : 130, bot.output());
  }
});

test('Redis hung (SIGSTOP) when the group gets SIGTERM: the steps that wait on it are cut off and everything is still gone within 10 s', async (t) => {
  const fixture = await botFixture(t);
  const bot = await startBot(t, fixture);
  const redisPid = bot.redisPid();
  // Closing queue connections to a Redis that does not answer would wait forever.
  process.kill(redisPid, 'SIGSTOP');
  process.kill(-bot.npm.pid!, 'SIGTERM');
  const tookMs = await waitUntilAllGone(bot.dir, [redisPid], 10_000);
  t.diagnostic(`all gone ${tookMs} ms after the group SIGTERM`);
  assert.match(bot.output(), /Stopping: the queue connections did not close within 2 s; going on\./);
});

test("SIGTERM to every process at once (systemd's default KillMode=control-group): nothing is restarted, all gone within 10 s", async (t) => {
  const fixture = await botFixture(t);
  const bot = await startBot(t, fixture);
  const redisPid = bot.redisPid();
  for (const pid of [...processesMentioning(bot.dir).map((p) => p.pid), redisPid]) process.kill(pid, 'SIGTERM');
  const tookMs = await waitUntilAllGone(bot.dir, [redisPid], 10_000);
  t.diagnostic(`all gone ${tookMs} ms after SIGTERM to every process`);
  assert.doesNotMatch(bot.output(), /restarting it|restarted/, bot.output());
});

test('`generate` on the command line, SIGTERM mid-render with Redis hung: a worker that dies meanwhile is not restarted, all gone within 10 s', async (t) => {
  const { dir, ollama, dataDir, stateDir } = await botFixture(t);
  const cli = spawn(process.execPath, ['--import', 'tsx', 'bot/main.ts', 'generate', 'a 6 second video about tides', '--seconds', '6', '--out', join(dir, 'tides.mp4')], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...slowNarration(2), SPINBOT_DATA_DIR: dataDir, SPINBOT_STATE_DIR: stateDir, SPINBOT_FAULT_TEST_DIR: dir, OLLAMA_BASE_URL: ollama.url, REDIS_URL: '' },
  });
  let output = '';
  cli.stdout.on('data', (c: Buffer) => (output += c));
  cli.stderr.on('data', (c: Buffer) => (output += c));
  const exited = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
  const redisPidFile = join(stateDir, 'redis', 'spinbot-redis.pid');
  t.after(() => {
    const left = processesMentioning(dir).map((p) => p.pid);
    if (existsSync(redisPidFile)) left.push(pidFromFile(redisPidFile));
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
  const workerLog = () => {
    try {
      return readFileSync(join(stateDir, 'logs', 'worker.log'), 'utf8');
    } catch {
      return '';
    }
  };
  await waitFor('the worker to start the job', () => /job \S+ start/.test(workerLog()), 120_000, () => `${output}\n${workerLog()}`);
  const redisPid = pidFromFile(redisPidFile);

  // Closing the queue connections to a Redis that does not answer waits until the deadline; a
  // worker that ends meanwhile (as one SIGTERMed with the whole group may) must not be started again.
  process.kill(redisPid, 'SIGSTOP');
  process.kill(cli.pid!, 'SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  process.kill(pidFromFile(join(stateDir, 'worker.pid')), 'SIGKILL');
  const tookMs = await waitUntilAllGone(dir, [redisPid], 10_000);
  t.diagnostic(`all gone ${tookMs} ms after the SIGTERM`);
  await exited;
  assert.doesNotMatch(output, /restarting it|restarted/, output);
});
