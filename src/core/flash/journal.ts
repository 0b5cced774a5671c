import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { makeDirs, writeFileAtomic } from '../util/atomic-file';

/**
 * A small record of regions whose write started but did not finish (cancelled, link lost), kept
 * per board in the key store. The next run rewrites such a region in full instead of trusting a
 * chunk comparison against half-erased flash.
 */
export interface JournalEntry {
  address: number;
  length: number;
  md5: string;
  file: string;
  startedAt: string;
}

/** The journal's file name in a board's folder of the key store (KEY_STORE/devices/<MAC>/). */
export const JOURNAL_FILE = 'flash-journal.json';

export class FlashJournal {
  constructor(readonly file: string) {}

  read(): JournalEntry[] {
    try {
      const parsed = JSON.parse(fs.readFileSync(this.file, 'utf8')) as { incomplete?: JournalEntry[] };
      return Array.isArray(parsed.incomplete) ? parsed.incomplete : [];
    } catch {
      return [];
    }
  }

  private save(entries: JournalEntry[]): void {
    makeDirs(path.dirname(this.file), { mode: 0o700, what: 'journal folder' });
    writeFileAtomic(this.file, Buffer.from(JSON.stringify({ incomplete: entries }, null, 2) + '\n'), { what: 'flash journal', mode: 0o600 });
  }

  /** Whether any incomplete write overlaps [address, address+length). */
  overlapsIncomplete(address: number, length: number): boolean {
    return this.read().some((e) => e.address < address + length && address < e.address + e.length);
  }

  begin(address: number, data: Uint8Array, file: string): void {
    const rest = this.read().filter((e) => !(e.address < address + data.length && address < e.address + e.length));
    rest.push({ address, length: data.length, md5: createHash('md5').update(data).digest('hex'), file, startedAt: new Date().toISOString() });
    this.save(rest);
  }

  done(address: number, length: number): void {
    const before = this.read();
    const rest = before.filter((e) => !(e.address < address + length && address < e.address + e.length));
    if (rest.length !== before.length) this.save(rest);
  }
}
