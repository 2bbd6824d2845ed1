/**
 * Random codes and tokens. User codes follow RFC 8628 §6.1: short, case-insensitive,
 * from an alphabet without vowels (no accidental words) or look-alike characters.
 */
import { randomBytes, randomInt } from 'node:crypto';

const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const USER_CODE_LENGTH = 8;

/** A user code such as `WDJB-MJHT`: 8 characters, a dash in the middle. */
export function newUserCode(): string {
  let code = '';
  for (let i = 0; i < USER_CODE_LENGTH; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/**
 * The canonical form of what a user typed: upper case, dash re-inserted, anything outside
 * letters and digits dropped — so `wdjbmjht`, `WDJB MJHT` and `wdjb-mjht` all match `WDJB-MJHT`.
 */
export function normalizeUserCode(input: string): string {
  const bare = input.toUpperCase().replace(/[^A-Z0-9]/g, '');
  return bare.length === USER_CODE_LENGTH ? `${bare.slice(0, 4)}-${bare.slice(4)}` : bare;
}

/** An opaque, unguessable string (256 bits, base64url) for device codes and tokens. */
export function newOpaqueToken(): string {
  return randomBytes(32).toString('base64url');
}
