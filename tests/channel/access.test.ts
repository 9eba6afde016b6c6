// Allow-lists, limits and quotas, and the small pieces every front-end shares.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkDiscordAccess, checkTelegramAccess, JobLimits, MemoryDailyCounter } from '../../bot/access.ts';
import { formatProgress, parseJobButton, PendingAsks, ThrottledStatus, type StatusContent } from '../../bot/channel.ts';
import { loadChatConfig } from '../../bot/chat-config.ts';
import { parseGenerateArgs } from '../../bot/telegram/features/generate.ts';

test('allow-lists: open when empty; otherwise a listed guild/chat or a listed user gets in', () => {
  const open = loadChatConfig({});
  checkDiscordAccess(open, { userId: '111111111111111111', guildId: null });
  checkTelegramAccess(open, { userId: '5', chatId: '5' });

  const discord = loadChatConfig({ DISCORD_ALLOWED_GUILD_IDS: '222222222222222222', DISCORD_ALLOWED_USER_IDS: '333333333333333333' });
  checkDiscordAccess(discord, { userId: '111111111111111111', guildId: '222222222222222222' });
  checkDiscordAccess(discord, { userId: '333333333333333333', guildId: null });
  assert.throws(() => checkDiscordAccess(discord, { userId: '111111111111111111', guildId: null }), { id: 'access.denied', message: /allow-list/ });
  assert.throws(() => checkDiscordAccess(discord, { userId: '111111111111111111', guildId: '999999999999999999' }), { id: 'access.denied' });

  const telegram = loadChatConfig({ TELEGRAM_ALLOWED_CHAT_IDS: '-1001', TELEGRAM_ALLOWED_USER_IDS: '7' });
  checkTelegramAccess(telegram, { userId: '8', chatId: '-1001' });
  checkTelegramAccess(telegram, { userId: '7', chatId: '7' });
  assert.throws(() => checkTelegramAccess(telegram, { userId: '8', chatId: '8' }), { id: 'access.denied' });
  assert.throws(() => loadChatConfig({ DISCORD_ALLOWED_USER_IDS: 'alice' }), /DISCORD_ALLOWED_USER_IDS/);
});

test('the daily quota refuses the job after the limit, says when it resets, and starts again the next day', async () => {
  let now = new Date('2025-03-01T22:30:00Z');
  const limits = new JobLimits({ maxRunning: 1, daily: 2, counter: new MemoryDailyCounter(), now: () => now });
  const owner = { platform: 'discord' as const, userId: '1' };
  await limits.consumeDaily(owner);
  await limits.consumeDaily(owner);
  await assert.rejects(limits.consumeDaily(owner), { id: 'limit.daily', message: /quota of 2 videos\. It resets at midnight UTC \(in about 2 h\)/ });
  await assert.rejects(limits.consumeDaily(owner), { id: 'limit.daily' }, 'a refusal does not use up anything');
  await limits.consumeDaily({ platform: 'telegram', userId: '1' });
  now = new Date('2025-03-02T00:05:00Z');
  await limits.consumeDaily(owner);

  assert.throws(() => limits.checkRunning(1), { id: 'limit.running', message: /already have a video in the works/ });
  limits.checkRunning(0);
  const unlimited = new JobLimits({ maxRunning: 0, daily: 0, counter: new MemoryDailyCounter() });
  unlimited.checkRunning(100);
  await unlimited.consumeDaily(owner);
});

test('a status message shows the latest view, drops views in between, and always shows the final text', async () => {
  const applied: Array<{ content: StatusContent; first: boolean }> = [];
  const status = new ThrottledStatus(60_000, async (content, first) => void applied.push({ content, first }));
  await status.update({ text: 'queued', buttons: [{ id: 'job:cancel:abcdef', label: 'Cancel' }] });
  await status.update({ text: '10%', buttons: [] });
  await status.update({ text: '50%', buttons: [] });
  await status.finish({ text: 'done', buttons: [] });
  await status.update({ text: 'late', buttons: [] });
  assert.deepEqual(applied.map((a) => [a.content.text, a.first]), [['queued', true], ['done', false]]);
});

test('texts and ids the front-ends share', () => {
  const text = formatProgress({ title: 'Sky', stage: 'tts', percent: 50, overall: 20, message: 'Scene 1/2', etaSeconds: 75 });
  assert.match(text, /"Sky"/);
  assert.match(text, /narration 50% — Scene 1\/2/);
  assert.match(text, /20% · about 1 min 15 s left/);
  assert.match(formatProgress({ title: 'Sky', overall: 0, message: 'Queued', queuePosition: 3 }), /number 3 in line/);

  assert.deepEqual(parseJobButton('job:variation:20250101-abcdef0123'), { action: 'variation', jobId: '20250101-abcdef0123' });
  assert.equal(parseJobButton('job:explode:20250101-abcdef0123'), null);

  const asks = new PendingAsks();
  const { buttons, answer } = asks.open('u1', [{ id: 'approve', label: 'Approve' }]);
  assert.equal(asks.answer(buttons[0]!.id, 'u2').outcome, 'notYours');
  assert.equal(asks.answer(buttons[0]!.id, 'u1').outcome, 'answered');
  assert.equal(asks.answer(buttons[0]!.id, 'u1').outcome, 'expired');
  return answer.then((choice) => assert.equal(choice, 'approve'));
});

test('Telegram /generate arguments', () => {
  assert.deepEqual(parseGenerateArgs('voice=anna seconds=20 why the sky is blue'), { prompt: 'why the sky is blue', voice: 'anna', seconds: 20 });
  assert.deepEqual(parseGenerateArgs('  a cat  '), { prompt: 'a cat', voice: undefined, seconds: undefined });
  assert.throws(() => parseGenerateArgs('seconds=lots a cat'), { id: 'seconds.outOfRange' });
});
