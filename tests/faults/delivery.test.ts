// Delivery that survives restarts, through `npm start` with the Telegram front-end against the
// emulator: the whole process group SIGKILLed in the middle of a render and started again (what a
// power cut or `systemctl kill -s KILL` does). The clip is then posted exactly once (counted in the
// emulator's sendVideo calls, not read from logs), its status message is the same one, edited to
// the end; a plan waiting for approval before the kill can be approved after it; /status and Retry
// work on a clip made before the restart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BotMessage, TelegramEmulator } from '../emulators/telegram/server.ts';
import { botFixture, FAST_STALL, processesMentioning, slowNarration, startBot, waitFor, waitUntilAllGone } from './process-helpers.ts';

import { RENDER_MS } from '../channel/fixtures.ts';
/** A status line of a stage at work, e.g. "⚙️ narration 40% — ...". */
const MID_RENDER = /⚙️ (checking the job|narration|pictures|sizing|assembling) \d+%/;

const users = {
  early: { id: 610001, first_name: 'Early', username: 'early' },
  killed: { id: 610002, first_name: 'Killed', username: 'killed' },
  waiting: { id: 610003, first_name: 'Waiting', username: 'waiting' },
};

const videos = (tg: TelegramEmulator, chat: number) => tg.botMessages(chat).filter((m) => m.method === 'sendVideo');
const findText = (tg: TelegramEmulator, chat: number, pattern: RegExp) => () =>
  tg.botMessages(chat).find((m) => pattern.test(m.text ?? m.caption ?? ''));

test('the npm start group SIGKILLed mid-render and started again: the clip is posted exactly once, a waiting plan can still be approved, /status and Retry work', async (t) => {
  const fixture = await botFixture(t);
  const { tg } = fixture;
  // Plans wait for approval; the narration is slow enough that there is a middle to kill in; a
  // job held by a dead worker or assembler is taken back in seconds.
  const env = { SPINBOT_AUTO_APPROVE: 'false', ...FAST_STALL, ...slowNarration(2) };
  const first = await startBot(t, fixture, env);

  // Before the kill: one clip made and posted, one plan waiting, one render under way.
  tg.sendCommand(users.early.id, users.early, 'generate', 'seconds=6 a short clip about rain');
  const earlyVideo = await tg.waitFor(() => videos(tg, users.early.id)[0], RENDER_MS);
  tg.sendText(users.waiting.id, users.waiting, 'a video about the sea');
  const plan = await tg.waitFor(findText(tg, users.waiting.id, /^Plan: /), 60_000);
  assert.deepEqual(plan.buttons.map((b) => b.text), ['Approve', 'Edit', 'Cancel']);

  tg.sendCommand(users.killed.id, users.killed, 'generate', 'seconds=12 a clip about mountains');
  const status = await tg.waitFor(findText(tg, users.killed.id, MID_RENDER), RENDER_MS);

  // The whole group at once, and whatever a cgroup kill would also take (children in groups of their own).
  const redisPid = first.redisPid();
  process.kill(-first.npm.pid!, 'SIGKILL');
  for (const leftover of processesMentioning(fixture.dir)) process.kill(leftover.pid, 'SIGKILL');
  try {
    process.kill(redisPid, 'SIGKILL');
  } catch {
    // gone with the group
  }
  await waitUntilAllGone(fixture.dir, [redisPid], 10_000);
  assert.equal(videos(tg, users.killed.id).length, 0, 'nothing was posted before the kill');

  await startBot(t, fixture, env);

  // The render goes on and its clip is posted once, in the same status message's chat; the
  // status message itself is edited to its end.
  await tg.waitFor(() => videos(tg, users.killed.id)[0], RENDER_MS);
  await tg.waitFor(() => /is ready/.test(tg.botMessage(users.killed.id, status.messageId)!.text ?? '') || undefined, 20_000);
  assert.deepEqual(tg.botMessage(users.killed.id, status.messageId)!.buttons, [], 'no Cancel left on the finished status');

  // The plan shown before the kill is approved after it.
  const approve = tg.pressButton(plan, plan.buttons[0]!.callback_data!, users.waiting);
  assert.equal((await approve.answer()).text, 'Approve');
  const approved = await tg.waitFor(() => videos(tg, users.waiting.id)[0], RENDER_MS);
  assert.match(approved.caption!, /^Done: "/);

  // /status and Retry on the clip made before the restart.
  tg.sendCommand(users.early.id, users.early, 'status');
  const reply = await tg.waitFor(findText(tg, users.early.id, /^Last finished: |: done/), 20_000);
  assert.match(reply.text!, /done \(\d+\.\d s\)/);
  const retry = tg.pressButton(earlyVideo, earlyVideo.buttons[0]!.callback_data!, users.early);
  assert.equal((await retry.answer()).text, 'Making it again…');
  await tg.waitFor(() => videos(tg, users.early.id)[1], RENDER_MS);

  // Nothing more arrives later: every job was posted exactly once.
  await new Promise((resolve) => setTimeout(resolve, 4000));
  assert.equal(videos(tg, users.killed.id).length, 1, 'the clip rendered across the restart was posted exactly once');
  assert.equal(videos(tg, users.waiting.id).length, 1);
  assert.equal(videos(tg, users.early.id).length, 2, 'the first clip and its retry, nothing twice');
  for (const chat of Object.values(users).map((u) => u.id)) {
    const failures = tg.botMessages(chat).filter((m: BotMessage) => /could not|went wrong/i.test(m.text ?? ''));
    assert.deepEqual(failures.map((m) => m.text), [], `no failure shown in chat ${chat}`);
  }
});
