// What every Telegram feature gets: the shared services of the front-end.
import type { Api } from 'grammy';
import { GrammyError } from 'grammy';
import { UserError } from '../../pipeline/errors.ts';
import type { ChatServices } from '../frontends.ts';
import { checkDeclaredSize, rejected, tooLarge, type DownloadPolicy, type UploadSource } from '../uploads/download.ts';
import type { Owner } from '../uploads/voices.ts';
import type { TelegramChannel } from './channel.ts';

export interface TelegramServices extends ChatServices {
  token: string;
  /** Threads whose user pressed Edit: their next message is the change (plan id by thread; kept in Redis). */
  editing: { set(thread: string, planId: string): Promise<void>; take(thread: string): Promise<string | undefined> };
  downloads: DownloadPolicy;
  /** `statusRef`: a job's status message to go on editing (after a restart). */
  channelFor(chatId: number | string, userId: number | string, statusRef?: string): TelegramChannel;
  /** Runs slow work outside the update loop (grammY handles updates one at a time). */
  background(name: string, task: () => Promise<unknown>): void;
}

export function ownerOf(userId: number | string): Owner {
  return { platform: 'telegram', userId: String(userId) };
}

/**
 * A file a user sent, as a download source: its declared size is checked first (nothing is asked
 * of Telegram for a file over the limit), then getFile gives its path on the Bot API's file host.
 */
export async function telegramFile(api: Api, services: TelegramServices, file: { file_id: string; file_size?: number }, name?: string): Promise<UploadSource> {
  checkDeclaredSize({ url: '', declaredBytes: file.file_size, name }, services.downloads);
  let info;
  try {
    info = await api.getFile(file.file_id);
  } catch (error) {
    if (error instanceof GrammyError && /file is too big/i.test(error.description)) {
      throw rejected('too_large', tooLarge(file.file_size ?? services.downloads.maxBytes + 1, services.downloads.maxBytes));
    }
    throw new UserError('upload.failed', 'Telegram would not give me that file; please send it again.', { cause: error });
  }
  if (!info.file_path) throw new UserError('upload.failed', 'Telegram has no copy of that file any more; please send it again.');
  const root = services.config.TELEGRAM_API_ROOT.replace(/\/+$/, '');
  return { url: `${root}/file/bot${services.token}/${info.file_path}`, declaredBytes: info.file_size ?? file.file_size, name };
}
