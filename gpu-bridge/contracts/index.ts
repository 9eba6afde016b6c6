// The job contract between the TypeScript side (bot, agent, producer) and the Python worker.
// This file is the single source of truth: `npm run contracts:generate` writes the JSON Schema
// the worker validates against (gpu-bridge/contracts/schema/), and a test fails when it is stale.
// Wire format: camelCase JSON. Bump CONTRACT_VERSION on any breaking change.
import { z } from 'zod';

export const CONTRACT_VERSION = 1;
export const GPU_QUEUE = 'spinbot-gpu';

/** Hard caps, enforced in code on both sides; never trusted to a model or a user. */
export const LIMITS = {
  minSeconds: 5,
  maxSeconds: 180,
  maxScenes: 12,
  minSceneSeconds: 2,
  maxSceneSeconds: 30,
  maxPromptChars: 2000,
  maxNarrationChars: 600,
  /** Narration longer than this cannot be spoken clearly in the scene's time. */
  maxWordsPerSecond: 3,
  /** Most motion scenes a plan may ask for; the worker lowers it further (SPINBOT_MAX_MOTION_SCENES, 0 without a motion workflow). */
  maxMotionScenes: 4,
} as const;

export const StageName = z.enum([
  'validate', // the worker's check of a job against the contract
  'plan',
  'tts',
  'visuals',
  'lipsync',
  'motion', // a scene's picture brought to life by an image-to-video workflow (GPU)
  'upscale',
  'assemble',
  'train_voice',
  'train_lora',
  'transcribe', // speech recognition of a stored voice sample
]);
export type StageName = z.infer<typeof StageName>;

/** 'auto' picks a GPU backend when one is available and fits, else the CPU backend. */
export const BackendChoice = z.enum(['auto', 'cpu', 'gpu']);

const JobId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{5,63}$/, 'jobId: 6-64 chars of a-z, 0-9 and -');

/** A storage key such as jobs/<jobId>/scene-01.png or users/discord/123/voices/anna.wav. */
export const StorageKey = z
  .string()
  .min(1)
  .max(512)
  .regex(/^(?!\/)(?!.*\.\.)[A-Za-z0-9._\/-]+$/, 'storage key: relative, no "..", safe characters only');

export const Voice = z.object({
  /** espeak-ng for the CPU backend; f5-tts clones `referenceKey` on a GPU. */
  engine: z.enum(['espeak-ng', 'f5-tts']).default('espeak-ng'),
  /** espeak-ng voice name (e.g. "en-us") or a saved voice's display name. */
  id: z.string().min(1).max(64).regex(/^[A-Za-z0-9_+\- ]+$/),
  /** Speaking-rate multiplier; 1 is the engine's natural pace. */
  speed: z.number().min(0.5).max(2).default(1),
  /** A stored reference sample (24 kHz mono WAV) for voice cloning. */
  referenceKey: StorageKey.optional(),
});
export type Voice = z.infer<typeof Voice>;

export const Scene = z.object({
  narration: z.string().trim().min(1).max(LIMITS.maxNarrationChars),
  visualPrompt: z.string().trim().min(1).max(400),
  onScreenText: z.string().trim().max(80).default(''),
  seconds: z.number().min(LIMITS.minSceneSeconds).max(LIMITS.maxSceneSeconds),
  /** The talking presenter: filling the frame, or cut out in a corner over the scene's picture; absent or 'none': no presenter. */
  presenter: z.enum(['none', 'full', 'corner']).optional(),
  /** The picture moves (image-to-video on a GPU); without a motion workflow it stays a still with a slow pan. */
  motion: z.boolean().optional(),
});
export type Scene = z.infer<typeof Scene>;

/** Frame shape of the clip: landscape (the default), vertical (phones: Shorts, Reels) or square. */
export const Aspect = z.enum(['16:9', '9:16', '1:1']);
export type Aspect = z.infer<typeof Aspect>;

/** Output frame size per aspect (the worker mirrors this table in render.py). */
export const FRAME_SIZES: Record<Aspect, { width: number; height: number }> = {
  '16:9': { width: 1280, height: 720 },
  '9:16': { width: 720, height: 1280 },
  '1:1': { width: 720, height: 720 },
};

/** Moods of the music library (the folders of the "music" model in setup/models.json). */
export const MusicMood = z.enum(['calm', 'energetic', 'happy', 'nostalgic', 'tender']);
export type MusicMood = z.infer<typeof MusicMood>;

export const ScriptPlan = z.object({
  title: z.string().trim().min(1).max(100),
  /** BCP-47-ish language tag of the narration, e.g. "en" or "pt-br". */
  language: z.string().regex(/^[a-z]{2,3}(-[a-z0-9]{2,8})?$/).default('en'),
  voice: Voice,
  /** A visual style for every scene ("watercolour", "neon"); empty: the backend's own look. */
  style: z.string().trim().max(100).default(''),
  aspect: Aspect.default('16:9'),
  /** Music from the library under the narration (ducked while it speaks). */
  music: z.boolean().default(false),
  /** The music's mood; absent: the mood the narration's words suggest (media/music.ts). */
  musicMood: MusicMood.optional(),
  /** The user's checked portrait (a presenter_photo job's presenterKey) for presenter scenes; absent: the built-in character. */
  presenterKey: StorageKey.optional(),
  scenes: z.array(Scene).min(1).max(LIMITS.maxScenes),
  /** What the planner could not get right (a repeated phrase, a scene too short), in one sentence shown with the plan; absent when nothing is wrong. */
  notice: z.string().trim().min(1).max(500).optional(),
});
export type ScriptPlan = z.infer<typeof ScriptPlan>;

export const RequestedBy = z.object({
  platform: z.enum(['console', 'cli', 'discord', 'telegram', 'api', 'test']),
  userId: z.string().min(1).max(64),
  chatId: z.string().max(64).optional(),
});

const JobBase = {
  contractVersion: z.literal(CONTRACT_VERSION),
  jobId: JobId,
  requestedBy: RequestedBy,
};

/** Render every scene's narration and picture; the TypeScript side assembles the clip. */
export const RenderJob = z.object({
  kind: z.literal('render'),
  ...JobBase,
  plan: ScriptPlan,
  seed: z.number().int().min(0).max(2 ** 31 - 1).default(0),
  backends: z
    .object({ tts: BackendChoice, visuals: BackendChoice, upscale: BackendChoice, lipsync: BackendChoice, motion: BackendChoice })
    .partial()
    .default({}),
  /** 0-based scene indexes whose stored artifacts are kept as they are (refining one scene). */
  reuseScenes: z.array(z.number().int().min(0).max(LIMITS.maxScenes - 1)).default([]),
  /** Optional reference image (e.g. the user's photo) for image-conditioned visuals. */
  referenceImageKey: StorageKey.optional(),
  /** The user's trained style (LoRA), applied by a GPU picture workflow made with the same base model. */
  style: z
    .object({
      name: z.string().min(1).max(64),
      loraKey: StorageKey,
      baseModel: z.string().min(1).max(200),
      trigger: z.string().min(1).max(64),
    })
    .optional(),
});
export type RenderJob = z.infer<typeof RenderJob>;

/** Fine-tune a voice from the user's samples (GPU only; later issue). */
export const TrainVoiceJob = z.object({
  kind: z.literal('train_voice'),
  ...JobBase,
  name: z.string().min(1).max(64),
  sampleKeys: z.array(StorageKey).min(1).max(20),
});

/** Transcribe a stored voice sample (voice cloning needs the words of its reference); the transcript is stored beside it. */
export const TranscribeJob = z.object({
  kind: z.literal('transcribe'),
  ...JobBase,
  audioKey: StorageKey,
  /** Where the worker stores the transcript (JSON: text, language). */
  transcriptKey: StorageKey,
  /** The speech's language when known (e.g. "en"); omitted: detected. */
  language: z.string().regex(/^[a-z]{2,3}(-[a-z0-9]{2,8})?$/).optional(),
});

/**
 * Check a photo sent to be the presenter: the worker finds its face (the largest of several) and stores the
 * checked, downscaled portrait (PNG) at presenterKey. A photo it refuses (no face, a face under ~96 px, a
 * declared size over its limit) fails with BAD_INPUT and one sentence for the user, and nothing is stored.
 * imageKey (the upload) is a temporary input: the worker deletes it either way.
 */
export const PresenterPhotoJob = z.object({
  kind: z.literal('presenter_photo'),
  ...JobBase,
  imageKey: StorageKey,
  presenterKey: StorageKey,
});

/** Train a LoRA from the user's images (GPU only; later issue). */
export const TrainLoraJob = z.object({
  kind: z.literal('train_lora'),
  ...JobBase,
  name: z.string().min(1).max(64),
  imageKeys: z.array(StorageKey).min(4).max(200),
  steps: z.number().int().min(50).max(5000).default(500),
  /** The user's words about the pictures, added to each image's caption after the style's trigger word. */
  caption: z.string().max(300).optional(),
});

export const GpuJob = z.discriminatedUnion('kind', [RenderJob, TrainVoiceJob, TrainLoraJob, TranscribeJob, PresenterPhotoJob]);
export type GpuJob = z.infer<typeof GpuJob>;
/** What a caller writes before defaults are applied. */
export type GpuJobInput = z.input<typeof GpuJob>;

/** Sent with job.updateProgress by the worker, and emitted locally for plan/assemble. */
export const Progress = z.object({
  stage: StageName,
  /** Progress within the stage, 0-100. */
  percent: z.number().min(0).max(100),
  /** Progress of the whole job, 0-100. */
  overall: z.number().min(0).max(100),
  message: z.string().max(200),
  /** 1-based scene being worked on, when the stage works scene by scene. */
  scene: z.number().int().min(1).optional(),
  sceneCount: z.number().int().min(1).optional(),
  /** Human name of the backend, e.g. "espeak-ng (CPU)". */
  backend: z.string().max(80).optional(),
});
export type Progress = z.infer<typeof Progress>;

export const BackendInfo = z.object({
  name: z.string(),
  device: z.enum(['cpu', 'gpu']),
  /** Of the code and, where it applies, the model (from setup/models.json), for the result line. */
  licence: z.string().optional(),
});

/** One sentence of a scene's narration and when it is heard, in seconds from the scene's start. */
export const SpokenSentence = z.object({
  text: z.string(),
  start: z.number().min(0),
  end: z.number().min(0),
});
export type SpokenSentence = z.infer<typeof SpokenSentence>;

export const SceneArtifacts = z.object({
  index: z.number().int().min(0),
  audioKey: StorageKey,
  imageKey: StorageKey,
  /** Length of the spoken narration (before padding to the scene's seconds). */
  audioSeconds: z.number().min(0),
  seconds: z.number().min(0),
  reused: z.boolean().default(false),
  /** When each sentence is spoken, measured by the tts backend; empty: unknown (subtitles are estimated). */
  sentences: z.array(SpokenSentence).default([]),
  /** The scene as a video (the presenter speaking, or a motion clip); assembly uses it instead of the still. */
  videoKey: StorageKey.optional(),
});
export type SceneArtifacts = z.infer<typeof SceneArtifacts>;

export const RenderResult = z.object({
  kind: z.literal('render'),
  jobId: JobId,
  scenes: z.array(SceneArtifacts).min(1),
  /** Which backend ran each stage, e.g. {tts: {name: "espeak-ng (CPU)", device: "cpu"}}. */
  backends: z.record(z.string(), BackendInfo),
  /** Wall-clock seconds spent per stage. */
  timings: z.record(z.string(), z.number().min(0)),
});
export type RenderResult = z.infer<typeof RenderResult>;

export const TranscribeResult = z.object({
  kind: z.literal('transcribe'),
  jobId: JobId,
  /** What was said; empty when no speech was heard. */
  text: z.string(),
  /** The language heard (or the one given). */
  language: z.string(),
  transcriptKey: StorageKey,
  /** The speech recogniser, e.g. {name: "Whisper base (CPU)", device: "cpu"}. */
  backend: BackendInfo,
});
export type TranscribeResult = z.infer<typeof TranscribeResult>;

export const PresenterPhotoResult = z.object({
  kind: z.literal('presenter_photo'),
  jobId: JobId,
  presenterKey: StorageKey,
  facesFound: z.number().int().min(1),
  /** A sentence for the user when the worker chose for them (the largest of several faces); "" otherwise. */
  note: z.string().max(300),
  /** The face finder, e.g. {name: "mediapipe face detection + face mesh (CPU)", device: "cpu"}. */
  backend: BackendInfo,
});
export type PresenterPhotoResult = z.infer<typeof PresenterPhotoResult>;

/** One voice sample as the profile used it. */
export const VoiceSampleReport = z.object({
  key: StorageKey,
  /** Speech heard in it after clean-up, in seconds. */
  speechSeconds: z.number().min(0),
  /** Estimated signal-to-noise ratio before and after denoising, in dB. */
  snrBeforeDb: z.number(),
  snrAfterDb: z.number(),
});

/** What "training" a saved voice built: the clean reference clip cloning uses, and how much speech backs it. */
export const TrainVoiceResult = z.object({
  kind: z.literal('train_voice'),
  jobId: JobId,
  /** JSON profile (everything below, plus the speaker embedding when one was made). */
  profileKey: StorageKey,
  /** The best 6-12 s clip (24 kHz mono WAV), cut at word boundaries. */
  referenceKey: StorageKey,
  referenceText: z.string(),
  referenceSeconds: z.number().min(0),
  language: z.string(),
  samples: z.array(VoiceSampleReport).min(1),
  /** Clean speech over all samples, and whether that is enough to clone from. */
  cleanSpeechSeconds: z.number().min(0),
  enough: z.boolean(),
  /** Whether a speaker embedding was computed (only where the encoder's torch is installed: the GPU image). */
  embedding: z.boolean(),
  /** A sentence for the user: what is missing or was not done; "" when nothing. */
  note: z.string().max(300),
  /** Who did each step, e.g. {denoise: {name: "DeepFilterNet3 (CPU)", device: "cpu"}}. */
  backends: z.record(z.string(), BackendInfo),
});
export type TrainVoiceResult = z.infer<typeof TrainVoiceResult>;

/** A style (LoRA) trained from the user's pictures. */
export const TrainLoraResult = z.object({
  kind: z.literal('train_lora'),
  jobId: JobId,
  /** users/<platform>/<id>/loras/<name>.safetensors */
  loraKey: StorageKey,
  /** The checkpoint it was trained on (a picture workflow must use the same one to apply it). */
  baseModel: z.string().min(1),
  /** The word the captions start with; prompts that use the style include it. */
  trigger: z.string().min(1),
  images: z.number().int().min(1),
  steps: z.number().int().min(1),
  /** The training loss at the end (the mean of the last tenth of the steps); null when the trainer reported none. */
  finalLoss: z.number().nullable(),
  /** users/<platform>/<id>/loras/<name>-loss.png: the loss curve ComfyUI's LossGraphNode drew; absent without one. */
  lossGraphKey: StorageKey.optional(),
  backend: BackendInfo,
});
export type TrainLoraResult = z.infer<typeof TrainLoraResult>;

export const TrainResult = z.discriminatedUnion('kind', [TrainVoiceResult, TrainLoraResult]);
export type TrainResult = z.infer<typeof TrainResult>;

export const ErrorCode = z.enum([
  'BAD_INPUT', // the job cannot succeed as given: never retried
  'NO_GPU', // a GPU-only request on a machine without one: never retried
  'BACKEND_UNAVAILABLE', // the chosen backend is not installed or not reachable
  'MISSING_ARTIFACT', // an input key is not in storage
  'OOM', // out of (GPU) memory: retried with backoff
  'TIMEOUT', // a stage ran too long: retried with backoff
  'INTERNAL', // anything else: retried with backoff
  'CANCELLED', // the user cancelled: never retried
  'DISK_FULL', // no space left where artifacts are written: never retried; the operator must free space
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

/** How a failed stage is reported, across processes: match on `code`, never on class. */
export const StageError = z.object({
  stage: StageName,
  code: ErrorCode,
  message: z.string().max(500),
  retryable: z.boolean(),
});
export type StageError = z.infer<typeof StageError>;

/** Every schema the worker (or a test) needs, by file name. */
export const SCHEMAS = {
  'gpu-job': GpuJob,
  progress: Progress,
  'render-result': RenderResult,
  'transcribe-result': TranscribeResult,
  'presenter-photo-result': PresenterPhotoResult,
  'train-result': TrainResult,
  'stage-error': StageError,
  'script-plan': ScriptPlan,
} as const;
