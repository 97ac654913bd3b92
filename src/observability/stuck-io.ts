/**
 * Counts I/O the process has given up waiting for but cannot cancel: a read of a hung
 * network file system stays blocked in a libuv pool thread, and process.exit() joins
 * those threads, so a normal exit would hang with it. The exit path asks here whether it
 * must leave without joining them (see process-signals.ts).
 */
let stuck = 0;

/** Records one abandoned operation; call the returned function when it finally settles. */
export function markStuckIo(): () => void {
  stuck += 1;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    stuck -= 1;
  };
}

/** Operations abandoned and still not settled. */
export function stuckIoCount(): number {
  return stuck;
}
