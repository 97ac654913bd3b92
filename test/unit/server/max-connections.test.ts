import { describe, expect, it } from 'vitest';
import { effectiveMaxConnections } from '../../../src/server/listener.ts';

describe('effectiveMaxConnections', () => {
  it('keeps the configured limit when the process may open enough files', () => {
    expect(effectiveMaxConnections(4096, 1_048_576)).toBe(4096);
    expect(effectiveMaxConnections(4096, undefined)).toBe(4096);
  });

  it('lowers it below the open-file limit, leaving room for key manager sockets and files', () => {
    // A common default soft limit: 1024 open files.
    expect(effectiveMaxConnections(4096, 1024)).toBe(768);
    expect(effectiveMaxConnections(4096, 100)).toBe(1);
  });
});
