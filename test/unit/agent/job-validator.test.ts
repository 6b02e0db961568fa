import type { KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JobValidator, salvageJobIdentity } from '../../../src/agent/job-intake.js';
import { silentLogger } from '../../../src/agent/logger.js';
import { AGENT_CONFIG_DEFAULTS } from '../../../src/config/agent-config-defaults.js';
import type { ResolvedAgentConfig } from '../../../src/config/load-agent-config.js';
import { AgentStore } from '../../../src/store/agent-store.js';
import type { JobMessage } from '../../../src/transport/messages.js';
import { generateSigningKeyPair, parsePrivateKey, parsePublicKey, signJob } from '../../../src/transport/signature.js';

let dir: string;
let store: AgentStore;
let priv: KeyObject;
let pub: KeyObject;

const config = (over: Partial<ResolvedAgentConfig> = {}): ResolvedAgentConfig => ({ ...AGENT_CONFIG_DEFAULTS, deviceId: 'dev', groups: ['cams'], configPath: null, ...over });
const job = (over: Partial<JobMessage> = {}): JobMessage => ({
  jobId: 'job-1',
  action: 'profile',
  target: { device: 'dev' },
  artifact: { sha256: 'f'.repeat(64), bytes: 100, name: 'm' },
  options: {},
  issuedAt: new Date().toISOString(),
  signature: null,
  ...over,
});
const bytes = (j: JobMessage): Buffer => Buffer.from(JSON.stringify(j));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgetune-intake-'));
  store = new AgentStore(join(dir, 'a.db'));
  const pair = generateSigningKeyPair();
  priv = parsePrivateKey(pair.privateKeyPem, 'k');
  pub = parsePublicKey(pair.publicKeyPem, 'p');
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('JobValidator', () => {
  it('accepts a signed job for this device and for one of its groups', () => {
    const v = new JobValidator(config(), [pub], store, silentLogger());
    expect(v.validate(bytes(signJob(job(), priv)), { kind: 'device', deviceId: 'dev' }).outcome).toBe('accepted');
    expect(v.validate(bytes(signJob(job({ target: { group: 'cams' } }), priv)), { kind: 'group', group: 'cams' }).outcome).toBe('accepted');
  });

  it('refuses, naming the reason and the code', () => {
    const v = new JobValidator(config({ limits: { ...AGENT_CONFIG_DEFAULTS.limits, maxArtifactBytes: 50 } }), [pub], store, silentLogger());
    const small = job({ artifact: { sha256: 'f'.repeat(64), bytes: 10, name: 'm' } });
    const cases: Array<[Buffer, { kind: 'device'; deviceId: string } | { kind: 'group'; group: string }, string, RegExp]> = [
      [bytes(small), { kind: 'device', deviceId: 'dev' }, 'SIGNATURE_INVALID', /unsigned/],
      [bytes({ ...signJob(small, priv), options: { iterations: 5 } }), { kind: 'device', deviceId: 'dev' }, 'SIGNATURE_INVALID', /does not verify/],
      [bytes(signJob(job({ target: { device: 'other' } }), priv)), { kind: 'device', deviceId: 'dev' }, 'JOB_INVALID', /not to device dev/],
      [bytes(signJob(job({ target: { group: 'cams' } }), priv)), { kind: 'group', group: 'lights' }, 'JOB_INVALID', /group lights/],
      [bytes(signJob({ ...small, expiresAt: '2020-01-01T00:00:00Z' }, priv)), { kind: 'device', deviceId: 'dev' }, 'JOB_INVALID', /expired/],
      [bytes(signJob(job(), priv)), { kind: 'device', deviceId: 'dev' }, 'LIMIT_EXCEEDED', /over limits\.maxArtifactBytes/],
      [bytes(signJob(job({ action: 'deploy', artifact: undefined }), priv)), { kind: 'device', deviceId: 'dev' }, 'JOB_INVALID', /deploy needs a model/],
      [Buffer.from('{"jobId":"job-9","action":'), { kind: 'device', deviceId: 'dev' }, 'JOB_INVALID', /not valid JSON/],
    ];
    for (const [payload, source, code, text] of cases) {
      const out = v.validate(payload, source);
      expect(out.outcome).toBe('refused');
      if (out.outcome !== 'refused') continue;
      expect(out.error.code).toBe(code);
      expect(out.error.message).toMatch(text);
    }
  });

  it('refuses a signed job issued before the replay window or too far in the future, at the window edges exactly', () => {
    const v = new JobValidator(config({ limits: { ...AGENT_CONFIG_DEFAULTS.limits, jobReplayWindowSeconds: 3600, maxClockSkewSeconds: 60 } }), [pub], store, silentLogger());
    const nowMs = Date.parse('2026-11-22T12:00:00Z');
    const issued = (offsetS: number): Buffer => bytes(signJob(job({ issuedAt: new Date(nowMs + offsetS * 1000).toISOString(), expiresAt: '2027-01-01T00:00:00Z' }), priv));
    const device = { kind: 'device', deviceId: 'dev' } as const;
    expect(v.validate(issued(-3600), device, nowMs).outcome).toBe('accepted');
    expect(v.validate(issued(60), device, nowMs).outcome).toBe('accepted');
    const old = v.validate(issued(-3601), device, nowMs);
    expect(old.outcome === 'refused' && [old.error.code, old.error.message]).toEqual(['JOB_INVALID', expect.stringMatching(/3601 s ago, outside the replay window of 3600 s \(limits\.jobReplayWindowSeconds\)/)]);
    const future = v.validate(issued(61), device, nowMs);
    expect(future.outcome === 'refused' && future.error.message).toMatch(/61 s in this device's future .*check the device clock/);
    // the window is on the signed field: moving issuedAt forward breaks the signature
    const replayed = { ...signJob(job({ issuedAt: new Date(nowMs - 7200_000).toISOString() }), priv), issuedAt: new Date(nowMs).toISOString() };
    const forged = v.validate(bytes(replayed), device, nowMs);
    expect(forged.outcome === 'refused' && forged.error.code).toBe('SIGNATURE_INVALID');
  });

  it('accepts unsigned jobs only when the config allows it', () => {
    const v = new JobValidator(config({ allowUnsigned: true }), [], store, silentLogger());
    expect(v.validate(bytes(job()), { kind: 'device', deviceId: 'dev' }).outcome).toBe('accepted');
  });

  it('refuses when the queue is full', () => {
    const v = new JobValidator(config({ limits: { ...AGENT_CONFIG_DEFAULTS.limits, maxQueuedJobs: 1 } }), [pub], store, silentLogger());
    store.insertJob({ jobId: 'other', action: 'ping', state: 'queued', payload: '{}', sourceTopic: 't' });
    const out = v.validate(bytes(signJob(job(), priv)), { kind: 'device', deviceId: 'dev' });
    expect(out.outcome === 'refused' && out.error.code).toBe('LIMIT_EXCEEDED');
  });

  it('salvages the job id of a malformed job so that a redelivery is recognised', () => {
    expect(salvageJobIdentity(Buffer.from('{"jobId":"job-7","action":"deploy","target":1}'), 1000)).toEqual({ jobId: 'job-7', action: 'deploy' });
    expect(salvageJobIdentity(Buffer.from('{"jobId":"../x"}'), 1000)).toEqual({ jobId: null, action: 'unknown' });
    expect(salvageJobIdentity(Buffer.from('garbage'), 1000)).toEqual({ jobId: null, action: 'unknown' });
    expect(salvageJobIdentity(Buffer.from('{"jobId":"job-8","action":"ping","target":'), 1000)).toEqual({ jobId: 'job-8', action: 'ping' });
  });
});
