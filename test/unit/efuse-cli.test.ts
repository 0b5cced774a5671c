import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cli as cliIn } from './helpers/cli';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';

const cli = (argv: string[]) => cliIn(argv, { joined: true });

describe('efuse CLI on a virtual GPy served over TCP', () => {
  let server: SimServer;
  let dev: VirtualEsp32;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'efuse-cli-'));
  before(async () => {
    dev = new VirtualEsp32({ profile: 'GPY' });
    server = await startSimServer(dev, { port: 0, host: '127.0.0.1' });
  });
  after(async () => server.close());

  it('burn-keys with keys from the generate commands ends with both keys protected, encryption and secure boot on', async () => {
    const port = `socket://127.0.0.1:${server.port}`;
    const fk = path.join(dir, 'flash_encryption_key.bin');
    const sk = path.join(dir, 'secure_boot_signing_key.pem');
    assert.equal((await cli(['generate-flash-encryption-key', fk])).code, 0);
    assert.equal((await cli(['generate-signing-key', '--version', '1', sk])).code, 0);

    const fresh = await cli(['efuse', 'summary', '--json', '--port', port]);
    assert.equal(fresh.code, 0, fresh.err);
    const before = JSON.parse(fresh.out) as Record<string, { value: unknown; readable: boolean; writeable: boolean; block: number; word: number; category: string; description: string }>;
    for (const k of ['value', 'readable', 'writeable', 'description', 'category', 'block', 'word']) assert.ok(k in before['FLASH_CRYPT_CNT']!, k);
    const mac = String(before['MAC']!.value).split(' ')[0]!;

    const dry = await cli(['efuse', 'burn-keys', '--port', port, '--flash-key', fk, '--signing-key', sk, '--dry-run', '--key-store', path.join(dir, 'secure')]);
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, /Dry run: nothing was burned/);
    const unconfirmed = await cli(['efuse', 'burn-keys', '--port', port, '--flash-key', fk, '--signing-key', sk, '--key-store', path.join(dir, 'secure')]);
    assert.equal(unconfirmed.code, 2);
    assert.match(unconfirmed.err, /Nothing was burned/);

    const r = await cli(['efuse', 'burn-keys', '--port', port, '--flash-key', fk, '--signing-key', sk, '--confirm', mac, '--key-store', path.join(dir, 'secure')]);
    assert.equal(r.code, 0, r.err);
    const s = JSON.parse((await cli(['efuse', 'summary', '--json', '--port', port])).out) as typeof before;
    assert.equal(s['BLOCK1']!.readable, false);
    assert.equal(s['BLOCK1']!.writeable, false);
    assert.equal(s['BLOCK2']!.readable, false);
    assert.equal(s['BLOCK2']!.writeable, false);
    assert.equal(s['FLASH_CRYPT_CNT']!.value, 1);
    assert.equal(s['FLASH_CRYPT_CONFIG']!.value, 15);
    assert.equal(s['ABS_DONE_0']!.value, true);
    assert.ok(fs.existsSync(path.join(dir, 'secure', 'audit.jsonl')));
    const keyHex = fs.readFileSync(fk).toString('hex');
    for (const text of [r.out, r.err, fs.readFileSync(path.join(dir, 'secure', 'audit.jsonl'), 'utf8')]) assert.ok(!text.includes(keyHex));
  });
});
