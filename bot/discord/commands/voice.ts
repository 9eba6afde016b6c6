// /voice add <sample> <name> · /voice list · /voice remove <name>: the user's saved voices.
// Every answer is private (ephemeral): a voice library is nobody else's business.
import { MessageFlags, SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import { checkDeclaredSize } from '../../uploads/download.ts';
import { normalizeVoiceName, VOICE_SECONDS } from '../../uploads/voices.ts';
import { heardLine } from '../../../gpu-bridge/transcribe.ts';
import { tellVoiceProfile } from '../../train.ts';
import { ownerOf, voiceChoices, type DiscordCommand, type DiscordContext } from '../context.ts';

export const data = new SlashCommandBuilder()
  .setName('voice')
  .setDescription('Your saved voices')
  .addSubcommand((s) =>
    s
      .setName('add')
      .setDescription(`Save a voice from a ${VOICE_SECONDS.min}-${VOICE_SECONDS.max} s sample of speech`)
      .addAttachmentOption((o) => o.setName('sample').setDescription('An audio file or voice message').setRequired(true))
      .addStringOption((o) => o.setName('name').setDescription('A name for it, e.g. anna').setRequired(true).setMaxLength(32)),
  )
  .addSubcommand((s) => s.setName('list').setDescription('List your saved voices'))
  .addSubcommand((s) =>
    s
      .setName('remove')
      .setDescription('Delete one of your saved voices')
      .addStringOption((o) => o.setName('name').setDescription('The voice to delete').setRequired(true).setAutocomplete(true)),
  );

export async function execute(interaction: ChatInputCommandInteraction, ctx: DiscordContext): Promise<void> {
  const channel = ctx.channelFor(interaction);
  const owner = ownerOf(interaction);
  const sub = interaction.options.getSubcommand();
  try {
    if (sub === 'add') {
      const sample = interaction.options.getAttachment('sample', true);
      const rawName = interaction.options.getString('name', true);
      const source = { url: sample.url, declaredBytes: sample.size, name: sample.name };
      // Refusals that need no download are answered at once.
      normalizeVoiceName(rawName);
      checkDeclaredSize(source, ctx.downloads);
      await channel.acknowledge({ ephemeral: true });
      const saved = await ctx.voices.addFromUpload(owner, rawName, source, ctx.downloads);
      await channel.reply(
        `${saved.replaced ? 'Replaced' : 'Saved'} your voice '${saved.name}' (${saved.seconds.toFixed(1)} s of speech). ` +
          `Use it with /generate voice:${saved.name}. Cloning it needs a GPU worker; until one is connected, videos are narrated by the built-in voice.` +
          heardLine(saved.transcript),
      );
      // Private like the reply above: the summary quotes the user's recording.
      tellVoiceProfile(saved, (content) => interaction.followUp({ content, flags: MessageFlags.Ephemeral }));
      return;
    }
    await channel.acknowledge({ ephemeral: true });
    if (sub === 'list') {
      const voices = await ctx.voices.list(owner);
      await channel.reply(
        voices.length
          ? `Your voices (${voices.length}):\n${voices.map((v) => `• ${v.name} — saved ${v.modified.toISOString().slice(0, 10)}`).join('\n')}`
          : `You have no saved voices yet. Add one with /voice add (an audio file with ${VOICE_SECONDS.min}-${VOICE_SECONDS.max} s of speech).`,
      );
      return;
    }
    const name = interaction.options.getString('name', true);
    const removed = await ctx.voices.remove(owner, name);
    if (!removed) await ctx.voices.require(owner, name); // throws the "no such voice" message with the list
    await channel.reply(`Deleted your voice '${normalizeVoiceName(name)}'.`);
  } catch (error) {
    await channel.fail(error);
  }
}

export const voice: DiscordCommand = { data, execute, autocomplete: voiceChoices };
