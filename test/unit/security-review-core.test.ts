import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { panelCsp, panelHtml } from '../../src/extension/panel-html';
import { writeNewKeyFile } from '../../src/core/keys/key-files';
import { AuditLog, readAudit } from '../../src/core/audit/audit-log';
import { keyFileToReadWords } from '../../src/core/crypto/efuse-key-layout';
import { runBurnCampaign } from '../campaign/burn';
import { scaledClock } from '../campaign/clock';
import { fixtureKeys } from '../../scripts/make-fixture-firmware';

const ROOT = path.join(__dirname, '..', '..');
const K = fixtureKeys();

/** Every form key bytes could leak in: hex, reversed hex, base64, and eFuse register words. */
export function keyForms(key: Uint8Array): string[] {
  const b = Buffer.from(key);
  const words = keyFileToReadWords(key, { reverse: true, coding: 'none' }).map((w) => (w >>> 0).toString(16).padStart(8, '0'));
  return [b.toString('hex'), Buffer.from(b).reverse().toString('hex'), b.toString('base64').slice(0, 24), words.join(''), words.slice(0, 2).join(' 0x')];
}

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe('security review', function () {
  this.timeout(60_000);

  it('key material never reaches the audit log or any file a faulted Burn Keys run leaves (hex, reversed, base64, eFuse words)', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sec-'));
    const seen: string[] = [];
    await runBurnCampaign({
      runs: 12, seed: 'security-review', workDir: work, flashKey: K.flashKey, secureBootKey: K.secureBootKey,
      clock: scaledClock(0.1), timeScale: 0.1, baud: 921600, syncTimeoutMs: 1000, concurrency: 4,
      // onRun is called before the campaign removes the run's directory: read every file then.
      onRun: (r) => void seen.push(r.firstAttempt, ...r.problems, ...walk(work).map((f) => fs.readFileSync(f, 'latin1'))),
    });
    const texts = [...seen, ...walk(work).map((f) => fs.readFileSync(f, 'latin1'))];
    assert.ok(texts.some((t) => t.includes('"phase":"intent"')), 'the audit logs were read');
    for (const key of [K.flashKey, K.secureBootKey]) {
      for (const form of keyForms(key)) for (const t of texts) assert.ok(!t.toLowerCase().includes(form.toLowerCase()), `key form ${form.slice(0, 8)}… leaked`);
    }
  });

  it('new key files are owner-only (0600) and never overwritten', () => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sec-key-')), 'k.bin');
    writeNewKeyFile(f, K.flashKey);
    assert.equal(fs.statSync(f).mode & 0o777, 0o600);
    assert.throws(() => writeNewKeyFile(f, K.secureBootKey), /never overwritten/);
  });

  it('the webview CSP allows scripts only with the nonce and loads nothing remote', () => {
    const csp = panelCsp('vscode-resource:', 'N0NCE');
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'nonce-N0NCE'/);
    assert.doesNotMatch(csp, /https?:|\*|unsafe-inline|unsafe-eval/);
    const html = panelHtml('vscode-resource:/main.js', 'vscode-resource:', 'N0NCE');
    for (const tag of html.match(/<script[^>]*>/g) ?? []) assert.match(tag, /nonce="N0NCE"/);
    assert.doesNotMatch(html, /https?:\/\//);
  });

  it('workspace trust: burn, flash and build are unavailable in untrusted workspaces; key and firmware paths are not read from the workspace', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    const cmds = new Map<string, { enablement?: string }>(pkg.contributes.commands.map((c: { command: string }) => [c.command, c]));
    for (const id of ['pycom.burnKeys', 'pycom.flashFirmware', 'pycom.buildFirmware', 'pycom.provisionBoards']) assert.match(cmds.get(id)!.enablement ?? '', /isWorkspaceTrusted/, id);
    const restricted: string[] = pkg.capabilities.untrustedWorkspaces.restrictedConfigurations;
    for (const s of ['pycom.keyStorePath', 'pycom.firmwarePath', 'pycom.port', 'pycom.perDeviceKeys', 'pycom.buildPath', 'pycom.hardening']) {
      assert.ok(restricted.includes(s), s);
      assert.match(pkg.contributes.configuration.properties[s].scope, /^machine/, s);
    }
  });

  it('the build runs make with an argument array, never through a shell', () => {
    const src = fs.readFileSync(path.join(ROOT, 'src', 'core', 'firmware', 'build-runner.ts'), 'utf8');
    assert.match(src, /spawn\([^,]+, argv, \{/);
    assert.doesNotMatch(src, /shell:\s*true|\bexec\(|execSync\(/);
  });

  it('the audit log survives a crash mid-write: the torn last line is reported, earlier lines intact, the next line starts fresh', () => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sec-audit-')), 'audit.jsonl');
    const log = new AuditLog(f);
    log.append({ id: 'a', phase: 'intent', operation: 'burn-keys', mac: 'm' });
    log.append({ id: 'a', phase: 'step-intent', operation: 'burn-keys', mac: 'm', step: 's' });
    fs.appendFileSync(f, '{"time":"2025-01-01T00:00:00Z","id":"a","pha');
    const torn = readAudit(f);
    assert.equal(torn.records.length, 2);
    assert.deepEqual(torn.damaged, [{ line: 3, last: true }]);
    log.append({ id: 'a', phase: 'failed', operation: 'burn-keys', mac: 'm' });
    const after = readAudit(f);
    assert.deepEqual(after.records.map((r) => r.phase), ['intent', 'step-intent', 'failed']);
    assert.deepEqual(after.damaged, [{ line: 3, last: false }]);
  });
});
