/**
 * Source selection (`--energy auto|off|SOURCE`) and the periodic sampler. The sampler runs in the process that
 * orchestrates the profile, not in the child that runs inference, so synchronous session.run never stalls it.
 */
import { EdgetuneError } from '../../util/errors.js';
import { probeCpuEstimate, type PowerModel } from './cpu-estimate.js';
import { ENERGY_SOURCE_IDS, type EnergyProbe, type EnergyReading, type EnergySource, type EnergySourceId, type SourceContext } from './energy-source.js';
import { probeHwmonPower } from './hwmon-power.js';
import { probeIna3221 } from './ina3221.js';
import { probeNvidiaSmi } from './nvidia-smi.js';
import { probePi5Pmic } from './pi5-pmic.js';
import { probeRapl } from './rapl.js';

/** `--energy` value. */
export type EnergyMode = 'auto' | 'off' | EnergySourceId;

/** Why a source was not used. */
export interface UnavailableSource {
  id: EnergySourceId;
  reason: string;
}

/** The selected source (null when off or nothing usable) and why the better ones were passed over. */
export interface EnergySelection {
  source: EnergySource | null;
  unavailable: UnavailableSource[];
}

/** Parse an `--energy` value; throws USAGE naming the accepted values. */
export function parseEnergyMode(value: string): EnergyMode {
  if (value === 'auto' || value === 'off' || (ENERGY_SOURCE_IDS as readonly string[]).includes(value)) return value as EnergyMode;
  throw new EdgetuneError('USAGE', `--energy ${value}: expected auto, off or one of ${ENERGY_SOURCE_IDS.join(', ')}`);
}

/** Measured sources tried by `auto`, best first (notes §0). nvidia-smi covers the GPU only: asked for by name. */
const AUTO_ORDER: EnergySourceId[] = ['ina3221', 'rapl', 'pi5-pmic', 'hwmon'];

async function probe(id: EnergySourceId, ctx: SourceContext, powerModel: PowerModel | null): Promise<EnergyProbe> {
  switch (id) {
    case 'rapl':
      return probeRapl(ctx);
    case 'ina3221':
      return probeIna3221(ctx);
    case 'pi5-pmic':
      return probePi5Pmic(ctx);
    case 'hwmon':
      return probeHwmonPower(ctx);
    case 'nvidia-smi':
      return probeNvidiaSmi(ctx);
    case 'estimate':
      if (!powerModel) return { ok: false, id, reason: 'no power model: the device profile gives no idleWatts/maxWatts' };
      return probeCpuEstimate(ctx, powerModel);
  }
}

/**
 * Choose the energy source. `auto` takes the best measured source and falls back to the estimate (when a power
 * model is known); a named source that is not usable throws USAGE with the reason.
 */
export async function selectEnergySource(mode: EnergyMode, ctx: SourceContext, powerModel: PowerModel | null): Promise<EnergySelection> {
  if (mode === 'off') return { source: null, unavailable: [] };
  if (mode !== 'auto') {
    const p = await probe(mode, ctx, powerModel);
    if (!p.ok) throw new EdgetuneError('USAGE', `--energy ${mode}: not available here: ${p.reason}`);
    return { source: p.source, unavailable: [] };
  }
  const unavailable: UnavailableSource[] = [];
  for (const id of [...AUTO_ORDER, 'estimate' as const]) {
    const p = await probe(id, ctx, powerModel);
    if (p.ok) return { source: p.source, unavailable };
    unavailable.push({ id: p.id, reason: p.reason });
  }
  return { source: null, unavailable };
}

/** Periodic reads of one source, never overlapping, at the source's period (≥ 1 Hz keeps counter wraps safe). */
export class EnergySampler {
  readonly source: EnergySource;
  private readonly all: EnergyReading[] = [];
  private readonly errors: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private running = false;

  constructor(source: EnergySource) {
    this.source = source;
  }

  /** Start sampling now (first read immediately). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.tick();
  }

  /** Take one extra reading now (window edges), right after any read in flight. */
  async sampleNow(): Promise<EnergyReading | null> {
    await this.readOnce();
    return this.all[this.all.length - 1] ?? null;
  }

  /** Stop sampling; resolves once no read is in flight. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.chain;
  }

  /** All readings so far, in time order. */
  readings(): EnergyReading[] {
    return [...this.all].sort((a, b) => (a.tNs < b.tNs ? -1 : a.tNs > b.tNs ? 1 : 0));
  }

  /** Readings inside [startNs, endNs]. */
  readingsBetween(startNs: bigint, endNs: bigint): EnergyReading[] {
    return this.readings().filter((r) => r.tNs >= startNs && r.tNs <= endNs);
  }

  /** Read errors (a source that fails mid-run is reported, not hidden). */
  readErrors(): string[] {
    return [...this.errors];
  }

  /** Reads are chained so that two never overlap (stateful sources such as the estimate rely on it). */
  private readOnce(): Promise<void> {
    const p = this.chain.then(async () => {
      try {
        this.all.push(await this.source.read());
      } catch (error) {
        this.errors.push((error as Error).message);
      }
    });
    this.chain = p;
    return p;
  }

  private tick(): void {
    if (!this.running) return;
    const startedMs = performance.now();
    void this.readOnce().then(() => {
      if (!this.running) return;
      const wait = Math.max(0, this.source.samplePeriodMs - (performance.now() - startedMs));
      this.timer = setTimeout(() => this.tick(), wait);
    });
  }
}
