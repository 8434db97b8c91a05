// The package's TypeScript declarations: what a strict consumer can write and what it
// cannot (test/types/consumer.ts, whose @ts-expect-error lines must all be errors).
const { test } = require('uvu');
const assert = require('uvu/assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');

test('a strict consumer compiles against the declarations; misuse does not', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'luapool-types-'));
  try {
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(root, path.join(dir, 'node_modules', 'luapool'), 'dir');
    fs.copyFileSync(path.join(__dirname, 'types', 'consumer.ts'), path.join(dir, 'consumer.ts'));
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        strict: true, noEmit: true, target: 'ES2022', module: 'commonjs', moduleResolution: 'node',
        lib: ['ES2022'], types: ['node'], typeRoots: [path.join(root, 'node_modules', '@types')], skipLibCheck: false,
      },
      files: ['consumer.ts'],
    }));
    const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
    const r = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' });
    assert.is(r.status, 0, `${r.stdout}${r.stderr}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('no @internal name reaches the declarations', () => {
  const index = fs.readFileSync(path.join(root, 'dist', 'cjs', 'index.d.ts'), 'utf8');
  assert.not.match(index, '_testing');
  const runner = fs.readFileSync(path.join(root, 'dist', 'cjs', 'script-runner.d.ts'), 'utf8');
  assert.not.match(runner, 'checkCall');
});

test.run();
