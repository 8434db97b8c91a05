// examples/delivery: one job per delivery mode, each settling once, in order.
const { test } = require('uvu');
const assert = require('uvu/assert');
const path = require('path');
const { execFileSync } = require('child_process');

test('the delivery example shows promise, callback and ActionQueue delivery', () => {
  const out = execFileSync(process.execPath, [path.join(__dirname, '..', 'examples', 'delivery', 'main.js')], {
    cwd: path.join(__dirname, '..'), encoding: 'utf8', timeout: 60000,
  });
  const lines = out.trim().split('\n');
  assert.equal(lines.map((l) => l.split(':')[0].trim()), ['promise', 'callback', 'actions', 'actions', 'actions']);
  assert.match(lines[0], '42');
  assert.match(lines[1], 'ababab');
  assert.match(lines[2], 'log');
  assert.match(lines[3], 'post');
  assert.match(lines[4], 'result');
  assert.match(lines[4], 'attack true');
});

test.run();
