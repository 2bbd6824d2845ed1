export interface Flatness {
  firstTenth: number;
  end: number;
  growth: number;
  allowed: number;
  flat: boolean;
}
export interface Sample {
  call: number;
  rss: number;
  heapUsed: number;
  external: number;
  workers: number;
  workerHeap: number;
  linear: number;
  retainedMemories: number;
}
export interface SoakResult {
  scenario: string;
  what: string;
  mode: 'full' | 'short';
  calls: number;
  misbehaving: number;
  counts: { ok: number; misbehaved: number; unexpected: number; reloads: number };
  unexpected: string[];
  rss: Flatness;
  workerHeap: Flatness;
  peakRss: number;
  retainedMemories: number;
  samples: Sample[];
  seconds: number;
}
export const FIXTURE: string;
export const SCENARIOS: Record<string, { what: string; full: { calls: number; every: number }; short: { calls: number; every: number } }>;
export function flatness(firstTenth: number, end: number): Flatness;
export function runSoak(options?: { full?: boolean; scenarios?: string[]; onResult?: (r: SoakResult) => void }): Promise<SoakResult[]>;
export function passed(r: SoakResult): boolean;
export function describe(r: SoakResult): string;
