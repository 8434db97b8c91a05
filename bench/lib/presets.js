'use strict';
// Sizes and durations. `quick` must finish in under two minutes on a 2-core machine;
// `tiny` only exercises the machinery (used by the test suite); `full` is the default.
const os = require('os');

const P = os.availableParallelism ? os.availableParallelism() : os.cpus().length;

const presets = {
  full: {
    rounds: 5,
    sizes: { fib: 32, tables: 50000, strings: 50000, nbody: 200000 },
    iters: 3, warmup: 1, warmupMs: 1500,
    errors: { n: 200000, nSlow: 20000 },  // nSlow: fengari (one cold iteration)
    trivial: { durationMs: 2000, warmupMs: 1000, concurrency: [1, 64] },
    calls: { n: 2000000, durationMs: 1500, warmupMs: 1000, batchSize: 1000 },
    scaling: { workload: 'fib', n: 30, jobsPerState: 8 },
    health: { workload: 'fib', n: 27, durationMs: 2000 },
    memory: { count: 64 },
    // examples/game-loop world, unpaced: warmupFrames untimed, then up to `frames` timed
    // frames or maxMs, whichever comes first, per entity count
    // gameloop: the issue-10 entity frame on every peer; per trial `warmup` untimed frames,
    // then up to `frames` timed ones or maxMs; wasmoon and fengari up to peerMaxEntities
    entities: { counts: [1000, 5000, 20000], frames: 60, warmup: 10, maxMs: 8000, peerMaxEntities: 5000 },
    // demo: the examples/game-loop world, unpaced: warmupFrames untimed, then up to `frames`
    // timed frames or maxMs, whichever comes first, per entity count
    gameLoop: { entities: [250, 1000, 2000, 5000, 20000], frames: 400, warmupFrames: 60, maxMs: 15000 },
    // luapool only, default runner options + timeoutMs 50: a benign closed loop alone and
    // beside `hostile` endless loops (same group / own groups), after rampMs; then slicing
    // cost: `clients` closed loops of slicing.workload on 1 thread, sliceMs default vs 0,
    // with a budget armed (paused and re-armed at every switch) that the work never hits:
    // fib(27) is ~10 ms idle but took up to 140 ms on a loaded 2-core machine
    fairness: { durationMs: 2000, warmupMs: 300, rampMs: 100, hostile: 4,
      slicing: { workload: 'fib', n: 27, clients: 2, durationMs: 3000, warmupMs: 300, timeoutMs: 1000 } },
    hookVariants: ['luapool', 'luapool+timeout', 'luapool+memlimit', 'luapool+hooks', 'luapool+profile'],
    trialTimeoutMs: 600000,
  },
  quick: {
    rounds: 2,
    sizes: { fib: 27, tables: 10000, strings: 10000, nbody: 20000 },
    iters: 3, warmup: 1, warmupMs: 300,
    errors: { n: 50000, nSlow: 5000 },
    trivial: { durationMs: 400, warmupMs: 300, concurrency: [1, 64] },
    calls: { n: 300000, durationMs: 400, warmupMs: 300, batchSize: 1000 },
    scaling: { workload: 'fib', n: 27, jobsPerState: 6 },
    health: { workload: 'fib', n: 25, durationMs: 500 },
    memory: { count: 32 },
    entities: { counts: [1000, 5000, 20000], frames: 20, warmup: 4, maxMs: 2000, peerMaxEntities: 1000 },
    gameLoop: { entities: [250, 1000], frames: 120, warmupFrames: 20, maxMs: 3000 },
    fairness: { durationMs: 300, warmupMs: 100, rampMs: 50, hostile: 4,
      slicing: { workload: 'fib', n: 25, clients: 2, durationMs: 500, warmupMs: 100, timeoutMs: 1000 } },
    hookVariants: ['luapool', 'luapool+hooks', 'luapool+profile'],
    trialTimeoutMs: 60000,
  },
  tiny: {
    rounds: 1,
    sizes: { fib: 15, tables: 300, strings: 300, nbody: 300 },
    iters: 1, warmup: 0, warmupMs: 0,
    errors: { n: 200, nSlow: 200 },
    trivial: { durationMs: 60, warmupMs: 10, concurrency: [1, 64] },
    calls: { n: 2000, durationMs: 60, warmupMs: 10, batchSize: 100, hostCalls: 50 },
    scaling: { workload: 'fib', n: 15, jobsPerState: 2 },
    health: { workload: 'fib', n: 15, durationMs: 100 },
    memory: { count: 2 },
    entities: { counts: [50], frames: 2, warmup: 1, maxMs: 500, peerMaxEntities: 50 },
    gameLoop: { entities: [40], frames: 10, warmupFrames: 2, maxMs: 1000 },
    fairness: { durationMs: 40, warmupMs: 10, rampMs: 10, hostile: 4,
      slicing: { workload: 'fib', n: 15, clients: 2, durationMs: 40, warmupMs: 0, timeoutMs: 1000 } },
    hookVariants: ['luapool', 'luapool+hooks', 'luapool+profile'],
    trialTimeoutMs: 60000,
  },
};

// luapool option sets for the hook-overhead comparison. memoryLimit is far above what any
// workload needs: it measures the accounting, not a squeeze.
const MEM = 512 * 1024 * 1024;
const luapoolVariants = {
  'luapool': { timeoutMs: 0, memoryLimit: 0 },
  'luapool+trusted': { timeoutMs: 0, memoryLimit: 0, libs: 'all' },  // plain Lua, as the floor
  'luapool+timeout': { timeoutMs: 60000, memoryLimit: 0 },
  'luapool+memlimit': { timeoutMs: 0, memoryLimit: MEM },
  'luapool+hooks': { timeoutMs: 60000, memoryLimit: MEM },
  // runner.profile({ sampleHz: 1000 }) running through the whole trial (bench/drivers/luapool.js)
  'luapool+profile': { timeoutMs: 0, memoryLimit: 0, profileHz: 1000 },
};

module.exports = { presets, luapoolVariants, P };
