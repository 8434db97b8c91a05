// The benchmark machinery runs end to end on a tiny input (no timing is asserted: only
// that every driver runs and every workload's checksum matches).
const path = require('path');
const { test } = require('uvu');
const assert = require('uvu/assert');
const { runBench, outputPlan } = require('../bench/run.js');

test('npm run bench machinery: every driver, every checksum, tiny sizes', async () => {
  const result = await runBench({ tiny: true, write: false, log: () => {} });
  assert.equal(result.failures, [], JSON.stringify(result.failures, null, 1));
});

test('only a full run (or an explicit --out-dir) rewrites docs/benchmark.md and the README chart', () => {
  for (const preset of ['quick', 'tiny']) {
    const o = outputPlan(preset, {}, 'stamp');
    assert.is(o.doc, null, preset);
    assert.is(o.svg, null, preset);
    assert.is(o.latestJson, null, preset);
    assert.is(path.basename(o.raw), 'stamp.json');
  }
  const full = outputPlan('full', {}, 'stamp');
  assert.is(full.doc, path.join(__dirname, '..', 'docs', 'benchmark.md'));
  assert.is(full.svg, path.join(__dirname, '..', 'bench', 'results', 'latest.svg'));
  const elsewhere = outputPlan('full', { outDir: '/tmp/somewhere' }, 'stamp');
  assert.is(elsewhere.doc, path.join('/tmp/somewhere', 'benchmark.md'));
  assert.is(elsewhere.svg, path.join('/tmp/somewhere', 'latest.svg'));
});

test.run();
