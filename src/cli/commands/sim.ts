import type { CliCommand } from '../command';

export const simCommands: CliCommand[] = [];
