// Loops inside C that no interrupt check used to reach (issue 12; patches 0020-0023):
// each job must settle with TimeoutError soon after its budget, and the same state must
// then run a benign job. The workloads would run for minutes (or for ever) without the
// patches, so a hang shows as a failed liveness guard, not as a slow pass. Elapsed times
// are logged, never asserted tightly (the machine may be loaded).
const { test } = require('uvu');
const assert = require('uvu/assert');
const path = require('path');
const { spawn } = require('child_process');
const { ScriptRunner, TimeoutError, LuapoolError } = require('..');

const MiB = 1 << 20;
const HANG_MS = 120000;   // liveness guard: no job may take this long to settle

const runners = new Map();
function runnerFor(memoryLimit) {
  let r = runners.get(memoryLimit);
  if (!r) {
    r = new ScriptRunner({ states: 1, memoryLimit });
    runners.set(memoryLimit, r);
  }
  return r;
}

function withDeadline(promise, ms, what) {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`HUNG: ${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

// Hostile table metamethods: a length of 2^62 and element access that costs (almost) nothing.
const HUGE_LEN = '__len = function() return math.maxinteger // 2 end';

const CASES = [
  {
    family: 'table shifts (0020)',
    name: 'table.insert(t, 1, v) with Lua-function __index/__newindex',
    source: `local t = setmetatable({}, { ${HUGE_LEN},
      __index = function(t, k) return k end, __newindex = function() end })
      table.insert(t, 1, 0)`,
  },
  {
    family: 'table shifts (0020)',
    name: 'table.remove(t, 1) with C functions as __index/__newindex',
    source: `local t = setmetatable({}, { ${HUGE_LEN}, __index = rawlen, __newindex = rawequal })
      return table.remove(t, 1)`,
  },
  {
    family: 'table shifts (0020)',
    name: 'table.insert(t, 1, v) with table-valued __index/__newindex (no call at all)',
    source: `local t = setmetatable({}, { ${HUGE_LEN}, __index = {}, __newindex = {} })
      table.insert(t, 1, 0)`,
  },
  {
    family: 'calls from C (0020)',
    name: 'load() with a reader that never ends the chunk',
    source: 'local f, err = load(function() return " " end) error(err, 0)',
  },
  {
    family: 'calls from C (0020)',
    name: 'table.sort with a comparator that does nothing, over a huge __len',
    source: `local t = setmetatable({}, { __len = function() return 1 << 30 end,
      __index = function(t, i) return i end, __newindex = function() end })
      table.sort(t, function(a, b) return true end)`,
  },
  {
    family: 'plain search (0021)',
    name: 'string.find of a 2 MiB needle in a 4 MiB subject, plain',
    source: `local K = ("a"):rep(1024)
      return string.find(K:rep(4096), K:rep(2047) .. ("a"):rep(1023) .. "b", 1, true)`,
  },
  {
    family: 'pattern matcher (0021)',
    name: 'a 1 MiB [set] tested at every subject character',
    source: `local K = ("a"):rep(1024)
      return string.find(K:rep(1024), "[" .. ("b"):rep(1024):rep(1024) .. "a]*x")`,
  },
  {
    family: 'pattern matcher (0021)',
    name: '%b() over 16 MiB of "(" (one scan per start position)',
    source: 'return string.find(("("):rep(1024):rep(16384), "%b()")',
    memoryLimit: 48 * MiB,
    // Without the patch this settles after some 10-40 s (a check every 1000 scans of
    // 16 MiB), so a liveness bound is needed to tell; 10 s is 50x the budget.
    maxMs: 10200,
  },
  {
    family: 'collector (0023)',
    name: 'a 300000-entry ephemeron chain, collected in a loop',
    source: `local n = 300000 local keys = {} for i = 1, n do keys[i] = {} end
      for i = n, 2, -1 do local j = math.random(i) keys[i], keys[j] = keys[j], keys[i] end
      local e = setmetatable({}, { __mode = "k" })
      for i = 1, n - 1 do e[keys[i]] = keys[i + 1] end
      local head = keys[1] keys = nil
      while true do collectgarbage() end`,
    memoryLimit: 64 * MiB,
    timeoutMs: 1500,   // building the chain must fit in the budget
  },
  {
    family: 'allocation after the deadline (0022)',
    name: 'a large heap, 150 nested coroutines that swallow the error and allocate again',
    source: `local heap = {} for i = 1, 600000 do heap[i] = { i } end
      local function level(n)
        if n == 0 then while true do end end
        local co = coroutine.create(level)
        while true do
          coroutine.resume(co, n - 1)
          local t = { n }
        end
      end
      level(150)`,
    memoryLimit: 64 * MiB,
    timeoutMs: 1000,   // building the heap must fit in the budget
  },
];

const BENIGN = `local t = {} for i = 1, 100 do t[i] = i end
  table.insert(t, 1, 0) table.remove(t, 1)
  local s = ("x"):rep(100) .. "(a)b"
  return { sum = select("#", table.unpack(t)), f = s:find("%b()"), p = s:find("(a)", 1, true) }`;

for (const c of CASES) {
  test(`${c.family}: ${c.name}`, async () => {
    const memoryLimit = c.memoryLimit || 16 * MiB;
    const timeoutMs = c.timeoutMs || 200;
    const runner = runnerFor(memoryLimit);
    const started = Date.now();
    let error;
    let value;
    try {
      value = await withDeadline(runner.run(c.source, { timeoutMs }), HANG_MS, 'the job');
    } catch (e) {
      error = e;
    }
    const elapsed = Date.now() - started;
    console.log(`  [14-c-loops] ${c.name}: settled after ${elapsed} ms (budget ${timeoutMs} ms)`);
    if (error && /^HUNG/.test(error.message)) {
      runners.delete(memoryLimit);  // leave the stuck runner alone
      runner.close({ force: true }).catch(() => {});
      throw error;
    }
    assert.ok(error, `the job succeeded: ${JSON.stringify(value)}`);
    assert.instance(error, TimeoutError, `${error.name}: ${error.message}`);
    assert.instance(error, LuapoolError);
    assert.is(error.code, 'ERR_TIMEOUT');
    if (c.maxMs) assert.ok(elapsed < c.maxMs, `settled after ${elapsed} ms`);
    const benign = await withDeadline(runner.run(BENIGN, { timeoutMs: 5000 }), HANG_MS, 'the benign job');
    assert.equal(benign, { sum: 100, f: 101, p: 101 });
  });
}

// Since 0022 a stopped job leaves its garbage to the regular collector, so the next job on
// the state may find the heap full of it. Lua answers a refused allocation with an emergency
// collection and one retry: only a refused retry may count as hitting the memory limit.
test('memory: the garbage of the previous job does not count against the next one', async () => {
  const runner = new ScriptRunner({ states: 1, memoryLimit: 32 * MiB, gcEveryJobs: 0, gcEveryBytes: 0 });
  const fill = 'local t = {} for i = 1, 150000 do t[i] = ("x"):rep(100) .. i end return #t';
  try {
    for (let i = 0; i < 4; i++) {
      // each job holds ~23 MiB at its end, which is garbage when the next one starts
      assert.is(await withDeadline(runner.run(fill, { timeoutMs: 20000 }), HANG_MS, 'the job'), 150000, `job ${i}`);
    }
    // the limit itself still holds, and is sticky even when the script catches the error
    const err = await runner.run('local ok = pcall(function() local s = "x" while true do s = s .. s end end) return "survived"')
      .then(() => null, (e) => e);
    assert.ok(err, 'the memory bomb succeeded');
    assert.is(err.code, 'ERR_MEMORY_LIMIT');
  } finally {
    await runner.close();
  }
});

// A child process that runs a hostile job and calls process.exit(): it must exit at once,
// both after the job settled and while it is still running (the shutdown interrupts it).
function runChild(script) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', script], {
      cwd: path.join(__dirname, '..'), stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const started = Date.now();
    const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, ms: Date.now() - started });
    });
  });
}

const CHILD_JOB = JSON.stringify(`local t = setmetatable({}, { ${HUGE_LEN},
  __index = {}, __newindex = {} }) table.insert(t, 1, 0)`);

test('process.exit() right after a hostile C-loop job settled', async () => {
  const r = await runChild(`
    const { ScriptRunner } = require('.');
    const runner = new ScriptRunner({ states: 1, memoryLimit: ${16 * MiB} });
    runner.run(${CHILD_JOB}, { timeoutMs: 200 }).then(
      () => { console.log('unexpected success'); process.exit(3); },
      (e) => { console.log('settled: ' + e.name); process.exit(e.name === 'TimeoutError' ? 0 : 4); });`);
  console.log(`  [14-c-loops] child exited after ${r.ms} ms: ${r.out.trim()}`);
  assert.is(r.signal, null, `child killed (${r.signal}): ${r.out}`);
  assert.is(r.code, 0, r.out);
  assert.match(r.out, 'settled: TimeoutError');
});

// The exit path interrupts running jobs (test/14-lifecycle.test.js); a job inside one of the
// C loops above must notice.
test('process.exit() while a hostile C-loop job is still running', async () => {
  const r = await runChild(`
    const { ScriptRunner } = require('.');
    const runner = new ScriptRunner({ states: 1, memoryLimit: ${16 * MiB} });
    runner.run(${CHILD_JOB}, { timeoutMs: 600000 }).catch(() => {});
    setTimeout(() => { console.log('exiting'); process.exit(0); }, 300);`);
  console.log(`  [14-c-loops] child exited after ${r.ms} ms: ${r.out.trim()}`);
  assert.is(r.signal, null, `child killed (${r.signal}): ${r.out}`);
  assert.is(r.code, 0, r.out);
  assert.match(r.out, 'exiting');
});

test.after(async () => {
  await Promise.all([...runners.values()].map((r) => withDeadline(r.close({ force: true }), 10000, 'close')
    .catch(() => {})));
});

test.run();
