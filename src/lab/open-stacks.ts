/**
 * The cleanup stacks that hold undos right now, oldest first. This is the one process-wide
 * list the signal handler needs; the stacks themselves stay per case (a module-global undo
 * queue is what STYLE §1 warns against).
 */
export interface RunnableStack {
  readonly label: string;
  run(): Promise<void>;
}

const open = new Set<RunnableStack>();

export function trackOpenStack(s: RunnableStack): void {
  open.add(s);
}

export function untrackOpenStack(s: RunnableStack): void {
  open.delete(s);
}

/** Open stacks, newest first: the order a signal handler runs them in. */
export function openStacks(): RunnableStack[] {
  return [...open].reverse();
}
