import { UserError } from '../errors';

/**
 * RFC 7512 `pkcs11:` URIs naming a key in a token: path attributes separated by `;`, then an
 * optional query (`?`) with attributes separated by `&`; values are percent-encoded. Only what
 * a signing key needs is kept; a PIN written in the URI (`pin-value`) is refused, because a URI
 * ends up in settings, shell history and logs.
 */
export interface Pkcs11Uri {
  /** Token label (CKA token info label), e.g. "pycom". */
  token?: string;
  /** Object label (CKA_LABEL). */
  object?: string;
  /** Object id (CKA_ID) as bytes. */
  id?: Uint8Array;
  manufacturer?: string;
  serial?: string;
  model?: string;
  /** Slot id (RFC 7512 `slot-id`, decimal). */
  slotId?: number;
  /** Object class given in the URI (`type=private|public`); ignored beyond the check. */
  type?: string;
  /** `module-path` query attribute: the PKCS#11 module (.so/.dylib/.dll) to load. */
  modulePath?: string;
  /** `pin-source` query attribute: a `file:` URI or path whose first line is the PIN. */
  pinSource?: string;
}

export const PKCS11_PREFIX = 'pkcs11:';

/** True when `s` is a `pkcs11:` URI rather than a file path. */
export function isPkcs11Uri(s: string): boolean {
  return s.trim().toLowerCase().startsWith(PKCS11_PREFIX);
}

const PATH_ATTRS = new Set(['token', 'object', 'id', 'manufacturer', 'serial', 'model', 'slot-id', 'type', 'library-manufacturer', 'library-description', 'library-version', 'slot-description', 'slot-manufacturer']);
const QUERY_ATTRS = new Set(['module-path', 'module-name', 'pin-source', 'pin-value']);

function bad(why: string): UserError {
  return new UserError('E_PKCS11_URI', `The key reference is not a usable pkcs11: URI: ${why}; write it as pkcs11:token=LABEL;object=LABEL (RFC 7512).`);
}

function decodeBytes(v: string, name: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < v.length; i++) {
    if (v[i] === '%') {
      const h = v.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) throw bad(`the ${name} attribute has a "%" not followed by two hex digits`);
      out.push(parseInt(h, 16));
      i += 2;
    } else {
      out.push(...Buffer.from(v[i]!, 'utf8'));
    }
  }
  return Uint8Array.from(out);
}

/**
 * Parses a `pkcs11:` URI. Throws UserError E_PKCS11_URI for a malformed URI, an unknown
 * attribute, a repeated attribute, or a PIN written in it (the message never repeats the value).
 */
export function parsePkcs11Uri(text: string): Pkcs11Uri {
  const s = text.trim();
  if (!isPkcs11Uri(s)) throw bad('it does not start with "pkcs11:"');
  const body = s.slice(PKCS11_PREFIX.length);
  const q = body.indexOf('?');
  const pathPart = q < 0 ? body : body.slice(0, q);
  const queryPart = q < 0 ? '' : body.slice(q + 1);
  const seen = new Set<string>();
  const out: Pkcs11Uri = {};
  const take = (pair: string, allowed: Set<string>, where: string) => {
    if (pair === '') return;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw bad(`"${pair.slice(0, 40)}" in its ${where} is not NAME=VALUE`);
    const name = pair.slice(0, eq).toLowerCase();
    const raw = pair.slice(eq + 1);
    if (name === 'pin-value') {
      throw new UserError('E_PKCS11_PIN_IN_URI', 'The pkcs11: URI contains pin-value, and a PIN must never be written in a key reference (it would reach settings, shell history and logs); remove pin-value and give the PIN in PYCOM_PKCS11_PIN or when asked.');
    }
    if (!allowed.has(name)) throw bad(`"${name}" is not an RFC 7512 ${where} attribute this tool reads (${[...allowed].filter((a) => a !== 'pin-value').join(', ')})`);
    if (seen.has(name)) throw bad(`"${name}" is given twice`);
    seen.add(name);
    const bytes = decodeBytes(raw, name);
    const str = Buffer.from(bytes).toString('utf8');
    switch (name) {
      case 'token': out.token = str; break;
      case 'object': out.object = str; break;
      case 'id': out.id = bytes; break;
      case 'manufacturer': out.manufacturer = str; break;
      case 'serial': out.serial = str; break;
      case 'model': out.model = str; break;
      case 'type':
        if (!['private', 'public', 'cert', 'secret-key', 'data'].includes(str)) throw bad(`type=${str.slice(0, 20)} is not an RFC 7512 object type`);
        out.type = str;
        break;
      case 'slot-id':
        if (!/^\d+$/.test(str)) throw bad('slot-id must be a decimal number');
        out.slotId = Number(str);
        break;
      case 'module-path': out.modulePath = str; break;
      case 'pin-source': out.pinSource = str; break;
      default: break; // library-*, slot-*, module-name: accepted, not needed to find the key
    }
  };
  for (const p of pathPart.split(';')) take(p, PATH_ATTRS, 'path');
  for (const p of queryPart.split('&')) take(p, QUERY_ATTRS, 'query');
  if (out.object === undefined && out.id === undefined) throw bad('it names no key (give object=LABEL or id=%HEX)');
  if (out.type !== undefined && out.type !== 'private' && out.type !== 'public') throw bad(`type=${out.type} cannot be a signing key`);
  return out;
}

function enc(v: string): string {
  return encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The URI text for `u` (path attributes only; never a PIN). */
export function formatPkcs11Uri(u: Pkcs11Uri): string {
  const parts: string[] = [];
  if (u.token !== undefined) parts.push(`token=${enc(u.token)}`);
  if (u.object !== undefined) parts.push(`object=${enc(u.object)}`);
  if (u.id !== undefined) parts.push(`id=${[...u.id].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')}`);
  if (u.serial !== undefined) parts.push(`serial=${enc(u.serial)}`);
  const query: string[] = [];
  if (u.modulePath !== undefined) query.push(`module-path=${enc(u.modulePath)}`);
  if (u.pinSource !== undefined) query.push(`pin-source=${enc(u.pinSource)}`);
  return `${PKCS11_PREFIX}${parts.join(';')}${query.length ? `?${query.join('&')}` : ''}`;
}
