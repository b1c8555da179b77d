// Timing and allocation measurement for the benchmarks. Figures are printed, never asserted.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';

// Each result is looked at (so no call can be optimised away) but not kept: holding the previous tree while
// the next one is built doubles the live heap and makes the collector, not the codec, set the pace.
const sink = { count: 0 };
function consume(result) {
  if (result === undefined) sink.count++;
}

/** The garbage collector as a function: `--expose-gc` when given, otherwise switched on at run time. */
function getGc() {
  if (typeof globalThis.gc === 'function') return globalThis.gc;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc');
}
const gc = getGc();

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function now() {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * Median time of one call of `fn`, in milliseconds. Warms up for `warmupMs` (so the JIT has optimised the code
 * paths), then takes `samples` samples; each sample repeats the call enough times to last at least
 * `minSampleMs`, so small inputs are not lost in timer resolution.
 */
export function timeCall(fn, { warmupMs = 400, samples = 9, minSampleMs = 100 } = {}) {
  let calls = 0;
  const warmupStart = now();
  while (calls < 3 || now() - warmupStart < warmupMs) {
    consume(fn());
    calls++;
  }
  const perCall = (now() - warmupStart) / calls;
  const repeat = Math.max(1, Math.ceil(minSampleMs / perCall));
  const times = [];
  for (let s = 0; s < samples; s++) {
    const start = now();
    for (let r = 0; r < repeat; r++) consume(fn());
    times.push((now() - start) / repeat);
  }
  return median(times);
}

/**
 * JS heap bytes allocated by one call of `fn`, averaged over `runs` calls.
 *
 * V8 keeps no running total of allocated bytes, but it is recoverable: every byte allocated is either still
 * in use at the end or was freed by a collection in between. So allocated = (used heap after - used heap
 * before) + the sum, over every collection during the runs, of (used before that GC - used after it). The
 * collections are observed with `v8.GCProfiler`, which records heap statistics around each one. The heap is
 * collected first so the starting point holds no garbage. Typed-array backing stores larger than V8's
 * on-heap limit (64 bytes) live outside the JS heap and are not counted; the output buffer of `encode` and
 * large OPAQUE values are such stores.
 */
export function allocatedBytes(fn, runs = 10) {
  consume(fn()); // make sure lazy compilation and caches are not counted
  gc();
  gc();
  const profiler = new v8.GCProfiler();
  const start = v8.getHeapStatistics().used_heap_size;
  profiler.start();
  for (let i = 0; i < runs; i++) consume(fn());
  const end = v8.getHeapStatistics().used_heap_size;
  const { statistics } = profiler.stop();
  let freed = 0;
  for (const { beforeGC, afterGC } of statistics) {
    freed += beforeGC.heapStatistics.usedHeapSize - afterGC.heapStatistics.usedHeapSize;
  }
  return (end - start + freed) / runs;
}

/**
 * Wall-clock times of a whole process, in milliseconds: `command args` with stdout written to `output`. Runs
 * up to `runs` times, but stops early once `budgetMs` is spent (libwbxml's encoder needs minutes for a large
 * document); returns the median and the number of runs. Input files were just written by the bench, so they
 * are in the page cache. Throws when the command fails, so a broken run is never reported as a fast one.
 */
export function timeProcess(command, args, { output, runs = 3, budgetMs = 120_000 }) {
  const times = [];
  let spent = 0;
  while (times.length < runs && (times.length === 0 || spent < budgetMs)) {
    const fd = openSync(output, 'w');
    const start = now();
    const result = spawnSync(command, args, { stdio: ['ignore', fd, 'pipe'], maxBuffer: 16 * 1024 * 1024 });
    const elapsed = now() - start;
    closeSync(fd);
    if (result.error) throw result.error;
    if (result.status !== 0) {
      throw new Error(
        `${command} ${args.join(' ')} exited ${result.status}: ${String(result.stderr).trim()}`,
      );
    }
    times.push(elapsed);
    spent += elapsed;
  }
  return { ms: median(times), runs: times.length };
}
