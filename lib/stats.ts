// Wait-time and run-time percentiles over a sliding window of recent jobs.

/** Statistics of one state (`runner.stats().states[i]`). */
export interface StateStats {
  /** Bytes the state's allocator holds now. */
  memory: number;
  /** Highest `memory` seen. */
  peakMemory: number;
  /** Jobs completed on this state (context resets included). */
  jobs: number;
  /** GC steps run by the gcEveryJobs / gcEveryBytes policy. */
  gcSteps: number;
  /** Full collections (run after a memory-limit failure). */
  fullGcs: number;
  /** Jobs that hit memoryLimit here. */
  memoryErrors: number;
  /** Jobs that ran out of their time budget here. */
  timeouts: number;
  /** Jobs started here and not yet finished (running, sliced out, or waiting for a host function). */
  openJobs: number;
  /** A thread is running Lua on it right now. */
  busy: boolean;
  /** A job overran its deadline by far here; the state is replaced once that job ends. */
  quarantined: boolean;
}

/** Percentiles of a duration in milliseconds (all 0 before the first job). */
export interface Percentiles {
  /** Median. */
  p50: number;
  /** 90th percentile. */
  p90: number;
  /** 99th percentile. */
  p99: number;
  /** Largest value in the window. */
  max: number;
}

/** Calls into one defined module (`runner.stats().modules[name]`). */
export interface ModuleStats {
  /** Jobs that called it (a callMany or callColumns part counts once). */
  jobs: number;
  /** Their running time in milliseconds, host calls included. */
  runMs: number;
  /** Jobs that failed. */
  errors: number;
}

/** What `runner.stats()` returns: a snapshot of the pool. */
export interface RunStats {
  /** One entry per state, by index. */
  states: StateStats[];
  /** Jobs that have not started yet. */
  queued: number;
  /** Jobs running Lua on a thread. */
  running: number;
  /** Jobs holding their thread while they wait for a host function (where Lua could not yield). */
  blocked: number;
  /** Jobs waiting for a host function's answer without a thread. */
  suspended: number;
  /** Started jobs waiting for a thread (sliced out, or answered by the host). */
  runnable: number;
  /** Times a job's time slice ended and it gave its thread to another job. */
  slices: number;
  /** Jobs that kept running long (2 s) after their deadline ('overrun' events). */
  overruns: number;
  /** States closed and replaced after an overrun. */
  replacedStates: number;
  /** Jobs submitted and not yet settled. */
  pending: number;
  /** Jobs that may run at once (the `threads` option). */
  parallelism: number;
  /** Jobs completed since the runner started. */
  completed: number;
  /** Milliseconds from submission to start, over the last 1024 jobs. */
  waitMs: Percentiles;
  /** Milliseconds of execution, over the last 1024 jobs. */
  runMs: Percentiles;
  /** Per defined module: the jobs that called it and their running time, since the runner started. */
  modules: Record<string, ModuleStats>;
}

const WINDOW = 1024;

/** @internal Sliding window of the last 1024 jobs' wait and run times. */
export class StatsWindow {
  #wait = new Float64Array(WINDOW);
  #run = new Float64Array(WINDOW);
  #count = 0;

  #modules = new Map<string, ModuleStats>();

  /** Records a finished job that called a module. */
  recordModule(name: string, runMs: number, failed: boolean): void {
    let m = this.#modules.get(name);
    if (!m) {
      m = { jobs: 0, runMs: 0, errors: 0 };
      this.#modules.set(name, m);
    }
    m.jobs++;
    m.runMs += runMs;
    if (failed) m.errors++;
  }

  /** Records one finished job. */
  record(waitMs: number, runMs: number): void {
    const i = this.#count++ % WINDOW;
    this.#wait[i] = waitMs;
    this.#run[i] = runMs;
  }

  /** Jobs recorded so far and the percentiles of the window. */
  summary(): { completed: number; waitMs: Percentiles; runMs: Percentiles; modules: Record<string, ModuleStats> } {
    const n = Math.min(this.#count, WINDOW);
    const modules: Record<string, ModuleStats> = {};
    for (const [name, m] of this.#modules) modules[name] = { ...m };
    return { completed: this.#count, waitMs: percentiles(this.#wait, n), runMs: percentiles(this.#run, n), modules };
  }
}

function percentiles(values: Float64Array, n: number): Percentiles {
  if (n === 0) return { p50: 0, p90: 0, p99: 0, max: 0 };
  const sorted = values.slice(0, n).sort();
  const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))];
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[n - 1] };
}
