// Proves the real grammY client works against the Telegram Bot API emulator.
// Run: node --import tsx --test tests/emulators/telegram.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Bot, GrammyError, InlineKeyboard, InputFile } from 'grammy';
import { startTelegramEmulator } from './telegram/server.ts';

// an MP4-looking byte string: ftyp box + payload
const MP4 = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypisom'), Buffer.alloc(12), randomBytes(2048)]);

test('grammY: /start, voice download via getFile, status edits, video upload with buttons, callback, limits', async (t) => {
  const tg = await startTelegramEmulator();
  const bot = new Bot(tg.token, { client: { apiRoot: tg.apiRoot } });
  const botErrors: unknown[] = [];
  bot.catch((e) => botErrors.push(e.error));
  const downloads: Buffer[] = [];

  bot.command('start', (ctx) => ctx.reply('Welcome! Send me a voice note and I will make a clip.'));
  bot.on('message:voice', async (ctx) => {
    const status = await ctx.reply('Downloading your voice note…');
    const file = await ctx.getFile();
    const response = await fetch(`${tg.apiRoot}/file/bot${tg.token}/${file.file_path}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    downloads.push(bytes);
    await ctx.api.editMessageText(ctx.chat.id, status.message_id, `Rendering… (${bytes.length} bytes of audio)`, {
      reply_markup: new InlineKeyboard().text('Cancel', 'cancel:1'),
    });
    await ctx.replyWithChatAction('upload_video');
    await ctx.replyWithVideo(new InputFile(MP4, 'clip.mp4'), {
      caption: 'Your clip is ready',
      supports_streaming: true,
      reply_markup: new InlineKeyboard().text('Retry', 'retry:1').text('Variation', 'variation:1'),
    });
    await ctx.api.editMessageText(ctx.chat.id, status.message_id, 'Done ✅');
  });
  bot.on('message:document', async (ctx) => {
    try {
      await ctx.getFile();
      await ctx.reply('got it');
    } catch (e) {
      await ctx.reply(`Sorry: ${e instanceof GrammyError ? e.description : String(e)}`);
    }
  });
  bot.callbackQuery(/^retry:/, async (ctx) => {
    await ctx.answerCallbackQuery({ text: 'Retrying…' });
    await ctx.reply('Retry queued');
  });

  await bot.api.setMyCommands([
    { command: 'start', description: 'Start' },
    { command: 'generate', description: 'Make a clip' },
  ]);
  const polling = bot.start();
  t.after(async () => {
    if (bot.isRunning()) await bot.stop();
    await polling;
    await tg.stop();
  });

  assert.deepEqual(tg.myCommands().map((c) => c.command), ['start', 'generate']);

  const chat = tg.defaultUser.id;
  tg.sendCommand(chat, undefined, 'start');
  const welcome = await tg.waitFor(() => tg.botMessages(chat)[0]);
  assert.equal(welcome.text, 'Welcome! Send me a voice note and I will make a clip.');

  const voice = randomBytes(3000);
  tg.sendVoice(chat, undefined, voice, { duration: 2, mime_type: 'audio/ogg' });
  const video = await tg.waitFor(() => tg.botMessages(chat).find((m) => m.method === 'sendVideo'));
  const status = await tg.waitFor(() => tg.botMessages(chat).find((m) => m.text === 'Done ✅'));
  assert.deepEqual(botErrors, []);

  // the voice note came back byte for byte through getFile + /file/bot<token>/<path>
  assert.equal(downloads.length, 1);
  assert.ok(downloads[0]!.equals(voice));

  // the status message was edited in place; the last edit without reply_markup dropped Cancel
  assert.deepEqual(
    status.history.map((v) => [v.text, v.replyMarkup?.inline_keyboard?.[0]?.[0]?.text]),
    [
      ['Downloading your voice note…', undefined],
      [`Rendering… (${voice.length} bytes of audio)`, 'Cancel'],
      ['Done ✅', undefined],
    ],
  );
  assert.deepEqual(status.buttons, []);

  // the video arrived through multipart (attach://), with caption, streaming flag and buttons
  assert.equal(video.caption, 'Your clip is ready');
  assert.equal(video.supportsStreaming, true);
  assert.ok(video.file?.bytes.equals(MP4));
  assert.equal(video.message.video.file_name, 'clip.mp4');
  assert.equal(video.message.video.mime_type, 'video/mp4');
  assert.deepEqual(video.buttons.map((b) => [b.text, b.callback_data]), [
    ['Retry', 'retry:1'],
    ['Variation', 'variation:1'],
  ]);
  const upload = tg.calls('sendVideo')[0]!;
  assert.equal(upload.files.length, 1);
  assert.match(String(upload.params.video), /^attach:\/\//);
  assert.deepEqual(tg.chatActions(chat), ['upload_video']);

  // the user presses Retry
  const press = tg.pressButton(video, 'retry:1');
  const answer = await press.answer();
  assert.equal(answer.text, 'Retrying…');
  await tg.waitFor(() => tg.botMessages(chat).find((m) => m.text === 'Retry queued'));
  assert.throws(() => tg.pressButton(video, 'nope'), /no button/);

  // a file above the public Bot API's 20 MB getFile limit
  tg.sendDocument(chat, undefined, Buffer.from('pretend this is big'), { file_name: 'huge.mp4', fileSize: 25 * 1024 * 1024 });
  const refusal = await tg.waitFor(() => tg.botMessages(chat).find((m) => m.text?.startsWith('Sorry')));
  assert.equal(refusal.text, 'Sorry: Bad Request: file is too big');

  // long polling waits server-side instead of spinning
  assert.ok(tg.calls('getUpdates').length < 20, `getUpdates called ${tg.calls('getUpdates').length} times`);
  assert.ok(tg.calls('getUpdates').some((c) => Number(c.params.timeout) === 30));

  await bot.stop();
  await polling;
  assert.equal(tg.pendingUpdates(), 0, 'bot.stop() confirmed every update');
  assert.deepEqual(botErrors, []);
});

test('Bot API error semantics a bot must handle', async (t) => {
  const tg = await startTelegramEmulator();
  t.after(() => tg.stop());
  const bot = new Bot(tg.token, { client: { apiRoot: tg.apiRoot } });
  const chat = 4242;
  tg.sendText(chat, { id: chat, first_name: 'Bob' }, 'hi');

  const sent = await bot.api.sendMessage(chat, '<b>Status</b>: queued', { parse_mode: 'HTML' });
  assert.equal(sent.text, 'Status: queued', 'the user sees the text without markup');
  assert.deepEqual(sent.entities, [{ type: 'bold', offset: 0, length: 6 }]);

  const fail = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (e) {
      assert.ok(e instanceof GrammyError);
      return `${e.error_code} ${e.description}`;
    }
    assert.fail('expected a GrammyError');
  };
  assert.equal(
    await fail(bot.api.editMessageText(chat, sent.message_id, '<b>Status</b>: queued', { parse_mode: 'HTML' })),
    '400 Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message',
  );
  assert.match(await fail(bot.api.sendMessage(chat, 'prompt: a < b', { parse_mode: 'HTML' })), /^400 Bad Request: can't parse entities/);
  assert.match(await fail(bot.api.sendMessage(chat, 'v1.2', { parse_mode: 'MarkdownV2' })), /Character '\.' is reserved/);
  assert.equal(await fail(bot.api.sendMessage(999, 'x')), '400 Bad Request: chat not found');
  assert.equal(await fail(bot.api.sendMessage(chat, 'x'.repeat(4097))), '400 Bad Request: message is too long');
  assert.equal(await fail(bot.api.editMessageText(chat, 9999, 'x')), '400 Bad Request: message to edit not found');
  assert.equal(await fail(bot.api.getFile('nope')), '400 Bad Request: invalid file_id');

  tg.injectError({ method: 'sendMessage', error_code: 429, description: 'Too Many Requests: retry after 3', parameters: { retry_after: 3 } });
  assert.equal(await fail(bot.api.sendMessage(chat, 'x')), '429 Too Many Requests: retry after 3');

  tg.blockBot(chat);
  assert.equal(await fail(bot.api.sendMessage(chat, 'x')), '403 Forbidden: bot was blocked by the user');

  const intruder = new Bot('123:wrong', { client: { apiRoot: tg.apiRoot } });
  assert.equal(await fail(intruder.api.getMe()), '401 Unauthorized');

  // a file the bot re-sends by file_id keeps its bytes
  const doc = tg.registerFile(Buffer.from('%PDF-1.4 test'), { kind: 'document', fileName: 'a.pdf', mimeType: 'application/pdf' });
  tg.blockBot(chat, false);
  const resent = await bot.api.sendDocument(chat, doc.fileId, { caption: 'again' });
  assert.equal(resent.document?.file_id, doc.fileId);
  assert.ok(tg.botMessages(chat).at(-1)?.file?.bytes.equals(Buffer.from('%PDF-1.4 test')));
});
