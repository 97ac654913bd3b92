/** SigV4 signing of XKS requests with aws4, an implementation independent of any proxy. */
import aws4 from 'aws4';

/** The SigV4 service name the spec fixes for XKS (Appendix A). */
export const XKS_SERVICE = 'kms-xks-proxy';

/** What to sign; the optional fields let checks build deliberately wrong signatures. */
export interface SignInput {
  method: string;
  /** host[:port] as sent in the Host header (HTTP/2 :authority). */
  host: string;
  path: string;
  body: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  service?: string;
  /** Signing time; default now. */
  date?: Date;
  /**
   * `kms`: SignedHeaders=host;x-amz-date, as AWS KMS signs (spec Appendix A).
   * `all`: also signs content-type and content-length, a valid SigV4 variant.
   * `no-host`: signs x-amz-date only (host left unsigned).
   */
  signedHeaders?: 'kms' | 'all' | 'no-host';
  /** More headers to sign and send, e.g. X-Amz-Content-Sha256. */
  extraHeaders?: Record<string, string>;
}

/** Formats a date as the X-Amz-Date value, YYYYMMDD'T'HHMMSS'Z'. */
export function amzDate(date: Date): string {
  return date.toISOString().replace(/[:-]|\.\d{3}/g, '');
}

/**
 * Returns the headers to send (Host, X-Amz-Date, Content-Type, Authorization) for a
 * request signed as described by `input`.
 */
export function signRequest(input: SignInput): Record<string, string> {
  const datetime = amzDate(input.date ?? new Date());
  const variant = input.signedHeaders ?? 'kms';
  const headers: Record<string, string> = { Host: input.host, 'X-Amz-Date': datetime, ...input.extraHeaders };
  if (variant === 'all') {
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = String(Buffer.byteLength(input.body));
  }
  // doNotModifyHeaders stops aws4 adding its own Content-Type; the date is pinned on the
  // signer because aws4 only reads X-Amz-Date from the headers when it may modify them.
  const signer = new aws4.RequestSigner(
    {
      host: input.host,
      method: input.method,
      path: input.path,
      service: input.service ?? XKS_SERVICE,
      region: input.region,
      body: input.body,
      headers,
      doNotModifyHeaders: true,
    },
    { accessKeyId: input.accessKeyId, secretAccessKey: input.secretAccessKey },
  );
  signer.datetime = datetime;
  if (variant === 'no-host') delete (signer.request.headers as Record<string, unknown>).Host;
  signer.sign();
  const signed = signer.request.headers as Record<string, string>;
  const out: Record<string, string> = {
    host: input.host,
    'x-amz-date': datetime,
    'content-type': 'application/json',
    authorization: signed.Authorization ?? '',
  };
  if (variant === 'all') out['content-length'] = headers['Content-Length'] as string;
  for (const [name, value] of Object.entries(input.extraHeaders ?? {})) out[name.toLowerCase()] = value;
  return out;
}
