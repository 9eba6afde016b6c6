// The supervisor on a plain program (sh), without Redis or the worker: restart with growing
// delays, no restart after stop(), and pid files that never name an unrelated process.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { livePidFromFile, stopStaleProcess, SupervisedProcess, writePidFile, type SupervisionEvent } from '../../pipeline/supervisor.ts';
import { tempDir } from '../e2e/helpers.ts';

const sleeper = (dir: string, log: string[]) =>
  new SupervisedProcess({
    name: 'sleeper',
    label: 'The sleeper',
    command: 'sh',
    args: ['-c', 'echo ready; exec sleep 600'],
    readyText: 'ready',
    readyTimeoutMs: 5000,
    pidFile: join(dir, 'sleeper.pid'),
    log: (line) => log.push(line),
  });

test('a supervised process that dies is restarted, with a longer wait each time it dies again at once', async (t) => {
  const dir = await tempDir(t, 'spinbot-supervisor-');
  const log: string[] = [];
  const sleeper1 = sleeper(dir, log);
  t.after(() => sleeper1.stop(1000));
  const events: SupervisionEvent[] = [];
  sleeper1.on('supervision', (e) => events.push(e));
  await sleeper1.start();
  const pids = [sleeper1.process.pid!];
  assert.equal(livePidFromFile(join(dir, 'sleeper.pid')), pids[0]);

  for (let round = 1; round <= 2; round++) {
    process.kill(pids.at(-1)!, 'SIGKILL');
    const restarted = new Promise<SupervisionEvent>((resolve) =>
      sleeper1.on('supervision', (e) => e.kind === 'restarted' && e.restarts === round && resolve(e)),
    );
    const event = await restarted;
    pids.push(sleeper1.process.pid!);
    assert.equal(event.pid, pids.at(-1));
    assert.equal(livePidFromFile(join(dir, 'sleeper.pid')), pids.at(-1), 'the pid file names the new process');
  }
  assert.deepEqual(
    events.filter((e) => e.kind === 'died').map((e) => [e.reason, e.retryInMs]),
    [['killed by SIGKILL', 500], ['killed by SIGKILL', 1000]],
  );
  assert.match(log.join('\n'), /The sleeper stopped unexpectedly \(killed by SIGKILL\); restarting it in 0\.5 s \(restart 1\)\./);

  // Stopped on purpose: it stays stopped, and its pid file is gone.
  await sleeper1.stop(1000);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(events.filter((e) => e.kind === 'died').length, 2, 'no restart after stop()');
  assert.equal(livePidFromFile(join(dir, 'sleeper.pid')), null);
});

test('a stale pid file: the process it names is stopped, but a pid now used by another program is left alone', async (t) => {
  const dir = await tempDir(t, 'spinbot-supervisor-');
  const file = join(dir, 'stale.pid');
  const stale = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
  t.after(() => stale.kill('SIGKILL'));
  await new Promise((r) => stale.once('spawn', r));
  writePidFile(file, stale.pid!);
  const exited = new Promise((r) => stale.once('exit', (_code, signal) => r(signal)));
  const log: string[] = [];
  await stopStaleProcess(file, 'The sleeper', (line) => log.push(line));
  assert.equal(await exited, 'SIGTERM');
  assert.match(log[0]!, /The sleeper \(pid \d+\) is still running from an earlier start/);

  // Same pid, another start time: the pid was reused by an unrelated process since the crash.
  const bystander = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
  t.after(() => bystander.kill('SIGKILL'));
  await new Promise((r) => bystander.once('spawn', r));
  writeFileSync(file, JSON.stringify({ pid: bystander.pid, start: '1' }));
  await stopStaleProcess(file, 'The sleeper', () => {});
  assert.equal(bystander.exitCode, null);
  assert.equal(bystander.signalCode, null, 'an unrelated process was signalled');
});
