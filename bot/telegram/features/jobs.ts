// /status, /cancel and the buttons: Approve / Cancel on a plan, Cancel while running, Retry and
// Variation on a finished clip. Every callback query is answered.
import { Composer, type Context } from 'grammy';
import { routeButton } from '../../buttons.ts';
import { clip, PendingAsks } from '../../channel.ts';
import { answerAskCallback } from '../channel.ts';
import { EDIT_PROMPT, threadOf } from '../../conversation.ts';
import { ownerOf, type TelegramServices } from '../context.ts';
import { cancelVideoOrTraining } from '../../train.ts';

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
        // No video in the works: a style training is what /cancel stops then.
        await channel.reply(await cancelVideoOrTraining(jobs, services.studio.queue, owner, jobId));
      } catch (error) {
        await channel.fail(error);
      }
    });
  });

  feature.on('callback_query:data', async (ctx) => {
    const data = ctx.callbackQuery.data;
    if (PendingAsks.isAskId(data)) return answerAskCallback(ctx, services.asks);
    const channel = services.channelFor(ctx.chat?.id ?? ctx.from.id, ctx.from.id);
    const route = await routeButton(data, ownerOf(ctx.from.id), services, channel);
    const message = ctx.callbackQuery.message;
    if (route.kind !== 'accepted') {
      await ctx.answerCallbackQuery({ text: route.text, show_alert: route.kind !== 'unknown' });
      // A stale plan loses its buttons; its text stays as it was.
      if (route.kind === 'stale' && message) await ctx.api.editMessageReplyMarkup(message.chat.id, message.message_id).catch(() => {});
      return;
    }
    await ctx.answerCallbackQuery({ text: route.text });
    if (route.planId && message && 'text' in message && message.text !== undefined) {
      // The plan keeps the choice and loses its buttons.
      const label = { approve: 'Approve', edit: 'Edit', dropPlan: 'Cancel' }[route.action as 'approve' | 'edit' | 'dropPlan'];
      await ctx.api.editMessageText(message.chat.id, message.message_id, clip(`${message.text}\n\n→ ${label}`, 4096)).catch(() => {});
    }
    if (route.action === 'edit') {
      await services.editing.set(threadOf(channel), route.planId!);
      await channel.reply(EDIT_PROMPT);
      return;
    }
    services.background(route.action, route.run);
  });
  return feature;
}
