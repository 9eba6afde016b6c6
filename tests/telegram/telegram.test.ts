// The Telegram front-end through the real grammY client, against the local Bot API emulator, with
// a real studio (redis, the Python worker on CPU backends, ffmpeg). The planner is a fake that
// returns a hand-written plan. Every check is something a Telegram user would notice.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { probeMedia } from '../../media/probe.ts';
import { keys } from '../../storage/keys.ts';
import { assertWatchableClip } from '../e2e/helpers.ts';
import type { BotMessage, TelegramEmulator } from '../emulators/telegram/server.ts';
import { MID_RENDER, pngImage, RENDER_MS, saveClip, sharedStudio, speechSample, waitForJobState, type TestContextLike } from '../channel/fixtures.ts';
import { startTelegramBot, waitForText, type TelegramSetupOptions } from './setup.ts';

const studio = await sharedStudio();

let nextUser = 500;
function newUser(name: string) {
  nextUser += 1;
  return { id: 880000 + nextUser, first_name: name, username: name.toLowerCase() };
}

const startTelegram = (t: TestContextLike, env: Record<string, string> = {}, options: TelegramSetupOptions = {}) =>
  startTelegramBot(studio, t, env, options);

const texts = (tg: TelegramEmulator, chat: number) => tg.botMessages(chat).map((m) => m.text ?? m.caption ?? '');

function waitForVideo(tg: TelegramEmulator, chat: number, skip = 0): Promise<BotMessage> {
  return tg.waitFor(() => tg.botMessages(chat).filter((m) => m.method === 'sendVideo')[skip], RENDER_MS);
}

async function queueTotal(): Promise<number> {
  const counts = await studio.queue.queue.getJobCounts('waiting', 'active', 'prioritized', 'delayed');
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

test('the command menu is published with setMyCommands; /start and /help explain the bot', async (t) => {
  const { tg } = await startTelegram(t);
  assert.deepEqual(tg.myCommands().map((c) => c.command), ['start', 'help', 'generate', 'voice', 'status', 'cancel', 'train', 'styles']);
  const user = newUser('Sam');
  tg.sendCommand(user.id, user, 'start');
  const start = (await waitForText(tg, user.id, /^Hi, I'm MySpinBot/)).text!;
  assert.match(start, /voice message/);
  // What runs without a GPU, as it is now: Piper and illustrated pictures, not espeak-ng and title cards.
  assert.match(start, /narration uses the Piper voice .*pictures are illustrated scenes/);
  assert.doesNotMatch(start, /title card/i);
  tg.sendCommand(user.id, user, 'help');
  await waitForText(tg, user.id, /^I turn a description/);
});

test('a user sends a voice message, sees it listed, and /generate with it posts a streamable 1280x720 MP4 with audio', async (t) => {
  const { tg } = await startTelegram(t);
  const user = newUser('Anna');
  const chat = user.id;

  tg.sendVoice(chat, user, speechSample('ogg'), { caption: 'Anna', duration: 7, mime_type: 'audio/ogg' });
  const saved = await waitForText(tg, chat, /Saved your voice 'anna'/);
  assert.match(saved.text!, /\(\d+\.\d s of speech\)/);
  assert.match(saved.text!, /I heard: "[^"]*\w[^"]*"/, 'the worker transcribed the sample');
  const stored = path.join(tmpdir(), `tg-voice-${user.id}.wav`);
  t.after(() => rm(stored, { force: true }));
  await studio.storage.getToFile(keys.userVoice('telegram', String(user.id), 'anna'), stored);
  const voice = await probeMedia(stored);
  assert.equal(voice.audio?.sampleRate, 24000);
  assert.equal(voice.audio?.channels, 1);

  // An audio file sent as a document is a voice sample too.
  tg.sendDocument(chat, user, speechSample('wav'), { caption: 'narrator', file_name: 'narrator.wav', mime_type: 'audio/x-wav' });
  await waitForText(tg, chat, /Saved your voice 'narrator'/);

  // ... and so is an audio file.
  tg.sendAudio(chat, user, speechSample('mp3'), { caption: 'radio', file_name: 'radio.mp3', mime_type: 'audio/mpeg', duration: 7 });
  await waitForText(tg, chat, /Saved your voice 'radio'/);
  tg.sendCommand(chat, user, 'voice', 'remove radio');
  await waitForText(tg, chat, /^Deleted your voice 'radio'/);

  // A photo becomes the reference picture.
  tg.sendPhoto(chat, user, pngImage(), { width: 64, height: 64 });
  const savedPicture = await waitForText(tg, chat, /^Saved this 64x64 picture as your reference image/);
  assert.match(savedPicture.text!, /your next videos show it in their pictures\.$/);
  assert.ok(await studio.storage.stat(`users/telegram/${user.id}/images/reference.png`));

  tg.sendCommand(chat, user, 'voice');
  const list = await waitForText(tg, chat, /^Your voices \(2\)/);
  assert.match(list.text!, /• anna/);
  assert.match(list.text!, /• narrator/);

  const before = tg.botMessages(chat).length;
  tg.sendCommand(chat, user, 'generate', 'voice=anna Why the sky is blue');
  const video = await waitForVideo(tg, chat);
  const status = tg.botMessages(chat)[before]!;
  assert.match(status.history[0]!.text!, /Planning/, 'acknowledged at once with a status message');
  const progress = status.history.map((v) => v.text ?? '').filter((text) => /\d+%/.test(text));
  assert.ok(new Set(progress).size >= 2, `at least two progress edits, got ${JSON.stringify(progress)}`);
  assert.ok(status.history.some((v) => v.replyMarkup?.inline_keyboard?.[0]?.[0]?.text === 'Cancel'), 'Cancel while running');
  await tg.waitFor(() => /is ready/.test(tg.botMessage(chat, status.messageId)!.text ?? ''), 10_000);
  assert.deepEqual(tg.botMessage(chat, status.messageId)!.buttons, [], 'no buttons on the finished status');

  assert.equal(tg.botMessages(chat).filter((m) => m.method === 'sendVideo').length, 1, 'one clip');
  assert.equal(video.supportsStreaming, true);
  assert.match(video.caption!, /Voice: [^—\n]+ \(CPU\) — your voice 'anna' needs a GPU worker for cloning/);
  assert.deepEqual(video.buttons.map((b) => b.text), ['Retry', 'Variation']);
  assert.ok(tg.chatActions(chat).includes('upload_video'), '"sending video…" while uploading');
  await assertWatchableClip(await saveClip(video.file!.bytes, t), { seconds: 6, sceneStarts: [0, 3] });

  // The voice's profile, built in the background after the save, is told in the same chat.
  const profile = await waitForText(tg, chat, /^Voice profile for 'anna' ready/);
  assert.match(profile.text!, /^Voice profile for 'anna' ready: \d+\.\d s of clean speech: .+ Reference clip \(\d+\.\d s\): "[^"]*\w[^"]*"$/);

  // Retry: the same plan again; the button press is answered.
  const press = tg.pressButton(video, video.buttons[0]!.callback_data!, user);
  assert.equal((await press.answer()).text, 'Making it again…');
  const again = await waitForVideo(tg, chat, 1);
  assert.match(again.caption!, /"Why the sky is blue"/);
});

test('plain text is planned and shown with Approve / Cancel; Approve renders, Cancel drops it', async (t) => {
  const { tg, planner } = await startTelegram(t);
  const user = newUser('Pat');
  const chat = user.id;

  tg.sendText(chat, user, 'a video about autumn leaves');
  const plan = await waitForText(tg, chat, /^Plan: "a video about autumn leaves"/);
  assert.deepEqual(plan.buttons.map((b) => b.text), ['Approve', 'Edit', 'Cancel']);
  const other = newUser('Other');
  const sneaky = tg.pressButton(plan, plan.buttons[0]!.callback_data!, other);
  assert.match((await sneaky.answer()).text!, /for someone else/);
  const drop = tg.pressButton(plan, plan.buttons[2]!.callback_data!, user);
  assert.equal((await drop.answer()).text, 'Cancel');
  await waitForText(tg, chat, /^Dropped that plan/);
  await tg.waitFor(() => tg.botMessage(chat, plan.messageId)!.buttons.length === 0);
  assert.match(tg.botMessage(chat, plan.messageId)!.text!, /→ Cancel$/, 'the buttons are gone once answered, the choice shown');

  tg.sendText(chat, user, 'a video about spring rain');
  const second = await waitForText(tg, chat, /^Plan: "a video about spring rain"/);
  tg.pressButton(second, second.buttons[0]!.callback_data!, user);
  const video = await waitForVideo(tg, chat);
  assert.match(video.caption!, /"a video about spring rain"/);
  assert.equal(planner.requests.length, 2);
  assert.ok(tg.callbackAnswers().length >= 3, 'every button press is answered');
});

test('Edit asks for the change; the typed change revises the plan; after the clip, "redo scene 2 ..." re-renders only that scene', async (t) => {
  const sunset = { narration: 'The sun sets over the sea.', visualPrompt: 'a sunset over the sea', onScreenText: 'Sunset' };
  const { tg, planner } = await startTelegram(t, {}, { modelScript: [sunset] });
  const user = newUser('Rowan');
  const chat = user.id;

  tg.sendText(chat, user, 'a video about the sea');
  const plan = await waitForText(tg, chat, /^Plan: "a video about the sea"/);
  const edit = tg.pressButton(plan, plan.buttons[1]!.callback_data!, user);
  assert.equal((await edit.answer()).text, 'Type your changes');
  await waitForText(tg, chat, /^What should change\?/);
  tg.sendText(chat, user, 'square please');
  const revised = await tg.waitFor(() => tg.botMessages(chat).filter((m) => /^Plan: "a video about the sea"/.test(m.text ?? ''))[1], 30_000);
  assert.deepEqual(revised.buttons.map((b) => b.text), ['Approve', 'Edit', 'Cancel']);
  assert.match(revised.text!, /Look: square 1:1, no music/);
  tg.pressButton(revised, revised.buttons[0]!.callback_data!, user);
  const video = await waitForVideo(tg, chat);
  assert.match(video.caption!, /redo scene 2 with a sunset/);
  const frame = (await probeMedia(await saveClip(video.file!.bytes, t))).video!;
  assert.equal(`${frame.width}x${frame.height}`, '720x720', 'the edit made it square');

  // Refine after delivery: the changed scene is named; approving keeps the other one.
  tg.sendText(chat, user, 'redo scene 2 with a sunset');
  const refinedPlan = await waitForText(tg, chat, /Changed: scene 2\./, 30_000);
  tg.pressButton(refinedPlan, refinedPlan.buttons[0]!.callback_data!, user);
  await waitForText(tg, chat, /Keeping 1 of 2 scenes from the last video/);
  const second = await waitForVideo(tg, chat, 1);
  assert.match(second.caption!, /"a video about the sea"/);
  assert.equal(planner.requests.length, 1, 'neither the settings change nor the scene change asked the planner again');
});

test('/cancel stops a render mid-way, the Cancel button takes a waiting job out of the queue, and the queue is free again', async (t) => {
  const { tg } = await startTelegram(t, {}, { plannerSeconds: 20 });
  const bob = newUser('Bob');
  const carol = newUser('Carol');

  tg.sendCommand(bob.id, bob, 'generate', 'A long one about rivers');
  const bobStatus = await waitForText(tg, bob.id, MID_RENDER, RENDER_MS);

  await studio.queue.queue.pause();
  t.after(() => studio.queue.queue.resume());
  tg.sendCommand(carol.id, carol, 'generate', 'A waiting one');
  const carolStatus = await waitForText(tg, carol.id, /in line/, 20_000);
  const cancel = carolStatus.buttons.find((b) => b.text === 'Cancel')!;
  const press = tg.pressButton(carolStatus, cancel.callback_data!, carol);
  assert.equal((await press.answer()).text, 'Cancelling…');
  await tg.waitFor(() => /cancelled/.test(tg.botMessage(carol.id, carolStatus.messageId)!.text ?? ''), 10_000);
  const carolJobId = cancel.callback_data!.split(':')[2]!;
  assert.equal(await studio.queue.queue.getJob(carolJobId), undefined, "Carol's job left the queue");
  await studio.queue.queue.resume();

  tg.sendCommand(bob.id, bob, 'cancel');
  await waitForText(tg, bob.id, /^Cancelled "A long one about rivers"/);
  await tg.waitFor(() => /cancelled/.test(tg.botMessage(bob.id, bobStatus.messageId)!.text ?? ''), 10_000);
  assert.deepEqual(tg.botMessage(bob.id, bobStatus.messageId)!.buttons, []);

  tg.sendCommand(bob.id, bob, 'generate', 'A short one');
  const video = await waitForVideo(tg, bob.id);
  assert.match(video.caption!, /"A short one"/);
  assert.equal(tg.botMessages(bob.id).filter((m) => m.method === 'sendVideo').length, 1, 'the cancelled job posted nothing');
  assert.equal(tg.botMessages(carol.id).filter((m) => m.method === 'sendVideo').length, 0);
  assert.equal(await queueTotal(), 0, 'nothing left in the queue');
});

test('a PNG renamed .ogg, an oversized file and a 1-second clip are refused with clear messages, and nothing is stored', async (t) => {
  const { tg } = await startTelegram(t);
  const user = newUser('Dave');
  const chat = user.id;

  tg.sendDocument(chat, user, pngImage(), { caption: 'fake', file_name: 'voice.ogg', mime_type: 'audio/ogg' });
  await waitForText(tg, chat, /That file is a PNG image, not audio/);

  const getFiles = tg.calls('getFile').length;
  tg.sendVoice(chat, user, speechSample('ogg'), { caption: 'big', fileSize: 25 * 1024 * 1024 });
  await waitForText(tg, chat, /That file is 25 MB; the limit is 20 MB/);
  assert.equal(tg.calls('getFile').length, getFiles, 'the size was checked before any download');

  tg.sendVoice(chat, user, speechSample('ogg', { seconds: 1 }), { caption: 'short', duration: 1 });
  await waitForText(tg, chat, /only \d\.\d s of sound .*I need 3-30 s of speech/);

  tg.sendVoice(chat, user, speechSample('ogg'), { caption: 'not a good name!' });
  await waitForText(tg, chat, /cannot be a voice name/);

  assert.deepEqual(await studio.storage.list(`users/telegram/${user.id}/`), [], 'nothing stored');
  tg.sendCommand(chat, user, 'voice');
  await waitForText(tg, chat, /no saved voices yet/);
});

test('a user outside the allow-list is refused and no job starts', async (t) => {
  const insider = newUser('Insider');
  const outsider = newUser('Outsider');
  const groupId = -1001234567890;
  const { tg, planner } = await startTelegram(t, { TELEGRAM_ALLOWED_USER_IDS: String(insider.id), TELEGRAM_ALLOWED_CHAT_IDS: String(groupId) });
  const before = await queueTotal();

  tg.sendCommand(outsider.id, outsider, 'generate', 'Let me in');
  await waitForText(tg, outsider.id, /not on its allow-list/);
  tg.sendVoice(outsider.id, outsider, speechSample('ogg'), { caption: 'sneaky' });
  tg.sendText(outsider.id, outsider, 'a plain request');
  await tg.waitFor(() => texts(tg, outsider.id).filter((m) => /allow-list/.test(m)).length === 3);
  assert.equal(planner.requests.length, 0, 'nothing was planned');
  assert.equal(await queueTotal(), before, 'nothing was queued');
  assert.deepEqual(await studio.storage.list(`users/telegram/${outsider.id}/`), [], 'nothing stored');

  // Everyone in an allowed group may use it; the insider anywhere.
  tg.sendCommand({ id: groupId, type: 'supergroup', title: 'Studio' }, outsider, 'status');
  await waitForText(tg, groupId, /no videos in the works/);
  tg.sendCommand(insider.id, insider, 'status');
  await waitForText(tg, insider.id, /no videos in the works/);
});

test('one video at a time per user and a daily quota, each with a clear reply; a clip over the upload limit is re-encoded to fit', async (t) => {
  const limitMb = 100 / 1024;
  const { tg } = await startTelegram(t, { SPINBOT_DAILY_JOBS: '1', TELEGRAM_UPLOAD_LIMIT_MB: String(limitMb), SPINBOT_MIN_VIDEO_KBPS: '40' });
  const user = newUser('Erin');
  const chat = user.id;
  tg.sendCommand(chat, user, 'generate', 'First one');
  tg.sendCommand(chat, user, 'generate', 'Second one');
  await waitForText(tg, chat, /already have a video in the works/);

  const video = await waitForVideo(tg, chat);
  assert.ok(video.file!.bytes.length <= 100 * 1024, `${video.file!.bytes.length} bytes`);
  assert.match(video.caption!, /Re-encoded to/);
  await assertWatchableClip(await saveClip(video.file!.bytes, t), { seconds: 6, sceneStarts: [0, 3] });

  await waitForText(tg, chat, /is ready/);
  tg.sendCommand(chat, user, 'generate', 'Third one');
  await waitForText(tg, chat, /You've used today's quota of 1 video/);
  assert.equal(tg.botMessages(chat).filter((m) => m.method === 'sendVideo').length, 1);
});

test('a clip finished while the Telegram front-end was stopped is posted once, in its own status message, when it starts again', async (t) => {
  const { tg, stopBot, startBot } = await startTelegram(t);
  const user = newUser('Lee');
  tg.sendCommand(user.id, user, 'generate', 'Made while away');
  const status = await waitForText(tg, user.id, MID_RENDER, RENDER_MS);
  const jobId = status.buttons.find((b) => b.text === 'Cancel')!.callback_data!.split(':')[2]!;
  await stopBot();

  // The studio's assembler finishes the clip with no front-end running: it waits in the outbox.
  assert.equal(await waitForJobState(studio, jobId, 'made'), 'made');
  assert.equal(tg.botMessages(user.id).filter((m) => m.method === 'sendVideo').length, 0);

  await startBot();
  const video = await waitForVideo(tg, user.id);
  assert.match(video.caption!, /"Made while away"/);
  await tg.waitFor(() => /is ready/.test(tg.botMessage(user.id, status.messageId)!.text ?? '') || undefined, 10_000);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  assert.equal(tg.botMessages(user.id).filter((m) => m.method === 'sendVideo').length, 1, 'posted exactly once');
  assert.equal((await studio.jobs.get(jobId))?.state, 'done');
});
