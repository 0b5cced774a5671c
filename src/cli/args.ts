import { UserError } from '../core';

/** What a command accepts: long options (with aliases), which of them are boolean flags. */
export interface OptionSpec {
  name: string;
  /** Other spellings, e.g. espsecure v4's underscores or short `-k`. */
  aliases?: string[];
  flag?: boolean;
  /** May be given more than once (values collected in order). */
  repeat?: boolean;
}

export interface ParsedArgs {
  options: Map<string, string[]>;
  flags: Set<string>;
  positionals: string[];
}

/**
 * A small, strict parser: unknown options are errors (a typo must not silently change
 * what gets burned), `--name value` and `--name=value` both work, `--` ends options.
 */
export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[], command: string): ParsedArgs {
  const byName = new Map<string, OptionSpec>();
  for (const s of specs) {
    byName.set(`--${s.name}`, s);
    for (const a of s.aliases ?? []) byName.set(a.startsWith('-') ? a : `--${a}`, s);
  }
  const options = new Map<string, string[]>();
  const flags = new Set<string>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('-') && arg.length > 1 && !/^-\d/.test(arg)) {
      const eq = arg.indexOf('=');
      const key = eq > 0 ? arg.slice(0, eq) : arg;
      const spec = byName.get(key);
      if (!spec) throw new UserError('E_USAGE', `${command}: unknown option ${key}; run \`pycom-secure ${command} --help\` to see the options.`);
      if (spec.flag) {
        if (eq > 0) throw new UserError('E_USAGE', `${command}: ${key} takes no value.`);
        flags.add(spec.name);
        continue;
      }
      let value: string | undefined;
      if (eq > 0) value = arg.slice(eq + 1);
      else {
        value = argv[i + 1];
        i++;
      }
      if (value === undefined) throw new UserError('E_USAGE', `${command}: ${key} needs a value.`);
      const list = options.get(spec.name) ?? [];
      if (list.length > 0 && !spec.repeat) throw new UserError('E_USAGE', `${command}: ${key} was given more than once.`);
      list.push(value);
      options.set(spec.name, list);
    } else {
      positionals.push(arg);
    }
  }
  return { options, flags, positionals };
}

/** Accessors that turn a missing or malformed value into one clear sentence. */
export class Args {
  constructor(
    readonly parsed: ParsedArgs,
    readonly command: string,
  ) {}

  opt(name: string): string | undefined {
    return this.parsed.options.get(name)?.[0];
  }

  all(name: string): string[] {
    return this.parsed.options.get(name) ?? [];
  }

  need(name: string): string {
    const v = this.opt(name);
    if (v === undefined) throw new UserError('E_USAGE', `${this.command}: --${name} is required.`);
    return v;
  }

  flag(name: string): boolean {
    return this.parsed.flags.has(name);
  }

  /** Hex (0x...) or decimal, as espsecure accepts them. */
  int(name: string, fallback?: number): number {
    const v = this.opt(name);
    if (v === undefined) {
      if (fallback === undefined) throw new UserError('E_USAGE', `${this.command}: --${name} is required.`);
      return fallback;
    }
    return parseIntArg(v, `--${name}`, this.command);
  }

  positional(index: number, what: string): string {
    const v = this.parsed.positionals[index];
    if (v === undefined) throw new UserError('E_USAGE', `${this.command}: missing ${what}.`);
    return v;
  }

  /** Refuses stray positionals, so `cmd a b` is not silently read as `cmd a`. */
  maxPositionals(n: number): void {
    if (this.parsed.positionals.length > n) {
      throw new UserError('E_USAGE', `${this.command}: unexpected argument ${this.parsed.positionals[n]}.`);
    }
  }
}

export function parseIntArg(v: string, what: string, command: string): number {
  const s = v.trim();
  const n = /^0x[0-9a-f]+$/i.test(s) ? parseInt(s.slice(2), 16) : /^\d+$/.test(s) ? parseInt(s, 10) : NaN;
  if (!Number.isSafeInteger(n)) throw new UserError('E_USAGE', `${command}: ${what} must be a number in hex (0x...) or decimal, not "${v}".`);
  return n;
}
