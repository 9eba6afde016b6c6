// The one-shot command a user (or a script) runs: the real embedded model plans, the real worker
// renders, and the clip lands at --out. Bad input is refused with one line and nothing enqueued.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Queue } from 'bullmq';
import { redisOptions } from '../../gpu-bridge/producer.ts';
import { GPU_QUEUE } from '../../gpu-bridge/contracts/index.ts';
import { REPO_ROOT, startRedis } from '../../pipeline/services.ts';
import { assertWatchableClip, tempDir } from './helpers.ts';

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bot/main.ts', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test('generate: the acceptance command writes a 20 s narrated 1280x720 clip and exits 0', async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, 'sky.mp4');
  const env = { SPINBOT_DATA_DIR: join(dir, 'data'), SPINBOT_STATE_DIR: join(dir, 'state'), OLLAMA_BASE_URL: '' };
  const result = await runCli(['generate', 'a 20 second explainer about why the sky is blue', '--seconds', '20', '--out', out], env);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, new RegExp(`^Done: ${out.replaceAll('/', '\\/')} \\(\\d+\\.\\d s, [\\d.]+ [KM]B\\)\\. Voice: Piper joe-medium`));
  // Scenes are not evenly split by the planner, so check that each half differs from the other.
  await assertWatchableClip(out, { seconds: 20, sceneStarts: [0, 10] , tolerance: 0.15 });
});

test('generate: bad input gets one clear line, exit 1, and nothing is enqueued or stored', async (t) => {
  const redis = await startRedis();
  const queue = new Queue(GPU_QUEUE, { connection: redisOptions(redis.url) });
  t.after(() => queue.close().then(() => redis.stop())); // Redis last: closing needs it
  const dir = await tempDir(t);
  const env = { REDIS_URL: redis.url, SPINBOT_DATA_DIR: join(dir, 'data'), SPINBOT_STATE_DIR: join(dir, 'state'), OLLAMA_BASE_URL: '' };

  const cases: Array<[string, string[], RegExp]> = [
    ['empty prompt', ['generate', '   '], /what the video should be about/],
    ['20,000-character prompt', ['generate', 'sky '.repeat(5000)], /19999 characters long; please keep it under 2000/],
    ['--seconds 0', ['generate', 'why the sky is blue', '--seconds', '0'], /--seconds must be a number from 5 to 180/],
    ['--seconds 3600', ['generate', 'why the sky is blue', '--seconds', '3600'], /--seconds must be a number from 5 to 180/],
    ['unwritable --out', ['generate', 'why the sky is blue', '--out', '/etc/hostname/clip.mp4'], /Cannot write --out/],
    ['--out is a folder', ['generate', 'why the sky is blue', '--out', dir], /is a directory/],
  ];
  for (const [name, args, message] of cases) {
    const result = await runCli(args, env);
    assert.equal(result.code, 1, `${name}: exit code`);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${name}: expected one line, got:\n${result.stderr}`);
    assert.match(lines[0]!, message, name);
    assert.equal(result.stdout, '', name);
  }
  const counts = await queue.getJobCounts();
  assert.equal(Object.values(counts).reduce((a, b) => a + b, 0), 0, `jobs were enqueued: ${JSON.stringify(counts)}`);
  assert.equal(existsSync(join(dir, 'data')), false, 'something was stored');
});

test('plan --json prints a validated plan from the embedded model', async (t) => {
  const dir = await tempDir(t);
  const result = await runCli(['plan', 'a 15 second video about green tea', '--json'], { SPINBOT_STATE_DIR: join(dir, 'state'), OLLAMA_BASE_URL: '' });
  assert.equal(result.code, 0, result.stderr);
  const plan = JSON.parse(result.stdout);
  assert.equal(plan.scenes.reduce((sum: number, s: { seconds: number }) => sum + s.seconds, 0), 15);
  assert.ok(plan.scenes.every((s: { narration: string }) => s.narration.trim().length > 0));
});
