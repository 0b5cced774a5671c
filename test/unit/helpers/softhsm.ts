import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * A real SoftHSM2 token per test, in its own temporary directory (SOFTHSM2_CONF points the
 * module at it). Nothing is mocked at the PKCS#11 boundary: the tests load Debian's module
 * through pkcs11js. When softhsm2 or the binding is missing the test fails and says how to get it.
 */
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
export const USER_PIN = '314159';
export const SO_PIN = '27182818';

export interface SoftHsmToken {
  dir: string;
  conf: string;
  label: string;
  module: string;
  /** The environment a child process needs to see this token (module and config; never the PIN unless asked). */
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  remove(): void;
}

export function requireSoftHsm(): void {
  const util = spawnSync('softhsm2-util', ['--version'], { encoding: 'utf8' });
  if (util.error || !fs.existsSync(SOFTHSM_MODULE)) {
    throw new Error(`SoftHSM2 is not installed (softhsm2-util or ${SOFTHSM_MODULE} is missing); run \`npm run setup\`, which installs Debian's softhsm2.`);
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('pkcs11js');
  } catch (e) {
    throw new Error(`The pkcs11js binding is not built (${(e as Error).message.split('\n')[0]}); run \`npm run setup\`.`);
  }
}

/** Makes and initialises a token labelled `label` with USER_PIN / SO_PIN; sets process.env.SOFTHSM2_CONF to it. */
export function makeToken(label = 'pycom'): SoftHsmToken {
  requireSoftHsm();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pycom-softhsm-'));
  fs.mkdirSync(path.join(dir, 'tokens'));
  const conf = path.join(dir, 'softhsm2.conf');
  fs.writeFileSync(conf, `directories.tokendir = ${path.join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const r = spawnSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', USER_PIN, '--so-pin', SO_PIN], { env: { ...process.env, SOFTHSM2_CONF: conf }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`softhsm2-util --init-token failed: ${r.stdout}${r.stderr}`);
  const previous = process.env.SOFTHSM2_CONF;
  process.env.SOFTHSM2_CONF = conf;
  return {
    dir,
    conf,
    label,
    module: SOFTHSM_MODULE,
    env: (extra = {}) => ({ ...process.env, SOFTHSM2_CONF: conf, PYCOM_PKCS11_MODULE: SOFTHSM_MODULE, ...extra }),
    remove() {
      if (previous === undefined) delete process.env.SOFTHSM2_CONF;
      else process.env.SOFTHSM2_CONF = previous;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
