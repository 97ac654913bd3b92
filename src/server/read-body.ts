import { XksError } from '../xks/errors.ts';

/**
 * Reads a request body up to `limit` bytes. Content-Length is checked before reading and
 * the stream is cut off as soon as it passes the limit, so an oversized body costs no
 * more than the limit in memory.
 */
export async function readBodyWithLimit(request: Request, limit: number): Promise<Buffer> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  if (request.body === null) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? Buffer.from(chunks[0]!.buffer, chunks[0]!.byteOffset, chunks[0]!.byteLength) : Buffer.concat(chunks, total);
}

function tooLarge(limit: number): XksError {
  return new XksError('ValidationException', `Request body is larger than the ${limit}-byte limit of this proxy.`);
}

/**
 * The client went away (or stopped sending) before its request body was complete: a
 * reset HTTP/2 stream, a closed connection, a body that did not arrive in time. Nobody is
 * left to answer, and it is not a failure of the proxy: the app records it as a client
 * abort (its own outcome and log reason), never as a 500 InternalException.
 */
export class ClientAbortError extends Error {
  constructor(cause: unknown) {
    super(`client aborted the request before its body was complete (${cause instanceof Error ? cause.message : String(cause)})`);
    this.name = 'ClientAbortError';
  }
}
