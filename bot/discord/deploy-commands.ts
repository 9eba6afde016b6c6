// Registers the slash commands with Discord. Run once after changing a command, never at boot:
//   npx tsx bot/discord/deploy-commands.ts            (globally; can take a while to show up)
//   DISCORD_GUILD_ID=<id> npx tsx bot/discord/deploy-commands.ts   (one guild, at once)
// Reads DISCORD_TOKEN, DISCORD_APPLICATION_ID, DISCORD_API_URL, DISCORD_GUILD_ID.
import { REST, Routes, type RESTPutAPIApplicationCommandsResult } from 'discord.js';
import { pathToFileURL } from 'node:url';
import { loadChatConfig } from '../chat-config.ts';
import { commands } from './commands/index.ts';

export function commandDefinitions() {
  return commands.map((c) => c.data.toJSON());
}

export async function deployCommands(options: { token: string; applicationId: string; apiUrl?: string; guildId?: string }): Promise<string[]> {
  const rest = new REST(options.apiUrl ? { api: options.apiUrl } : {}).setToken(options.token);
  const route = options.guildId
    ? Routes.applicationGuildCommands(options.applicationId, options.guildId)
    : Routes.applicationCommands(options.applicationId);
  const result = (await rest.put(route, { body: commandDefinitions() })) as RESTPutAPIApplicationCommandsResult;
  return result.map((c) => c.name);
}

async function main(): Promise<void> {
  const config = loadChatConfig();
  if (!config.DISCORD_TOKEN || !config.DISCORD_APPLICATION_ID) {
    throw new Error('Set DISCORD_TOKEN and DISCORD_APPLICATION_ID (the application ID is on the Discord developer portal).');
  }
  const names = await deployCommands({
    token: config.DISCORD_TOKEN,
    applicationId: config.DISCORD_APPLICATION_ID,
    apiUrl: config.DISCORD_API_URL,
    guildId: config.DISCORD_GUILD_ID,
  });
  const where = config.DISCORD_GUILD_ID ? `guild ${config.DISCORD_GUILD_ID}` : 'all guilds (global; may take up to an hour to appear)';
  process.stdout.write(`Registered ${names.map((n) => `/${n}`).join(', ')} for ${where}.\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`Could not register the commands: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
