// /generate presenter and motion options through the real discord.js client against the Discord
// emulator, the real queue and the worker's face check.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDiscordBot } from './setup.ts';
import { presenterKeyFor } from '../../gpu-bridge/presenter.ts';
import type { InteractionHandle } from '../emulators/discord/server.ts';
import { pngImage, sharedStudio, type TestContextLike } from '../channel/fixtures.ts';

const studio = await sharedStudio();

const startDiscord = (t: TestContextLike) => startDiscordBot(studio, t, { SPINBOT_AUTO_APPROVE: 'false' });

const anyMessage = (handle: InteractionHandle, pattern: RegExp) =>
  handle.waitFor((h) => [...h.messages(), ...h.followUps()].find((m) => !m.deleted && pattern.test(m.content)), 60_000);

test('/generate presenter:me with a picture without a face is refused with nothing stored; presenter:character and motion show in the plan', async (t) => {
  const { emu, planner } = await startDiscord(t);
  const user = { id: '4000000000000901', username: 'ada', global_name: 'Ada' };
  const image = emu.registerAttachment({ bytes: pngImage(), filename: 'me.png', contentType: 'image/png', width: 64, height: 64 });
  const refused = await emu.dispatchInteraction({ commandName: 'generate', options: { prompt: 'a video about tea', presenter: 'me', image }, user });
  await anyMessage(refused, /I could not find a face in that photo; send a clear, front-facing portrait/);
  assert.equal(await studio.storage.stat(presenterKeyFor({ platform: 'discord', userId: user.id })), null, 'no presenter stored');
  assert.deepEqual(await studio.storage.list(`uploads/discord/${user.id}/`), []);
  assert.equal(planner.requests.length, 0, 'nothing planned');

  const character = await emu.dispatchInteraction({ commandName: 'generate', options: { prompt: 'a video about tea', presenter: 'character', motion: true }, user });
  const plan = await anyMessage(character, /^Plan: /);
  assert.match(plan.content, /Presenter: the built-in character in scenes 1, 2/);
  // No GPU worker here: the plan marks no moving scene and says why (bot/doctor.ts renderablePlan).
  assert.match(plan.content, /Motion is off: no GPU worker with ComfyUI is running, so every scene stays a still picture with a slow pan\./);
  assert.doesNotMatch(plan.content, /Motion: scenes/);
  assert.equal(planner.requests.at(-1)?.presenter, 'character');
});
