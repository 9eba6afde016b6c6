// The grammY bot: an allow-list gate, then one Composer per feature, inside an error boundary.
// The plain-text conversation comes last so that commands are matched first.
import { recordChatCommand, secondsSince } from '../../metrics/index.ts';
import { Bot, type Context } from 'grammy';
import type { BotCommand } from 'grammy/types';
import { checkTelegramAccess } from '../access.ts';
import { describeFailure } from '../channel.ts';
import type { TelegramServices } from './context.ts';
import { conversationFeature, generateFeature } from './features/generate.ts';
import { jobsFeature } from './features/jobs.ts';
import { startFeature } from './features/start.ts';
import { trainFeature } from './features/train.ts';
import { uploadsFeature } from './features/uploads.ts';

/** The command menu published with setMyCommands. */
export const TELEGRAM_COMMANDS: BotCommand[] = [
  { command: 'start', description: 'What I do' },
  { command: 'help', description: 'How to use me' },
  { command: 'generate', description: 'Make a video: /generate [voice=NAME] [seconds=N] what it is about' },
  { command: 'voice', description: 'Your saved voices: /voice, /voice remove NAME' },
  { command: 'status', description: 'Where your videos are' },
  { command: 'cancel', description: 'Stop the video in the works' },
  { command: 'train', description: 'Train a picture style: /train NAME, then 8-40 pictures' },
  { command: 'styles', description: 'Your trained styles: /styles, /styles remove NAME' },
];

const KNOWN_COMMANDS = new Set(TELEGRAM_COMMANDS.map((c) => c.command));

export function createBot(services: TelegramServices): Bot<Context> {
  const bot = new Bot<Context>(services.token, { client: { apiRoot: services.config.TELEGRAM_API_ROOT } });

  // Allow-list first: a refused user gets one clear answer and nothing else happens.
  bot.use(async (ctx, next) => {
    const userId = ctx.from?.id;
    const chatId = ctx.chat?.id ?? userId;
    if (userId === undefined || chatId === undefined) return;
    try {
      checkTelegramAccess(services.config, { userId: String(userId), chatId: String(chatId) });
    } catch (error) {
      if (ctx.callbackQuery) await ctx.answerCallbackQuery({ text: describeFailure(error), show_alert: true });
      else if (ctx.chat) await ctx.reply(`⚠️ ${describeFailure(error)}`);
      return;
    }
    await next();
  });

  // How long each update takes to be answered (the ack users wait for; slow work runs in the background).
  bot.use(async (ctx, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const text = ctx.message?.text;
      // Labels from a fixed set, never the user's own words (each new label would be a new series).
      const typed = text?.startsWith('/') ? text.slice(1).split(/[\s@]/)[0]!.toLowerCase() : undefined;
      const command = typed !== undefined ? (KNOWN_COMMANDS.has(typed) ? typed : 'other') : ctx.callbackQuery ? 'button' : ctx.message?.voice || ctx.message?.audio || ctx.message?.photo || ctx.message?.document ? 'upload' : 'text';
      recordChatCommand('telegram', command, secondsSince(started));
    }
  });

  const features = bot.errorBoundary(
    async (error) => {
      services.log(`update ${error.ctx.update.update_id}: ${(error.error as Error)?.stack ?? String(error.error)}`);
      if (error.ctx.callbackQuery) await error.ctx.answerCallbackQuery().catch(() => {});
      else if (error.ctx.chat) await error.ctx.reply(`⚠️ ${describeFailure(error.error)}`).catch(() => {});
    },
  );
  features.use(startFeature(services));
  features.use(generateFeature(services));
  features.use(trainFeature(services));
  features.use(uploadsFeature(services));
  features.use(jobsFeature(services));
  features.use(conversationFeature(services));

  bot.catch((error) => services.log(`unhandled: ${String(error.error)}`));
  return bot;
}
