/** Signed XKS API calls for the checks: the right way by default, any wrong way on request. */
import type { AnsweredOperation } from './answer-values.ts';
import type { HttpAnswer, HttpClient } from './http-client.ts';
import type { ConformanceOptions } from './options.ts';
import { signRequest } from './sign-request.ts';
import type { SignInput } from './sign-request.ts';
import { decryptBody, encryptBody, healthMetadata, requestMetadata } from './request-bodies.ts';
import type { DecryptInput, EncryptInput } from './request-bodies.ts';

/** The four XKS operations (spec "API operations"). */
export type XksOperation = 'health' | 'metadata' | 'encrypt' | 'decrypt';

/** Changes to the signing of one call, for negative SigV4 checks. */
export type SignOverrides = Partial<Omit<SignInput, 'method' | 'body'>> & {
  /** Sign this body but send the request's body (tampering after signing). */
  signedBody?: string;
  /** Sign this path but send to the request's path. */
  signedPath?: string;
};

/** Per-call options. */
export interface CallOptions {
  method?: string;
  sign?: SignOverrides;
  /** Headers to remove after signing (lower-case names). */
  dropHeaders?: string[];
  /** Headers to set or replace after signing. */
  setHeaders?: Record<string, string>;
  /** Send without any SigV4 headers at all. */
  unsigned?: boolean;
}

/** XKS client bound to one endpoint, prefix and credential. */
export class XksClient {
  constructor(
    readonly http: HttpClient,
    readonly options: ConformanceOptions,
  ) {}

  /** `/<prefix>/kms/xks/v1` for the configured prefix, or for `prefix` when given. */
  basePath(prefix = this.options.prefix): string {
    return prefix === '' ? '/kms/xks/v1' : `/${prefix}/kms/xks/v1`;
  }

  /** URI path of an operation (spec "API operations"). */
  path(op: XksOperation, keyId = this.options.keys.main, prefix?: string): string {
    const base = this.basePath(prefix);
    return op === 'health' ? `${base}/health` : `${base}/keys/${keyId}/${op}`;
  }

  /** Sends `body` (an object is JSON-encoded) to `path`, signed unless told otherwise. */
  async call(path: string, body: string | object, opts: CallOptions = {}): Promise<HttpAnswer> {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const method = opts.method ?? 'POST';
    let headers: Record<string, string> = { 'content-type': 'application/json' };
    if (!opts.unsigned) {
      const o = this.options;
      const s = opts.sign ?? {};
      headers = signRequest({
        method,
        host: s.host ?? this.http.host,
        path: s.signedPath ?? s.path ?? path,
        body: s.signedBody ?? text,
        accessKeyId: s.accessKeyId ?? o.accessKeyId,
        secretAccessKey: s.secretAccessKey ?? o.secretAccessKey,
        region: s.region ?? o.region,
        service: s.service,
        date: s.date,
        signedHeaders: s.signedHeaders,
        extraHeaders: s.extraHeaders,
      });
    }
    for (const name of opts.dropHeaders ?? []) delete headers[name];
    Object.assign(headers, opts.setHeaders ?? {});
    const answer = await this.http.send({ method, path, headers, body: method === 'GET' ? undefined : text });
    const operation = this.operationOf(path);
    if (operation !== undefined) answer.answers = { operation, request: parseOrUndefined(text) };
    return answer;
  }

  /** The operation a path names under the configured prefix, else undefined. */
  operationOf(path: string): AnsweredOperation | undefined {
    const base = this.basePath();
    if (path === `${base}/health`) return 'health';
    const m = path.startsWith(`${base}/keys/`) ? /\/(metadata|encrypt|decrypt)$/.exec(path) : null;
    return m ? (m[1] as AnsweredOperation) : undefined;
  }

  /** GetHealthStatus. */
  health(meta = healthMetadata(), opts?: CallOptions): Promise<HttpAnswer> {
    return this.call(this.path('health'), { requestMetadata: meta }, opts);
  }

  /** GetKeyMetadata. */
  metadata(keyId = this.options.keys.main, meta = requestMetadata('DescribeKey'), opts?: CallOptions): Promise<HttpAnswer> {
    return this.call(this.path('metadata', keyId), { requestMetadata: meta }, opts);
  }

  /** Encrypt. */
  encrypt(keyId: string, input: EncryptInput, meta = requestMetadata('Encrypt'), opts?: CallOptions): Promise<HttpAnswer> {
    return this.call(this.path('encrypt', keyId), encryptBody(input, meta), opts);
  }

  /** Decrypt. */
  decrypt(keyId: string, input: DecryptInput, meta = requestMetadata('Decrypt'), opts?: CallOptions): Promise<HttpAnswer> {
    return this.call(this.path('decrypt', keyId), decryptBody(input, meta), opts);
  }
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
