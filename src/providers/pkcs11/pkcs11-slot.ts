import type { Pkcs11Api, Pkcs11Handle, Pkcs11TokenInfo } from './pkcs11-api.ts';

/** A token found in a slot, with its blank-trimmed identity. */
export interface Pkcs11Slot {
  slot: Pkcs11Handle;
  label: string;
  serial: string;
  /** e.g. "SoftHSM v2 (SoftHSM project) firmware 2.6"; reported as the ekmFleetDetails model. */
  model: string;
}

/** How a token is chosen: by CKA label or by serial number (exactly one). */
export interface Pkcs11TokenSelector {
  label?: string | undefined;
  serial?: string | undefined;
}

/** A token that is not present in any slot; the message lists the tokens that are. */
export class Pkcs11TokenNotFoundError extends Error {
  constructor(
    readonly selector: Pkcs11TokenSelector,
    readonly present: readonly Pkcs11Slot[],
  ) {
    const wanted = selector.label !== undefined ? `label "${selector.label}"` : `serial "${selector.serial ?? ''}"`;
    const seen = present.length === 0 ? 'no initialized token is present' : `present: ${present.map((p) => `"${p.label}" (serial ${p.serial})`).join(', ')}`;
    super(`no token with ${wanted}; ${seen}`);
    this.name = 'Pkcs11TokenNotFoundError';
  }
}

function describeSlot(slot: Pkcs11Handle, info: Pkcs11TokenInfo): Pkcs11Slot {
  const model = `${info.model.trim()} (${info.manufacturerID.trim()}) firmware ${info.firmwareVersion.major}.${info.firmwareVersion.minor}`;
  return { slot, label: info.label.trimEnd(), serial: info.serialNumber.trimEnd(), model };
}

/** Every slot holding an initialized token. */
export function listTokenSlots(api: Pkcs11Api): Pkcs11Slot[] {
  const CKF_TOKEN_INITIALIZED = 0x400;
  return api
    .C_GetSlotList(true)
    .map((slot) => ({ slot, info: api.C_GetTokenInfo(slot) }))
    .filter(({ info }) => (info.flags & CKF_TOKEN_INITIALIZED) !== 0)
    .map(({ slot, info }) => describeSlot(slot, info));
}

/**
 * The slot holding the selected token. Slot ids are not stable (SoftHSM2 derives them
 * from the serial, others number them by discovery order), so tokens are always found
 * by label or serial and looked up again after the library is re-initialized.
 */
export function findTokenSlot(api: Pkcs11Api, selector: Pkcs11TokenSelector): Pkcs11Slot {
  const present = listTokenSlots(api);
  const found = present.find((p) => (selector.label !== undefined ? p.label === selector.label : p.serial === selector.serial));
  if (found === undefined) throw new Pkcs11TokenNotFoundError(selector, present);
  return found;
}
