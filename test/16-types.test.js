// The package's TypeScript declarations: what a strict consumer can write (test/types/
// consumer.ts) and what it cannot (test/types/errors.ts, whose @ts-expect-error lines must
// all be errors) — in the repository with @types/node, and from the packed tarball in a
// project that has only luapool and typescript. No internal name or test hook is published.
const { test } = require('uvu');
const assert = require('uvu/assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');
const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'luapool-types-'));

/** Runs tsc in `dir` with these compiler options over `files` (copied from test/types/). */
function compile(dir, compilerOptions, files) {
  for (const f of files) fs.copyFileSync(path.join(__dirname, 'types', f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, target: 'ES2022', skipLibCheck: false, ...compilerOptions }, files,
  }));
  return spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' });
}

// The tarball `npm pack` makes, unpacked as `npm install <tarball>` puts it: node_modules/luapool.
let packed;
function packedProject() {
  if (packed) return packed;
  const r = spawnSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', tmp], { cwd: root, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const tarball = path.join(tmp, r.stdout.trim().split('\n').pop());
  const project = path.join(tmp, 'consumer');
  fs.mkdirSync(path.join(project, 'node_modules'), { recursive: true });
  const x = spawnSync('tar', ['xzf', tarball, '-C', project], { encoding: 'utf8' });
  assert.is(x.status, 0, x.stderr);
  fs.renameSync(path.join(project, 'package'), path.join(project, 'node_modules', 'luapool'));
  // typescript, linked from the repository's node_modules: nothing else is installed
  fs.symlinkSync(path.dirname(path.dirname(tsc)), path.join(project, 'node_modules', 'typescript'), 'dir');
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true,
    dependencies: { luapool: `file:${tarball}` }, devDependencies: { typescript: '*' } }));
  packed = project;
  return project;
}

test('in the repository, with @types/node: consumer.ts compiles under --strict; every line of errors.ts is an error', () => {
  const dir = path.join(tmp, 'repo');
  fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  fs.symlinkSync(root, path.join(dir, 'node_modules', 'luapool'), 'dir');
  const r = compile(dir, {
    module: 'commonjs', moduleResolution: 'node', lib: ['ES2022'], types: ['node'],
    typeRoots: [path.join(root, 'node_modules', '@types')],
  }, ['consumer.ts', 'errors.ts']);
  assert.is(r.status, 0, `${r.stdout}${r.stderr}`);
});

test('from the packed tarball, with only luapool and typescript: the same, module node16', () => {
  const dir = packedProject();
  assert.not.ok(fs.existsSync(path.join(dir, 'node_modules', '@types')), 'no @types/node');
  const r = compile(dir, { module: 'node16', moduleResolution: 'node16', lib: ['ES2022', 'DOM'], types: [] }, ['consumer.ts', 'errors.ts']);
  assert.is(r.status, 0, `${r.stdout}${r.stderr}`);
});

test('the packed declarations need neither @types/node nor the DOM library', () => {
  const dir = packedProject();
  fs.writeFileSync(path.join(dir, 'bare.ts'), [
    "import { ScriptRunner, ActionQueue, luaTypes, type JobOptions } from 'luapool';",
    'export async function f(o: JobOptions): Promise<number> {',
    '  const r = new ScriptRunner({ actions: new ActionQueue() });',
    "  r.on('log', (a) => a.message.length);",
    "  const n = await r.run<number>('return 1', o);",
    '  await r.close();',
    '  return n + luaTypes().length;',
    '}', ''].join('\n'));
  fs.writeFileSync(path.join(dir, 'tsconfig.bare.json'), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, target: 'ES2022', lib: ['ES2022'], types: [], module: 'node16', moduleResolution: 'node16' },
    files: ['bare.ts'],
  }));
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(dir, 'tsconfig.bare.json')], { encoding: 'utf8' });
  assert.is(r.status, 0, `${r.stdout}${r.stderr}`);
});

test('no @internal name or test hook is published: not in the packed .d.ts files, not in the exports', () => {
  const dist = path.join(packedProject(), 'node_modules', 'luapool', 'dist', 'cjs');
  const dts = fs.readdirSync(dist).filter((f) => f.endsWith('.d.ts'));
  assert.ok(dts.includes('index.d.ts'));
  for (const f of dts) {
    const text = fs.readFileSync(path.join(dist, f), 'utf8');
    for (const bad of ['@internal', '_testing', 'testing:', 'checkCall', 'NativeBinding', 'encodeList', 'decodeList']) {
      assert.not.ok(text.includes(bad), `${f} has ${bad}`);
    }
  }
  const exported = Object.keys(require('..'));
  assert.equal(exported.filter((k) => k.startsWith('_') || /test/i.test(k)), []);
  assert.ok(exported.includes('luaTypes') && exported.includes('ScriptRunner'));
  const esm = fs.readFileSync(path.join(dist, '..', 'esm', 'index.mjs'), 'utf8');
  assert.not.match(esm, '_testing');
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
test.run();
