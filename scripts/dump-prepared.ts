/** Dev tool: print the graph the int8 pipeline quantizes (after hard-swish fusion and BN/affine folding), one node a line. */
import { loadModelFile } from '../src/onnx/model-file.js';
import { normalizeModel } from '../src/onnx/normalize.js';
import { fuseHardSwish } from '../src/compress/fuse-activations.js';
import { foldBatchNorm } from '../src/compress/fold-batchnorm.js';
import { foldConvAffine } from '../src/compress/fold-affine.js';
import { attrInt } from '../src/onnx/graph.js';
const model = loadModelFile(process.argv[2]!).model;
normalizeModel(model, { minOpset: 13 });
fuseHardSwish(model); foldBatchNorm(model.graph); foldConvAffine(model.graph);
for (const n of model.graph.nodes) {
  const w = n.opType === 'Conv' ? model.graph.initializers.get(n.inputs[1]!) : undefined;
  console.log(`${n.opType}${w ? `[${w.dims.join('x')} g${attrInt(n, 'group', 1)}]` : ''} ${n.inputs.filter((i) => !model.graph.initializers.has(i)).join(',')} -> ${n.outputs.join(',')}`);
}
