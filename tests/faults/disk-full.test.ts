// The data dir on a small tmpfs that fills up during a render: the user is told the server is out
// of disk space (one sentence), the operator gets one clear log line, nothing half-written is left
// looking finished, and once space is freed the next video is made. Needs permission to mount a
// tmpfs (root); skipped with the reason otherwise.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { botFixture, startBot, waitFor } from './process-helpers.ts';

import { RENDER_MS } from '../channel/fixtures.ts';
const DISK_FULL_SENTENCE = /The server is out of disk space; the operator has been told/;

function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)));
}

test('the data dir fills up mid-render: one clear sentence, one log line, nothing half-written; the next video works once space is back', async (t) => {
  // Not under the fixture's folder: that one is removed while the mount may still be busy.
  const fixture = await botFixture(t, { dataDir: mkdtempSync(join(tmpdir(), 'spinbot-full-disk-')) });
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', fixture.dataDir], { encoding: 'utf8' });
  if (mounted.status !== 0) {
    const reason = `cannot mount a 4 MB tmpfs for the data dir here (${(mounted.stderr || mounted.error?.message || '').trim()}); run as root to include this test`;
    process.stdout.write(`# skipped: ${reason}\n`);
    rmSync(fixture.dataDir, { recursive: true, force: true });
    t.skip(reason);
    return;
  }
  t.after(() => {
    spawnSync('umount', ['-l', fixture.dataDir]);
    rmSync(fixture.dataDir, { recursive: true, force: true });
  });
  const bot = await startBot(t, fixture);
  const story = () => `chat:\n${bot.texts().join('\n')}\nbot log:\n${bot.output()}\nworker log:\n${bot.workerLog()}`;

  // Leave room for the plan the bot stores, not for the narration the worker writes next.
  const { bavail, bsize } = statfsSync(fixture.dataDir);
  const filler = join(fixture.dataDir, 'filler.bin');
  writeFileSync(filler, Buffer.alloc(Math.max(0, bavail * bsize - 48 * 1024)));

  bot.generate('a 6 second video about tides');
  const told = await waitFor('the disk-full message', () => bot.texts().find((text) => DISK_FULL_SENTENCE.test(text)), RENDER_MS, story);
  t.diagnostic(`the user saw: ${told}`);
  assert.doesNotMatch(told, /Errno|OSError|No space left/, 'the user is shown the sentence, not the error');
  // Its own sentence, not dressed up as a stage's failure ("The tts stage failed: ...").
  assert.match(told, /could not be made\. The server is out of disk space; the operator has been told\.$/);
  const logLines = bot.workerLog().split('\n').filter((line) => /DISK FULL/.test(line));
  assert.equal(logLines.length, 1, `one log line for the operator:\n${bot.workerLog()}`);
  // It names the full disk and what is left on it.
  assert.ok(logLines[0]!.includes(`free space: data dir ${fixture.dataDir} `), logLines[0]);
  assert.equal(bot.videos().length, 0);
  // Nothing half-written: no partial files, no clip; a scene file that exists is a whole one.
  const left = filesUnder(fixture.dataDir);
  assert.deepEqual(left.filter((file) => /\.partial-|final\.mp4$/.test(file)), [], `left: ${left.join(', ')}`);

  // The operator frees space: the next video is made, by the same worker.
  rmSync(filler);
  const workerBefore = bot.workerPid();
  bot.generate('a 6 second video about tides');
  await waitFor('the clip', () => bot.videos()[0], RENDER_MS, story);
  assert.equal(bot.workerPid(), workerBefore);
});
