/**
 * The execution providers this onnxruntime-node build offers. A small ORT helper that other modules may import
 * (the hardware probe's wiring calls it; src/hardware itself never imports onnxruntime-node).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { listSupportedBackends } from 'onnxruntime-node';

/** One backend as onnxruntime-node reports it, plus whether an unbundled provider's library is installed. */
export interface OrtBackendInfo {
  /** 'cpu', 'cuda', 'tensorrt', 'webgpu', ... */
  name: string;
  /** Shipped inside the npm package. */
  bundled: boolean;
  /** For an unbundled provider: whether libonnxruntime_providers_<name>.so sits beside the binding (null: not checked). */
  libraryPresent: boolean | null;
}

/** List the backends onnxruntime-node supports here (listSupportedBackends) with provider-library presence. */
export function listOrtBackends(): OrtBackendInfo[] {
  const bindingDir = ortBindingDir();
  return listSupportedBackends().map((b) => {
    let libraryPresent: boolean | null = b.bundled ? true : null;
    if (!b.bundled && bindingDir !== null && process.platform === 'linux') {
      // The CUDA/TensorRT EP libraries are downloaded by onnxruntime-node's install script into the binding folder.
      libraryPresent = existsSync(join(bindingDir, `libonnxruntime_providers_${b.name}.so`));
    }
    return { name: b.name, bundled: b.bundled, libraryPresent };
  });
}

function ortBindingDir(): string | null {
  try {
    const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
    return join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return null;
  }
}
