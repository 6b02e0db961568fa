import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { EdgetuneError } from '../util/errors.js';
import type { JobMessage, ManifestMessage } from './messages.js';

/**
 * Canonical JSON: object keys sorted by UTF-16 code unit, no whitespace, arrays in order.
 * Throws TypeError for values JSON cannot represent exactly (undefined, functions, NaN, Infinity, bigint).
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${value} has no JSON form`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
      const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
    }
    default:
      throw new TypeError(`canonicalJson: a ${typeof value} has no JSON form`);
  }
}

/** The bytes an operator signs for a job: a domain tag, the artifact sha256 and the job's canonical JSON without `signature`. */
export function jobSigningBytes(job: JobMessage): Buffer {
  const { signature: _signature, ...unsigned } = job;
  return Buffer.from(`edgetune-job-v1\n${job.artifact?.sha256 ?? '-'}\n${canonicalJson(unsigned)}`, 'utf8');
}

/** The bytes an operator signs for a manifest (same scheme, its own domain tag). */
export function manifestSigningBytes(manifest: ManifestMessage): Buffer {
  const { signature: _signature, ...unsigned } = manifest;
  return Buffer.from(`edgetune-manifest-v1\n${manifest.sha256}\n${canonicalJson(unsigned)}`, 'utf8');
}

/** Short fingerprint of a public key: first 16 hex digits of sha256 over its SPKI DER. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** A freshly generated ed25519 key pair as PEM strings (PKCS#8 private, SPKI public). */
export function generateSigningKeyPair(): { privateKeyPem: string; publicKeyPem: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

/** Parse an ed25519 private key PEM; SIGNATURE_INVALID if it is anything else. */
export function parsePrivateKey(pem: string | Buffer, source: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw new EdgetuneError('SIGNATURE_INVALID', `${source} is not a PEM private key: ${(error as Error).message}`, { cause: error });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new EdgetuneError('SIGNATURE_INVALID', `${source} is a ${key.asymmetricKeyType} key, expected ed25519`);
  return key;
}

/** Parse an ed25519 public key PEM; SIGNATURE_INVALID if it is anything else. */
export function parsePublicKey(pem: string | Buffer, source: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (error) {
    throw new EdgetuneError('SIGNATURE_INVALID', `${source} is not a PEM public key: ${(error as Error).message}`, { cause: error });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new EdgetuneError('SIGNATURE_INVALID', `${source} is a ${key.asymmetricKeyType} key, expected ed25519`);
  return key;
}

/** Sign a job: returns a copy with `keyId` and a base64 `signature`. */
export function signJob(job: JobMessage, privateKey: KeyObject): JobMessage {
  const keyId = keyIdOf(createPublicKey(privateKey));
  const withKey: JobMessage = { ...job, keyId, signature: null };
  return { ...withKey, signature: sign(null, jobSigningBytes(withKey), privateKey).toString('base64') };
}

/** Sign a manifest: returns a copy with `keyId` and a base64 `signature`. */
export function signManifest(manifest: ManifestMessage, privateKey: KeyObject): ManifestMessage {
  const keyId = keyIdOf(createPublicKey(privateKey));
  const withKey: ManifestMessage = { ...manifest, keyId, signature: null };
  return { ...withKey, signature: sign(null, manifestSigningBytes(withKey), privateKey).toString('base64') };
}

function verifyBytes(bytes: Buffer, signature: string | null, keyId: string | undefined, trusted: readonly KeyObject[], what: string): void {
  if (signature === null || signature.length === 0) throw new EdgetuneError('SIGNATURE_INVALID', `${what} is unsigned and this agent accepts only signed ${what}s`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) throw new EdgetuneError('SIGNATURE_INVALID', `${what} signature is not base64`);
  if (trusted.length === 0) throw new EdgetuneError('SIGNATURE_INVALID', `${what} is signed but no trusted keys are configured`);
  const sig = Buffer.from(signature, 'base64');
  const candidates = keyId === undefined ? trusted : trusted.filter((k) => keyIdOf(k) === keyId);
  if (candidates.length === 0) throw new EdgetuneError('SIGNATURE_INVALID', `${what} is signed by key ${keyId}, which is not among the ${trusted.length} trusted key(s)`);
  for (const key of candidates) {
    if (verify(null, bytes, key, sig)) return;
  }
  throw new EdgetuneError('SIGNATURE_INVALID', `${what} signature does not verify against the trusted key${keyId ? ` ${keyId}` : 's'}`);
}

/** Verify a job's ed25519 signature against the trusted keys; throws SIGNATURE_INVALID naming why. */
export function verifyJobSignature(job: JobMessage, trusted: readonly KeyObject[]): void {
  verifyBytes(jobSigningBytes(job), job.signature, job.keyId, trusted, 'job');
}

/** Verify a manifest's ed25519 signature against the trusted keys; throws SIGNATURE_INVALID naming why. */
export function verifyManifestSignature(manifest: ManifestMessage, trusted: readonly KeyObject[]): void {
  verifyBytes(manifestSigningBytes(manifest), manifest.signature, manifest.keyId, trusted, 'manifest');
}
