// Lua Language Server definitions for script authors: luaTypes() writes one `---@meta` file
// with the `engine` table (log, post, shared, and the runner's host functions with their
// parameter names) and, for sandboxed scripts, the sandbox's restricted libraries. It joins
// the packed definition files in types/ and adds the host functions. `luapool types` calls it.
import * as fs from 'fs';
import * as path from 'path';
import { describe, fillHost, isPlainObject, LIB_NAMES, type HostFunction, type LibName } from './options';

/** Options of `luaTypes()` and `writeLuaTypes()`. */
export interface LuaTypesOptions {
  /** The runner's host functions (its `host` option): each becomes `engine.<name>(params)`. */
  host?: Record<string, HostFunction>;
  /** The libraries the scripts get, as the runner's `libs` option. Default `'safe'`. */
  libs?: 'safe' | 'all' | readonly LibName[];
  /** Where the host functions come from, named in the file's header (`host.js`). */
  source?: string;
}

const TYPES_DIR = path.join(__dirname, '..', '..', 'types');
const LUA_KEYWORDS = new Set(['and', 'break', 'do', 'else', 'elseif', 'end', 'false', 'for', 'function', 'goto', 'if', 'in',
  'local', 'nil', 'not', 'or', 'repeat', 'return', 'then', 'true', 'until', 'while']);

/** A packed definition file without its `---@meta` line and its leading comment block. */
function body(file: string): string {
  const lines = fs.readFileSync(path.join(TYPES_DIR, file), 'utf8').split('\n');
  let i = 0;
  if (lines[i]?.startsWith('---@meta')) i++;
  while (i < lines.length && lines[i].startsWith('--') && !lines[i].startsWith('---')) i++;
  while (i < lines.length && lines[i].trim() === '') i++;
  return lines.slice(i).join('\n').trimEnd();
}

/** Skips a string, template or comment starting at `i`; returns the index after it, or `i`. */
function skipLiteral(src: string, i: number): number {
  const c = src[i];
  if (c === '/' && src[i + 1] === '/') { const e = src.indexOf('\n', i); return e === -1 ? src.length : e; }
  if (c === '/' && src[i + 1] === '*') { const e = src.indexOf('*/', i + 2); return e === -1 ? src.length : e + 2; }
  if (c !== '"' && c !== "'" && c !== '`') return i;
  for (let j = i + 1; j < src.length; j++) {
    if (src[j] === '\\') j++;
    else if (src[j] === c) return j + 1;
  }
  return src.length;
}

/** The text of a function's parameter list (without the parentheses), or undefined. */
function parameterText(src: string): string | undefined {
  const arrow = /^(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/.exec(src);
  if (arrow) return arrow[1];
  const open = src.indexOf('(');
  if (open === -1) return undefined;
  let depth = 0;
  for (let i = open; i < src.length; i++) {
    const skipped = skipLiteral(src, i);
    if (skipped !== i) { i = skipped - 1; continue; }
    const c = src[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      if (--depth === 0) return src.slice(open + 1, i);
    }
  }
  return undefined;
}

/** Splits a parameter list at its top-level commas, comments removed. */
function splitParameters(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const skipped = skipLiteral(text, i);
    if (skipped !== i) {
      if (text[i] !== '/') cur += text.slice(i, skipped); // keep strings (default values), drop comments
      i = skipped - 1;
      continue;
    }
    const c = text[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    if (c === ',' && depth === 0) { parts.push(cur.trim()); cur = ''; } else cur += c;
  }
  if (cur.trim() !== '') parts.push(cur.trim());
  return parts;
}

interface Param { name: string; optional: boolean }

/**
 * @internal The Lua parameters of a JavaScript function, from its source: names kept (made
 * valid in Lua), `x = 1` optional, `...rest` as `...`, a destructured parameter `argN`.
 * Without readable source (a bound or native function), `arg1 … argN` from its `length`.
 */
export function luaParameters(fn: (...args: never[]) => unknown): Param[] {
  const text = parameterText(Function.prototype.toString.call(fn));
  if (text === undefined || /\[native code\]/.test(Function.prototype.toString.call(fn))) {
    return Array.from({ length: fn.length }, (_, i) => ({ name: `arg${i + 1}`, optional: false }));
  }
  const used = new Set<string>();
  return splitParameters(text).map((p, i) => {
    if (p.startsWith('...')) return { name: '...', optional: true };
    const m = /^([A-Za-z_$][\w$]*)\s*(=)?/.exec(p);
    let name = m ? m[1].replace(/\$/g, '_') : `arg${i + 1}`;
    if (LUA_KEYWORDS.has(name)) name += '_';
    while (used.has(name)) name += '_';
    used.add(name);
    return { name, optional: m !== null && m[2] === '=' };
  });
}

function hostDeclarations(host: Record<string, HostFunction>): string {
  const names = Object.keys(host).sort();
  if (names.length === 0) return '';
  const out = ['', '-- Host functions: the runner\'s `host` option. Each runs on the main thread, with the converted',
    '-- arguments; the script waits for its answer (a Lua error if it throws).'];
  for (const name of names) {
    const fn = host[name];
    const params = luaParameters(fn);
    const isAsync = Object.prototype.toString.call(fn) === '[object AsyncFunction]';
    out.push('', `---Host function \`${name}\`${isAsync ? ' (async: the job waits without holding a thread)' : ''}.`);
    for (const p of params) out.push(p.name === '...' ? '---@param ... any' : `---@param ${p.name}${p.optional ? '?' : ''} any`);
    out.push('---@return any', `function engine.${name}(${params.map((p) => p.name).join(', ')}) end`);
  }
  return out.join('\n');
}

/** The LuaLS settings that go with the file: LuaLS's own libraries the scripts do not have. */
function disabledBuiltins(libs: 'safe' | 'all' | readonly LibName[]): string[] {
  if (libs === 'all') return [];
  if (libs === 'safe') return ['debug', 'io', 'os'];
  // LuaLS calls the base functions "basic"; a listed 'os' is the sandbox's (this file's)
  const off = ['coroutine', 'debug', 'io', 'math', 'os', 'package', 'string', 'table', 'utf8']
    .filter((l) => !libs.includes(l as LibName) || l === 'os');
  return libs.includes('base') ? off : ['basic', ...off];
}

function checkLibs(v: unknown): 'safe' | 'all' | readonly LibName[] {
  if (v === undefined || v === 'safe' || v === 'all') return v ?? 'safe';
  if (!Array.isArray(v)) throw new TypeError(`options.libs must be 'safe', 'all' or an array of library names, got ${describe(v)}`);
  for (const [i, name] of v.entries()) {
    if (!LIB_NAMES.includes(name)) throw new TypeError(`options.libs[${i}] must be one of ${LIB_NAMES.join(', ')}, got ${describe(name)}`);
  }
  return [...v];
}

/**
 * A Lua Language Server definition file (`---@meta`) for scripts run with these options:
 * the `engine` table with the host functions and, unless `libs` is `'all'`, the sandbox's
 * libraries. Throws `TypeError` naming a bad option. See docs/api.md, "Editor support".
 */
export function luaTypes(options?: LuaTypesOptions): string {
  if (options === undefined) options = {};
  if (!isPlainObject(options)) throw new TypeError(`options must be an object, got ${describe(options)}`);
  for (const key of Object.keys(options)) {
    if (key !== 'host' && key !== 'libs' && key !== 'source') throw new TypeError(`options.${key} is not a known option`);
  }
  const host = fillHost(options.host, 'options.host');
  const libs = checkLibs(options.libs);
  if (options.source !== undefined && typeof options.source !== 'string') {
    throw new TypeError(`options.source must be a string, got ${describe(options.source)}`);
  }
  const profile = libs === 'safe' || libs === 'all' ? `'${libs}'` : `[${libs.map((l) => `'${l}'`).join(', ')}]`;
  const builtin = disabledBuiltins(libs).map((l) => `"${l}": "disable"`).join(', ');
  const parts = [
    '---@meta _',
    `-- Written by luapool's luaTypes() (\`luapool types\`) for libs ${profile}` +
      (options.source ? `, with the host functions of ${options.source}` : '') + '. Write it again when they change.',
    '-- For the Lua Language Server (VS Code\'s "Lua" extension, lua_ls): list this file in the',
    '-- "workspace.library" of the scripts\' .luarc.json, with these runtime settings:',
    '--',
    `--   "runtime": { "version": "Lua 5.4"${builtin ? `, "builtin": { ${builtin} }` : ''} }`,
    '--',
    '-- docs/api.md, "Editor support for script authors", says more.',
    '',
    body('luapool-engine.lua') + hostDeclarations(host),
  ];
  if (libs === 'safe' || (libs !== 'all' && libs.includes('os'))) parts.push('', body('luapool-safe.lua'));
  if (libs === 'safe') parts.push('', body('luapool-safe-io.lua'));
  return parts.join('\n') + '\n';
}

/** Writes `luaTypes(options)` to `file` (a path) and returns the text. */
export function writeLuaTypes(file: string, options?: LuaTypesOptions): string {
  if (typeof file !== 'string' || file === '') throw new TypeError(`file must be a non-empty string, got ${describe(file)}`);
  const text = luaTypes(options);
  fs.writeFileSync(file, text);
  return text;
}
