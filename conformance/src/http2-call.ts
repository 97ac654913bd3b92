/** One signed XKS call over HTTP/2 (KMS may speak HTTP/2; :authority plays Host, spec Appendix A). */
import { connect } from 'node:http2';
import type { ConformanceOptions } from './options.ts';
import { signRequest } from './sign-request.ts';

/** Status and body of an HTTP/2 answer. */
export interface Http2Answer {
  status: number;
  text: string;
}

/** POSTs `body` to `path` over HTTP/2, signed with the run's credentials. */
export function http2Post(options: ConformanceOptions, path: string, body: string): Promise<Http2Answer> {
  const url = new URL(options.endpoint);
  const signed = signRequest({
    method: 'POST',
    host: url.host,
    path,
    body,
    accessKeyId: options.accessKeyId,
    secretAccessKey: options.secretAccessKey,
    region: options.region,
  });
  const { host: _host, ...headers } = signed;
  return new Promise((resolve, reject) => {
    const session = connect(url.origin, {
      ca: options.tls.ca,
      cert: options.tls.cert,
      key: options.tls.key,
      rejectUnauthorized: !options.tls.insecure,
    });
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error('HTTP/2 call timed out'));
    }, options.requestTimeoutMs);
    session.once('error', (e: Error) => {
      clearTimeout(timer);
      session.destroy();
      reject(e);
    });
    const req = session.request({ ':method': 'POST', ':path': path, ':authority': url.host, ...headers });
    let status = 0;
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      status = Number(h[':status']);
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      clearTimeout(timer);
      session.close();
      resolve({ status, text: Buffer.concat(chunks).toString('utf8') });
    });
    req.on('error', (e: Error) => {
      clearTimeout(timer);
      session.destroy();
      reject(e);
    });
    req.end(body);
  });
}
