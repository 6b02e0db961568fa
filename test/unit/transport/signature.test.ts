import { describe, expect, it } from 'vitest';
import type { JobMessage, ManifestMessage } from '../../../src/transport/messages.js';
import {
  canonicalJson, generateSigningKeyPair, jobSigningBytes, keyIdOf, parsePrivateKey, parsePublicKey, signJob, signManifest,
  verifyJobSignature, verifyManifestSignature,
} from '../../../src/transport/signature.js';
import { EdgetuneError } from '../../../src/util/errors.js';

const job: JobMessage = {
  jobId: 'job-1',
  action: 'deploy',
  target: { group: 'cameras' },
  artifact: { sha256: 'c'.repeat(64), bytes: 42, name: 'm.onnx' },
  options: { method: 'int8', nested: { b: 2, a: 1 } },
  issuedAt: '2026-01-01T00:00:00.000Z',
  expiresAt: '2026-01-08T00:00:00.000Z',
  signature: null,
};

function keys() {
  const pair = generateSigningKeyPair();
  return { priv: parsePrivateKey(pair.privateKeyPem, 'k'), pub: parsePublicKey(pair.publicKeyPem, 'p'), keyId: pair.keyId };
}

function failure(fn: () => void): string {
  try {
    fn();
  } catch (error) {
    expect((error as EdgetuneError).code).toBe('SIGNATURE_INVALID');
    return (error as Error).message;
  }
  throw new Error('expected SIGNATURE_INVALID');
}

describe('canonicalJson', () => {
  it('sorts keys at every level and is independent of insertion order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson({ x: 1, y: 'é' })).toBe(canonicalJson({ y: 'é', x: 1 }));
  });

  it('drops undefined members and refuses values JSON cannot carry', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson(10n)).toThrow(TypeError);
  });
});

describe('job and manifest signatures', () => {
  it('verifies a signed job and excludes the signature from the signed bytes', () => {
    const k = keys();
    const signed = signJob(job, k.priv);
    expect(signed.keyId).toBe(k.keyId);
    expect(keyIdOf(k.pub)).toBe(k.keyId);
    expect(jobSigningBytes(signed).toString()).not.toContain(signed.signature as string);
    expect(() => verifyJobSignature(signed, [k.pub])).not.toThrow();
    const { signature, options, ...rest } = signed;
    const reordered = JSON.parse(JSON.stringify({ signature, options, ...rest })) as JobMessage;
    expect(() => verifyJobSignature(reordered, [k.pub])).not.toThrow();
  });

  it('fails for any change to the job, the artifact digest or the target', () => {
    const k = keys();
    const signed = signJob(job, k.priv);
    const tampered: JobMessage[] = [
      { ...signed, options: { ...signed.options, method: 'fp16' } },
      { ...signed, artifact: { ...(signed.artifact as NonNullable<JobMessage['artifact']>), sha256: 'd'.repeat(64) } },
      { ...signed, target: { group: 'other' } },
      { ...signed, jobId: 'job-2' },
      { ...signed, expiresAt: '2030-01-01T00:00:00.000Z' },
    ];
    for (const t of tampered) expect(failure(() => verifyJobSignature(t, [k.pub]))).toContain('does not verify');
  });

  it('names the reason: unsigned, untrusted key, no keys, not base64', () => {
    const k = keys();
    const other = keys();
    expect(failure(() => verifyJobSignature(job, [k.pub]))).toContain('unsigned');
    expect(failure(() => verifyJobSignature(signJob(job, other.priv), [k.pub]))).toContain('not among the 1 trusted');
    expect(failure(() => verifyJobSignature(signJob(job, k.priv), []))).toContain('no trusted keys');
    expect(failure(() => verifyJobSignature({ ...signJob(job, k.priv), signature: '***' }, [k.pub]))).toContain('not base64');
    const forged = { ...signJob(job, other.priv), keyId: k.keyId };
    expect(failure(() => verifyJobSignature(forged, [k.pub]))).toContain('does not verify');
  });

  it('signs manifests under their own domain tag', () => {
    const k = keys();
    const m: ManifestMessage = { sha256: 'c'.repeat(64), bytes: 42, chunkSize: 16, chunks: 3, name: 'm', kind: 'model', signature: null };
    const s = signManifest(m, k.priv);
    expect(() => verifyManifestSignature(s, [k.pub])).not.toThrow();
    expect(() => verifyManifestSignature({ ...s, chunkSize: 8, chunks: 6 }, [k.pub])).toThrow(EdgetuneError);
    // a job signature never verifies as a manifest signature
    expect(() => verifyManifestSignature({ ...m, keyId: k.keyId, signature: signJob(job, k.priv).signature }, [k.pub])).toThrow(EdgetuneError);
  });

  it('refuses keys that are not ed25519 PEM', () => {
    expect(() => parsePublicKey('nope', 'x.pub')).toThrow(/x\.pub is not a PEM public key/);
    expect(() => parsePrivateKey('nope', 'x.key')).toThrow(/x\.key is not a PEM private key/);
  });
});
