// Every slash command the bot has. /train is reserved for the GPU training issue (not registered).
import type { DiscordCommand } from '../context.ts';
import { cancel } from './cancel.ts';
import { chat } from './chat.ts';
import { generate } from './generate.ts';
import { help } from './help.ts';
import { status } from './status.ts';
import { voice } from './voice.ts';

export const commands: DiscordCommand[] = [generate, chat, voice, status, cancel, help];

export const RESERVED_COMMANDS = ['train'] as const;

export function findCommand(name: string): DiscordCommand | undefined {
  return commands.find((c) => c.data.name === name);
}
