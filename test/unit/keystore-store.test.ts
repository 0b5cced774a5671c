import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KeyStore, macDirName, normaliseMac } from '../../src/core/keystore/key-store';
import { isUserError } from '../../src/core/errors';

const MAC = '24:0A:C4:12:34:56';

describe('key store', () => {
  it('generates a per-board flash key on first use (0600) and returns the same key afterwards', () => {
    const store = new KeyStore(fs.mkdtempSync(path.join(os.tmpdir(), 'ks-')));
    const a = store.flashKeyFor(MAC, 'per-device', 32);
    assert.equal(a.created, true);
    assert.equal(a.path, path.join(store.dir, 'devices', '24-0a-c4-12-34-56', 'flash_encryption_key.bin'));
    if (process.platform !== 'win32') assert.equal(fs.statSync(a.path).mode & 0o777, 0o600);
    const b = store.flashKeyFor('24-0a-c4-12-34-56', 'per-device', 32);
    assert.equal(b.created, false);
    assert.deepEqual(Buffer.from(b.key), Buffer.from(a.key));
    assert.equal(b.fingerprint, a.fingerprint);
    assert.equal(store.flashKeyFor('24:0a:c4:00:00:01', 'per-device', 24).key.length, 24);
  });

  it('uses the shared key when asked and refuses when it does not exist yet', () => {
    const store = new KeyStore(fs.mkdtempSync(path.join(os.tmpdir(), 'ks-')));
    assert.throws(() => store.flashKeyFor(MAC, 'shared', 32), (e: unknown) => isUserError(e) && e.code === 'E_NO_KEY');
    fs.writeFileSync(store.sharedFlashKeyPath, Buffer.alloc(32, 7), { mode: 0o600 });
    assert.equal(store.flashKeyFor(MAC, 'shared', 32).created, false);
  });

  it('normalises MACs and refuses non-MACs', () => {
    assert.equal(normaliseMac('24-0A-C4-12-34-56'), '24:0a:c4:12:34:56');
    assert.equal(macDirName(MAC), '24-0a-c4-12-34-56');
    assert.throws(() => normaliseMac('../../etc'), (e: unknown) => isUserError(e) && e.code === 'E_MAC');
  });

  it('warns when the store is inside a git work tree and not ignored, not when ignored', () => {
    const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-git-'));
    execFileSync('git', ['init', '-q'], { cwd: repo });
    const store = new KeyStore(path.join(repo, 'secure'));
    store.ensureDir();
    assert.match(store.exposureWarning() ?? '', /not ignored by git/);
    fs.writeFileSync(path.join(repo, '.gitignore'), 'secure/\n');
    assert.equal(store.exposureWarning(), undefined);
    assert.equal(new KeyStore(fs.mkdtempSync(path.join(os.tmpdir(), 'ks-nogit-'))).exposureWarning(), undefined);
  });
});
