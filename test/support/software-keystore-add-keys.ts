// Test-only child process: adds N keys to a keystore, one locked change per key, racing
// another process doing the same. Usage: tsx software-keystore-add-keys.ts FILE PREFIX N SYNC_DIR
// (the raw KEK comes from $TEST_KEK). It writes SYNC_DIR/ready-PREFIX, then waits for
// SYNC_DIR/go so that both racers really start together.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addKey, changeKeystore } from '../../src/providers/software/software-keystore.ts';

const [file, prefix, count, syncDir] = process.argv.slice(2);
const secret = { kek: process.env.TEST_KEK ?? '' };
writeFileSync(join(syncDir!, `ready-${prefix}`), '');
const deadline = Date.now() + 20_000;
while (!existsSync(join(syncDir!, 'go'))) {
  if (Date.now() > deadline) throw new Error('no go signal');
  await new Promise((r) => setTimeout(r, 2));
}
for (let i = 0; i < Number(count); i++) {
  await changeKeystore(file!, secret, (f, c) => addKey(f, c, `${prefix}-${i}`, { usages: ['ENCRYPT', 'DECRYPT'], enabled: true }));
}
