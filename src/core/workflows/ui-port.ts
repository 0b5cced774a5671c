/**
 * The small UI port every workflow talks to the user through. The CLI implements it on the
 * terminal (stdout/stderr, a prompt on a TTY), the editor with VS Code's notifications, quick
 * picks, input boxes and progress, and the fault campaigns with a scripted port. A workflow never
 * prints, never asks and never shows anything except through this interface, so all three run the
 * same body.
 */
export interface UiPort {
  /** A progress or status line (stderr in the CLI, the output channel in the editor). */
  info(line: string): void;
  /** Something the user should notice but that does not stop the job. */
  warn(line: string): void;
  /** One choice out of `items`; undefined when the user dismissed the question (Escape, no terminal). */
  choose<T>(question: ChoiceQuestion<T>): Promise<T | undefined>;
  /**
   * The typed confirmation for an irreversible step: the user types the board's MAC. Returns what
   * was typed (the workflow checks it), or undefined when the user dismissed the question or
   * nobody can answer (no terminal).
   */
  confirmMac(question: MacQuestion): Promise<string | undefined>;
  /**
   * Runs `fn` as one long task with progress. `report` takes a message and, when known, the
   * fraction of the task done so far (0..1). The signal is aborted when the user cancels.
   */
  task<T>(title: string, fn: (report: (message: string, fraction?: number) => void, signal: AbortSignal) => Promise<T>): Promise<T>;
  /**
   * A yes/no question about something the product cannot check itself (issue 12 B: "this key
   * store holds the keys burned into this board"), shown modally where the front end can; true
   * only for an explicit yes. Optional: a front end without it (the CLI, which takes a flag
   * instead) leaves the question unanswered, and the workflow refuses.
   */
  confirm?(question: ConfirmQuestion): Promise<boolean>;
}

export interface ConfirmQuestion {
  /** One line: what is asked. */
  title: string;
  /** What is at stake and what a yes is recorded as. */
  detail: string;
  /** The label of the button that says yes. */
  yes: string;
}

export interface Choice<T> {
  label: string;
  detail?: string;
  description?: string;
  value: T;
}

export interface ChoiceQuestion<T> {
  title: string;
  placeholder?: string;
  items: readonly Choice<T>[];
}

export interface MacQuestion {
  /** The MAC the user must repeat (aa:bb:cc:dd:ee:ff). */
  mac: string;
  /** One line naming the board and what is about to happen. */
  title: string;
  /** What the user is asked, with the number of steps and that eFuses cannot be unburned. */
  prompt: string;
  /** True when the board is a virtual one (nothing real is burned). */
  virtual: boolean;
}

/** A UiPort that answers from a script: for the fault campaigns and tests. */
export function scriptedUi(o: {
  choose?: <T>(q: ChoiceQuestion<T>) => T | undefined;
  confirmMac?: (q: MacQuestion) => string | undefined;
  /** Answers `confirm`; without it the scripted port has no `confirm` (like the CLI). */
  confirm?: (q: ConfirmQuestion) => boolean;
  log?: (level: 'info' | 'warn', line: string) => void;
  signal?: AbortSignal;
} = {}): UiPort {
  return {
    info: (l) => o.log?.('info', l),
    warn: (l) => o.log?.('warn', l),
    choose: async (q) => (o.choose ? o.choose(q) : q.items[0]?.value),
    confirmMac: async (q) => (o.confirmMac ? o.confirmMac(q) : q.mac),
    task: (_title, fn) => fn(() => undefined, o.signal ?? new AbortController().signal),
    ...(o.confirm ? { confirm: async (q: ConfirmQuestion) => o.confirm!(q) } : {}),
  };
}
