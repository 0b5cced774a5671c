import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { board as boardFacts, boardGeneration, boardIds } from '../../src/core/boards/catalog';
import { GENERATION_IDS } from '../../src/core/firmware/generations';
import { hex } from '../../src/core/util/hex';
import { findBuildOutputs } from '../../src/core/firmware/outputs';
import { knownSlots, makeOtaImage } from '../../src/core/ota/ota-image';
import { queryOtaSlot, type ReplLink } from '../../src/core/ota/raw-repl';
import { decryptFlashData } from '../../src/core/crypto/flash-encryption';
import { classifyContent } from '../../src/core/firmware/content';
import { encryptFor } from '../../src/core/secure-build/process';
import { fingerprint } from '../../src/core/util/fingerprint';
import { KEYS, secureBuild } from './flash-harness';

/** A scripted MicroPython board on the other end of the raw REPL. */
function responder(answer: string, stderr = ''): ReplLink & { sent: string } {
  const listeners = new Set<(c: Buffer) => void>();
  const link = {
    sent: '',
    async write(d: Uint8Array) {
      const s = Buffer.from(d).toString('latin1');
      link.sent += s;
      const reply = (t: string) => setImmediate(() => listeners.forEach((l) => l(Buffer.from(t, 'latin1'))));
      if (s === '\x01') reply('raw REPL; CTRL-B to exit\r\n>');
      if (s === '\x04') reply(`OK${answer}\x04${stderr}\x04>`);
    },
    onData(l: (c: Buffer) => void) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  return link;
}

describe('OTA images', () => {
  it('known slots for every board and generation, as the spec tables say', () => {
    for (const g of GENERATION_IDS) for (const b of boardIds()) assert.ok(knownSlots(b, g).includes(0x10000));
    // Every 1.20.1+ build writes both tables, but a flash picks the one for the module's flash size.
    assert.deepEqual(knownSlots('GPY', 'D'), [0x10000, 0x210000]);
    assert.deepEqual(knownSlots('GPY', 'E'), [0x10000, 0x210000, 0x110000]);
    assert.deepEqual(knownSlots('GPY', 'B19'), [0x10000, 0x1a0000]);
    assert.deepEqual(knownSlots('SIPY', 'D'), [0x10000, 0x1c0000]);
    assert.deepEqual(knownSlots('WIPY', 'D').sort(), [0x10000, 0x1c0000, 0x210000].sort());
    assert.deepEqual(knownSlots('GPY', 'B'), [0x10000, 0x1a0000]);
    assert.deepEqual(knownSlots('GPY', 'C-rc1-4'), [0x10000, 0x1c0000]);
    assert.deepEqual(knownSlots('LOPY4', 'C-rc12-13'), [0x10000, 0x210000]);
    assert.deepEqual(knownSlots('LOPY', 'C-rc12-13'), [0x10000, 0x1c0000]);
    assert.deepEqual(boardGeneration('GPY', 'C-rc1-4').otaCopies, [0x1a0000]);
    assert.deepEqual(boardGeneration('WIPY', 'D').otaCopies, [0x210000, 0x1c0000]);
  });

  for (const board of boardIds()) {
    it(`${board}: picks the copy for each known slot and refuses unknown ones`, () => {
      const build = findBuildOutputs(secureBuild(board), { flashKey: KEYS.flashKey });
      for (const slot of knownSlots(board, 'D')) {
        const img = makeOtaImage({ build, slot, slotSource: 'board', flashKey: KEYS.flashKey });
        const plain = decryptFlashData(img.data, { key: KEYS.flashKey, address: slot, flashCryptConf: 0xf });
        assert.equal(classifyContent(plain).kind, 'image', `${board} ${hex(slot)}`);
        assert.equal(classifyContent(plain).signed, true);
      }
      assert.throws(() => makeOtaImage({ build, slot: 0x1a0000, slotSource: 'board', flashKey: KEYS.flashKey }), /E_OTA_SLOT|not a slot of/);
      assert.ok(boardFacts(board).appBin);
    });
  }

  it('re-encrypts the app for the real slot when the build copy is for the wrong address (1.20 rc1-rc4)', () => {
    const dir = secureBuild('GPY');
    // Turn the Era D dir into an rc1-rc4 one: factory as _enc_0x10000, the OTA copy for 0x1A0000.
    const app = fs.readFileSync(path.join(dir, 'gpy.bin_enc'));
    fs.renameSync(path.join(dir, 'gpy.bin_enc'), path.join(dir, 'gpy.bin_enc_0x10000'));
    fs.rmSync(path.join(dir, 'gpy.bin_enc_0x210000'));
    fs.rmSync(path.join(dir, 'lib'), { recursive: true });
    const plain = decryptFlashData(app, { key: KEYS.flashKey, address: 0x10000, flashCryptConf: 0xf });
    fs.writeFileSync(path.join(dir, 'gpy.bin_enc_0x1A0000'), encryptFor(plain, 0x1a0000, KEYS.flashKey));
    const build = findBuildOutputs(dir, { generation: 'C-rc1-4', flashKey: KEYS.flashKey });
    assert.match(build.outputs.find((o) => o.role === 'ota-copy')!.warning!, /never boot/);
    const img = makeOtaImage({ build, slot: 0x1c0000, slotSource: 'board', flashKey: KEYS.flashKey });
    assert.match(img.source, /re-encrypted for 0x1C0000/);
    assert.equal(classifyContent(decryptFlashData(img.data, { key: KEYS.flashKey, address: 0x1c0000, flashCryptConf: 0xf })).kind, 'image');
  });

  it('a damaged app in the build is named damaged, not blamed on the key: the shared key, or a board\'s own key and the build key', () => {
    const dir = secureBuild('GPY', 24 * 1024, 'ota-damaged');
    const app = new Uint8Array(fs.readFileSync(path.join(dir, 'gpy.bin_enc')));
    app[app.length >> 1] ^= 0x01;
    fs.writeFileSync(path.join(dir, 'gpy.bin_enc'), app);
    const sentence = `gpy.bin_enc at 0x10000 (ciphertext, ${app.length} bytes) is damaged: with the flash key ${fingerprint(KEYS.flashKey)} at 0x10000 its start decrypts to an ESP32 app image, but the rest does not check out (its checksum does not match), so bytes changed after the build (a bad copy or a cut-off download); build it again or copy it again from the build.`;
    const build = findBuildOutputs(dir, { flashKey: KEYS.flashKey });
    const own = new Uint8Array(32).map((_, i) => (i * 29 + 5) & 0xff);
    for (const keys of [{ flashKey: KEYS.flashKey }, { flashKey: own, buildKey: KEYS.flashKey }]) {
      assert.throws(() => makeOtaImage({ build, slot: 0x10000, slotSource: 'option', ...keys }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_OTA_SOURCE');
        assert.equal(e.message, sentence);
        return true;
      });
    }
  });

  it('asks the board through the raw REPL and parses its answer', async () => {
    const link = responder('2162688\r\n');
    assert.equal(await queryOtaSlot(link, { timeoutMs: 1000 }), 0x210000);
    assert.ok(link.sent.includes('\x01import pycom; print(pycom.ota_slot())\x04'));
    assert.ok(link.sent.endsWith('\x02'));
  });

  it('refuses an error from the board, an answer that is no address, and silence', async () => {
    await assert.rejects(queryOtaSlot(responder('', 'Traceback (most recent call last):\r\nAttributeError: no attribute ota_slot\r\n'), { timeoutMs: 1000 }), /pass --slot/);
    await assert.rejects(queryOtaSlot(responder('None\r\n'), { timeoutMs: 1000 }), /not an address/);
    const silent: ReplLink = { write: async () => undefined, onData: () => () => undefined };
    await assert.rejects(queryOtaSlot(silent, { timeoutMs: 100 }), /did not answer in time/);
  });

  it('refuses the board\'s answer when it matches no slot of the board and generation', async () => {
    const slot = await queryOtaSlot(responder('0x1A0000\r\n'), { timeoutMs: 1000 });
    const build = findBuildOutputs(secureBuild('GPY'), { flashKey: KEYS.flashKey });
    assert.throws(() => makeOtaImage({ build, slot, slotSource: 'board', flashKey: KEYS.flashKey }), /The board answered 0x1A0000 to pycom.ota_slot\(\)/);
  });
});
