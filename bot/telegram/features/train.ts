// /train <name>, then the pictures (an album, or several): a picture style trained on the GPU.
// Pictures that arrive while a /train waits are training pictures, not reference images; it starts
// once they stop arriving for a moment. /styles lists the user's styles, /styles remove <name> deletes one.
import { Composer, type Context } from 'grammy';
import { StyleLibrary } from '../../styles.ts';
import { trainStyleFromChat } from '../../train.ts';
import type { UploadSource } from '../../uploads/download.ts';
import { ownerOf, telegramFile, type TelegramServices } from '../context.ts';

/** How long after the last picture the set is taken as complete (an album's photos arrive as separate messages). */
const QUIET_MS = Number(process.env.SPINBOT_TRAIN_ALBUM_MS ?? 2500);
/** A /train nobody sent pictures for is forgotten after this long. */
const WAIT_MS = 10 * 60_000;

interface Waiting {
  name: string;
  sources: Promise<UploadSource>[];
  timer?: NodeJS.Timeout;
  since: number;
}

export function trainFeature(services: TelegramServices): Composer<Context> {
  const feature = new Composer<Context>();
  const waiting = new Map<string, Waiting>();
  const keyOf = (chat: number, user: number) => `${chat}:${user}`;

  feature.command('train', async (ctx) => {
    if (!ctx.from) return;
    const name = ctx.match.trim();
    if (!name) {
      await ctx.reply('Usage: /train <name>, then send 8-40 pictures (an album is fine). Example: /train watercolour');
      return;
    }
    waiting.set(keyOf(ctx.chat.id, ctx.from.id), { name, sources: [], since: Date.now() });
    await ctx.reply(`Send 8-40 pictures for the style "${name}" now (an album is fine); I start when they stop arriving.`);
  });

  feature.command('styles', async (ctx) => {
    if (!ctx.from) return;
    const library = new StyleLibrary(services.studio.storage);
    const owner = ownerOf(ctx.from.id);
    const [sub, ...rest] = ctx.match.trim().split(/\s+/);
    if (sub === 'remove' && rest.length) {
      const name = rest.join(' ');
      await ctx.reply((await library.remove(owner, name)) ? `Deleted your style "${name}".` : `You have no style named "${name}".`);
      return;
    }
    const styles = await library.list(owner);
    await ctx.reply(styles.length
      ? `Your styles (${styles.length}):\n${styles.map((s) => `• ${s.name} — ${s.images} pictures, on ${s.baseModel}`).join('\n')}`
      : 'You have no styles yet. Train one with /train <name>, then send 8-40 pictures.');
  });

  feature.on('message:photo', async (ctx, next) => {
    const key = keyOf(ctx.chat.id, ctx.from.id);
    const pending = waiting.get(key);
    if (!pending || Date.now() - pending.since > WAIT_MS) {
      waiting.delete(key);
      await next();
      return;
    }
    const photo = ctx.message.photo.at(-1)!; // the largest size
    const number = pending.sources.length + 1;
    pending.sources.push(telegramFile(ctx.api, services, photo, `picture ${number}`));
    clearTimeout(pending.timer);
    pending.timer = setTimeout(() => {
      waiting.delete(key);
      const channel = services.channelFor(ctx.chat.id, ctx.from.id);
      services.background('train', async () => {
        try {
          const sources = await Promise.all(pending.sources);
          await trainStyleFromChat({ storage: services.studio.storage, queue: services.studio.queue, channel, downloads: services.downloads },
            { platform: 'telegram', userId: String(ctx.from.id), chatId: String(ctx.chat.id) }, pending.name, sources, ctx.message.caption?.trim() || undefined);
        } catch (error) {
          await channel.fail(error);
        }
      });
    }, QUIET_MS);
  });

  return feature;
}
