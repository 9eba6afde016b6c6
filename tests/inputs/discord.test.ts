// The main inputs of the bad-input corpus through the real discord.js client against the Discord
// emulator: /generate (prompt, the seconds option, image and voice_sample attachments), /chat and
// /voice add. Each gets a sentence, privately; nothing is queued or stored; the bot still answers.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startDiscordBot } from '../discord/setup.ts';
import type { InteractionHandle, OptionValue } from '../emulators/discord/server.ts';
import { MAIN_FILES, MAIN_TEXTS } from './corpus.ts';
import { speechSample } from './files.ts';
import { openInputStudio, snapshot } from './studio.ts';

const { studio, dataDir } = await openInputStudio(after);
const RANGE = /\b5 to 180\b/;

let nextUser = 300;
const newUser = () => {
  nextUser += 1;
  return { id: `5100000000000${nextUser}`, username: `tester${nextUser}`, global_name: `Tester ${nextUser}` };
};

interface Case {
  name: string;
  commandName: string;
  subcommand?: string;
  options: Record<string, OptionValue>;
  reply: RegExp;
}

const said = (handle: InteractionHandle) => handle.messages().filter((m) => !m.deleted && !m.loading && m.content).map((m) => m.content);

test('the main bad inputs through discord.js: a private sentence each, no job, no file, and the bot still answers', async (t) => {
  const { emu, planner } = await startDiscordBot(studio, t, { SPINBOT_DAILY_JOBS: '500' });
  const before = await snapshot(studio, dataDir);
  const file = (bytes: Buffer, filename: string) => emu.registerAttachment({ bytes, filename, contentType: 'application/octet-stream' });
  const sample = () => file(speechSample('ogg'), 'sample.ogg');

  const cases: Case[] = [
    ...MAIN_TEXTS.flatMap((input): Case[] => {
      const text = (input.sent as { text: string }).text;
      return [
        { name: `/generate prompt: ${input.name}`, commandName: 'generate', options: { prompt: text }, reply: input.reply },
        { name: `/chat: ${input.name}`, commandName: 'chat', options: { message: text }, reply: input.reply },
      ];
    }),
    { name: '/generate prompt: -5 seconds', commandName: 'generate', options: { prompt: '-5 seconds' }, reply: RANGE },
    { name: '/generate prompt: 5 hours', commandName: 'generate', options: { prompt: '5 hours' }, reply: RANGE },
    { name: '/generate seconds: -5', commandName: 'generate', options: { prompt: 'cats', seconds: -5 }, reply: RANGE },
    { name: '/generate seconds: 0', commandName: 'generate', options: { prompt: 'cats', seconds: 0 }, reply: RANGE },
    { name: '/generate seconds: 100000', commandName: 'generate', options: { prompt: 'cats', seconds: 100000 }, reply: RANGE },
    { name: '/generate prompt over the limit', commandName: 'generate', options: { prompt: 'x'.repeat(2500) }, reply: /please keep it under 2000/ },
    { name: '/generate voice: path traversal', commandName: 'generate', options: { prompt: 'cats', voice: '../../etc/passwd' }, reply: /cannot be a voice name/ },
    ...MAIN_FILES.flatMap((input): Case[] => {
      const sent = input.sent as { file: string; bytes: () => Buffer };
      const picture = sent.file === 'photo';
      const bytes = sent.bytes();
      return [
        picture
          ? { name: `/generate image: ${input.name}`, commandName: 'generate', options: { prompt: 'why the sky is blue', image: file(bytes, 'picture.png') }, reply: input.reply }
          : { name: `/generate voice_sample: ${input.name}`, commandName: 'generate', options: { prompt: 'why the sky is blue', voice_sample: file(bytes, 'voice.ogg') }, reply: input.reply },
        ...(picture ? [] : [{ name: `/voice add: ${input.name}`, commandName: 'voice', subcommand: 'add', options: { sample: file(bytes, 'voice.ogg'), name: 'mine' }, reply: input.reply }]),
      ];
    }),
    { name: '/voice add with an invisible name', commandName: 'voice', subcommand: 'add', options: { sample: sample(), name: '\u200B\u202E' }, reply: /cannot be a voice name/ },
  ];

  const handles = new Map<string, InteractionHandle>();
  for (let i = 0; i < cases.length; i += 6) {
    const batch = cases.slice(i, i + 6);
    await Promise.all(
      batch.map(async (c) => {
        const handle = await emu.dispatchInteraction({ commandName: c.commandName, subcommand: c.subcommand, options: c.options, user: newUser() });
        handles.set(c.name, handle);
        await handle.waitFor((h) => said(h).some((text) => c.reply.test(text)), 60_000).catch(() => {
          assert.fail(`${c.name}: expected ${c.reply}, the bot said ${JSON.stringify(said(handle))}`);
        });
        const answer = handle.messages().find((m) => c.reply.test(m.content));
        assert.equal(answer?.ephemeral, true, `${c.name}: the refusal is private`);
      }),
    );
  }

  const help = await emu.dispatchInteraction({ commandName: 'help', user: newUser() });
  await help.waitFor((h) => said(h).length > 0, 30_000);
  for (const c of cases) {
    const handle = handles.get(c.name)!;
    assert.deepEqual(handle.uploads(), [], `${c.name}: a file was posted`);
    assert.ok(!said(handle).some((text) => /Something went wrong on our side/.test(text)), `${c.name}: a generic failure instead of a reason`);
  }
  assert.deepEqual(await snapshot(studio, dataDir), before, 'a job was queued or a file stored');
  assert.equal(planner.requests.length, 0, 'nothing reached the planner');
});
