import { strict as assert } from 'node:assert';
import { bootPredictorForVirtual } from '../../src/core/boot/virtual-wiring';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { normalBootHeader } from '../../src/core/virtual/boot-log';

describe('boot prediction wired into the virtual device', () => {
  it('a fresh virtual GPy with erased flash prints "flash read err, 1000"', () => {
    const dev = new VirtualEsp32({ profile: 'GPY' });
    const p = bootPredictorForVirtual({ chipRevision: dev.chipRevision, resetReason: 1, efuse: dev.efuse.rawWords(), flash: dev.flash, romHeader: normalBootHeader(dev.chipRevision) });
    assert.match(p.log, dev.chipRevision >= 3 ? /invalid header: 0xffffffff/ : /flash read err, 1000\r\nets_main\.c 371/);
  });
});
