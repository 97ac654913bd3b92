import { z } from 'zod';

/**
 * Schema of a config map (`keyLabels`, `keyIdMap`): string keys matching `pattern`,
 * values per `value`. A `__proto__` key is refused by name: zod strips it from the parsed
 * record (assigning it would replace the prototype), so such a mapping would otherwise
 * vanish without a word. Readers turn the record into a Map (`configMap`) and never index
 * the parsed object with a request value (issue 15: `constructor` finds a function there).
 */
export function configMapSchema<V extends z.ZodType<unknown>>(pattern: RegExp, message: string, value: V) {
  return z.preprocess(
    (raw, ctx) => {
      if (raw !== null && typeof raw === 'object' && Object.hasOwn(raw, '__proto__')) {
        ctx.issues.push({ code: 'custom', message: 'the name __proto__ cannot be a map key in a config file', input: raw, path: ['__proto__'] });
      }
      return raw;
    },
    z.record(z.string().regex(pattern, message), value),
  );
}

/** The entries of a parsed config record as a Map, for lookups by request values. */
export function configMap<V>(record: Readonly<Record<string, V>>): ReadonlyMap<string, V> {
  return new Map(Object.entries(record));
}
