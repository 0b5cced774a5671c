import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { serialText } from '../../src/core/transport/serial-text';
import { slipEncode } from '../../src/core/rom/slip';

const b = (...parts: (string | number[] | Uint8Array)[]): Uint8Array =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

describe('serialText: what a board printed, as readable text', () => {
  it('drops ROM loader replies (SLIP frames) captured with the boot log', () => {
    const reply = slipEncode(Uint8Array.from([0x01, 0x04, 0x02, 0x00, 0, 0, 0, 0, 0, 0]));
    const text = serialText(b(reply, 'ets Jun  8 2016 00:22:57\r\n', reply, 'configsip: 0, SPIWP:0xee\r\n'));
    assert.equal(text, 'ets Jun  8 2016 00:22:57\nconfigsip: 0, SPIWP:0xee\n');
  });

  it('drops ESP-IDF colour codes and turns CR LF and lone CR into LF', () => {
    assert.equal(serialText(b('\x1b[0;32mI (29) boot: ESP-IDF v3.3\x1b[0m\r\nA\rB\n')), 'I (29) boot: ESP-IDF v3.3\nA\nB\n');
  });

  it('shows other control bytes and bytes that are not UTF-8 visibly', () => {
    assert.equal(serialText(b([0x00, 0x41, 0x07, 0xff, 0xc3], 'x')), '\\x00A\\x07\\xff\\xc3x');
    assert.equal(serialText(b('µ ok ✓')), 'µ ok ✓', 'UTF-8 text passes');
  });

  it('never returns an invisible control character or a replacement character, whatever the bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (raw) => {
      const t = serialText(raw);
      // eslint-disable-next-line no-control-regex
      assert.ok(!/[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffd]/.test(t), JSON.stringify(t));
    }), { numRuns: 500 });
  });
});
