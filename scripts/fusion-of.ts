/** Dev tool: what onnxruntime fuses in a QDQ model. `npx tsx scripts/fusion-of.ts MODEL.onnx` */
import { readFileSync } from 'node:fs';
import { optimizedGraphBytes } from '../src/profile/optimized-graph.js';
import { decodeModel } from '../src/onnx/model-codec.js';
import { analyzeFusion, describeFusion } from '../src/compress/fusion-report.js';
const bytes = readFileSync(process.argv[2]!);
const q = decodeModel(bytes);
const o = decodeModel(await optimizedGraphBytes(bytes, { level: 'extended' }));
const r = analyzeFusion(q, o);
console.log(describeFusion(r));
const ops = new Map<string, number>(); for (const n of o.graph.nodes) ops.set(n.opType, (ops.get(n.opType) ?? 0) + 1); console.log(ops);
