// /status, /cancel and the buttons: Approve / Cancel on a plan, Cancel while running, Retry and
// Variation on a finished clip. Every callback query is answered.
import { Composer, type Context } from 'grammy';
import { isUserError } from '../../../pipeline/errors.ts';
import { clip, describeFailure, parseJobButton, PendingAsks } from '../../channel.ts';
import { answerAskCallback } from '../channel.ts';
import { STALE_PLAN_REPLY } from '../../../agent/conversation/index.ts';
import { agentActions, EDIT_PROMPT, parsePlanButton, presentTurn, threadOf } from '../../conversation.ts';
import { ownerOf, type TelegramServices } from '../context.ts';

export function jobsFeature(services: TelegramServices): Composer<Context> {
  const feature = new Composer<Context>();
  const { jobs } = services;

  feature.command('status', async (ctx) => {
    if (!ctx.chat || !ctx.from) return;
    const channel = services.channelFor(ctx.chat.id, ctx.from.id);
    try {
      await channel.reply(await jobs.status(ownerOf(ctx.from.id), ctx.match.trim() || undefined));
    } catch (error) {
      await channel.fail(error);
    }
  });

  feature.command('cancel', async (ctx) => {
    if (!ctx.chat || !ctx.from) return;
    const channel = services.channelFor(ctx.chat.id, ctx.from.id);
    const owner = ownerOf(ctx.from.id);
    const jobId = ctx.match.trim() || undefined;
    services.background('cancel', async () => {
      try {
        const job = await jobs.cancel(owner, jobId);
        await channel.reply(`Cancelled "${job.plan.title}" (${job.jobId}).`);
      } catch (error) {
        await channel.fail(error);
      }
    });
  });

  feature.on('callback_query:data', async (ctx) => {
    const data = ctx.callbackQuery.data;
    if (PendingAsks.isAskId(data)) return answerAskCallback(ctx, services.asks);
    const planPress = parsePlanButton(data);
    if (planPress) return answerPlanButton(ctx, services, planPress);
    const action = parseJobButton(data);
    if (!action) return void (await ctx.answerCallbackQuery({ text: 'That button no longer does anything.' }));
    const owner = ownerOf(ctx.from.id);
    const job = jobs.get(action.jobId);
    if (job && job.owner.userId !== owner.userId) {
      return void (await ctx.answerCallbackQuery({ text: 'Only the person who started this video can do that.', show_alert: true }));
    }
    if (action.action === 'cancel') {
      await ctx.answerCallbackQuery({ text: 'Cancelling…' });
      services.background('cancel', async () => {
        try {
          await jobs.cancel(owner, action.jobId);
        } catch (error) {
          if (!isUserError(error)) throw error;
          await services.channelFor(ctx.chat?.id ?? ctx.from.id, ctx.from.id).fail(error);
        }
      });
      return;
    }
    const chatId = ctx.chat?.id ?? ctx.from.id;
    const channel = services.channelFor(chatId, ctx.from.id);
    let reservation;
    try {
      reservation = jobs.reserve(owner);
    } catch (error) {
      return void (await ctx.answerCallbackQuery({ text: describeFailure(error), show_alert: true }));
    }
    await ctx.answerCallbackQuery({ text: action.action === 'retry' ? 'Making it again…' : 'Making a variation…' });
    const held = reservation;
    services.background(action.action, async () => {
      try {
        await jobs.again(channel, action.jobId, action.action === 'variation', held);
      } catch (error) {
        await channel.fail(error);
      } finally {
        held.release();
      }
    });
  });
  return feature;
}

/** Approve / Edit / Cancel under a plan: the press is answered, the plan keeps the choice and loses its buttons. */
async function answerPlanButton(ctx: Context, services: TelegramServices, press: NonNullable<ReturnType<typeof parsePlanButton>>): Promise<void> {
  if (!ctx.from || String(ctx.from.id) !== press.userId) {
    return void (await ctx.answerCallbackQuery({ text: 'This plan is for someone else.', show_alert: true }));
  }
  const labels = { approve: 'Approve', edit: 'Edit', cancel: 'Cancel' } as const;
  const channel = services.channelFor(ctx.chat?.id ?? ctx.from.id, ctx.from.id);
  const thread = threadOf(channel);
  const message = ctx.callbackQuery?.message;
  const waiting = await services.conversation.waitingApproval(thread);
  if (waiting?.planId !== press.planId) {
    // An older version of the plan (or one already answered): say so, leave the message alone.
    await ctx.answerCallbackQuery({ text: STALE_PLAN_REPLY, show_alert: true });
    if (message) await ctx.api.editMessageReplyMarkup(message.chat.id, message.message_id).catch(() => {});
    return;
  }
  await ctx.answerCallbackQuery({ text: press.action === 'edit' ? 'Type your changes' : labels[press.action] });
  if (message && 'text' in message && message.text !== undefined) {
    await ctx.api.editMessageText(message.chat.id, message.message_id, clip(`${message.text}\n\n→ ${labels[press.action]}`, 4096)).catch(() => {});
  }
  if (press.action === 'edit') {
    services.editing.set(thread, press.planId);
    await channel.reply(EDIT_PROMPT);
    return;
  }
  services.background(`plan-${press.action}`, async () => {
    try {
      const result = await services.conversation.decide(thread, { action: press.action as 'approve' | 'cancel', planId: press.planId }, { actions: agentActions(channel, services) });
      await presentTurn(channel, result, services.studio);
    } catch (error) {
      await channel.fail(error);
    }
  });
}
