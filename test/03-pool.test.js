// The state pool: exclusive leases, parallel states, admission that keeps libuv threads
// free for I/O, and the native StatePool's guarantees (through the addon's test hooks).
const { test } = require('uvu');
const assert = require('uvu/assert');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { ScriptRunner } = require('luapool');
// The addon's test hooks: not exported by the package, reached through the build's own file.
const _testing = require(path.join(path.dirname(require.resolve('luapool')), 'native')).binding.testing;
if (!_testing) throw new Error('the addon was built without its test hooks: run node scripts/build.js in a checkout (it builds them when test/ exists)');

test('StatePool: tryAcquire on an empty pool fails, succeeds after release', () => {
  assert.equal(_testing.scenario('tryAcquireEmpty'), { first: true, second: false, afterRelease: true });
});

test('StatePool: acquireFor times out on an exhausted pool', () => {
  const r = _testing.scenario('acquireForTimeout');
  assert.is(r.got, false);
  assert.ok(r.waitedMs >= 45, `waited ${r.waitedMs} ms`);
});

test('StatePool: acquireFor succeeds when a release races the wait', () => {
  const r = _testing.scenario('acquireForRace');
  assert.is(r.got, true);
  assert.ok(r.waitedMs < 5000, `waited ${r.waitedMs} ms`);
});

test('StatePool: shutdown wakes every waiter with an empty lease', () => {
  assert.equal(_testing.scenario('shutdownWakesWaiters'), { woke: 4, emptyLeases: 4, acquireAfterShutdown: false });
});

test('StatePool: leases move, release once, and specific slots are exclusive', () => {
  assert.equal(_testing.scenario('leaseMove'), {
    movedFromEmpty: true, availableWhileHeld: 1, availableAfter: 2, specificFirst: true, specificSecond: false,
  });
});

test('StatePool: 16 threads hammering 3 slots never share a lease', () => {
  const r = _testing.hammer(3, 16, 2000);
  assert.is(r.violations, 0);
  assert.is(r.acquisitions, 16 * 2000);
});

test('many concurrent jobs all settle with the right results', async () => {
  const runner = new ScriptRunner({ states: 3 });
  const jobs = [];
  for (let i = 0; i < 2000; i++) jobs.push(runner.run('local n = ... return n * 2', { args: [i] }));
  const results = await Promise.all(jobs);
  assert.ok(results.every((v, i) => v === i * 2));
  const st = runner.stats();
  assert.is(st.completed, 2000);
  assert.is(st.states.reduce((n, s) => n + s.jobs, 0), 2000);
  await runner.close();
});

test('a state is never used by two jobs at once (per-state globals race check)', async () => {
  // 'all' mode shares globals per state: a racing second job would see a foreign value.
  const runner = new ScriptRunner({ states: 2, libs: 'all' });
  const src = 'local me = ... ; owner = me ; for i = 1, 2000 do assert(owner == me) end ; return true';
  const jobs = [];
  for (let i = 0; i < 400; i++) jobs.push(runner.run(src, { args: [i] }));
  assert.ok((await Promise.all(jobs)).every(Boolean));
  await runner.close();
});

test('two states run in parallel', async () => {
  // A barrier in a sort comparator (where Lua cannot yield): each job holds its thread until
  // both have arrived, so the barrier opens only if the two run at the same time.
  let arrived = 0;
  let open;
  const opened = new Promise((res) => { open = res; });
  const meet = () => { if (++arrived === 2) open(); return opened; };
  const runner = new ScriptRunner({ states: 2, threads: 2, host: { meet } });
  const src = 'table.sort({2, 1}, function(a, b) engine.meet() return a < b end) return true';
  let timer;
  const hung = new Promise((_, rej) => { timer = setTimeout(() => rej(new Error('the two jobs never ran at once')), 20000); });
  assert.equal(await Promise.race([Promise.all([runner.run(src), runner.run(src)]), hung]), [true, true]);
  clearTimeout(timer);
  await runner.close();
});

// Runs in a child so the thread-pool size is fixed before anything uses the pool.
function ioWhileSaturated(threadpool, states) {
  const script = `
    const { ScriptRunner } = require('luapool');
    const fs = require('fs');
    (async () => {
      const runner = new ScriptRunner({ states: ${states} });
      const spin = 'local t = os.clock() while os.clock() - t < 1.5 do end return 1';
      const jobs = [];
      for (let i = 0; i < ${states} * 3; i++) jobs.push(runner.run(spin));
      await new Promise((r) => setTimeout(r, 200)); // let every worker slot fill
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 20; i++) await fs.promises.readFile('package.json');
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const st = runner.stats();
      console.log(JSON.stringify({ ms, running: st.running, queued: st.queued, runnable: st.runnable, parallelism: runner.parallelism }));
      await Promise.all(jobs); await runner.close();
    })();`;
  const out = execFileSync(process.execPath, ['-e', script], {
    env: { ...process.env, UV_THREADPOOL_SIZE: String(threadpool) },
    cwd: path.join(__dirname, '..'),
  });
  return JSON.parse(String(out).trim().split('\n').pop());
}

test('fs stays responsive while every state is busy and jobs are queued (pool of 4)', () => {
  const r = ioWhileSaturated(4, 4);
  assert.is(r.parallelism, 3); // one libuv thread always stays free
  // more jobs than threads: the rest wait for a thread, started (sliced out) or not
  assert.ok(r.running >= 1 && r.queued + r.runnable > 0, JSON.stringify(r));
  // 20 sequential reads take ~1 ms when a thread is free; without one they would wait
  // for a 1.5 s script to finish.
  assert.ok(r.ms < 1000, `20 reads took ${r.ms} ms`);
});

test('fs stays responsive with UV_THREADPOOL_SIZE=2 and more states than threads', () => {
  const r = ioWhileSaturated(2, 4);
  assert.is(r.parallelism, 1);
  assert.ok(r.ms < 1000, `20 reads took ${r.ms} ms`);
});

test.run();
