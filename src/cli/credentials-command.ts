import { randomBytes, randomInt } from 'node:crypto';
import { Command } from 'commander';
import { cliAction } from './cli-action.ts';
import { credentialsListCommand } from './credentials-list.ts';

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A new access key id: 20-30 chars of A-Z and 2-7 (spec "Authentication"); default 24. */
export function generateAccessKeyId(length = 24): string {
  let id = '';
  for (let i = 0; i < length; i++) id += BASE32_ALPHABET[randomInt(BASE32_ALPHABET.length)];
  return id;
}

/**
 * A new secret access key: 64 chars of Base64 (A-Za-z0-9+/) from 48 random bytes, i.e.
 * 384 bits of entropy; the spec requires 43-64 chars and at least 256 bits.
 */
export function generateSecretAccessKey(): string {
  return randomBytes(48).toString('base64');
}

/** `xks-proxy credentials`: SigV4 credential helpers. */
export function credentialsCommand(): Command {
  const cmd = new Command('credentials').description('SigV4 credentials for a key store');
  cmd
    .command('generate')
    .description('print a new access key id and secret in the formats the XKS spec requires')
    .option('--json', 'print JSON instead of a config snippet')
    .action(
      cliAction((opts: { json?: boolean }) => {
        const accessKeyId = generateAccessKeyId();
        const secretAccessKey = generateSecretAccessKey();
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ accessKeyId, secretAccessKey, createdAt: new Date().toISOString() })}\n`);
          return;
        }
        process.stdout.write(
          [
            '# Store the secret outside the config file, e.g. in a file readable only by the proxy:',
            `#   printf %s '${secretAccessKey}' > xks-secret-${accessKeyId}; chmod 600 xks-secret-${accessKeyId}`,
            '# then add this entry to the key store\'s credentials list (keep the old one until KMS uses the new one):',
            `- accessKeyId: ${accessKeyId}`,
            `  secretAccessKey: file:xks-secret-${accessKeyId}`,
            `  createdAt: ${new Date().toISOString().slice(0, 10)}`,
            '',
          ].join('\n'),
        );
      }),
    );
  cmd.addCommand(credentialsListCommand());
  return cmd;
}
