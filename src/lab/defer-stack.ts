/**
 * The per-case cleanup stack (the kernel selftests' `defer()`): each state change registers its
 * undo right after it is made; run() undoes them last-in first-out, after the case, pass or
 * fail. Every undo runs even when an earlier one throws; the failures come back together as a
 * CleanupError. Registering while the stack is running its cleanups is refused, so an undo can
 * never queue more undos (the defer-inside-defer loop the kernel library had to fix).
 *
 * Stacks with pending undos are listed in open-stacks.ts, so a SIGINT/SIGTERM handler can run
 * them before the process exits (signal-cleanup.ts).
 */
import { CleanupError, StateError } from '../errors.js';
import { trackOpenStack, untrackOpenStack } from './open-stacks.js';

export type Undo = () => unknown;

interface Step {
  undo: Undo;
  description: string;
}

export class DeferStack {
  private readonly steps: Step[] = [];
  private running: Promise<void> | null = null;
  private active = false;

  /** `label` names the owner (a test case, a command) in messages. */
  constructor(readonly label = 'cleanup') {}

  /** Registers an undo; it runs before every undo registered earlier. */
  defer(undo: Undo, description?: string): void {
    if (this.active) throw new StateError(`DeferStack(${this.label}).defer`, 'running its cleanups');
    if (typeof undo !== 'function') throw new TypeError(`DeferStack(${this.label}).defer: undo must be a function`);
    this.steps.push({ undo, description: description ?? (undo.name || `cleanup step ${this.steps.length + 1}`) });
    trackOpenStack(this);
  }

  /** Undos waiting to run. */
  get size(): number {
    return this.steps.length;
  }

  get isRunning(): boolean {
    return this.active;
  }

  /**
   * Runs every undo, newest first, and empties the stack; throws CleanupError listing the ones
   * that failed. A second call while it runs (say, from a signal handler) waits for the same run.
   */
  run(): Promise<void> {
    if (!this.running) {
      this.active = true; // set before runAll() starts: its first undo runs synchronously
      this.running = this.runAll().finally(() => {
        this.active = false;
        this.running = null;
      });
    }
    return this.running;
  }

  private async runAll(): Promise<void> {
    const failures: { description: string; error: unknown }[] = [];
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      try {
        await step.undo();
      } catch (error) {
        failures.push({ description: step.description, error });
      }
    }
    untrackOpenStack(this);
    if (failures.length) throw new CleanupError(failures);
  }
}
