import { randomBytes, randomInt } from 'node:crypto';
import { Command } from 'commander';
import { dirname, join, resolve } from 'node:path';
import { cliAction, configOption } from './cli-action.ts';
import { writeSecretFile } from './secret-file.ts';
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
    .description('make a new access key id and secret in the formats the XKS spec requires; the secret goes into a 0600 file next to the config')
    .addOption(configOption('config file the credential is for: the secret file goes into secrets/ beside it'))
    .option('--json', 'print the credential, secret included, as JSON instead of writing a file (for automation)')
    .action(
      cliAction(async (opts: { config: string; json?: boolean }) => {
        const accessKeyId = generateAccessKeyId();
        const secretAccessKey = generateSecretAccessKey();
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ accessKeyId, secretAccessKey, createdAt: new Date().toISOString() })}\n`);
          return;
        }
        // `file:` references are relative to the config file, so the file goes beside it and
        // the snippet names it relative to it; the secret itself is never printed.
        const ref = `secrets/xks-secret-${accessKeyId}`;
        const path = join(dirname(resolve(opts.config)), ref);
        await writeSecretFile(path, secretAccessKey, { overwrite: false });
        process.stdout.write(
          [
            `# wrote the secret to ${path} (mode 0600, readable only by this user: run the proxy as this user or chown it)`,
            "# add this entry to the key store's credentials list (keep the old one until KMS uses the new one):",
            `- accessKeyId: ${accessKeyId}`,
            `  secretAccessKey: file:${ref}`,
            `  createdAt: ${new Date().toISOString().slice(0, 10)}`,
            '',
          ].join('\n'),
        );
      }),
    );
  cmd.addCommand(credentialsListCommand());
  return cmd;
}
