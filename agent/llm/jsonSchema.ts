// JSON Schema helpers shared by the providers.
import type { JsonSchema } from './types.ts';

/** A copy of a JSON Schema without `maxLength` anywhere, and the maxLength of each property name. */
export function splitMaxLengths(schema: JsonSchema): { schema: JsonSchema; maxLengths: Record<string, number> } {
  const maxLengths: Record<string, number> = {};
  const strip = (node: unknown, name?: string): unknown => {
    if (Array.isArray(node)) return node.map((n) => strip(n));
    if (!node || typeof node !== 'object') return node;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      if (key === 'maxLength' && typeof value === 'number') {
        if (name !== undefined) maxLengths[name] = Math.min(maxLengths[name] ?? Infinity, value);
      } else if (key === 'items') {
        // An array's items are limited under the array's own property name (see JsonStringTracker).
        out[key] = strip(value, name);
      } else if (key === 'properties' && value && typeof value === 'object') {
        out[key] = Object.fromEntries(Object.entries(value).map(([prop, sub]) => [prop, strip(sub, prop)]));
      } else {
        out[key] = strip(value);
      }
    }
    return out;
  };
  return { schema: strip(schema) as JsonSchema, maxLengths };
}

/** A copy of a JSON Schema without its `minLength` floors (a property named minLength, an object, stays). */
export function withoutMinLengths(schema: JsonSchema): JsonSchema {
  const strip = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strip);
    if (!node || typeof node !== 'object') return node;
    return Object.fromEntries(Object.entries(node).flatMap(([key, value]) => (key === 'minLength' && typeof value === 'number' ? [] : [[key, strip(value)]])));
  };
  return strip(schema) as JsonSchema;
}
