// Proves the real discord.js v14 client works against the Discord emulator.
// Run: node --import tsx --test tests/emulators/discord.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import {
  ActionRowBuilder,
  AttachmentBuilder,
  ButtonBuilder,
  ButtonStyle,
  Client,
  DiscordAPIError,
  Events,
  GatewayIntentBits,
  MessageFlags,
  SlashCommandBuilder,
  type ChatInputCommandInteraction,
  type Interaction,
} from 'discord.js';
import { WebSocket } from 'ws';
import { startDiscordEmulator, type DiscordEmulator } from './discord/server.ts';

const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0;

/** a real 1 s MP4 when ffmpeg is present, else a stub with an ftyp box */
function sampleMp4(): Buffer {
  if (hasFfmpeg) {
    const dir = mkdtempSync(path.join(tmpdir(), 'discord-emu-'));
    try {
      const out = path.join(dir, 'clip.mp4');
      execFileSync('ffmpeg', ['-loglevel', 'error', '-f', 'lavfi', '-i', 'color=c=blue:s=320x180:d=1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', out]);
      return readFileSync(out);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypmp42'), Buffer.alloc(12), Buffer.alloc(64, 7)]);
}

const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(100, 1)]);

async function loginClient(emu: DiscordEmulator, intents: GatewayIntentBits[] = []): Promise<Client<true>> {
  const client = new Client({ intents, rest: { api: emu.restBase } });
  const ready = new Promise<Client<true>>((resolve) => client.once(Events.ClientReady, resolve));
  await client.login(emu.botToken);
  return ready;
}

test('discord.js: ready, slash command, defer, edits, follow-up upload, button update', async (t) => {
  const emu = await startDiscordEmulator();
  const client = await loginClient(emu);
  t.after(async () => {
    await client.destroy();
    await emu.stop();
  });

  // gateway handshake as discord.js v14 does it by default: json, no transport compression
  assert.equal(client.user.id, emu.botUser.id);
  assert.equal(client.application.id, emu.applicationId);
  const gw = emu.gateway();
  assert.equal(gw.connectQueries[0]?.encoding, 'json');
  assert.equal(gw.connectQueries[0]?.v, '10');
  assert.equal(gw.connectQueries[0]?.compress, undefined);
  assert.equal(gw.identifies[0]?.token, emu.botToken);

  // slash command registration via REST
  const generate = new SlashCommandBuilder()
    .setName('generate')
    .setDescription('Make a clip')
    .addStringOption((o) => o.setName('prompt').setDescription('What to make').setRequired(true))
    .addAttachmentOption((o) => o.setName('image').setDescription('A face'));
  const registered = await client.application.commands.set([generate.toJSON()]);
  assert.equal(registered.size, 1);
  const stored = emu.commands();
  assert.deepEqual(stored.map((c) => c.name), ['generate']);
  assert.deepEqual(stored[0]!.options.map((o: { name: string; type: number }) => [o.name, o.type]), [
    ['prompt', 3],
    ['image', 11],
  ]);

  const mp4 = sampleMp4();
  const botErrors: unknown[] = [];
  const onGenerate = async (interaction: ChatInputCommandInteraction) => {
    await interaction.deferReply();
    const image = interaction.options.getAttachment('image', true);
    const downloaded = Buffer.from(await (await fetch(image.url)).arrayBuffer());
    await interaction.editReply(`Queued: "${interaction.options.getString('prompt', true)}" with ${image.name} (${downloaded.length} bytes)`);
    const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
      new ButtonBuilder().setCustomId('cancel').setLabel('Cancel').setStyle(ButtonStyle.Danger),
      new ButtonBuilder().setCustomId('retry').setLabel('Retry').setStyle(ButtonStyle.Secondary).setDisabled(true),
    );
    await interaction.editReply({ content: 'Rendering 50%', components: [row] });
    await interaction.followUp({ content: 'Done!', files: [new AttachmentBuilder(mp4, { name: 'clip.mp4' })] });
  };
  client.on(Events.InteractionCreate, (interaction: Interaction) => {
    const run = async () => {
      if (interaction.isChatInputCommand() && interaction.commandName === 'generate') await onGenerate(interaction);
      if (interaction.isButton() && interaction.customId === 'cancel') {
        await interaction.update({ content: `Cancelled by ${interaction.user.username}`, components: [] });
      }
    };
    run().catch((e: unknown) => botErrors.push(e));
  });

  const image = emu.registerAttachment({ bytes: PNG, filename: 'face.png', contentType: 'image/png' });
  const handle = await emu.dispatchInteraction({ commandName: 'generate', options: { prompt: 'a cat surfing', image } });
  assert.equal(handle.payload.data.id, stored[0]!.id, 'the interaction names the registered command');

  const ack = await handle.ack();
  assert.equal(ack.typeName, 'DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE');
  assert.equal(ack.ephemeral, false);

  const followUp = await handle.waitFor((h) => h.followUps()[0]);
  assert.deepEqual(botErrors, []);

  // what the user sees: the original went thinking -> queued -> rendering with buttons
  const original = handle.original()!;
  assert.deepEqual(
    original.versions.map((v) => v.content),
    ['', `Queued: "a cat surfing" with face.png (${PNG.length} bytes)`, 'Rendering 50%'],
  );
  assert.equal(original.versions[0]!.flags & 128, 128, 'the deferred state is a loading message');
  assert.equal(original.loading, false);
  const buttons = original.components[0]!.components as Array<{ custom_id: string; label: string; disabled?: boolean }>;
  assert.deepEqual(buttons.map((b) => [b.custom_id, b.label, Boolean(b.disabled)]), [
    ['cancel', 'Cancel', false],
    ['retry', 'Retry', true],
  ]);

  // the follow-up carries the MP4 (multipart payload_json + files[0])
  assert.equal(followUp.content, 'Done!');
  assert.equal(followUp.attachments.length, 1);
  assert.equal(followUp.attachments[0]!.filename, 'clip.mp4');
  assert.equal(followUp.files[0]!.contentType, 'video/mp4');
  assert.ok(followUp.files[0]!.bytes.equals(mp4));
  assert.ok(handle.uploads()[0]!.bytes.equals(mp4));
  const viaCdn = Buffer.from(await (await fetch(followUp.attachments[0]!.url)).arrayBuffer());
  assert.ok(viaCdn.equals(mp4), 'the attachment url serves the uploaded bytes');
  const upload = emu.requests().find((r) => r.method === 'POST' && r.path.startsWith('/webhooks/'));
  assert.equal(upload?.query.wait, 'true');
  assert.deepEqual(upload?.files.map((f) => f.field), ['files[0]']);
  assert.equal(emu.messages().length, 2);
  // discord.js sends the @ URL-encoded; the literal form is accepted too
  const edit = emu.requests().find((r) => r.method === 'PATCH' && r.path.endsWith('/messages/@original'));
  assert.ok(edit?.rawPath.endsWith('/messages/%40original'));
  const literal = await fetch(`${emu.restBase}/v10/webhooks/${emu.applicationId}/${handle.token}/messages/@original`);
  assert.equal(((await literal.json()) as { content: string }).content, 'Rendering 50%');

  if (hasFfmpeg) {
    const dir = mkdtempSync(path.join(tmpdir(), 'discord-emu-'));
    try {
      writeFileSync(path.join(dir, 'got.mp4'), followUp.files[0]!.bytes);
      const probe = JSON.parse(
        execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', path.join(dir, 'got.mp4')]).toString(),
      ) as { streams: Array<{ codec_name: string; width: number }> };
      assert.equal(probe.streams[0]?.codec_name, 'h264');
      assert.equal(probe.streams[0]?.width, 320);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  // a disabled button cannot be pressed by a user
  await assert.rejects(emu.dispatchInteraction({ type: 3, customId: 'retry', messageId: original.id }), /disabled/);

  // the user presses Cancel: a component interaction, answered with UPDATE_MESSAGE
  const press = await emu.dispatchInteraction({ type: 3, customId: 'cancel', messageId: original.id });
  const pressAck = await press.ack();
  assert.equal(pressAck.typeName, 'UPDATE_MESSAGE');
  assert.equal(press.original()?.id, original.id);
  assert.equal(original.content, `Cancelled by ${emu.defaultUser.username}`);
  assert.deepEqual(original.components, []);
  assert.deepEqual(botErrors, []);
});

test('discord.js with the Guilds intent: guild cache, channel messages after the token expired, ephemeral errors', async (t) => {
  const emu = await startDiscordEmulator({ heartbeatIntervalMs: 100 });
  const client = await loginClient(emu, [GatewayIntentBits.Guilds]);
  t.after(async () => {
    await client.destroy();
    await emu.stop();
  });

  assert.equal(client.guilds.cache.get(emu.guildId)?.name, 'MySpinBot Test Guild');
  assert.ok(client.channels.cache.get(emu.channelId)?.isTextBased());
  await emu.waitFor(() => emu.gateway().heartbeats >= 2, 5000);

  const guildCommand = new SlashCommandBuilder().setName('status').setDescription('Status');
  await client.application.commands.set([guildCommand.toJSON()], emu.guildId);
  assert.equal(emu.commands(emu.guildId)[0]?.name, 'status');
  assert.deepEqual(emu.commands(), []);

  const results: string[] = [];
  client.on(Events.InteractionCreate, (interaction) => {
    void (async () => {
      if (!interaction.isChatInputCommand()) return;
      if (interaction.commandName === 'status') {
        await interaction.deferReply();
        emu.interaction(interaction.id)!.expireToken();
        try {
          await interaction.editReply('too late');
        } catch (e) {
          results.push(e instanceof DiscordAPIError ? String(e.code) : 'other');
          const channel = interaction.channel;
          if (channel?.isSendable()) await channel.send({ content: `<@${interaction.user.id}> your clip is ready`, files: [{ attachment: PNG, name: 'thumb.png' }] });
        }
      }
      if (interaction.commandName === 'oops') {
        await interaction.reply({ content: 'That did not work (E_BAD_INPUT)', flags: MessageFlags.Ephemeral });
      }
    })().catch((e: unknown) => results.push(`error: ${String(e)}`));
  });

  const handle = await emu.dispatchInteraction({ commandName: 'status' });
  const posted = await emu.waitFor(() => emu.messages().find((m) => m.kind === 'channel'));
  assert.deepEqual(results, ['50027']);
  assert.equal(posted.content, `<@${emu.defaultUser.id}> your clip is ready`);
  assert.ok(posted.files[0]!.bytes.equals(PNG));
  assert.equal(handle.original()?.loading, true, 'the deferred reply was never edited');

  const oops = await emu.dispatchInteraction({ commandName: 'oops' });
  const ack = await oops.ack();
  assert.equal(ack.typeName, 'CHANNEL_MESSAGE_WITH_SOURCE');
  assert.equal(ack.ephemeral, true);
  assert.equal(oops.original()?.content, 'That did not work (E_BAD_INPUT)');
  assert.equal(oops.original()?.ephemeral, true);
});

test('discord.js: a late acknowledgement is refused like Discord does (10062), a wrong token cannot log in', async (t) => {
  const emu = await startDiscordEmulator({ ackDeadlineMs: -1 });
  const client = await loginClient(emu);
  t.after(async () => {
    await client.destroy();
    await emu.stop();
  });
  const codes: Array<string | number> = [];
  client.on(Events.InteractionCreate, (interaction) => {
    if (interaction.isChatInputCommand()) {
      interaction.deferReply().catch((e: unknown) => codes.push(e instanceof DiscordAPIError ? e.code : String(e)));
    }
  });
  await emu.dispatchInteraction({ commandName: 'generate', options: { prompt: 'x' } });
  await emu.waitFor(() => codes.length > 0);
  assert.deepEqual(codes, [10062]);

  const intruder = new Client({ intents: [], rest: { api: emu.restBase } });
  await assert.rejects(intruder.login('not-the-token'), /invalid/i);
  await intruder.destroy();
});

test('gateway: zlib-stream transport compression and resume', async (t) => {
  const emu = await startDiscordEmulator();
  t.after(() => emu.stop());
  const ws = new WebSocket(`${emu.gatewayUrl}?v=10&encoding=json&compress=zlib-stream`);
  const inflate = zlib.createInflate();
  const payloads: Array<{ op: number; t?: string; d: { session_id?: string } }> = [];
  let pending = '';
  inflate.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    try {
      payloads.push(JSON.parse(pending));
      pending = '';
    } catch {
      // an incomplete payload: wait for more
    }
  });
  ws.on('message', (data: Buffer) => inflate.write(data));
  await emu.waitFor(() => payloads.find((p) => p.op === 10));
  ws.send(JSON.stringify({ op: 2, d: { token: emu.botToken, intents: 0, properties: { os: 'linux', browser: 'test', device: 'test' } } }));
  const ready = await emu.waitFor(() => payloads.find((p) => p.t === 'READY'));
  ws.close();
  await new Promise((resolve) => ws.once('close', resolve));
  inflate.close();

  const resumed: Array<{ op: number; t?: string }> = [];
  const ws2 = new WebSocket(`${emu.gatewayUrl}?v=10&encoding=json`);
  ws2.on('message', (data: Buffer) => resumed.push(JSON.parse(data.toString())));
  await emu.waitFor(() => resumed.find((p) => p.op === 10));
  ws2.send(JSON.stringify({ op: 6, d: { token: emu.botToken, session_id: ready.d.session_id, seq: 1 } }));
  await emu.waitFor(() => resumed.find((p) => p.t === 'RESUMED'));
  ws2.close();
  await new Promise((resolve) => ws2.once('close', resolve));
});
