// Telegram: /train <name>, then an album of pictures, through the real grammY client against the
// Bot API emulator with a real studio. On a bot without a GPU worker the user gets one sentence,
// nothing is stored or queued, and the pictures are not taken as reference images; /styles lists none.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { startTelegramFrontEnd } from '../../bot/telegram/front-end.ts';
import { startTelegramEmulator } from '../emulators/telegram/server.ts';
import { fakePlanner, sharedStudio } from '../channel/fixtures.ts';

const studio = await sharedStudio();

test('/train <name> then an album: without a GPU worker one sentence, nothing stored or queued; /styles lists none', async (t) => {
  const tg = await startTelegramEmulator();
  const bot = await startTelegramFrontEnd({
    studio,
    planner: fakePlanner({ seconds: 6 }),
    config: { TELEGRAM_BOT_TOKEN: tg.token, TELEGRAM_API_ROOT: tg.apiRoot, SPINBOT_PROGRESS_EDIT_MS: '150' },
    log: () => {},
  });
  t.after(async () => {
    await bot.stop();
    await tg.stop();
  });
  const user = { id: 990001, first_name: 'Ines', username: 'ines' };
  const said = (pattern: RegExp) => tg.waitFor(() => tg.botMessages(user.id).find((m) => pattern.test(m.text ?? '')), 30_000);

  tg.sendCommand(user.id, user, 'train', '');
  await said(/^Usage: \/train <name>/);
  tg.sendCommand(user.id, user, 'train', 'watercolour');
  await said(/^Send 8-40 pictures for the style "watercolour"/);
  const before = await studio.queue.queue.getJobCounts();
  for (let n = 0; n < 8; n += 1) {
    const bytes = execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=s=640x640:r=1', '-vf', `select=eq(n\\,${n})`, '-frames:v', '1', '-f', 'image2pipe', '-c:v', 'mjpeg', '-']);
    tg.sendPhoto(user.id, user, bytes, { width: 640, height: 640 });
  }
  await said(/^Training a style needs a GPU worker with ComfyUI \(COMFYUI_URL\)/);
  assert.deepEqual(await studio.queue.queue.getJobCounts(), before);
  assert.deepEqual(await studio.storage.list(`uploads/telegram/${user.id}/`), []);
  assert.equal(await studio.storage.stat(`users/telegram/${user.id}/images/reference.png`), null, 'training pictures are not reference images');
  assert.ok(!tg.botMessages(user.id).some((m) => /reference image/.test(m.text ?? '')));

  tg.sendCommand(user.id, user, 'styles', '');
  await said(/^You have no styles yet/);
});
