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
  /**
   * For a command that writes to a board and has no Ctrl-C handling of its own: what state an
   * interruption (SIGINT) leaves and what to do, one sentence printed on stderr before exit 130.
   */
  interrupted?: string;
  run(args: Args, io: CliIo): Promise<number | void> | number | void;
}
