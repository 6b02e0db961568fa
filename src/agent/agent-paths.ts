import { join } from 'node:path';
import { SHA256_PATTERN } from '../transport/topics.js';

function checked(sha256: string): string {
  if (!SHA256_PATTERN.test(sha256)) throw new RangeError(`'${sha256}' is not a sha256 digest; files are named only by digest`);
  return sha256;
}

/**
 * Where the agent keeps files under dataDir. Every file name is a sha256 the agent computed or verified; names from
 * jobs, manifests or models are never used as paths.
 */
export class AgentPaths {
  readonly dataDir: string;

  constructor(dataDir: string) {
    this.dataDir = dataDir;
  }

  /** The SQLite store. */
  get database(): string {
    return join(this.dataDir, 'agent.db');
  }

  /** Partial downloads. */
  get stagingDir(): string {
    return join(this.dataDir, 'staging');
  }

  /** Verified model files (received and compressed variants). */
  get modelsDir(): string {
    return join(this.dataDir, 'models');
  }

  /** Verified dataset bundles and their extracted directories. */
  get datasetsDir(): string {
    return join(this.dataDir, 'datasets');
  }

  /** Scratch space for child processes (compress outputs before they are hashed and moved). */
  get workDir(): string {
    return join(this.dataDir, 'work');
  }

  /** The tune store (kept across runs so that a re-tune of the same model continues). */
  get tuneDir(): string {
    return join(this.dataDir, 'tune');
  }

  /** staging/<sha256>.partial */
  staging(sha256: string): string {
    return join(this.stagingDir, `${checked(sha256)}.partial`);
  }

  /** models/<sha256>.onnx */
  model(sha256: string): string {
    return join(this.modelsDir, `${checked(sha256)}.onnx`);
  }

  /** datasets/<sha256>.bundle */
  datasetBundle(sha256: string): string {
    return join(this.datasetsDir, `${checked(sha256)}.bundle`);
  }

  /** datasets/<sha256>/ (the ONNX test-data layout, extracted) */
  dataset(sha256: string): string {
    return join(this.datasetsDir, checked(sha256));
  }

  /** Final location of a verified artifact of the given kind. */
  artifact(sha256: string, kind: 'model' | 'dataset'): string {
    return kind === 'model' ? this.model(sha256) : this.datasetBundle(sha256);
  }
}
