/**
 * Lambda entry points (bundled by esbuild at synth time, lib/handler-code.ts). They wire the
 * handlers to the real AWS SDK clients; everything else is in the handler modules.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { onKeyEvent } from './key-handler';
import { isComplete, onEvent } from './key-store-handler';
import { parseCredentialSecret, type HandlerDeps } from './ports';

const secrets = new SecretsManagerClient({});

const deps: HandlerDeps = {
  kms: new KMSClient({}),
  async readCredential(secretArn) {
    const out = await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }));
    return parseCredentialSecret(out.SecretString, secretArn);
  },
  now: () => Date.now(),
  log: (message) => console.log(message),
};

export const keyStoreOnEvent = (event: CloudFormationCustomResourceEvent) => onEvent(event, deps);
export const keyStoreIsComplete = (event: CloudFormationCustomResourceEvent) => isComplete(event, deps);
export const keyOnEvent = (event: CloudFormationCustomResourceEvent) => onKeyEvent(event, deps);
