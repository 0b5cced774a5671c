import type { CliCommand } from '../command';

export const efuseCommands: CliCommand[] = [];
