// The console chat: the front-end used when no Discord or Telegram token is set. It greets, plans
// a video from what the user types, shows the plan for approval, renders with a progress bar per
// stage, and ends with the clip's path, duration and size.
import { createInterface } from 'node:readline';
import type { ScriptPlan } from '../../gpu-bridge/contracts/index.ts';
import { isUserError } from '../../pipeline/errors.ts';
import type { Studio } from '../../pipeline/studio.ts';
import type { Planner } from '../planner.ts';
import { formatClip, formatPlan } from '../format.ts';
import { ProgressBoard } from './progress.ts';

const GREETING = `Hi, I'm MySpinBot. Describe a video and I'll plan it, show you the plan, and render it here.
Try: make a 20 second video about why the sky is blue
Type /help for help, /quit to leave.`;

const HELP = `Describe the video you want in plain words; add a length like "30 seconds" (${'5-180 s'}).
I show the plan (scenes, narration, visuals, voice, estimated time); answer "yes" to render it,
"no" to drop it, or type changes to plan again. /quit leaves and stops the worker.`;

export async function runConsoleChat(deps: { studio: Studio; planner: Planner; input?: NodeJS.ReadableStream; output?: NodeJS.WriteStream }) {
  const output = deps.output ?? process.stdout;
  const rl = createInterface({ input: deps.input ?? process.stdin, output, terminal: Boolean(output.isTTY) });
  const say = (text: string) => output.write(`${text}\n`);
  say(GREETING);

  let pending: { plan: ScriptPlan; prompt: string } | null = null;
  const ask = () => output.write(pending ? 'Approve? (yes / no / your changes) > ' : '> ');
  ask();
  try {
    // Async iteration ends cleanly at end of input (Ctrl-D, or the end of a piped script).
    for await (const raw of rl) {
      const line = raw.trim();
      if (line === '/quit' || line === '/exit') break;
      if (line === '/help') say(HELP);
      else if (line) pending = await handle(line, pending);
      ask();
    }
  } finally {
    rl.close();
  }
  say('Bye.');

  /** One turn of the conversation; returns the plan still awaiting approval, if any. */
  async function handle(line: string, pending: { plan: ScriptPlan; prompt: string } | null) {
    try {
      if (pending && /^(y|yes|ok|approve|go)$/i.test(line)) {
        const board = new ProgressBoard(output);
        const clip = await deps.studio.render({ plan: pending.plan, requestedBy: { platform: 'console', userId: 'local' } }, (p) => board.update(p));
        board.complete();
        say(formatClip(clip));
        say('Describe another video whenever you like.');
        return null;
      }
      if (pending && /^(n|no|cancel)$/i.test(line)) {
        say('Dropped that plan; nothing was rendered. Describe another video whenever you like.');
        return null;
      }
      // A change to a pending plan re-plans the original request with the change added.
      const prompt: string = pending ? `${pending.prompt}. ${line}` : line;
      say(`Planning with ${deps.planner.label}…`);
      const plan = await deps.planner.plan({ prompt });
      say(formatPlan(plan));
      return { plan, prompt };
    } catch (error) {
      say(isUserError(error) ? error.message : `Something went wrong: ${(error as Error).message}`);
      return pending;
    }
  }
}
