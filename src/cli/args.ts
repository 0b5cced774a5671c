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
 * Example values for the options most commands share, shown when one is given without a value
 * (`--port needs a value (e.g. --port /dev/ttyACM0)`). Options not listed point at `--help`.
 */
const VALUE_EXAMPLES: Readonly<Record<string, string>> = {
  port: '/dev/ttyACM0',
  baud: '921600',
  build: 'firmware/esp32/build/GPY/release',
  board: 'GPY',
  'key-store': 'secure',
  reset: 'auto',
  output: 'out.bin',
  keyfile: 'secure/flash_encryption_key.bin',
  address: '0x10000',
  seconds: '10',
  'boot-log-ms': '5000',
};

function valueExample(key: string, name: string, command: string): string {
  const v = VALUE_EXAMPLES[name];
  return v !== undefined ? `e.g. ${key} ${v}` : `run \`pycom-secure ${command} --help\` to see what it takes`;
}

/**
 * A small, strict parser: unknown options are errors (a typo must not silently change
 * what gets burned), `--name value` and `--name=value` both work, `--` ends options.
 * An option that takes a value, followed by another option (anything starting with `--`, or one of
 * this command's short aliases) or by nothing, is refused: `--port --baud 921600` must not make the
 * port "--baud". A negative number (`-1`) is a value. Errors: UserError E_USAGE, one sentence.
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
        // `--port --baud 921600`: the next option is not this one's value (a negative number like -1 is).
        if (value !== undefined && (value.startsWith('--') || byName.has(value))) value = undefined;
        else i++;
      }
      if (value === undefined) throw new UserError('E_USAGE', `${command}: ${key} needs a value (${valueExample(key, spec.name, command)}).`);
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

/** The values a numeric option accepts (inclusive), and how the refusal names them. */
export interface IntRange {
  min: number;
  max: number;
  /** What the number is, as the sentence says it: "a whole number of seconds". */
  what: string;
  /** Show the bounds in hex (addresses). */
  hex?: boolean;
  /** What a special value means, e.g. "0 picks a free port". */
  note?: string;
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
    // The command's --help names what the option takes (a folder, a file, an address) and an example.
    if (v === undefined) throw new UserError('E_USAGE', `${this.command}: --${name} is required; \`pycom-secure ${this.command} --help\` says what it takes.`);
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

  /**
   * A whole number within `range` (hex or decimal as `int` reads them), the fallback when the option
   * is absent. Anything else (negative, out of range, not a number) is one sentence naming the range,
   * e.g. `--seconds must be a whole number of seconds from 1 to 86400, not "-1".`
   */
  intIn(name: string, range: IntRange, fallback?: number): number {
    const v = this.opt(name);
    if (v === undefined) {
      if (fallback === undefined) throw new UserError('E_USAGE', `${this.command}: --${name} is required.`);
      return fallback;
    }
    const n = wholeNumber(v);
    if (!Number.isSafeInteger(n) || n < range.min || n > range.max) {
      const shown = (x: number): string => (range.hex ? `0x${x.toString(16)}` : String(x));
      throw new UserError('E_USAGE', `${this.command}: --${name} must be ${range.what} from ${shown(range.min)} to ${shown(range.max)}${range.hex ? ' (hex 0x... or decimal)' : ''}${range.note ? ` (${range.note})` : ''}, not "${v}".`);
    }
    return n;
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

/** A whole number written in hex (0x...) or decimal, as espsecure reads them; NaN for anything else (a sign, a fraction, text). */
export function wholeNumber(v: string): number {
  const s = v.trim();
  return /^0x[0-9a-f]+$/i.test(s) ? parseInt(s.slice(2), 16) : /^\d+$/.test(s) ? parseInt(s, 10) : NaN;
}

export function parseIntArg(v: string, what: string, command: string): number {
  const n = wholeNumber(v);
  if (!Number.isSafeInteger(n)) throw new UserError('E_USAGE', `${command}: ${what} must be a number in hex (0x...) or decimal, not "${v}".`);
  return n;
}
