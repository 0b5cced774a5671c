import * as vscode from 'vscode';
import { randomUUID } from 'node:crypto';
import { bootPredictorForVirtual, startSimServer, VirtualEsp32, type SimServer } from '../core';

export interface RunningVirtualBoard {
  url: string;
  title: string;
  dev: VirtualEsp32;
  server: SimServer;
}

/**
 * Virtual boards the editor starts in its own extension host (Rehearse, "Start a virtual GPy").
 * They serve the same ROM loader over TCP as `pycom-secure sim serve`, so every command talks to
 * them exactly as to a real board; they live until the window closes.
 */
export class VirtualBoards implements vscode.Disposable {
  private readonly boards: RunningVirtualBoard[] = [];

  async start(profile: string): Promise<RunningVirtualBoard> {
    // With the boot model a normal boot prints what this flash and these eFuses would really
    // print, not only the ROM header.
    // A seed of its own: every board started here has its own MAC, never the one of another
    // virtual board (npm start's `sim serve` board uses the default seed).
    const dev = new VirtualEsp32({ profile, seed: `editor-${randomUUID()}`, bootPredictor: bootPredictorForVirtual });
    const server = await startSimServer(dev, { port: 0 });
    const b = { url: `socket://${server.host}:${server.port}`, title: dev.module.title, dev, server };
    this.boards.push(b);
    return b;
  }

  list(): readonly RunningVirtualBoard[] {
    return this.boards;
  }

  find(url: string): RunningVirtualBoard | undefined {
    return this.boards.find((b) => b.url === url);
  }

  dispose(): void {
    for (const b of this.boards.splice(0)) void b.server.close();
  }
}
