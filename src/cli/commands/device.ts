import type { CliCommand } from '../command';

export const deviceCommands: CliCommand[] = [];
