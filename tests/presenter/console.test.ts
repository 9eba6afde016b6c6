// The console's "/photo PATH": a picture without a face is refused in one sentence with nothing stored;
// a portrait becomes the presenter, and "present it yourself" plans with it (the plan shown says so).
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runConsoleChat } from '../../bot/console/chat.ts';
import { fakePlanner, pngImage } from '../channel/fixtures.ts';
import { consoleTerminal, openTestStudio, tempDir } from '../e2e/helpers.ts';

/** Grace Hopper's official US Navy portrait (public domain), shipped by matplotlib, which mediapipe installs. */
function portraitPath(): string {
  const lib = path.resolve('.venv/lib');
  const python = readdirSync(lib).find((name) => name.startsWith('python'))!;
  return path.join(lib, python, 'site-packages/matplotlib/mpl-data/sample_data/grace_hopper.jpg');
}

test('console: /photo refuses a picture without a face and keeps nothing; a portrait presents the plan', async (t) => {
  const studio = await openTestStudio(t);
  const planner = fakePlanner({ seconds: 6 });
  const term = consoleTerminal();
  const chat = runConsoleChat({ studio, planner, input: term.input, output: term.output });
  const dir = await tempDir(t);
  const faceless = path.join(dir, 'landscape.png');
  writeFileSync(faceless, pngImage());

  await term.waitFor(/\/quit to leave/);
  term.type(`/photo ${faceless}`);
  await term.waitFor(/I could not find a face in that photo; send a clear, front-facing portrait/);
  const stored = (await studio.storage.list('users/')).concat(await studio.storage.list('uploads/'));
  assert.deepEqual(stored.map((o) => o.key), [], 'nothing stored');

  term.type(`/photo ${portraitPath()}`);
  await term.waitFor(/This photo presents your videos now/);
  term.type('make a 6 second video about tea, present it yourself');
  await term.waitFor(/Approve\?/);
  assert.match(term.text(), /Presenter: you, from your photo in scenes 1, 2/);
  const presenterKey = planner.requests.at(-1)?.presenterKey;
  assert.match(presenterKey ?? '', /^users\/console\/[^/]+\/presenter\.png$/);
  assert.notEqual(await studio.storage.stat(presenterKey!), null, 'the checked portrait is kept');
  term.type('/quit');
  await chat;
});
