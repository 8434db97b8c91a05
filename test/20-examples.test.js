// The examples: each runs as a user would start it and prints what it promises; the
// game-loop simulation is also driven through its world.js API (spawns, logs, hot reload).
// Every JavaScript snippet of README.md and docs/*.md runs as written, as a file of its own
// (test/doc-snippets.js has the conventions), and prints what its comments say.
const { test } = require('uvu');
const assert = require('uvu/assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const ROOT = path.join(__dirname, '..');
const EXAMPLES = path.join(ROOT, 'examples');

function runExample(name, args = [], expectOk = true) {
  const r = spawnSync(process.execPath, [path.join(EXAMPLES, name, 'main.js'), ...args], {
    cwd: ROOT, encoding: 'utf8', timeout: 120000, env: { ...process.env, FORCE_COLOR: '0' },
  });
  if (expectOk && r.status !== 0) console.error(r.stdout, r.stderr);
  return r;
}

test('persistence: one state keeps globals across two calls, through a context and with libs all', () => {
  const r = runExample('persistence');
  assert.is(r.status, 0);
  const out = r.stdout;
  assert.match(out, "1. libs 'safe', 1 state, a context");
  assert.match(out, /ctx\.run\(first\)\s+-> 1\n/);
  assert.match(out, /ctx\.run\(second\)\s+-> 2, "hello, second call \(call #2\)"/);
  assert.match(out, /runner\.run\(second\)\s+-> 1, "greet is not defined here"/, 'plain safe jobs do not see the context');
  assert.match(out, /ctx\.run\(second\) after reset\s+-> 1, "greet is not defined here"/);
  assert.match(out, "2. libs 'all', 1 state, plain runner.run()");
  assert.match(out, /runner\.run\(second\) again\s+-> 3, "hello, second call \(call #3\)"/);
});

test('multi: many concurrent jobs, all results correct, throughput and percentiles reported', () => {
  const r = runExample('multi', ['--jobs', '300', '--states', '2']);
  assert.is(r.status, 0);
  const out = r.stdout;
  assert.match(out, 'multi: 300 jobs at once on 2 states');
  assert.match(out, 'results: 300 correct, 0 wrong');
  assert.match(out, /completed 300 jobs in [\d.]+ s: \d+ jobs\/s/);
  assert.match(out, /wait ms \(last 300 jobs\): p50 [\d.]+ {2}p90 [\d.]+ {2}p99 [\d.]+ {2}max [\d.]+ ms/);
  assert.match(out, /run ms {2}\(last 300 jobs\): p50 [\d.]+/);
  assert.match(out, /state 0: \d+ jobs/);
  assert.match(out, /state 1: \d+ jobs/);
  const m = /back-pressure: 100 jobs into maxQueue 16: (\d+) ran, (\d+) rejected with QueueFullError/.exec(out);
  assert.ok(m, 'back-pressure line');
  assert.ok(Number(m[2]) > 0, 'some jobs were rejected');
  assert.is(Number(m[1]) + Number(m[2]), 100);
  assert.is(runExample('multi', ['--jobs', 'many'], false).status, 2, 'a bad flag exits with 2');
});

test('game-loop main.js: runs the frames, renders, prints frame-time percentiles and exits', () => {
  const r = runExample('game-loop', ['--frames', '24', '--entities', '500', '--unpaced', '--render', '--render-every', '12', '--no-watch', '--states', '2']);
  assert.is(r.status, 0);
  const out = r.stdout;
  assert.match(out, /luapool game loop: 500 entities, 4 behaviours \(chase, flee, spawn, wander\), 2 states/);
  assert.match(out, /24 frames in [\d.]+ s, \d+ entities at the end/);
  assert.match(out, /frame time {6}p50 [\d.]+ {2}p90 [\d.]+ {2}p99 [\d.]+ {2}max [\d.]+ ms/);
  const perFrame = /entities\/frame {2}p50 (\d+) {2}min (\d+) {2}max (\d+); at the p50 frame time, ~\d+ entities fit a 16\.7 ms frame/.exec(out);
  assert.ok(perFrame, 'entities per frame next to the frame times');
  assert.ok(Number(perFrame[2]) <= Number(perFrame[1]) && Number(perFrame[1]) <= Number(perFrame[3]));
  assert.match(out, /behaviours {6}chase [\d.]+ ms, flee [\d.]+ ms, spawn [\d.]+ ms, wander [\d.]+ ms \(Lua run time per frame\)/);
  assert.match(out, /script wait {5}p50 [\d.]+/);
  assert.match(out, /share of the frame spent waiting on scripts: [\d.]+%/);
  assert.match(out, /hot reloads {5}0 ok, 0 rejected/);
  // frame 1, 12 and 24 are drawn: three maps of 20 rows inside a border
  const maps = out.split('\n').filter((l) => /^frame \d+: \d+ entities/.test(l));
  assert.equal(maps.map((l) => Number(/^frame (\d+)/.exec(l)[1])), [1, 12, 24]);
  const rows = out.split('\n').filter((l) => /^\|.{78}\|$/.test(l));
  assert.is(rows.length, 60);
  assert.ok(rows.some((l) => /[oHf@]/.test(l)), 'entities are drawn');
  assert.is(runExample('game-loop', ['--frames', '0'], false).status, 2);
});

test('game-loop main.js --profile FILE: writes a .cpuprofile with the behaviours\' Lua functions; --entities scales the world', () => {
  const file = path.join(os.tmpdir(), `luapool-demo-${process.pid}.cpuprofile`);
  try {
    const r = runExample('game-loop', ['--frames', '30', '--entities', '2000', '--unpaced', '--no-watch', '--states', '2', '--profile', file]);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /luapool game loop: 2000 entities/);
    assert.match(r.stdout, new RegExp(`profile {9}${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: \\d+ samples; most self time: `));
    const p = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.ok(Array.isArray(p.nodes) && Array.isArray(p.samples) && Array.isArray(p.timeDeltas));
    assert.ok(p.samples.length > 0, 'the Lua stacks were sampled');
    assert.is(p.timeDeltas.length, p.samples.length);
    assert.ok(Number.isFinite(p.startTime) && p.endTime >= p.startTime);
    const ids = new Set(p.nodes.map((n) => n.id));
    for (const s of p.samples) assert.ok(ids.has(s), 'every sample names a node');
    const behaviours = p.nodes.filter((n) => ['chase', 'flee', 'wander', 'spawn'].includes(n.callFrame.url));
    assert.ok(behaviours.length > 0, `nodes of the behaviours' chunks: ${JSON.stringify(p.nodes.map((n) => n.callFrame.url))}`);
    for (const n of behaviours) assert.match(n.callFrame.functionName, /^[A-Za-z_(][^\n]*$/, 'a Lua function name');
  } finally {
    fs.rmSync(file, { force: true });
  }
});

// A copy of the behaviours in a temp dir, so the test can edit them.
function tempBehaviours() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'luapool-behaviours-'));
  for (const f of fs.readdirSync(path.join(EXAMPLES, 'game-loop', 'behaviours'))) {
    fs.copyFileSync(path.join(EXAMPLES, 'game-loop', 'behaviours', f), path.join(dir, f));
  }
  return dir;
}

test('world.js: entities move, nests spawn through engine.spawn_entity, engine.log arrives at the barrier', async () => {
  const { World } = require('../examples/game-loop/world');
  const dir = tempBehaviours();
  const world = new World({ entities: 150, states: 2, behavioursDir: dir });
  try {
    assert.is(world.entities.size, 150);
    const before = new Map([...world.entities.values()].map((e) => [e.id, [e.x, e.y]]));
    const logs = [];
    world.on('log', (a) => logs.push(a));
    for (let i = 0; i < 8; i++) await world.step(0.25); // 2 s of game time: every nest hatches
    const s = world.summary();
    assert.is(s.frames, 8);
    assert.is(s.scriptErrors, 0);
    assert.ok(s.totals.spawned >= 2, `spawned ${s.totals.spawned}`);
    assert.ok(logs.some((a) => /^nest \d+ hatched (critter|hunter) \d+$/.test(a.message)), 'engine.log from spawn.lua');
    let moved = 0;
    for (const e of world.entities.values()) {
      const p = before.get(e.id);
      if (p && e.kind !== 'nest' && (p[0] !== e.x || p[1] !== e.y)) moved++;
    }
    assert.ok(moved > 50, `moved ${moved}`);
    for (const e of world.entities.values()) {
      assert.ok(e.x >= 0 && e.x <= world.width && e.y >= 0 && e.y <= world.height, 'inside the world');
    }
    assert.ok(s.frameMs.p50 > 0 && s.frameMs.max >= s.frameMs.p99 && s.frameMs.p99 >= s.frameMs.p50);
    assert.ok(s.scriptShare > 0 && s.scriptShare <= 1);
    assert.match(world.render(), /^frame 8: \d+ entities/);
  } finally {
    await world.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('world.js: editing a behaviour hot-reloads it; a syntax error keeps the old version', async () => {
  const { World } = require('../examples/game-loop/world');
  const dir = tempBehaviours();
  const world = new World({ entities: 120, states: 2, behavioursDir: dir });
  const reloads = [];
  world.on('reload', (r) => reloads.push(r));
  const stepUntil = async (cond, what) => {
    const deadline = Date.now() + 20000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await world.step(1 / 60);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    world.watch();
    await world.step(1 / 60);
    fs.writeFileSync(path.join(dir, 'wander.lua'),
      'return { update = function(e) e.vx, e.vy, e.state = 0, 0, engine.shared.world.state.calm end }\n');
    await stepUntil(() => reloads.some((r) => r.ok), 'the reload');
    assert.ok(reloads.every((r) => r.ok && r.name === 'wander'));
    const wanderers = [...world.entities.values()].filter((e) => e.behaviour === 'wander').map((e) => [e.id, e.x, e.y]);
    assert.ok(wanderers.length > 0);
    await world.step(1 / 60);
    let checked = 0;
    for (const [id, x, y] of wanderers) {
      const e = world.entities.get(id);
      if (!e) continue; // eaten
      checked++;
      assert.is(e.state, 'calm');
      assert.equal([e.x, e.y, e.vx, e.vy], [x, y, 0, 0]);
    }
    assert.ok(checked > 0);

    fs.writeFileSync(path.join(dir, 'wander.lua'), 'return { update = function(e) return { x = e.x + \n');
    await stepUntil(() => reloads.some((r) => !r.ok), 'the rejected reload');
    const bad = reloads.find((r) => !r.ok);
    assert.is(bad.name, 'wander');
    assert.match(bad.error.message, 'wander:');
    assert.is(bad.error.code, 'ERR_LUA');
    const ids = [...world.entities.values()].filter((e) => e.behaviour === 'wander').map((e) => e.id);
    await world.step(1 / 60);
    const still = ids.map((id) => world.entities.get(id)).filter(Boolean);
    assert.ok(still.length > 0 && still.every((e) => e.state === 'calm' && e.vx === 0), 'the old version stays in force');
    assert.is(world.summary().scriptErrors, 0);
    const counts = world.summary().reloads;
    assert.ok(counts.ok >= 1 && counts.failed >= 1, JSON.stringify(counts));
  } finally {
    await world.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('world.js: sensing and submitting in chunks of rows gives the same world as one call per behaviour', async () => {
  const { World } = require('../examples/game-loop/world');
  // Every job draws math.random from a generator of its own, so the behaviours get a
  // constant instead: with a fixed seed the simulation is then the same run after run.
  const dir = tempBehaviours();
  for (const f of fs.readdirSync(dir)) {
    const file = path.join(dir, f);
    fs.writeFileSync(file, 'local math = setmetatable({ random = function() return 0.5 end }, { __index = math })\n' +
      fs.readFileSync(file, 'utf8'));
  }
  // 40 frames of 1/60 s: before the first nest hatches (at 0.75 s with random() = 0.5),
  // since spawns from several states reach the world in no fixed order
  const run = async (chunkRows) => {
    const world = new World({ entities: 3000, seed: 7, states: 2, threads: 2, behavioursDir: dir, chunkRows });
    try {
      for (let i = 0; i < 40; i++) await world.step(1 / 60);
      const s = world.summary();
      assert.is(s.scriptErrors, 0);
      return { entities: world.entities, totals: s.totals, fleeJobs: s.runner.modules.flee.jobs };
    } finally {
      await world.close();
    }
  };
  try {
    const whole = await run(Infinity);
    const chunked = await run(256);
    assert.ok(chunked.fleeJobs > 2 * whole.fleeJobs, `flee jobs: ${chunked.fleeJobs} chunked, ${whole.fleeJobs} whole`);
    assert.equal(chunked.totals, whole.totals);
    assert.ok(whole.totals.eaten > 0, 'hunters ate');
    assert.is(chunked.entities.size, whole.entities.size);
    const behaviours = new Set();
    for (const [id, e] of whole.entities) {
      assert.equal(chunked.entities.get(id), e, `entity ${id}`);
      behaviours.add(e.behaviour);
    }
    assert.equal([...behaviours].sort(), ['chase', 'flee', 'spawn', 'wander']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('world.js: a behaviour that fails in several chunks of rows is reported once per frame, with its first error', async () => {
  const { World } = require('../examples/game-loop/world');
  const dir = tempBehaviours();
  const world = new World({ entities: 3000, states: 2, behavioursDir: dir, timeoutMs: 100, chunkRows: 256 });
  const errors = [];
  world.on('script-error', (name, err) => errors.push([name, err.code]));
  try {
    // chunks of 256, 512, 1024, … rows: the critters, all wandering at first, fill four
    assert.ok(world.ranges.get('wander').count > 256 + 512 + 1024, `wander: ${world.ranges.get('wander').count} rows`);
    fs.writeFileSync(path.join(dir, 'wander.lua'), 'return { update = function() while true do end end }\n');
    assert.ok(world.reload('wander'));
    await world.step(1 / 60);
    assert.equal(errors, [['wander', 'ERR_TIMEOUT']]);
    fs.copyFileSync(path.join(EXAMPLES, 'game-loop', 'behaviours', 'wander.lua'), path.join(dir, 'wander.lua'));
    assert.ok(world.reload('wander'));
    await world.step(1 / 60);
    assert.is(errors.length, 1);
  } finally {
    await world.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('world.js: a behaviour that fails at run time costs its batch one frame, not the game', async () => {
  const { World } = require('../examples/game-loop/world');
  const dir = tempBehaviours();
  const world = new World({ entities: 100, states: 2, behavioursDir: dir, timeoutMs: 200 });
  const errors = [];
  world.on('script-error', (name, err) => errors.push([name, err.code]));
  try {
    fs.writeFileSync(path.join(dir, 'chase.lua'), 'return { update = function() while true do end end }\n');
    assert.ok(world.reload('chase'));
    const r = await world.step(1 / 60);
    assert.equal(errors, [['chase', 'ERR_TIMEOUT']]);
    assert.ok(r.entities > 0);
    fs.copyFileSync(path.join(EXAMPLES, 'game-loop', 'behaviours', 'chase.lua'), path.join(dir, 'chase.lua'));
    assert.ok(world.reload('chase'));
    await world.step(1 / 60);
    assert.is(errors.length, 1);
  } finally {
    await world.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// --- documentation snippets ---------------------------------------------------------------
const snippets = require('./doc-snippets');
const DOCS = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort()
  .map((f) => path.join('docs', f))];
const allSnippets = DOCS.flatMap((f) => snippets.extract(path.join(ROOT, f)));

test('docs: README.md and docs/api.md have runnable snippets; fragments stay rare', () => {
  const count = (file) => allSnippets.filter((s) => s.file === file && !s.fragment).length;
  assert.ok(count('README.md') >= 1, 'README.md');
  assert.ok(count(path.join('docs', 'api.md')) >= 20, 'docs/api.md');
  const fragments = allSnippets.filter((s) => s.fragment);
  assert.ok(fragments.length <= 2, `fragments: ${fragments.map((s) => `${s.file}:${s.line}`).join(', ')}`);
  for (const s of allSnippets) {
    if (/^\s*import\s/m.test(s.code) || /^await\s/m.test(s.code)) {
      assert.ok(s.esm || s.fragment, `${s.file}:${s.line} uses import or top-level await: its first line must name a .mjs file`);
    }
  }
  // the checker's own rules
  assert.ok(snippets.matches('[ 9, 4 ]', '[ 9, 4 ]'));
  assert.ok(snippets.matches('[9, 4]', '[ 9, 4 ]'), 'spaces next to brackets do not matter');
  assert.ok(snippets.matches('1 true  (it did not wait)', '1 true'), 'an explanation may follow');
  assert.not.ok(snippets.matches('10', '1'));
  assert.not.ok(snippets.matches('[ 9, 4 ]', '[ 9, 5 ]'));
  assert.is(snippets.trailingComment("console.log('a // b');   // a // b"), 'a // b');
  assert.is(snippets.trailingComment('// just a comment'), null);
  const md = path.join(os.tmpdir(), `luapool-snippets-${process.pid}.md`);
  fs.writeFileSync(md, '```json\n{ "a": 1 }\n```\n\n```js\n// x.mjs\nconsole.log(1);   // 1\n```\n\n```lua\nprint(1)\n```\n');
  const found = snippets.extract(md);
  fs.rmSync(md);
  assert.equal(found.map((x) => [x.line, x.esm, x.expected.length]), [[5, true, 1]], 'only the js block is a snippet');
});

for (const s of allSnippets.filter((x) => !x.fragment)) {
  test(`docs: ${s.file}:${s.line} runs as written (${s.esm ? 'ES module' : 'CommonJS'}, ${s.expected.length} stated outputs)`, () => {
    const problems = snippets.run(s, { timeoutMs: 30000 });
    assert.ok(problems.length === 0, problems.join('\n'));
  });
}

test.run();
