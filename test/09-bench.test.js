// The benchmark machinery runs end to end on a tiny input (no timing is asserted: only
// that every driver runs and every workload's checksum matches).
const path = require('path');
const { spawnSync } = require('child_process');
const { test } = require('uvu');
const assert = require('uvu/assert');
const { runBench, outputPlan, parseArgs, ALL_SECTIONS } = require('../bench/run.js');
const report = require('../bench/lib/report.js');

test('npm run bench machinery: every driver, every checksum, tiny sizes', async () => {
  const result = await runBench({ tiny: true, write: false, log: () => {} });
  assert.equal(result.failures, [], JSON.stringify(result.failures, null, 1));

  // the fairness section (luapool only) ran every scenario in its tiny form
  assert.ok(ALL_SECTIONS.includes('fairness'));
  const raw = result.raw.fairness;
  assert.ok(raw, 'no fairness results');
  for (const key of ['benign', 'same-group', 'groups']) {
    const [r] = raw[key].luapool;
    assert.ok(r && Number.isFinite(r.jobsPerSec) && r.jobs > 0, `${key}: ${JSON.stringify(r)}`);
    assert.ok(Number.isFinite(r.p50Ms) && Number.isFinite(r.p99Ms), key);
    assert.is(r.hostile, key === 'benign' ? 0 : 4, key);
  }
  assert.is(raw.groups.luapool[0].hostileGroup, 'hostile');
  for (const id of ['luapool', 'luapool+noslice']) {
    const [r] = raw.slicing[id];
    assert.ok(r && r.jobs > 0 && Number.isInteger(r.slices) && r.cpuMsPerJob > 0, `${id}: ${JSON.stringify(r)}`);
  }
  assert.is(raw.slicing['luapool+noslice'][0].slices, 0, 'sliceMs: 0 must not slice');
  const f = result.analysis.fairness;
  assert.ok(f.scenarios['same-group'].vsBenign, 'no ratio to the all-benign scenario');
  assert.ok(f.slicing.ratio && f.slicing.cpuRatio, 'no slicing ratios');
  assert.is(f.targets.length, 4);
  for (const t of f.targets) assert.ok(['met', 'missed', 'inconclusive'].includes(t.status), `${t.name}: ${t.status}`);
  const md = report.markdown(result, { svgPath: 'latest.svg' });
  assert.match(md, '## Fairness (luapool only)');
  assert.match(md, 'hostile, own groups');

  // the gameloop section: the same entity behaviour on every peer, each checked against JS
  const g = result.raw.gameloop;
  assert.ok(g, 'no gameloop results');
  const ids = ['js', 'lua', 'luapool callMany 1 state', 'luapool callColumns 1 state', 'wasmoon', 'fengari'];
  for (const key of Object.keys(g)) {
    for (const id of ids) {
      const [r] = g[key][id] || [];
      assert.ok(r && !r.error && !r.skipped, `${key} ${id}: ${JSON.stringify(r)}`);
      assert.ok(r.checksum !== undefined && r.frameMs > 0 && r.perFrame > 0 && Number.isFinite(r.mainMs), `${key} ${id}`);
    }
  }
  const en = result.analysis.entities;
  assert.ok(en.headline['luapool callColumns 1 state'], 'no headline figure for callColumns');
  assert.match(md, '## Game loop: the same entity behaviour on every peer');
  assert.match(md, 'entities per 16.6 ms');
  assert.ok(result.analysis.targets.some((t) => /callColumns/.test(t.name) && t.goal === '≥ 50,000 entities per frame'));
  assert.match(report.svg(result), 'game loop: entities per 16.6 ms frame');

  // realistic payloads and the host-call round trip next to add(int, int)
  const calls = result.analysis.calls;
  for (const kind of ['entity', 'string1k', 'array50']) {
    for (const d of ['luapool', 'wasmoon', 'fengari']) assert.ok(calls.payloads[kind][d], `payload ${kind} ${d}`);
  }
  for (const d of ['luapool', 'wasmoon', 'fengari']) assert.ok(calls.hostCall[d].usPerCall.median > 0, `host call ${d}`);
  assert.match(md, 'Host-call round trip');
});

test('--sections: gameloop is the entity frame, demo the examples/game-loop world (formerly game-loop)', () => {
  const { parseArgs } = require('../bench/run.js');
  assert.ok(ALL_SECTIONS.includes('gameloop') && ALL_SECTIONS.includes('demo'));
  assert.equal(parseArgs(['--sections', 'game-loop,gameloop']).sections, ['demo', 'gameloop']);
});

test('only --write-docs (or an explicit --out-dir) rewrites docs/benchmark.md and the README chart', () => {
  for (const preset of ['quick', 'tiny', 'full']) {
    const o = outputPlan(preset, {}, 'stamp');
    assert.is(o.doc, null, preset);
    assert.is(o.svg, null, preset);
    assert.is(o.latestJson, null, preset);
    assert.is(o.raw, path.join(__dirname, '..', 'bench', 'results', 'stamp.json'), 'raw results only, in the ignored results folder');
  }
  const full = outputPlan('full', { writeDocs: true }, 'stamp');
  assert.is(full.doc, path.join(__dirname, '..', 'docs', 'benchmark.md'));
  assert.is(full.svg, path.join(__dirname, '..', 'bench', 'results', 'latest.svg'));
  for (const preset of ['quick', 'tiny']) {
    assert.throws(() => outputPlan(preset, { writeDocs: true }, 'stamp'), /--write-docs needs a full run/);
  }
  const elsewhere = outputPlan('quick', { outDir: '/tmp/somewhere' }, 'stamp');
  assert.is(elsewhere.doc, path.join('/tmp/somewhere', 'benchmark.md'));
  assert.is(elsewhere.svg, path.join('/tmp/somewhere', 'latest.svg'));
  assert.equal(parseArgs(['--quick', '--write-docs']), { quick: true, writeDocs: true });
  // the raw results folder is ignored by git; the committed report is not
  const ignored = (f) => spawnSync('git', ['check-ignore', '-q', f], { cwd: path.join(__dirname, '..') }).status === 0;
  assert.ok(ignored('bench/results/stamp.json'));
  assert.not.ok(ignored('docs/benchmark.md'));
});

test('--report without --write-docs or --out-dir changes nothing and says why', () => {
  const r = spawnSync(process.execPath, [path.join(__dirname, '..', 'bench', 'run.js'), '--report', 'nowhere.json'], { encoding: 'utf8' });
  assert.is(r.status, 2);
  assert.match(r.stderr, 'give --write-docs');
});

test.run();
