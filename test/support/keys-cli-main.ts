// Test-only entry that runs `keys` exactly as `xks-proxy keys` does, without the rest of the CLI.
import { Command } from 'commander';
import { keysCommand } from '../../src/cli/keys-command.ts';

await new Command('xks-proxy').addCommand(keysCommand()).parseAsync(process.argv);
