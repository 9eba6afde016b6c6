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
import { isUserError } from '../../pipeline/errors.ts';
import { checkDiscordAccess } from '../access.ts';
import { describeFailure, parseJobButton, PendingAsks } from '../channel.ts';
import { mib, resolveChatConfig } from '../chat-config.ts';
import { STALE_PLAN_REPLY } from '../../agent/conversation/index.ts';
import { agentActions, parsePlanButton, presentTurn, threadOf } from '../conversation.ts';
import { createJobServices, redactor, type FrontEnd, type FrontEndDeps } from '../frontends.ts';
import { JobRunner, type Reservation } from '../jobs.ts';
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
  const { services, close } = createJobServices(deps, config, log);
  const { jobs, asks } = services;
  const ctx: DiscordContext = {
    ...services,
    downloads: { allowedHosts: config.DISCORD_FILE_HOSTS, maxBytes: mib(config.SPINBOT_MAX_UPLOAD_MB) },
    channelFor: (interaction: RepliableInteraction) =>
      new DiscordChannel(interaction, { asks, uploadLimitBytes: mib(config.DISCORD_UPLOAD_LIMIT_MB), progressIntervalMs: config.SPINBOT_PROGRESS_EDIT_MS, log }),
  };

  const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: config.DISCORD_API_URL } });
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
          await close();
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
  else if (interaction.isModalSubmit()) await onPlanEdit(interaction, ctx);
}

/** Approve / Edit / Cancel under a plan. Edit opens a form for the change; the others answer at once. */
async function onPlanButton(interaction: ButtonInteraction, ctx: DiscordContext, press: NonNullable<ReturnType<typeof parsePlanButton>>): Promise<void> {
  if (press.userId !== interaction.user.id) {
    return void (await interaction.reply({ content: '⚠️ This plan is for someone else.', flags: MessageFlags.Ephemeral }));
  }
  if (press.action === 'edit') {
    const input = new TextInputBuilder().setCustomId('change').setLabel('What should change?').setStyle(TextInputStyle.Paragraph)
      .setPlaceholder('e.g. shorter · vertical with music · redo scene 2 with a sunset').setRequired(true).setMaxLength(LIMITS.maxPromptChars);
    const modal = new ModalBuilder().setCustomId(interaction.customId).setTitle('Change the plan')
      .addComponents(new ActionRowBuilder<TextInputBuilder>().addComponents(input));
    return void (await interaction.showModal(modal));
  }
  const channel = ctx.channelFor(interaction);
  const waiting = await ctx.conversation.waitingApproval(threadOf(channel));
  if (waiting?.planId !== press.planId) {
    // An older version of the plan (or one already answered): say so privately, leave it alone.
    return void (await interaction.reply({ content: `⚠️ ${STALE_PLAN_REPLY}`, flags: MessageFlags.Ephemeral }));
  }
  await channel.acknowledgeUpdate(`${interaction.message.content}\n→ ${press.action === 'approve' ? 'Approved' : 'Cancelled'}`);
  try {
    const result = await ctx.conversation.decide(threadOf(channel), { action: press.action, planId: press.planId }, { actions: agentActions(channel, ctx) });
    await presentTurn(channel, result, ctx.studio);
  } catch (error) {
    await channel.fail(error);
  }
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

async function onButton(interaction: ButtonInteraction, ctx: DiscordContext): Promise<void> {
  const id = interaction.customId;
  const privately = (text: string) => interaction.reply({ content: text, flags: MessageFlags.Ephemeral });

  if (PendingAsks.isAskId(id)) return answerAskButton(interaction, ctx.asks);
  const planPress = parsePlanButton(id);
  if (planPress) return onPlanButton(interaction, ctx, planPress);

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
