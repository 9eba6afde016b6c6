// The main bad texts of the corpus typed into the console chat: each gets its sentence, nothing is
// queued or stored, and the chat still answers afterwards.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, test } from 'node:test';
import { runConsoleChat } from '../../bot/console/chat.ts';
import { fakePlanner } from '../channel/fixtures.ts';
import { MAIN_TEXTS, entry } from './corpus.ts';
import { openInputStudio, snapshot } from './studio.ts';

const { studio, dataDir } = await openInputStudio(after);

test('the main bad texts typed into the console: a sentence each, no job, no file, and the chat still answers', async () => {
  const input = new PassThrough();
  const output = new PassThrough() as PassThrough & NodeJS.WriteStream;
  let printed = '';
  output.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  const waitFor = async (pattern: RegExp, from: number) => {
    const started = Date.now();
    while (!pattern.test(printed.slice(from))) {
      if (Date.now() - started > 30_000) assert.fail(`expected ${pattern}; the chat printed:\n${printed.slice(from)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const planner = fakePlanner();
  const before = await snapshot(studio, dataDir);
  const chat = runConsoleChat({ studio, planner, input, output });
  await waitFor(/make a 20 second video about why the sky is blue/, 0);

  // One line each (the console reads lines, so a text is typed without its own line breaks).
  for (const bad of [...MAIN_TEXTS, entry('a message far over the length limit')]) {
    const from = printed.length;
    input.write(`${(bad.sent as { text: string }).text.replace(/[\r\n]/g, ' ')}\n`);
    await waitFor(bad.reply, from).catch((error: Error) => assert.fail(`${bad.name}: ${error.message}`));
    assert.doesNotMatch(printed.slice(from), /Approve\?|Something went wrong on our side/, bad.name);
  }
  const from = printed.length;
  input.write('help\n');
  await waitFor(/I show the plan first/, from);
  input.write('/quit\n');
  await chat;
  assert.deepEqual(await snapshot(studio, dataDir), before, 'a job was queued or a file stored');
  assert.equal(planner.requests.length, 0, 'nothing reached the planner');
});
