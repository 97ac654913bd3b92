/**
 * Test PKI made with the real openssl in a temp dir: a CA, a server certificate for
 * localhost/127.0.0.1, and client certificates (right subject, wrong subject, other CA).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Paths of the generated PEM files. */
export interface TestPki {
  dir: string;
  caCert: string;
  serverKey: string;
  serverCert: string;
  /** CN=cks.kms.us-east-1.amazonaws.com, issued by the CA. */
  clientKey: string;
  clientCert: string;
  /** CN=someone.else.example, issued by the CA. */
  wrongSubjectKey: string;
  wrongSubjectCert: string;
  /** CN=cks.kms.us-east-1.amazonaws.com, issued by another CA. */
  otherCaKey: string;
  otherCaCert: string;
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

function makeCa(dir: string, name: string): void {
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
    ],
    dir,
  );
}

function issue(dir: string, ca: string, name: string, cn: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(
    ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`],
    dir,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    ],
    dir,
  );
}

/** Creates the PKI; call cleanup() when done. */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'xks-pki-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'otherca');
  issue(dir, 'ca', 'server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  const clientExt = 'extendedKeyUsage=clientAuth\n';
  issue(dir, 'ca', 'client', 'cks.kms.us-east-1.amazonaws.com', clientExt);
  issue(dir, 'ca', 'wrong', 'someone.else.example', clientExt);
  issue(dir, 'otherca', 'stranger', 'cks.kms.us-east-1.amazonaws.com', clientExt);
  const p = (f: string) => join(dir, f);
  return {
    dir,
    caCert: p('ca.crt'),
    serverKey: p('server.key'),
    serverCert: p('server.crt'),
    clientKey: p('client.key'),
    clientCert: p('client.crt'),
    wrongSubjectKey: p('wrong.key'),
    wrongSubjectCert: p('wrong.crt'),
    otherCaKey: p('stranger.key'),
    otherCaCert: p('stranger.crt'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
