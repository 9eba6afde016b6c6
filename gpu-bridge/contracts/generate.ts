// Writes the JSON Schema files the Python worker validates against, from the zod contracts.
// `tsx gpu-bridge/contracts/generate.ts --check` exits 1 when a committed file is stale.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { SCHEMAS, CONTRACT_VERSION } from './index.ts';

const schemaDir = fileURLToPath(new URL('./schema/', import.meta.url));

export function renderSchemas(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    // 'output': what a producer sends after zod applied defaults, so every field is present.
    const json = z.toJSONSchema(schema, { io: 'output', target: 'draft-2020-12' });
    const doc = { $comment: `Generated from gpu-bridge/contracts/index.ts (contract v${CONTRACT_VERSION}); do not edit.`, ...json };
    files[`${name}.schema.json`] = JSON.stringify(doc, null, 2) + '\n';
  }
  return files;
}

/** File names whose committed content differs from what the zod contracts generate. */
export function staleSchemas(): string[] {
  return Object.entries(renderSchemas())
    .filter(([file, text]) => !existsSync(schemaDir + file) || readFileSync(schemaDir + file, 'utf8') !== text)
    .map(([file]) => file);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--check')) {
    const stale = staleSchemas();
    if (stale.length) {
      console.error(`Stale JSON Schema: ${stale.join(', ')}. Run: npm run contracts:generate`);
      process.exit(1);
    }
    console.log('JSON Schema is up to date.');
  } else {
    for (const [file, text] of Object.entries(renderSchemas())) writeFileSync(schemaDir + file, text);
    console.log(`Wrote ${Object.keys(SCHEMAS).length} schema files to ${schemaDir}`);
  }
}
