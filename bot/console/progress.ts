// A progress bar per stage (name, percent, elapsed). On a terminal the bars are redrawn in place;
// elsewhere (pipes, CI logs) a line is printed when a stage starts, passes each quarter, and ends.
import type { Progress, StageName } from '../../gpu-bridge/contracts/index.ts';

const LABELS: Partial<Record<StageName, string>> = {
  plan: 'plan',
  tts: 'voice',
  visuals: 'visuals',
  upscale: 'upscale',
  lipsync: 'lip-sync',
  assemble: 'assemble',
};

interface Bar {
  stage: StageName;
  percent: number;
  startedAt: number;
  endedAt?: number;
  message: string;
  lastQuarter: number;
}

export class ProgressBoard {
  private readonly bars: Bar[] = [];
  private drawnLines = 0;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly now: () => number = Date.now,
  ) {}

  private get live(): boolean {
    return Boolean(this.out.isTTY);
  }

  update(progress: Pick<Progress, 'stage' | 'percent' | 'message'>): void {
    if (!LABELS[progress.stage]) return; // e.g. the worker's contract check: too quick to show
    let bar = this.bars.find((b) => b.stage === progress.stage);
    if (!bar) {
      // A new stage means the ones before it are finished.
      for (const earlier of this.bars) this.finish(earlier);
      bar = { stage: progress.stage, percent: 0, startedAt: this.now(), message: '', lastQuarter: -1 };
      this.bars.push(bar);
    }
    bar.percent = Math.max(bar.percent, Math.min(100, progress.percent));
    bar.message = progress.message;
    if (bar.percent >= 100) this.finish(bar);
    this.render(bar);
  }

  /** Mark every stage done (call when the job finished). */
  complete(): void {
    for (const bar of this.bars) this.finish(bar);
    if (this.live) this.render();
  }

  private finish(bar: Bar): void {
    if (bar.endedAt !== undefined) return;
    bar.percent = 100;
    bar.endedAt = this.now();
    if (!this.live) this.render(bar);
  }

  line(bar: Bar): string {
    const width = 24;
    const filled = Math.round((bar.percent / 100) * width);
    const elapsed = (((bar.endedAt ?? this.now()) - bar.startedAt) / 1000).toFixed(1);
    const label = (LABELS[bar.stage] ?? bar.stage).padEnd(9);
    return `  ${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(bar.percent)).padStart(3)}%  ${elapsed.padStart(5)} s  ${bar.message}`;
  }

  private render(changed?: Bar): void {
    if (this.live) {
      if (this.drawnLines) this.out.write(`\x1b[${this.drawnLines}A`);
      for (const bar of this.bars) this.out.write(`\x1b[2K${this.line(bar).slice(0, (this.out.columns ?? 120) - 1)}\n`);
      this.drawnLines = this.bars.length;
      return;
    }
    if (!changed) return;
    const quarter = Math.floor(changed.percent / 25);
    if (quarter !== changed.lastQuarter) {
      changed.lastQuarter = quarter;
      this.out.write(`${this.line(changed)}\n`);
    }
  }
}
