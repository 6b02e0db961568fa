/**
 * Dev tool: replace the float islands of an int8 model edgetune wrote by table lookups (src/compress/lookup-islands.ts),
 * write the result, and check every output of the lookup model against the int8 model on the evaluation photos:
 * bit-identical, or where and by how much not.
 *
 *   npx tsx scripts/lookup-islands-check.ts ppocr-det INT8.onnx OUT.onnx [--eval 16]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { decodeModel, encodeModel } from '../src/onnx/model-codec.js';
import { openDataset, feedsForBatch } from '../src/compress/dataset.js';
import { findLookupIslands, lookupIslands, chainLabel } from '../src/compress/lookup-islands.js';
import { createInferenceRunner } from '../src/profile/ort-inference.js';
import { THIRD_PARTY_MODELS, photoDataset } from './lib/photo-datasets.js';

const args = process.argv.slice(2);
const flag = (n: string, d: string): string => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1]! : d);
const spec = THIRD_PARTY_MODELS[args[0]!]!;
const int8Bytes = readFileSync(args[1]!);
const model = decodeModel(int8Bytes);
const islands = findLookupIslands(model);
console.log(`per channel: ${islands.filter((i) => i.channels > 1).length}`);
const chains = new Map<string, number>();
for (const island of islands) chains.set(chainLabel(island), (chains.get(chainLabel(island)) ?? 0) + 1);
console.log(`${islands.length} island(s):`, Object.fromEntries(chains));
const result = await lookupIslands(model);
const lutBytes = encodeModel(result.model);
writeFileSync(args[2]!, lutBytes);
console.log(`wrote ${args[2]} (${lutBytes.length} bytes; int8 ${int8Bytes.length})`);

const evalSet = openDataset(photoDataset(spec, 'evaluation', Number(flag('eval', '16'))), model);
const a = await createInferenceRunner(int8Bytes, { intraOpNumThreads: 2 });
const b = await createInferenceRunner(lutBytes, { intraOpNumThreads: 2 });
let values = 0;
let differing = 0;
let maxAbs = 0;
for (let s = 0; s < evalSet.setNames.length; s++) {
  for (const piece of feedsForBatch(model, evalSet.load(s))) {
    const x = await a.run(piece.feeds);
    const y = await b.run(piece.feeds);
    for (const [name, t] of x) {
      const u = t.values as Float32Array;
      const v = y.get(name)!.values as Float32Array;
      let here = 0;
      for (let i = 0; i < u.length; i++) {
        values++;
        if (u[i] !== v[i]) {
          here++;
          maxAbs = Math.max(maxAbs, Math.abs(u[i]! - v[i]!));
        }
      }
      differing += here;
      if (here > 0) console.log(`  sample ${s} output ${name}: ${here} of ${u.length} values differ`);
    }
  }
}
console.log(`${evalSet.setNames.length} samples: ${differing} of ${values} output values differ (max |diff| ${maxAbs})`);
await a.release();
await b.release();
