// The bad-input corpus through the real Telegram client path: grammY against the Bot API emulator,
// a real studio (private Redis, BullMQ, the Python worker, files under a temp data dir), and the
// fake planner with the real validation rules. Each input, from a user of its own, gets one clear
// sentence; afterwards no job was queued, no file stored, no clip sent, and the bot still answers.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startTelegramFrontEnd } from '../../bot/telegram/front-end.ts';
import { startTelegramEmulator, type TelegramEmulator } from '../emulators/telegram/server.ts';
import { fakePlanner } from '../channel/fixtures.ts';
import { CORPUS, type BadInput } from './corpus.ts';

const RANGE = /\b5 to 180\b/;
import { openInputStudio, snapshot } from './studio.ts';

const { studio, dataDir } = await openInputStudio(after);

let nextUser = 7000;
function newUser() {
  nextUser += 1;
  return { id: 660000 + nextUser, first_name: `Tester${nextUser}`, username: `tester${nextUser}` };
}

let nextMessageId = 900_000;

async function send(tg: TelegramEmulator, user: ReturnType<typeof newUser>, input: BadInput): Promise<void> {
  const { sent } = input;
  if ('message' in sent) {
    // The emulator has no helper for these kinds: the chat is opened with /start, then the raw update comes.
    tg.sendCommand(user.id, user, 'start');
    await tg.waitFor(() => tg.botMessages(user.id).length > 0, 30_000);
    nextMessageId += 1;
    const chat = { id: user.id, type: 'private', first_name: user.first_name, username: user.username };
    tg.pushUpdate({ message: { message_id: nextMessageId, date: Math.floor(Date.now() / 1000), chat, from: { ...user, is_bot: false }, ...sent.message } });
  } else if ('text' in sent) tg.sendText(user.id, user, sent.text);
  else if ('command' in sent) tg.sendCommand(user.id, user, sent.command, sent.args || undefined);
  else {
    const bytes = sent.bytes();
    const common = { caption: sent.caption, fileSize: sent.fileSize };
    if (sent.file === 'photo') tg.sendPhoto(user.id, user, bytes, { ...common, width: 90, height: 90 });
    else if (sent.file === 'voice') tg.sendVoice(user.id, user, bytes, { ...common, duration: 7, mime_type: 'audio/ogg' });
    else if (sent.file === 'audio') tg.sendAudio(user.id, user, bytes, { ...common, duration: 7, file_name: sent.fileName, mime_type: sent.mimeType ?? 'audio/mpeg' });
    else tg.sendDocument(user.id, user, bytes, { ...common, file_name: sent.fileName, mime_type: sent.mimeType });
  }
}

/** Every text the bot has shown in this chat, edits included. */
const shown = (tg: TelegramEmulator, chat: number) => tg.botMessages(chat).flatMap((m) => [m.text ?? m.caption ?? '', ...m.history.map((v) => v.text ?? v.caption ?? '')]);

test(`the bad-input corpus (${CORPUS.length} inputs) through grammY: a sentence each, no job, no file, and the bot still answers`, async (t) => {
  assert.ok(CORPUS.length >= 40, `the corpus has ${CORPUS.length} inputs`);
  const tg = await startTelegramEmulator();
  // The bot's log, shown when an input gets the wrong answer.
  const log: string[] = [];
  const planner = fakePlanner();
  const bot = await startTelegramFrontEnd({
    studio,
    planner,
    config: { TELEGRAM_BOT_TOKEN: tg.token, TELEGRAM_API_ROOT: tg.apiRoot, SPINBOT_PROGRESS_EDIT_MS: '150', SPINBOT_DAILY_JOBS: '500' },
    log: (line) => log.push(line),
  });
  t.after(async () => {
    await bot.stop();
    await tg.stop();
  });
  const before = await snapshot(studio, dataDir);

  const users = new Map<BadInput, ReturnType<typeof newUser>>();
  // A few at a time, as users would: each in a chat of its own, so every answer is attributable.
  for (let i = 0; i < CORPUS.length; i += 6) {
    const batch = CORPUS.slice(i, i + 6);
    for (const input of batch) {
      const user = newUser();
      users.set(input, user);
      await send(tg, user, input);
    }
    await Promise.all(
      batch.map(async (input) => {
        const chat = users.get(input)!.id;
        await tg.waitFor(() => shown(tg, chat).some((text) => input.reply.test(text)), 60_000).catch(() => {
          assert.fail(`${input.name}: expected ${input.reply}, the bot showed ${JSON.stringify(shown(tg, chat))}; its log:\n${log.join('\n')}`);
        });
      }),
    );
  }

  // The bot still answers, and only now (every input handled) are the queue and the data dir read.
  const probe = newUser();
  tg.sendCommand(probe.id, probe, 'help');
  await tg.waitFor(() => shown(tg, probe.id).some((text) => /^I turn a description/.test(text)), 30_000);
  for (const input of CORPUS) {
    const chat = users.get(input)!.id;
    const messages = tg.botMessages(chat);
    assert.equal(messages.filter((m) => m.method === 'sendVideo').length, 0, `${input.name}: a clip was sent`);
    const final = messages.map((m) => m.text ?? m.caption ?? '').filter(Boolean);
    assert.ok(final.some((text) => input.reply.test(text)), `${input.name}: the sentence was replaced by ${JSON.stringify(final)}`);
    assert.ok(!final.some((text) => /Something went wrong on our side/.test(text)), `${input.name}: a generic failure instead of a reason`);
  }
  assert.deepEqual(await snapshot(studio, dataDir), before, 'a job was queued or a file stored');
  assert.equal(planner.requests.length, 0, 'nothing reached the planner');
});

test('bad changes to a plan on screen (typed, or after Edit) are refused in a sentence; the plan keeps waiting and nothing is queued', async (t) => {
  const tg = await startTelegramEmulator();
  const planner = fakePlanner();
  const bot = await startTelegramFrontEnd({
    studio,
    planner,
    config: { TELEGRAM_BOT_TOKEN: tg.token, TELEGRAM_API_ROOT: tg.apiRoot, SPINBOT_PROGRESS_EDIT_MS: '150', SPINBOT_DAILY_JOBS: '500' },
    log: () => {},
  });
  t.after(async () => {
    await bot.stop();
    await tg.stop();
  });
  const before = await snapshot(studio, dataDir);
  const user = newUser();
  const chat = user.id;
  const texts = () => tg.botMessages(chat).map((m) => m.text ?? '');
  /** Sends `text` and waits for a new message that matches. */
  const answer = async (text: string, pattern: RegExp) => {
    const seen = tg.botMessages(chat).length;
    tg.sendText(chat, user, text);
    await tg.waitFor(() => texts().slice(seen).some((t) => pattern.test(t)), 30_000).catch(() => assert.fail(`${JSON.stringify(text)}: expected ${pattern}, got ${JSON.stringify(texts().slice(seen))}`));
  };

  await answer('a video about tea', /^Plan: "a video about tea"/);
  for (const change of ['make it -5 seconds', 'make it 5 hours long', 'make it 1e9 seconds', 'make it seconds=-5', 'make it 0 seconds']) await answer(change, RANGE);
  await answer('\u200B\u202E\u2060', /what the video should be about/);

  // After Edit, the typed change is read by the same rules.
  const plan = tg.botMessages(chat).find((m) => /^Plan:/.test(m.text ?? ''))!;
  tg.pressButton(plan, plan.buttons[1]!.callback_data!, user);
  await tg.waitFor(() => texts().some((t) => /^What should change\?/.test(t)), 30_000);
  await answer('\u200B\u200B', /what the video should be about/);
  const edit = tg.botMessages(chat).filter((m) => /^Plan:/.test(m.text ?? '')).at(-1)!;
  tg.pressButton(edit, edit.buttons[1]!.callback_data!, user);
  await tg.waitFor(() => texts().filter((t) => /^What should change\?/.test(t)).length === 2, 30_000);
  await answer('make it minus 10 seconds', RANGE);

  // The plan is still there to answer: "no" drops it.
  await answer('no', /^Dropped that plan/);
  assert.equal(planner.requests.length, 1, 'no bad change reached the planner');
  assert.deepEqual(await snapshot(studio, dataDir), before, 'a job was queued or a file stored');
});
