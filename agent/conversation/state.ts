// The conversation's checkpointed state (one thread per chat and user) and its per-turn context.
import { Annotation } from '@langchain/langgraph';
import type { ScriptPlan } from '../../gpu-bridge/contracts/index.ts';
import type { PlannerChatModel } from '../llm/types.ts';
import type { PlanRequest } from '../state.ts';
import type { AgentActions, ToolName } from './tools.ts';

/** A plan shown to the user and waiting for Approve / Edit / Cancel. */
export interface PendingPlan {
  /** Names this version of the plan; buttons carry it, so a press on an outdated plan is noticed. */
  planId: string;
  request: PlanRequest;
  plan: ScriptPlan;
  voiceName?: string;
  /**
   * Refining a made clip: that job and its plan. Which scenes can be reused is worked out against
   * it when the plan is approved, however many edits came in between.
   */
  reuseFrom?: { jobId: string; plan: ScriptPlan };
  /** 0-based scenes that differ from the plan this one revised (shown to the user). */
  changed?: number[];
  /** Made on a turn with auto-approve: rendered without asking (decided once, kept on resume). */
  autoApprove?: boolean;
}

/** The last video dispatched in this thread: what "redo scene 2" refers to. */
export interface LastJob {
  jobId: string;
  plan: ScriptPlan;
  request: PlanRequest;
  voiceName?: string;
}

export interface Intent {
  tool: ToolName;
  args: Record<string, unknown>;
  /** 'rule' when the words were unambiguous, 'model' when the chat model chose. */
  via: 'rule' | 'model';
}

export interface HistoryEntry {
  role: 'user' | 'bot';
  text: string;
}

export interface Outgoing {
  seq: number;
  text: string;
  /** Something went wrong (a limit, a length out of range): shown privately where possible. */
  error?: boolean;
}

/** What the approval interrupt shows; the front-end turns it into a message with buttons. */
export interface ApprovalRequest {
  planId: string;
  plan: ScriptPlan;
  changed?: number[];
  /** True when the same plan is asked about again after a side question (show it briefly). */
  reminder: boolean;
}

/** How a front-end resumes the approval interrupt. */
export type ApprovalAnswer =
  | { action: 'approve'; planId?: string }
  | { action: 'cancel'; planId?: string }
  | { action: 'edit'; text: string; planId?: string }
  /** A message typed while the plan waits: approval words, a change, or something else. */
  | { action: 'text'; text: string };

const HISTORY_TURNS = 12;
const OUTBOX_KEPT = 30;

export const ConversationState = Annotation.Root({
  /** The user's latest message. */
  turn: Annotation<string>,
  history: Annotation<HistoryEntry[]>({
    reducer: (all, added) => [...all, ...added].slice(-HISTORY_TURNS),
    default: () => [],
  }),
  intent: Annotation<Intent | undefined>,
  /** An intent given by a command (e.g. /generate with options): routing is skipped once. */
  direct: Annotation<Intent | null>({ reducer: (_, next) => next, default: () => null }),
  pending: Annotation<PendingPlan | null>({ reducer: (_, next) => next, default: () => null }),
  lastJob: Annotation<LastJob | null>({ reducer: (_, next) => next, default: () => null }),
  /** Replies to the user, numbered so a front-end posts each exactly once. */
  outbox: Annotation<Outgoing[], Array<Omit<Outgoing, 'seq'>>>({
    reducer: (all, added) => {
      let seq = all.at(-1)?.seq ?? 0;
      return [...all, ...added.map((m) => ({ ...m, seq: ++seq }))].slice(-OUTBOX_KEPT);
    },
    default: () => [],
  }),
});
export type ConversationStateType = typeof ConversationState.State;
export type ConversationUpdate = typeof ConversationState.Update;

/** Per-turn dependencies (LangGraph's `context`): not checkpointed, supplied again on every turn. */
export const ConversationContextSchema = Annotation.Root({
  model: Annotation<PlannerChatModel>,
  ready: Annotation<(() => Promise<void>) | undefined>,
  actions: Annotation<AgentActions>,
  autoApprove: Annotation<boolean | undefined>,
  /** Plans a request; default: the planner graph with `model` (front-end tests pass a fake planner). */
  plan: Annotation<((request: PlanRequest, signal?: AbortSignal) => Promise<ScriptPlan>) | undefined>,
  /** Request fields from the platform, e.g. the user's language. */
  defaults: Annotation<Partial<PlanRequest> | undefined>,
});
export type ConversationContext = typeof ConversationContextSchema.State;
