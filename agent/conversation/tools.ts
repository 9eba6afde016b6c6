// What the conversation can do, as LangChain tools with zod schemas. The router (route.ts) picks
// one per user message and its arguments are checked against the tool's schema; generate_video and
// refine_video lead into planning (graph.ts), the others answer at once through AgentActions,
// which the front-end supplies per turn (the user's voices, jobs, cancel).
import { tool } from '@langchain/core/tools';
import { z } from 'zod';
import { Aspect, LIMITS, type ScriptPlan } from '../../gpu-bridge/contracts/index.ts';

export interface DispatchRequest {
  /** The approved plan's id, which names the job: dispatched again (a crash before the checkpoint, a second press), it is the same job. */
  dispatchId: string;
  plan: ScriptPlan;
  /** A saved voice of the user's to narrate with. */
  voiceName?: string;
  /** Refining a made clip: the earlier job whose unchanged scenes are reused. */
  reuse?: { jobId: string; scenes: number[] };
}

/** Everything outside the conversation that a turn may touch; the front-end binds it to the chat. */
export interface AgentActions {
  /** Queues the render; resolves once it is queued (the front-end shows progress and the clip). */
  dispatch(request: DispatchRequest): Promise<{ jobId: string; queuePosition?: number | null }>;
  /** The user's saved voices, as a reply. */
  voices(): Promise<string>;
  /** The user's videos in the works, as a reply. */
  status(): Promise<string>;
  /** Cancels the user's latest video in the works, as a reply. */
  cancel(): Promise<string>;
}

export const HELP_TEXT = `I make short narrated videos (${LIMITS.minSeconds}-${LIMITS.maxSeconds} s). Tell me what you want in plain words, e.g. "a 20 second video about why the sky is blue".
Add a style ("in watercolour style"), a shape ("vertical" or "square"), "with music", or a length.
I show the plan first: approve it, cancel it, or tell me what to change ("shorter", "more upbeat").
After a video is made, "redo scene 2 with a sunset" changes just that scene.
Also: "status", "cancel", "my voices", "help".`;

export const generateVideo = tool(async (args) => args, {
  name: 'generate_video',
  description: 'make a new video; text = what the video is about, in the user words',
  schema: z.object({
    prompt: z.string().trim().min(1).max(LIMITS.maxPromptChars),
    seconds: z.number().int().min(LIMITS.minSeconds).max(LIMITS.maxSeconds).optional(),
    voice: z.string().max(64).optional(),
    style: z.string().max(100).optional(),
    aspect: Aspect.optional(),
    music: z.boolean().optional(),
  }),
});

export const refineVideo = tool(async (args) => args, {
  name: 'refine_video',
  description: 'change the plan being shown or the video just made (shorter, another picture, redo scene 2...); text = the change',
  schema: z.object({
    change: z.string().trim().min(1).max(LIMITS.maxPromptChars),
    scene: z.number().int().min(1).max(LIMITS.maxScenes).optional(),
  }),
});

const noArgs = z.object({});

/** The tools that answer at once; built per turn around the front-end's actions. */
export function answeringTools(actions: AgentActions) {
  return {
    list_voices: tool(() => actions.voices(), { name: 'list_voices', description: "list the user's saved voices", schema: noArgs }),
    job_status: tool(() => actions.status(), { name: 'job_status', description: 'say how the videos in the works are doing', schema: noArgs }),
    cancel_job: tool(() => actions.cancel(), { name: 'cancel_job', description: 'stop the video being made', schema: noArgs }),
    show_help: tool(async () => HELP_TEXT, { name: 'show_help', description: 'explain what the bot can do', schema: noArgs }),
    chat_reply: tool(async ({ message }) => message, {
      name: 'chat_reply',
      description: 'small talk or a question about the bot; text = your short reply',
      schema: z.object({ message: z.string().trim().min(1).max(600) }),
    }),
  };
}

export type AnsweringToolName = keyof ReturnType<typeof answeringTools>;
export const TOOL_NAMES = ['generate_video', 'refine_video', 'list_voices', 'job_status', 'cancel_job', 'show_help', 'chat_reply'] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

/** One line per tool for the router's prompt (names and descriptions from the tools themselves). */
export function describeTools(): string {
  const placeholder: AgentActions = {
    dispatch: async () => ({ jobId: '' }),
    voices: async () => '',
    status: async () => '',
    cancel: async () => '',
  };
  const all = [generateVideo, refineVideo, ...Object.values(answeringTools(placeholder))];
  return all.map((t) => `- ${t.name}: ${t.description}`).join('\n');
}
