// What every Discord command handler gets: the shared services of the front-end.
import type {
  AutocompleteInteraction,
  ChatInputCommandInteraction,
  RepliableInteraction,
  SlashCommandBuilder,
} from 'discord.js';
import type { ChatServices } from '../frontends.ts';
import type { DownloadPolicy } from '../uploads/download.ts';
import type { Owner } from '../uploads/voices.ts';
import type { DiscordChannel } from './channel.ts';

export interface DiscordContext extends ChatServices {
  downloads: DownloadPolicy;
  channelFor(interaction: RepliableInteraction): DiscordChannel;
}

/** One slash command: its definition (registered by deploy-commands.ts) and its handlers. */
export interface DiscordCommand {
  data: Pick<SlashCommandBuilder, 'name' | 'toJSON'>;
  execute(interaction: ChatInputCommandInteraction, ctx: DiscordContext): Promise<void>;
  autocomplete?(interaction: AutocompleteInteraction, ctx: DiscordContext): Promise<void>;
}

export function ownerOf(interaction: { user: { id: string } }): Owner {
  return { platform: 'discord', userId: interaction.user.id };
}

/** Autocomplete choices from the user's saved voices, filtered by what they typed. */
export async function voiceChoices(interaction: AutocompleteInteraction, ctx: DiscordContext): Promise<void> {
  const typed = String(interaction.options.getFocused()).toLowerCase();
  const voices = await ctx.voices.list(ownerOf(interaction));
  const matching = voices.filter((v) => v.name.includes(typed)).slice(0, 25);
  await interaction.respond(matching.map((v) => ({ name: v.name, value: v.name })));
}

/** Discord's locale ("en-US", "pt-BR") as the narration language ("en", "pt"). */
export function languageOf(locale: string | undefined): string | undefined {
  const tag = locale?.toLowerCase();
  return tag && /^[a-z]{2}(-[a-z]{2})?$/.test(tag) ? tag.split('-')[0] : undefined;
}
