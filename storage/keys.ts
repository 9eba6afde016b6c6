// Where each artifact lives. Both languages use this layout (the worker mirrors sceneKey).

const pad = (n: number) => String(n).padStart(2, '0');

export const keys = {
  jobPrefix: (jobId: string) => `jobs/${jobId}/`,
  /** 0-based index in, 1-based file name out: scene-01.wav is the first scene. */
  sceneAudio: (jobId: string, index: number) => `jobs/${jobId}/scene-${pad(index + 1)}.wav`,
  sceneImage: (jobId: string, index: number) => `jobs/${jobId}/scene-${pad(index + 1)}.png`,
  finalClip: (jobId: string) => `jobs/${jobId}/final.mp4`,
  plan: (jobId: string) => `jobs/${jobId}/plan.json`,
  userVoice: (platform: string, userId: string, name: string) => `users/${platform}/${userId}/voices/${name}.wav`,
};
