// A LangGraph checkpointer on plain Redis (hashes and sets, no modules). The official
// @langchain/langgraph-checkpoint-redis needs RedisJSON and RediSearch, which Debian's redis 7.0
// does not ship; the product already runs a Redis with AOF for its queue, so conversations and
// pending approvals live there too and survive a restart of the bot.
//
// Layout under `prefix` (default "spinbot:lg:"), per thread and checkpoint namespace:
//   cp:<thread>:<ns>            hash  checkpointId -> {type, checkpoint, metadata, parent}
//   w:<thread>:<ns>:<cpId>      hash  "<taskId>,<idx>" -> {taskId, channel, type, value, path}
//   ns:<thread>                 set   the thread's namespaces (for deleteThread)
// Every key of a thread expires `ttlSeconds` after its last write; only the newest `keep`
// checkpoints of a namespace are kept (older ones are history nobody reads).
import {
  BaseCheckpointSaver,
  WRITES_IDX_MAP,
  compareWritesSortKeys,
  copyCheckpoint,
  getCheckpointId,
  writesSortKey,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointPendingWrite,
  type CheckpointTuple,
  type PendingWrite,
  type SerializerProtocol,
} from '@langchain/langgraph-checkpoint';
import type { RunnableConfig } from '@langchain/core/runnables';
import { Redis } from 'ioredis';

interface StoredCheckpoint {
  type: string;
  checkpoint: string;
  metadataType: string;
  metadata: string;
  parent?: string;
}

interface StoredWrite {
  taskId: string;
  channel: string;
  type: string;
  value: string;
  path: string;
}

export interface RedisSaverOptions {
  prefix?: string;
  /** Idle conversations are forgotten after this long (default 30 days). */
  ttlSeconds?: number;
  /** Checkpoints kept per thread and namespace (default 20). */
  keep?: number;
  serde?: SerializerProtocol;
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const unb64 = (text: string) => new Uint8Array(Buffer.from(text, 'base64'));

export class RedisSaver extends BaseCheckpointSaver {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly ttl: number;
  private readonly keep: number;

  constructor(redisUrl: string, options: RedisSaverOptions = {}) {
    super(options.serde);
    // Commands wait for a connection instead of failing while Redis restarts; errors are logged by callers.
    this.redis = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 });
    this.redis.on('error', () => {});
    this.prefix = options.prefix ?? 'spinbot:lg:';
    this.ttl = options.ttlSeconds ?? 30 * 24 * 3600;
    this.keep = options.keep ?? 20;
  }

  private cpKey(thread: string, ns: string) {
    return `${this.prefix}cp:${thread}:${ns}`;
  }
  private writesKey(thread: string, ns: string, id: string) {
    return `${this.prefix}w:${thread}:${ns}:${id}`;
  }
  private nsKey(thread: string) {
    return `${this.prefix}ns:${thread}`;
  }

  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const thread = config.configurable?.thread_id as string | undefined;
    if (thread === undefined) return undefined;
    const ns = (config.configurable?.checkpoint_ns as string | undefined) ?? '';
    let id: string | undefined = getCheckpointId(config);
    let raw: string | null = null;
    if (id) {
      raw = await this.redis.hget(this.cpKey(thread, ns), id);
    } else {
      // The newest: checkpoint ids sort by time. Only its ids are read, then one value.
      id = (await this.redis.hkeys(this.cpKey(thread, ns))).sort().at(-1);
      if (id) raw = await this.redis.hget(this.cpKey(thread, ns), id);
    }
    if (!raw || !id) return undefined;
    return this.toTuple(thread, ns, id, JSON.parse(raw) as StoredCheckpoint);
  }

  async *list(config: RunnableConfig, options: CheckpointListOptions = {}): AsyncGenerator<CheckpointTuple> {
    const { before, filter } = options;
    let limit = options.limit;
    const thread = config.configurable?.thread_id as string | undefined;
    const threads = thread !== undefined ? [thread] : await this.allThreads();
    for (const t of threads) {
      const namespaces =
        config.configurable?.checkpoint_ns !== undefined ? [config.configurable.checkpoint_ns as string] : await this.redis.smembers(this.nsKey(t));
      for (const ns of namespaces) {
        const all = await this.redis.hgetall(this.cpKey(t, ns));
        for (const id of Object.keys(all).sort().reverse()) {
          const wantedId = config.configurable?.checkpoint_id as string | undefined;
          if (wantedId && id !== wantedId) continue;
          const beforeId = before?.configurable?.checkpoint_id as string | undefined;
          if (beforeId && id >= beforeId) continue;
          const stored = JSON.parse(all[id]!) as StoredCheckpoint;
          const tuple = await this.toTuple(t, ns, id, stored);
          const metadata = tuple.metadata as Record<string, unknown> | undefined;
          if (filter && !Object.entries(filter).every(([key, value]) => metadata?.[key] === value)) continue;
          if (limit !== undefined) {
            if (limit <= 0) return;
            limit -= 1;
          }
          yield tuple;
        }
      }
    }
  }

  async put(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, _versions: ChannelVersions): Promise<RunnableConfig> {
    const thread = config.configurable?.thread_id as string | undefined;
    if (thread === undefined) throw new Error('RedisSaver.put: the config has no configurable.thread_id');
    const ns = (config.configurable?.checkpoint_ns as string | undefined) ?? '';
    const [[type, bytes], [metadataType, metadataBytes]] = await Promise.all([
      this.serde.dumpsTyped(copyCheckpoint(checkpoint)),
      this.serde.dumpsTyped(metadata),
    ]);
    const stored: StoredCheckpoint = {
      type,
      checkpoint: b64(bytes),
      metadataType,
      metadata: b64(metadataBytes),
      parent: config.configurable?.checkpoint_id as string | undefined,
    };
    const key = this.cpKey(thread, ns);
    const results = await this.redis
      .multi()
      .hset(key, checkpoint.id, JSON.stringify(stored))
      .expire(key, this.ttl)
      .sadd(this.nsKey(thread), ns)
      .expire(this.nsKey(thread), this.ttl)
      .hlen(key)
      .exec();
    // Pruned only once the namespace holds more than `keep` (every turn writes several checkpoints).
    if (Number(results?.at(-1)?.[1] ?? 0) > this.keep) await this.prune(thread, ns);
    return { configurable: { thread_id: thread, checkpoint_ns: ns, checkpoint_id: checkpoint.id } };
  }

  async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath?: string): Promise<void> {
    const thread = config.configurable?.thread_id as string | undefined;
    const ns = (config.configurable?.checkpoint_ns as string | undefined) ?? '';
    const id = config.configurable?.checkpoint_id as string | undefined;
    if (thread === undefined || id === undefined) throw new Error('RedisSaver.putWrites: the config needs thread_id and checkpoint_id');
    const key = this.writesKey(thread, ns, id);
    const multi = this.redis.multi();
    for (const [idx, [channel, value]] of writes.entries()) {
      const [type, bytes] = await this.serde.dumpsTyped(value);
      const index = WRITES_IDX_MAP[channel] ?? idx;
      const field = `${taskId},${index}`;
      const record: StoredWrite = { taskId, channel, type, value: b64(bytes), path: taskPath ?? '' };
      // Regular writes are written once (a replayed task must not change them); special channels
      // (errors, interrupts, resumes: negative indexes) replace the previous value, as in MemorySaver.
      if (index >= 0) multi.hsetnx(key, field, JSON.stringify(record));
      else multi.hset(key, field, JSON.stringify(record));
    }
    await multi.expire(key, this.ttl).exec();
  }

  async deleteThread(threadId: string): Promise<void> {
    const namespaces = await this.redis.smembers(this.nsKey(threadId));
    for (const ns of namespaces) {
      const ids = await this.redis.hkeys(this.cpKey(threadId, ns));
      const keys = [this.cpKey(threadId, ns), ...ids.map((id) => this.writesKey(threadId, ns, id))];
      if (keys.length) await this.redis.del(...keys);
    }
    await this.redis.del(this.nsKey(threadId));
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async allThreads(): Promise<string[]> {
    const threads: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}ns:*`, 'COUNT', 200);
      cursor = next;
      threads.push(...found.map((k) => k.slice(`${this.prefix}ns:`.length)));
    } while (cursor !== '0');
    return threads;
  }

  /** Drops all but the newest `keep` checkpoints of a namespace, with their writes. */
  private async prune(thread: string, ns: string): Promise<void> {
    const ids = (await this.redis.hkeys(this.cpKey(thread, ns))).sort();
    const old = ids.slice(0, Math.max(0, ids.length - this.keep));
    if (!old.length) return;
    await this.redis
      .multi()
      .hdel(this.cpKey(thread, ns), ...old)
      .del(...old.map((id) => this.writesKey(thread, ns, id)))
      .exec();
  }

  private async toTuple(thread: string, ns: string, id: string, stored: StoredCheckpoint): Promise<CheckpointTuple> {
    const [checkpoint, metadata, pendingWrites] = await Promise.all([
      this.serde.loadsTyped(stored.type, unb64(stored.checkpoint)) as Promise<Checkpoint>,
      this.serde.loadsTyped(stored.metadataType, unb64(stored.metadata)) as Promise<CheckpointMetadata>,
      this.pendingWrites(thread, ns, id),
    ]);
    const tuple: CheckpointTuple = {
      config: { configurable: { thread_id: thread, checkpoint_ns: ns, checkpoint_id: id } },
      checkpoint,
      metadata,
      pendingWrites,
    };
    if (stored.parent) tuple.parentConfig = { configurable: { thread_id: thread, checkpoint_ns: ns, checkpoint_id: stored.parent } };
    return tuple;
  }

  /** The checkpoint's writes in writesSortKey order, as the base class requires. */
  private async pendingWrites(thread: string, ns: string, id: string): Promise<CheckpointPendingWrite[]> {
    const all = await this.redis.hgetall(this.writesKey(thread, ns, id));
    const ordered = Object.entries(all).map(([field, raw]) => {
      const record = JSON.parse(raw) as StoredWrite;
      const idx = Number(field.slice(field.lastIndexOf(',') + 1));
      return { sort: writesSortKey(record.path, record.taskId, idx), record };
    });
    ordered.sort((a, b) => compareWritesSortKeys(a.sort, b.sort));
    return Promise.all(
      ordered.map(async ({ record }) => [record.taskId, record.channel, await this.serde.loadsTyped(record.type, unb64(record.value))] as CheckpointPendingWrite),
    );
  }
}
