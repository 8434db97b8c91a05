#!/usr/bin/env node
// luapool: the command-line tool. `luapool [options] [script [args]]` is the standalone
// `lua` 5.4 command line run on a luapool state (bin/lua-mode.js). Two subcommands stay:
// `luapool run file.lua [args…]` runs a file on a pool of lua_States and prints its
// results as JSON; `luapool repl` is an interactive console into a context (persistent
// globals). See `luapool --help`, docs/api.md#command-line and examples/README.md.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');
const {
  EXIT, UsageError, parseTimeout, parseBytes, parseLibs, toJsonData,
  exitCodeFor, logLine, isExit,
} = require('./common');
const { luaMain } = require('./lua-mode');
const { typesMain } = require('./types-command');

const PKG = require('../package.json');

const HELP = `luapool ${PKG.version}: genuine Lua 5.4 on a pool of native lua_States

usage:
  luapool run [options] file.lua [args…]   run a file (- for stdin), print its results as JSON
  luapool repl [options]                    interactive console into a context
  luapool types [--host module.js] [-o file] Lua Language Server definitions (luapool types --help)
  luapool [options] [script [args]]         lua's command line (luapool --help)

options (run and repl):
  --timeout MS      time budget per run/evaluation in milliseconds (also 2s, 500ms); default none
  --memory BYTES    memory limit per state (suffixes k, m, g: 64m); default none
  --libs LIBS       'safe' (default), 'all' (plain Lua, trusted code) or a list:
                    base,string,table,math,utf8,coroutine,os,io,debug,package
  --states N        lua_States in the pool (default 1)
run only:
  --watch           run again whenever the file changes (Ctrl-C to stop)
  --pretty          indent the JSON output
repl only:
  --no-history      do not read or write the history file
  --history FILE    history file (default ~/.luapool_history)

run prints every value the chunk returns as one JSON value per line (JSON Lines, in
order; \`return\` with no values prints nothing). Lua -> JSON: nil is null, integers beyond
2^53 are strings with an "n" suffix ("9007199254740993n"), inf/-inf/nan are the strings
"inf", "-inf", "nan", strings that are not valid UTF-8 are {"$base64": "…"}, a sequence
1..n is an array, any other table an object (keys as strings, sorted), a table seen again
inside itself "[circular]", functions/userdata/threads their tostring() ("function: 0x…").
Arguments after the file reach the chunk as \`...\` (strings) and as the global \`arg\`
(arg[0] is the file name). print and engine.log go to stderr; errors go to stderr with a
traceback.

exit codes: 0 ok, 1 Lua error (runtime or syntax), 2 usage, 3 timeout, 4 memory limit,
5 a result could not be converted, 6 the file could not be read, 8 other luapool error,
130 interrupted (Ctrl-C); a piped repl exits with the code of its first error.

repl: a chunk that is incomplete (Lua says "near <eof>") continues on the next line
(prompt ">>"); "return " .. line is tried first, so expressions print their values;
.help, .reset (forget the globals), .exit (or Ctrl-D). With piped stdin it reads every
line, evaluates each complete chunk and prints the results (no prompts).`;

// ----------------------------------------------------------------------------------------
// Command line
// ----------------------------------------------------------------------------------------

const VALUE_FLAGS = { run: ['timeout', 'memory', 'libs', 'states'], repl: ['timeout', 'memory', 'libs', 'states', 'history'] };
const BOOL_FLAGS = { run: ['watch', 'pretty'], repl: ['no-history'] };

function parseCommandLine(argv) {
  const command = argv[0];
  if (command !== 'run' && command !== 'repl') throw new UsageError(`unknown command '${command}' (expected run or repl)`);
  const flags = {};
  const rest = [];
  let i = 1;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { i++; break; }
    if (!a.startsWith('-') || a === '-') break;
    if (a === '--help' || a === '-h') return { command: 'help' };
    const eq = a.indexOf('=');
    const name = (eq === -1 ? a : a.slice(0, eq)).replace(/^--?/, '');
    if (VALUE_FLAGS[command].includes(name)) {
      let value;
      if (eq !== -1) value = a.slice(eq + 1);
      else if (i + 1 < argv.length) value = argv[++i];
      else throw new UsageError(`option '--${name}' needs a value`);
      flags[name] = value;
    } else if (BOOL_FLAGS[command].includes(name)) {
      if (eq !== -1) throw new UsageError(`option '--${name}' takes no value`);
      flags[name] = true;
    } else {
      throw new UsageError(`unknown option '${a}' for '${command}'`);
    }
  }
  rest.push(...argv.slice(i));
  const o = { command, ...runnerFlags(flags), watch: flags.watch === true, pretty: flags.pretty === true };
  if (command === 'run') {
    if (rest.length === 0) throw new UsageError('run: missing the file to run');
    o.file = rest[0];
    o.args = rest.slice(1);
  } else {
    if (rest.length > 0) throw new UsageError(`repl: unexpected argument '${rest[0]}'`);
    o.history = flags['no-history'] ? null : (flags.history ?? path.join(os.homedir(), '.luapool_history'));
  }
  return o;
}

function runnerFlags(f) {
  const o = { states: 1, timeoutMs: 0, memoryLimit: 0, libs: 'safe' };
  if (f.states !== undefined) {
    if (!/^\d+$/.test(f.states) || Number(f.states) < 1 || Number(f.states) > 1024) {
      throw new UsageError(`--states must be an integer from 1 to 1024, got '${f.states}'`);
    }
    o.states = Number(f.states);
  }
  if (f.timeout !== undefined) o.timeoutMs = parseTimeout(f.timeout);
  if (f.memory !== undefined) o.memoryLimit = parseBytes(f.memory);
  if (f.libs !== undefined) o.libs = parseLibs(f.libs);
  return o;
}

// ----------------------------------------------------------------------------------------
// Values and errors
// ----------------------------------------------------------------------------------------

// Runs inside the context: compiles the file with load() (so a syntax error is told apart
// from a runtime error), sets `arg`, calls the chunk and makes its results convertible
// (functions, userdata and threads become their tostring()).
const RUN_DRIVER = String.raw`local name, file, nargs, src = ...
local select, next, type, tostring, load = select, next, type, tostring, load
local args = { [0] = file }
for i = 1, nargs do args[i] = select(4 + i, ...) end
arg = args
local __main, err = load(src, name, "t", _ENV)
if not __main then return 1, err end
local function sanitize(v, memo)
  local t = type(v)
  if t == "table" then
    if memo[v] then return memo[v] end
    local c = {}
    memo[v] = c
    for k, x in next, v do c[sanitize(k, memo)] = sanitize(x, memo) end
    return c
  elseif t == "function" or t == "userdata" or t == "thread" then
    return tostring(v)
  end
  return v
end
local function pack(...) return select("#", ...), { ... } end
local n, results = pack(__main(select(5, ...)))
local memo, out = {}, {}
for i = 1, n do out[i] = sanitize(results[i], memo) end
return 0, n, out`;

const DRIVER_NAME = 'luapool-cli';

// Lua's print goes straight to the process's stdout in libs 'all' mode; the CLI keeps
// stdout for results, so print writes to stderr there (sandboxed print is a log action).
const ALL_MODE_PRELUDE = String.raw`local stderr = io and io.stderr
if not stderr then return end
local select, tostring, concat = select, tostring, table.concat
local function eprint(...)
  local n, t = select("#", ...), { ... }
  for i = 1, n do t[i] = tostring(t[i]) end
  stderr:write(concat(t, "\t", 1, n), "\n")
end
print = eprint
local reg = debug and debug.getregistry and debug.getregistry()
if reg and type(reg[2]) == "table" then reg[2].print = eprint end
io.stdout:setvbuf("no")`;

/** Removes the CLI's own frames from a Lua traceback. */
function cleanTraceback(tb) {
  return tb.split('\n')
    .filter((line, i) => i === 0 || !(line.startsWith('\t') &&
      (line.includes(`${DRIVER_NAME}:`) || line.includes('luapool-repl:') || line === '\t[C]: in ?')))
    .join('\n')
    .replace(/in local '__main'/g, 'in main chunk')
    .replace(/in function <stdin:0>/g, 'in main chunk');
}

function describeError(err, o) {
  if (!err || typeof err !== 'object') return `luapool: ${String(err)}`;
  switch (err.code) {
    case 'ERR_LUA': {
      let text = `lua: ${cleanTraceback(err.traceback || err.message)}`;
      if (err.value !== undefined && typeof err.value !== 'string') {
        text += `\nerror value: ${JSON.stringify(toJsonData(err.value))}`;
      }
      return text;
    }
    case 'ERR_TIMEOUT':
      return `luapool: TimeoutError: ${err.message}${o && o.timeoutMs ? ` (--timeout ${o.timeoutMs} ms)` : ''}`;
    case 'ERR_MEMORY_LIMIT':
      return `luapool: MemoryLimitError: ${err.message}${o && o.memoryLimit ? ` (--memory ${o.memoryLimit} bytes)` : ''}`;
    case 'ERR_CANCELLED': return `luapool: interrupted (${err.message})`;
    default:
      return `luapool: ${err.name || 'Error'}${err.code ? ` [${err.code}]` : ''}: ${err.message}`;
  }
}

function newRunner(o, extra = {}) {
  const { ScriptRunner } = require('luapool');
  try {
    return new ScriptRunner({
      states: o.states, libs: o.libs, timeoutMs: o.timeoutMs, memoryLimit: o.memoryLimit,
      bytes: 'buffer', tables: 'map', ...extra,
    });
  } catch (e) {
    if (e instanceof TypeError || e instanceof RangeError) throw new UsageError(e.message);
    throw e;
  }
}

// ----------------------------------------------------------------------------------------
// run
// ----------------------------------------------------------------------------------------

/** Runs the file once; resolves with the exit code. */
async function runOnce(o, signal) {
  let source;
  try {
    source = fs.readFileSync(o.file === '-' ? 0 : o.file, 'utf8'); // '-': stdin, as lua does
  } catch (e) {
    process.stderr.write(`luapool: cannot read ${o.file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}\n`);
    return EXIT.noinput;
  }
  if (source.startsWith('#')) source = source.replace(/^#[^\n]*/, ''); // a shebang line, as lua.c skips it
  const runner = newRunner(o);
  runner.on('log', (a) => process.stderr.write(`${logLine(a)}\n`));
  runner.on('post', (a) => process.stderr.write(`[post ${a.name}] ${JSON.stringify(toJsonData(a.data))}\n`));
  const onAbort = () => runner.close({ force: true }).catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  const ctx = runner.context('main');
  try {
    if (o.libs === 'all') await ctx.run(ALL_MODE_PRELUDE, { name: DRIVER_NAME });
    const out = await ctx.run(RUN_DRIVER, {
      name: DRIVER_NAME, multret: true, args: ['@' + o.file, o.file, o.args.length, source, ...o.args],
    });
    if (out[0] === 1) {
      process.stderr.write(`lua: ${out[1].toString('utf8')}\n`);
      return EXIT.lua;
    }
    const list = out[2];
    const lines = [];
    for (let i = 1; i <= out[1]; i++) {
      lines.push(JSON.stringify(toJsonData(list.get(i)), null, o.pretty ? 2 : undefined) + '\n');
    }
    process.stdout.write(lines.join(''));
    return EXIT.ok;
  } catch (err) {
    if (signal?.aborted) return EXIT.interrupted;
    if (isExit(err)) return err.exitCode; // os.exit(code) in libs 'all' (stdout is unbuffered there)
    process.stderr.write(describeError(err, o) + '\n');
    return exitCodeFor(err);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await runner.close({ force: true });
  }
}

async function commandRun(o) {
  const sigint = new AbortController();
  process.once('SIGINT', () => sigint.abort());
  if (!o.watch) return runOnce(o, sigint.signal);

  // --watch: run, then again on every change of the file. A run still going when the
  // file changes is cancelled. Ctrl-C stops.
  const file = path.resolve(o.file);
  let current;
  let again = false;
  let runs = 0;
  const start = async () => {
    if (current) { again = true; current.abort(); return; }
    do {
      again = false;
      current = new AbortController();
      const stop = () => current.abort();
      sigint.signal.addEventListener('abort', stop, { once: true });
      runs++;
      if (runs > 1) process.stderr.write(`[luapool] ${o.file} changed: run ${runs}\n`);
      const code = await runOnce(o, current.signal);
      sigint.signal.removeEventListener('abort', stop);
      current = undefined;
      if (!again && !sigint.signal.aborted) {
        process.stderr.write(`[luapool] ${code === 0 ? 'done' : `exit code ${code}`}; watching ${o.file} (Ctrl-C to stop)\n`);
      }
    } while (again && !sigint.signal.aborted);
  };
  let timer;
  const watcher = fs.watch(path.dirname(file), (event, name) => {
    if (name && path.basename(String(name)) !== path.basename(file)) return;
    clearTimeout(timer);
    timer = setTimeout(() => { if (fs.existsSync(file)) start(); }, 60);
  });
  await start();
  await new Promise((resolve) => sigint.signal.addEventListener('abort', resolve, { once: true }));
  watcher.close();
  clearTimeout(timer);
  while (current) await new Promise((r) => setTimeout(r, 10));
  return EXIT.ok;
}

// ----------------------------------------------------------------------------------------
// repl
// ----------------------------------------------------------------------------------------

// Evaluates one chunk in the context, as lua.c does: "return " .. src first (so an
// expression prints its values), then src as statements; an error that ends in "<eof>"
// means the chunk is incomplete. Results are formatted as Lua literals, in Lua.
const REPL_DRIVER = String.raw`local src = ...
local __main, err = load("return " .. src, "=stdin", "t", _ENV)
if not __main then
  __main, err = load(src, "=stdin", "t", _ENV)
  if not __main then
    return 1, err
  end
end
local type, tostring, next, select, pcall = type, tostring, next, select, pcall
local function pack(...) return select("#", ...), { ... } end
local n, results = pack(__main())
if n == 0 then return 0 end
local keywords = {}
pcall(function() for w in ("and break do else elseif end false for function goto if in local nil not or repeat return then true until while"):gmatch("%a+") do keywords[w] = true end end)
local escapes = { ["\n"] = "\\n", ["\t"] = "\\t", ["\r"] = "\\r", ['"'] = '\\"', ["\\"] = "\\\\" }
local function quote(s)
  local pattern = (utf8 and utf8.len(s)) and '[%c"\\]' or '[%c"\\\128-\255]'
  return '"' .. s:gsub(pattern, function(c) return escapes[c] or ("\\%03d"):format(c:byte()) end) .. '"'
end
local show
local function key(k, seen, depth)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") and not keywords[k] then return k end
  return "[" .. show(k, seen, depth) .. "]"
end
local function order(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta < tb end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end
function show(v, seen, depth)
  local t = type(v)
  if t == "string" then return quote(v) end
  if t ~= "table" then return tostring(v) end
  if seen[v] then return "<cycle>" end
  if depth > 4 then return "{...}" end
  seen[v] = true
  local parts, len, count = {}, 0, 0
  while rawget(v, len + 1) ~= nil and count < 100 do
    len = len + 1
    count = count + 1
    parts[len] = show(rawget(v, len), seen, depth + 1)
  end
  local keys = {}
  for k in next, v do
    if not (math.type(k) == "integer" and k >= 1 and k <= len) then keys[#keys + 1] = k end
  end
  table.sort(keys, order)
  for _, k in ipairs(keys) do
    count = count + 1
    if count > 100 then parts[#parts + 1] = "..." break end
    parts[#parts + 1] = key(k, seen, depth + 1) .. " = " .. show(rawget(v, k), seen, depth + 1)
  end
  seen[v] = nil
  if #parts == 0 then return "{}" end
  return "{ " .. table.concat(parts, ", ") .. " }"
end
local out = {}
for i = 1, n do
  local ok, s = pcall(show, results[i], {}, 0)
  out[i] = ok and s or tostring(results[i])
end
return 0, table.concat(out, "\t")`;

async function commandRepl(o) {
  const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const runner = newRunner(o);
  const out = (s) => process.stdout.write(s);
  runner.on('log', (a) => out(`${logLine(a)}\n`));
  runner.on('post', (a) => out(`[post ${a.name}] ${JSON.stringify(toJsonData(a.data))}\n`));
  const ctx = runner.context('repl');
  if (o.libs === 'all') await ctx.run('io.stdout:setvbuf("no")', { name: DRIVER_NAME }); // print is real print here

  let history = [];
  if (interactive && o.history) {
    try {
      history = fs.readFileSync(o.history, 'utf8').split('\n').filter(Boolean).reverse().slice(0, 1000);
    } catch { /* no history yet */ }
  }
  const rl = readline.createInterface({
    input: process.stdin,
    output: interactive ? process.stdout : undefined,
    terminal: interactive,
    history,
    historySize: 1000,
    removeHistoryDuplicates: true,
    prompt: '> ',
  });
  if (interactive && o.history) {
    rl.on('history', (h) => {
      try { fs.writeFileSync(o.history, h.slice().reverse().join('\n') + '\n', { mode: 0o600 }); } catch { /* read-only home */ }
    });
  }
  if (interactive) {
    out(`luapool ${PKG.version} (${require('luapool').luaVersion}), libs ${Array.isArray(o.libs) ? o.libs.join(',') : o.libs}` +
      `; .help for help, .exit or Ctrl-D to leave\n`);
  }

  let buffer = '';
  let incompleteMessage = '';
  let failure; // exit code of the first failed evaluation (a piped session ends with it)
  let exited; // os.exit(code)
  let evaluating;
  let interrupts = 0;
  const prompt = () => {
    if (!interactive) return;
    rl.setPrompt(buffer ? '>> ' : '> ');
    rl.prompt();
  };
  rl.on('SIGINT', () => {
    if (evaluating) { evaluating.abort(); return; }
    if (buffer) {
      buffer = '';
      out('\n');
      prompt();
      return;
    }
    if (++interrupts >= 2) { rl.close(); return; }
    out('\n(To exit, press Ctrl-C again or Ctrl-D or type .exit)\n');
    prompt();
  });

  const evaluate = async (src) => {
    evaluating = new AbortController();
    try {
      const [status, text] = await ctx.run(REPL_DRIVER, { name: 'luapool-repl', args: [src], multret: true, signal: evaluating.signal });
      if (status === 1) {
        const message = text.toString('utf8');
        if (message.endsWith('<eof>')) {
          incompleteMessage = message;
          return 'incomplete';
        }
        process.stderr.write(`${message}\n`);
        failure ??= EXIT.lua;
      }
      else if (text !== undefined) out(`${text.toString('utf8')}\n`);
    } catch (err) {
      if (isExit(err)) {
        exited = err.exitCode;
        return 'exit';
      }
      process.stderr.write(`${describeError(err, o).replace(/^lua: /, '')}\n`);
      failure ??= exitCodeFor(err);
    } finally {
      evaluating = undefined;
    }
    return 'done';
  };

  prompt();
  for await (const line of rl) {
    interrupts = 0;
    if (!buffer) {
      const cmd = line.trim();
      if (cmd === '.exit' || cmd === '.quit') break;
      if (cmd === '.help') {
        out('Lua statements or expressions; an incomplete chunk continues on the next line.\n' +
          '.reset  forget every global of this session\n.exit   leave (or Ctrl-D)\n');
        prompt();
        continue;
      }
      if (cmd === '.reset') {
        await ctx.reset();
        if (o.libs === 'all') await ctx.run('io.stdout:setvbuf("no")', { name: DRIVER_NAME });
        out('globals reset\n');
        prompt();
        continue;
      }
      if (cmd === '') { prompt(); continue; }
    }
    // "=expr" is "return expr", as in lua's REPL
    buffer = buffer ? `${buffer}\n${line}` : line.replace(/^=/, 'return ');
    const r = await evaluate(buffer);
    if (r === 'exit') { buffer = ''; break; }
    if (r !== 'incomplete') buffer = '';
    prompt();
  }
  if (buffer) { // input ended inside a chunk
    process.stderr.write(`${incompleteMessage}\n`);
    failure ??= EXIT.lua;
  }
  rl.close();
  if (interactive) out('\n');
  await runner.close({ force: true });
  if (exited !== undefined) return exited;
  return interactive ? EXIT.ok : failure ?? EXIT.ok;
}

// ----------------------------------------------------------------------------------------

/** The program name for messages (lua.c's progname) and the interpreter for arg[-n]. */
function programNames() {
  const interpreter = process.argv[1] || 'luapool';
  const progname = path.basename(interpreter).replace(/\.[cm]?js$/, '') || 'luapool';
  return { progname, interpreter };
}

async function main(argv) {
  if (argv[0] === 'types') return typesMain(argv.slice(1));
  if (argv[0] !== 'run' && argv[0] !== 'repl') return luaMain(argv, programNames());
  let o;
  try {
    o = parseCommandLine(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`luapool: ${e.message}\nTry 'luapool ${argv[0]} --help' for more information.\n`);
    return EXIT.usage;
  }
  if (o.command === 'help') {
    process.stdout.write(HELP + '\n');
    return EXIT.ok;
  }
  try {
    return o.command === 'run' ? await commandRun(o) : await commandRepl(o);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`luapool: ${e.message}\n`);
      return EXIT.usage;
    }
    process.stderr.write(describeError(e) + '\n');
    return exitCodeFor(e);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  }, (e) => {
    process.stderr.write(`luapool: internal error: ${e && e.stack ? e.stack : e}\n`);
    process.exitCode = EXIT.internal;
  });
}

module.exports = { main, parseCommandLine, parseBytes, toJsonData, EXIT };
