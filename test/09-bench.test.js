// The benchmark machinery runs end to end on a tiny input (no timing is asserted: only
// that every driver runs and every workload's checksum matches).
const { test } = require('uvu');
const assert = require('uvu/assert');
const { runBench } = require('../bench/run.js');

test('npm run bench machinery: every driver, every checksum, tiny sizes', async () => {
  const result = await runBench({ tiny: true, write: false, log: () => {} });
  assert.equal(result.failures, [], JSON.stringify(result.failures, null, 1));
});

test.run();
