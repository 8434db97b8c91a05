// The luapool CLI: run (JSON results, errors and exit codes, --timeout, --memory, --libs,
// --watch) and repl (piped stdin, and a pseudo-terminal through util-linux `script`).
const { test } = require('uvu');
const assert = require('uvu/assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, spawnSync } = require('child_process');

const BIN = path.join(__dirname, '..', 'bin', 'luapool.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'luapool-cli-'));

function write(name, text) {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return name;
}

function cli(args, input) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: tmp, encoding: 'utf8', input, timeout: 60000, env: { ...process.env, HOME: tmp },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// Resolves with the promise's value, or with 'hung' after ms (the timer never holds the process).
function within(promise, ms) {
  let timer;
  return Promise.race([promise, new Promise((r) => { timer = setTimeout(() => r('hung'), ms); })])
    .finally(() => clearTimeout(timer));
}

const jsonLines = (out) => out.split('\n').filter(Boolean).map((l) => JSON.parse(l));

// Waits until `get()` matches, polling; generous bound, no timing assumption otherwise.
async function waitFor(get, re, what, ms = 30000) {
  const deadline = Date.now() + ms;
  while (!re.test(get())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got:\n${get()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('--help, --version, and bad command lines exit with 2', () => {
  const help = cli(['--help']);
  assert.is(help.code, 0);
  assert.match(help.out, 'luapool run [options] file.lua [args…]');
  assert.match(help.out, 'exit codes:');
  const version = cli(['--version']);
  assert.is(version.code, 0);
  assert.match(version.out, /^luapool \d+\.\d+\.\d+ \(Lua 5\.4\.7\)\n$/);
  for (const [args, msg] of [
    [[], 'missing command'],
    [['frob'], "unknown command 'frob'"],
    [['--frob'], "unknown option '--frob'"],
    [['run'], 'missing the file'],
    [['run', '--bogus', 'x.lua'], "unknown option '--bogus'"],
    [['run', '--timeout', 'soon', 'x.lua'], '--timeout must be'],
    [['run', '--memory', '12', 'x.lua'], '--memory must be 0 (none) or at least 64k'],
    [['run', '--memory', 'lots', 'x.lua'], '--memory must be bytes'],
    [['run', '--libs', 'base,nope', 'x.lua'], "unknown library 'nope'"],
    [['run', '--states', '0', 'x.lua'], '--states must be'],
    [['run', '--timeout'], "'--timeout' needs a value"],
    [['repl', 'extra'], "unexpected argument 'extra'"],
  ]) {
    const r = cli(args);
    assert.is(r.code, 2, `${args.join(' ')} → ${r.code}`);
    assert.match(r.err, msg);
    assert.is(r.out, '');
  }
});

test('run: arguments reach ... and arg; every result is one JSON line', () => {
  write('args.lua', '#!/usr/bin/env lua\nlocal a, b = ...\nreturn tonumber(a) * tonumber(b), select("#", ...), arg[0], arg[3], { a, b }\n');
  const r = cli(['run', 'args.lua', '6', '7', '--not-a-flag']);
  assert.is(r.code, 0, r.err);
  assert.equal(jsonLines(r.out), [42, 3, 'args.lua', '--not-a-flag', ['6', '7']]);
  const stdin = cli(['run', '-', 'a'], 'return ..., arg[0]\n');
  assert.equal(jsonLines(stdin.out), ['a', '-'], 'run - reads the chunk from stdin');
  const none = cli(['run', write('none.lua', 'local x = 1\n')]);
  assert.is(none.code, 0);
  assert.is(none.out, '');
  const nil = cli(['run', write('nil.lua', 'return nil, 1, nil\n')]);
  assert.is(nil.out, 'null\n1\nnull\n');
});

test('run: values that JSON lacks are printed by the documented rules', () => {
  write('values.lua', [
    'local t = { name = "cycle" } t.self = t',
    'return math.maxinteger, 2^53, 1/0, -1/0, "\\xff\\xfe", "héllo", {1, 2, 3}, {x = 1, [2] = "b", [true] = 0},',
    '  t, print, {}, 0.5',
  ].join('\n'));
  const r = cli(['run', 'values.lua']);
  assert.is(r.code, 0, r.err);
  const v = jsonLines(r.out);
  assert.is(v[0], '9223372036854775807n');
  assert.is(v[1], 9007199254740992);
  assert.is(v[2], 'inf');
  assert.is(v[3], '-inf');
  assert.equal(v[4], { $base64: Buffer.from([0xff, 0xfe]).toString('base64') });
  assert.is(v[5], 'héllo');
  assert.equal(v[6], [1, 2, 3]);
  assert.equal(v[7], { 2: 'b', true: 0, x: 1 });
  assert.equal(v[8], { name: 'cycle', self: '[circular]' });
  assert.match(v[9], /^function: /);
  assert.equal(v[10], {});
  assert.is(v[11], 0.5);
  const pretty = cli(['run', '--pretty', write('pretty.lua', 'return { a = { 1 } }')]);
  assert.is(pretty.out, '{\n  "a": [\n    1\n  ]\n}\n');
});

test('run: print and engine.log go to stderr, stdout keeps only results', () => {
  write('print.lua', 'print("hello", 1) engine.log("warn", "careful") return "done"');
  for (const libs of ['safe', 'all']) {
    const r = cli(['run', '--libs', libs, 'print.lua']);
    assert.is(r.code, 0, r.err);
    assert.is(r.out, '"done"\n', libs);
    assert.match(r.err, 'hello\t1\n');
    assert.match(r.err, '[warn] careful\n');
  }
});

test('run: errors print message and traceback, exit codes per error class', () => {
  const runtime = cli(['run', write('boom.lua', 'local function f()\n  error("boom")\nend\nf()\n')]);
  assert.is(runtime.code, 1);
  assert.is(runtime.out, '');
  assert.match(runtime.err, 'lua: boom.lua:2: boom\nstack traceback:');
  assert.match(runtime.err, "boom.lua:2: in local 'f'");
  assert.match(runtime.err, 'boom.lua:4: in main chunk');
  assert.not.match(runtime.err, 'luapool-cli', 'the CLI hides its own frames');

  const syntax = cli(['run', write('syntax.lua', 'local x = = 1\n')]);
  assert.is(syntax.code, 1);
  assert.match(syntax.err, "lua: syntax.lua:1: unexpected symbol near '='");

  const value = cli(['run', write('value.lua', 'error({ code = 42 })')]);
  assert.is(value.code, 1);
  assert.match(value.err, 'error value: {"code":42}');

  const timeout = cli(['run', '--timeout', '100', write('loop.lua', 'while true do end')]);
  assert.is(timeout.code, 3);
  assert.match(timeout.err, 'TimeoutError');
  assert.match(timeout.err, '--timeout 100 ms');
  assert.is(cli(['run', '--timeout=0.1s', 'loop.lua']).code, 3, '--timeout=0.1s');
  const pcallLoop = cli(['run', '--timeout', '100', write('pcall.lua', 'while true do pcall(function() while true do end end) end')]);
  assert.is(pcallLoop.code, 3);

  const memory = cli(['run', '--memory', '1m', write('bomb.lua', 'local t = {} for i = 1, 1e8 do t[i] = i end')]);
  assert.is(memory.code, 4);
  assert.match(memory.err, 'MemoryLimitError');

  const missing = cli(['run', 'no-such-file.lua']);
  assert.is(missing.code, 6);
  assert.match(missing.err, 'cannot read no-such-file.lua');
});

test('run: --libs safe | all | list', () => {
  write('libs.lua', 'return io ~= nil, os.execute ~= nil, string ~= nil, load ~= nil');
  assert.equal(jsonLines(cli(['run', 'libs.lua']).out), [false, false, true, true]);
  assert.equal(jsonLines(cli(['run', '--libs', 'all', 'libs.lua']).out), [true, true, true, true]);
  const list = cli(['run', '--libs', 'base,io', 'libs.lua']);
  assert.is(list.code, 1, 'os is not opened');
  assert.match(list.err, "global 'os'");
  assert.equal(jsonLines(cli(['run', '--libs', 'base,io,os', write('libs2.lua', 'return io ~= nil, string')]).out), [true, null]);
  assert.equal(jsonLines(cli(['run', '--states', '3', 'libs.lua']).out), [false, false, true, true]);
});

test('run --watch: runs again when the file changes', async () => {
  write('watch.lua', 'return "first"\n');
  const child = spawn(process.execPath, [BIN, 'run', '--watch', 'watch.lua'], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  try {
    await waitFor(() => err, /watching watch\.lua/, 'the first run');
    assert.is(out, '"first"\n');
    fs.writeFileSync(path.join(tmp, 'watch.lua'), 'return "second", 2\n');
    await waitFor(() => out, /"second"\n2\n/, 'the second run');
    assert.match(err, 'watch.lua changed');
    fs.writeFileSync(path.join(tmp, 'watch.lua'), 'error("broken")\n');
    await waitFor(() => err, /watch\.lua:1: broken[\s\S]*exit code 1; watching/, 'the failing run');
    child.kill('SIGINT');
    const how = await within(exited, 20000);
    assert.ok(how !== 'hung', 'Ctrl-C stops --watch');
  } finally {
    child.kill('SIGKILL');
  }
});

test('repl, piped stdin: multi-line chunks, expressions, errors, persistent globals', () => {
  const input = [
    'x = 40',
    'function add(a, b)',
    '  return a + b',
    'end',
    'add(x, 2)',
    'error("oops")',
    'x + 1',
    '"str", nil, 2.0, {1, 2, k = "v"}',
    'local t = {} t.t = t return t',
    'print("side", "effect")',
    'nil + 1',
    '.reset',
    'x',
    'for i = 1,',
  ].join('\n') + '\n';
  const r = cli(['repl'], input);
  assert.is(r.code, 0, r.err);
  assert.is(r.out, [
    '42',
    '41',
    '"str"\tnil\t2.0\t{ 1, 2, k = "v" }',
    '{ t = <cycle> }',
    'side\teffect',
    'globals reset',
    'nil',
    '',
  ].join('\n'));
  assert.match(r.err, 'stdin:1: oops\nstack traceback:');
  assert.match(r.err, 'stdin:1: attempt to perform arithmetic on a nil value');
  assert.match(r.err, /near <eof>\n$/, 'an unfinished last chunk is reported');
  assert.not.match(r.err, 'luapool-repl');
});

test('repl, piped stdin: --timeout interrupts an evaluation and the session goes on', () => {
  const r = cli(['repl', '--timeout', '100', '--libs', 'all'], 'n = 1\nwhile true do end\nn + 1\nio.write("raw\\n")\n');
  assert.is(r.code, 0);
  assert.match(r.err, 'TimeoutError');
  assert.match(r.out, /^2\nraw\nfile \(0x[0-9a-f]+\)\n$/, 'real print/io.write in libs all, in order with the results');
});

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

test('repl in a pseudo-terminal (util-linux script): prompts, continuation, errors, history, .exit', async () => {
  if (!hasScript) {
    console.log('  (skipped: util-linux `script` is not available to provide a pseudo-terminal)');
    return;
  }
  const quote = (s) => `'${s.replace(/'/g, "'\\''")}'`;
  const history = path.join(tmp, 'history.txt');
  const command = `${quote(process.execPath)} ${quote(BIN)} repl --history ${quote(history)}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: tmp, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  const plain = () => out.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/\r/g, '');
  const send = (line) => child.stdin.write(line + '\r');
  try {
    await waitFor(plain, /> $/, 'the first prompt');
    assert.match(plain(), /luapool \d+\.\d+\.\d+ \(Lua 5\.4\.7\)/);
    send('function sq(n)');
    await waitFor(plain, />> $/, 'the continuation prompt');
    send('return n * n end');
    await waitFor(plain, /end\n> $/, 'the prompt after the definition');
    send('sq(12)');
    await waitFor(plain, /\n144\n> $/, 'the value');
    send('error("bad")');
    await waitFor(plain, /stdin:1: bad[\s\S]*> $/, 'the error');
    send('sq(3) + 1');
    await waitFor(plain, /\n10\n> $/, 'a value after the error');
    send('.exit');
    const code = await within(exited, 20000);
    assert.is(code, 0);
    const saved = fs.readFileSync(history, 'utf8');
    assert.match(saved, 'function sq(n)\nreturn n * n end\nsq(12)\n');
  } finally {
    child.kill('SIGKILL');
  }
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test.run();
