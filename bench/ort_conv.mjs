// Times ONNX Runtime on the single-Conv models written by bench/make_conv_onnx.py.
//
//   node bench/ort_conv.mjs ONNX_DIR THREADS RUNS   -> JSON lines {index, median_ms, ...}
//
// Session options match the end-to-end benchmark: CPU EP, graph optimisation 'all',
// intraOpNumThreads = THREADS, interOpNumThreads 1, sequential execution. Each model gets
// 3 warm-up runs, then RUNS timed runs; we print the median (and min) wall time of run().
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import path from 'node:path';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const [dir, threadsArg, runsArg] = process.argv.slice(2);
if (!dir || !threadsArg) {
  console.error('usage: node ort_conv.mjs ONNX_DIR THREADS [RUNS]');
  process.exit(2);
}
const threads = Number(threadsArg);
const runs = Number(runsArg || 20);
const shapes = JSON.parse(readFileSync(path.join(dir, 'shapes.json'), 'utf8'));

for (let i = 0; i < shapes.length; ++i) {
  const s = shapes[i];
  const session = await ort.InferenceSession.create(s.path, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  const n = s.in_c * s.h * s.w;
  const data = new Float32Array(n);
  for (let j = 0; j < n; ++j) data[j] = ((j * 2654435761) % 1000) / 500 - 1;
  const feeds = { x: new ort.Tensor('float32', data, [1, s.in_c, s.h, s.w]) };
  for (let w = 0; w < 3; ++w) await session.run(feeds);
  const times = [];
  for (let r = 0; r < runs; ++r) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  process.stdout.write(JSON.stringify({
    index: i, name: s.name, median_ms: median, min_ms: times[0], runs, threads,
    version: ort.env.versions.common,
  }) + '\n');
  await session.release();
}
