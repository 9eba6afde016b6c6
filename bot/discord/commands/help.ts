// /help: what the bot does and how to use it (private).
import { MessageFlags, SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import { LIMITS } from '../../../gpu-bridge/contracts/index.ts';
import { VOICE_SECONDS } from '../../uploads/voices.ts';
import { WITHOUT_GPU_NOTE } from '../../format.ts';
import type { DiscordCommand, DiscordContext } from '../context.ts';

export const data = new SlashCommandBuilder().setName('help').setDescription('How to use MySpinBot');

export function helpText(ctx: DiscordContext): string {
  return [
    'MySpinBot turns a description into a short narrated video (1280x720; say "vertical" or "square" for other shapes).',
    `• /generate prompt:<what it is about> [seconds:${LIMITS.minSeconds}-${LIMITS.maxSeconds}] [voice:<saved voice>] [style] [image] [voice_sample] [auto_approve] — I show the plan with Approve / Edit / Cancel, then edit my reply as the video renders and post the MP4 with Retry / Variation buttons.`,
    '• /chat message:<text> — change the plan or the video just made ("shorter", "vertical with music", "redo scene 2 with a sunset"), or ask me something',
    `• /voice add sample:<audio> name:<name> — save a voice from ${VOICE_SECONDS.min}-${VOICE_SECONDS.max} s of speech · /voice list · /voice remove`,
    '• /status [job] — where your videos are · /cancel [job] — stop one',
    `Limits: ${ctx.config.SPINBOT_MAX_RUNNING_JOBS} video(s) in the works at a time, ${ctx.config.SPINBOT_DAILY_JOBS || 'no'} daily limit per person; uploads up to ${ctx.config.SPINBOT_MAX_UPLOAD_MB} MB.`,
    WITHOUT_GPU_NOTE,
  ].join('\n');
}

export async function execute(interaction: ChatInputCommandInteraction, ctx: DiscordContext): Promise<void> {
  await interaction.reply({ content: helpText(ctx), flags: MessageFlags.Ephemeral });
}

export const help: DiscordCommand = { data, execute };
