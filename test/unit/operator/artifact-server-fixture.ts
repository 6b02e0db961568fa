/** What the two ArtifactServer unit files share: a small artifact on disk, requests for it, and short topic labels. */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServedArtifact } from '../../../src/operator/artifact-server.js';
import type { RequestMessage } from '../../../src/transport/messages.js';
import { Topics } from '../../../src/transport/topics.js';

export const topics = new Topics('edgetune/v1');
export const CHUNK = 1024;
export const CHUNKS = 6;

/** A random artifact of CHUNKS chunks (the last one short) written to `dir/model.bin`. */
export function writeServedArtifact(dir: string): ServedArtifact {
  const bytes = randomBytes(CHUNK * (CHUNKS - 1) + 100);
  const path = join(dir, 'model.bin');
  writeFileSync(path, bytes);
  return { sha256: createHash('sha256').update(bytes).digest('hex'), path, bytes: bytes.length, chunkSize: CHUNK, chunks: CHUNKS };
}

/** A device's request for `missing` chunks of `sha256`. */
export function chunkRequest(sha256: string, missing: number[], extra: Partial<RequestMessage> = {}): RequestMessage {
  return { sha256, missing, complete: false, received: 0, chunks: CHUNKS, ...extra };
}

/** A chunk topic as `~{n}` (broadcast) or `{device}/{n}` (re-sent to one device); other topics as they are. */
export function chunkLabel(topic: string): string {
  const p = topics.parse(topic);
  if (p?.kind === 'chunk') return `~${p.index}`;
  if (p?.kind === 'device-chunk') return `${p.deviceId}/${p.index}`;
  return topic;
}
