// The Discord front-end through the real discord.js client, against the local Discord emulator,
// with a real studio (redis, the Python worker on CPU backends, ffmpeg). The planner is a fake
// that returns a hand-written plan. Every check is something a Discord user would notice.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { commandDefinitions, deployCommands } from '../../bot/discord/deploy-commands.ts';
import { probeMedia } from '../../media/probe.ts';
import { keys } from '../../storage/keys.ts';
import { assertWatchableClip } from '../e2e/helpers.ts';
import type { DiscordEmulator, InteractionHandle, OptionValue, StoredMessage } from '../emulators/discord/server.ts';
import { MID_RENDER, pngImage, RENDER_MS, saveClip, sharedStudio, speechSample, waitForJobState, type TestContextLike } from '../channel/fixtures.ts';
import { startDiscordBot, type DiscordSetupOptions } from './setup.ts';

const studio = await sharedStudio();

let nextUser = 100;
function newUser(name: string) {
  nextUser += 1;
  return { id: `4000000000000${nextUser}`, username: name, global_name: name };
}

const startDiscord = (t: TestContextLike, env: Record<string, string> = {}, options: DiscordSetupOptions = {}) => startDiscordBot(studio, t, env, options);

const mp4Of = (message: StoredMessage | undefined) => message?.files.find((f) => f.filename.endsWith('.mp4'));
const buttonLabels = (message: StoredMessage | undefined) =>
  (message?.components ?? []).flatMap((row) => (row.components as Array<{ label: string }>).map((c) => c.label));

/** The follow-up that carries the finished clip. */
function waitForClip(handle: InteractionHandle): Promise<StoredMessage> {
  return handle.waitFor((h) => h.followUps().find((m) => mp4Of(m)), RENDER_MS);
}

/** The private reply of a command that answers once (ack, then the reply or the error). */
function waitForAnswer(handle: InteractionHandle): Promise<StoredMessage> {
  return handle.waitFor((h) => h.messages().find((m) => !m.deleted && !m.loading && m.content), 30_000);
}

async function queueCounts() {
  return studio.queue.queue.getJobCounts('waiting', 'active', 'prioritized', 'delayed');
}

test('without auto-approve, /generate shows the plan with Approve / Edit / Cancel; Edit opens a form, the change revises the plan, Approve renders it', async (t) => {
  const { emu, planner } = await startDiscord(t, { SPINBOT_AUTO_APPROVE: 'false' });
  const user = newUser('Quinn');
  const generate = await emu.dispatchInteraction({ commandName: 'generate', options: { prompt: 'Why the sky is blue', seconds: 6 }, user });
  assert.equal((await generate.ack()).typeName, 'DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE', 'acknowledged at once');
  const plan = await generate.waitFor((h) => (h.original()?.content.startsWith('Plan:') ? h.original() : undefined), 30_000);
  assert.match(plan.content, /Plan: "Why the sky is blue" — 2 scenes, 6 s/);
  assert.deepEqual(buttonLabels(plan), ['Approve', 'Edit', 'Cancel']);
  assert.match(plan.content, /Queue: (free, it would start at once|\d+ videos? ahead of it)\./);
  assert.equal(Object.values(await queueCounts()).reduce((a, b) => a + b, 0), 0, 'nothing is rendered before approval');
  const [approveId, editId] = plan.components[0]!.components.map((c: { custom_id: string }) => c.custom_id) as string[];

  // Someone else cannot approve it.
  const meddler = await emu.dispatchInteraction({ type: 3, customId: approveId!, messageId: plan.id, user: newUser('Other') });
  assert.match((await waitForAnswer(meddler)).content, /This plan is for someone else/);

  // Edit: a form asks for the change; submitting it shows the revised plan.
  const edit = await emu.dispatchInteraction({ type: 3, customId: editId!, messageId: plan.id, user });
  assert.equal((await edit.ack()).typeName, 'MODAL');
  assert.equal(edit.modal()?.title, 'Change the plan');
  const submit = await emu.dispatchInteraction({ type: 5, customId: editId!, fields: { change: 'make it vertical with music' }, user });
  const revised = await submit.waitFor((h) => h.messages().find((m) => m.content.startsWith('Plan:')), 30_000);
  assert.deepEqual(buttonLabels(revised), ['Approve', 'Edit', 'Cancel']);
  assert.match(plan.content, /Look: landscape 16:9, no music/);
  assert.match(revised.content, /Look: vertical 9:16, with music/, 'the change is visible in the plan');
  assert.equal(planner.requests.length, 1, 'a settings change needs no new plan from the model');

  // The old plan's Approve is stale now; the new one renders the vertical clip.
  const stale = await emu.dispatchInteraction({ type: 3, customId: approveId!, messageId: plan.id, user });
  const staleReply = await waitForAnswer(stale);
  assert.match(staleReply.content, /no longer waiting/);
  assert.equal(staleReply.ephemeral, true);
  const newApprove = revised.components[0]!.components[0]!.custom_id as string;
  const approve = await emu.dispatchInteraction({ type: 3, customId: newApprove, messageId: revised.id, user });
  assert.equal((await approve.ack()).typeName, 'UPDATE_MESSAGE');
  const clip = await waitForClip(approve);
  assert.match(emu.message(revised.id)!.content, /→ Approved$/, 'the plan shows the choice and loses its buttons');
  assert.deepEqual(emu.message(revised.id)!.components, []);
  const file = await saveClip(mp4Of(clip)!.bytes, t);
  const video = (await probeMedia(file)).video!;
  assert.equal(`${video.width}x${video.height}`, '720x1280');
  assert.match(clip.content, /\/chat redo scene 2 with a sunset/, 'the hint for changing one scene');

  // Refine after delivery through /chat: the revised plan names the changed scene.
  const refine = await emu.dispatchInteraction({ commandName: 'chat', options: { message: 'make it shorter' }, user });
  const shorter = await refine.waitFor((h) => h.messages().find((m) => m.content.startsWith('Plan:')), 30_000);
  // The delivered clip was 6 s; "shorter" asks the planner for less and the plan shown says so.
  assert.match(shorter.content, /Plan: "Why the sky is blue" — 2 scenes, 5 s/, 'the plan got shorter');
  assert.equal(planner.requests.at(-1)?.seconds, 5, 'the planner was asked for a shorter video');
  assert.deepEqual(buttonLabels(shorter), ['Approve', 'Edit', 'Cancel']);
});

test('the deploy script registers the commands; starting the bot registers nothing', async (t) => {
  const { emu } = await startDiscord(t, {}, { deploy: false });
  assert.deepEqual(emu.commands(), [], 'the bot does not register commands at boot');
  assert.equal(emu.requests().filter((r) => r.method === 'PUT' && r.path.includes('/commands')).length, 0);

  const names = await deployCommands({ token: emu.botToken, applicationId: emu.applicationId, apiUrl: emu.restBase });
  assert.deepEqual(names, ['generate', 'chat', 'voice', 'status', 'cancel', 'help', 'train', 'styles']);
  const generate = emu.commands().find((c) => c.name === 'generate')!;
  assert.deepEqual(
    generate.options.map((o: { name: string; type: number; required?: boolean; autocomplete?: boolean }) => [o.name, o.type, Boolean(o.required), Boolean(o.autocomplete)]),
    [
      ['prompt', 3, true, false],
      ['seconds', 4, false, false],
      ['voice', 3, false, true],
      ['style', 3, false, false],
      ['image', 11, false, false],
      ['voice_sample', 11, false, false],
      ['presenter', 3, false, false],
      ['motion', 5, false, false],
      ['auto_approve', 5, false, false],
    ],
  );
  const voice = emu.commands().find((c) => c.name === 'voice')!;
  assert.deepEqual(voice.options.map((o: { name: string }) => o.name), ['add', 'list', 'remove']);
  const train = emu.commands().find((c) => c.name === 'train')!;
  assert.deepEqual(train.options.map((o: { name: string; options: Array<{ name: string }> }) => [o.name, o.options.length]), [['style', 12]]);
  assert.equal(commandDefinitions().length, 8);

  // Guild registration (instant) instead of global.
  await deployCommands({ token: emu.botToken, applicationId: emu.applicationId, apiUrl: emu.restBase, guildId: emu.guildId });
  assert.equal(emu.commands(emu.guildId).length, 8);

  const help = await emu.dispatchInteraction({ commandName: 'help' });
  const answer = await waitForAnswer(help);
  assert.ok(answer.ephemeral);
  assert.match(answer.content, /\/generate/);
  assert.match(answer.content, /narration uses the Piper voice .*pictures are illustrated scenes/);
  assert.doesNotMatch(answer.content, /title card/i);
});

test('a user saves a voice sample, sees it listed and offered, and /generate with it posts a 1280x720 MP4 with audio', async (t) => {
  const { emu } = await startDiscord(t);
  const user = newUser('anna');

  const sample = emu.registerAttachment({ bytes: speechSample('ogg'), filename: 'my voice.ogg', contentType: 'audio/ogg' });
  const add = await emu.dispatchInteraction({ commandName: 'voice', subcommand: 'add', options: { sample, name: 'Anna' }, user });
  const saved = await waitForAnswer(add);
  assert.ok(saved.ephemeral, 'voice answers are private');
  assert.match(saved.content, /Saved your voice 'anna' \(\d+\.\d s of speech\)/);
  assert.match(saved.content, /I heard: "[^"]*\w[^"]*"/, 'the worker transcribed the sample');
  const stored = path.join(tmpdir(), `voice-${user.id}.wav`);
  t.after(() => rm(stored, { force: true }));
  await studio.storage.getToFile(keys.userVoice('discord', user.id, 'anna'), stored);
  const voiceInfo = await probeMedia(stored);
  assert.equal(voiceInfo.audio?.sampleRate, 24000);
  assert.equal(voiceInfo.audio?.channels, 1);
  assert.ok(voiceInfo.durationSeconds >= 3 && voiceInfo.durationSeconds <= 30);
  assert.ok(voiceInfo.durationSeconds < 7.4, 'the silence around the speech was trimmed');

  const list = await emu.dispatchInteraction({ commandName: 'voice', subcommand: 'list', user });
  assert.match((await waitForAnswer(list)).content, /• anna/);

  const typing = await emu.dispatchInteraction({ type: 4, commandName: 'generate', options: { prompt: 'x', voice: 'an' }, focused: 'voice', user });
  await typing.ack();
  assert.deepEqual(typing.autocompleteChoices(), [{ name: 'anna', value: 'anna' }]);

  const generate = await emu.dispatchInteraction({ commandName: 'generate', options: { prompt: 'Why the sky is blue', voice: 'anna' }, user });
  const ack = await generate.ack();
  assert.equal(ack.typeName, 'DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE');
  assert.equal(ack.ephemeral, false, 'the video is made in public');

  const result = await waitForClip(generate);
  const status = generate.original()!;
  const progress = status.versions.map((v) => v.content).filter((c) => /\d+%/.test(c));
  assert.ok(new Set(progress).size >= 2, `at least two progress updates, got: ${JSON.stringify(progress)}`);
  assert.ok(status.versions.some((v) => buttonLabels({ components: v.components } as StoredMessage).includes('Cancel')), 'Cancel while running');
  await generate.waitFor((h) => /is ready/.test(h.original()!.content) || undefined, 10_000);
  assert.deepEqual(status.components, [], 'no buttons on the finished status');

  const uploads = generate.uploads().filter((f) => f.filename.endsWith('.mp4'));
  assert.equal(uploads.length, 1, 'exactly one clip posted');
  const file = await saveClip(mp4Of(result)!.bytes, t);
  await assertWatchableClip(file, { seconds: 6, sceneStarts: [0, 3] });
  assert.match(result.content, /Voice: [^—\n]+ \(CPU\) — your voice 'anna' needs a GPU worker for cloning/);
  assert.deepEqual(buttonLabels(result), ['Retry', 'Variation']);
  assert.equal(result.ephemeral, false);

  // Variation: a new render of the same plan, answered in a reply to the button press.
  const variation = await emu.dispatchInteraction({ type: 3, customId: result.components[0]!.components[1]!.custom_id, messageId: result.id, user });
  assert.equal((await variation.ack()).typeName, 'DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE');
  const second = await waitForClip(variation);
  assert.match(second.content, /"Why the sky is blue"/);
  assert.notEqual(mp4Of(second)!.bytes.length, 0);

  // The user deletes the voice; it is gone from storage and from the list.
  const remove = await emu.dispatchInteraction({ commandName: 'voice', subcommand: 'remove', options: { name: 'anna' }, user });
  assert.match((await waitForAnswer(remove)).content, /^Deleted your voice 'anna'/);
  assert.equal(await studio.storage.stat(keys.userVoice('discord', user.id, 'anna')), null);
  const after = await emu.dispatchInteraction({ commandName: 'voice', subcommand: 'list', user });
  assert.match((await waitForAnswer(after)).content, /no saved voices yet/);
});

test('/generate with a voice-sample attachment and a reference image saves both and renders with them', async (t) => {
  const { emu } = await startDiscord(t);
  const user = newUser('hana');
  const sample = emu.registerAttachment({ bytes: speechSample('mp3'), filename: 'me.mp3', contentType: 'audio/mpeg' });
  const image = emu.registerAttachment({ bytes: pngImage(), filename: 'face.png', contentType: 'image/png', width: 64, height: 64 });
  const handle = await emu.dispatchInteraction({
    commandName: 'generate',
    options: { prompt: 'A tour of my garden', voice: 'hana', style: 'watercolour', image, voice_sample: sample },
    user,
  });
  const result = await waitForClip(handle);
  assert.match(result.content, /your voice 'hana' needs a GPU worker for cloning/);
  // The CPU pictures frame the reference photo, so no "not used" caveat is shown (only GPU workflows add one).
  assert.doesNotMatch(result.content, /does not use it/);
  assert.ok(await studio.storage.stat(keys.userVoice('discord', user.id, 'hana')), 'the sample was saved as a voice');
  assert.deepEqual((await studio.storage.list(`users/discord/${user.id}/images/`)).map((o) => o.key), [`users/discord/${user.id}/images/reference.png`]);
  const list = await emu.dispatchInteraction({ commandName: 'voice', subcommand: 'list', user });
  assert.match((await waitForAnswer(list)).content, /• hana/);

  // A voice that was never saved: a private, specific refusal listing the ones there are.
  const missing = await emu.dispatchInteraction({ commandName: 'generate', options: { prompt: 'Again', voice: 'zed' }, user });
  const refusal = await missing.waitFor((h) => h.messages().find((m) => !m.deleted && /no saved voice/.test(m.content)), 10_000);
  assert.equal(refusal.ephemeral, true);
  assert.match(refusal.content, /no saved voice called "zed"\. Your voices: hana\./);
});

test('/cancel stops a render mid-way, the Cancel button takes a waiting job out of the queue, and the queue is free again', async (t) => {
  const { emu } = await startDiscord(t, {}, { plannerSeconds: 20 });
  const bob = newUser('bob');
  const carol = newUser('carol');

  const bobJob = await emu.dispatchInteraction({ commandName: 'generate', options: { prompt: 'A long one about rivers' }, user: bob });
  // Mid-render: the status shows a stage at work.
  await bobJob.waitFor((h) => MID_RENDER.test(h.original()?.content ?? '') || undefined, RENDER_MS);

  // Carol's job waits in line: the worker is kept busy by pausing the queue (real BullMQ pause).
  await studio.queue.queue.pause();
  t.after(() => studio.queue.queue.resume());
  const carolJob = await emu.dispatchInteraction({ commandName: 'generate', options: { prompt: 'A waiting one' }, user: carol });
  const carolStatus = await carolJob.waitFor((h) => (/in line/.test(h.original()?.content ?? '') ? h.original() : undefined), 20_000);
  const cancelButton = carolStatus.components[0]!.components.find((c: { label: string }) => c.label === 'Cancel')!;
  // Someone else cannot cancel it.
  const meddler = await emu.dispatchInteraction({ type: 3, customId: cancelButton.custom_id, messageId: carolStatus.id, user: bob });
  assert.equal((await meddler.ack()).ephemeral, true);
  assert.match((await waitForAnswer(meddler)).content, /Only the person who started/);
  const press = await emu.dispatchInteraction({ type: 3, customId: cancelButton.custom_id, messageId: carolStatus.id, user: carol });
  await press.ack();
  await carolJob.waitFor((h) => /cancelled/.test(h.original()?.content ?? '') || undefined, 10_000);
  const carolJobId = /job:cancel:(\S+)/.exec(cancelButton.custom_id)![1]!;
  assert.equal(await studio.queue.queue.getJob(carolJobId), undefined, "Carol's job left the queue");
  await studio.queue.queue.resume();

  const cancel = await emu.dispatchInteraction({ commandName: 'cancel', user: bob });
  assert.equal((await cancel.ack()).ephemeral, true);
  assert.match((await waitForAnswer(cancel)).content, /Cancelled "A long one about rivers"/);
  await bobJob.waitFor((h) => /cancelled/.test(h.original()?.content ?? '') || undefined, 10_000);
  assert.deepEqual(bobJob.original()!.components, [], 'no Cancel button on a cancelled job');

  // The queue is free: Bob's next video is made, and the cancelled ones never posted a clip.
  const again = await emu.dispatchInteraction({ commandName: 'generate', options: { prompt: 'A short one' }, user: bob });
  await waitForClip(again);
  assert.equal(bobJob.uploads().length, 0);
  assert.equal(carolJob.uploads().length, 0);
  const counts = await queueCounts();
  assert.equal(Object.values(counts).reduce((a, b) => a + b, 0), 0, `nothing left in the queue: ${JSON.stringify(counts)}`);
});

test('a PNG renamed .ogg, an oversized file and a 1-second clip are refused with clear private messages, and nothing is stored', async (t) => {
  const { emu } = await startDiscord(t, { SPINBOT_MAX_UPLOAD_MB: '5' });
  const user = newUser('dave');
  const voiceAdd = async (attachment: ReturnType<DiscordEmulator['registerAttachment']>, name: string) => {
    const handle = await emu.dispatchInteraction({ commandName: 'voice', subcommand: 'add', options: { sample: attachment, name }, user });
    const answer = await waitForAnswer(handle);
    assert.ok(answer.ephemeral, 'errors are private');
    return answer.content;
  };

  const disguised = emu.registerAttachment({ bytes: pngImage(), filename: 'voice.ogg', contentType: 'audio/ogg' });
  assert.match(await voiceAdd(disguised, 'fake'), /That file is a PNG image, not audio/);

  const small = emu.registerAttachment({ bytes: speechSample('ogg'), filename: 'big.ogg', contentType: 'audio/ogg' });
  const oversized = { ...small, size: 25 * 1024 * 1024 };
  assert.match(await voiceAdd(oversized, 'big'), /That file is 25 MB; the limit is 5\.0 MB/);

  const short = emu.registerAttachment({ bytes: speechSample('ogg', { seconds: 1 }), filename: 'short.ogg', contentType: 'audio/ogg' });
  assert.match(await voiceAdd(short, 'short'), /only \d\.\d s of sound .*I need 3-30 s of speech/);

  const offHost = { ...small, url: 'https://example.com/evil.ogg', proxy_url: 'https://example.com/evil.ogg' };
  assert.match(await voiceAdd(offHost, 'evil'), /only download attachments from the platform's own file host/);

  assert.match(await voiceAdd(small, 'no good!'), /cannot be a voice name/);

  assert.deepEqual(await studio.storage.list(`users/discord/${user.id}/`), [], 'nothing stored');
  const list = await emu.dispatchInteraction({ commandName: 'voice', subcommand: 'list', user });
  assert.match((await waitForAnswer(list)).content, /no saved voices yet/);
});

test('a user outside the allow-list is refused privately and no job starts', async (t) => {
  const insider = newUser('insider');
  const outsider = newUser('outsider');
  const { emu, planner } = await startDiscord(t, { DISCORD_ALLOWED_USER_IDS: insider.id });
  const before = await queueCounts();

  const refused = await emu.dispatchInteraction({ commandName: 'generate', options: { prompt: 'Let me in' }, user: outsider });
  const ack = await refused.ack();
  assert.equal(ack.typeName, 'CHANNEL_MESSAGE_WITH_SOURCE');
  assert.equal(ack.ephemeral, true);
  assert.match(refused.original()!.content, /not on its allow-list/);
  const voice = await emu.dispatchInteraction({ commandName: 'voice', subcommand: 'list', user: outsider });
  assert.match((await waitForAnswer(voice)).content, /not on its allow-list/);
  assert.equal(planner.requests.length, 0, 'nothing was planned');
  assert.deepEqual(await queueCounts(), before, 'nothing was queued');

  // In a guild that is allowed, everyone there may use it.
  const { emu: emu2 } = await startDiscord(t, { DISCORD_ALLOWED_GUILD_IDS: '123456789012345678' });
  const elsewhere = await emu2.dispatchInteraction({ commandName: 'status', user: outsider });
  assert.match((await waitForAnswer(elsewhere)).content, /not on its allow-list/);

  const allowed = await emu.dispatchInteraction({ commandName: 'status', user: insider });
  assert.match((await waitForAnswer(allowed)).content, /no videos in the works/);
});

test('one video at a time per user, and a daily quota, each with a clear reply', async (t) => {
  const { emu } = await startDiscord(t, { SPINBOT_DAILY_JOBS: '1' });
  const user = newUser('erin');
  const first = await emu.dispatchInteraction({ commandName: 'generate', options: { prompt: 'First one' }, user });
  await first.ack();
  const second = await emu.dispatchInteraction({ commandName: 'generate', options: { prompt: 'Second one' }, user });
  assert.equal((await second.ack()).ephemeral, true);
  assert.match(second.original()!.content, /already have a video in the works/);

  await waitForClip(first);
  await first.waitFor((h) => /is ready/.test(h.original()!.content) || undefined, 10_000);
  const third = await emu.dispatchInteraction({ commandName: 'generate', options: { prompt: 'Third one' }, user });
  const refusal = await third.waitFor((h) => h.messages().find((m) => !m.deleted && /quota/.test(m.content)), 10_000);
  assert.equal(refusal.ephemeral, true);
  assert.match(refusal.content, /You've used today's quota of 1 video/);
  assert.equal(third.uploads().length, 0);
});

test('a clip over the upload limit is re-encoded to fit; when that would look too poor, a link is posted', async (t) => {
  const limit = 100 * 1024;
  const { emu } = await startDiscord(t, { DISCORD_UPLOAD_LIMIT_MB: String(limit / (1024 * 1024)), SPINBOT_MIN_VIDEO_KBPS: '40' }, { uploadLimitBytes: limit });
  const user = newUser('fitz');
  const handle = await emu.dispatchInteraction({ commandName: 'generate', options: { prompt: 'Fit me in' }, user });
  const result = await waitForClip(handle);
  const clip = mp4Of(result)!;
  assert.ok(clip.bytes.length <= limit, `${clip.bytes.length} bytes > ${limit}`);
  assert.match(result.content, /Re-encoded to/);
  const info = await assertWatchableClip(await saveClip(clip.bytes, t), { seconds: 6, sceneStarts: [0, 3] });
  assert.ok(info.audio);

  const { emu: strict } = await startDiscord(t, { DISCORD_UPLOAD_LIMIT_MB: String(limit / (1024 * 1024)), SPINBOT_MIN_VIDEO_KBPS: '2000' }, { uploadLimitBytes: limit });
  const linked = await strict.dispatchInteraction({ commandName: 'generate', options: { prompt: 'Too big to attach' }, user });
  const message = await linked.waitFor((h) => h.followUps().find((m) => /Too large to attach/.test(m.content)), RENDER_MS);
  assert.equal(linked.uploads().length, 0, 'no file attached');
  assert.match(message.content, /final\.mp4/);
  assert.deepEqual(buttonLabels(message), ['Retry', 'Variation']);
});

test('a render that outlives the 15-minute interaction token carries on in ordinary channel messages', async (t) => {
  const { emu } = await startDiscord(t);
  const user = newUser('gina');
  const handle = await emu.dispatchInteraction({ commandName: 'generate', options: { prompt: 'Slow and steady' }, user });
  await handle.waitFor((h) => /%/.test(h.original()?.content ?? '') || undefined, RENDER_MS);
  handle.expireToken();

  const posted = await emu.waitFor(() => emu.messages().find((m) => m.kind === 'channel' && m.files.some((f) => f.filename.endsWith('.mp4'))), RENDER_MS);
  assert.ok(posted.content.startsWith(`<@${user.id}>`), 'the user is mentioned');
  assert.match(posted.content, /"Slow and steady"/);
  assert.deepEqual(buttonLabels(posted), ['Retry', 'Variation']);
  const status = await emu.waitFor(() => emu.messages().find((m) => m.kind === 'channel' && /is ready/.test(m.content)), 10_000);
  assert.ok(status);
  assert.equal(handle.uploads().length, 0);
});

test('a clip finished while the Discord front-end was stopped is posted once, in the channel and mentioning the user, when it starts again', async (t) => {
  const { emu, stopBot, startBot } = await startDiscord(t);
  const user = newUser('lee');
  const handle = await emu.dispatchInteraction({ commandName: 'generate', options: { prompt: 'Made while away' }, user });
  const status = await handle.waitFor((h) => (MID_RENDER.test(h.original()?.content ?? '') ? h.original() : undefined), RENDER_MS);
  const jobId = /job:cancel:(\S+)/.exec(status.components[0]!.components[0]!.custom_id as string)![1]!;
  await stopBot();

  // The studio's assembler finishes the clip while no front-end runs: it waits in the outbox.
  assert.equal(await waitForJobState(studio, jobId, 'made'), 'made');

  await startBot();
  const posted = await emu.waitFor(() => emu.messages().find((m) => m.kind === 'channel' && mp4Of(m)), RENDER_MS);
  assert.ok(posted.content.startsWith(`<@${user.id}>`), 'the user is mentioned');
  assert.match(posted.content, /"Made while away"/);
  assert.deepEqual(buttonLabels(posted), ['Retry', 'Variation']);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  const clips = emu.messages().filter((m) => mp4Of(m));
  assert.equal(clips.length, 1, 'posted exactly once');
  assert.equal((await studio.jobs.get(jobId))?.state, 'done');
  // The status message the user saw before the restart is the one that says so, not a new one.
  assert.match(handle.original()!.content, /✅ "Made while away" is ready/);
  assert.deepEqual(statusLinesPostedAfter(emu, posted), [], 'a second status message was posted');
});

/** Channel messages other than the clip: a restarted bot that lost the status message posts one of these. */
function statusLinesPostedAfter(emu: DiscordEmulator, clip: StoredMessage): string[] {
  return emu.messages().filter((m) => m.kind === 'channel' && m.id !== clip.id).map((m) => m.content);
}

test('a render still going when the Discord front-end restarts goes on in the status message the user already sees', async (t) => {
  const { emu, stopBot, startBot } = await startDiscord(t);
  const user = newUser('mo');
  const handle = await emu.dispatchInteraction({ commandName: 'generate', options: { prompt: 'Carried on after a restart' }, user });
  // Early in the render (the narration), so that it is still going when the bot is back.
  await handle.waitFor((h) => /⚙️ (checking the job|narration) \d+%/.test(h.original()?.content ?? '') || undefined, RENDER_MS);
  await stopBot();
  const versionsBefore = handle.original()!.versions.length;
  await startBot();

  const posted = await emu.waitFor(() => emu.messages().find((m) => m.kind === 'channel' && mp4Of(m)), RENDER_MS);
  await handle.waitFor((h) => /✅ "Carried on after a restart" is ready/.test(h.original()!.content) || undefined, 10_000);
  const after = handle.original()!.versions.slice(versionsBefore).map((v) => v.content);
  assert.ok(after.some((content) => /\d+%/.test(content)), `the restarted bot never showed progress in the status message: ${JSON.stringify(after)}`);
  assert.ok(!handle.original()!.content.startsWith('<@'), 'the reply to the command got a mention');
  assert.deepEqual(statusLinesPostedAfter(emu, posted), [], 'a second status message was posted');
});

test('/train style on a bot without a GPU worker answers one private sentence and queues nothing; /styles lists none', async (t) => {
  const { emu } = await startDiscord(t);
  const user = newUser('painter');
  const options: Record<string, OptionValue> = { name: 'Watercolour' };
  for (let n = 1; n <= 8; n += 1) {
    const bytes = execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=s=640x640:r=1', '-vf', `select=eq(n\\,${n})`, '-frames:v', '1', '-f', 'image2pipe', '-c:v', 'png', '-']);
    options[`image${n}`] = emu.registerAttachment({ bytes, filename: `p${n}.png`, contentType: 'image/png' });
  }
  const before = await studio.queue.queue.getJobCounts();
  const train = await emu.dispatchInteraction({ commandName: 'train', subcommand: 'style', options, user });
  const answer = await waitForAnswer(train);
  assert.ok(answer.ephemeral);
  assert.match(answer.content, /^Training a style needs a GPU worker with ComfyUI \(COMFYUI_URL\)/);
  assert.deepEqual(await studio.queue.queue.getJobCounts(), before);
  assert.deepEqual(await studio.storage.list(`uploads/discord/${user.id}/`), []);

  const list = await emu.dispatchInteraction({ commandName: 'styles', subcommand: 'list', user });
  assert.match((await waitForAnswer(list)).content, /You have no styles yet/);
});
