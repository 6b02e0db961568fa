import type { Argv } from 'yargs';
import type { CommandModule } from '../main.js';
import { printResult, stageProgress } from '../progress.js';
import { loadModelFile, saveModelFile } from '../../onnx/model-file.js';
import { validateGraph } from '../../onnx/graph.js';
import { openDataset } from '../../compress/dataset.js';
import { distillHead } from '../../compress/distill.js';
import { EdgetuneError } from '../../util/errors.js';
import { requireOutputDirectory } from '../../util/atomic-file.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { detectionOptions, detectionTaskFromArgs } from './detection-options.js';
import type { DetectionTaskFiles } from '../../detect/load-detection-task.js';

/** `edgetune distill --teacher T --student S --data DIR -o OUT`: teacher–student metrics and head distillation. */
export const commandModule: CommandModule = {
  command: 'distill',
  describe: 'teacher–student KL/agreement/accuracy and least-squares head distillation of the student',
  builder: (y: Argv) =>
    detectionOptions(y)
      .option('teacher', { type: 'string', demandOption: true, describe: 'teacher model (usually the original)' })
      .option('student', { type: 'string', demandOption: true, describe: 'student model (pruned, low-rank, smaller)' })
      .option('data', { type: 'string', demandOption: true, describe: 'dataset directory (ONNX test-data layout; with --task detection also a folder of JPEG/PNG images)' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'distilled student (.onnx)' })
      .option('temperature', { type: 'number', default: 4, describe: 'softmax temperature for KL and the soft targets' })
      .option('max-samples', { type: 'number', default: 4096, describe: 'samples of the dataset to use' })
      .option('json', { type: 'boolean', default: false, describe: 'print exactly one JSON object on stdout (progress and logs go to stderr)' }),
  handler: async (args) => {
    const temperature = args.temperature as number;
    if (!(temperature > 0) || !Number.isFinite(temperature)) throw new EdgetuneError('USAGE', `--temperature must be a positive number; got ${args.temperature}`);
    requireOutputDirectory(String(args.output), '-o');
    const started = Date.now();
    const teacherFile = loadModelFile(String(args.teacher));
    const studentFile = loadModelFile(String(args.student));
    validateGraph(teacherFile.model);
    validateGraph(studentFile.model);
    const detection = detectionTaskFromArgs(args);
    if (detection) {
      await distillDetector(args, detection, teacherFile, studentFile, started);
      return;
    }
    const dataset = openDataset(String(args.data), studentFile.model);
    dataset.load(0);
    const progress = stageProgress();
    try {
      const result = await distillHead(teacherFile.model, studentFile.model, dataset, {
        temperature,
        maxSamples: args['max-samples'] as number,
        onProgress: (stage, done, total) => progress.update(stage, done, total),
      });
      const saved = saveModelFile(String(args.output), result.student, { inputPath: String(args.student) });
      progress.stop();
      const out = {
        teacher: { path: teacherFile.path, sha256: teacherFile.sha256 },
        student: { path: studentFile.path, sha256: studentFile.sha256 },
        output: { path: saved.path, bytes: saved.bytes, sha256: saved.sha256 },
        temperature,
        samples: result.before.samples,
        before: result.before,
        after: result.after,
        head: result.head,
        seconds: (Date.now() - started) / 1000,
      };
      const pct = (v: number | null): string => (v === null ? 'n/a' : `${(v * 100).toFixed(2)}%`);
      printResult(args.json === true, out, () =>
        [
          `samples ${out.samples}, temperature ${temperature}`,
          `teacher top-1 ${pct(result.before.teacherTop1)}`,
          `student before: top-1 ${pct(result.before.studentTop1)}  agreement ${pct(result.before.agreement)}  KL ${result.before.kl.toFixed(5)}`,
          `student after:  top-1 ${pct(result.after.studentTop1)}  agreement ${pct(result.after.agreement)}  KL ${result.after.kl.toFixed(5)}`,
          result.head.applied ? `head ${result.head.opType} '${result.head.node}' refit on ${result.head.rows} samples` : `head not changed: ${result.head.reason}`,
          `wrote ${saved.path} (${saved.bytes} bytes)`,
        ].join('\n'),
      );
    } finally {
      progress.stop();
    }
  },
};

/** `distill --task detection`: refit the student's final convolution of every output to the teacher's (least squares). */
async function distillDetector(
  args: Record<string, unknown>,
  detection: DetectionTaskFiles,
  teacherFile: ReturnType<typeof loadModelFile>,
  studentFile: ReturnType<typeof loadModelFile>,
  started: number,
): Promise<void> {
  const { distillDetectorHeads } = await import('../../compress/distill-detector.js');
  const { loadDetectionTask } = await import('../../detect/load-detection-task.js');
  const { prepareDetectionData } = await import('../../detect/image-dataset.js');
  const { declaredOutputs } = await import('../../compress/evaluate.js');
  const task = loadDetectionTask(detection);
  task.decoder.checkOutputs(declaredOutputs(teacherFile.model));
  const workDir = join(mkdtempSync(join(tmpdir(), 'edgetune-distill-')), 'sets');
  const data = prepareDetectionData({ dataDir: String(args.data), model: teacherFile.model, preset: task.preset, workDir });
  const progress = stageProgress();
  try {
    const dataset = openDataset(data.dataDir, teacherFile.model);
    const { detectedObjectCount, MIN_FIT_OBJECTS } = await import('../../compress/detection-objects.js');
    const found = await detectedObjectCount(teacherFile.model, dataset, task);
    if (found.objects < MIN_FIT_OBJECTS) {
      throw new EdgetuneError(
        'USAGE',
        `distill --task detection: the teacher detects ${found.objects} object(s) at score ≥ ${task.refConf} in the ${found.images} image(s) of ${String(args.data)}, fewer than ${MIN_FIT_OBJECTS}: refit there, the heads would learn background; give photos that show the objects (not the ones you evaluate on)`,
      );
    }
    const result = await distillDetectorHeads(teacherFile.model, studentFile.model, dataset, {
      sigmoidOutputs: task.decoder.sigmoidOutputs?.(declaredOutputs(teacherFile.model)) ?? [],
      maxSamples: args['max-samples'] as number,
      onProgress: (stage, done, total) => progress.update(stage, done, total),
    });
    const saved = saveModelFile(String(args.output), result.student, { inputPath: String(args.student) });
    progress.stop();
    const out = {
      teacher: { path: teacherFile.path, sha256: teacherFile.sha256 },
      student: { path: studentFile.path, sha256: studentFile.sha256 },
      output: { path: saved.path, bytes: saved.bytes, sha256: saved.sha256 },
      task: 'detection',
      samples: result.samples,
      heldOutSamples: result.heldOutSamples,
      applied: result.applied,
      teacherObjects: found.objects,
      heads: result.heads,
      seconds: (Date.now() - started) / 1000,
    };
    printResult(args.json === true, out, () =>
      [
        `samples ${result.samples} (${result.heldOutSamples} held out to decide each refit); the teacher detects ${found.objects} object(s) at score ≥ ${task.refConf} in them`,
        ...result.heads.map((h) =>
          h.applied
            ? `head ${h.output}: Conv '${h.node}' refit (${h.metric === 'sigmoid' ? 'after the sigmoid' : 'values'}): ${result.heldOutSamples > 0 ? 'held-out' : 'fit-data (too few samples to hold any out)'} MSE ${h.mseBefore.toPrecision(3)} → ${h.mseAfter.toPrecision(3)}`
            : `head ${h.output}: kept (${h.reason ?? 'no gain'})`,
        ),
        `wrote ${saved.path} (${saved.bytes} bytes)${result.applied === 0 ? ' — the student unchanged' : ''}`,
      ].join('\n'),
    );
  } finally {
    progress.stop();
    data.cleanup();
    rmSync(dirname(workDir), { recursive: true, force: true });
  }
}
