// ONNX Runtime worker for bench/driver.py: loads one model once, then runs it once per
// command read from stdin, so the driver can interleave engines run by run.
//
//   node bench/ort_worker.mjs MODEL.onnx THREADS INPUT.f32 SIZE
//
// Protocol (one line each way): the worker prints `{"ready": ...}` after loading; for every
// `run` line it runs the network once on the same input and prints `{"network_ms": t}`;
// `quit` (or EOF) ends it. INPUT.f32 is the letterboxed image as raw float32 [1,3,S,S]
// (written by the driver), the same tensor the PyTorch worker feeds its model.
//
// Session options follow the issue: CPU EP, graph optimisation 'all', intraOpNumThreads =
// THREADS, interOpNumThreads 1, sequential execution. Spinning stays at ORT's default (on).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const [modelPath, threadsArg, inputPath, sizeArg] = process.argv.slice(2);
if (!modelPath || !threadsArg || !inputPath || !sizeArg) {
  console.error('usage: node ort_worker.mjs MODEL.onnx THREADS INPUT.f32 SIZE');
  process.exit(2);
}
const threads = Number(threadsArg);
const size = Number(sizeArg);

const raw = readFileSync(inputPath);
const expected = 3 * size * size;
if (raw.byteLength !== expected * 4) {
  console.error(`ort_worker: ${inputPath} has ${raw.byteLength} bytes, expected ${expected * 4}`);
  process.exit(2);
}
const data = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));

const session = await ort.InferenceSession.create(modelPath, {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
});
const inputName = session.inputNames[0];
const feeds = { [inputName]: new ort.Tensor('float32', data, [1, 3, size, size]) };

process.stdout.write(JSON.stringify({
  ready: true, engine: 'onnxruntime-node', version: ort.env.versions.common, threads,
  inputs: session.inputNames, outputs: session.outputNames,
}) + '\n');

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  const cmd = line.trim();
  if (cmd === 'quit') break;
  if (cmd !== 'run') {
    process.stdout.write(JSON.stringify({ error: `unknown command ${cmd}` }) + '\n');
    continue;
  }
  const t0 = performance.now();
  const out = await session.run(feeds);
  const t1 = performance.now();
  // Touch one output so nothing can be skipped lazily.
  const first = out[session.outputNames[0]].data[0];
  process.stdout.write(JSON.stringify({ network_ms: t1 - t0, check: Number(first) }) + '\n');
}
process.exit(0);
