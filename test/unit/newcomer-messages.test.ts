import './helpers/vscode-mock';
import { strict as assert } from 'node:assert';
import { runCli } from '../../src/cli/main';
import { describePort } from '../../src/core/transport/ports';
import { VirtualBoards } from '../../src/extension/virtual-boards';

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (l) => (out += l + '\n'), err: (l) => (err += l + '\n') });
  return { code, out, err };
}

describe('what a newcomer reads', () => {
  it('an error names its command once', async () => {
    const r = await cli(['device', 'info']);
    assert.equal(r.code, 2);
    assert.equal(r.err, 'pycom-secure device info: --port is required.\n');
    const s = await cli(['efuse', 'summary', '--prot', 'x']);
    assert.equal(s.code, 2);
    assert.ok(s.err.startsWith('pycom-secure efuse summary: '), s.err);
    assert.ok(!/efuse summary: efuse summary:/.test(s.err), s.err);
  });

  it('HOST:PORT given as a serial port suggests socket://HOST:PORT', async () => {
    const r = await cli(['device', 'info', '--port', '127.0.0.1:1']);
    assert.equal(r.code, 2);
    assert.match(r.err, /There is no serial port 127\.0\.0\.1:1: for a board served over TCP \(pycom-secure sim serve\) write it as socket:\/\/127\.0\.0\.1:1\./);
  });

  it('a port without USB ids says so instead of ????:????', () => {
    assert.equal(describePort({ path: '/dev/ttyS0' }), '/dev/ttyS0  no USB ids (not a USB serial adapter)');
    assert.equal(describePort({ path: '/dev/ttyACM0', vendorId: 0x04d8, productId: 0xf013 }).split('  ')[1], '04D8:F013');
  });

  it('every virtual board the editor starts has its own MAC', async () => {
    const boards = new VirtualBoards();
    try {
      const a = await boards.start('GPY');
      const b = await boards.start('GPY');
      assert.notDeepEqual([...a.dev.mac], [...b.dev.mac]);
      assert.notEqual(a.url, b.url);
    } finally {
      boards.dispose();
    }
  });
});
