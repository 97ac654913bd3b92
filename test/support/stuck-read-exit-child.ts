/**
 * Child process for the stuck-read exit test: blocks one libuv pool thread for real (a
 * plain open() of a FIFO that no one writes to), then exits through the proxy's own exit
 * path. Arguments: <fifo path> <"marked" | "unmarked">: "marked" records the read as
 * abandoned stuck I/O, as the keystore refresher does for a read that hangs.
 */
import { open } from 'node:fs';
import { createLogger } from '../../src/observability/logger.ts';
import { flushAndExit } from '../../src/cli/process-signals.ts';
import { markStuckIo } from '../../src/observability/stuck-io.ts';

const [fifo, mode] = process.argv.slice(2);
if (fifo === undefined) throw new Error('usage: stuck-read-exit-child <fifo> marked|unmarked');
open(fifo, 'r', () => undefined);
if (mode === 'marked') markStuckIo();
const logger = createLogger({ level: 'info', pretty: false }); // the proxy's own logger
// Give the pool thread time to enter open() before exiting.
setTimeout(() => {
  logger.info('exiting');
  flushAndExit(logger, 0);
}, 200);
