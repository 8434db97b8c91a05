// Wait-time and run-time percentiles over a sliding window of recent jobs.

export interface StateStats {
  /** Bytes the state's allocator holds now. */
  memory: number;
  /** Highest `memory` seen. */
  peakMemory: number;
  jobs: number;
  gcSteps: number;
  fullGcs: number;
  memoryErrors: number;
  timeouts: number;
  /** Leased to a job right now. */
  busy: boolean;
  /** A job overran its deadline by far here; the state is replaced once that job ends. */
  quarantined: boolean;
}

export interface Percentiles { p50: number; p90: number; p99: number; max: number }

export interface RunStats {
  states: StateStats[];
  /** Jobs waiting for a state. */
  queued: number;
  /** Jobs running on a state. */
  running: number;
  /** Jobs waiting for a host function's answer (each keeps its state). */
  suspended: number;
  /** Jobs that kept running long (2 s) after their deadline ('overrun' events). */
  overruns: number;
  /** States closed and replaced after an overrun. */
  replacedStates: number;
  /** Jobs submitted and not yet settled. */
  pending: number;
  /** Jobs that may run at once: min(states, UV_THREADPOOL_SIZE - 1). */
  parallelism: number;
  /** Jobs completed since the runner started. */
  completed: number;
  /** Milliseconds from submission to start, over the last 1024 jobs. */
  waitMs: Percentiles;
  /** Milliseconds of execution, over the last 1024 jobs. */
  runMs: Percentiles;
}

const WINDOW = 1024;

export class StatsWindow {
  #wait = new Float64Array(WINDOW);
  #run = new Float64Array(WINDOW);
  #count = 0;

  record(waitMs: number, runMs: number): void {
    const i = this.#count++ % WINDOW;
    this.#wait[i] = waitMs;
    this.#run[i] = runMs;
  }

  summary(): { completed: number; waitMs: Percentiles; runMs: Percentiles } {
    const n = Math.min(this.#count, WINDOW);
    return { completed: this.#count, waitMs: percentiles(this.#wait, n), runMs: percentiles(this.#run, n) };
  }
}

function percentiles(values: Float64Array, n: number): Percentiles {
  if (n === 0) return { p50: 0, p90: 0, p99: 0, max: 0 };
  const sorted = values.slice(0, n).sort();
  const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))];
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[n - 1] };
}
