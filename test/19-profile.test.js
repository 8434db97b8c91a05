// runner.profile(): stack samples through the interrupt flag, as a .cpuprofile and a summary.
const { test } = require('uvu');
const assert = require('uvu/assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { ScriptRunner, Profile } = require('luapool');

const MODULE = `local M = {}
local function dist(a, b) local s = 0 for i = 1, 50 do s = s + math.sqrt(a * a + b * b + i) end return s end
function M.update(n) local t = 0 for i = 1, n do t = t + dist(i, n) end return t end
return M`;

function check(profile) {
  assert.instance(profile, Profile);
  const p = profile.cpuprofile;
  assert.ok(p.samples.length > 10, `${p.samples.length} samples`);
  assert.is(p.timeDeltas.length, p.samples.length);
  assert.ok(p.endTime >= p.startTime);
  const ids = new Set(p.nodes.map((n) => n.id));
  for (const n of p.nodes) for (const c of n.children) assert.ok(ids.has(c), 'children exist');
  for (const s of p.samples) assert.ok(ids.has(s), 'samples name nodes');
  return profile.summary();
}

test('a profile names the functions and chunks that use the time', async () => {
  const r = new ScriptRunner({ states: 2, threads: 1, timeoutMs: 0 });
  r.define('ai/orc', MODULE);
  const p = r.profile({ sampleHz: 1000 });
  await r.call('ai/orc', 'update', [4e4]);
  await r.run('local s = 0 for i = 1, 2e7 do s = s + i end return s', { name: 'loop.lua' });
  const s = check(await p.stop());
  const dist = s.functions.find((f) => f.name === 'dist');
  assert.ok(dist, JSON.stringify(s.functions.slice(0, 5)));
  assert.is(dist.url, 'ai/orc');
  assert.is(dist.line, 2);
  assert.ok(dist.selfMs > 0 && dist.totalMs >= dist.selfMs);
  assert.ok(s.modules.some((m) => m.url === 'ai/orc') && s.modules.some((m) => m.url === 'loop.lua'));
  const total = s.functions.reduce((a, f) => a + f.selfMs, 0);
  assert.ok(Math.abs(total - s.sampledMs) < 1e-6 * Math.max(1, total) + 1e-6, `${total} vs ${s.sampledMs}`);
  // stats() has the figures per module
  const m = r.stats().modules['ai/orc'];
  assert.is(m.jobs, 1);
  assert.ok(m.runMs > 0 && m.errors === 0, JSON.stringify(m));
  await r.call('ai/orc', 'nope').catch(() => {});
  assert.is(r.stats().modules['ai/orc'].errors, 1);
  // the runner goes on; a second profile starts empty
  const q = r.profile();
  const idle = await q.stop();
  assert.is(idle.summary().samples, 0);
  await r.close();
});

test('trusted jobs are sampled too; bad options are refused', async () => {
  const r = new ScriptRunner({ libs: 'all', states: 1 });
  const p = r.profile({ sampleHz: 500 });
  await r.run('local function spin(n) local s = 0 for i = 1, n do s = s + i end return s end local r = spin(3e7) return r');
  const s = check(await p.stop());
  assert.ok(s.functions.some((f) => f.name === 'spin'), JSON.stringify(s.functions.slice(0, 3)));
  assert.throws(() => r.profile({ sampleHz: 0 }), (e) => e instanceof RangeError && /sampleHz/.test(e.message));
  assert.throws(() => r.profile({ sampleHz: 'x' }), (e) => e instanceof TypeError && /sampleHz/.test(e.message));
  assert.throws(() => r.profile(5), (e) => e instanceof TypeError);
  await r.close();
  assert.throws(() => r.profile(), (e) => e.code === 'ERR_RUNNER_CLOSED');
});

test('luapool --profile writes a .cpuprofile', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'luapool-profile-'));
  try {
    const script = path.join(dir, 'fib.lua');
    fs.writeFileSync(script, 'local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end\nprint(fib(27))\n');
    const out = path.join(dir, 'out.cpuprofile');
    const r = spawnSync(process.execPath, [path.join(__dirname, '..', 'bin', 'luapool.js'), '--profile', out, script], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout.trim(), '196418');
    const p = JSON.parse(fs.readFileSync(out, 'utf8'));
    assert.ok(p.nodes.some((n) => n.callFrame.functionName === 'fib' && n.callFrame.url === script));
    assert.ok(p.samples.length > 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
