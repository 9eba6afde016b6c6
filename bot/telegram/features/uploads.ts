// Voice messages, audio files and documents are voice samples (named by their caption); photos
// are reference pictures. /voice lists and removes saved voices.
import { Composer, type Context } from 'grammy';
import { UserError } from '../../../pipeline/errors.ts';
import { normalizeVoiceName, VOICE_SECONDS } from '../../uploads/voices.ts';
import { heardLine } from '../../../gpu-bridge/transcribe.ts';
import { tellVoiceProfile } from '../../train.ts';
import { ownerOf, telegramFile, type TelegramServices } from '../context.ts';

const DEFAULT_NAME = 'voice';
const UNUSABLE_MESSAGE =
  `I can't use that kind of message. Describe the video you want in words, send a voice message or audio file with ${VOICE_SECONDS.min}-${VOICE_SECONDS.max} s ` +
  'of your speech to save a voice, or a photo to use as the reference picture.';

export function uploadsFeature(services: TelegramServices): Composer<Context> {
  const feature = new Composer<Context>();

  feature.on(['message:voice', 'message:audio', 'message:document'], async (ctx) => {
    const message = ctx.message;
    const file = message.voice ?? message.audio ?? message.document;
    if (!file) return;
    const channel = services.channelFor(ctx.chat.id, ctx.from.id);
    const owner = ownerOf(ctx.from.id);
    const caption = message.caption?.trim();
    let name: string;
    try {
      name = normalizeVoiceName(caption || DEFAULT_NAME);
    } catch (error) {
      await channel.fail(error);
      return;
    }
    services.background('voice', async () => {
      try {
        await ctx.replyWithChatAction('typing').catch(() => {});
        const fileName = 'file_name' in file ? file.file_name : undefined;
        const source = await telegramFile(ctx.api, services, file, fileName);
        const saved = await services.voices.addFromUpload(owner, name, source, services.downloads);
        await channel.reply(
          `${saved.replaced ? 'Replaced' : 'Saved'} your voice '${saved.name}' (${saved.seconds.toFixed(1)} s of speech). ` +
            `Use it with /generate voice=${saved.name} <what the video is about>.` +
            (caption ? '' : ' (Add a caption to a sample to give it a name.)') +
            ' Cloning it needs a GPU worker; until one is connected, videos are narrated by the built-in voice.' +
            heardLine(saved.transcript),
        );
        tellVoiceProfile(saved, (text) => channel.reply(text));
      } catch (error) {
        await channel.fail(error);
      }
    });
  });

  feature.on('message:photo', async (ctx) => {
    const photo = ctx.message.photo.at(-1); // the largest size
    if (!photo) return;
    const channel = services.channelFor(ctx.chat.id, ctx.from.id);
    services.background('photo', async () => {
      try {
        const source = await telegramFile(ctx.api, services, photo);
        const saved = await services.images.addFromUpload(ownerOf(ctx.from.id), source, services.downloads);
        await channel.reply(
          `Saved this ${saved.width}x${saved.height} picture as your reference image; your next videos show it in their pictures.`,
        );
      } catch (error) {
        await channel.fail(error);
      }
    });
  });

  // Everything else a person can send in a private chat gets a sentence too, rather than silence.
  feature.on(['message:video', 'message:video_note', 'message:animation', 'message:sticker', 'message:location', 'message:contact', 'message:poll', 'message:dice'], async (ctx) => {
    if (ctx.chat.type !== 'private') return;
    await services.channelFor(ctx.chat.id, ctx.from.id).reply(UNUSABLE_MESSAGE);
  });

  feature.command('voice', async (ctx) => {
    if (!ctx.chat || !ctx.from) return;
    const channel = services.channelFor(ctx.chat.id, ctx.from.id);
    const owner = ownerOf(ctx.from.id);
    const [sub = 'list', ...rest] = ctx.match.trim().split(/\s+/).filter(Boolean);
    try {
      if (sub === 'list') {
        const voices = await services.voices.list(owner);
        await channel.reply(
          voices.length
            ? `Your voices (${voices.length}):\n${voices.map((v) => `• ${v.name} — saved ${v.modified.toISOString().slice(0, 10)}`).join('\n')}`
            : `You have no saved voices yet. Send me a voice message with ${VOICE_SECONDS.min}-${VOICE_SECONDS.max} s of speech, with its name as the caption.`,
        );
      } else if (sub === 'remove' || sub === 'delete') {
        const name = rest.join(' ');
        if (!name) throw new UserError('voice.nameInvalid', 'Which voice? /voice remove NAME');
        if (!(await services.voices.remove(owner, name))) await services.voices.require(owner, name);
        await channel.reply(`Deleted your voice '${normalizeVoiceName(name)}'.`);
      } else if (sub === 'add') {
        await channel.reply(`Send me a voice message or an audio file with ${VOICE_SECONDS.min}-${VOICE_SECONDS.max} s of your speech, with its name as the caption (e.g. anna).`);
      } else {
        await channel.reply('Use /voice (list), /voice remove NAME, or send a voice message to add one.');
      }
    } catch (error) {
      await channel.fail(error);
    }
  });
  return feature;
}
