// /cancel [job]: stops the user's video (the given one, else the latest in the works); with none in
// the works, their style training (waiting: taken out of the queue; running: the worker stops ComfyUI).
import { SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import { cancelVideoOrTraining } from '../../train.ts';
import { ownerOf, type DiscordCommand, type DiscordContext } from '../context.ts';

export const data = new SlashCommandBuilder()
  .setName('cancel')
  .setDescription('Stop a video (or a style training) that is queued or running')
  .addStringOption((o) => o.setName('job').setDescription('A job id (default: your latest)'));

export async function execute(interaction: ChatInputCommandInteraction, ctx: DiscordContext): Promise<void> {
  const channel = ctx.channelFor(interaction);
  try {
    await channel.acknowledge({ ephemeral: true });
    await channel.reply(await cancelVideoOrTraining(ctx.jobs, ctx.studio.queue, ownerOf(interaction), interaction.options.getString('job') ?? undefined));
  } catch (error) {
    await channel.fail(error);
  }
}

export const cancel: DiscordCommand = { data, execute };
