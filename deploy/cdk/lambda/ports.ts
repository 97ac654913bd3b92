/**
 * What the handlers need from the outside world, as narrow interfaces: the real entry
 * points (index.ts) pass the AWS SDK clients, the tests pass a stand-in KMS (KMS cannot be
 * reached from the build machines). The handlers build real SDK Command objects either way,
 * so the request shapes under test are the ones sent to KMS.
 */

/** The one method of an AWS SDK v3 client the handlers use. */
export interface CommandSender {
  send(command: object): Promise<unknown>;
}

/** The XKS proxy credential as KMS takes it (UpdateCustomKeyStore / CreateCustomKeyStore). */
export interface XksCredential {
  AccessKeyId: string;
  RawSecretAccessKey: string;
}

export interface HandlerDeps {
  kms: CommandSender;
  /** Reads the credential secret (JSON {"accessKeyId","secretAccessKey"}) by ARN. */
  readCredential(secretArn: string): Promise<XksCredential>;
  /** Milliseconds since the epoch (a parameter so deadline tests need no real waiting). */
  now(): number;
  /** One line per decision, to CloudWatch Logs; never given a secret. */
  log(message: string): void;
}

/** The AWS SDK error name of a thrown value, or undefined. */
export function errorName(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'name' in e && typeof (e as { name: unknown }).name === 'string' ? (e as { name: string }).name : undefined;
}

/**
 * Parses the credential secret. The field names are the ones `xks-proxy credentials
 * generate` prints; errors name the field, never the value.
 */
export function parseCredentialSecret(secretString: string | undefined, secretArn: string): XksCredential {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString ?? '');
  } catch {
    throw new Error(`credential secret ${secretArn} is not JSON: expected {"accessKeyId": "...", "secretAccessKey": "..."}`);
  }
  const record = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  const accessKeyId = record['accessKeyId'];
  const secretAccessKey = record['secretAccessKey'];
  if (typeof accessKeyId !== 'string' || !/^[A-Z2-7]{20,30}$/.test(accessKeyId)) {
    throw new Error(`credential secret ${secretArn}: field accessKeyId must be 20-30 characters of A-Z and 2-7`);
  }
  if (typeof secretAccessKey !== 'string' || !/^[A-Za-z0-9+/=]{43,64}$/.test(secretAccessKey)) {
    throw new Error(`credential secret ${secretArn}: field secretAccessKey must be 43-64 characters of A-Z a-z 0-9 + / =`);
  }
  return { AccessKeyId: accessKeyId, RawSecretAccessKey: secretAccessKey };
}
