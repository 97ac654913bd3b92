import { pino, type Logger } from 'pino';

/** Writes one log line for a flat object of plain values, at `info`, `warn` or `error`. */
export type LineWriter = (level: 'info' | 'warn' | 'error', fields: object | SelfSerializingFields, msg: string) => void;

/**
 * Fields that write their own JSON members (`,"a":1,"b":"x"`, exactly what JSON.stringify
 * gives between the braces): the request record does, which is cheaper than stringifying
 * it whole (docs/performance.md). pino itself, on the fallback path, ignores the method.
 */
export interface SelfSerializingFields {
  jsonMembers(): string;
}

type PinoInternals = Record<symbol, unknown>;

/**
 * A writer for the proxy's one-line-per-request log, giving exactly the line the logger
 * would write (its level label, time function, bindings and message key, in pino's order)
 * but with a single JSON.stringify of the fields instead of pino's per-field serializer,
 * which costs more per request (docs/performance.md).
 *
 * Only for objects whose fields need no redaction, serializers or mixins: the request
 * event has a fixed, secret-free shape (see RequestLog in src/xks/request-event.ts). Falls back
 * to the logger itself when its stream needs pino's metadata (multistream) or the
 * internals it reads are missing.
 */
export function requestLineWriter(logger: Logger): LineWriter {
  const internals = logger as unknown as PinoInternals;
  const { streamSym, lsCacheSym, timeSym, chindingsSym, messageKeySym, endSym, needsMetadataGsym, mixinSym } = pino.symbols;
  const stream = internals[streamSym] as { write(line: string): unknown; [key: symbol]: unknown } | undefined;
  const levelPrefix = internals[lsCacheSym] as Record<number, string> | undefined;
  const time = internals[timeSym] as (() => string) | undefined;
  const usable =
    stream !== undefined &&
    stream[needsMetadataGsym] !== true &&
    levelPrefix !== undefined &&
    typeof time === 'function' &&
    typeof internals[chindingsSym] === 'string' &&
    typeof internals[endSym] === 'string' &&
    internals[mixinSym] === undefined;
  if (!usable) return (level, fields, msg) => logger[level](fields, msg);
  // Fixed when the logger is made: the message key (`,"msg":`) and the line's end.
  const messageKeyPrefix = `,${JSON.stringify(internals[messageKeySym])}:`;
  const end = internals[endSym] as string;

  return (level, fields, msg) => {
    if (!logger.isLevelEnabled(level)) return;
    const body = 'jsonMembers' in fields ? fields.jsonMembers() : membersOf(JSON.stringify(fields));
    // Bindings are read per line: setBindings changes them.
    stream.write(
      `${levelPrefix[logger.levels.values[level]!]}${time()}${internals[chindingsSym] as string}${body}${messageKeyPrefix}${JSON.stringify(msg)}${end}`,
    );
  };
}

/** `{"a":1}` -> `,"a":1`; an empty object adds nothing. */
function membersOf(json: string): string {
  return json.length > 2 ? `,${json.slice(1, -1)}` : '';
}
