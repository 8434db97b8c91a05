// The documented examples of the entity data paths run and show what they say: every
// ```js block of docs/api.md's callMany / callColumns / share entries and of
// docs/marshaling.md's "Which data path" section. A statement followed by `// → value`
// (on its line or the next) must evaluate to that value.
const { test } = require('uvu');
const assert = require('uvu/assert');
const fs = require('fs');
const path = require('path');
const { ScriptRunner } = require('luapool');

const docs = path.join(__dirname, '..', 'docs');

function section(file, heading) {
  const text = fs.readFileSync(path.join(docs, file), 'utf8');
  const start = text.indexOf(`\n${heading}`);
  assert.ok(start >= 0, `${file}: ${heading}`);
  const level = heading.match(/^#+/)[0];
  const next = text.slice(start + 1).search(new RegExp(`\\n#{2,${level.length}} `));
  return text.slice(start, next < 0 ? undefined : start + 1 + next);
}

function blocks(text) {
  return [...text.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
}

// Statements end with ';' at the end of a line (a trailing comment aside).
function compile(block) {
  const statements = [];
  let current = [];
  for (const line of block.replace(/\n$/, '').split('\n')) {
    const alone = /^\s*\/\/ → (.*)$/.exec(line);
    if (alone && current.length === 0 && statements.length > 0) {
      statements[statements.length - 1].expect = alone[1];
      continue;
    }
    const m = /^(.*;)\s*\/\/ → (.*)$/.exec(line);
    if (m) {
      current.push(m[1]);
      statements.push({ code: current.join('\n'), expect: m[2] });
      current = [];
      continue;
    }
    const code = line.replace(/;\s*\/\/.*$/, ';');
    current.push(code);
    if (/;\s*$/.test(code)) {
      statements.push({ code: current.join('\n') });
      current = [];
    }
  }
  assert.is(current.join('').trim(), '', 'every statement ends with ;');
  let checks = 0;
  const body = statements.map(({ code, expect }) => {
    if (expect === undefined) return code;
    checks++;
    return `__check(${code.replace(/;\s*$/, '')}, (${expect}), ${JSON.stringify(code.trim())});`;
  }).join('\n');
  return { body, checks };
}

async function runBlock(block) {
  const { body, checks } = compile(block);
  const runner = new ScriptRunner({ states: 2 });
  const check = (actual, expected, what) => assert.equal(actual, expected, what);
  try {
    const fn = new Function('runner', 'ScriptRunner', '__check', `return (async () => {\n${body}\n})();`);
    await fn(runner, ScriptRunner, check);
  } finally {
    await runner.close();
  }
  return checks;
}

for (const [file, heading] of [
  ['api.md', '### runner.callMany('],
  ['api.md', '### runner.callColumns('],
  ['api.md', '### runner.share('],
  ['marshaling.md', '## Which data path'],
]) {
  test(`${file}, ${heading.replace(/^#+ /, '')}: the examples run and show what they say`, async () => {
    const list = blocks(section(file, heading));
    assert.ok(list.length >= 1, 'the section has an example');
    let checks = 0;
    for (const b of list) checks += await runBlock(b);
    assert.ok(checks >= 1, 'the examples show values');
  });
}

test.run();
