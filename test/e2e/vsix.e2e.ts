import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

/** The packaged .vsix (built by scripts/test-e2e.sh) ships the serialport prebuilds, no sources or tests. */
describe('the packaged .vsix', () => {
  const files = execFileSync('unzip', ['-Z1', 'dist/pycom-secure.vsix'], { encoding: 'utf8' }).split('\n').filter(Boolean);

  it('contains serialport prebuilds for Linux, macOS and Windows', () => {
    for (const os of ['linux-x64', 'darwin-x64+arm64', 'win32-x64']) {
      assert.ok(files.some((f) => f.includes(`@serialport/bindings-cpp/prebuilds/${os}/`) && f.endsWith('.node')), `prebuild for ${os}`);
    }
    assert.ok(files.includes('extension/dist/extension.js'));
    assert.ok(files.includes('extension/dist/webview/main.js'));
    assert.ok(files.includes('extension/node_modules/node-gyp-build/index.js'), 'the prebuild loader ships');
  });

  it('contains no source, test or map files and nothing bundled twice', () => {
    const bad = files.filter((f) =>
      /^extension\/(src|test|webview|scripts|bench|docs)\//.test(f)
      || /\.map$/.test(f)
      || (/\.ts$/.test(f) && !/\.d\.ts$/.test(f))
      || /\.(c|cc|cpp|h|gyp|gypi)$/.test(f)
      // Bundled into dist/webview/main.js (and the core into dist/*.js): must not ship again.
      || /node_modules\/(@vscode-elements|lit|lit-html|lit-element|@lit|@noble|@vscode\/codicons|@types)\//.test(f)
      || /prebuilds\/android-/.test(f));
    assert.deepEqual(bad, []);
  });
});
