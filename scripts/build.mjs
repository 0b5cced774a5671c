// Bundles the extension and the CLI with esbuild. One bundle each, CommonJS, Node 20.
// serialport stays external: its native prebuilds are loaded from node_modules at run time; so does
// pkcs11js (optional, native), required only when a pkcs11: key is used.
import * as esbuild from 'esbuild';

const watch = process.argv.includes('--watch');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
  external: ['vscode', 'serialport', '@serialport/*', 'pkcs11js'],
};
const targets = [
  { ...common, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js' },
  { ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js' },
  // The webview app runs in the editor's browser sandbox: one self-contained IIFE, no Node.
  { bundle: true, platform: 'browser', target: 'es2022', format: 'iife', sourcemap: true, logLevel: 'warning', entryPoints: ['webview/src/main.ts'], outfile: 'dist/webview/main.js', tsconfig: 'webview/tsconfig.json' },
];

if (watch) {
  for (const t of targets) (await esbuild.context(t)).watch();
  console.log('watching src/ ...');
} else {
  await Promise.all(targets.map((t) => esbuild.build(t)));
}
