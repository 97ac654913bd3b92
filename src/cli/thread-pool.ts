/**
 * Sizes libuv's thread pool before anything uses it. The PKCS#11 provider runs every HSM
 * call on that pool (pkcs11js async API), and libuv's default of 4 threads would queue a
 * pool of 8 sessions behind each other. libuv reads the variable once, on first use, so
 * this module must be the first import of the CLI entry point. An operator's own value wins.
 */
const DEFAULT_UV_THREADPOOL_SIZE = '16';

process.env.UV_THREADPOOL_SIZE ??= DEFAULT_UV_THREADPOOL_SIZE;

export {};
