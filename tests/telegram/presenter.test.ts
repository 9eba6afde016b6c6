// "Present it yourself" on Telegram, through grammY and the Bot API emulator, the real queue and the
// worker's face check: a photo without a face is refused in one sentence with nothing stored; a portrait
// becomes the presenter and the plan shown says so.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { presenterKeyFor } from '../../gpu-bridge/presenter.ts';
import { pngImage, sharedStudio } from '../channel/fixtures.ts';
import { startTelegramBot, waitForText } from './setup.ts';

const studio = await sharedStudio();

/** Grace Hopper's official US Navy portrait (public domain), shipped by matplotlib, which mediapipe installs. */
function portrait(): Buffer {
  const lib = path.resolve('.venv/lib');
  const python = readdirSync(lib).find((name) => name.startsWith('python'))!;
  return readFileSync(path.join(lib, python, 'site-packages/matplotlib/mpl-data/sample_data/grace_hopper.jpg'));
}

test('present it yourself: a photo without a face is refused with nothing stored; a portrait presents the plan', async (t) => {
  const { tg, planner } = await startTelegramBot(studio, t);
  const user = { id: 990001, first_name: 'Grace', username: 'grace' };
  const chat = user.id;

  tg.sendPhoto(chat, user, pngImage(), { width: 64, height: 64 });
  await waitForText(tg, chat, /^Saved this 64x64 picture as your reference image/);
  tg.sendText(chat, user, 'a 6 second video about tea, present it yourself');
  await waitForText(tg, chat, /I could not find a face in that photo; send a clear, front-facing portrait/);
  assert.equal(await studio.storage.stat(presenterKeyFor({ platform: 'telegram', userId: String(user.id) })), null, 'no presenter stored');
  assert.deepEqual(await studio.storage.list(`uploads/telegram/${user.id}/`), [], 'the copy sent for checking is gone');
  assert.equal(planner.requests.length, 0, 'nothing planned');

  tg.sendPhoto(chat, user, portrait(), { width: 512, height: 600 });
  await waitForText(tg, chat, /^Saved this 512x600 picture as your reference image/);
  tg.sendText(chat, user, 'a 6 second video about tea, presented by me');
  const shown = await waitForText(tg, chat, /^Plan: /);
  assert.match(shown.text!, /Presenter: you, from your photo in scenes 1, 2/);
  assert.match(shown.text!, /1\. \(3 s\) \[presenter\]/);
  assert.match(shown.text!, /2\. \(3 s\) \[presenter in the corner\]/);
  assert.equal(planner.requests.at(-1)?.presenterKey, presenterKeyFor({ platform: 'telegram', userId: String(user.id) }));
  assert.notEqual(await studio.storage.stat(presenterKeyFor({ platform: 'telegram', userId: String(user.id) })), null, 'the checked portrait is kept');
});
