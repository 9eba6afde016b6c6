// /train style name:<name> image1..image10 [caption]: a picture style (LoRA) trained on the GPU from
// the user's pictures (8-40: up to 10 here; bot/styles.ts checks the set).
import { SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import { trainStyleFromChat } from '../../train.ts';
import { type DiscordCommand, type DiscordContext } from '../context.ts';

const IMAGE_OPTIONS = 10; // Discord allows 25 options; ten attachments keep the form usable

export const data = new SlashCommandBuilder()
  .setName('train')
  .setDescription('Train something of yours')
  .addSubcommand((s) => {
    s.setName('style')
      .setDescription('A picture style from 8-40 of your pictures (GPU)')
      .addStringOption((o) => o.setName('name').setDescription('A name for the style, e.g. watercolour').setRequired(true).setMaxLength(32));
    for (let n = 1; n <= IMAGE_OPTIONS; n += 1) {
      s.addAttachmentOption((o) => o.setName(`image${n}`).setDescription(`Picture ${n}`).setRequired(n <= 1));
    }
    return s.addStringOption((o) => o.setName('caption').setDescription('What the pictures show, in your words').setMaxLength(300));
  });

export async function execute(interaction: ChatInputCommandInteraction, ctx: DiscordContext): Promise<void> {
  const channel = ctx.channelFor(interaction);
  try {
    await channel.acknowledge({ ephemeral: true });
    const uploads = [];
    for (let n = 1; n <= IMAGE_OPTIONS; n += 1) {
      const image = interaction.options.getAttachment(`image${n}`);
      if (image) uploads.push({ url: image.url, declaredBytes: image.size, name: image.name });
    }
    await trainStyleFromChat(
      { storage: ctx.studio.storage, queue: ctx.studio.queue, channel, downloads: ctx.downloads },
      { platform: 'discord', userId: interaction.user.id, chatId: interaction.channelId },
      interaction.options.getString('name', true),
      uploads,
      interaction.options.getString('caption') ?? undefined,
    );
  } catch (error) {
    await channel.fail(error);
  }
}

export const train: DiscordCommand = { data, execute };
