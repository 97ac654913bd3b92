import { z } from 'zod';
import { configMapSchema } from '../../config-values/config-map.ts';
import { isSecretRef } from '../../config-values/secret-ref.ts';

/** `env:NAME` or `file:PATH`: a PIN never sits in the config file itself. */
const pinRefSchema = z.string().min(1).refine(isSecretRef, 'must be a secret reference (env:NAME or file:PATH); inline PINs are refused');

/**
 * A string handed to C_Initialize in CK_C_INITIALIZE_ARGS.pReserved. NSS softoken needs it
 * (its database directory and flags; C_Initialize without it fails CKR_ARGUMENTS_BAD,
 * measured); HSM libraries take their settings from their own config files instead.
 */
const libraryParametersSchema = z.string().min(1).max(4096);

/** One token (HSM partition) of the fleet, found by label or serial number. */
const pkcs11TokenSchema = z
  .object({
    /** Id of this token in ekmFleetDetails and logs; default: its label or serial. */
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 characters of A-Za-z0-9._-')
      .optional(),
    /** CKA token label (C_GetTokenInfo label, without the blank padding). */
    label: z.string().min(1).max(32).optional(),
    /** Token serial number (C_GetTokenInfo serialNumber, without padding). */
    serial: z.string().min(1).max(16).optional(),
    /** User PIN of this token, if it differs from the provider's `pin`. */
    pin: pinRefSchema.optional(),
    /** PKCS#11 library of this token, if it differs from the provider's `module`. */
    module: z.string().min(1).optional(),
    /** C_Initialize library parameters of this token's module, if they differ from the provider's. */
    libraryParameters: libraryParametersSchema.optional(),
  })
  .strict()
  .refine((t) => (t.label === undefined) !== (t.serial === undefined), {
    message: 'set exactly one of label or serial',
  });

/** Config of the PKCS#11 HSM provider (one token, or a fleet of replicas holding the same keys). */
export const pkcs11ProviderConfigSchema = z
  .object({
    type: z.literal('pkcs11'),
    /** Path of the vendor's PKCS#11 library (.so); relative paths resolve against the config file. */
    module: z.string().min(1),
    /** C_Initialize library parameters (NSS softoken: configdir='sql:DIR' ...); see docs/pkcs11.md. */
    libraryParameters: libraryParametersSchema.optional(),
    /**
     * `user`: log in as CKU_USER with the PIN (HSMs, SoftHSM2). `none`: never log in, for
     * tokens whose keys are public objects (an NSS database without a password); keys are
     * then created with CKA_PRIVATE false, since private objects need a login.
     */
    login: z.enum(['user', 'none']).default('user'),
    /** User PIN (CKU_USER) as a secret reference; tokens may override it. */
    pin: pinRefSchema.optional(),
    /** The tokens: one, or several replicas holding the same keys (at most 10: spec ekmFleetDetails). */
    tokens: z.array(pkcs11TokenSchema).min(1, 'list at least one token').max(10, 'at most 10 tokens (spec ekmFleetDetails)'),
    /**
     * Open the provider's sessions read/write. Crypto needs only read-only sessions (the
     * default), but AWS CloudHSM Client SDK 5 lists read-only sessions as not supported
     * (docs/pkcs11.md, "AWS CloudHSM").
     */
    readWriteSessions: z.boolean().default(false),
    /** Sessions opened per token; one crypto operation runs on a session at a time. */
    sessionsPerToken: z.number().int().min(1).max(256).default(8),
    /**
     * externalKeyId -> CKA_LABEL, for ids that differ from the key's label. Read through
     * a Map (`configMap`), never by indexing: ids such as `constructor` are inherited
     * members of a plain object (issue 15: one crashed the process inside pkcs11js).
     */
    keyLabels: configMapSchema(/^[A-Za-z0-9._-]{1,128}$/, 'must be 1-128 characters of A-Za-z0-9._-', z.string().min(1)).default({}),
    /** Whether ids missing from keyLabels are looked up by label (`by-label`) or refused as not found (`mapped-only`). */
    unmappedKeys: z.enum(['by-label', 'mapped-only']).default('by-label'),
    /** CKA_LABEL of the health canary key (AES-256, encrypt+decrypt, used for nothing else). */
    healthKeyLabel: z.string().min(1).default('xks-health-canary'),
    /**
     * Where the 12-byte GCM IV comes from: the OS RNG (`os`), the token's RNG via
     * C_GenerateRandom (`token-rng`), or the token itself during C_Encrypt
     * (`token-generated`, for HSMs in modes that refuse caller-supplied IVs).
     */
    ivSource: z.enum(['os', 'token-rng', 'token-generated']).default('os'),
    /** How long a key's handle and attributes are reused before they are read again. */
    keyCacheSeconds: z.number().min(0).max(3600).default(60),
    /**
     * With several tokens: the longest one token may take before the next one is tried
     * (the last one tried gets the rest of the request budget). A token that overruns it
     * is marked failed until a background probe sees it answer again.
     */
    attemptTimeoutMs: z.number().int().min(10).max(10_000).default(150),
    /** How long a failed token rests before it is probed again (doubling up to 60 s). */
    tokenRetrySeconds: z.number().min(0.1).max(60).default(2),
  })
  .strict()
  .superRefine((c, ctx) => {
    const names = new Set<string>();
    if (c.login === 'none' && c.pin !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['pin'], message: 'login is none: remove the PIN, or set login: user' });
    }
    c.tokens.forEach((t, i) => {
      if (c.login === 'user' && t.pin === undefined && c.pin === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['tokens', i, 'pin'],
          message: 'no PIN: set pin here or on the provider (or login: none for a token without login)',
        });
      }
      if (c.login === 'none' && t.pin !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['tokens', i, 'pin'], message: 'login is none: remove the PIN, or set login: user' });
      }
      const name = pkcs11TokenName(t);
      if (names.has(name)) {
        ctx.addIssue({ code: 'custom', path: ['tokens', i, 'name'], message: `duplicate token name "${name}"; set a unique name` });
      }
      names.add(name);
    });
  });

/** Parsed PKCS#11 provider config. */
export type Pkcs11ProviderConfig = z.infer<typeof pkcs11ProviderConfigSchema>;
/** One token's parsed config. */
export type Pkcs11TokenConfig = Pkcs11ProviderConfig['tokens'][number];

/** The C_Initialize library parameters of a token's module: its own, else the provider's. */
export function pkcs11LibraryParameters(
  c: Pick<Pkcs11ProviderConfig, 'libraryParameters'>,
  t: Pick<Pkcs11TokenConfig, 'libraryParameters'>,
): string | undefined {
  return t.libraryParameters ?? c.libraryParameters;
}

/** The id a token has in health and logs. */
export function pkcs11TokenName(t: Pick<Pkcs11TokenConfig, 'name' | 'label' | 'serial'>): string {
  return t.name ?? t.label ?? `serial-${t.serial ?? '?'}`;
}
