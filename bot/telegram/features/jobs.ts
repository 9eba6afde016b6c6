// /status, /cancel and the buttons: Approve / Cancel on a plan, Cancel while running, Retry and
// Variation on a finished clip. Every callback query is answered.
import { Composer, type Context } from 'grammy';
import { isUserError } from '../../../pipeline/errors.ts';
import { describeFailure, parseJobButton, PendingAsks } from '../../channel.ts';
import { answerAskCallback } from '../channel.ts';
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
