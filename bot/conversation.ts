// The conversation agent (agent/conversation/) as every chat front-end uses it: one agent per bot
// process on the studio's Redis, the actions a turn may take for this chat (queue a render, list
// voices, status, cancel), and how a turn's result is shown (replies, the plan with Approve /
// Edit / Cancel buttons). Platform adapters only add how buttons and edits arrive.
import { RedisSaver } from '../agent/checkpoint/redis-saver.ts';
import { ConversationAgent, threadIdFor, type AgentActions, type ApprovalRequest, type TurnResult } from '../agent/conversation/index.ts';
import { UserError } from '../pipeline/errors.ts';
import type { Studio } from '../pipeline/studio.ts';
import type { ChannelButton, ChatChannel } from './channel.ts';
import { renderablePlan } from './doctor.ts';
import { formatPlan } from './format.ts';
import type { JobRunner, Reservation } from './jobs.ts';
import type { Planner } from './planner.ts';
import { StyleLibrary, trainedStyleOf } from './styles.ts';
import { readVoiceProfile, voiceProfileSummary } from './train.ts';
import type { Owner, ReferenceImages, VoiceLibrary } from './uploads/voices.ts';


export function createConversation(studio: Studio, planner: Planner, options: { autoApprove?: boolean } = {}) {
  const saver = new RedisSaver(studio.services.redisUrl);
  const agent = new ConversationAgent({ ...planner.llm, plan: (request) => planner.plan(request) }, saver, options);
  return { agent, close: () => saver.close() };
}

export type PlanAction = 'approve' | 'edit' | 'cancel';

/** Buttons under a plan. The ids carry the plan (a press on an older version is refused) and its user. */
export function planButtons(planId: string, userId: string): ChannelButton[] {
  return [
    { id: `plan:approve:${planId}:${userId}`, label: 'Approve', style: 'success' },
    { id: `plan:edit:${planId}:${userId}`, label: 'Edit', style: 'secondary' },
    { id: `plan:cancel:${planId}:${userId}`, label: 'Cancel', style: 'danger' },
  ];
}

export function parsePlanButton(id: string): { action: PlanAction; planId: string; userId: string } | null {
  const match = /^plan:(approve|edit|cancel):([a-f0-9]{8}):([A-Za-z0-9_-]{1,32})$/.exec(id);
  return match ? { action: match[1] as PlanAction, planId: match[2]!, userId: match[3]! } : null;
}

export const EDIT_PROMPT = 'What should change? For example "shorter", "vertical with music", "more upbeat" or "redo scene 2 with a sunset".';

/**
 * The plan as shown for approval: the plan itself, which scenes changed, and where it would stand
 * in the queue (`ahead`: videos queued or rendering now).
 */
export function formatApproval(approval: ApprovalRequest, ahead?: number): string {
  if (approval.reminder) return `The plan "${approval.plan.title}" is still waiting: Approve, Edit or Cancel.`;
  const lines = [formatPlan(approval.plan)];
  if (approval.changed?.length && approval.changed.length < approval.plan.scenes.length) {
    lines.push(`Changed: scene ${approval.changed.map((i) => i + 1).join(', ')}.`);
  }
  if (ahead !== undefined) lines.push(ahead === 0 ? 'Queue: free, it would start at once.' : `Queue: ${ahead} video${ahead === 1 ? '' : 's'} ahead of it.`);
  return lines.join('\n');
}

/** formatApproval for the plan as it can be rendered here: no moving scenes, and a sentence why, while no motion workflow is ready. */
export async function approvalMessage(approval: ApprovalRequest, studio: Studio, ahead?: number): Promise<string> {
  if (approval.reminder) return formatApproval(approval, ahead);
  const { plan, note } = await renderablePlan(studio.queue, approval.plan);
  return [formatApproval({ ...approval, plan }, ahead), ...(note ? [note] : [])].join('\n');
}

/** Videos queued or rendering now (undefined when the queue cannot be asked). */
export async function videosAhead(studio: Studio): Promise<number | undefined> {
  const counts = await studio.queue.queue.getJobCounts('waiting', 'active', 'prioritized', 'delayed').catch(() => undefined);
  return counts && Object.values(counts).reduce((sum, n) => sum + n, 0);
}

/** Posts a turn's replies, then the plan waiting for approval (with buttons) if there is one. */
export async function presentTurn(channel: ChatChannel, result: TurnResult, studio: Studio): Promise<void> {
  for (const reply of result.replies) await channel.reply(reply);
  for (const error of result.errors) await channel.fail(error);
  if (result.approval) {
    const ahead = result.approval.reminder ? undefined : await videosAhead(studio);
    await channel.reply(await approvalMessage(result.approval, studio, ahead), { buttons: planButtons(result.approval.planId, channel.userId) });
  }
}

export interface ActionDeps {
  studio: Studio;
  jobs: JobRunner;
  voices: VoiceLibrary;
  images?: ReferenceImages;
}

/**
 * What a turn may do in this chat, for this user. `reservation`: a running-job slot the front-end
 * already holds for this request (taken when it arrived, so quick repeats are refused at once).
 */
export function agentActions(channel: ChatChannel, deps: ActionDeps, reservation?: Reservation): AgentActions {
  const owner: Owner = { platform: channel.platform, userId: channel.userId };
  return {
    async dispatch({ dispatchId, plan, voiceName, reuse }) {
      const slot = reservation ?? deps.jobs.reserve(owner);
      try {
        let voice = voiceName;
        if (voice === 'mine') {
          // "in my voice": the most recently saved one.
          const saved = (await deps.voices.list(owner)).sort((a, b) => b.modified.getTime() - a.modified.getTime())[0];
          if (!saved) throw new UserError('voice.notFound', 'You have no saved voice yet: send a 3-30 s voice message first, then ask again.');
          voice = saved.name;
        }
        // "in my style <name>" / a style word naming one of the user's trained styles: its LoRA is applied.
        const trained = await trainedStyleOf(new StyleLibrary(deps.studio.storage), owner, plan.style);
        if (!trained.ok) throw new UserError('style.notFound', trained.message);
        const referenceImageKey = (await deps.images?.current(owner)) ?? undefined;
        // Moving scenes only where a motion workflow is ready (the plan shown said so).
        const { plan: renderable } = await renderablePlan(deps.studio.queue, plan);
        const spec = { plan: { ...renderable, style: trained.planStyle }, voiceName: voice, referenceImageKey, reuse, ...(trained.style ? { style: trained.style } : {}) };
        // The approved plan's id names the job: the same plan dispatched again is the same job.
        const record = await deps.jobs.start(channel, spec, slot, dispatchId);
        const queuePosition = await deps.studio.renders.position(record.jobId).catch(() => null);
        return { jobId: record.jobId, queuePosition };
      } finally {
        slot.release();
      }
    },
    async voices() {
      const saved = await deps.voices.list(owner);
      if (!saved.length) return 'You have no saved voices yet: send a 3-30 s voice message to save one.';
      // Each with its voice profile's summary once the worker has built it (bot/train.ts).
      const described = await Promise.all(saved.map(async (v) => {
        const profile = await readVoiceProfile(deps.studio.storage, v.key).catch(() => null);
        return profile ? `${v.name} (${voiceProfileSummary(profile)})` : v.name;
      }));
      return `Your saved voices: ${described.join(', ')}.`;
    },
    status: () => deps.jobs.status(owner),
    async cancel() {
      const job = await deps.jobs.cancel(owner);
      return `Cancelled "${job.plan.title}" (${job.jobId}).`;
    },
  };
}

/** The thread of this channel's conversation. */
export function threadOf(channel: ChatChannel): string {
  return threadIdFor(channel.platform, channel.chatId, channel.userId);
}
