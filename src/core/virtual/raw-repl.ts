/**
 * A minimal MicroPython console for the virtual ESP32 once its firmware runs: the friendly REPL
 * (`>>> `, echo, Enter runs the line) and the raw REPL tools use (MicroPython's pyexec.c, which
 * Pycom's firmware keeps): Ctrl-A enters it and the board answers `raw REPL; CTRL-B to exit\r\n>`,
 * the code is sent without echo, Ctrl-D runs it and the board answers
 * `OK<stdout>\x04<stderr>\x04>`, Ctrl-C drops what was typed, Ctrl-B goes back to the friendly
 * REPL, Ctrl-D on an empty buffer is a soft reboot (imports forgotten).
 *
 * Only what tools ask of a Pycom board is understood: `import pycom`, `pycom.ota_slot()`,
 * `print(...)`, `hex(...)`, integers. Anything else gets the error line MicroPython would print
 * for it, or SyntaxError for what this small parser does not read (assignments, operators,
 * strings): a model, not an interpreter.
 */

/** What the console asks of the board it runs on. */
export interface MicroPythonEnv {
  /** The line after "Pycom MicroPython ..." in the banner: the board name as MicroPython prints it, e.g. "GPy". */
  boardName: string;
  /** `pycom.ota_slot()` on the board as it is now: the address, or the exception MicroPython raises ("OSError: ..."). */
  otaSlot(): number | { exception: string };
}

/** The firmware version the banner names (a 1.20 release, the era whose OTA layout is modelled). */
const VERSION = '1.20.2.r4 [v1.11-ffb0e1c] on 2021-01-12';
/** Longest code the raw REPL keeps (bytes); the rest is dropped, as a full buffer on the board would. */
const MAX_CODE = 4096;

const CTRL_A = 0x01;
const CTRL_B = 0x02;
const CTRL_C = 0x03;
const CTRL_D = 0x04;

class PyError extends Error {
  constructor(readonly line: string, readonly syntax = false) {
    super(line);
  }
}

type Value = { k: 'int'; v: number } | { k: 'str'; v: string } | { k: 'none' } | { k: 'module'; name: string } | { k: 'fn'; name: string };
type Expr = { t: 'int'; v: number } | { t: 'name'; name: string } | { t: 'attr'; of: Expr; name: string } | { t: 'call'; fn: Expr; args: Expr[] };
type Stmt = { t: 'import'; names: string[] } | { t: 'expr'; e: Expr };

const MODULES = new Set(['pycom']);
const BUILTINS = new Set(['print', 'hex']);

function tokenize(src: string): string[] {
  const out: string[] = [];
  const re = /\s*(0[xX][0-9a-fA-F]+|\d+|[A-Za-z_][A-Za-z0-9_]*|[().,])/y;
  let i = 0;
  while (i < src.length) {
    if (/^\s*$/.test(src.slice(i))) break;
    re.lastIndex = i;
    const m = re.exec(src);
    if (!m) throw new PyError('SyntaxError: invalid syntax', true);
    out.push(m[1]!);
    i = re.lastIndex;
  }
  return out;
}

function parseStatement(src: string): Stmt {
  const toks = tokenize(src);
  if (toks[0] === 'import') {
    const names: string[] = [];
    for (let i = 1; i < toks.length; i += 2) {
      if (!/^[A-Za-z_]\w*$/.test(toks[i]!) || (i + 1 < toks.length && toks[i + 1] !== ',')) throw new PyError('SyntaxError: invalid syntax', true);
      names.push(toks[i]!);
    }
    if (!names.length || toks[toks.length - 1] === ',') throw new PyError('SyntaxError: invalid syntax', true);
    return { t: 'import', names };
  }
  let pos = 0;
  const expr = (): Expr => {
    const tok = toks[pos++];
    let e: Expr;
    if (tok === undefined) throw new PyError('SyntaxError: invalid syntax', true);
    if (/^\d/.test(tok)) e = { t: 'int', v: /^0[xX]/.test(tok) ? parseInt(tok.slice(2), 16) : parseInt(tok, 10) };
    else if (/^[A-Za-z_]/.test(tok)) e = { t: 'name', name: tok };
    else throw new PyError('SyntaxError: invalid syntax', true);
    for (;;) {
      if (toks[pos] === '.') {
        const name = toks[pos + 1];
        if (!name || !/^[A-Za-z_]\w*$/.test(name)) throw new PyError('SyntaxError: invalid syntax', true);
        e = { t: 'attr', of: e, name };
        pos += 2;
      } else if (toks[pos] === '(') {
        pos++;
        const args: Expr[] = [];
        while (toks[pos] !== ')') {
          args.push(expr());
          if (toks[pos] === ',') pos++;
          else if (toks[pos] !== ')') throw new PyError('SyntaxError: invalid syntax', true);
        }
        pos++;
        e = { t: 'call', fn: e, args };
      } else {
        return e;
      }
    }
  };
  const e = expr();
  if (pos !== toks.length) throw new PyError('SyntaxError: invalid syntax', true);
  return { t: 'expr', e };
}

function str(v: Value): string {
  switch (v.k) {
    case 'int':
      return String(v.v);
    case 'str':
      return v.v;
    case 'none':
      return 'None';
    case 'module':
      return `<module '${v.name}'>`;
    case 'fn':
      return `<function ${v.name}>`;
  }
}

/** The MicroPython console of one running firmware; make a new one at each boot. */
export class VirtualMicroPython {
  private raw = false;
  private line = '';
  private imported = new Set<string>();

  constructor(private readonly env: MicroPythonEnv) {}

  /** The banner the friendly REPL prints after Ctrl-B or a soft reboot. */
  banner(): string {
    return `Pycom MicroPython ${VERSION}; ${this.env.boardName} with ESP32\r\nType "help()" for more information.\r\n`;
  }

  /** Feeds bytes the host sent; returns what the board prints in answer (latin1 text, may be empty). */
  input(bytes: Uint8Array): string {
    let out = '';
    for (const b of bytes) out += this.raw ? this.rawByte(b) : this.friendlyByte(b);
    return out;
  }

  private rawByte(b: number): string {
    switch (b) {
      case CTRL_A:
        this.line = '';
        return 'raw REPL; CTRL-B to exit\r\n>';
      case CTRL_B:
        this.raw = false;
        this.line = '';
        return `\r\n${this.banner()}>>> `;
      case CTRL_C:
        this.line = '';
        return '';
      case CTRL_D: {
        const code = this.line;
        this.line = '';
        if (!code.length) {
          this.imported.clear();
          return '\r\nPYB: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>';
        }
        const r = this.run(code, false);
        return `OK${r.out}\x04${r.err}\x04>`;
      }
      default:
        if (this.line.length < MAX_CODE) this.line += String.fromCharCode(b);
        return '';
    }
  }

  private friendlyByte(b: number): string {
    switch (b) {
      case CTRL_A:
        this.raw = true;
        this.line = '';
        return '\r\nraw REPL; CTRL-B to exit\r\n>';
      case CTRL_B:
        this.line = '';
        return `\r\n${this.banner()}>>> `;
      case CTRL_C:
        this.line = '';
        return '\r\n>>> ';
      case CTRL_D:
        if (this.line.length) return '';
        this.imported.clear();
        return `\r\nPYB: soft reboot\r\n${this.banner()}>>> `;
      case 0x0d: {
        const code = this.line;
        this.line = '';
        if (!code.trim()) return '\r\n>>> ';
        const r = this.run(code, true);
        return `\r\n${r.out}${r.err}>>> `;
      }
      case 0x08:
      case 0x7f:
        if (!this.line.length) return '';
        this.line = this.line.slice(0, -1);
        return '\b \b';
      default:
        if (b < 0x20 || b > 0x7e || this.line.length >= MAX_CODE) return '';
        this.line += String.fromCharCode(b);
        return String.fromCharCode(b);
    }
  }

  /** Compiles all of `code` first (a SyntaxError runs nothing), then runs statement by statement until one raises. */
  private run(code: string, friendly: boolean): { out: string; err: string } {
    let out = '';
    const stmts: Array<{ s: Stmt; line: number }> = [];
    let lineNo = 1;
    try {
      for (const piece of code.split(/\r\n|\r|\n/)) {
        for (const p of piece.split(';')) if (p.trim()) stmts.push({ s: parseStatement(p.trim()), line: lineNo });
        lineNo++;
      }
    } catch (e) {
      if (!(e instanceof PyError)) throw e;
      return { out: '', err: `Traceback (most recent call last):\r\n  File "<stdin>", line ${lineNo}\r\n${e.line}\r\n` };
    }
    for (const { s, line } of stmts) {
      try {
        if (s.t === 'import') {
          for (const n of s.names) {
            if (!MODULES.has(n)) throw new PyError(`ImportError: no module named '${n}'`);
            this.imported.add(n);
          }
          continue;
        }
        const printed: string[] = [];
        const v = this.evaluate(s.e, printed);
        out += printed.join('');
        if (friendly && v.k !== 'none') out += `${v.k === 'str' ? `'${v.v}'` : str(v)}\r\n`;
      } catch (e) {
        if (!(e instanceof PyError)) throw e;
        return { out, err: `Traceback (most recent call last):\r\n  File "<stdin>", line ${line}, in <module>\r\n${e.line}\r\n` };
      }
    }
    return { out, err: '' };
  }

  private evaluate(e: Expr, printed: string[]): Value {
    switch (e.t) {
      case 'int':
        return { k: 'int', v: e.v };
      case 'name':
        if (this.imported.has(e.name)) return { k: 'module', name: e.name };
        if (BUILTINS.has(e.name)) return { k: 'fn', name: e.name };
        throw new PyError(`NameError: name '${e.name}' isn't defined`);
      case 'attr': {
        const of = this.evaluate(e.of, printed);
        if (of.k === 'module' && of.name === 'pycom' && e.name === 'ota_slot') return { k: 'fn', name: 'pycom.ota_slot' };
        const what = of.k === 'module' ? 'module' : of.k === 'fn' ? 'function' : of.k === 'none' ? 'NoneType' : of.k;
        throw new PyError(`AttributeError: '${what}' object has no attribute '${e.name}'`);
      }
      case 'call': {
        const fn = this.evaluate(e.fn, printed);
        const args = e.args.map((a) => this.evaluate(a, printed));
        if (fn.k !== 'fn') throw new PyError(`TypeError: '${fn.k === 'module' ? 'module' : fn.k}' object isn't callable`);
        return this.call(fn.name, args, printed);
      }
    }
  }

  private call(name: string, args: Value[], printed: string[]): Value {
    if (name === 'print') {
      printed.push(`${args.map(str).join(' ')}\r\n`);
      return { k: 'none' };
    }
    if (name === 'hex') {
      const a = args[0];
      if (args.length !== 1) throw new PyError(`TypeError: function takes 1 positional arguments but ${args.length} were given`);
      if (a?.k !== 'int') throw new PyError("TypeError: can't convert to int");
      return { k: 'str', v: `0x${a.v.toString(16)}` };
    }
    // pycom.ota_slot
    if (args.length) throw new PyError(`TypeError: function takes 0 positional arguments but ${args.length} were given`);
    const r = this.env.otaSlot();
    if (typeof r !== 'number') throw new PyError(r.exception);
    return { k: 'int', v: r };
  }
}
