// The conversation: one LangGraph thread per chat and user, checkpointed (agent/checkpoint/), so a
// restart of the bot resumes every conversation and every plan waiting for approval.
//
//   route ─┬─ generate ─┐
//          ├─ revise ───┴─ approve ── interrupt() ──┬─ dispatch
//          └─ answer (status, voices, cancel,       ├─ revise (Edit, or a change typed)
//                    help, small talk)              ├─ route  (something else typed)
//                                                   └─ end    (Cancel)
import { randomBytes } from 'node:crypto';
import { Command, END, interrupt, START, StateGraph, type BaseCheckpointSaver, type LangGraphRunnableConfig } from '@langchain/langgraph';
import { describeFailure } from '../../bot/channel.ts';
import { isUserError, UserError } from '../../pipeline/errors.ts';
import { planVideo, type PlanRequest } from '../graph.ts';
import { revisePlan, unchangedScenes } from './revise.ts';
import { routeIntent } from './route.ts';
import {
  ConversationContextSchema,
  ConversationState,
  type ApprovalAnswer,
  type ApprovalRequest,
  type ConversationContext,
  type ConversationStateType,
  type ConversationUpdate,
} from './state.ts';
import { answeringTools, generateVideo, refineVideo, type AnsweringToolName } from './tools.ts';

type Config = LangGraphRunnableConfig<ConversationContext>;

function contextOf(config: Config): ConversationContext & { plan: NonNullable<ConversationContext['plan']> } {
  const context = config.context;
  if (!context?.model || !context.actions) throw new Error('conversation: pass { context: { model, actions } } on every turn');
  const plan = context.plan ?? ((request: PlanRequest, signal?: AbortSignal) => planVideo(request, context, signal ? { signal } : {}));
  return { ...context, plan };
}

const newPlanId = () => randomBytes(4).toString('hex');
const say = (text: string) => [{ text }];
const sayError = (error: unknown) => [{ text: describeFailure(error), error: true }];

export const APPROVE_WORDS = /^(?:y|yes|yep|yeah|ok|okay|sure|approve|approved|go|go ahead|do it|render it|looks good|lgtm|👍)[.!\s]*$/i;
export const CANCEL_WORDS = /^(?:n|no|nope|cancel|stop|drop it|never ?mind|forget it)[.!\s]*$/i;

async function route(state: ConversationStateType, config: Config): Promise<Command> {
  const context = contextOf(config);
  const intent =
    state.direct ??
    (await routeIntent(state.turn, { pending: state.pending, lastJob: state.lastJob }, state.history, {
      model: context.model,
      ready: context.ready,
      signal: config.signal,
    }));
  const next = intent.tool === 'generate_video' ? 'generate' : intent.tool === 'refine_video' ? 'revise' : 'answer';
  return new Command({ goto: next, update: { intent, direct: null, history: [{ role: 'user', text: state.turn }] } });
}

/** A failure the user should read ends the turn with one sentence; anything else is a bug. */
function failed(error: unknown, state: ConversationStateType): Command {
  if (!isUserError(error)) throw error;
  return new Command({ goto: state.pending ? 'approve' : END, update: { outbox: sayError(error) } });
}

async function generate(state: ConversationStateType, config: Config): Promise<Command> {
  const context = contextOf(config);
  try {
    const args = generateVideo.schema.parse(state.intent?.args ?? {});
    const request: PlanRequest = { ...context.defaults, prompt: args.prompt, seconds: args.seconds, style: args.style, aspect: args.aspect, music: args.music };
    const plan = await context.plan(request, config.signal);
    const pending = { planId: newPlanId(), request, plan, voiceName: args.voice, autoApprove: Boolean(context.autoApprove) };
    return new Command({ goto: 'approve', update: { pending } });
  } catch (error) {
    return failed(error, state);
  }
}

async function revise(state: ConversationStateType, config: Config): Promise<Command> {
  const context = contextOf(config);
  // A plan on screen is revised in place; otherwise the video just made is the starting point.
  const base = state.pending ?? state.lastJob;
  if (!base) {
    return new Command({ goto: END, update: { outbox: say('There is nothing to change yet: describe a video first, e.g. "a 20 second video about tea".') } });
  }
  const parsed = refineVideo.schema.safeParse(state.intent?.args ?? {});
  const count = base.plan.scenes.length;
  const scene = parsed.success ? parsed.data.scene : undefined;
  if (!parsed.success || (scene !== undefined && scene > count)) {
    const error = new UserError('plan.sceneOutOfRange', `This plan has ${count} scene${count === 1 ? '' : 's'}; name one from 1 to ${count}, e.g. "redo scene ${Math.min(2, count)} with a sunset".`);
    return failed(error, state);
  }
  try {
    const revision = await revisePlan(base, parsed.data.change, scene, context, config.signal);
    // Refining a made clip keeps pointing at that clip, through any number of further edits.
    const reuseFrom = state.pending ? state.pending.reuseFrom : state.lastJob ? { jobId: state.lastJob.jobId, plan: state.lastJob.plan } : undefined;
    const pending = {
      planId: newPlanId(),
      request: revision.request,
      plan: revision.plan,
      voiceName: base.voiceName,
      reuseFrom,
      changed: revision.changed,
      autoApprove: Boolean(context.autoApprove),
    };
    return new Command({ goto: 'approve', update: { pending } });
  } catch (error) {
    return failed(error, state);
  }
}

const dropped = () =>
  new Command({ goto: END, update: { pending: null, outbox: say('Dropped that plan; nothing was rendered. Describe another video whenever you like.') } });

function approve(state: ConversationStateType, config: Config): Command {
  const pending = state.pending;
  if (!pending) return new Command({ goto: END });
  // Decided when the plan was made: a resume (e.g. a command dropping this plan) must not render it.
  if (pending.autoApprove) return new Command({ goto: 'dispatch' });
  // The same plan asked about again (after a side question) is shown briefly.
  const reminder = state.intent !== undefined && state.intent.tool !== 'generate_video' && state.intent.tool !== 'refine_video';
  const answer = interrupt<ApprovalRequest, ApprovalAnswer>({ planId: pending.planId, plan: pending.plan, changed: pending.changed, reminder });
  if (answer.action === 'approve') return new Command({ goto: 'dispatch' });
  if (answer.action === 'cancel') return dropped();
  if (answer.action === 'edit') {
    return new Command({
      goto: 'revise',
      update: { intent: { tool: 'refine_video', args: { change: answer.text }, via: 'rule' }, history: [{ role: 'user', text: answer.text }] },
    });
  }
  // Typed while the plan waits: yes / no, or a new message (a change, a question, a new video).
  const text = answer.text.trim();
  if (APPROVE_WORDS.test(text)) return new Command({ goto: 'dispatch' });
  if (CANCEL_WORDS.test(text)) return dropped();
  return new Command({ goto: 'route', update: { turn: text } });
}

async function dispatch(state: ConversationStateType, config: Config): Promise<Command> {
  const pending = state.pending;
  if (!pending) return new Command({ goto: END });
  const { actions } = contextOf(config);
  try {
    const kept = pending.reuseFrom ? unchangedScenes(pending.reuseFrom.plan, pending.plan) : [];
    const reuse = pending.reuseFrom && kept.length ? { jobId: pending.reuseFrom.jobId, scenes: kept } : undefined;
    const job = await actions.dispatch({ dispatchId: pending.planId, plan: pending.plan, voiceName: pending.voiceName, reuse });
    const keptLine = reuse ? ` Keeping ${reuse.scenes.length} of ${pending.plan.scenes.length} scenes from the last video.` : '';
    const line = job.queuePosition && job.queuePosition > 1 ? ` Number ${job.queuePosition} in line.` : '';
    // One-shot use (auto-approve) needs no "approved" line; the status message says it all.
    const note = pending.autoApprove && !keptLine ? [] : say(`Approved: making "${pending.plan.title}".${line}${keptLine}`);
    return new Command({
      goto: END,
      update: {
        pending: null,
        lastJob: { jobId: job.jobId, plan: pending.plan, request: pending.request, voiceName: pending.voiceName },
        outbox: note,
      },
    });
  } catch (error) {
    // Not started (e.g. the daily limit): the plan stays, so it can be approved later - unless
    // nobody is asked (auto-approve), where it is dropped instead of retried in a loop.
    if (!isUserError(error)) throw error;
    if (pending.autoApprove) return new Command({ goto: END, update: { pending: null, outbox: sayError(error) } });
    return new Command({ goto: 'approve', update: { outbox: sayError(error) } });
  }
}

async function answer(state: ConversationStateType, config: Config): Promise<Command> {
  const intent = state.intent;
  const tools = answeringTools(contextOf(config).actions);
  // Each tool checks its own arguments against its zod schema when invoked.
  const chosen = tools[(intent?.tool ?? 'show_help') as AnsweringToolName] as unknown as { invoke(args: unknown): Promise<unknown> };
  const goto = state.pending ? 'approve' : END;
  try {
    const reply = String(await chosen.invoke(intent?.args ?? {}));
    return new Command({ goto, update: { outbox: say(reply), history: [{ role: 'bot', text: reply }] } });
  } catch (error) {
    if (!isUserError(error)) throw error;
    return new Command({ goto, update: { outbox: sayError(error) } });
  }
}

export function buildConversationGraph() {
  return new StateGraph(ConversationState, ConversationContextSchema)
    .addNode('route', route, { ends: ['generate', 'revise', 'answer'] })
    .addNode('generate', generate, { ends: ['approve', END] })
    .addNode('revise', revise, { ends: ['approve', END] })
    .addNode('approve', approve, { ends: ['dispatch', 'revise', 'route', END] })
    .addNode('dispatch', dispatch, { ends: ['approve', END] })
    .addNode('answer', answer, { ends: ['approve', END] })
    .addEdge(START, 'route');
}

export function createConversationGraph(checkpointer: BaseCheckpointSaver) {
  return buildConversationGraph().compile({ checkpointer, name: 'conversation' });
}
export type ConversationGraph = ReturnType<typeof createConversationGraph>;
