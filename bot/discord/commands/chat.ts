// /chat message: the conversation on Discord (bots see no plain messages without a privileged
// intent): changes to the plan on screen, "redo scene 2 with a sunset" after a clip, questions.
import { SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import { LIMITS } from '../../../gpu-bridge/contracts/index.ts';
import { agentActions, presentTurn, threadOf } from '../../conversation.ts';
import { languageOf, type DiscordCommand, type DiscordContext } from '../context.ts';

export const data = new SlashCommandBuilder()
  .setName('chat')
  .setDescription('Talk to the bot: change a plan or a made video, or ask something')
  .addStringOption((o) =>
    o.setName('message').setDescription('e.g. "redo scene 2 with a sunset", "shorter", "what can you do?"').setRequired(true).setMaxLength(LIMITS.maxPromptChars),
  );

export async function execute(interaction: ChatInputCommandInteraction, ctx: DiscordContext): Promise<void> {
  const channel = ctx.channelFor(interaction);
  try {
    await channel.acknowledge();
    await ctx.studio.jobs.available();
    const result = await ctx.conversation.message(threadOf(channel), interaction.options.getString('message', true), {
      actions: agentActions(channel, ctx),
      defaults: { language: languageOf(interaction.locale) },
    });
    await presentTurn(channel, result, ctx.studio);
  } catch (error) {
    await channel.fail(error);
  }
}

export const chat: DiscordCommand = { data, execute };
