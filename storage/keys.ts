// Where each artifact lives. Both languages use this layout (the worker mirrors sceneKey).

const pad = (n: number) => String(n).padStart(2, '0');

export const keys = {
  jobPrefix: (jobId: string) => `jobs/${jobId}/`,
  /** 0-based index in, 1-based file name out: scene-01.wav is the first scene. */
  sceneAudio: (jobId: string, index: number) => `jobs/${jobId}/scene-${pad(index + 1)}.wav`,
  sceneImage: (jobId: string, index: number) => `jobs/${jobId}/scene-${pad(index + 1)}.png`,
  /** When each sentence of the scene's narration is heard (the worker's sentences.json): subtitles follow it. */
  sceneSentences: (jobId: string, index: number) => `jobs/${jobId}/scene-${pad(index + 1)}.sentences.json`,
  /** The scene as a video (the presenter speaking, a motion clip), when the plan asks for one. */
  sceneVideo: (jobId: string, index: number) => `jobs/${jobId}/scene-${pad(index + 1)}.mp4`,
  finalClip: (jobId: string) => `jobs/${jobId}/final.mp4`,
  plan: (jobId: string) => `jobs/${jobId}/plan.json`,
  userVoice: (platform: string, userId: string, name: string) => `users/${platform}/${userId}/voices/${name}.wav`,
};

// Object storage expires a job's intermediates (scene audio and pictures, work files) after a few
// days through a bucket lifecycle rule; the clip and the plan it came from stay, as do users'
// files (voices, pictures) outside jobs/. Both languages tag intermediates at write time.
export const INTERMEDIATE_TAG = { key: 'spinbot-kind', value: 'intermediate' } as const;
const KEPT_JOB_FILES = new Set(['final.mp4', 'plan.json']);

export function isIntermediate(key: string): boolean {
  const inJob = /^jobs\/[^/]+\/(.+)$/.exec(key);
  return inJob !== null && !KEPT_JOB_FILES.has(inJob[1]!);
}

const CONTENT_TYPES: Record<string, string> = {
  mp4: 'video/mp4',
  webm: 'video/webm',
  mov: 'video/quicktime',
  wav: 'audio/wav',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
  m4a: 'audio/mp4',
  flac: 'audio/flac',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  json: 'application/json',
  srt: 'application/x-subrip',
  ass: 'text/x-ssa',
  vtt: 'text/vtt',
  txt: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
};

/** The Content-Type stored with an object when the caller gives none: from the key's extension. */
export function contentTypeFor(key: string): string {
  const extension = /\.([A-Za-z0-9]+)$/.exec(key)?.[1]?.toLowerCase();
  return (extension && CONTENT_TYPES[extension]) || 'application/octet-stream';
}
