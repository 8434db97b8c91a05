'use strict';
// Driver "piscina": a piscina pool of worker threads, each with one warm wasmoon engine —
// what users hand-roll today for parallel Lua in Node.
const os = require('os');
const path = require('path');
const { driverMain, verifyChecksum, closedLoop, nowMs, timedIterations } = require('../lib/common');

async function pool(threads) {
  const { Piscina } = require('piscina');
  const p = new Piscina({
    filename: path.join(__dirname, 'piscina-worker.js'),
    minThreads: threads, maxThreads: threads, idleTimeout: 2 ** 31 - 1,
    concurrentTasksPerWorker: 1,
  });
  // warm every worker: more tasks than threads, each waits for its engine
  await Promise.all(Array.from({ length: threads * 4 }, () => p.run({ kind: 'trivial' })));
  return p;
}

driverMain('piscina', {
  async cpu(p) {
    const pl = await pool(1);
    const { ms, last, warmupTotalMs } = await timedIterations(() => pl.run({ kind: 'cpu', workload: p.workload, n: p.n }), {
      ...p, check: (v) => verifyChecksum('piscina', p.workload, p.n, v),
    });
    await pl.destroy();
    return { checksum: String(last), ms, warmupTotalMs };
  },
  async trivial(p) {
    const threads = p.states || os.availableParallelism();
    const pl = await pool(threads);
    const r = await closedLoop(() => pl.run({ kind: 'trivial' }), {
      concurrency: p.concurrency, durationMs: p.durationMs, warmupMs: p.warmupMs,
      check: (v) => { if (v !== 2) throw new Error(`CHECKSUM MISMATCH: trivial returned ${v}`); },
    });
    await pl.destroy();
    return { ...r, states: threads };
  },
  async scaling(p) {
    const pl = await pool(p.states);
    const task = { kind: 'cpu', workload: p.workload, n: p.n };
    const w0 = nowMs(); // warm every worker's engine until WebAssembly has tiered up
    do await Promise.all(Array.from({ length: p.states }, () => pl.run(task))); while (nowMs() - w0 < (p.warmupMs || 0));
    const jobs = p.states * p.jobsPerState;
    const t0 = nowMs();
    const res = await Promise.all(Array.from({ length: jobs }, () => pl.run(task)));
    const elapsed = nowMs() - t0;
    for (const r of res) verifyChecksum('piscina', p.workload, p.n, r);
    await pl.destroy();
    return { states: p.states, jobs, elapsedMs: elapsed, jobsPerSec: (jobs / elapsed) * 1000 };
  },
  async health(p) {
    const threads = p.states || os.availableParallelism();
    const pl = await pool(threads);
    const { measureHealth } = require('../lib/health');
    const task = { kind: 'cpu', workload: p.workload, n: p.n };
    const r = await measureHealth({
      durationMs: p.durationMs,
      startLoad: () => {
        let stop = false;
        let done = 0;
        const lanes = Array.from({ length: threads * 2 }, async () => {
          while (!stop) { verifyChecksum('piscina', p.workload, p.n, await pl.run(task)); done++; }
        });
        return async () => { stop = true; await Promise.all(lanes); return { jobsDone: done }; };
      },
    });
    await pl.destroy();
    return { ...r, states: threads };
  },
  async memory(p) {
    global.gc && global.gc();
    const rss0 = process.memoryUsage().rss;
    const pl = await pool(p.count);
    global.gc && global.gc();
    await new Promise((r) => setTimeout(r, 100));
    const rss1 = process.memoryUsage().rss;
    await pl.destroy();
    return { states: p.count, rssKBPerState: (rss1 - rss0) / 1024 / p.count,
      note: 'includes one worker thread (a V8 isolate) per engine' };
  },
});
