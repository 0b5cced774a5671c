/**
 * Entry of the bundled integration suites. `run()` is what @vscode/test-electron calls on
 * desktop VS Code, and what the extension's test hook calls inside code-server.
 * Mocha stays external: it is resolved from the repository's node_modules at run time.
 */
import Mocha from 'mocha';

export interface IntegrationResult {
  passed: number;
  failed: number;
  failures: string[];
}

export async function run(): Promise<IntegrationResult> {
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 30_000, forbidOnly: true, forbidPending: true });
  mocha.suite.emit('pre-require', globalThis, 'integration', mocha);
  await import('./suite/extension.integration');
  return new Promise((resolve, reject) => {
    const failures: string[] = [];
    let passed = 0;
    const runner = mocha.run((failed) => {
      // test-electron expects a rejection on failure; the code-server hook reads the counts.
      if (failed > 0 && process.env.PYCOM_SECURE_INTEGRATION_RESULT === undefined) reject(new Error(`${failed} integration test(s) failed: ${failures.join('; ')}`));
      else resolve({ passed, failed, failures });
    });
    runner.on('pass', () => passed++);
    runner.on('fail', (t, err: Error) => failures.push(`${t.fullTitle()}: ${err.message}`));
  });
}
