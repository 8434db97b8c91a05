// The addon is context-aware: it loads in several worker_threads at once, runs scripts in
// each, and survives a worker being terminated in the middle of a job.
const { test } = require('uvu');
const assert = require('uvu/assert');
const path = require('path');
const { Worker } = require('worker_threads');

const entry = path.join(__dirname, '..');

function worker(code) {
  return new Worker(`
    const { parentPort } = require('worker_threads');
    const { ScriptRunner } = require(${JSON.stringify(entry)});
    (async () => { ${code} })().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));`, { eval: true });
}

function message(w) {
  return new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
}

test('several workers run scripts at the same time', async () => {
  const workers = [1, 2, 3].map((n) => worker(`
    const r = new ScriptRunner({ states: 1 });
    const v = await r.run('local s = 0 for i = 1, ${n} * 100000 do s = s + 1 end return s');
    await r.close();
    parentPort.postMessage({ v });`));
  const results = await Promise.all(workers.map(message));
  assert.equal(results, [{ v: 100000 }, { v: 200000 }, { v: 300000 }]);
  await Promise.all(workers.map((w) => w.terminate()));
});

test('terminating a worker mid-job does not crash the process', async () => {
  const w = worker(`
    const r = new ScriptRunner({ states: 2 });
    parentPort.postMessage({ started: true });
    await Promise.all([r.run('while true do end'), r.run('local t = {} while true do t[#t + 1] = {} if #t > 1e5 then t = {} end end')]);`);
  assert.equal(await message(w), { started: true });
  await new Promise((r) => setTimeout(r, 100)); // both jobs are running now
  const code = await w.terminate();
  assert.type(code, 'number');
  // The main thread still works, with the addon loaded in it too.
  const { ScriptRunner } = require(entry);
  const r = new ScriptRunner({ states: 1 });
  assert.is(await r.run('return 6 * 7'), 42);
  await r.close();
});

test('terminating workers while their jobs are suspended in host calls and queued', async () => {
  for (let i = 0; i < 3; i++) {
    const w = worker(`
      const r = new ScriptRunner({ states: 1, host: { wait: () => new Promise(() => {}) } });
      parentPort.postMessage({ started: true });
      for (let i = 0; i < 10; i++) r.run('return engine.wait()').catch(() => {});`);
    assert.equal(await message(w), { started: true });
    await new Promise((r) => setTimeout(r, 30));
    await w.terminate();
  }
  assert.ok(true);
});

// Terminating a worker stops its JS at once, while completions keep arriving from the
// pool's threads: their delivery then finds every Node-API call failing. That must end the
// worker, never the process ("terminate called after throwing an instance of
// 'Napi::Error'" before the fix, in about one run of this file in ten).
test('terminating workers while completions and host calls stream in never ends the process', async () => {
  for (let i = 0; i < 25; i++) {
    const w = worker(`
      const r = new ScriptRunner({ states: 2, host: { echo: (x) => x } });
      let n = 0;
      const lane = async () => { for (;;) { await r.run(n % 2 ? 'return 1' : 'return engine.echo(2)'); if (++n === 50) parentPort.postMessage({ started: true }); } };
      for (let k = 0; k < 16; k++) lane();`);
    assert.equal(await message(w), { started: true });
    await new Promise((r) => setImmediate(r));
    await w.terminate();
  }
  // the process is alive and the addon still works here
  const { ScriptRunner } = require(entry);
  const r = new ScriptRunner({ states: 1 });
  assert.is(await r.run('return 6 * 7'), 42);
  await r.close();
});

test.run();
