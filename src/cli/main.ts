import * as readline from 'node:readline';
import { Writable } from 'node:stream';
import { parseArgs, Args } from './args';
import type { CliCommand, CliIo } from './command';
import { isUserError, VERSION } from '../core';
import { securityCommands } from './commands/security';
import { deviceCommands } from './commands/device';
import { simCommands } from './commands/sim';
import { efuseCommands } from './commands/efuse';
import { firmwareCommands } from './commands/firmware';
import { fleetCommands } from './commands/fleet';

export const allCommands: CliCommand[] = [
  ...securityCommands,
  ...deviceCommands,
  ...simCommands,
  ...efuseCommands,
  ...firmwareCommands,
  ...fleetCommands,
];

function findCommand(rawArgv: string[]): { cmd: CliCommand; rest: string[] } | undefined {
  // espsecure v4 spells commands with underscores (encrypt_flash_data); users paste those from
  // Pycom's and Espressif's docs, so both spellings name the same command.
  const argv = rawArgv.map((a, i) => (i < 2 && !a.startsWith('-') ? a.replace(/_/g, '-') : a));
  // Two-word commands (`device info`) win over one-word ones.
  const two = argv.slice(0, 2).join(' ');
  const byTwo = allCommands.find((c) => c.name === two);
  if (byTwo) return { cmd: byTwo, rest: rawArgv.slice(2) };
  const byOne = allCommands.find((c) => c.name === argv[0]);
  if (byOne) return { cmd: byOne, rest: rawArgv.slice(1) };
  return undefined;
}

function usage(): string {
  const width = Math.max(...allCommands.map((c) => c.name.length));
  return [
    `pycom-secure ${VERSION}: secure boot v1 and flash encryption for Pycom boards (ESP32).`,
    '',
    'Usage: pycom-secure <command> [options]',
    '',
    ...allCommands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `pycom-secure <command> --help` for a command\'s options.',
  ].join('\n');
}

/** Runs one CLI invocation; returns the exit code. Never throws. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.out(usage());
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === '--version') {
    io.out(VERSION);
    return 0;
  }
  const found = findCommand(argv);
  if (!found) {
    io.err(`pycom-secure: unknown command "${argv.slice(0, 2).join(' ')}"; run \`pycom-secure --help\` for the list.`);
    return 2;
  }
  const { cmd, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`Usage: pycom-secure ${cmd.usage}\n\n${cmd.summary}${cmd.help ? `\n\n${cmd.help}` : ''}`);
    return 0;
  }
  try {
    const args = new Args(parseArgs(rest, cmd.options, cmd.name), cmd.name);
    const code = await cmd.run(args, io);
    return code ?? 0;
  } catch (e) {
    if (isUserError(e)) {
      // Messages often name their command already ("flash: --port is required"): say it once.
      const msg = e.message.startsWith(`${cmd.name}: `) ? e.message.slice(cmd.name.length + 2) : e.message;
      io.err(`pycom-secure ${cmd.name}: ${msg}`);
      return 2;
    }
    // A bug, not bad input: say so plainly, without dumping state that could hold key bytes.
    const msg = e instanceof Error ? e.message : String(e);
    io.err(`pycom-secure ${cmd.name}: internal error: ${msg}. Please report this with the command you ran.`);
    return 3;
  }
}

/**
 * One line typed at the terminal (the question on stderr, so stdout stays the command's result);
 * undefined when the input ends first (Ctrl-D).
 */
function ttyPrompt(question: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    let answer: string | undefined;
    rl.question(question, (a) => {
      answer = a;
      rl.close();
    });
    rl.on('close', () => resolve(answer));
  });
}

/**
 * A secret typed at the terminal (a token PIN): what is typed is not echoed, and the answer is
 * kept only by the caller. Undefined when the input ends first.
 */
function ttySecretPrompt(question: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    let muted = false;
    const output = new Writable({
      write(chunk: Buffer, _enc, done) {
        if (!muted) process.stderr.write(chunk);
        done();
      },
    });
    const rl = readline.createInterface({ input: process.stdin, output, terminal: true });
    let answer: string | undefined;
    rl.question(question, (a) => {
      answer = a;
      rl.close();
    });
    muted = true;
    rl.on('close', () => {
      process.stderr.write('\n');
      resolve(answer);
    });
  });
}

/**
 * Set once stdout's reader has gone (`pycom-secure image-info F | head -1`: EPIPE). Output stops
 * there, but the command runs on to its end: a flash or a burn must not stop half-way because
 * nobody reads its progress any more.
 */
let stdoutGone = false;
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') stdoutGone = true;
  else throw e;
});

export const processIo: CliIo = {
  out: (line) => {
    if (!stdoutGone) process.stdout.write(line + '\n');
  },
  err: (line) => process.stderr.write(line + '\n'),
  // Questions only when a person can answer: on a terminal. Scripts give --confirm instead.
  ...(process.stdin.isTTY ? { prompt: ttyPrompt, promptSecret: ttySecretPrompt } : {}),
};

/** Entry point used by bin/pycom-secure.js. */
export function main(): void {
  // Ctrl-C in a command that writes to a board: one sentence on what it left and what to do, then
  // exit 130 (128 + SIGINT, as shells report it). Commands with their own handling (provision,
  // build, sim serve) set no `interrupted` and keep theirs.
  const found = findCommand(process.argv.slice(2));
  const sentence = found?.cmd.interrupted;
  if (found && sentence) {
    // SIGTERM (a service manager, `kill`) says the same; the exit code is 128 + the signal's number.
    for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
      process.once(signal, () => {
        process.stderr.write(`\npycom-secure ${found.cmd.name}: interrupted; ${sentence}\n`);
        process.exit(code);
      });
    }
  }
  runCli(process.argv.slice(2), processIo).then((code) => {
    process.exitCode = code;
  });
}
