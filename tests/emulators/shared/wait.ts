// Change notification behind the emulators' waitFor(): state mutations call changed(),
// which re-checks every pending predicate; stop() calls rejectAll().
export interface Waiters {
  changed(): void;
  waitFor<T>(predicate: () => T | undefined | null | false, timeoutMs?: number): Promise<T>;
  rejectAll(error: Error): void;
}

/** `name` prefixes the timeout message, e.g. "discord emulator". */
export function createWaiters(name: string): Waiters {
  const listeners = new Set<() => boolean>();
  const waiterRejects = new Set<(e: Error) => void>();
  function changed(): void {
    for (const listener of [...listeners]) listener();
  }
  function rejectAll(error: Error): void {
    for (const reject of [...waiterRejects]) reject(error);
  }
  function waitFor<T>(predicate: () => T | undefined | null | false, timeoutMs = 5000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let poll: NodeJS.Timeout | undefined;
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        if (poll) clearInterval(poll);
        listeners.delete(check);
        waiterRejects.delete(rejectNow);
      };
      const rejectNow = (e: Error) => {
        cleanup();
        reject(e);
      };
      const check = (): boolean => {
        let value: T | undefined | null | false;
        try {
          value = predicate();
        } catch (e) {
          rejectNow(e as Error);
          return true;
        }
        if (value) {
          cleanup();
          resolve(value);
          return true;
        }
        return false;
      };
      if (check()) return;
      listeners.add(check);
      waiterRejects.add(rejectNow);
      // predicates may also look at state outside the emulator (what the client received): poll too
      poll = setInterval(check, 20);
      timer = setTimeout(() => rejectNow(new Error(`${name}: waitFor timed out after ${timeoutMs} ms`)), timeoutMs);
    });
  }
  return { changed, waitFor, rejectAll };
}
