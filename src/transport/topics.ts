import { DEVICE_ID_PATTERN } from '../config/agent-config-schema.js';

/** A lower-case hex sha256 digest. */
export const SHA256_PATTERN = /^[0-9a-f]{64}$/;

/** Largest chunk index accepted in a topic (2^31-1; the real bound is the manifest's chunk count). */
const MAX_CHUNK_INDEX = 0x7fffffff;

/** Per-device topics (SPEC.md "MQTT"; `heartbeat` is an addition: retained telemetry). */
export type DeviceTopicKind = 'status' | 'hello' | 'heartbeat' | 'jobs' | 'requests' | 'events' | 'reports';

/** A topic parsed back into what it addresses. */
export type ParsedTopic =
  | { kind: DeviceTopicKind; deviceId: string }
  | { kind: 'group-jobs'; group: string }
  | { kind: 'manifest'; sha256: string }
  | { kind: 'chunk'; sha256: string; index: number }
  | { kind: 'device-chunk'; deviceId: string; sha256: string; index: number };

const DEVICE_KINDS: ReadonlySet<string> = new Set<DeviceTopicKind>(['status', 'hello', 'heartbeat', 'jobs', 'requests', 'events', 'reports']);

function checkId(value: string, what: string): string {
  if (!DEVICE_ID_PATTERN.test(value)) throw new RangeError(`${what} '${value}' must match [A-Za-z0-9_-]{1,64}`);
  return value;
}

function checkSha(value: string): string {
  if (!SHA256_PATTERN.test(value)) throw new RangeError(`sha256 '${value}' must be 64 lower-case hex digits`);
  return value;
}

/** Builds and parses edgetune topics under one prefix; pure, no I/O. */
export class Topics {
  readonly prefix: string;

  constructor(prefix: string) {
    if (prefix.length === 0 || /[#+]/.test(prefix) || prefix.startsWith('/') || prefix.endsWith('/')) {
      throw new RangeError(`topic prefix '${prefix}' must be non-empty, without wildcards or leading/trailing '/'`);
    }
    this.prefix = prefix;
  }

  /** `{prefix}/devices/{id}/{kind}`. */
  device(deviceId: string, kind: DeviceTopicKind): string {
    return `${this.prefix}/devices/${checkId(deviceId, 'device id')}/${kind}`;
  }

  /** `{prefix}/groups/{group}/jobs`. */
  groupJobs(group: string): string {
    return `${this.prefix}/groups/${checkId(group, 'group')}/jobs`;
  }

  /** `{prefix}/artifacts/{sha256}/manifest` (retained). */
  manifest(sha256: string): string {
    return `${this.prefix}/artifacts/${checkSha(sha256)}/manifest`;
  }

  /** `{prefix}/artifacts/{sha256}/chunks/{n}`. */
  chunk(sha256: string, index: number): string {
    if (!Number.isInteger(index) || index < 0 || index > MAX_CHUNK_INDEX) throw new RangeError(`chunk index ${index} must be a non-negative integer`);
    return `${this.prefix}/artifacts/${checkSha(sha256)}/chunks/${index}`;
  }

  /** Subscription filter for every chunk of one artifact. */
  chunkFilter(sha256: string): string {
    return `${this.prefix}/artifacts/${checkSha(sha256)}/chunks/+`;
  }

  /**
   * `{prefix}/devices/{id}/chunks/{sha256}/{n}`: a chunk re-sent to one device only (a late joiner, a lost
   * delivery), so that one device's retry does not go to every device still receiving the artifact.
   */
  deviceChunk(deviceId: string, sha256: string, index: number): string {
    if (!Number.isInteger(index) || index < 0 || index > MAX_CHUNK_INDEX) throw new RangeError(`chunk index ${index} must be a non-negative integer`);
    return `${this.prefix}/devices/${checkId(deviceId, 'device id')}/chunks/${checkSha(sha256)}/${index}`;
  }

  /** Subscription filter for every chunk of one artifact re-sent to one device. */
  deviceChunkFilter(deviceId: string, sha256: string): string {
    return `${this.prefix}/devices/${checkId(deviceId, 'device id')}/chunks/${checkSha(sha256)}/+`;
  }

  /** Subscription filter for one kind of topic from every device, e.g. all `reports`. */
  allDevices(kind: DeviceTopicKind): string {
    return `${this.prefix}/devices/+/${kind}`;
  }

  /** Parse a topic under this prefix; null for anything that is not exactly an edgetune topic. */
  parse(topic: string): ParsedTopic | null {
    if (!topic.startsWith(`${this.prefix}/`)) return null;
    const parts = topic.slice(this.prefix.length + 1).split('/');
    if (parts[0] === 'devices' && parts.length === 3) {
      const [, id, kind] = parts as [string, string, string];
      if (!DEVICE_ID_PATTERN.test(id) || !DEVICE_KINDS.has(kind)) return null;
      return { kind: kind as DeviceTopicKind, deviceId: id };
    }
    if (parts[0] === 'devices' && parts.length === 5 && parts[2] === 'chunks') {
      const [, id, , sha256, n] = parts as [string, string, string, string, string];
      const index = parseChunkIndex(n);
      if (!DEVICE_ID_PATTERN.test(id) || !SHA256_PATTERN.test(sha256) || index === null) return null;
      return { kind: 'device-chunk', deviceId: id, sha256, index };
    }
    if (parts[0] === 'groups' && parts.length === 3 && parts[2] === 'jobs') {
      const group = parts[1] as string;
      return DEVICE_ID_PATTERN.test(group) ? { kind: 'group-jobs', group } : null;
    }
    if (parts[0] === 'artifacts' && parts.length >= 3) {
      const sha256 = parts[1] as string;
      if (!SHA256_PATTERN.test(sha256)) return null;
      if (parts.length === 3 && parts[2] === 'manifest') return { kind: 'manifest', sha256 };
      if (parts.length === 4 && parts[2] === 'chunks') {
        const index = parseChunkIndex(parts[3] as string);
        return index === null ? null : { kind: 'chunk', sha256, index };
      }
    }
    return null;
  }
}

/** A chunk index as written in a topic (canonical decimal, 0..2^31-1), or null. */
function parseChunkIndex(text: string): number | null {
  if (!/^(0|[1-9]\d{0,9})$/.test(text)) return null;
  const index = Number(text);
  return index <= MAX_CHUNK_INDEX ? index : null;
}
