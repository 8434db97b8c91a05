// `luapool types [--host module.js] [--libs LIBS] [-o file]`: writes a Lua Language Server
// definition file (`---@meta`) for script authors: the `engine` table with the host
// functions of a host module, and the sandbox's libraries. The text is luaTypes()'s.
'use strict';
const fs = require('fs');
const path = require('path');
const { pathToFileURL } = require('url');
const { EXIT, UsageError, LIB_NAMES } = require('./common');

const HELP = `usage: luapool types [--host module.js] [--libs LIBS] [-o file]

Writes a Lua Language Server definition file (---@meta) for scripts: the engine table
(engine.log, engine.post, engine.shared, and every host function of the host module with
its parameter names) and, unless --libs all, the sandbox's restricted libraries. List the
file in the scripts' .luarc.json ("workspace.library"); its first lines give the runtime
settings to go with it (docs/api.md, "Editor support for script authors").

options:
  --host FILE     a host module: a CommonJS or ES module whose export is the object of
                  host functions given to new ScriptRunner({ host }) (module.exports = {...},
                  export default {...}, or a named export 'host')
  --libs LIBS     safe (default), all, or a list: base,string,table,math,utf8,coroutine,os,io,debug,package
  -o, --output F  write to F (default: stdout)
  --help          show this help`;

/** `safe`, `all` or a comma-separated list of library names (any list: these are definitions). */
function parseLibs(text) {
  if (text === 'safe' || text === 'all') return text;
  const list = String(text).split(',').map((s) => s.trim()).filter(Boolean);
  const bad = list.find((name) => !LIB_NAMES.includes(name));
  if (bad !== undefined || list.length === 0) {
    throw new UsageError(`--libs: unknown library '${bad ?? text}' (expected safe, all or a list of ${LIB_NAMES.join(', ')})`);
  }
  return list;
}

function parse(argv) {
  const o = { host: undefined, libs: 'safe', output: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') return { help: true };
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const name = eq === -1 ? a : a.slice(0, eq);
    const value = () => {
      if (eq !== -1) return a.slice(eq + 1);
      if (i + 1 >= argv.length) throw new UsageError(`${name} needs a value`);
      return argv[++i];
    };
    if (name === '--host') o.host = value();
    else if (name === '--libs') o.libs = parseLibs(value());
    else if (name === '-o' || name === '--output') o.output = value();
    else throw new UsageError(`unknown option '${a}'`);
  }
  return o;
}

/** The host object a module exports: its `host` export, else its default export. */
async function loadHost(file) {
  const abs = path.resolve(file);
  if (!fs.existsSync(abs)) throw new UsageError(`--host: cannot open ${file}`);
  let m;
  let esm = false;
  try {
    m = require(abs);
  } catch (e) {
    if (!e || (e.code !== 'ERR_REQUIRE_ESM' && e.code !== 'ERR_REQUIRE_ASYNC_MODULE')) throw e;
    m = await import(pathToFileURL(abs).href);
    esm = true;
  }
  if (m !== null && typeof m === 'object' && typeof m.host === 'object' && m.host !== null) return m.host;
  if ((esm || (m && m.__esModule)) && m.default !== undefined) return m.default; // export default {...}
  return m;
}

async function typesMain(argv) {
  let o;
  try {
    o = parse(argv);
    if (o.help) {
      process.stdout.write(HELP + '\n');
      return EXIT.ok;
    }
    const { writeLuaTypes, luaTypes } = require('..');
    const host = o.host === undefined ? undefined : await loadHost(o.host);
    const options = { libs: o.libs, host, source: o.host === undefined ? undefined : path.basename(o.host) };
    if (host !== undefined && (host === null || typeof host !== 'object')) {
      throw new UsageError(`--host ${o.host}: the module must export an object of host functions`);
    }
    let text;
    try {
      text = luaTypes(options);
    } catch (e) {
      if (!(e instanceof TypeError)) throw e;
      throw new UsageError(`--host ${o.host}: ${e.message.replace(/^options\.host/, 'host')}`);
    }
    if (o.output === undefined) process.stdout.write(text);
    else writeLuaTypes(o.output, options);
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`luapool types: ${e.message}\nTry 'luapool types --help' for more information.\n`);
    return EXIT.usage;
  }
}

module.exports = { typesMain };
