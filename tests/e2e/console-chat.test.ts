// The console chat, driven as a person would type into it: greeting, a request, the plan, approval,
// progress, and the clip's path, duration and size. The planner here is a fake that returns a
// hand-written plan (the real model is exercised in cli.test.ts and tests/agent).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { runConsoleChat } from '../../bot/console/chat.ts';
import type { Planner } from '../../bot/planner.ts';
import { ScriptedFakeChatModel } from '../agent/fakeChatModel.ts';
import { consoleTerminal, handWrittenPlan, openTestStudio } from './helpers.ts';

function fakePlanner(withMusic = false): Planner & { requests: string[] } {
  const requests: string[] = [];
  return {
    label: 'a fake planner (hand-written plan)',
    requests,
    validate: () => {},
    plan: async ({ prompt }) => {
      requests.push(prompt);
      return withMusic ? { ...handWrittenPlan(10, 2), music: true, musicMood: 'calm' } : handWrittenPlan(10, 2);
    },
    llm: { model: new ScriptedFakeChatModel([]) },
  };
}

test('console chat: greet, plan, approve, progress per stage, then the clip with its length, size and every model that made it', async (t) => {
  const studio = await openTestStudio(t);
  const planner = fakePlanner(true);
  const term = consoleTerminal();
  const chat = runConsoleChat({ studio, planner, input: term.input, output: term.output });

  await term.waitFor(/make a 20 second video about why the sky is blue/);
  term.type('make a 10 second video about why the sky is blue');
  await term.waitFor(/Approve\?/);
  assert.match(term.text(), /Plan: "Why the sky is blue" — 2 scenes, 10 s, voice en-us/);
  assert.match(term.text(), /1\. \(5 s\) Sunlight looks white/);
  assert.match(term.text(), /Estimated render time: about \d+ s/);
  assert.match(term.text(), /Queue: free, it would start at once\./);

  term.type('yes');
  // Every model, the music track with its library and licence, and the planner that wrote the plan.
  const done =
    /Done: (\S+) \((\d+\.\d) s, ([\d.]+ [KM]B)\)\. Voice: Piper joe-medium \(CPU\); pictures: illustrated \(CPU\); upscale: [^;]+ \(CPU\); music: "calm_[^"]+" \(immich-memories-music, MIT\); plan: a fake planner \(hand-written plan\)\.\n/;
  await term.waitFor(done);
  const [, path, seconds] = term.text().match(done)!;
  assert.ok(existsSync(path!), `the chat named ${path}, which does not exist`);
  assert.ok(Math.abs(Number(seconds) - 10) < 0.5);
  // The licences each backend reported (setup/models.json), the emoji's attribution among them.
  assert.match(term.text(), /\nLicences — Piper joe-medium: voice: MIT \(voice package\)[^\n|]* \| illustrated: [^\n|]*OpenMoji[^\n|]* \| [^\n|]+: [^\n|]+\.\n/);
  for (const stage of ['voice', 'visuals', 'upscale', 'assemble']) assert.match(term.text(), new RegExp(`${stage}\\s+\\[#+\\]\\s+100%`));

  term.type('/quit');
  await chat;
  assert.match(term.text(), /Bye\./);
  assert.deepEqual(planner.requests, ['make a 10 second video about why the sky is blue']);
});

test('console chat: "no" drops the plan and renders nothing; an edit plans again', async (t) => {
  const studio = await openTestStudio(t);
  const planner = fakePlanner();
  const term = consoleTerminal();
  const chat = runConsoleChat({ studio, planner, input: term.input, output: term.output });
  term.type('a video about tea');
  await term.waitFor(/Approve\?/);
  term.type('make it more upbeat');
  await term.waitFor(/Approve\?[\s\S]*Approve\?/);
  term.type('no');
  await term.waitFor(/Dropped that plan; nothing was rendered/);
  term.input.end();
  await chat;
  assert.deepEqual(planner.requests, ['a video about tea', 'a video about tea. make it more upbeat']);
  const counts = await studio.queue.queue.getJobCounts();
  assert.equal(Object.values(counts).reduce((a, b) => a + b, 0), 0, 'a job was enqueued although the plan was dropped');
});
