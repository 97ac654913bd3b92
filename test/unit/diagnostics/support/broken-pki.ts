/**
 * Certificates for the doctor's TLS tests, made with the real openssl in a temp dir: a
 * private root -> intermediate -> leaf chain (served with and without its intermediate),
 * an expired self-signed certificate, a certificate whose only name is its CN, and a
 * certificate that expires in ten days.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Paths of the generated PEM files. */
export interface BrokenPki {
  dir: string;
  rootCert: string;
  intermediateCert: string;
  /** Leaf for xks.doctor.test, *.wild.doctor.test, localhost and 127.0.0.1, issued by the intermediate. */
  leafKey: string;
  /** The leaf alone: the chain misses its intermediate. */
  leafOnly: string;
  /** Leaf followed by the intermediate: a complete chain to the private root. */
  fullChain: string;
  /** Self-signed, valid from 2020-01-01 to 2020-02-01. */
  expiredKey: string;
  expiredCert: string;
  /** Issued by the intermediate with no subjectAltName; CN=cn-only.doctor.test (chain included). */
  cnOnlyKey: string;
  cnOnlyChain: string;
  /** Issued by the intermediate, valid for 10 days (chain included). */
  soonKey: string;
  soonChain: string;
  cleanup(): void;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

function issue(dir: string, name: string, cn: string, ext: string, days: number): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(['req', ...EC, '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`], dir);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'intermediate.crt',
      '-CAkey',
      'intermediate.key',
      '-CAcreateserial',
      '-days',
      String(days),
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    ],
    dir,
  );
}

/** Creates the certificates; call cleanup() when done. */
export function createBrokenPki(): BrokenPki {
  const dir = mkdtempSync(join(tmpdir(), 'xks-doctor-pki-'));
  const caExt = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n';
  openssl(
    [
      'req',
      '-x509',
      ...EC,
      '-days',
      '120',
      '-subj',
      '/CN=Doctor Test Root/O=xks-proxy tests',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout',
      'root.key',
      '-out',
      'root.crt',
    ],
    dir,
  );
  writeFileSync(join(dir, 'intermediate.ext'), caExt);
  openssl(['req', ...EC, '-subj', '/CN=Doctor Test Intermediate/O=xks-proxy tests', '-keyout', 'intermediate.key', '-out', 'intermediate.csr'], dir);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'intermediate.csr',
      '-CA',
      'root.crt',
      '-CAkey',
      'root.key',
      '-CAcreateserial',
      '-days',
      '120',
      '-extfile',
      'intermediate.ext',
      '-out',
      'intermediate.crt',
    ],
    dir,
  );

  const serverExt = (san: string) => `basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n${san}`;
  issue(dir, 'leaf', 'xks.doctor.test', serverExt('subjectAltName=DNS:xks.doctor.test,DNS:*.wild.doctor.test,DNS:localhost,IP:127.0.0.1\n'), 90);
  issue(dir, 'cnonly', 'cn-only.doctor.test', serverExt(''), 90);
  issue(dir, 'soon', 'xks.doctor.test', serverExt('subjectAltName=DNS:xks.doctor.test\n'), 10);
  const intermediate = readFileSync(join(dir, 'intermediate.crt'), 'utf8');
  const withChain = (name: string) => {
    writeFileSync(join(dir, `${name}-chain.crt`), readFileSync(join(dir, `${name}.crt`), 'utf8') + intermediate);
    return join(dir, `${name}-chain.crt`);
  };

  // `openssl ca` is the only openssl 3.0 command that sets arbitrary validity dates.
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '01\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    '[ca]\ndefault_ca = doctor\n[doctor]\ndatabase = index.txt\nserial = serial\nnew_certs_dir = .\ndefault_md = sha256\npolicy = any\ncopy_extensions = copy\nunique_subject = no\n[any]\ncommonName = supplied\n',
  );
  openssl(
    [
      'req',
      '-new',
      ...EC,
      '-subj',
      '/CN=expired.doctor.test',
      '-addext',
      'subjectAltName=DNS:expired.doctor.test,DNS:localhost',
      '-keyout',
      'expired.key',
      '-out',
      'expired.csr',
    ],
    dir,
  );
  openssl(
    [
      'ca',
      '-batch',
      '-config',
      'ca.cnf',
      '-selfsign',
      '-keyfile',
      'expired.key',
      '-in',
      'expired.csr',
      '-startdate',
      '20200101000000Z',
      '-enddate',
      '20200201000000Z',
      '-notext',
      '-out',
      'expired.crt',
    ],
    dir,
  );

  const p = (f: string) => join(dir, f);
  return {
    dir,
    rootCert: p('root.crt'),
    intermediateCert: p('intermediate.crt'),
    leafKey: p('leaf.key'),
    leafOnly: p('leaf.crt'),
    fullChain: withChain('leaf'),
    expiredKey: p('expired.key'),
    expiredCert: p('expired.crt'),
    cnOnlyKey: p('cnonly.key'),
    cnOnlyChain: withChain('cnonly'),
    soonKey: p('soon.key'),
    soonChain: withChain('soon'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
