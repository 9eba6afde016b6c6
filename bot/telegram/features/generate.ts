// /generate (straight to rendering) and plain text (a plan shown for approval with buttons).
import { Composer, type Context } from 'grammy';
import { LIMITS } from '../../../gpu-bridge/contracts/index.ts';
import { parseSecondsValue } from '../../../agent/nodes/understand.ts';
import { normalizeText } from '../../../agent/normalize.ts';
import { isUserError, UserError } from '../../../pipeline/errors.ts';
import { APPROVE_WORDS, CANCEL_WORDS, STALE_PLAN_REPLY } from '../../../agent/conversation/index.ts';
import { agentActions, presentTurn, threadOf } from '../../conversation.ts';
import type { Reservation } from '../../jobs.ts';
import { normalizeVoiceName } from '../../uploads/voices.ts';
import { presenterDefaults } from '../../uploads/presenter.ts';
import { ownerOf, type TelegramServices } from '../context.ts';

const PLANNING_FAILED = 'Planning failed on our side (the error was logged); please try again in a minute.';

/** "/generate voice=anna seconds=20 why the sky is blue" -> options and the prompt. */
export function parseGenerateArgs(text: string): { prompt: string; voice?: string; seconds?: number } {
  let voice: string | undefined;
  let seconds: number | undefined;
  const rest: string[] = [];
  // What a person sees (agent/normalize.ts): the status title and every check read the same text.
  for (const word of normalizeText(text).split(' ').filter(Boolean)) {
    const option = /^(voice|seconds)=(.+)$/i.exec(word);
    if (!option) {
      rest.push(word);
      continue;
    }
    if (option[1]!.toLowerCase() === 'voice') voice = option[2];
    else {
      try {
        // The rule every place a length is written follows: negative, zero, too long, "0x10" and "1e1" are refused.
        seconds = parseSecondsValue(option[2]!);
      } catch (error) {
        throw new UserError('seconds.outOfRange', `seconds= must be a number from ${LIMITS.minSeconds} to ${LIMITS.maxSeconds}; got "${option[2]}".`, { cause: error });
      }
    }
  }
  return { prompt: rest.join(' '), voice, seconds };
}

export function generateFeature(services: TelegramServices): Composer<Context> {
  const feature = new Composer<Context>();
  const { planner, jobs } = services;

  // /generate is one-shot: planned and rendered at once (plain text asks for approval first).
  feature.command('generate', async (ctx) => {
    if (!ctx.chat || !ctx.from) return;
    const channel = services.channelFor(ctx.chat.id, ctx.from.id);
    let request: ReturnType<typeof parseGenerateArgs>;
    let reservation: Reservation;
    try {
      request = parseGenerateArgs(ctx.match);
      if (!request.prompt) throw new UserError('prompt.empty', 'Tell me what the video is about: /generate why the sky is blue');
      planner.validate({ prompt: request.prompt, seconds: request.seconds });
      if (request.voice) normalizeVoiceName(request.voice);
      reservation = jobs.reserve(ownerOf(ctx.from.id));
    } catch (error) {
      await channel.fail(error);
      return;
    }
    // The acknowledgement: the status message, edited from here on.
    await channel.progress({ title: request.prompt.slice(0, 80), overall: 0, message: `Planning with ${planner.label}` });
    const language = ctx.from.language_code;
    services.background('generate', async () => {
      try {
        // Redis down: one sentence at once, rather than a planner waiting on the conversation store.
        await services.studio.jobs.available();
        if (request.voice) await services.voices.require(ownerOf(channel.userId), request.voice);
        const args = { prompt: request.prompt, seconds: request.seconds, voice: request.voice };
        // "/generate ... presented by me": the photo sent before is checked into the presenter first.
        const presenter = await presenterDefaults(services.studio, services.images, ownerOf(channel.userId), request.prompt);
        if (presenter.note) await channel.reply(presenter.note);
        const result = await services.conversation.command(threadOf(channel), request.prompt, { tool: 'generate_video', args }, {
          actions: agentActions(channel, services, reservation),
          autoApprove: true,
          defaults: { language, ...presenter.request },
        });
        if (!result.dispatchedJobId) await channel.finishProgress(`⚠️ ${[...result.errors, ...result.replies].join(' ') || 'Nothing was made.'}`);
      } catch (error) {
        // The status message always ends with what happened; what is not the user's doing is logged.
        if (!isUserError(error)) services.log(`generate: ${(error as Error)?.stack ?? String(error)}`);
        await channel.finishProgress(`⚠️ ${isUserError(error) ? error.message : PLANNING_FAILED}`);
      } finally {
        reservation.release();
      }
    });
  });

  return feature;
}

/** Plain text is conversation (private chats): requests, changes, questions. Install last. */
export function conversationFeature(services: TelegramServices): Composer<Context> {
  const feature = new Composer<Context>();
  feature.on('message:text', async (ctx) => {
    // In groups only commands are for the bot; conversation is for private chats.
    if (ctx.chat.type !== 'private') return;
    if (ctx.message.text.startsWith('/')) {
      await ctx.reply(`I don't know ${ctx.message.text.split(/\s/)[0]}. Try /help.`);
      return;
    }
    const channel = services.channelFor(ctx.chat.id, ctx.from.id);
    const text = normalizeText(ctx.message.text);
    if (text.length > LIMITS.maxPromptChars) {
      await channel.fail(new UserError('prompt.tooLong', `That message is ${text.length} characters long; please keep it under ${LIMITS.maxPromptChars}.`));
      return;
    }
    await ctx.replyWithChatAction('typing').catch(() => {});
    const thread = threadOf(channel);
    const turn = { actions: agentActions(channel, services), defaults: { language: ctx.from.language_code } };
    services.background('conversation', async () => {
      try {
        await services.studio.jobs.available();
        const editing = await services.editing.take(thread);
        // After Edit, the next message is the change, unless it is a plain yes / no, or that plan
        // is gone by now (then it is an ordinary message).
        const asEdit = editing && !APPROVE_WORDS.test(text) && !CANCEL_WORDS.test(text);
        // "Present it yourself": the photo sent before is checked into the presenter first (or refused in one sentence).
        const presenter = await presenterDefaults(services.studio, services.images, { platform: channel.platform, userId: channel.userId }, text);
        if (presenter.note) await channel.reply(presenter.note);
        const asked = { ...turn, defaults: { ...turn.defaults, ...presenter.request } };
        let result = asEdit ? await services.conversation.decide(thread, { action: 'edit', text, planId: editing }, asked) : undefined;
        if (!result || result.errors.includes(STALE_PLAN_REPLY)) result = await services.conversation.message(thread, text, asked);
        await presentTurn(channel, result, services.studio);
      } catch (error) {
        await channel.fail(error);
      }
    });
  });
  return feature;
}
