import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MATRIX_DOC, renderMatrix, runMatrix } from '../../scripts/bad-input-matrix';

describe('bad-input matrix (docs/bad-input-matrix.md is generated from these runs; the README only links to it)', function () {
  this.timeout(60_000);
  it('every bad input is refused with a UserError, leaves the board untouched, and the committed doc matches', async () => {
    const rows = await runMatrix();
    for (const r of rows) {
      assert.match(r.message, /^E_[A-Z0-9_]+: /, `${r.input}: ${r.message}`);
      assert.ok(r.unchanged, `${r.input}: the board changed`);
    }
    assert.equal(fs.readFileSync(MATRIX_DOC, 'utf8'), renderMatrix(rows), 'docs/bad-input-matrix.md is stale: run npx tsx scripts/bad-input-matrix.ts');
    assert.ok(!fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8').includes('| Bad input |'), 'the matrix lives once, in docs/bad-input-matrix.md, not in the README');
  });
});
