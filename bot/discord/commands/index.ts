// Every slash command the bot has.
import type { DiscordCommand } from '../context.ts';
import { cancel } from './cancel.ts';
import { chat } from './chat.ts';
import { generate } from './generate.ts';
import { help } from './help.ts';
import { status } from './status.ts';
import { styles } from './styles.ts';
import { train } from './train.ts';
import { voice } from './voice.ts';

export const commands: DiscordCommand[] = [generate, chat, voice, status, cancel, help, train, styles];

export const RESERVED_COMMANDS = [] as const;

export function findCommand(name: string): DiscordCommand | undefined {
  return commands.find((c) => c.data.name === name);
}
