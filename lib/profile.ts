// Profiles of Lua code: runner.profile() samples the stacks of the running jobs (through the
// interrupt flag; no hook is installed), and Profile turns the samples into Chrome's
// .cpuprofile format (Chrome DevTools, VS Code and speedscope open it) and a summary.

/** One state's samples as the native side reports them (native/profiler.hpp). */
interface StateSamples {
  nodes: { parent: number; name: string; url: string; line: number }[];
  samples: Int32Array;
  deltasUs: Float64Array;
}

/** A node of a `.cpuprofile` (Chrome DevTools' format). */
export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; scriptId: string; url: string; lineNumber: number; columnNumber: number };
  hitCount: number;
  children: number[];
}

/** Chrome's `.cpuprofile`: write `JSON.stringify(profile.cpuprofile)` to a file and open it. */
export interface CpuProfile {
  nodes: CpuProfileNode[];
  /** Microseconds. */
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Time per function or per chunk, in milliseconds of sampled running time. */
export interface ProfileEntry {
  /** Function name (`(main chunk)`, `update`, `[C] sort`) — for per-chunk entries, the chunk. */
  name: string;
  /** Chunk name (`ai/orc.lua`, `[string "..."]`); `''` for C functions. */
  url: string;
  /** Line where the function is defined (0 for C functions and chunks). */
  line: number;
  /** Time with this function innermost. */
  selfMs: number;
  /** Time with this function anywhere on the stack. */
  totalMs: number;
}

/** What `profile.summary()` returns: entries sorted by self time, largest first. */
export interface ProfileSummary {
  /** Samples taken (every state). */
  samples: number;
  /** Sampled running time, all states together. */
  sampledMs: number;
  functions: ProfileEntry[];
  /** Per chunk (module): the time of its functions. */
  modules: ProfileEntry[];
}

/** A finished profile: one call tree per state, merged under one root. */
export class Profile {
  /** The merged profile in `.cpuprofile` format (a `(state N)` node per state under the root). */
  readonly cpuprofile: CpuProfile;
  readonly #states: StateSamples[];
  readonly #startUs: number;

  /** @internal */
  constructor(states: StateSamples[], startUs: number, endUs: number) {
    this.#states = states;
    this.#startUs = startUs;
    this.cpuprofile = merge(states, startUs, endUs);
  }

  /** Self and total time per function and per chunk. */
  summary(): ProfileSummary {
    const fns = new Map<string, ProfileEntry>();
    const mods = new Map<string, ProfileEntry>();
    let samples = 0;
    let sampledUs = 0;
    for (const s of this.#states) {
      for (let i = 0; i < s.samples.length; i++) {
        const us = weight(s, i);
        samples++;
        sampledUs += us;
        const seenF = new Set<string>();
        const seenM = new Set<string>();
        for (let n = s.samples[i], leaf = true; n > 0; n = s.nodes[n].parent, leaf = false) {
          const node = s.nodes[n];
          const fk = `${node.url}:${node.line}:${node.name}`;
          const f = entry(fns, fk, node.name, node.url, node.line);
          if (leaf) f.selfMs += us / 1000;
          if (!seenF.has(fk)) { seenF.add(fk); f.totalMs += us / 1000; }
          if (node.url) {
            const m = entry(mods, node.url, node.url, node.url, 0);
            if (leaf) m.selfMs += us / 1000;
            if (!seenM.has(node.url)) { seenM.add(node.url); m.totalMs += us / 1000; }
          }
        }
      }
    }
    const sorted = (m: Map<string, ProfileEntry>) => [...m.values()].sort((a, b) => b.selfMs - a.selfMs || b.totalMs - a.totalMs);
    return { samples, sampledMs: sampledUs / 1000, functions: sorted(fns), modules: sorted(mods) };
  }

  /** @internal */
  get startUs(): number {
    return this.#startUs;
  }
}

// The time a sample stands for: the gap to the next sample of its state (the last one: the
// gap before it), capped so that time the state spent idle is not counted.
function weight(s: StateSamples, i: number): number {
  const next = i + 1 < s.deltasUs.length ? s.deltasUs[i + 1] : s.deltasUs[i];
  const prev = s.deltasUs[i];
  return Math.min(next, prev * 2 + 1, 1e6);
}

function entry(m: Map<string, ProfileEntry>, key: string, name: string, url: string, line: number): ProfileEntry {
  let e = m.get(key);
  if (!e) {
    e = { name, url, line, selfMs: 0, totalMs: 0 };
    m.set(key, e);
  }
  return e;
}

function merge(states: StateSamples[], startUs: number, endUs: number): CpuProfile {
  const nodes: CpuProfileNode[] = [];
  const add = (name: string, url: string, line: number): CpuProfileNode => {
    const node: CpuProfileNode = {
      id: nodes.length + 1,
      callFrame: { functionName: name, scriptId: '0', url, lineNumber: Math.max(0, line - 1), columnNumber: 0 },
      hitCount: 0,
      children: [],
    };
    nodes.push(node);
    return node;
  };
  const root = add('(root)', '', 0);
  const timeline: { t: number; id: number }[] = [];
  states.forEach((s, index) => {
    const stateRoot = add(`(state ${index})`, '', 0);
    root.children.push(stateRoot.id);
    const ids: number[] = [stateRoot.id];
    for (let n = 1; n < s.nodes.length; n++) {
      const src = s.nodes[n];
      const node = add(src.name, src.url, src.line);
      ids.push(node.id);
      nodes[ids[src.parent] - 1].children.push(node.id);
    }
    let t = startUs;
    for (let i = 0; i < s.samples.length; i++) {
      t += s.deltasUs[i];
      const id = ids[s.samples[i]];
      nodes[id - 1].hitCount++;
      timeline.push({ t, id });
    }
  });
  timeline.sort((a, b) => a.t - b.t);
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  let last = startUs;
  for (const { t, id } of timeline) {
    samples.push(id);
    timeDeltas.push(Math.max(0, Math.round(t - last)));
    last = t;
  }
  return { nodes, startTime: Math.round(startUs), endTime: Math.round(Math.max(endUs, last)), samples, timeDeltas };
}

/** @internal The samples a native runner hands over. */
export type { StateSamples };
