/**
 * Integration suites. `tsx scripts/test-integration.ts bundle` only bundles them (the e2e
 * harness then runs them inside code-server); without arguments it also runs them on desktop
 * VS Code through @vscode/test-electron, which downloads VS Code (not possible on machines
 * that only reach npm and Debian).
 */
import * as path from 'node:path';
import * as esbuild from 'esbuild';

export const INTEGRATION_BUNDLE = path.resolve('.vscode-test/pycom-integration/index.js');

export async function bundleIntegration(): Promise<string> {
  await esbuild.build({
    entryPoints: ['test/integration/index.ts'],
    outfile: INTEGRATION_BUNDLE,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['vscode', 'mocha', 'pkcs11js'],
    logLevel: 'warning',
    // Resolve mocha from the repository even though the bundle lives under .vscode-test/.
    nodePaths: [path.resolve('node_modules')],
  });
  return INTEGRATION_BUNDLE;
}

async function main(): Promise<void> {
  const bundle = await bundleIntegration();
  if (process.argv[2] === 'bundle') {
    console.log(bundle);
    return;
  }
  const { runTests } = await import('@vscode/test-electron');
  await runTests({ extensionDevelopmentPath: path.resolve('.'), extensionTestsPath: bundle, launchArgs: ['--disable-extensions'] });
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
