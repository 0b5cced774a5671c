import { strict as assert } from 'node:assert';
import { explainBootLog } from '../../src/core/boot/boot-log';

const rom = (strap: string) => `ets Jun  8 2016 00:22:57\n\nrst:0x1 (POWERON_RESET),boot:${strap}\n`;
const download = `${rom('0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))')}waiting for download\n`;
const normal = `${rom('0x13 (SPI_FAST_FLASH_BOOT)')}configsip: 0, SPIWP:0xee\nI (0) boot: Loaded app from partition at offset 0x10000\n`;

describe('the boot log explanation agrees with every line it recognises', () => {
  it('an app-loaded line is a boot, not "no line this tool recognises"', () => {
    const ex = explainBootLog(normal);
    assert.equal(ex.verdict, 'booted');
    assert.match(ex.summary, /^The board booted: Loaded app from partition at offset 0x10000 \(the bootloader verified and loaded the app\)\.$/);
  });

  it('a reset into download mode before the real boot is not reported as "still in download mode"', () => {
    const ex = explainBootLog(download + normal);
    assert.equal(ex.verdict, 'booted');
    assert.ok(!ex.findings.some((f) => f.entry.id === 'download-waiting'), JSON.stringify(ex.findings.map((f) => f.entry.id)));
  });

  it('download mode left without a reset (the ROM loader told to run the firmware: no new banner) is not "still in download mode"', () => {
    // What a served board prints: the banner and "waiting for download", then, on FLASH_END, the
    // ROM loads the bootloader straight away (the e2e Serial Monitor showed both lines together).
    const ran = `${download}configsip: 0, SPIWP:0xee\nmode:DIO, clock div:2\nload:0x3fff0018,len:4\nentry 0x40080764\nI (0) boot: Loaded app from partition at offset 0x10000\n`;
    const ex = explainBootLog(ran);
    assert.equal(ex.verdict, 'booted');
    assert.deepEqual(ex.findings.map((f) => f.entry.id), ['app-loaded']);
    // Still waiting, with nothing after it: said so.
    assert.ok(explainBootLog(download).findings.some((f) => f.entry.id === 'download-waiting'));
  });

  it('a board that stays in download mode is said to be there, with what to do', () => {
    const ex = explainBootLog(normal + download);
    assert.equal(ex.verdict, 'unknown');
    assert.match(ex.summary, /still in download mode \("waiting for download"\), so the firmware did not start; release GPIO0 \(P2\) and reset\./);
  });

  it('keys generated on the first boot stay critical when the board then boots', () => {
    const ex = explainBootLog(`${normal}I (10) secure_boot: Generating new secure boot key...\n${normal}`);
    assert.equal(ex.verdict, 'failed');
    assert.match(ex.summary, /burned keys of its own/);
  });

  it('an unrecognised log names no command the user may not have', () => {
    const ex = explainBootLog(rom('0x13 (SPI_FAST_FLASH_BOOT)'));
    assert.equal(ex.verdict, 'unknown');
    assert.ok(!/pycom-secure|`monitor`/.test(ex.summary), ex.summary);
  });
});
