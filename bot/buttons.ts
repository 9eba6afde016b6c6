// The buttons every chat front-end shows, routed once for all of them: Approve / Edit / Cancel
// under a plan (only its user may press them, and only while that plan still waits), and Cancel /
// Retry / Variation on a job (only its owner; Retry and Variation hold a running-job slot from
// the press on). Adapters only decide how the answer looks on their platform.
import { STALE_PLAN_REPLY } from '../agent/conversation/index.ts';
import { isUserError } from '../pipeline/errors.ts';
import { describeFailure, parseJobButton, type ChatChannel } from './channel.ts';
import { agentActions, parsePlanButton, presentTurn, threadOf } from './conversation.ts';
import type { ChatServices } from './frontends.ts';
import type { Owner } from './uploads/voices.ts';

export type ButtonAction = 'approve' | 'edit' | 'dropPlan' | 'cancel' | 'retry' | 'variation';

export type ButtonRoute =
  /** Not a button this bot knows (any more). */
  | { kind: 'unknown'; text: string }
  /** Refused (someone else's, or a limit): the reason is shown only to whoever pressed it. */
  | { kind: 'refused'; text: string }
  /** The plan no longer waits for an answer: said privately; the plan's buttons can go. */
  | { kind: 'stale'; text: string }
  /**
   * Accepted: `text` answers the press; run() does the work and tells its failures in the chat
   * (it never rejects). Edit has nothing to run: the adapter asks for the change its own way.
   */
  | { kind: 'accepted'; action: ButtonAction; text: string; planId?: string; run: () => Promise<void> };

export const NOT_YOURS_PLAN = 'This plan is for someone else.';
export const NOT_YOURS_JOB = 'Only the person who started this video can do that.';
export const DEAD_BUTTON = 'That button no longer does anything.';

/** Routes a press of button `id` by `presser`; `channel` is the presser's conversation in this chat. */
export async function routeButton(id: string, presser: Owner, services: ChatServices, channel: ChatChannel): Promise<ButtonRoute> {
  const report = (what: string) => (error: unknown) => {
    if (!isUserError(error)) services.log(`${what}: ${(error as Error)?.stack ?? String(error)}`);
    return channel.fail(error).catch(() => {});
  };

  const plan = parsePlanButton(id);
  if (plan) {
    if (plan.userId !== presser.userId) return { kind: 'refused', text: NOT_YOURS_PLAN };
    const thread = threadOf(channel);
    let waiting;
    try {
      waiting = await services.conversation.waitingApproval(thread);
    } catch (error) {
      return { kind: 'refused', text: describeFailure(error) };
    }
    // An older version of the plan (or one already answered).
    if (waiting?.planId !== plan.planId) return { kind: 'stale', text: STALE_PLAN_REPLY };
    if (plan.action === 'edit') return { kind: 'accepted', action: 'edit', text: 'Type your changes', planId: plan.planId, run: async () => {} };
    const action = plan.action;
    return {
      kind: 'accepted',
      action: action === 'approve' ? 'approve' : 'dropPlan',
      text: action === 'approve' ? 'Approve' : 'Cancel',
      planId: plan.planId,
      run: async () => {
        try {
          const result = await services.conversation.decide(thread, { action, planId: plan.planId }, { actions: agentActions(channel, services) });
          await presentTurn(channel, result, services.studio);
        } catch (error) {
          await report(`plan ${action}`)(error);
        }
      },
    };
  }

  const job = parseJobButton(id);
  if (!job) return { kind: 'unknown', text: DEAD_BUTTON };
  let record;
  try {
    record = await services.jobs.record(job.jobId);
  } catch (error) {
    return { kind: 'refused', text: describeFailure(error) };
  }
  if (record && (record.owner.platform !== presser.platform || record.owner.userId !== presser.userId)) return { kind: 'refused', text: NOT_YOURS_JOB };
  if (job.action === 'cancel') {
    return {
      kind: 'accepted',
      action: 'cancel',
      text: 'Cancelling…',
      run: () => services.jobs.cancel(presser, job.jobId).then(() => {}, report('cancel')),
    };
  }
  let reservation: ReturnType<ChatServices['jobs']['reserve']>;
  try {
    reservation = services.jobs.reserve(presser);
  } catch (error) {
    return { kind: 'refused', text: describeFailure(error) };
  }
  const variation = job.action === 'variation';
  return {
    kind: 'accepted',
    action: job.action,
    text: variation ? 'Making a variation…' : 'Making it again…',
    run: () =>
      services.jobs
        .again(channel, job.jobId, variation, reservation)
        .then(() => {}, report(job.action))
        .finally(() => reservation.release()),
  };
}
