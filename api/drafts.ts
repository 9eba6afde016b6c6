// Plans made through the API with approve:false wait here, in Redis beside the job records, until
// POST /v1/videos/{id}/approve queues them or DELETE drops them (or a week passes). The id a
// caller gets is already the job's id (jobIdForDispatch of the draft's id), so approving is the
// same job whichever process does it, however often.
import type { Redis } from 'ioredis';
import type { ScriptPlan } from '../gpu-bridge/contracts/index.ts';

export interface Draft {
  draftId: string;
  /** The API key's owner name. */
  owner: string;
  plan: ScriptPlan;
  voiceName?: string;
  createdAt: number;
}

const KEPT_SECONDS = 7 * 24 * 3600;
const draftKey = (id: string) => `spinbot:api-draft:${id}`;

export class Drafts {
  constructor(private readonly redis: Redis) {}

  async save(id: string, draft: Draft): Promise<void> {
    await this.redis.set(draftKey(id), JSON.stringify(draft), 'EX', KEPT_SECONDS);
  }

  async get(id: string): Promise<Draft | undefined> {
    const text = await this.redis.get(draftKey(id));
    return text ? (JSON.parse(text) as Draft) : undefined;
  }

  /** Removes and returns the draft; undefined when another request took it first. */
  async take(id: string): Promise<Draft | undefined> {
    const text = await this.redis.getdel(draftKey(id));
    return text ? (JSON.parse(text) as Draft) : undefined;
  }
}
