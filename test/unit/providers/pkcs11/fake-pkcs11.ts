import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Pkcs11Api, Pkcs11Attribute, Pkcs11Handle, Pkcs11Mechanism } from '../../../../src/providers/pkcs11/pkcs11-api.ts';
import { CKA, CKK_AES, CKR, CKU_USER } from '../../../../src/providers/pkcs11/pkcs11-constants.ts';

/** A PKCS#11 error as pkcs11js throws it: an Error with a numeric `code`. */
export function ckError(code: number): Error {
  return Object.assign(new Error(`CKR 0x${code.toString(16)}`), { code });
}

interface FakeKey {
  label: string;
  bytes: number;
  encrypt: boolean;
  decrypt: boolean;
  value: Buffer;
}

/** A call that does not settle until `releaseHung`, then answers, or fails. */
type Hang = 'hang' | 'hang-then-fail';

interface Op {
  kind: 'encrypt' | 'decrypt';
  key: FakeKey;
  iv: Buffer;
  aad: Buffer;
}

const h = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};
const n = (b: Buffer): number => Number(b.readBigUInt64LE(0));
const ulong = (v: number): Buffer => h(v);

/**
 * An in-memory PKCS#11 token for wiring tests: AES-GCM by node:crypto, one slot, login
 * state shared by all sessions, object handles that die on logout (as SoftHSM2's do), and
 * scripted faults (`fail('C_EncryptAsync', CKR.DEVICE_ERROR)`). Behaviour against a real
 * token is proven by the SoftHSM2 integration tests; this checks decisions.
 */
export class FakePkcs11 implements Pkcs11Api {
  readonly calls = new Map<string, number>();
  readonly #faults = new Map<string, Array<number | Hang>>();
  readonly #keys: FakeKey[] = [];
  readonly #sessions = new Map<number, { op: Op | undefined }>();
  #nextSession = 1;
  #loginEpoch = 1;
  #loggedIn = false;
  #initialized = false;
  /** When true, C_EncryptInit fills the IV itself (HSMs that generate IVs). */
  generatesIv = false;
  pin = '1234';
  /** C_GetInfo's manufacturerID (config check picks vendor quirks by it). */
  manufacturerID = 'Fake';
  /** When true, keys are public objects, visible without login (an NSS database without a password). */
  publicObjects = false;
  /** The flags of every C_OpenSession, in order. */
  readonly sessionFlags: number[] = [];
  /** What the last C_Initialize was given. */
  libraryParameters: string | undefined;
  readonly #hung: Array<() => void> = [];

  constructor(readonly label = 'fake') {}

  addKey(label: string, opts: Partial<Omit<FakeKey, 'label'>> = {}): void {
    this.#keys.push({ label, bytes: 32, encrypt: true, decrypt: true, value: randomBytes(opts.bytes ?? 32), ...opts });
  }

  /**
   * The next `times` calls of `method` fail with `code` ('hang': never settle until
   * `releaseHung`; 'hang-then-fail': then fail with CKR_DEVICE_ERROR).
   */
  fail(method: keyof Pkcs11Api, code: number | Hang, times = 1): void {
    const q = this.#faults.get(method) ?? [];
    for (let i = 0; i < times; i++) q.push(code);
    this.#faults.set(method, q);
  }

  /** Lets hung calls finish. */
  releaseHung(): void {
    for (const r of this.#hung.splice(0)) r();
  }

  logout(): void {
    this.#loggedIn = false;
    this.#loginEpoch += 1;
  }

  #enter(method: string): number | Hang | undefined {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
    if (!this.#initialized && method !== 'C_Initialize' && method !== 'close') throw ckError(CKR.CRYPTOKI_NOT_INITIALIZED);
    const fault = this.#faults.get(method)?.shift();
    if (typeof fault === 'number') throw ckError(fault);
    return fault;
  }

  #session(s: Pkcs11Handle): { op: Op | undefined } {
    const found = this.#sessions.get(n(s));
    if (found === undefined) throw ckError(CKR.SESSION_HANDLE_INVALID);
    return found;
  }

  #key(k: Pkcs11Handle): FakeKey {
    const v = n(k);
    const epoch = Math.floor(v / 1000);
    const key = this.#keys[(v % 1000) - 1];
    if (!(this.#loggedIn || this.publicObjects) || epoch !== this.#loginEpoch || key === undefined) throw ckError(CKR.OBJECT_HANDLE_INVALID);
    return key;
  }

  #handleOf(key: FakeKey): Buffer {
    return h(this.#loginEpoch * 1000 + this.#keys.indexOf(key) + 1);
  }

  C_Initialize(libraryParameters?: string): void {
    this.#enter('C_Initialize');
    if (this.#initialized) throw ckError(CKR.CRYPTOKI_ALREADY_INITIALIZED);
    this.#initialized = true;
    this.libraryParameters = libraryParameters;
  }
  C_GetInfo() {
    this.#enter('C_GetInfo');
    return {
      manufacturerID: this.manufacturerID.padEnd(32),
      libraryDescription: 'Fake PKCS#11 library'.padEnd(32),
      libraryVersion: { major: 1, minor: 0 },
      cryptokiVersion: { major: 2, minor: 40 },
    };
  }
  C_Finalize(): void {
    this.#enter('C_Finalize');
    this.#initialized = false;
    this.#sessions.clear();
    this.logout();
  }
  close(): void {
    this.#enter('close');
  }
  C_GetSlotList(): Pkcs11Handle[] {
    this.#enter('C_GetSlotList');
    return [h(7)];
  }
  C_GetTokenInfo() {
    this.#enter('C_GetTokenInfo');
    return {
      label: this.label.padEnd(32),
      manufacturerID: 'Fake'.padEnd(32),
      model: 'FakeHSM'.padEnd(16),
      serialNumber: '0001'.padEnd(16),
      flags: 0x400,
      firmwareVersion: { major: 1, minor: 0 },
    };
  }
  C_OpenSession(_slot: Pkcs11Handle, flags: number): Pkcs11Handle {
    this.#enter('C_OpenSession');
    this.sessionFlags.push(flags);
    const id = this.#nextSession++;
    this.#sessions.set(id, { op: undefined });
    return h(id);
  }
  C_CloseSession(s: Pkcs11Handle): void {
    this.#enter('C_CloseSession');
    this.#session(s);
    this.#sessions.delete(n(s));
    if (this.#sessions.size === 0) this.logout();
  }
  C_GetSessionInfo(s: Pkcs11Handle) {
    this.#enter('C_GetSessionInfo');
    this.#session(s);
    return { state: this.#loggedIn ? 1 : 0 };
  }
  C_Login(s: Pkcs11Handle, userType: number, pin: string): void {
    this.#enter('C_Login');
    this.#session(s);
    if (userType !== CKU_USER) throw ckError(CKR.ARGUMENTS_BAD);
    if (this.#loggedIn) throw ckError(CKR.USER_ALREADY_LOGGED_IN);
    if (pin !== this.pin) throw ckError(CKR.PIN_INCORRECT);
    this.#loggedIn = true;
  }
  #found: Buffer[] = [];
  C_FindObjectsInit(s: Pkcs11Handle, template: Pkcs11Attribute[]): void {
    this.#enter('C_FindObjectsInit');
    this.#session(s);
    const label = template.find((a) => a.type === CKA.LABEL)?.value;
    this.#found = this.#loggedIn || this.publicObjects ? this.#keys.filter((k) => label === undefined || k.label === label).map((k) => this.#handleOf(k)) : [];
  }
  C_FindObjects(s: Pkcs11Handle, max: number): Pkcs11Handle[] {
    this.#enter('C_FindObjects');
    this.#session(s);
    return this.#found.slice(0, max);
  }
  C_FindObjectsFinal(s: Pkcs11Handle): void {
    this.#enter('C_FindObjectsFinal');
    this.#session(s);
  }
  C_GetAttributeValue(s: Pkcs11Handle, o: Pkcs11Handle, template: Pkcs11Attribute[]): Pkcs11Attribute[] {
    this.#enter('C_GetAttributeValue');
    this.#session(s);
    const key = this.#key(o);
    const values: Record<number, Buffer> = {
      [CKA.KEY_TYPE]: ulong(CKK_AES),
      [CKA.VALUE_LEN]: ulong(key.bytes),
      [CKA.ENCRYPT]: Buffer.from([key.encrypt ? 1 : 0]),
      [CKA.DECRYPT]: Buffer.from([key.decrypt ? 1 : 0]),
      [CKA.LABEL]: Buffer.from(key.label),
    };
    return template.map((a) => ({ type: a.type, value: values[a.type] ?? Buffer.alloc(0) }));
  }
  C_GenerateRandom(s: Pkcs11Handle, buffer: Buffer): Buffer {
    this.#enter('C_GenerateRandom');
    this.#session(s);
    return randomBytes(buffer.length).copy(buffer) === buffer.length ? buffer : buffer;
  }
  C_GenerateKey(): Pkcs11Handle {
    this.#enter('C_GenerateKey');
    throw ckError(CKR.FUNCTION_FAILED);
  }
  #init(kind: Op['kind'], s: Pkcs11Handle, m: Pkcs11Mechanism, k: Pkcs11Handle): void {
    const session = this.#session(s);
    if (session.op !== undefined) throw ckError(CKR.OPERATION_ACTIVE);
    const key = this.#key(k);
    if (kind === 'encrypt' ? !key.encrypt : !key.decrypt) throw ckError(CKR.KEY_FUNCTION_NOT_PERMITTED);
    const gcm = m.gcm as NonNullable<Pkcs11Mechanism['gcm']>;
    if (kind === 'encrypt' && this.generatesIv) randomBytes(gcm.iv.length).copy(gcm.iv);
    session.op = { kind, key, iv: gcm.iv, aad: Buffer.from(gcm.aad) };
  }
  C_EncryptInit(s: Pkcs11Handle, m: Pkcs11Mechanism, k: Pkcs11Handle): void {
    this.#enter('C_EncryptInit');
    this.#init('encrypt', s, m, k);
  }
  C_DecryptInit(s: Pkcs11Handle, m: Pkcs11Mechanism, k: Pkcs11Handle): void {
    this.#enter('C_DecryptInit');
    this.#init('decrypt', s, m, k);
  }
  async #run(method: string, s: Pkcs11Handle, compute: (op: Op) => Buffer): Promise<Buffer> {
    const fault = this.#enter(method);
    const session = this.#session(s);
    const op = session.op;
    if (op === undefined) throw ckError(CKR.OPERATION_NOT_INITIALIZED);
    if (fault !== undefined) await new Promise<void>((resolve) => this.#hung.push(resolve));
    if (fault === 'hang-then-fail') throw ckError(CKR.DEVICE_ERROR);
    await new Promise((r) => setImmediate(r));
    session.op = undefined;
    return compute(op);
  }
  C_EncryptAsync(s: Pkcs11Handle, input: Buffer): Promise<Buffer> {
    return this.#run('C_EncryptAsync', s, (op) => {
      const c = createCipheriv('aes-256-gcm', op.key.value, op.iv);
      c.setAAD(op.aad);
      return Buffer.concat([c.update(input), c.final(), c.getAuthTag()]);
    });
  }
  C_DecryptAsync(s: Pkcs11Handle, input: Buffer): Promise<Buffer> {
    return this.#run('C_DecryptAsync', s, (op) => {
      const d = createDecipheriv('aes-256-gcm', op.key.value, op.iv);
      d.setAAD(op.aad);
      d.setAuthTag(input.subarray(input.length - 16));
      try {
        return Buffer.concat([d.update(input.subarray(0, input.length - 16)), d.final()]);
      } catch {
        throw ckError(CKR.ENCRYPTED_DATA_INVALID);
      }
    });
  }
}
