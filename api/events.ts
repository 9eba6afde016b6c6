// Live events of a video for any number of listeners (Server-Sent Events clients): one topic per
// job, fed by one progress watch on the process's shared queue events and one record check per
// second, however many listeners the job has. The topic ends with done, failed or cancelled.
import type { Progress } from '../gpu-bridge/contracts/index.ts';
import type { RenderQueue } from '../pipeline/render.ts';
import type { Video } from './contracts.ts';

export type VideoEvent =
  | { name: 'progress'; data: Progress; final: false }
  | { name: 'done' | 'failed' | 'cancelled'; data: Video; final: true };

type Listener = (event: VideoEvent) => void;

interface Topic {
  listeners: Set<Listener>;
  unwatch(): void;
  timer: NodeJS.Timeout;
  checking: boolean;
  ended: boolean;
  /** The furthest overall progress published: a late event from an earlier step is not shown. */
  overall: number;
}

export const FINAL_STATUSES = ['done', 'failed', 'cancelled'] as const;
export function isFinal(status: Video['status']): status is (typeof FINAL_STATUSES)[number] {
  return (FINAL_STATUSES as readonly string[]).includes(status);
}

export class VideoEvents {
  private readonly topics = new Map<string, Topic>();
  private readonly onEnded = ({ jobId }: { jobId: string }) => void this.check(jobId);

  constructor(
    private readonly renders: RenderQueue,
    /** The video as its owner sees it (undefined once unknown). */
    private readonly current: (jobId: string) => Promise<Video | undefined>,
    private readonly checkEveryMs = 1000,
  ) {
    // The assembly job ends after the outcome is recorded: a check then finds it at once.
    renders.assembleEvents.on('completed', this.onEnded);
    renders.assembleEvents.on('failed', this.onEnded);
  }

  /** Number of jobs with at least one listener (for tests and benches). */
  get topicCount(): number {
    return this.topics.size;
  }

  /** Calls `listener` with every progress event of the job, then its final event; returns the unsubscribe. */
  subscribe(jobId: string, listener: Listener): () => void {
    let topic = this.topics.get(jobId);
    if (!topic) {
      const created: Topic = {
        listeners: new Set(),
        unwatch: this.renders.watch(jobId, (progress) => {
          // The worker's and the assembler's events arrive on two streams: one may lag the other.
          if (progress.overall < created.overall) return;
          created.overall = progress.overall;
          this.publish(created, { name: 'progress', data: progress, final: false });
        }),
        // Also catches what no queue event announces (a cancel, a job that ended in between).
        timer: setInterval(() => void this.check(jobId), this.checkEveryMs),
        checking: false,
        ended: false,
        overall: 0,
      };
      created.timer.unref();
      this.topics.set(jobId, created);
      topic = created;
      void this.check(jobId);
    }
    const joined = topic;
    joined.listeners.add(listener);
    return () => {
      joined.listeners.delete(listener);
      if (!joined.listeners.size) this.drop(jobId, joined);
    };
  }

  /** Reads the job's state; a final one is announced to every listener and ends the topic. */
  async check(jobId: string): Promise<void> {
    const topic = this.topics.get(jobId);
    if (!topic || topic.checking || topic.ended) return;
    topic.checking = true;
    try {
      const video = await this.current(jobId).catch(() => undefined);
      if (video && isFinal(video.status) && !topic.ended) {
        topic.ended = true;
        this.publish(topic, { name: video.status, data: video, final: true });
        this.drop(jobId, topic);
      }
    } finally {
      topic.checking = false;
    }
  }

  close(): void {
    this.renders.assembleEvents.off('completed', this.onEnded);
    this.renders.assembleEvents.off('failed', this.onEnded);
    for (const [jobId, topic] of [...this.topics]) this.drop(jobId, topic);
  }

  private publish(topic: Topic, event: VideoEvent): void {
    for (const listener of [...topic.listeners]) listener(event);
  }

  private drop(jobId: string, topic: Topic): void {
    topic.unwatch();
    clearInterval(topic.timer);
    if (this.topics.get(jobId) === topic) this.topics.delete(jobId);
  }
}
