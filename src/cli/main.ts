// Must stay the first import: see thread-pool.ts.
import './thread-pool.ts';
import { Command } from 'commander';
import { PROXY_VERSION } from '../server/version.ts';
import { auditCommand } from './audit-command.ts';
import { configCommand } from './config-command.ts';
import { credentialsCommand } from './credentials-command.ts';
import { demoCommand } from './demo-command.ts';
import { demoFleetCommand } from './demo-fleet-command.ts';
import { doctorCommand } from './doctor-command.ts';
import { hsmCommand } from './hsm-command.ts';
import { keysCommand } from './keys-command.ts';
import { kmipCommand } from './kmip-command.ts';
import { kmsConfigCommand } from './kms-config-command.ts';
import { policyCommand } from './policy-command.ts';
import { serveCommand } from './serve-command.ts';
import { statusCommand } from './status-command.ts';

/** The `xks-proxy` command line. */
export function buildProgram(): Command {
  return new Command('xks-proxy')
    .description('AWS KMS External Key Store (XKS) proxy')
    .version(PROXY_VERSION)
    .addCommand(serveCommand())
    .addCommand(demoCommand())
    .addCommand(demoFleetCommand())
    .addCommand(keysCommand())
    .addCommand(hsmCommand())
    .addCommand(kmipCommand())
    .addCommand(credentialsCommand())
    .addCommand(kmsConfigCommand())
    .addCommand(configCommand())
    .addCommand(doctorCommand())
    .addCommand(statusCommand())
    .addCommand(policyCommand())
    .addCommand(auditCommand());
}

await buildProgram().parseAsync(process.argv);
