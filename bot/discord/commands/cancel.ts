// /cancel [job]: stops the user's video (the given one, else the latest in the works).
import { SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import { ownerOf, type DiscordCommand, type DiscordContext } from '../context.ts';

export const data = new SlashCommandBuilder()
  .setName('cancel')
  .setDescription('Stop a video that is queued or rendering')
  .addStringOption((o) => o.setName('job').setDescription('A job id (default: your latest)'));

export async function execute(interaction: ChatInputCommandInteraction, ctx: DiscordContext): Promise<void> {
  const channel = ctx.channelFor(interaction);
  try {
    await channel.acknowledge({ ephemeral: true });
    const job = await ctx.jobs.cancel(ownerOf(interaction), interaction.options.getString('job') ?? undefined);
    await channel.reply(`Cancelled "${job.plan.title}" (${job.jobId}).`);
  } catch (error) {
    await channel.fail(error);
  }
}

export const cancel: DiscordCommand = { data, execute };
