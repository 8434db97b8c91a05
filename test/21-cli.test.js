// The luapool CLI: run (JSON results, errors and exit codes, --timeout, --memory, --libs,
// --watch) and repl (piped stdin, and a pseudo-terminal through util-linux `script`).
const { test } = require('uvu');
const assert = require('uvu/assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, spawnSync } = require('child_process');

const BIN = path.join(__dirname, '..', 'bin', 'luapool.js');
const { ExitError } = require('..'); // os.exit in libs 'all' (until it lands, those tests are skipped)
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

test('run and repl: --help, and bad command lines exit with 2', () => {
  const help = cli(['run', '--help']);
  assert.is(help.code, 0);
  assert.match(help.out, 'luapool run [options] file.lua [args…]');
  assert.match(help.out, 'exit codes:');
  for (const [args, msg] of [
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
  write('libs.lua', 'return io.open("libs.lua") ~= nil, os.getenv("PATH") ~= nil, string ~= nil, load ~= nil');
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
  assert.is(r.code, 1, 'a piped session that had errors exits with the first error\'s code');
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

test('repl, piped stdin: exit status 0 without errors, 1 after a syntax error or an unfinished chunk', () => {
  assert.is(cli(['repl'], 'x = 1\nx\n').code, 0);
  assert.is(cli(['repl'], 'x = = 1\nx = 2\n').code, 1);
  assert.is(cli(['repl'], 'for i = 1, 2 do\n').code, 1);
  assert.is(cli(['repl'], '=1 + 1\n').out, '2\n', '=expr is return expr, as in lua');
});

test('run and repl: os.exit(code) in libs all exits with code', () => {
  if (!ExitError) {
    console.log('  (skipped: this build of the library has no ExitError)');
    return;
  }
  const r = cli(['run', '--libs', 'all', write('exit2.lua', 'io.write("out") os.exit(6)')]);
  assert.is(r.code, 6);
  assert.is(r.out, 'out');
  assert.is(cli(['repl', '--libs', 'all'], 'print(1)\nos.exit(4)\nprint(2)\n').code, 4);
  assert.is(cli(['repl', '--libs', 'all'], 'os.exit(true)\n').code, 0);
});

test('repl, piped stdin: --timeout interrupts an evaluation and the session goes on', () => {
  const r = cli(['repl', '--timeout', '100', '--libs', 'all'], 'n = 1\nwhile true do end\nn + 1\nio.write("raw\\n")\n');
  assert.is(r.code, 3, 'the session ends with the code of its first failure (timeout)');
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

// ----------------------------------------------------------------------------------------
// luapool [options] [script [args]]: lua's command line, side by side with the reference
// `lua` built from the same sources by scripts/build-lua-cli.js (started as "luapool", so
// that both print the same program name).
// ----------------------------------------------------------------------------------------

const REF = process.env.LUAPOOL_REF_LUA || path.join(__dirname, '..', 'build-lua', 'lua-cli', 'lua');
const hasRef = fs.existsSync(REF);
let refNoted = false;
function noteRef() {
  if (hasRef || refNoted) return;
  refNoted = true;
  console.log(`  (comparisons with lua skipped: ${path.relative(process.cwd(), REF)} is missing; node scripts/build-lua-cli.js builds it)`);
}

// Both run without the variables lua reads; each test sets the ones it needs.
function cleanEnv(extra = {}) {
  const env = { ...process.env, HOME: tmp };
  for (const k of Object.keys(env)) if (/^LUA_(INIT|PATH|CPATH)/.test(k)) delete env[k];
  return { ...env, ...extra };
}

function spawnBoth(file, args, { input = '', env, argv0 } = {}) {
  const r = spawnSync(file, args, { cwd: tmp, input, env: cleanEnv(env), timeout: 60000, argv0 });
  // arg[-n] holds the interpreter: bin/luapool.js's path for luapool, "luapool" for lua
  const norm = (b) => b.toString('latin1').split(BIN).join('luapool');
  return { code: r.status, signal: r.signal, out: norm(r.stdout), err: norm(r.stderr) };
}
const luapool = (args, opts) => spawnBoth(process.execPath, [BIN, ...args], opts);
const lua = (args, opts) => spawnBoth(REF, args, { ...opts, argv0: 'luapool' });

/** Runs args through luapool (with extra luapool options first) and lua; both must agree. */
function same(args, opts = {}, extra = []) {
  const ours = luapool([...extra, ...args], opts);
  if (!hasRef) { noteRef(); return ours; }
  const ref = lua(args, opts);
  const what = `${[...extra, ...args].join(' ')}${opts.input ? ` < ${JSON.stringify(opts.input)}` : ''}` +
    `${ours.signal ? ` (luapool killed by ${ours.signal})` : ''}${ref.signal ? ` (lua killed by ${ref.signal})` : ''}`;
  assert.is(ours.out, ref.out, `stdout of ${what}`);
  assert.is(ours.err, ref.err, `stderr of ${what}`);
  assert.is(ours.code, ref.code, `exit status of ${what}`);
  return ours;
}

write('boom.lua', 'local function f()\n  error("boom")\nend\nf()\n');
const BOOM = "luapool: boom.lua:2: boom\nstack traceback:\n\t[C]: in function 'error'\n\tboom.lua:2: in local 'f'\n\tboom.lua:4: in main chunk\n\t[C]: in ?\n";

test('lua mode: a script, its arguments as ... and arg (negative indices: options, interpreter)', () => {
  write('show.lua', '#!/usr/bin/env lua\nprint(select("#", ...), ...)\nfor i = -4, #arg do io.write(i, "=", tostring(arg[i]), " ") end print()\n');
  const r = same(['show.lua', 'a', 'b c']);
  assert.is(r.code, 0, r.err);
  assert.is(r.out, '2\ta\tb c\n-4=nil -3=nil -2=nil -1=luapool 0=show.lua 1=a 2=b c \n');
  const opts = same(['-e', 'x=1', 'show.lua', '-e', '--']);
  assert.is(opts.out, '2\t-e\t--\n-4=nil -3=luapool -2=-e -1=x=1 0=show.lua 1=-e 2=-- \n', 'options after the script are its arguments');
  same(['-e', 'print(arg[0], arg[1], arg[2], #arg)']);
  same(['-e', 'arg = nil', 'show.lua']);
  same(['-e', 'arg = { "only" }', 'show.lua', 'x']);
  same(['--', 'show.lua', 'y']);
});

test('lua mode: print writes to stdout; errors go to stderr as "luapool: msg" with a traceback, exit status 1', () => {
  const boom = same(['boom.lua']);
  assert.is(boom.code, 1);
  assert.is(boom.out, '');
  assert.is(boom.err, BOOM);
  const syntax = same([write('syntax.lua', 'print("never")\nlocal x = = 1\n')]);
  assert.is(syntax.err, "luapool: syntax.lua:2: unexpected symbol near '='\n");
  const missing = same(['no-such-file.lua']);
  assert.is(missing.err, 'luapool: cannot open no-such-file.lua\n'.replace('\n', ': No such file or directory\n'));
  assert.is(missing.code, 1);
  assert.is(same(['-e', 'print("out") io.write("partial")']).out, 'out\npartial');
  same(['-e', 'io.write("before") error("after")']);
  same(['-e', 'print(1)', '-e', 'error("two")', '-e', 'print(3)']);
  for (const e of ['error({})', 'error()', 'error(42)', 'error(4.5)', 'error("plain", 0)', 'error(true)',
    'error(setmetatable({}, { __tostring = function() return "custom" end }))',
    'error(setmetatable({}, { __tostring = function() return 1 end }))',
    'error(setmetatable({}, { __tostring = function() error("inner") end }))',
    'local t = setmetatable({}, { __index = function(t, k) error("no " .. k) end }) return t.key',
    'coroutine.wrap(function() error("in a coroutine") end)()',
    'string.rep()', 'local x <close> = 1', 'goto nowhere', 'x = 1 +', 'return ("x"):bad()',
    'assert(load("error(\'loaded\')", "=chunk"))()', 'assert(false)', 'assert(nil, "assertion")',
    'pcall(error) error(select(2, pcall(error, "again")))', 'print(xpcall(error, debug.traceback, "tb"))']) {
    same(['-e', e]);
  }
  // tracebacks longer than 22 levels are cut the way luaL_traceback cuts them
  const deep = same([write('deep.lua', 'local function g(n) if n == 0 then error("deep") end g(n - 1) end\ng(30)\n')]);
  assert.match(deep.err, '\t...\t(skipping 12 levels)\n');
  same(['-e', 'local function t(n) if n == 0 then error("tail") end return t(n - 1) end t(40)']);
  same(['-e', 'local function f() return setmetatable({}, { __index = function(t, k) return nil + k end }).x end f()']);
});

test('lua mode: debug.traceback called by scripts shows their frames as with lua', () => {
  for (const e of ['print(xpcall(error, debug.traceback, "tb"))', 'print(debug.traceback())',
    'print(debug.traceback("m", 0))', 'print(debug.traceback("m", 2))', 'print(debug.traceback(12))',
    'print(debug.traceback({}) ~= nil)', 'print(debug.traceback(nil, -1))', 'print(debug.traceback("m", 50))',
    'local function f(n) if n == 0 then return debug.traceback("deep", 2) end return (f(n - 1)) end print(f(40))',
    'print(xpcall(function() error("e") end, function(m) return debug.traceback(m, 2) end))',
    'print(xpcall(function() error("e") end, function(m) local t = debug.traceback(m) return t end))',
    'print(coroutine.wrap(function() local t = debug.traceback("co") return t end)())',
    'local co = coroutine.create(function() coroutine.yield() end) coroutine.resume(co) print(debug.traceback(co, "other"))',
    'print(debug.traceback("x", "1"))']) {
    same(['-e', e]);
  }
  // The one known difference: lua's debug.traceback is a C function, which a tail call does
  // not replace; luapool's is Lua, so `return debug.traceback()` loses the caller's frame.
  const tail = luapool(['-e', 'local function f() return debug.traceback("t") end print(f())']);
  assert.is(tail.out, "t\nstack traceback:\n\t(command line):1: in main chunk\n\t[C]: in ?\n");
});

test('lua mode: -e, -l mod, -l g=mod, -l mod-suffix and -W run in command-line order', () => {
  write('mymod.lua', 'return { name = "mymod", seen = counter }\n');
  write('mymod-v2.lua', 'return "version 2"\n');
  const r = same(['-e', 'counter = 5', '-l', 'mymod', '-e', 'print(mymod.name, mymod.seen)']);
  assert.is(r.out, 'mymod\t5\n');
  assert.is(same(['-lm=mymod', '-e', 'print(m.name, mymod)']).out, 'mymod\tnil\n');
  assert.is(same(['-l', 'mymod-v2', '-e', 'print(mymod)']).out, 'version 2\n', 'the suffix after - is cut from the global name');
  assert.is(same(['-l', 'x=mymod-v2', '-e', 'print(x)']).out, 'version 2\n');
  const missing = same(['-e', 'print("first")', '-l', 'nomod', '-e', 'print("never")']);
  assert.is(missing.code, 1);
  assert.match(missing.err, "luapool: module 'nomod' not found:\n\tno field package.preload['nomod']");
  assert.match(missing.err, "stack traceback:\n\t[C]: in function 'require'\n\t[C]: in ?\n");
  same(['-e', 'require = nil', '-l', 'mymod']);
  same(['-e', 'print(1)', '-eprint(2)', '-e', '']);
  assert.is(same(['-W', '-e', 'warn("a", "b", 3)']).err, 'Lua warning: ab3\n');
  assert.is(same(['-e', 'warn("hidden")', '-W', '-e', 'warn("shown")']).err, 'Lua warning: shown\n');
  same(['-e', 'warn("@on") warn("x") warn("@off") warn("y") warn("@on") warn("@other") warn("z")']);
  same(['-e', 'warn()']);
});

test('lua mode: - and piped stdin as the script, -- and a file named -', () => {
  const dash = same(['-', 'a', 'b'], { input: 'print("stdin", arg[0], ...)\n' });
  assert.is(dash.out, 'stdin\t-\ta\tb\n');
  const piped = same([], { input: 'print("piped")\nerror("oops")\n' });
  assert.is(piped.out, 'piped\n');
  assert.match(piped.err, 'luapool: stdin:2: oops\nstack traceback:');
  assert.is(piped.code, 0, 'as lua.c does, the status of stdin run without arguments is not checked');
  assert.is(same(['-'], { input: 'error("oops")' }).code, 1, '- checks it');
  same(['-'], { input: '#!/bin/lua\nprint(debug.getinfo(1, "l").currentline)\n' });
  same(['-'], { input: 'x = = 1' });
  write('-', 'print("the file named -", ...)\n');
  assert.is(same(['--', '-', 'q']).out, 'the file named -\tq\n');
  same(['-e', 'print(1)', '-'], { input: 'print(2)' });
  same([], { input: 'print(io.read("a"))' }, ['--timeout', '5000']);
});

test('lua mode: -v, -i and the REPL on piped stdin', () => {
  const v = same(['-v']);
  assert.is(v.out, 'Lua 5.4.7  Copyright (C) 1994-2024 Lua.org, PUC-Rio\n');
  same(['-v', '-e', 'print(1)']);
  same(['-e', 'print(1)', '-v']);
  const session = [
    '=1 + 1', '1, "a", nil', 'x = 5', 'x', 'function f()', '  return 3', 'end', 'f()', 'error("x")',
    'error({})', 'print(nil)', 'local y = 1', 'y', '"str", false', 'return', '_PROMPT = "P> "',
    '_PROMPT2 = setmetatable({}, { __tostring = function() return "Q> " end })', 'if x then',
    'print(x) end', 'x = = 1', 'print = nil', '1', 'for i = 1,',
  ].join('\n') + '\n';
  const r = same(['-i'], { input: session });
  assert.match(r.out, /^Lua 5\.4\.7 {2}Copyright .*\n> 2\n> 1\ta\tnil\n> > 5\n> >> >> > 3\n> /);
  assert.match(r.err, "stdin:1: x\nstack traceback:\n\t[C]: in function 'error'\n\tstdin:1: in main chunk\n\t[C]: in ?\n");
  assert.match(r.err, "error calling 'print' (attempt to call a nil value)\n");
  assert.match(r.err, /Q> \n$/, 'input that ends inside a statement: lua.c reports what is left on its stack');
  assert.is(r.code, 0);
  same(['-i'], { input: 'if true then\n' });
  const read = same(['-i'], { input: 'x = io.read()\nhello world\nx\n#x\n' });
  assert.match(read.out, '> > hello world\n> 11\n', 'io.read reads the same stdin as the REPL');
  same(['-i', 'boom.lua'], { input: 'print("no REPL after an error")\n' });
  same(['-e', 'y = 2', '-i', write('s.lua', 'z = (y or 0) + 1\n')], { input: 'y, z\n' });
  same(['-i'], { input: '_PROMPT = setmetatable({}, { __tostring = function() error("bad prompt") end })\n1\n' });
  same(['-i'], { input: '' });
});

test('lua mode: LUA_INIT_5_4, then LUA_INIT (@file too); -E ignores them and LUA_PATH/LUA_CPATH', () => {
  const init = same(['-e', 'print(2)'], { env: { LUA_INIT: 'print("init")' } });
  assert.is(init.out, 'init\n2\n');
  assert.is(same(['-e', 'print(2)'], { env: { LUA_INIT_5_4: 'print("5.4")', LUA_INIT: 'print("plain")' } }).out, '5.4\n2\n');
  write('init.lua', 'print("init file", ...)\ninitialised = true\n');
  assert.is(same(['-e', 'print(initialised)'], { env: { LUA_INIT: '@init.lua' } }).out, 'init file\ntrue\n');
  same(['-e', 'print(2)'], { env: { LUA_INIT: 'error("bad init")' } });
  same(['-e', 'print(2)'], { env: { LUA_INIT_5_4: '@missing.lua' } });
  same(['-e', 'print(2)'], { env: { LUA_INIT: 'x = = 1' } });
  const env = { LUA_INIT: 'print("init")', LUA_PATH: '/x/?.lua', LUA_CPATH_5_4: '/y/?.so' };
  const withEnv = same(['-e', 'print(package.path) print(package.cpath)'], { env });
  assert.is(withEnv.out.split('\n').slice(0, 3).join('|'), 'init|/x/?.lua|/y/?.so');
  const noEnv = same(['-E', '-e', 'print(package.path) print(package.cpath) print(os.getenv("LUA_PATH"))'], { env });
  assert.ok(!noEnv.out.startsWith('init\n'), 'no LUA_INIT');
  assert.match(noEnv.out, /^\/usr\/local\/share\/lua\/5\.4\/\?\.lua;.*\n.*\.so\n\/x\/\?\.lua\n$/);
});

test('lua mode: bad options give lua\'s usage message and exit 1; --help lists every option; --version', () => {
  for (const [args, first] of [
    [['-x'], "luapool: unrecognized option '-x'"],
    [['-e'], "luapool: '-e' needs argument"],
    [['-l'], "luapool: '-l' needs argument"],
    [['-l', '-e', 'x'], "luapool: '-l' needs argument"],
    [['-vx'], "luapool: unrecognized option '-vx'"],
    [['-ix'], "luapool: unrecognized option '-ix'"],
    [['-E1'], "luapool: unrecognized option '-E1'"],
    [['--frob'], "luapool: unrecognized option '--frob'"],
    [['-h'], "luapool: unrecognized option '-h'"],
    [['-e', 'print(1)', '-y', 'x.lua'], "luapool: unrecognized option '-y'"],
  ]) {
    const r = luapool(args);
    assert.is(r.code, 1, args.join(' '));
    assert.is(r.out, '');
    assert.ok(r.err.startsWith(`${first}\nusage: luapool [options] [script [args]]\nAvailable options are:\n  -e stat   execute string 'stat'\n`), r.err);
    assert.match(r.err, '  --timeout MS ', 'luapool\'s options follow lua\'s');
    if (hasRef) assert.ok(r.err.startsWith(lua(args).err), `lua's message is the start of luapool's (${args.join(' ')})`);
  }
  noteRef();
  for (const [args, msg] of [
    [['--timeout'], "luapool: '--timeout' needs argument"],
    [['--timeout', 'soon', '-e', ''], "luapool: --timeout must be milliseconds (e.g. 500, 500ms, 2s), got 'soon'"],
    [['--memory=12', '-e', ''], '--memory must be 0 (none) or at least 64k'],
    [['--libs', 'base,nope', '-e', ''], "unknown library 'nope'"],
    [['--watch', '-e', ''], '--watch needs a script file'],
    [['--safe=1'], "unrecognized option '--safe=1'"],
  ]) {
    const r = luapool(args);
    assert.is(r.code, 1, args.join(' '));
    assert.match(r.err, msg);
    assert.match(r.err, '\nusage: luapool [options] [script [args]]\n');
  }
  const help = luapool(['--help']);
  assert.is(help.code, 0);
  for (const opt of ['-e stat', '-i  ', '-l mod', '-l g=mod', '-v  ', '-E  ', '-W  ', '--  ', '-   ',
    '--libs LIBS', '--safe', '--timeout MS', '--memory BYTES', '--json', '--pretty', '--watch', '--help', '--version',
    'luapool run [options] file.lua', 'luapool repl [options]', 'LUA_INIT_5_4', 'exit status']) {
    assert.match(help.out, `  ${opt}`.trimEnd().length ? opt : opt, `--help mentions ${opt}`);
  }
  assert.is(luapool(['-e', 'print(1)', '--help']).out, help.out, '--help wins wherever it is');
  assert.match(luapool(['--version']).out, /^luapool \d+\.\d+\.\d+ \(Lua 5\.4\.7\)\n$/);
});

test('lua mode: --safe and --libs (the sandbox): print to stdout, lua\'s error messages', () => {
  const hi = luapool(['--safe', '-e', 'print("hi", io.open("x"), os.getenv("HOME"), os.time ~= nil)']);
  assert.is(hi.out, 'hi\tnil\tnil\ttrue\n');
  assert.is(hi.code, 0);
  const boom = same(['boom.lua'], {}, ['--safe']);
  assert.is(boom.err, BOOM);
  assert.is(same(['-e', 'x = 40', '-e', 'print(x + 2)'], {}, ['--safe']).out, '42\n');
  same(['-e', 'error({})'], {}, ['--safe']);
  same(['-e', 'x = = 1'], {}, ['--safe']);
  same([write('args2.lua', 'print(..., #arg, arg[0])'), 'a', 'b'], {}, ['--safe']);
  same(['no-such-file.lua'], {}, ['--safe']);
  same(['-', 'x'], { input: '#!shebang\nprint(..., "from stdin") error("e")' }, ['--safe']);
  same(['-W', '-e', 'warn("a", "b")', '-e', 'warn("@off") warn("hidden")'], {}, ['--safe']);
  same(['-e', 'warn("hidden") warn("@on") warn("shown")'], {}, ['--safe']);
  same(['-i'], { input: '=1 + 1\n1, "a", nil\nx = 5\nx\nfunction f()\nreturn 3 end\nf()\nerror("x")\nprint = 1\n1\nfor i = 1,\n' }, ['--safe']);
  assert.is(luapool(['--libs', 'base,string', '-e', 'print(string.upper("x"), table, math)']).out, 'X\tnil\tnil\n');
  const lib = luapool(['--safe', '-l', 'mymod']);
  assert.is(lib.code, 1);
  // the sandbox's require never reads files
  assert.match(lib.err, "module 'mymod' not found:\n\tno field package.preload['mymod']\n\tno module 'mymod' defined");
  const log = luapool(['--safe', '-e', 'engine.log("warn", "careful") print("out")']);
  assert.is(log.out, 'out\n');
  assert.is(log.err, '[warn] careful\n');
});

test('lua mode: --timeout and --memory bound each chunk; the REPL goes on after them', () => {
  const t = luapool(['--timeout', '100', '-e', 'while true do end']);
  assert.is(t.code, 3);
  assert.is(t.err, 'luapool: TimeoutError: script timed out (--timeout 100 ms)\n');
  assert.is(luapool(['--timeout=0.1s', '--safe', '-e', 'while true do pcall(function() while true do end end) end']).code, 3);
  const m = luapool(['--memory', '1m', '-e', 'local t = {} for i = 1, 1e8 do t[i] = i end']);
  assert.is(m.code, 4);
  assert.match(m.err, 'luapool: MemoryLimitError: memory limit exceeded');
  const repl = luapool(['--timeout', '200', '-i'], { input: 'n = 1\nwhile true do end\nn + 1\n' });
  assert.is(repl.code, 0);
  assert.match(repl.out, '> > > 2\n> \n');
  assert.is(repl.err, 'TimeoutError: script timed out (--timeout 200 ms)\n');
  assert.is(luapool(['--timeout', '100', '-'], { input: 'print(io.read("l"))\n' }).code, 0, 'reading the script is not timed');
});

test('lua mode: --json prints the values the script returns as JSON lines; print goes to stderr', () => {
  write('json.lua', 'print("to stderr") io.write("raw\\n") return 1, "two", { 3, x = nil }, nil, { k = 2^53 }, print\n');
  const r = luapool(['--json', 'json.lua', 'arg']);
  assert.is(r.code, 0, r.err);
  const lines = r.out.split('\n');
  assert.equal(lines.slice(0, 5), ['raw', '1', '"two"', '[3]', 'null']);
  assert.is(lines[5], '{"k":9007199254740992}');
  assert.match(lines[6], /^"(builtin|function): /);
  assert.is(r.err, 'to stderr\n');
  const safe = luapool(['--safe', '--json', '--pretty', write('json2.lua', 'print("log") return { a = { 1 } }')]);
  assert.is(safe.out, '{\n  "a": [\n    1\n  ]\n}\n');
  assert.is(safe.err, 'log\n');
  assert.is(luapool(['--json', 'boom.lua']).err, BOOM);
});

test('lua mode: --watch runs the command line again when the script changes, and cancels a running one', async () => {
  write('lwatch.lua', 'print("first", ...)\n');
  const child = spawn(process.execPath, [BIN, '--watch', '-e', 'io.write("e ")', 'lwatch.lua', 'A'], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv() });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  try {
    await waitFor(() => err, /done; watching lwatch\.lua/, 'the first run');
    assert.is(out, 'e first\tA\n');
    fs.writeFileSync(path.join(tmp, 'lwatch.lua'), 'print("second") io.stdout:flush() while true do end\n');
    await waitFor(() => out, /second\n/, 'the second run');
    fs.writeFileSync(path.join(tmp, 'lwatch.lua'), 'error("broken")\n');
    await waitFor(() => err, /lwatch\.lua:1: broken[\s\S]*exit code 1; watching/, 'the failing run, after the endless one was cancelled');
    assert.match(err, 'lwatch.lua changed: run 3');
    child.kill('SIGINT');
    const how = await within(exited, 20000);
    assert.ok(how !== 'hung', 'Ctrl-C stops --watch');
    assert.is(how.code, 0);
  } finally {
    child.kill('SIGKILL');
  }
});

test('lua mode: os.exit(code) ends luapool with that code, stdout flushed', () => {
  if (!ExitError) {
    console.log('  (skipped: this build of the library has no ExitError)');
    return;
  }
  const r = same(['-e', 'io.write("out") os.exit(3)']);
  assert.is(r.code, 3);
  assert.is(r.out, 'out');
  assert.is(same(['-e', 'os.exit(true)', '-e', 'print("never")']).code, 0);
  assert.is(same(['-e', 'os.exit(false)']).code, 1);
  assert.is(same(['-e', 'os.exit()']).code, 0);
  assert.is(same(['-e', 'os.exit(7, true)']).code, 7);
  assert.is(same(['-i'], { input: 'print("in")\nos.exit(5)\nprint("never")\n' }).code, 5);
  assert.is(same([write('exit.lua', 'setmetatable({}, { __gc = function() print("gc") end }) os.exit(0, true)')]).out, 'gc\n');
});

test('lua mode: the REPL in a pseudo-terminal: banner, prompts, io.read, Ctrl-C interrupts a chunk, then ends luapool', async () => {
  if (!hasScript) {
    console.log('  (skipped: util-linux `script` is not available to provide a pseudo-terminal)');
    return;
  }
  const quote = (x) => `'${x.replace(/'/g, "'\\''")}'`;
  const session = async (command, { lineEditing }) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: tmp, stdio: ['pipe', 'pipe', 'pipe'], env: cleanEnv() });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    const plain = () => out.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/\r/g, '');
    const send = (line) => child.stdin.write(line + '\r');
    try {
      await waitFor(plain, /Lua 5\.4\.7 {2}Copyright \(C\) 1994-2024 Lua\.org, PUC-Rio\n> $/, 'the banner and the first prompt');
      send('function sq(n)');
      await waitFor(plain, />> $/, 'the continuation prompt');
      send('return n * n end');
      await waitFor(plain, /end\n> $/, 'the prompt after the definition');
      send('sq(12)');
      await waitFor(plain, /\n144\n> $/, 'the value');
      if (!lineEditing) {
        send('io.write("? ") io.stdout:flush() x = io.read()');
        await waitFor(plain, /\n\? $/, 'io.read waiting');
        send('typed');
        await waitFor(plain, /\? typed\n> $/, 'the prompt after io.read');
        send('x');
        await waitFor(plain, /\n> x\ntyped\n> $/, 'the line io.read read');
      }
      send('print("looping") while true do end');
      await waitFor(plain, /\nlooping\n$/, 'the endless loop');
      child.stdin.write('\x03');
      await waitFor(plain, /interrupted![\s\S]*> $/, 'the interruption');
      send('sq(3) + 1');
      await waitFor(plain, /\n10\n> $/, 'a value after the interruption');
      child.stdin.write('\x03');
      const how = await within(exited, 20000);
      assert.ok(how !== 'hung', 'Ctrl-C at the prompt ends the process');
      return plain();
    } finally {
      child.kill('SIGKILL');
    }
  };
  await session(`${quote(process.execPath)} ${quote(BIN)}`, { lineEditing: false });
  await session(`${quote(process.execPath)} ${quote(BIN)} --safe`, { lineEditing: true });
  if (hasRef) await session(quote(REF), { lineEditing: false });
  noteRef();
});

test('docs/api.md, Command line: every console snippet prints what it shows', () => {
  const doc = fs.readFileSync(path.join(__dirname, '..', 'docs', 'api.md'), 'utf8');
  const section = doc.slice(doc.indexOf('\n## Command line'), doc.indexOf('\n## When not to use it'));
  const blocks = [...section.matchAll(/```console\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(blocks.length >= 4, 'the section has console snippets');
  const quote = (x) => `'${x.replace(/'/g, "'\\''")}'`;
  let commands = 0;
  for (const block of blocks) {
    const dir = fs.mkdtempSync(path.join(tmp, 'doc-'));
    const steps = [];
    for (const line of block.replace(/\n$/, '').split('\n')) {
      if (line.startsWith('$ ')) steps.push({ command: line.slice(2), expected: [] });
      else steps[steps.length - 1].expected.push(line);
    }
    for (const { command, expected } of steps) {
      const run = command.replace(/npx luapool/g, `${quote(process.execPath)} ${quote(BIN)}`);
      const r = spawnSync('bash', ['-c', `( ${run} ) 2>&1`], { cwd: dir, encoding: 'utf8', env: cleanEnv(), timeout: 60000 });
      assert.is(r.stdout, expected.length ? `${expected.join('\n')}\n` : '', `$ ${command}`);
      commands++;
    }
  }
  assert.ok(commands >= 15, `${commands} commands`);
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test.run();
