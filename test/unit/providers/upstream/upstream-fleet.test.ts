import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { UpstreamReply } from '../../../../src/providers/upstream/upstream-client.ts';
import type { CallContext } from '../../../../src/xks/key-provider-port.ts';
import { UpstreamFault } from '../../../../src/providers/upstream/upstream-fault.ts';
import { UpstreamFleet, type UpstreamEndpoint } from '../../../../src/providers/upstream/upstream-fleet.ts';
import { XksError } from '../../../../src/xks/errors.ts';

type Script = (actx: CallContext) => Promise<UpstreamReply>;

/** An endpoint whose answers are scripted; records the attempt deadlines it was given. */
function endpoint(id: string, script: Script): UpstreamEndpoint & { deadlines: number[] } {
  const deadlines: number[] = [];
  return {
    id,
    deadlines,
    client: {
      post: (_path: string, _body: unknown, actx: CallContext) => {
        deadlines.push(actx.deadline);
        return script(actx);
      },
      close: async () => undefined,
    },
  };
}

const ok: Script = async () => ({ status: 200, json: { ok: true } });
const refused: Script = async () => {
  throw new UpstreamFault('unreachable', 'InternalException', 'unreachable', 'ECONNREFUSED');
};
const timedOut: Script = async () => {
  throw new UpstreamFault('timeout', 'DependencyTimeoutException', 'timeout', 'headers timeout');
};
const invalidCiphertext: Script = async () => {
  throw new XksError('InvalidCiphertextException', 'bad tag');
};

function fleet(endpoints: UpstreamEndpoint[], now?: () => number) {
  return new UpstreamFleet(endpoints, { attemptTimeoutMs: 50, downBackoffMs: 1_000, logger: pino({ level: 'silent' }), ...(now ? { now } : {}) });
}

const ctx = (ms = 500) => ({ deadline: Date.now() + ms, signal: new AbortController().signal });
const run = (f: UpstreamFleet, c = ctx()) => f.call('encrypt', c, async (e, actx) => (await e.client.post('/p', {}, actx)).json);

describe('UpstreamFleet', () => {
  it('uses the first endpoint when it answers', async () => {
    const a = endpoint('a', ok);
    const b = endpoint('b', ok);
    await run(fleet([a, b]));
    expect([a.deadlines.length, b.deadlines.length]).toEqual([1, 0]);
  });

  it('fails over on a fault and then tries the failed endpoint last until its backoff ends', async () => {
    let t = 0;
    const a = endpoint('a', refused);
    const b = endpoint('b', ok);
    const f = fleet([a, b], () => t);
    await run(f);
    expect(f.order().map((e) => e.id)).toEqual(['b', 'a']);
    t = 999;
    expect(f.order().map((e) => e.id)).toEqual(['b', 'a']);
    t = 1_000;
    expect(f.order().map((e) => e.id)).toEqual(['a', 'b']);
  });

  it('never fails over on an error that blames the request', async () => {
    const a = endpoint('a', invalidCiphertext);
    const b = endpoint('b', ok);
    await expect(run(fleet([a, b]))).rejects.toMatchObject({ errorName: 'InvalidCiphertextException' });
    expect(b.deadlines).toHaveLength(0);
  });

  it('gives an attempt attemptTimeoutMs while another endpoint is left, and the last one all the time left', async () => {
    const a = endpoint('a', timedOut);
    const b = endpoint('b', ok);
    const c = ctx(500);
    await run(fleet([a, b]), c);
    expect(a.deadlines[0]! - Date.now()).toBeLessThanOrEqual(50);
    expect(b.deadlines[0]).toBe(c.deadline);
  });

  it('answers DependencyTimeoutException when any endpoint timed out and none answered', async () => {
    await expect(run(fleet([endpoint('a', timedOut), endpoint('b', refused)]))).rejects.toMatchObject({ errorName: 'DependencyTimeoutException' });
  });

  it("answers the last fault's error when no endpoint timed out", async () => {
    const upstream500: Script = async () => {
      throw new UpstreamFault('upstream-error', 'InternalException', 'upstream broke', 'HTTP 500');
    };
    await expect(run(fleet([endpoint('a', refused), endpoint('b', upstream500)]))).rejects.toMatchObject({
      errorName: 'InternalException',
      message: 'upstream broke',
    });
  });

  it('answers DependencyTimeoutException without calling anyone when no time is left', async () => {
    const a = endpoint('a', ok);
    await expect(run(fleet([a]), ctx(0))).rejects.toMatchObject({ errorName: 'DependencyTimeoutException' });
    expect(a.deadlines).toHaveLength(0);
  });

  it('hides an unexpected exception behind InternalException', async () => {
    const broken = endpoint('a', async () => {
      throw new TypeError('bug with secret details');
    });
    const error = (await run(fleet([broken])).catch((e: unknown) => e)) as XksError;
    expect(error).toMatchObject({ errorName: 'InternalException' });
    expect(error.message).not.toContain('secret');
  });
});
