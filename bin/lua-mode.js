// `luapool [options] [script [args]]`: the standalone `lua` 5.4 command line (lua.c), run
// on a luapool state, plus luapool's own options. See docs/api.md#command-line.
'use strict';
const fs = require('fs');
const path = require('path');
const tty = require('tty');
const readline = require('readline');
const {
  EXIT, UsageError, parseTimeout, parseBytes, parseLibs, jsonLines, describeLuapoolError,
  exitCodeFor, logText, logLine, isExit, toJsonData,
} = require('./common');
const { ALL_DRIVER, SANDBOX_DRIVER, SANDBOX_NAME } = require('./lua-drivers');

const PKG = require('../package.json');
const MODULE = 'luapool-cli';

const LUA_OPTIONS = `  -e stat   execute string 'stat'
  -i        enter interactive mode after executing 'script'
  -l mod    require library 'mod' into global 'mod'
  -l g=mod  require library 'mod' into global 'g'
  -v        show version information
  -E        ignore environment variables
  -W        turn warnings on
  --        stop handling options
  -         stop handling options and execute stdin
`;

const LUAPOOL_OPTIONS = `luapool options:
  --libs LIBS      all (default), safe (the sandbox) or a list: base,string,table,
                   math,utf8,coroutine,os,io,debug,package
  --safe           the sandbox: same as --libs safe
  --timeout MS     time budget of each chunk (also 2s, 500ms); default none
  --memory BYTES   memory limit of the state (suffixes k, m, g: 64m); default none
  --json           print the values the script returns as JSON lines (print: stderr)
  --pretty         indent the --json output
  --watch          run again whenever the script changes (Ctrl-C to stop)
  --profile FILE   sample the Lua stacks (1 kHz) and write FILE in .cpuprofile format
                   (open it in Chrome DevTools, VS Code or speedscope)
  --help           show this help
  --version        show luapool's version
`;

function usageText(progname) {
  return `usage: ${progname} [options] [script [args]]\nAvailable options are:\n${LUA_OPTIONS}`;
}

function helpText(progname) {
  return `${progname} ${PKG.version}: genuine Lua 5.4 on a luapool state, with lua's command line

${usageText(progname)}${LUAPOOL_OPTIONS}
other commands:
  ${progname} run [options] file.lua [args]   run a file, print its results as JSON
  ${progname} repl [options]                  interactive console into a context
  ${progname} types [--host module.js] [-o f] Lua Language Server definitions for scripts
  (${progname} run --help for their options; a script named run, repl or types: ${progname} ./run)

As with lua: 'arg' holds the command line (arg[0] the script, arg[-1].. the options and
the interpreter), the script's arguments are its '...', LUA_INIT_5_4 or LUA_INIT (or
@file) runs first unless -E, print writes to stdout, errors go to stderr as
"${progname}: message" with a traceback, and the exit status is 1 after an error (the code
given to os.exit otherwise). Without a script, -e or -v: the REPL if stdin is a terminal,
else stdin runs as a script.

exit status: 0 ok, 1 error (Lua error, bad option, file not found, Ctrl-C), 3 --timeout
spent, 4 --memory reached, 5 a --json result could not be converted, 8 other luapool
error; os.exit(code) exits with code (true: 0, false: 1).
`;
}

class BadOption extends Error {
  constructor(option) { super(option); this.option = option; }
}

const LONG_VALUE = ['libs', 'timeout', 'memory', 'profile'];
const LONG_FLAG = ['safe', 'json', 'pretty', 'watch', 'help', 'version'];

/**
 * lua.c's collectargs, with luapool's long options among lua's. Returns the options and
 * `script`, the index in argv of the script name (-1: none).
 */
function parseLuaCommandLine(argv) {
  const o = {
    steps: [], i: false, v: false, e: false, E: false, script: -1,
    libs: 'all', timeoutMs: 0, memoryLimit: 0, json: false, pretty: false, watch: false, profile: null,
    help: false, version: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a[0] !== '-' || a === '-') { o.script = i; break; }
    if (a === '--') {
      if (i + 1 < argv.length) o.script = i + 1;
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq === -1 ? undefined : eq);
      if (LONG_FLAG.includes(name) && eq === -1) {
        if (name === 'safe') o.libs = 'safe';
        else o[name] = true;
      } else if (LONG_VALUE.includes(name)) {
        let value;
        if (eq !== -1) value = a.slice(eq + 1);
        else if (i + 1 < argv.length) value = argv[++i];
        else throw new BadOption(a);
        if (name === 'libs') o.libs = parseLibs(value);
        else if (name === 'timeout') o.timeoutMs = parseTimeout(value);
        else if (name === 'profile') o.profile = value;
        else o.memoryLimit = parseBytes(value);
      } else {
        throw new BadOption(a);
      }
      continue;
    }
    switch (a[1]) {
      case 'E':
        if (a.length !== 2) throw new BadOption(a);
        o.E = true;
        break;
      case 'W':
        if (a.length !== 2) throw new BadOption(a);
        o.steps.push({ kind: 'W' });
        break;
      case 'i':
        o.i = true; // -i implies -v
        // falls through
      case 'v':
        if (a.length !== 2) throw new BadOption(a);
        o.v = true;
        break;
      case 'e':
        o.e = true;
        // falls through
      case 'l': {
        let text = a.slice(2);
        if (text === '') {
          i++;
          if (i >= argv.length || argv[i][0] === '-') throw new BadOption(a);
          text = argv[i];
        }
        o.steps.push({ kind: a[1], text });
        break;
      }
      default:
        throw new BadOption(a);
    }
  }
  if (o.watch && (o.script < 0 || (argv[o.script] === '-' && argv[o.script - 1] !== '--'))) {
    throw new UsageError('--watch needs a script file');
  }
  return o;
}

// ----------------------------------------------------------------------------------------
// Engines: the steps of lua.c's pmain on a runner. Every method resolves with
// { ok, msg } (msg: a Buffer, Lua's bytes) or rejects with a luapool error.
// ----------------------------------------------------------------------------------------

function newRunner(o) {
  const { ScriptRunner } = require('luapool');
  return new ScriptRunner({
    states: 1, libs: o.libs, timeoutMs: o.timeoutMs, memoryLimit: o.memoryLimit,
    bytes: 'buffer', tables: 'map',
  });
}

// -E: the package library reads LUA_PATH_5_4/LUA_PATH/LUA_CPATH_5_4/LUA_CPATH when the
// state is created (lua.c sets LUA_NOENV before luaL_openlibs); the runner creates its
// states in the constructor, so the variables are hidden while it runs.
function withoutLuaPathEnv(fn) {
  const saved = {};
  for (const k of ['LUA_PATH_5_4', 'LUA_PATH', 'LUA_CPATH_5_4', 'LUA_CPATH']) {
    if (k in process.env) { saved[k] = process.env[k]; delete process.env[k]; }
  }
  try { return fn(); } finally { Object.assign(process.env, saved); }
}

const toBuf = (v) => (Buffer.isBuffer(v) ? v : Buffer.from(v === undefined || v === null ? '' : String(v)));
const status = (r) => (r[0] === true ? { ok: true, n: r[1], list: r[2] } : { ok: false, msg: toBuf(r[1]) });

/** Lua errors raised outside lua.c's docall (lua.c reports them without a traceback). */
class Unprotected extends Error {
  constructor(msg) { super(msg.toString()); this.msg = msg; }
}

class Interrupts {
  // lua.c catches SIGINT only while a chunk runs (docall); otherwise Ctrl-C ends the
  // process. The first Ctrl-C interrupts the chunk, a second one ends the process.
  constructor() { this.current = null; this.tty = null; this.restarting = false; }

  // --watch: the file changed, the running chunk (if any) is cancelled quietly
  restart() {
    this.restarting = true;
    if (this.current) this.current.ac.abort();
  }

  async during(fn) {
    const ac = new AbortController();
    const job = { ac, interrupted: false };
    const onSigint = () => {
      job.interrupted = true;
      process.removeListener('SIGINT', onSigint);
      ac.abort();
    };
    this.current = job;
    if (!this.tty) process.on('SIGINT', onSigint);
    try {
      return await fn(ac.signal);
    } catch (e) {
      if (job.interrupted && e && e.code === 'ERR_CANCELLED') e.interrupted = true;
      throw e;
    } finally {
      process.removeListener('SIGINT', onSigint);
      this.current = null;
    }
  }

  // A readline interface in raw mode gets Ctrl-C as a key.
  onTtyInterrupt() {
    const job = this.current;
    if (job && !job.interrupted) {
      job.interrupted = true;
      job.ac.abort();
      return;
    }
    this.die();
  }

  die() {
    if (this.tty) this.tty.close();
    process.removeAllListeners('SIGINT');
    process.kill(process.pid, 'SIGINT');
  }
}

class AllEngine {
  constructor(o, interrupts) {
    this.o = o;
    this.interrupts = interrupts;
    this.runner = o.E ? withoutLuaPathEnv(() => newRunner(o)) : newRunner(o);
    this.runner.define(MODULE, ALL_DRIVER);
    this.runner.on('log', (a) => process.stderr.write(`${logLine(a)}\n`));
    this.runner.on('post', (a) => process.stderr.write(`[post ${a.name}] ${JSON.stringify(toJsonData(a.data))}\n`));
  }

  async op(fn, args, { run = false } = {}) {
    const call = (signal) => this.runner.call(MODULE, fn, args, {
      multret: true, signal, ...(run ? {} : { timeoutMs: 0 }),
    });
    try {
      return run ? await this.interrupts.during(call) : await call(undefined);
    } catch (e) {
      if (e && e.code === 'ERR_LUA') throw new Unprotected(Buffer.from(e.message));
      throw e;
    }
  }

  async init(argv, script) { await this.op('init', [argv, script, this.o.E, this.o.json]); }
  async loadInit() {
    const r = await this.op('load_init', []);
    if (toBuf(r[0]).toString() === 'none') return { none: true };
    return status(r);
  }
  async loadString(text, name) { return status(await this.op('load_string', [text, name])); }
  async loadFile(name) { return status(await this.op('load_file', [name])); }
  async call(withArgs, json) { return status(await this.op('call', [withArgs, json], { run: true })); }
  async library(glob, mod) { return status(await this.op('library', [glob, mod], { run: true })); }
  async warnOn() { await this.op('warn_on', []); }
  async replRead(first) { return toBuf((await this.op(first ? 'repl_read' : 'repl_more', []))[0]).toString(); }
  async replEval() { return status(await this.op('repl_eval', [], { run: true })); }
  async writeline() { await this.op('writeline', []); }
  async flush() { await this.op('flush', []); }
  async close() { await this.runner.close({ force: true }); }
}

const ERRNO_TEXT = {
  ENOENT: 'No such file or directory', EACCES: 'Permission denied', EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory', ELOOP: 'Too many levels of symbolic links', ENAMETOOLONG: 'File name too long',
};

// luaL_loadfilex's reading: stdin for null, a BOM and a first line starting with '#' skipped
// (the line's newline is kept, so line numbers stay right).
function readChunk(name) {
  let buf;
  try {
    buf = fs.readFileSync(name === null ? 0 : name);
  } catch (e) {
    const what = e.code === 'EISDIR' ? 'read' : 'open';
    return { error: `cannot ${what} ${name === null ? 'stdin' : name}: ${ERRNO_TEXT[e.code] || e.message}` };
  }
  let start = 0;
  if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) start = 3;
  if (buf[start] === 0x23) { // '#'
    const nl = buf.indexOf(0x0a, start);
    return { source: nl === -1 ? Buffer.from('\n') : buf.subarray(nl) };
  }
  return { source: buf.subarray(start) };
}

class SandboxEngine {
  constructor(o, interrupts) {
    this.o = o;
    this.interrupts = interrupts;
    this.runner = newRunner(o);
    this.ctx = this.runner.context('main');
    this.pending = null;
    this.buffer = null;
    this.lines = null;
    this.runner.on('log', (a) => {
      if (a.level === 'info' && !o.json) process.stdout.write(Buffer.concat([logText(a), Buffer.from('\n')]));
      else if (a.level === 'lua-warning') process.stderr.write(Buffer.concat([Buffer.from('Lua warning: '), logText(a), Buffer.from('\n')]));
      else process.stderr.write(`${logLine(a)}\n`);
    });
    this.runner.on('post', (a) => process.stderr.write(`[post ${a.name}] ${JSON.stringify(toJsonData(a.data))}\n`));
  }

  async op(args, { run = false } = {}) {
    const job = (signal) => this.ctx.run(SANDBOX_DRIVER, { name: `=${SANDBOX_NAME}`, args, multret: true, signal });
    try {
      return run ? await this.interrupts.during(job) : await job(undefined);
    } catch (e) {
      if (e && e.code === 'ERR_LUA') return [false, Buffer.from(cleanTraceback(e.traceback || e.message))];
      throw e;
    }
  }

  async init(argv, script) { await this.op(['init', argv, script]); }

  async load(chunk, name) {
    if (chunk.error) { this.pending = null; return { ok: false, msg: Buffer.from(chunk.error) }; }
    const r = status(await this.op(['check', chunk.source, name]));
    this.pending = r.ok ? { source: chunk.source, name } : null;
    return r;
  }

  async loadInit() {
    let name = 'LUA_INIT_5_4';
    let init = process.env[name];
    if (init === undefined) { name = 'LUA_INIT'; init = process.env[name]; }
    if (init === undefined) return { none: true };
    if (init[0] === '@') return this.loadFile(init.slice(1));
    return this.loadString(init, `=${name}`);
  }

  async loadString(text, name) { return this.load({ source: text }, name); }
  async loadFile(name) { return this.load(readChunk(name), name === null ? '=stdin' : `@${name}`); }

  async call(withArgs, json) {
    const p = this.pending;
    this.pending = null;
    return status(await this.op(['run', p.source, p.name, withArgs, json], { run: true }));
  }

  async library(glob, mod) { return status(await this.op(['library', glob, mod], { run: true })); }
  async warnOn() { await this.op(['warn_on']); }

  // Lines of stdin: readline on a terminal (line editing, history), else the raw bytes.
  nextLine(prompt) {
    if (!this.lines) this.lines = stdinLines(this.interrupts);
    return this.lines(prompt);
  }

  async prompt(first) {
    const r = await this.op(['prompt', first]);
    return r[0] === undefined || r[0] === null ? null : toBuf(r[0]);
  }

  async replRead(first) {
    const custom = await this.prompt(first);
    const line = await this.nextLine(custom ?? Buffer.from(first ? '> ' : '>> '));
    if (line === null) {
      if (first) return 'eof';
      this.result = { ok: false, msg: custom ?? Buffer.from('(error message not a string)') };
      return 'ready';
    }
    if (first) {
      this.buffer = line[0] === 0x3d ? Buffer.concat([Buffer.from('return '), line.subarray(1)]) : line; // '='
    } else {
      this.buffer = Buffer.concat([this.buffer, Buffer.from('\n'), line]);
    }
    let r;
    try {
      r = await this.interrupts.during((signal) => this.ctx.run(SANDBOX_DRIVER, {
        name: `=${SANDBOX_NAME}`, args: ['repl', this.buffer, first], multret: true, signal,
      }));
    } catch (e) {
      if (!e || e.code !== 'ERR_LUA') throw e;
      this.result = { ok: false, msg: Buffer.from(cleanTraceback(e.traceback || e.message)) };
      return 'ready';
    }
    if (r[0] !== true) { // it does not compile
      const msg = toBuf(r[1]);
      if (msg.toString('latin1').endsWith('<eof>')) return 'more';
      this.result = { ok: false, msg };
    } else {
      this.result = r[1] === undefined || r[1] === null ? { ok: true } : { ok: false, msg: toBuf(r[1]) }; // print failed
    }
    return 'ready';
  }

  async replEval() { return this.result; }
  async writeline() { process.stdout.write('\n'); }
  async flush() {}
  async close() {
    if (this.lines) this.lines.close();
    await this.runner.close({ force: true });
  }
}

// The sandbox driver's frames out of a job's traceback: its own lines, and the name under
// which it calls the chunk. Sandboxed jobs run in a coroutine, so lua.c's bottom frame
// (pmain, "[C]: in ?") is added.
function cleanTraceback(tb) {
  const lines = tb.split('\n').filter((line) => !line.startsWith(`\t${SANDBOX_NAME}:`));
  if (lines.includes('stack traceback:') && lines[lines.length - 1] !== '\t[C]: in ?') lines.push('\t[C]: in ?');
  return lines.join('\n').replace(/ in local '__main'$/gm, ' in main chunk');
}

/** A line reader over stdin: resolves each call with a line (a Buffer) or null at the end. */
function stdinLines(interrupts) {
  if (tty.isatty(0)) {
    const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: true, historySize: 1000 });
    interrupts.tty = rl;
    rl.on('SIGINT', () => interrupts.onTtyInterrupt());
    const it = rl[Symbol.asyncIterator]();
    const next = async (prompt) => {
      rl.setPrompt(prompt.toString());
      rl.prompt();
      const { value, done } = await it.next();
      return done ? null : Buffer.from(value);
    };
    next.close = () => rl.close();
    return next;
  }
  let pending = Buffer.alloc(0);
  let ended = false;
  let wake = null;
  process.stdin.on('data', (d) => { pending = Buffer.concat([pending, d]); if (wake) wake(); });
  process.stdin.on('end', () => { ended = true; if (wake) wake(); });
  process.stdin.pause();
  const next = async (prompt) => {
    process.stdout.write(prompt);
    for (;;) {
      const nl = pending.indexOf(0x0a);
      if (nl !== -1) {
        const line = pending.subarray(0, nl);
        pending = pending.subarray(nl + 1);
        return line;
      }
      if (ended) {
        if (pending.length === 0) return null;
        const line = pending;
        pending = Buffer.alloc(0);
        return line;
      }
      await new Promise((resolve) => { wake = resolve; process.stdin.resume(); });
      wake = null;
      process.stdin.pause();
    }
  };
  next.close = () => process.stdin.destroy();
  return next;
}

// ----------------------------------------------------------------------------------------
// pmain
// ----------------------------------------------------------------------------------------

class Stop {
  constructor(code) { this.code = code; }
}

async function runLua(o, argv, names, interrupts = new Interrupts()) {
  const { progname, interpreter } = names;
  if (o.v) process.stdout.write(`${luaCopyright()}\n`);
  const scriptPos = o.script;
  const stdinScript = scriptPos >= 0 && argv[scriptPos] === '-' && argv[scriptPos - 1] !== '--';
  const engine = o.libs === 'all' ? new AllEngine(o, interrupts) : new SandboxEngine(o, interrupts);
  const profiler = o.profile ? engine.runner.profile({ sampleHz: 1000 }) : null;
  let inRepl = false;

  // report(): "progname: msg" (no progname in the REPL), exit status 1
  const fail = (msg) => {
    process.stderr.write(Buffer.concat([Buffer.from(inRepl ? '' : `${progname}: `), toBuf(msg), Buffer.from('\n')]));
    throw new Stop(EXIT.lua);
  };
  const luapoolError = (err) => {
    if (isExit(err)) throw new Stop(err.exitCode);
    if (err instanceof Unprotected) {
      process.stderr.write(Buffer.concat([Buffer.from(`${inRepl ? '' : `${progname}: `}`), err.msg, Buffer.from('\n')]));
      throw new Stop(EXIT.lua);
    }
    if (!err || typeof err.code !== 'string' || !err.code.startsWith('ERR_')) throw err;
    if (interrupts.restarting) throw new Stop(EXIT.lua);
    const text = err.interrupted ? 'interrupted!' : describeLuapoolError(err, o);
    process.stderr.write(`${inRepl ? '' : `${progname}: `}${text}\n`);
    return err.interrupted || err.code === 'ERR_CANCELLED' ? EXIT.lua : exitCodeFor(err);
  };
  const step = async (load, withArgs = false, json = false) => {
    let r;
    try {
      r = await load();
      if (r.none) return r;
      if (r.ok) r = await engine.call(withArgs, json);
    } catch (err) {
      throw new Stop(luapoolError(err));
    }
    if (!r.ok) fail(r.msg);
    return r;
  };

  let code = EXIT.ok;
  try {
    const luaArgv = [interpreter, ...argv];
    const scriptIndex = scriptPos >= 0 ? scriptPos + 1 : 0;
    try {
      await engine.init(luaArgv, scriptIndex);
    } catch (err) {
      throw new Stop(luapoolError(err));
    }
    if (!o.E) await step(() => engine.loadInit());
    for (const s of o.steps) {
      if (s.kind === 'e') {
        await step(() => engine.loadString(s.text, '=(command line)'));
      } else if (s.kind === 'l') {
        let glob = s.text;
        let mod = s.text;
        const eq = s.text.indexOf('=');
        if (eq !== -1) {
          glob = s.text.slice(0, eq);
          mod = s.text.slice(eq + 1);
        } else if (s.text.includes('-')) {
          glob = s.text.slice(0, s.text.indexOf('-')); // "mod-v2" -> global mod
        }
        let r;
        try { r = await engine.library(glob, mod); } catch (err) { throw new Stop(luapoolError(err)); }
        if (!r.ok) fail(r.msg);
      } else {
        try { await engine.warnOn(); } catch (err) { throw new Stop(luapoolError(err)); }
      }
    }
    if (scriptPos >= 0) {
      const r = await step(() => engine.loadFile(stdinScript ? null : argv[scriptPos]), true, o.json);
      if (o.json) {
        await engine.flush();
        process.stdout.write(jsonLines(r.n, r.list, o.pretty));
      }
    }
    const repl = async () => {
      inRepl = true;
      for (;;) {
        let r;
        let res;
        try {
          r = await engine.replRead(true);
          if (r === 'eof') break;
          while (r === 'more') r = await engine.replRead(false);
          res = await engine.replEval();
        } catch (err) {
          luapoolError(err); // os.exit and errors outside docall end the REPL (Stop)
          continue;
        }
        if (!res.ok) process.stderr.write(Buffer.concat([res.msg, Buffer.from('\n')]));
      }
      await engine.writeline();
      inRepl = false;
    };
    if (o.i) {
      await repl();
    } else if (scriptPos < 0 && !o.e && !o.v) {
      if (tty.isatty(0)) {
        process.stdout.write(`${luaCopyright()}\n`);
        await repl();
      } else {
        // lua.c ignores the status of dofile(L, NULL): stdin run this way exits with 0
        // even after an error (`luapool -` exits with 1)
        try { await step(() => engine.loadFile(null)); } catch (e) { if (!(e instanceof Stop) || e.code !== EXIT.lua) throw e; }
      }
    }
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    code = e.code;
  } finally {
    try { await engine.flush(); } catch { /* the state is gone (os.exit) */ }
    if (profiler) {
      const profile = await profiler.stop();
      fs.writeFileSync(o.profile, JSON.stringify(profile.cpuprofile));
    }
    await engine.close();
  }
  return code;
}

function luaCopyright() {
  let v = 'Lua 5.4.7';
  try { v = require('luapool').luaVersion; } catch { /* addon not built: the pinned version */ }
  return `${v}  Copyright (C) 1994-2024 Lua.org, PUC-Rio`;
}

async function watchLua(o, argv, names) {
  const file = path.resolve(argv[o.script]);
  const shown = argv[o.script];
  let stopped = false;
  let runs = 0;
  let again = false;
  let running = null;
  let wake;
  const stop = () => { stopped = true; if (wake) wake(); };
  process.on('SIGINT', stop);
  let timer;
  const watcher = fs.watch(path.dirname(file), (event, name) => {
    if (name && path.basename(String(name)) !== path.basename(file)) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (!fs.existsSync(file)) return;
      if (running) { again = true; running.restart(); } else if (wake) wake();
    }, 60);
  });
  try {
    while (!stopped) {
      runs++;
      if (runs > 1) process.stderr.write(`[luapool] ${shown} changed: run ${runs}\n`);
      running = new Interrupts();
      again = false;
      const code = await runLua(o, argv, names, running);
      running = null;
      if (stopped) break;
      if (!again) {
        process.stderr.write(`[luapool] ${code === 0 ? 'done' : `exit code ${code}`}; watching ${shown} (Ctrl-C to stop)\n`);
        await new Promise((resolve) => { wake = resolve; });
        wake = undefined;
      }
    }
  } finally {
    watcher.close();
    clearTimeout(timer);
    process.removeListener('SIGINT', stop);
  }
  return EXIT.ok;
}

async function luaMain(argv, names) {
  const { progname } = names;
  let o;
  try {
    o = parseLuaCommandLine(argv);
  } catch (e) {
    if (e instanceof BadOption) {
      const bad = e.option;
      const what = (bad[1] === 'e' || bad[1] === 'l' || LONG_VALUE.includes(bad.slice(2)))
        ? `'${bad}' needs argument` : `unrecognized option '${bad}'`;
      process.stderr.write(`${progname}: ${what}\n${usageText(progname)}${LUAPOOL_OPTIONS}`);
      return EXIT.lua;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`${progname}: ${e.message}\n${usageText(progname)}${LUAPOOL_OPTIONS}`);
      return EXIT.lua;
    }
    throw e;
  }
  if (o.help) {
    process.stdout.write(helpText(progname));
    return EXIT.ok;
  }
  if (o.version) {
    let lua = '';
    try { lua = ` (${require('luapool').luaVersion})`; } catch { /* addon not built */ }
    process.stdout.write(`luapool ${PKG.version}${lua}\n`);
    return EXIT.ok;
  }
  if (o.watch) return watchLua(o, argv, names);
  return runLua(o, argv, names);
}

module.exports = { luaMain, parseLuaCommandLine, helpText, usageText };
