// /generate prompt [seconds] [voice] [style] [image] [voice_sample] [presenter] [motion]: acknowledge at once, check
// everything that can be checked without waiting, plan, then hand the job to the runner, which
// edits the reply with progress and posts the clip.
import { SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import { LIMITS } from '../../../gpu-bridge/contracts/index.ts';
import { checkDeclaredSize } from '../../uploads/download.ts';
import type { Reservation } from '../../jobs.ts';
import { normalizeVoiceName } from '../../uploads/voices.ts';
import { presenterDefaults } from '../../uploads/presenter.ts';
import type { PresenterChoice } from '../../../agent/nodes/presenter.ts';
import { agentActions, presentTurn, threadOf } from '../../conversation.ts';
import { languageOf, ownerOf, voiceChoices, type DiscordCommand, type DiscordContext } from '../context.ts';

export const data = new SlashCommandBuilder()
  .setName('generate')
  .setDescription('Make a short narrated video from a description')
  .addStringOption((o) => o.setName('prompt').setDescription('What the video is about').setRequired(true).setMaxLength(LIMITS.maxPromptChars))
  .addIntegerOption((o) => o.setName('seconds').setDescription(`Length in seconds (${LIMITS.minSeconds}-${LIMITS.maxSeconds})`).setMinValue(LIMITS.minSeconds).setMaxValue(LIMITS.maxSeconds))
  .addStringOption((o) => o.setName('voice').setDescription('One of your saved voices').setAutocomplete(true))
  .addStringOption((o) => o.setName('style').setDescription('A visual style ("watercolour", "neon") or one of your trained styles (/train)').setMaxLength(100))
  .addAttachmentOption((o) => o.setName('image').setDescription('A reference picture (PNG, JPEG or WebP)'))
  .addAttachmentOption((o) => o.setName('voice_sample').setDescription('3-30 s of your voice, saved under the "voice" name (default: sample)'))
  .addStringOption((o) =>
    o
      .setName('presenter')
      .setDescription('Who presents: you (from the image sent now or before), the built-in character, or nobody')
      .addChoices({ name: 'me (my photo)', value: 'me' }, { name: 'the built-in character', value: 'character' }, { name: 'none', value: 'none' }),
  )
  .addBooleanOption((o) => o.setName('motion').setDescription('Bring some scenes\' pictures to life (needs a GPU motion workflow)'))
  .addBooleanOption((o) => o.setName('auto_approve').setDescription('Render at once, without showing the plan first'));

export async function execute(interaction: ChatInputCommandInteraction, ctx: DiscordContext): Promise<void> {
  const channel = ctx.channelFor(interaction);
  const owner = ownerOf(interaction);
  const style = interaction.options.getString('style');
  const prompt = interaction.options.getString('prompt', true);
  const seconds = interaction.options.getInteger('seconds') ?? undefined;
  const voiceOption = interaction.options.getString('voice');
  const image = interaction.options.getAttachment('image');
  const sample = interaction.options.getAttachment('voice_sample');
  const autoApprove = interaction.options.getBoolean('auto_approve') ?? ctx.config.SPINBOT_AUTO_APPROVE;
  const presenterChoice = (interaction.options.getString('presenter') ?? undefined) as PresenterChoice | undefined;
  const motion = interaction.options.getBoolean('motion') ?? undefined;

  // Checks that need no waiting come first, so that a refusal is a private reply of its own.
  let reservation: Reservation | undefined;
  try {
    ctx.planner.validate({ prompt, seconds });
    reservation = ctx.jobs.reserve(owner);
    for (const attachment of [image, sample]) {
      if (attachment) checkDeclaredSize({ url: attachment.url, declaredBytes: attachment.size, name: attachment.name }, ctx.downloads);
    }
    if (voiceOption) normalizeVoiceName(voiceOption);
  } catch (error) {
    reservation?.release();
    return channel.fail(error);
  }

  try {
    await channel.acknowledge();
    // Redis down: one sentence at once, rather than a planner waiting on the conversation store.
    await ctx.studio.jobs.available();
    let voiceName = voiceOption ?? undefined;
    if (sample) {
      const saved = await ctx.voices.addFromUpload(owner, voiceOption ?? 'sample', { url: sample.url, declaredBytes: sample.size, name: sample.name }, ctx.downloads);
      voiceName = saved.name;
    } else if (voiceName) {
      voiceName = (await ctx.voices.require(owner, voiceName)).name;
    }
    const referenceImageKey = image
      ? (await ctx.images.addFromUpload(owner, { url: image.url, declaredBytes: image.size, name: image.name }, ctx.downloads)).key
      : undefined;
    if (referenceImageKey) await channel.reply('Saved your picture as the reference image.');
    // presenter: me checks the picture into the presenter first (a refusal is one sentence, nothing stored).
    const presenter = await presenterDefaults(ctx.studio, ctx.images, owner, prompt, presenterChoice);
    if (presenter.note) await channel.reply(presenter.note);
    // Planned by the conversation, so that Approve / Edit and "redo scene 2" work on it afterwards.
    // The running-job slot is kept for a one-shot render; a plan waiting for approval holds none.
    if (!autoApprove) reservation?.release();
    const args = { prompt, seconds, voice: voiceName, style: style ?? undefined };
    const result = await ctx.conversation.command(threadOf(channel), prompt, { tool: 'generate_video', args }, {
      actions: agentActions(channel, ctx, autoApprove ? reservation : undefined),
      autoApprove,
      defaults: {
        language: languageOf(interaction.locale),
        ...presenter.request,
        ...(presenterChoice ? { presenter: presenterChoice } : {}),
        ...(motion !== undefined ? { motion } : {}),
      },
    });
    await presentTurn(channel, result, ctx.studio);
  } catch (error) {
    await channel.fail(error);
  } finally {
    reservation?.release();
  }
}

export const autocomplete = voiceChoices;

export const generate: DiscordCommand = { data, execute, autocomplete };
