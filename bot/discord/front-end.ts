// The Discord front-end: a discord.js client that routes slash commands, autocomplete and buttons.
// Commands are registered by deploy-commands.ts, never here. Every interaction is checked against
// the allow-list first; a refused user gets a private answer and nothing else happens.
import {
  ActionRowBuilder,
  Client,
  Events,
  GatewayIntentBits,
  MessageFlags,
  ModalBuilder,
  TextInputBuilder,
  TextInputStyle,
  type ButtonInteraction,
  type Interaction,
  type ModalSubmitInteraction,
  type RepliableInteraction,
} from 'discord.js';
import { LIMITS } from '../../gpu-bridge/contracts/index.ts';
import { recordChatCommand, secondsSince } from '../../metrics/index.ts';
import { checkDiscordAccess } from '../access.ts';
import { routeButton } from '../buttons.ts';
import { describeFailure, PendingAsks } from '../channel.ts';
import { mib, resolveChatConfig } from '../chat-config.ts';
import { agentActions, parsePlanButton, presentTurn, threadOf } from '../conversation.ts';
import { createJobServices, redactor, stopOnce, type FrontEnd, type FrontEndDeps } from '../frontends.ts';
import type { JobRunner } from '../jobs.ts';
import { answerAskButton, DiscordChannel, DiscordDelivery } from './channel.ts';
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
  // An interaction's channel cannot be rebuilt after a restart: jobs started before one are
  // posted by DiscordDelivery (a plain channel message mentioning the user).
  let client!: Client;
  const { services, close } = createJobServices(deps, config, log, {
    platform: 'discord',
    resume: (destination) => new DiscordDelivery(client, destination, { uploadLimitBytes: mib(config.DISCORD_UPLOAD_LIMIT_MB), progressIntervalMs: config.SPINBOT_PROGRESS_EDIT_MS, log }),
  });
  const { jobs, asks } = services;
  const ctx: DiscordContext = {
    ...services,
    downloads: { allowedHosts: config.DISCORD_FILE_HOSTS, maxBytes: mib(config.SPINBOT_MAX_UPLOAD_MB) },
    channelFor: (interaction: RepliableInteraction) =>
      new DiscordChannel(interaction, { asks, uploadLimitBytes: mib(config.DISCORD_UPLOAD_LIMIT_MB), progressIntervalMs: config.SPINBOT_PROGRESS_EDIT_MS, log }),
  };

  client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: config.DISCORD_API_URL } });
  client.on(Events.InteractionCreate, (interaction) => {
    const started = performance.now();
    route(interaction, ctx)
      .catch((error: unknown) => log(`interaction ${interaction.id}: ${(error as Error)?.stack ?? String(error)}`))
      .finally(() => {
        const command = interaction.isCommand() || interaction.isAutocomplete() ? interaction.commandName : interaction.isButton() ? 'button' : 'form';
        recordChatCommand('discord', command, secondsSince(started));
      });
  });
  client.on(Events.Error, (error) => log(`client error: ${error.message}`));
  const ready = new Promise<Client<true>>((resolve) => client.once(Events.ClientReady, resolve));
  try {
    await client.login(config.DISCORD_TOKEN);
  } catch (error) {
    await close();
    throw new Error(`Discord login failed: ${(error as Error).message}`, { cause: error });
  }
  const readyClient = await ready;
  log(`connected as ${readyClient.user.tag}`);
  // Jobs still in the works and outcomes made while the bot was down are taken up now.
  await jobs.resume();

  return {
    client: readyClient,
    jobs,
    stop: stopOnce(services, () => client.destroy(), close),
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
  else if (interaction.isModalSubmit()) await onPlanEdit(interaction, ctx);
}

async function onPlanEdit(interaction: ModalSubmitInteraction, ctx: DiscordContext): Promise<void> {
  const press = parsePlanButton(interaction.customId);
  if (!press || press.action !== 'edit' || press.userId !== interaction.user.id) {
    return void (await interaction.reply({ content: '⚠️ That form no longer does anything.', flags: MessageFlags.Ephemeral }));
  }
  const channel = ctx.channelFor(interaction);
  await channel.acknowledge();
  try {
    const change = interaction.fields.getTextInputValue('change');
    const result = await ctx.conversation.decide(threadOf(channel), { action: 'edit', text: change, planId: press.planId }, { actions: agentActions(channel, ctx) });
    await presentTurn(channel, result, ctx.studio);
  } catch (error) {
    await channel.fail(error);
  }
}

/**
 * Every button: routed by bot/buttons.ts; here only how Discord shows the answer. A refusal is a
 * private reply; Edit opens a form for the change; Approve / Cancel on a plan update the plan's
 * message; Retry / Variation answer in a new reply.
 */
async function onButton(interaction: ButtonInteraction, ctx: DiscordContext): Promise<void> {
  const id = interaction.customId;
  if (PendingAsks.isAskId(id)) return answerAskButton(interaction, ctx.asks);
  const channel = ctx.channelFor(interaction);
  const route = await routeButton(id, ownerOf(interaction), ctx, channel);
  if (route.kind !== 'accepted') {
    return void (await interaction.reply({ content: `⚠️ ${route.text}`, flags: MessageFlags.Ephemeral }));
  }
  switch (route.action) {
    case 'edit': {
      const input = new TextInputBuilder().setCustomId('change').setLabel('What should change?').setStyle(TextInputStyle.Paragraph)
        .setPlaceholder('e.g. shorter · vertical with music · redo scene 2 with a sunset').setRequired(true).setMaxLength(LIMITS.maxPromptChars);
      const modal = new ModalBuilder().setCustomId(id).setTitle('Change the plan')
        .addComponents(new ActionRowBuilder<TextInputBuilder>().addComponents(input));
      return void (await interaction.showModal(modal));
    }
    case 'approve':
    case 'dropPlan':
      await channel.acknowledgeUpdate(`${interaction.message.content}\n→ ${route.action === 'approve' ? 'Approved' : 'Cancelled'}`);
      break;
    case 'cancel':
      await interaction.deferUpdate();
      break;
    default:
      await channel.acknowledge();
  }
  await route.run();
}
