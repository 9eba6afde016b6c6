// /generate (straight to rendering) and plain text (a plan shown for approval with buttons).
import { Composer, type Context } from 'grammy';
import { LIMITS } from '../../../gpu-bridge/contracts/index.ts';
import { UserError } from '../../../pipeline/errors.ts';
import { describeFailure, type ChatChannel } from '../../channel.ts';
import { formatPlan } from '../../format.ts';
import type { Reservation } from '../../jobs.ts';
import { normalizeVoiceName } from '../../uploads/voices.ts';
import { ownerOf, type TelegramServices } from '../context.ts';

/** "/generate voice=anna seconds=20 why the sky is blue" -> options and the prompt. */
export function parseGenerateArgs(text: string): { prompt: string; voice?: string; seconds?: number } {
  let voice: string | undefined;
  let seconds: number | undefined;
  const rest: string[] = [];
  for (const word of text.trim().split(/\s+/).filter(Boolean)) {
    const option = /^(voice|seconds)=(.+)$/i.exec(word);
    if (!option) {
      rest.push(word);
      continue;
    }
    if (option[1]!.toLowerCase() === 'voice') voice = option[2];
    else {
      seconds = Number(option[2]);
      if (!Number.isFinite(seconds)) {
        throw new UserError('seconds.outOfRange', `seconds= must be a number from ${LIMITS.minSeconds} to ${LIMITS.maxSeconds}; got "${option[2]}".`);
      }
    }
  }
  return { prompt: rest.join(' '), voice, seconds };
}

export function generateFeature(services: TelegramServices): Composer<Context> {
  const feature = new Composer<Context>();
  const { planner, jobs } = services;

  async function startJob(channel: ChatChannel, request: { prompt: string; voice?: string; seconds?: number }, reservation: Reservation) {
    const owner = ownerOf(channel.userId);
    const voiceName = request.voice ? (await services.voices.require(owner, request.voice)).name : undefined;
    const referenceImageKey = (await services.images.current(owner)) ?? undefined;
    const plan = await planner.plan({ prompt: request.prompt, seconds: request.seconds, voiceId: voiceName });
    await jobs.start(channel, { plan, voiceName, referenceImageKey }, reservation);
  }

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
    services.background('generate', async () => {
      try {
        await startJob(channel, request, reservation);
      } catch (error) {
        await channel.finishProgress(`⚠️ ${describeFailure(error)}`);
      } finally {
        reservation.release();
      }
    });
  });

  return feature;
}

/** Plain text is conversation: for now, a request to plan a video, approved with a button. Install last. */
export function conversationFeature(services: TelegramServices): Composer<Context> {
  const feature = new Composer<Context>();
  const { planner, jobs } = services;
  feature.on('message:text', async (ctx) => {
    // In groups only commands are for the bot; conversation is for private chats.
    if (ctx.chat.type !== 'private') return;
    if (ctx.message.text.startsWith('/')) {
      await ctx.reply(`I don't know ${ctx.message.text.split(/\s/)[0]}. Try /help.`);
      return;
    }
    const channel = services.channelFor(ctx.chat.id, ctx.from.id);
    const prompt = ctx.message.text;
    try {
      planner.validate({ prompt });
    } catch (error) {
      await channel.fail(error);
      return;
    }
    await ctx.replyWithChatAction('typing').catch(() => {});
    services.background('plan', async () => {
      try {
        const plan = await planner.plan({ prompt });
        const choice = await channel.ask(formatPlan(plan), [
          { id: 'approve', label: 'Approve', style: 'success' },
          { id: 'cancel', label: 'Cancel', style: 'danger' },
        ]);
        if (choice === 'cancel') return channel.reply('Dropped that plan; nothing was rendered. Describe another video whenever you like.');
        if (choice !== 'approve') return;
        const owner = ownerOf(ctx.from.id);
        const reservation = jobs.reserve(owner);
        try {
          const referenceImageKey = (await services.images.current(owner)) ?? undefined;
          await jobs.start(channel, { plan, referenceImageKey }, reservation);
        } finally {
          reservation.release();
        }
      } catch (error) {
        await channel.fail(error);
      }
    });
  });
  return feature;
}
