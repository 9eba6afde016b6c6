// The console chat: the front-end used when no Discord or Telegram token is set. The same
// conversation agent and job runner as the chat platforms: it plans what the user types, shows the
// plan for approval (words instead of buttons), renders with a progress bar per stage, and ends
// with the clip's path, duration and size. The conversation lives in Redis, so a plan left waiting
// is still there after a restart.
import { createInterface } from 'node:readline';
import { LIMITS } from '../../gpu-bridge/contracts/index.ts';
import { HELP_TEXT, type TurnResult } from '../../agent/conversation/index.ts';
import type { Studio } from '../../pipeline/studio.ts';
import { JobLimits, MemoryDailyCounter } from '../access.ts';
import { describeFailure } from '../channel.ts';
import { ConsoleChannel } from '../console-channel.ts';
import { agentActions, approvalMessage, createConversation, threadOf, videosAhead } from '../conversation.ts';
import { JobRunner } from '../jobs.ts';
import type { Planner } from '../planner.ts';
import { presenterDefaults, usePhotoFile } from '../uploads/presenter.ts';
import { VoiceLibrary } from '../uploads/voices.ts';
import type { TrainingReadiness } from '../styles.ts';
import { picturesInFolder, trainStyleFromFiles } from '../train.ts';

/** "train my style <name> from <folder>": a style trained from the pictures in a local folder. */
const TRAIN_FROM_FOLDER = /^train my style\s+(.+?)\s+from\s+(.+)$/i;

const GREETING = `Hi, I'm MySpinBot. Describe a video and I'll plan it, show you the plan, and render it here.
Try: make a 20 second video about why the sky is blue
Type /help for help, /quit to leave.`;

const HELP = `${HELP_TEXT}
Here, answer a plan with "yes", "no", or the change you want. /photo PATH makes that photo your presenter
("present it yourself"). "train my style NAME from FOLDER" trains a picture style from 8-40 pictures there (a GPU
worker with ComfyUI); "in my style NAME" then uses it. /quit leaves and stops the worker.`;

export async function runConsoleChat(deps: {
  studio: Studio;
  planner: Planner;
  autoApprove?: boolean;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WriteStream;
  /** Whether a worker can train styles (default: the worker's ComfyUI preflight). */
  trainingReadiness?: TrainingReadiness;
}) {
  const output = deps.output ?? process.stdout;
  const rl = createInterface({ input: deps.input ?? process.stdin, output, terminal: Boolean(output.isTTY) });
  // Iterated from here on: lines typed while the first awaits run are buffered, not dropped.
  const lines = rl[Symbol.asyncIterator]();
  const say = (text: string) => output.write(`${text}\n`);
  const channel = new ConsoleChannel({ output });
  const voices = new VoiceLibrary(deps.studio.storage, { maxVoices: 20 });
  const jobs = new JobRunner({
    studio: deps.studio,
    voices,
    // One person at their own machine: one render at a time, no daily quota.
    limits: new JobLimits({ maxRunning: 1, daily: 0, counter: new MemoryDailyCounter() }),
    minVideoKbps: 300,
    planner: deps.planner.label,
    log: () => {},
    // One person: a job from an earlier session is shown (and its clip named) here.
    platform: 'console',
    resume: () => channel,
  });
  const conversation = createConversation(deps.studio, deps.planner, { autoApprove: deps.autoApprove });
  const thread = threadOf(channel);
  const actions = agentActions(channel, { studio: deps.studio, jobs, voices });
  const owner = { platform: channel.platform, userId: channel.userId };

  let waiting = false;
  const show = async (result: TurnResult) => {
    for (const reply of [...result.replies, ...result.errors]) say(reply);
    waiting = Boolean(result.approval);
    if (result.approval) say(await approvalMessage(result.approval, deps.studio, result.approval.reminder ? undefined : await videosAhead(deps.studio)));
    // The render runs in the job runner; the prompt comes back when the clip is there.
    if (result.dispatchedJobId) await jobs.settled(result.dispatchedJobId);
  };

  say(GREETING);
  try {
    await jobs.resume();
    const left = await conversation.agent.waitingApproval(thread);
    if (left) {
      say('A plan from last time is still waiting for your answer:');
      await show({ replies: [], errors: [], approval: { ...left, reminder: false } });
    }
    const ask = () => output.write(waiting ? 'Approve? (yes / no / your changes) > ' : '> ');
    ask();
    // Async iteration ends cleanly at end of input (Ctrl-D, or the end of a piped script).
    for await (const raw of { [Symbol.asyncIterator]: () => lines }) {
      const line = raw.trim();
      if (line === '/quit' || line === '/exit') break;
      if (line === '/help') say(HELP);
      else if (/^\/photo(?:\s|$)/.test(line)) {
        // "/photo PATH": the presenter's photo, checked by the worker ("present it yourself" then uses it).
        try {
          say(await usePhotoFile(deps.studio, owner, line.slice('/photo'.length).trim()));
        } catch (error) {
          say(describeFailure(error));
        }
      }
      else if (TRAIN_FROM_FOLDER.test(line)) {
        const [, name, folder] = TRAIN_FROM_FOLDER.exec(line)!;
        try {
          const found = await picturesInFolder(folder!.trim().replace(/^["']|["']$/g, ''));
          if (!found.ok) say(found.message);
          else {
            await trainStyleFromFiles({ storage: deps.studio.storage, queue: deps.studio.queue, channel, ...(deps.trainingReadiness ? { readiness: deps.trainingReadiness } : {}) },
              { ...owner, chatId: channel.chatId }, name!.trim(), found.files);
          }
        } catch (error) {
          say(describeFailure(error));
        }
      }
      else if (line.length > LIMITS.maxPromptChars) say(`That is ${line.length} characters long; please keep it under ${LIMITS.maxPromptChars}.`);
      else if (line) {
        if (!waiting) say(`Thinking with ${deps.planner.label}…`);
        try {
          const presenter = await presenterDefaults(deps.studio, undefined, owner, line);
          await show(await conversation.agent.message(thread, line, { actions, defaults: presenter.request }));
        } catch (error) {
          say(describeFailure(error));
        }
      }
      ask();
    }
  } finally {
    rl.close();
    await jobs.close();
    await conversation.close();
  }
  say('Bye.');
}
