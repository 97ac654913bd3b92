/** The CK_RV carried by an error from the PKCS#11 layer, or undefined for other errors. */
export function pkcs11ErrorCode(e: unknown): number | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const code = (e as { code?: unknown }).code;
  // pkcs11js sets code 0 on NativeError (not a CK_RV), so 0 means "not a PKCS#11 code".
  return typeof code === 'number' && code > 0 ? code : undefined;
}

/** True when `e` is a PKCS#11 error with one of the given return values. */
export function hasPkcs11Code(e: unknown, ...codes: number[]): boolean {
  const code = pkcs11ErrorCode(e);
  return code !== undefined && codes.includes(code);
}
