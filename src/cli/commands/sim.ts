import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { CliCommand, CliIo } from '../command';
import type { Args } from '../args';
import { bootPredictorForVirtual, DEFAULT_TIMING, fsError, loadStateFile, moduleIds, resolveModule, saveStateFile, processAlive, startSimServer, StateJournal, TIMING_PROFILES, timingProfile, UserError, VirtualEsp32, type CodingSchemeOption, type TimingModel } from '../../core';

/**
 * The seed a new virtual board's MAC comes from: --seed, or a random one, so every new board has
 * its own MAC as real boards do (a key store's burn record names a MAC: two boards sharing one
 * would vouch for each other). The MAC then lives in the state file.
 */
function boardSeed(args: Args): string {
  return args.opt('seed') ?? `sim-${randomUUID()}`;
}

function codingScheme(args: Args): CodingSchemeOption {
  const v = args.opt('coding-scheme') ?? 'none';
  if (v !== 'none' && v !== '3/4') throw new UserError('E_USAGE', `${args.command}: --coding-scheme must be none or 3/4, not "${v}".`);
  return v;
}

/**
 * Refuses the options that shape a NEW board only (--profile, --coding-scheme, --seed: the module,
 * the eFuse coding scheme, the MAC) when they ask for something other than what the existing state
 * file's board is: they would otherwise be ignored silently. An option that names what the board
 * already is passes; --timing and --timing-profile apply to an existing board as well.
 * Errors: E_STATE_OPTION (one sentence naming the file, what it holds and the ways on).
 */
function checkNewBoardOptions(args: Args, state: string, dev: VirtualEsp32): void {
  const prof = profile(args);
  const scheme = args.opt('coding-scheme') !== undefined ? codingScheme(args) : undefined;
  const seed = args.opt('seed');
  const has: CodingSchemeOption = dev.efuse.codingScheme === 1 ? '3/4' : 'none';
  const clash = prof !== undefined && resolveModule(prof).id !== dev.module.id ? { option: '--profile', holds: `a ${dev.module.id} board`, redo: `--profile ${prof}` }
    : scheme !== undefined && scheme !== has ? { option: '--coding-scheme', holds: `a board with coding scheme ${has}`, redo: `--coding-scheme ${scheme}` }
      : seed !== undefined && seed !== dev.seed ? { option: '--seed', holds: `a board made from another seed (MAC ${macText(dev.mac)})`, redo: `--seed ${seed}` }
        : undefined;
  if (!clash) return;
  throw new UserError('E_STATE_OPTION', `${args.command}: the state file ${state} already holds ${clash.holds} and ${clash.option} shapes a new board only; give a new --state file, or make this one afresh with \`pycom-secure sim reset-state --state ${state} ${clash.redo}\` (its burns and flash are lost), or leave out ${clash.option}.`);
}

function macText(mac: Uint8Array): string {
  return [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

function profile(args: Args): string | undefined {
  const p = args.opt('profile');
  if (p !== undefined) resolveModule(p);
  return p;
}

/**
 * The timing model: off, the default profile with --timing, or the one --timing-profile names
 * (which turns timing on by itself).
 */
function timingOption(args: Args): TimingModel | undefined {
  const name = args.opt('timing-profile');
  if (name === undefined) return args.flag('timing') ? DEFAULT_TIMING : undefined;
  const t = timingProfile(name);
  if (!t) throw new UserError('E_USAGE', `${args.command}: --timing-profile must be one of ${Object.keys(TIMING_PROFILES).join(', ')}, not "${name}".`);
  return t;
}

/**
 * The board to serve: from the state file when it exists, else factory-fresh. A reset into normal
 * boot must print what a real board would (issue 4 §5), so the board runs the boot model.
 */
function openBoard(args: Args): VirtualEsp32 {
  const state = args.opt('state');
  const prof = profile(args);
  const timing = timingOption(args);
  const bootPredictor = bootPredictorForVirtual;
  if (state && fs.existsSync(state)) {
    const dev = loadStateFile(state, { timing, bootPredictor });
    checkNewBoardOptions(args, state, dev);
    return dev;
  }
  const dev = new VirtualEsp32({ profile: prof ?? 'GPY', codingScheme: codingScheme(args), timing, seed: boardSeed(args), bootPredictor });
  if (state) saveStateFile(state, dev);
  return dev;
}

const serve: CliCommand = {
  name: 'sim serve',
  summary: 'Serve a virtual Pycom board (ESP32 ROM loader) on a local TCP port for rehearsals and tests.',
  get usage() {
    return `sim serve [--port N] [--profile ${moduleIds().join('|')}] [--state FILE] [--timing] [--timing-profile ${Object.keys(TIMING_PROFILES).join('|')}] [--coding-scheme none|3/4] [--seed TEXT]`;
  },
  help: [
    'Connect with --port socket://127.0.0.1:PORT. One client at a time; each connection resets the board into download mode.',
    `--timing makes the board take the time a real one would (UART at the rate the client asked with`,
    `CHANGE_BAUDRATE, flash erase and program times) with the ${DEFAULT_TIMING.name} profile; --timing-profile picks`,
    `another: ${Object.values(TIMING_PROFILES).map((t) => `${t.name} (${t.eraseUnit === 'sector' ? 'every 4 KB sector erased on its own' : '64 KB block erases where they fit'})`).join(', ')}.`,
    'Each baud change the client makes is reported on stderr.',
    'With --state the board (eFuses and flash) is loaded from FILE if it exists; before the board answers any',
    'command that burned an eFuse or erased or wrote flash, the change is appended to FILE.journal and synced, so a',
    'killed server keeps everything it acknowledged; FILE is rewritten whole (atomically) after every disconnect and',
    'on exit. --profile, --coding-scheme and --seed shape a new board only: for a state file that already holds another',
    'board they are refused, not ignored (--timing and --timing-profile apply to it). --port 0 (the default) picks',
    'a free port. Stops on Ctrl-C.',
  ].join('\n'),
  options: [{ name: 'port' }, { name: 'profile' }, { name: 'state' }, { name: 'timing', flag: true }, { name: 'timing-profile' }, { name: 'coding-scheme' }, { name: 'seed' }],
  async run(args, io) {
    args.maxPositionals(0);
    const port = args.intIn('port', { min: 0, max: 65535, what: 'a TCP port number', note: '0 picks a free port' }, 0);
    const state = args.opt('state');
    // One board, one process: a second server on the same state file would save over the first's burns.
    const unlock = state ? lockStateFile(state) : () => undefined;
    try {
      return await serveBoard(args, io, port, state);
    } finally {
      unlock();
    }
  },
};

async function serveBoard(args: Args, io: CliIo, port: number, state: string | undefined): Promise<number> {
  const dev = openBoard(args);
  // Every burn and every flash write is on disk before the reply that acknowledges it: a real chip
  // never forgets a burned eFuse, and neither may a killed sim serve. The changes go to a journal
  // beside the state file (a few KiB per reply, synced), folded into the file at each disconnect
  // and on exit; rewriting the whole state before each reply took longer than the board's own
  // flash time and made every timed rehearsal slower than the model.
  const journal = state ? new StateJournal(state, dev) : undefined;
  const save = (): void => journal?.compact();
  // With timing on, each connection's traffic and flash work is reported when it ends (the
  // benchmark reads these lines to split protocol overhead from payload).
  const tl = dev.timeline;
  let last = { in: 0, out: 0, flash: 0 };
  const report = (): void => {
    if (!tl) return;
    const now = { in: tl.bytesIn, out: tl.bytesOut, flash: tl.flashMs };
    io.err(`connection closed: ${now.in - last.in} bytes from the client, ${now.out - last.out} bytes to it, ${Math.round(now.flash - last.flash)} ms of flash erase/program (timing profile ${dev.timing!.name})`);
    last = now;
  };
  if (journal) {
    dev.persist = () => {
      try {
        journal.append();
      } catch (e) {
        io.err(`sim serve: ${e instanceof Error ? e.message : String(e)}`);
        throw e;
      }
    };
  }
  let server;
  try {
    server = await startSimServer(dev, {
      port,
      onDisconnect: () => {
        report();
        save();
      },
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UserError('E_PORT_IN_USE', `${args.command}: port ${port} is already in use; choose another with --port, or 0 for a free one.`);
    throw e;
  }
  const offBaud = dev.onUartBaud((b) => io.err(`board UART0 now at ${b} baud`));
  // Ctrl-C / SIGTERM are handled before "listening" is printed: a caller that stops the server as
  // soon as it reads that line must not find the default action (the lock and the state left behind).
  const stopped = new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  io.out(`listening on ${server.host}:${server.port}`);
  await stopped;
  offBaud();
  await server.close();
  save();
  journal?.close();
  return 0;
}

/**
 * Takes `STATE.lock` (O_EXCL, holding this process's pid) for as long as this server runs; a lock
 * whose process is gone is taken over. Returns the release function.
 * Errors: E_STATE_IN_USE when another live process holds it.
 */
/**
 * Refuses a state file whose lock (`STATE.lock`) a live process holds: a running sim serve.
 * Errors: E_STATE_IN_USE.
 */
function stateNotInUse(state: string): void {
  let text: string;
  try {
    text = fs.readFileSync(`${path.resolve(state)}.lock`, 'utf8');
  } catch {
    return;
  }
  const pid = Number(text.trim());
  if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) {
    throw new UserError('E_STATE_IN_USE', `The state file ${state} is in use by another sim serve (process ${pid}); stop that one first, or give this board another --state file.`);
  }
}

function lockStateFile(state: string): () => void {
  const lock = `${path.resolve(state)}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(lock, 'wx', 0o600);
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      return () => fs.rmSync(lock, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(e, 'write', 'lock of the virtual board state file', lock);
      stateNotInUse(state);
      fs.rmSync(lock, { force: true });
    }
  }
  throw new UserError('E_STATE_IN_USE', `The lock ${lock} could not be taken; remove it if no sim serve is running.`);
}

const resetState: CliCommand = {
  name: 'sim reset-state',
  summary: 'Create (or overwrite) a virtual board state file with a factory-fresh board.',
  get usage() {
    return `sim reset-state --state FILE [--profile ${moduleIds().join('|')}] [--coding-scheme none|3/4] [--seed TEXT]`;
  },
  options: [{ name: 'state' }, { name: 'profile' }, { name: 'coding-scheme' }, { name: 'seed' }],
  run(args, io) {
    args.maxPositionals(0);
    const state = args.need('state');
    // A running sim serve would write its board back over the fresh one when it stops.
    stateNotInUse(state);
    const dev = new VirtualEsp32({ profile: profile(args) ?? 'GPY', codingScheme: codingScheme(args), seed: boardSeed(args) });
    saveStateFile(state, dev);
    io.out(`fresh ${dev.module.title} board (MAC ${macText(dev.mac)}, ${dev.flash.size / 1048576} MB flash) written to ${state}`);
    return 0;
  },
};

export const simCommands: CliCommand[] = [serve, resetState];
