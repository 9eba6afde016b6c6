// /start and /help.
import { Composer, type Context } from 'grammy';
import { LIMITS } from '../../../gpu-bridge/contracts/index.ts';
import { VOICE_SECONDS } from '../../uploads/voices.ts';
import { WITHOUT_GPU_NOTE } from '../../format.ts';
import type { TelegramServices } from '../context.ts';

export function helpText(services: TelegramServices): string {
  const c = services.config;
  return [
    'I turn a description into a short narrated video (1280x720).',
    '',
    '• Just write what the video should be about: I show you the plan, you press Approve.',
    `• /generate [voice=NAME] [seconds=${LIMITS.minSeconds}-${LIMITS.maxSeconds}] what it is about — start right away.`,
    `• Send a voice message or an audio file (${VOICE_SECONDS.min}-${VOICE_SECONDS.max} s of speech) with a name as its caption to save your voice; /voice lists them, /voice remove NAME deletes one.`,
    '• Send a photo to use it as your reference picture.',
    '• /status — where your videos are · /cancel — stop the one in the works.',
    '',
    `Limits: ${c.SPINBOT_MAX_RUNNING_JOBS} video(s) in the works at a time, ${c.SPINBOT_DAILY_JOBS || 'no'} daily limit per person.`,
    WITHOUT_GPU_NOTE,
  ].join('\n');
}

export function startFeature(services: TelegramServices): Composer<Context> {
  const feature = new Composer<Context>();
  feature.command('start', (ctx) => ctx.reply(`Hi, I'm MySpinBot. ${helpText(services)}`));
  feature.command('help', (ctx) => ctx.reply(helpText(services)));
  return feature;
}
