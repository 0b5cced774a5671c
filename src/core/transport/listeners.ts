import type { Unsubscribe } from './transport';

/** A tiny listener set shared by the transports (no EventEmitter: explicit types, no leaks). */
export class Listeners<A extends unknown[]> {
  private readonly set = new Set<(...args: A) => void>();

  add(fn: (...args: A) => void): Unsubscribe {
    this.set.add(fn);
    return () => {
      this.set.delete(fn);
    };
  }

  emit(...args: A): void {
    for (const fn of [...this.set]) fn(...args);
  }

  get size(): number {
    return this.set.size;
  }
}
