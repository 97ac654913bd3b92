/**
 * The part of PKCS#11 this provider calls, as a small hand-written interface. The real
 * implementation wraps pkcs11js (pkcs11js-api.ts); unit tests pass a scripted fake to test
 * the wiring (retries, failover, error mapping) while behaviour is proven on SoftHSM2.
 * Errors are thrown as objects with a numeric `code` (the CK_RV), as pkcs11js does.
 */

/** A slot, session or object handle (CK_ULONG in native byte order, as pkcs11js returns it). */
export type Pkcs11Handle = Buffer;

/** One attribute of a template; values read back are raw Buffers. */
export interface Pkcs11Attribute {
  type: number;
  value?: number | boolean | string | Buffer;
}

/** The C_GetTokenInfo fields the provider uses (strings are blank padded). */
export interface Pkcs11TokenInfo {
  label: string;
  manufacturerID: string;
  model: string;
  serialNumber: string;
  flags: number;
  firmwareVersion: { major: number; minor: number };
}

/** C_GetInfo: the library (not a token); `manufacturerID` picks the vendor quirks `config check` warns about. */
export interface Pkcs11LibraryInfo {
  manufacturerID: string;
  libraryDescription: string;
  libraryVersion: { major: number; minor: number };
  cryptokiVersion: { major: number; minor: number };
}

/** AES-GCM parameters (CK_GCM_PARAMS); `iv` is passed by reference so a token may fill it. */
export interface Pkcs11GcmParams {
  iv: Buffer;
  aad: Buffer;
  tagBits: number;
}

/** A mechanism: key generation carries no parameter, AES-GCM carries `gcm`. */
export interface Pkcs11Mechanism {
  mechanism: number;
  gcm?: Pkcs11GcmParams;
}

/** The PKCS#11 calls the provider, the key admin CLI and the config check make. */
export interface Pkcs11Api {
  /**
   * C_Initialize with CKF_OS_LOCKING_OK (always: concurrent calls need library locking).
   * `libraryParameters` goes to the library in CK_C_INITIALIZE_ARGS.pReserved, the way NSS
   * softoken takes its database location (config `libraryParameters`); other libraries get NULL.
   */
  C_Initialize(libraryParameters?: string): void;
  C_GetInfo(): Pkcs11LibraryInfo;
  C_Finalize(): void;
  /** Unloads the library (dlclose). */
  close(): void;
  C_GetSlotList(tokenPresent: boolean): Pkcs11Handle[];
  C_GetTokenInfo(slot: Pkcs11Handle): Pkcs11TokenInfo;
  C_OpenSession(slot: Pkcs11Handle, flags: number): Pkcs11Handle;
  C_CloseSession(session: Pkcs11Handle): void;
  C_GetSessionInfo(session: Pkcs11Handle): { state: number };
  C_Login(session: Pkcs11Handle, userType: number, pin: string): void;
  C_FindObjectsInit(session: Pkcs11Handle, template: Pkcs11Attribute[]): void;
  C_FindObjects(session: Pkcs11Handle, maxObjectCount: number): Pkcs11Handle[];
  C_FindObjectsFinal(session: Pkcs11Handle): void;
  C_GetAttributeValue(session: Pkcs11Handle, object: Pkcs11Handle, template: Pkcs11Attribute[]): Pkcs11Attribute[];
  C_GenerateRandom(session: Pkcs11Handle, buffer: Buffer): Buffer;
  C_GenerateKey(session: Pkcs11Handle, mechanism: Pkcs11Mechanism, template: Pkcs11Attribute[]): Pkcs11Handle;
  C_EncryptInit(session: Pkcs11Handle, mechanism: Pkcs11Mechanism, key: Pkcs11Handle): void;
  /** Single-part encrypt on the libuv thread pool; resolves with the used part of `output`. */
  C_EncryptAsync(session: Pkcs11Handle, input: Buffer, output: Buffer): Promise<Buffer>;
  C_DecryptInit(session: Pkcs11Handle, mechanism: Pkcs11Mechanism, key: Pkcs11Handle): void;
  /** Single-part decrypt on the libuv thread pool; resolves with the used part of `output`. */
  C_DecryptAsync(session: Pkcs11Handle, input: Buffer, output: Buffer): Promise<Buffer>;
}

/** Loads a PKCS#11 library from a path and returns its API (not yet initialized). */
export type Pkcs11Loader = (modulePath: string) => Pkcs11Api;
