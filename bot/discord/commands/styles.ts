// /styles list · /styles remove <name>: the user's trained styles (LoRAs), privately.
import { SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import { StyleLibrary } from '../../styles.ts';
import { type DiscordCommand, type DiscordContext } from '../context.ts';

export const data = new SlashCommandBuilder()
  .setName('styles')
  .setDescription('Your trained picture styles')
  .addSubcommand((s) => s.setName('list').setDescription('List your styles'))
  .addSubcommand((s) =>
    s
      .setName('remove')
      .setDescription('Delete one of your styles')
      .addStringOption((o) => o.setName('name').setDescription('The style to delete').setRequired(true)),
  );

export async function execute(interaction: ChatInputCommandInteraction, ctx: DiscordContext): Promise<void> {
  const channel = ctx.channelFor(interaction);
  const owner = { platform: 'discord' as const, userId: interaction.user.id };
  const library = new StyleLibrary(ctx.studio.storage);
  try {
    await channel.acknowledge({ ephemeral: true });
    if (interaction.options.getSubcommand() === 'list') {
      const styles = await library.list(owner);
      await channel.reply(
        styles.length
          ? `Your styles (${styles.length}):\n${styles.map((s) => `• ${s.name} — ${s.images} pictures, on ${s.baseModel}`).join('\n')}`
          : 'You have no styles yet. Train one with /train style name:<name> and 8-40 pictures.',
      );
      return;
    }
    const name = interaction.options.getString('name', true);
    await channel.reply((await library.remove(owner, name)) ? `Deleted your style "${name}".` : `You have no style named "${name}".`);
  } catch (error) {
    await channel.fail(error);
  }
}

export const styles: DiscordCommand = { data, execute };
