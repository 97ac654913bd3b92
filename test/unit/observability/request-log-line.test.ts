import { pino, type DestinationStream, type LoggerOptions } from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/observability/logger.ts';
import { requestLineWriter } from '../../../src/observability/request-log-line.ts';
import { RequestRecord } from '../../../src/xks/request-event.ts';

function captured(): DestinationStream & { lines: string[] } {
  const lines: string[] = [];
  return { lines, write: (line: string) => void lines.push(line) };
}

// A request event like the app's, with characters that need escaping.
const event = {
  operation: 'encrypt',
  prefix: 'team "a"/ks',
  keyId: 'k\u00e9y\n1',
  kmsRequestId: '3e1f2a4b-1234-4c5d-9e8f-0123456789ab',
  accessKeyId: 'AKIAEXAMPLE',
  method: 'POST',
  status: 200,
  latencyMs: 0.123,
  outcome: 'ok',
  at: 1_764_158_400_000,
};
const fixedTime = () => ',"time":1764158400000';

/** The same event as the app's RequestRecord, which writes its own JSON members. */
function asRecord(): RequestRecord {
  const r = new RequestRecord();
  r.operation = 'encrypt';
  r.prefix = event.prefix;
  r.keyId = event.keyId;
  r.kmsRequestId = event.kmsRequestId;
  r.accessKeyId = event.accessKeyId;
  r.method = event.method;
  r.status = event.status;
  r.latencyMs = event.latencyMs;
  r.outcome = 'ok';
  r.at = event.at;
  return r;
}

describe('requestLineWriter', () => {
  const configs: Array<[string, LoggerOptions]> = [
    ['pino defaults', { timestamp: fixedTime }],
    ['base and custom message key', { base: { service: 'xks-proxy' }, messageKey: 'message', timestamp: fixedTime }],
    ['level labels', { base: null, timestamp: fixedTime, formatters: { level: (label) => ({ level: label }) } }],
  ];

  it.each(configs)('writes the same line as pino itself (%s)', (_name, options) => {
    const dest = captured();
    const logger = pino(options, dest).child({ worker: 2 });
    logger.info(event, 'xks request');
    requestLineWriter(logger)('info', event, 'xks request');
    logger.error(event, 'xks request');
    requestLineWriter(logger)('error', event, 'xks request');
    logger.warn(event, 'xks request');
    requestLineWriter(logger)('warn', event, 'xks request');
    expect(dest.lines).toHaveLength(6);
    expect(dest.lines[1]).toBe(dest.lines[0]);
    expect(dest.lines[3]).toBe(dest.lines[2]);
    expect(dest.lines[5]).toBe(dest.lines[4]);
  });

  it.each(configs)('writes the same line as pino for a RequestRecord, which serializes itself (%s)', (_name, options) => {
    const dest = captured();
    const logger = pino(options, dest).child({ worker: 2 });
    const record = asRecord();
    logger.warn(record, 'xks request');
    requestLineWriter(logger)('warn', record, 'xks request');
    expect(dest.lines).toHaveLength(2);
    expect(dest.lines[1]).toBe(dest.lines[0]);
    expect(JSON.parse(dest.lines[1]!)).toMatchObject({ keyId: event.keyId, prefix: event.prefix, status: 200 });
  });

  it('writes lines the proxy logger parses back to the same fields', () => {
    const dest = captured();
    requestLineWriter(createLogger({ level: 'info', destination: dest }))('info', event, 'xks request');
    const line = JSON.parse(dest.lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, service: 'xks-proxy', msg: 'xks request', ...event });
    expect(line['time']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('respects the level: nothing at info when the logger is at warn, errors still written', () => {
    const dest = captured();
    const write = requestLineWriter(pino({ level: 'warn' }, dest));
    write('info', event, 'xks request');
    expect(dest.lines).toHaveLength(0);
    write('error', event, 'xks request');
    expect(JSON.parse(dest.lines[0]!)).toMatchObject({ level: 50, keyId: event.keyId });
  });

  it('goes through pino for a multistream, which needs pino metadata', () => {
    const a = captured();
    const logger = pino({ level: 'info' }, pino.multistream([{ stream: a }]));
    requestLineWriter(logger)('info', event, 'xks request');
    expect(JSON.parse(a.lines[0]!)).toMatchObject({ msg: 'xks request', prefix: event.prefix });
  });
});
