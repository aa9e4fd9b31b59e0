// ONNX Runtime's own per-node profile of one model, for bench/module_compare.py.
//
//   node bench/ort_profile.mjs MODEL.onnx THREADS INPUT.f32 SIZE PREFIX [RUNS]
//
// Same session options as bench/ort_worker.mjs (CPU EP, graph optimisation 'all',
// intraOpNumThreads = THREADS, sequential) plus enableProfiling: RUNS runs (default 15) on
// the letterboxed input [1,3,SIZE,SIZE] (raw float32, as bench/run.sh writes it), then ORT
// writes its trace to PREFIX_<date>.json (one event per node per run, durations in us).
// Profiling adds a little time per node; compare shares or interleave several sessions.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const [modelPath, threadsArg, inputPath, sizeArg, prefix, runsArg] = process.argv.slice(2);
if (!modelPath || !threadsArg || !inputPath || !sizeArg || !prefix) {
  console.error('usage: node ort_profile.mjs MODEL.onnx THREADS INPUT.f32 SIZE PREFIX [RUNS]');
  process.exit(2);
}
const size = Number(sizeArg);
const runs = Number(runsArg || 15);
const raw = readFileSync(inputPath);
if (raw.byteLength !== 3 * size * size * 4) {
  console.error(`ort_profile: ${inputPath} has ${raw.byteLength} bytes, expected ${3 * size * size * 4}`);
  process.exit(2);
}
const data = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
const session = await ort.InferenceSession.create(modelPath, {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  intraOpNumThreads: Number(threadsArg),
  interOpNumThreads: 1,
  executionMode: 'sequential',
  enableProfiling: true,
  profileFilePrefix: prefix,
});
const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [1, 3, size, size]) };
for (let i = 0; i < runs; ++i) await session.run(feeds);
session.endProfiling();
