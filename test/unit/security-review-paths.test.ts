import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runBuild } from '../../src/core/firmware/build-runner';
import { findBuildOutputs } from '../../src/core/firmware/outputs';
import { FIXTURE_IDF, FIXTURE_TOOLCHAIN_BIN, FIXTURE_TREE, fixtureKeys } from '../../scripts/make-fixture-firmware';

const K = fixtureKeys();
const ENV = { ...process.env, PATH: `${FIXTURE_TOOLCHAIN_BIN}${path.delimiter}${process.env.PATH}`, IDF_PATH: FIXTURE_IDF };

/** Every file named PWNED* under `dir` (what the hostile names below would create if run). */
function pwned(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => path.basename(f).startsWith('PWNED'));
}

/**
 * Key paths a user really has (spaces, apostrophes, quotes) and hostile ones (make and shell
 * syntax) through the real build runner and the fixture makefile. `make` expands `$(...)` in
 * variables given on its command line and runs recipes through /bin/sh, so an argument array alone
 * does not keep such a path inert: the runner must hand make a path it cannot reinterpret.
 */
describe('security review: key paths with spaces, quotes and shell/make syntax through the build', function () {
  this.timeout(30_000);

  for (const [label, dirName, signName, flashName] of [
    ['spaces and quotes', 'my keys', `it's "signing".pem`, 'flash key.bin'],
    ['shell and make syntax', 'k $(shell touch PWNED1) $(touch PWNED2); touch PWNED3', 'sign `touch PWNED4`.pem', "flash '; touch PWNED5 #.bin"],
  ] as const) {
    it(`${label}: the fixture build succeeds with exactly those keys and nothing is executed`, async () => {
      const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sec-paths-'));
      const root = path.join(work, 'fw');
      fs.cpSync(FIXTURE_TREE, root, { recursive: true });
      fs.rmSync(path.join(root, 'esp32', 'build'), { recursive: true, force: true });
      const keyDir = path.join(work, dirName);
      fs.mkdirSync(keyDir);
      const signingKey = path.join(keyDir, signName);
      const flashKey = path.join(keyDir, flashName);
      fs.writeFileSync(signingKey, K.signingKeyPem, { mode: 0o600 });
      fs.writeFileSync(flashKey, K.flashKey, { mode: 0o600 });
      const lines: string[] = [];
      const res = await runBuild({ esp32Dir: path.join(root, 'esp32'), board: 'GPY', target: 'boot_app', signingKey, flashKey, env: ENV, onLine: (l) => lines.push(l) });
      assert.equal(res.exitCode, 0, lines.join('\n'));
      // The fixture makefile only has outputs for the fixture keys (it compares the files' bytes),
      // so success means make read exactly these key files.
      const out = findBuildOutputs(path.join(root, 'esp32', 'build', 'GPY', 'release'), { flashKey: K.flashKey });
      assert.ok(out.outputs.every((o) => o.decryptsValid !== false));
      assert.deepEqual(pwned(work), []);
      // make runs in esp32/ (inside work); the test's own working directory is checked too.
      assert.deepEqual(fs.readdirSync(process.cwd()).filter((f) => f.startsWith('PWNED')), []);
      // Nothing the runner made for make outlives the build.
      assert.deepEqual(fs.readdirSync(keyDir).sort(), [flashName, signName].sort());
      fs.rmSync(work, { recursive: true, force: true });
    });
  }
});
