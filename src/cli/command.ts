import type { OptionSpec } from './args';
import type { Args } from './args';

/** Where a command writes: stdout for results, stderr for progress and warnings. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  /** Reads one line from the user (for typed confirmations); undefined when stdin is not a terminal. */
  prompt?(question: string): Promise<string | undefined>;
  /** Reads a secret (a token PIN) without echoing it; undefined when stdin is not a terminal. */
  promptSecret?(question: string): Promise<string | undefined>;
}

export interface CliCommand {
  /** `generate-signing-key`, or a group plus verb such as `device info`. */
  name: string;
  summary: string;
  usage: string;
  /** Extra help text printed by --help. */
  help?: string;
  options: OptionSpec[];
  run(args: Args, io: CliIo): Promise<number | void> | number | void;
}
