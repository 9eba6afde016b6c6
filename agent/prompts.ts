// Prompt templates live in prompts/<name>.v<N>.md, one file per version, with {{variables}}.
// An HTML comment at the top documents a template for people and is not sent to the model.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const PROMPTS_DIR = fileURLToPath(new URL('../prompts/', import.meta.url));

export type PromptVars = Record<string, string | number>;

const cache = new Map<string, string>();
const VARIABLE = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** The template text of e.g. "plan.v1" (prompts/plan.v1.md), comments removed. */
export function loadPrompt(name: string): string {
  let text = cache.get(name);
  if (text === undefined) {
    if (!/^[a-z0-9-]+\.v\d+$/.test(name)) throw new Error(`prompt name "${name}" must look like "plan.v1"`);
    text = readFileSync(join(PROMPTS_DIR, `${name}.md`), 'utf8')
      .replace(/<!--[\s\S]*?-->\s*/g, '')
      .trim();
    cache.set(name, text);
  }
  return text;
}

/** Every prompt file, by name ("plan.v1"), for tests and tooling. */
export function listPrompts(): string[] {
  return readdirSync(PROMPTS_DIR)
    .filter((file) => file.endsWith('.md'))
    .map((file) => file.slice(0, -'.md'.length))
    .sort();
}

/** The variable names a template uses. */
export function promptVariables(name: string): string[] {
  return [...new Set([...loadPrompt(name).matchAll(VARIABLE)].map((m) => m[1]!))];
}

/**
 * Fills a template. A missing variable is a bug, so it throws instead of sending "{{x}}" to a model.
 * Values are inserted once, never re-scanned: user text containing "{{...}}" stays literal.
 */
export function renderPrompt(name: string, vars: PromptVars): string {
  const template = loadPrompt(name);
  const missing = promptVariables(name).filter((key) => !Object.hasOwn(vars, key));
  if (missing.length) throw new Error(`prompt ${name}: missing variable(s) ${missing.join(', ')}`);
  return template.replace(VARIABLE, (_, key: string) => String(vars[key]));
}
