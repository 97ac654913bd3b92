/**
 * Preload for `bench/cost-breakdown.ts --promises`: counts the promises made in the server
 * over a window the bench chooses. The first SIGUSR2 starts counting, the second stops it
 * and writes the count and a sample of where they were made to $XKS_PROMISE_COUNT.
 *
 * With a promise hook installed V8 also makes a promise for every `await` (it skips that
 * otherwise), so the count is promises and awaits together: each is a microtask turn and
 * an allocation on the request path. Unlike CPU time on a shared machine, the count per
 * request hardly moves between runs, so it shows an async layer gained or lost.
 */
import { promiseHooks } from 'node:v8';
import { writeFileSync } from 'node:fs';

const out = process.env.XKS_PROMISE_COUNT;
/** One promise in this many gets its call site recorded (a stack trace each). */
const SAMPLE_EVERY = 64;

if (out !== undefined) {
  /** @type {(() => void) | undefined} */
  let stopHook;
  let promises = 0;
  /** @type {Map<string, number>} */
  const sites = new Map();
  process.on('SIGUSR2', () => {
    if (stopHook === undefined) {
      stopHook = promiseHooks.onInit(() => {
        promises++;
        if (promises % SAMPLE_EVERY === 0) {
          const site = callSite(new Error().stack ?? '');
          sites.set(site, (sites.get(site) ?? 0) + 1);
        }
      });
      return;
    }
    stopHook();
    writeFileSync(out, JSON.stringify({ promises, sampleEvery: SAMPLE_EVERY, sites: [...sites] }));
  });
}

/** The first two frames outside this file and node's internals, with paths from src/, bench/ or the package. */
/**
 * @param {string} stack
 * @returns {string}
 */
function callSite(stack) {
  const frames = stack
    .split('\n')
    .slice(1)
    .map((line) => line.trim().replace(/^at /, ''))
    .filter((frame) => !frame.includes('promise-counter.mjs') && !frame.includes('node:internal/'));
  /** @param {string} frame */
  const short = (frame) => frame.replace(/(?:file:\/\/)?\/[^\s()]*?\/(src\/|bench\/|node_modules\/)/, '$1').replace(/:\d+\)?$/, ')');
  return frames.slice(0, 2).map(short).join(' < ') || '(no JavaScript frame)';
}
