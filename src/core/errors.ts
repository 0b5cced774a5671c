/**
 * An error meant for the user: one sentence that says what is wrong and what to do.
 * Anything else that escapes is a bug and is reported as such by the shells.
 */
export class UserError extends Error {
  /** A short stable code, so tests and the editor can react without parsing prose. */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'UserError';
    this.code = code;
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
