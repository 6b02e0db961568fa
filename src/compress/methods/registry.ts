import type { CompressMethod, CompressMethodRunner } from './method-types.js';
import { EdgetuneError } from '../../util/errors.js';

/** Every compression method, loaded lazily. One line per method. */
const REGISTRY: Partial<Record<CompressMethod, () => Promise<CompressMethodRunner>>> = {
  int8: async () => (await import('./quantization-methods.js')).int8Method,
  'int8-dynamic': async () => (await import('./quantization-methods.js')).int8DynamicMethod,
  fp16: async () => (await import('./quantization-methods.js')).fp16Method,
  int4: async () => (await import('./quantization-methods.js')).int4Method,
  plan: async () => (await import('./plan-method.js')).planMethod,
  prune: async () => (await import('./prune-method.js')).pruneMethod,
  sparsity: async () => (await import('./sparsity-method.js')).sparsityMethod,
  lowrank: async () => (await import('./lowrank-method.js')).lowrankMethod,
};

/** The runner of a method; USAGE error for a method this build does not have. */
export async function loadCompressMethod(method: string): Promise<CompressMethodRunner> {
  const load = REGISTRY[method as CompressMethod];
  if (!load) {
    const known = Object.keys(REGISTRY).join(', ');
    throw new EdgetuneError('USAGE', `unknown compression method '${method}'; available: ${known}`);
  }
  return load();
}

/** Method ids this build provides. */
export function availableCompressMethods(): string[] {
  return Object.keys(REGISTRY);
}
