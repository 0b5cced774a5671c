import type { CliCommand } from '../command';

export const firmwareCommands: CliCommand[] = [];
