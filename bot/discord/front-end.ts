// The Discord front-end: a discord.js client that routes slash commands, autocomplete and buttons.
// Commands are registered by deploy-commands.ts, never here. Every interaction is checked against
// the allow-list first; a refused user gets a private answer and nothing else happens.
import {
  Client,
  Events,
  GatewayIntentBits,
  MessageFlags,
  type ButtonInteraction,
  type Interaction,
  type RepliableInteraction,
} from 'discord.js';
import { isUserError } from '../../pipeline/errors.ts';
import { checkDiscordAccess } from '../access.ts';
import { describeFailure, parseJobButton, PendingAsks } from '../channel.ts';
import { mib, resolveChatConfig } from '../chat-config.ts';
import { createJobServices, redactor, type FrontEnd, type FrontEndDeps } from '../frontends.ts';
import { JobRunner, type Reservation } from '../jobs.ts';
import { ReferenceImages } from '../uploads/voices.ts';
import { answerAskButton, DiscordChannel } from './channel.ts';
import { findCommand } from './commands/index.ts';
import { ownerOf, type DiscordContext } from './context.ts';

export interface DiscordFrontEnd extends FrontEnd {
  client: Client<true>;
  jobs: JobRunner;
}

export async function startDiscordFrontEnd(deps: FrontEndDeps): Promise<DiscordFrontEnd> {
  const config = resolveChatConfig(deps.config);
  if (!config.DISCORD_TOKEN) throw new Error('DISCORD_TOKEN is not set.');
  const log = redactor([config.DISCORD_TOKEN], deps.log ?? ((line: string) => process.stderr.write(`[discord] ${line}\n`)));
  const { limits, voices, jobs, asks } = createJobServices(deps, config, log);
  const ctx: DiscordContext = {
    config,
    studio: deps.studio,
    planner: deps.planner,
    jobs,
    voices,
    images: new ReferenceImages(deps.studio.storage),
    asks,
    downloads: { allowedHosts: config.DISCORD_FILE_HOSTS, maxBytes: mib(config.SPINBOT_MAX_UPLOAD_MB) },
    channelFor: (interaction: RepliableInteraction) =>
      new DiscordChannel(interaction, { asks, uploadLimitBytes: mib(config.DISCORD_UPLOAD_LIMIT_MB), progressIntervalMs: config.SPINBOT_PROGRESS_EDIT_MS, log }),
    log,
  };

  const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: config.DISCORD_API_URL } });
  client.on(Events.InteractionCreate, (interaction) => {
    route(interaction, ctx).catch((error: unknown) => log(`interaction ${interaction.id}: ${(error as Error)?.stack ?? String(error)}`));
  });
  client.on(Events.Error, (error) => log(`client error: ${error.message}`));
  const ready = new Promise<Client<true>>((resolve) => client.once(Events.ClientReady, resolve));
  try {
    await client.login(config.DISCORD_TOKEN);
  } catch (error) {
    await limits.close();
    throw new Error(`Discord login failed: ${(error as Error).message}`, { cause: error });
  }
  const readyClient = await ready;
  log(`connected as ${readyClient.user.tag}`);

  let stopping: Promise<void> | undefined;
  return {
    client: readyClient,
    jobs,
    stop: () =>
      (stopping ??= (async () => {
        try {
          asks.closeAll();
          await jobs.close();
          await client.destroy();
        } finally {
          await limits.close();
        }
      })()),
  };
}

async function route(interaction: Interaction, ctx: DiscordContext): Promise<void> {
  try {
    checkDiscordAccess(ctx.config, { userId: interaction.user.id, guildId: interaction.guildId });
  } catch (error) {
    if (interaction.isAutocomplete()) return interaction.respond([]);
    if (interaction.isRepliable()) await interaction.reply({ content: `⚠️ ${describeFailure(error)}`, flags: MessageFlags.Ephemeral });
    return;
  }

  if (interaction.isChatInputCommand()) {
    const command = findCommand(interaction.commandName);
    if (!command) {
      await interaction.reply({ content: `⚠️ I don't know /${interaction.commandName} (yet). Try /help.`, flags: MessageFlags.Ephemeral });
      return;
    }
    await command.execute(interaction, ctx);
    return;
  }
  if (interaction.isAutocomplete()) {
    const command = findCommand(interaction.commandName);
    await (command?.autocomplete ? command.autocomplete(interaction, ctx) : interaction.respond([]));
    return;
  }
  if (interaction.isButton()) await onButton(interaction, ctx);
}

async function onButton(interaction: ButtonInteraction, ctx: DiscordContext): Promise<void> {
  const id = interaction.customId;
  const privately = (text: string) => interaction.reply({ content: text, flags: MessageFlags.Ephemeral });

  if (PendingAsks.isAskId(id)) return answerAskButton(interaction, ctx.asks);

  const action = parseJobButton(id);
  if (!action) return void (await privately('⚠️ That button no longer does anything.'));
  const owner = ownerOf(interaction);
  if (action.action === 'cancel') {
    const job = ctx.jobs.get(action.jobId);
    if (job && job.owner.userId !== owner.userId) return void (await privately('⚠️ Only the person who started this video can cancel it.'));
    await interaction.deferUpdate();
    try {
      await ctx.jobs.cancel(owner, action.jobId);
    } catch (error) {
      if (!isUserError(error)) throw error;
      await interaction.followUp({ content: `⚠️ ${error.message}`, flags: MessageFlags.Ephemeral });
    }
    return;
  }
  // Retry / Variation: a new job, answered in a new reply to this button press.
  const channel = ctx.channelFor(interaction);
  let reservation: Reservation;
  try {
    reservation = ctx.jobs.reserve(owner);
  } catch (error) {
    return channel.fail(error);
  }
  try {
    await channel.acknowledge();
    await ctx.jobs.again(channel, action.jobId, action.action === 'variation', reservation);
  } catch (error) {
    await channel.fail(error);
  } finally {
    reservation.release();
  }
}
