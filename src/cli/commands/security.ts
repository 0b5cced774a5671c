import type { CliCommand } from '../command';

export const securityCommands: CliCommand[] = [];
