// /status [job]: where the user's videos are (queued / stage and percent / done), privately.
import { SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import { ownerOf, type DiscordCommand, type DiscordContext } from '../context.ts';

export const data = new SlashCommandBuilder()
  .setName('status')
  .setDescription('Where your videos are')
  .addStringOption((o) => o.setName('job').setDescription('A job id (default: all of yours)'));

export async function execute(interaction: ChatInputCommandInteraction, ctx: DiscordContext): Promise<void> {
  const channel = ctx.channelFor(interaction);
  try {
    await channel.acknowledge({ ephemeral: true });
    await channel.reply(await ctx.jobs.status(ownerOf(interaction), interaction.options.getString('job') ?? undefined));
  } catch (error) {
    await channel.fail(error);
  }
}

export const status: DiscordCommand = { data, execute };
