// The ChatChannel conformance suite against every adapter: the console (its real streams and
// readline), Discord (real discord.js against the Discord emulator) and Telegram (real grammY
// against the Bot API emulator).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { PassThrough, Writable } from 'node:stream';
import { createInterface } from 'node:readline/promises';
import { describe } from 'node:test';
import { Client, Events, type ChatInputCommandInteraction } from 'discord.js';
import { Bot } from 'grammy';
import { PendingAsks, type ChatChannel } from '../../bot/channel.ts';
import { ConsoleChannel } from '../../bot/console-channel.ts';
import { answerAskButton, DiscordChannel } from '../../bot/discord/channel.ts';
import { answerAskCallback, ChatPacer, TelegramChannel } from '../../bot/telegram/channel.ts';
import { startDiscordEmulator, type InteractionHandle } from '../emulators/discord/server.ts';
import { startTelegramEmulator } from '../emulators/telegram/server.ts';
import { runChannelConformance, type ChannelHarness, type Seen } from './conformance.ts';

async function poll<T>(read: () => T | undefined | false | null, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value) return value;
    if (Date.now() > until) throw new Error('timed out waiting for the user to see it');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('console', () => {
  runChannelConformance('console', async () => {
    const input = new PassThrough();
    const chunks: string[] = [];
    const output = new Writable({
      write(chunk, _encoding, done) {
        chunks.push(String(chunk));
        done();
      },
    });
    const readline = createInterface({ input, output, terminal: false });
    let from = 0;
    const lastFile = (text: string) => /Video: (\S+)/.exec(text)?.[1];
    const seen = (): Seen[] =>
      chunks.slice(from).map((text) => {
        const file = lastFile(text);
        return {
          text,
          buttons: [...text.matchAll(/\[([^\]]+)\]|\d\) (\w+)/g)].map((m) => m[1] ?? m[2]!).filter((b) => !/^#|-/.test(b)),
          file: file && existsSync(file) ? readFileSync(file) : undefined,
          private: false,
          versions: [text],
        };
      });
    const harness: ChannelHarness = {
      capabilities: { editsInPlace: false, privateErrors: false, otherUsers: false },
      async open(): Promise<ChatChannel> {
        from = chunks.length;
        return new ConsoleChannel({ output: output as unknown as NodeJS.WriteStream, readline });
      },
      seen,
      waitFor: (predicate, timeoutMs) => poll(() => predicate(seen()), timeoutMs),
      async press(label) {
        input.write(`${label}\n`);
        return undefined;
      },
      async close() {
        readline.close();
      },
    };
    return harness;
  });
});

describe('discord', () => {
  runChannelConformance('discord', async () => {
    const emu = await startDiscordEmulator();
    const client = new Client({ intents: [], rest: { api: emu.restBase } });
    const asks = new PendingAsks();
    const opened: Array<(channel: DiscordChannel) => void> = [];
    client.on(Events.InteractionCreate, (interaction) => {
      void (async () => {
        if (interaction.isChatInputCommand()) {
          const channel = new DiscordChannel(interaction as ChatInputCommandInteraction, { asks, uploadLimitBytes: 10 * 1024 * 1024, progressIntervalMs: 50 });
          await channel.acknowledge();
          opened.shift()?.(channel);
        } else if (interaction.isButton()) {
          await answerAskButton(interaction, asks);
        }
      })();
    });
    const ready = new Promise((resolve) => client.once(Events.ClientReady, resolve));
    await client.login(emu.botToken);
    await ready;
    let handle: InteractionHandle | undefined;
    const seen = (): Seen[] =>
      (handle?.messages() ?? [])
        .filter((m) => !m.deleted && !m.loading)
        .map((m) => ({
          text: m.content,
          buttons: m.components.flatMap((row) => (row.components as Array<{ label: string }>).map((c) => c.label)),
          file: m.files.at(-1)?.bytes,
          private: m.ephemeral,
          versions: m.versions.filter((v) => !(v.flags & 128)).map((v) => v.content),
        }));
    const harness: ChannelHarness = {
      capabilities: { editsInPlace: true, privateErrors: true, otherUsers: true },
      async open() {
        const channel = new Promise<DiscordChannel>((resolve) => opened.push(resolve));
        handle = await emu.dispatchInteraction({ commandName: 'probe' });
        return channel;
      },
      seen,
      waitFor: (predicate, timeoutMs) => poll(() => predicate(seen()), timeoutMs),
      async press(label, options) {
        const message = [...handle!.messages()].reverse().find((m) => m.components.some((row) => (row.components as Array<{ label: string }>).some((c) => c.label === label)));
        if (!message) throw new Error(`no button "${label}"`);
        const button = message.components.flatMap((row) => row.components as Array<{ label: string; custom_id: string }>).find((c) => c.label === label)!;
        const user = options?.otherUser ? { id: '999999999999999999', username: 'mallory' } : undefined;
        const press = await emu.dispatchInteraction({ type: 3, customId: button.custom_id, messageId: message.id, ...(user ? { user } : {}) });
        const ack = await press.ack();
        if (!user) return undefined;
        // Someone else is answered privately, in a reply of their own.
        assert.equal(ack.ephemeral, true, 'the refusal is private');
        return (await press.waitFor((h) => h.messages().find((m) => m.content))).content;
      },
      async close() {
        asks.closeAll();
        await client.destroy();
        await emu.stop();
      },
    };
    return harness;
  });
});

describe('telegram', () => {
  runChannelConformance('telegram', async () => {
    const tg = await startTelegramEmulator();
    const bot = new Bot(tg.token, { client: { apiRoot: tg.apiRoot } });
    const asks = new PendingAsks();
    bot.on('callback_query:data', (ctx) => answerAskCallback(ctx, asks));
    const polling = bot.start();
    const user = tg.defaultUser;
    const chat = user.id;
    tg.sendText(chat, user, 'hello');
    await poll(() => tg.pendingUpdates() === 0);
    let from = 0;
    const seen = (): Seen[] =>
      tg.botMessages(chat).slice(from).map((m) => ({
        text: m.text ?? m.caption ?? '',
        buttons: m.buttons.map((b) => b.text),
        file: m.file?.bytes,
        private: false,
        versions: m.history.map((v) => v.text ?? v.caption ?? ''),
      }));
    const harness: ChannelHarness = {
      capabilities: { editsInPlace: true, privateErrors: false, otherUsers: true },
      async open() {
        from = tg.botMessages(chat).length;
        return new TelegramChannel(bot.api, chat, user.id, { asks, pacer: new ChatPacer(50), uploadLimitBytes: 50 * 1024 * 1024, progressIntervalMs: 50 });
      },
      seen,
      waitFor: (predicate, timeoutMs) => poll(() => predicate(seen()), timeoutMs),
      async press(label, options) {
        const message = [...tg.botMessages(chat)].reverse().find((m) => m.buttons.some((b) => b.text === label));
        if (!message) throw new Error(`no button "${label}"`);
        const data = message.buttons.find((b) => b.text === label)!.callback_data!;
        const press = tg.pressButton(message, data, options?.otherUser ? { id: 777, first_name: 'Mallory' } : user);
        const answer = await press.answer();
        return options?.otherUser ? answer.text : undefined;
      },
      async close() {
        asks.closeAll();
        await bot.stop();
        await polling;
        await tg.stop();
      },
    };
    return harness;
  });
});
