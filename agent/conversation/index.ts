// The conversation as front-ends use it: a message in, replies and (maybe) a plan to approve out.
// Turns of one thread run one at a time; threads are independent.
import { Command, type BaseCheckpointSaver } from '@langchain/langgraph';
import type { ChatModelHandle } from '../llm/types.ts';
import { createConversationGraph, type ConversationGraph } from './graph.ts';
import type { ApprovalAnswer, ApprovalRequest, ConversationContext, ConversationStateType, Intent, PendingPlan } from './state.ts';
import type { AgentActions } from './tools.ts';
import { EMPTY_PROMPT_REPLY, normalizeText } from '../normalize.ts';

export type { AgentActions, DispatchRequest } from './tools.ts';
export type { ApprovalAnswer, ApprovalRequest, PendingPlan } from './state.ts';
export { HELP_TEXT } from './tools.ts';
export { APPROVE_WORDS, CANCEL_WORDS } from './graph.ts';

export interface TurnResult {
  /** Replies to post, in order. */
  replies: string[];
  /** What went wrong this turn (one sentence each), to show privately where the platform can. */
  errors: string[];
  /** A plan waiting for Approve / Edit / Cancel, to show with buttons. */
  approval?: ApprovalRequest;
  /** The job this turn queued. */
  dispatchedJobId?: string;
}

export interface TurnOptions {
  actions: AgentActions;
  /** Request fields from the platform (the user's language). */
  defaults?: ConversationContext['defaults'];
  /** Skip the approval step (one-shot use). */
  autoApprove?: boolean;
  signal?: AbortSignal;
}

export const STALE_PLAN_REPLY = 'That plan is no longer waiting for an answer (it was approved, changed or dropped).';

/** One thread per chat and user: people in one group chat each have their own conversation. */
export function threadIdFor(platform: string, chatId: string, userId: string): string {
  return `${platform}:${chatId}:${userId}`;
}

export class ConversationAgent {
  private readonly graph: ConversationGraph;
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly llm: Pick<ChatModelHandle, 'model'> & Partial<Pick<ChatModelHandle, 'ready'>> & { plan?: ConversationContext['plan'] },
    checkpointer: BaseCheckpointSaver,
    private readonly options: { autoApprove?: boolean } = {},
  ) {
    this.graph = createConversationGraph(checkpointer);
  }

  /** A message from the user: a new request, or an answer to the plan on screen. */
  message(threadId: string, raw: string, turn: TurnOptions): Promise<TurnResult> {
    // Checks and the router read what a person sees (agent/normalize.ts); nothing visible, nothing to do.
    const text = normalizeText(raw);
    if (!text) return Promise.resolve({ replies: [], errors: [EMPTY_PROMPT_REPLY] });
    return this.serial(threadId, async () => {
      const before = await this.snapshot(threadId);
      const input = before.waiting ? new Command({ resume: { action: 'text', text } satisfies ApprovalAnswer }) : { turn: text };
      return this.run(this.config(threadId, turn), input, before);
    });
  }

  /** A command with its options already parsed (e.g. /generate): planned without asking the router. */
  command(threadId: string, text: string, intent: Omit<Intent, 'via'>, turn: TurnOptions): Promise<TurnResult> {
    return this.serial(threadId, async () => {
      const direct: Intent = { ...intent, via: 'rule' };
      const config = this.config(threadId, turn);
      let before = await this.snapshot(threadId);
      if (before.waiting) {
        // A command replaces a plan still waiting: the old plan is dropped first (and that reply not shown).
        await this.graph.invoke(new Command({ resume: { action: 'cancel' } satisfies ApprovalAnswer }), config);
        before = await this.snapshot(threadId);
      }
      return this.run(config, { turn: text, direct }, before);
    });
  }

  /** A press of Approve / Edit / Cancel on the plan `planId` (a press on an older plan is refused). */
  decide(threadId: string, answer: Exclude<ApprovalAnswer, { action: 'text' }> & { planId: string }, turn: TurnOptions): Promise<TurnResult> {
    return this.serial(threadId, async () => {
      const before = await this.snapshot(threadId);
      if (before.waiting?.planId !== answer.planId) return { replies: [], errors: [STALE_PLAN_REPLY] };
      const resume = answer.action === 'edit' ? { ...answer, text: normalizeText(answer.text) } : answer;
      if (resume.action === 'edit' && !resume.text) return { replies: [], errors: [EMPTY_PROMPT_REPLY] };
      return this.run(this.config(threadId, turn), new Command({ resume }), before);
    });
  }

  /** The plan waiting for approval in this thread, if any (e.g. to show it again after a restart). */
  async waitingApproval(threadId: string): Promise<ApprovalRequest | undefined> {
    return (await this.snapshot(threadId)).waiting;
  }

  async pending(threadId: string): Promise<PendingPlan | null> {
    return (await this.snapshot(threadId)).values.pending ?? null;
  }

  /** The thread's state and the approval it waits for, read once per turn. */
  private async snapshot(threadId: string): Promise<{ values: Partial<ConversationStateType>; waiting?: ApprovalRequest }> {
    const state = await this.graph.getState({ configurable: { thread_id: threadId } });
    const waiting = state.tasks.flatMap((task) => task.interrupts).map((i) => i.value as ApprovalRequest)[0];
    return { values: state.values as Partial<ConversationStateType>, waiting };
  }

  private config(threadId: string, turn: TurnOptions) {
    const context: ConversationContext = {
      model: this.llm.model,
      ready: this.llm.ready,
      plan: this.llm.plan,
      actions: turn.actions,
      defaults: turn.defaults,
      autoApprove: turn.autoApprove ?? this.options.autoApprove,
    };
    return { configurable: { thread_id: threadId }, context, ...(turn.signal ? { signal: turn.signal } : {}) };
  }

  private async run(
    config: ReturnType<ConversationAgent['config']>,
    input: Command | { turn: string; direct?: Intent },
    before: { values: Partial<ConversationStateType> },
  ): Promise<TurnResult> {
    const lastSeq = before.values.outbox?.at(-1)?.seq ?? 0;
    await this.graph.invoke(input as never, config);
    const after = await this.snapshot(config.configurable.thread_id);
    const outbox = after.values.outbox ?? [];
    const lastJob = after.values.lastJob;
    const added = outbox.filter((m) => m.seq > lastSeq);
    return {
      replies: added.filter((m) => !m.error).map((m) => m.text),
      errors: added.filter((m) => m.error).map((m) => m.text),
      approval: after.waiting,
      dispatchedJobId: lastJob && lastJob.jobId !== before.values.lastJob?.jobId ? lastJob.jobId : undefined,
    };
  }

  private serial<T>(threadId: string, step: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(threadId) ?? Promise.resolve();
    const result = previous.then(step, step);
    const tail = result.catch(() => {});
    this.queues.set(threadId, tail);
    void tail.then(() => {
      if (this.queues.get(threadId) === tail) this.queues.delete(threadId);
    });
    return result;
  }
}
