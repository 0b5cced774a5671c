import type { Args, OptionSpec } from './args';
import type { CliIo } from './command';
import { parsePkcs11Uri, pkcs11PinFromEnvironment, tokenUriOf, type Pkcs11Access } from '../core';

/** `--pkcs11-module PATH`: the PKCS#11 module of the token holding a pkcs11: signing key. */
export const PKCS11_MODULE_OPTION: OptionSpec = { name: 'pkcs11-module' };

/**
 * How to reach the token of signing key `ref` (a pkcs11: URI or a file holding one): the module
 * from --pkcs11-module (else PYCOM_PKCS11_MODULE or the URI's module-path, read by the core), and,
 * when `needPin`, the PIN from PYCOM_PKCS11_PIN or the URI's pin-source, else asked on the
 * terminal without echo. The PIN is never an argument and is never printed. For a PEM file, `{}`.
 */
export async function keyAccess(args: Args, io: CliIo, ref: string | undefined, needPin: boolean): Promise<Pkcs11Access> {
  const module = args.opt('pkcs11-module');
  const access: Pkcs11Access = module !== undefined ? { module } : {};
  const uri = ref === undefined ? undefined : tokenUriOf(ref);
  if (uri === undefined || !needPin) return access;
  const u = parsePkcs11Uri(uri);
  if (pkcs11PinFromEnvironment(u, access) !== undefined) return access;
  const ask = io.promptSecret;
  if (!ask) return access; // the core then says to set PYCOM_PKCS11_PIN
  const pin = await ask(`User PIN of token "${u.token ?? '?'}" (not shown): `);
  return pin === undefined ? access : { ...access, pin };
}
