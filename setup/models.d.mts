// Types for setup/models.mjs (plain Node, since it runs before npm install).
export interface ModelFile { name: string; from: string[]; sha256: string; bytes: number }
export interface ModelEntry {
  id: string;
  name: string;
  role: string;
  licence: string;
  upstream: string;
  source: string;
  needed: ('start' | 'tests')[];
  /** What the product does without this model. */
  fallback: string;
  packages: string[];
  files: ModelFile[];
}
export interface EngineEntry { id: string; name: string; role: string; licence: string; source: string }
type Env = Record<string, string | undefined>;
export interface FetchOutcome { fetched: string[]; failed: { id: string; message: string }[] }
export function registry(): { models: ModelEntry[]; engines: EngineEntry[] };
export function modelCacheDir(env?: Env): string;
export function modelInfo(id: string): ModelEntry;
export function modelDir(id: string, env?: Env): string;
export function modelPath(id: string, file?: string, env?: Env): string;
export function modelReady(id: string, env?: Env): boolean;
export function modelBytes(entry: ModelEntry): number;
export function formatMB(bytes: number): string;
export function modelsNeeded(mode: 'start' | 'tests', env?: Env): string[];
export function fetchModels(ids: string[], options?: { env?: Env; say?: (line: string) => void }): FetchOutcome;
export function fetchEntries(entries: ModelEntry[], options?: { env?: Env; say?: (line: string) => void }): FetchOutcome;
export function licenceTable(): string;
