// Stands in for `airlock:plugin/progress@0.2.0`: records every report.
export const reports: [number, string | undefined][] = [];

export function report(fraction: number, message: string | undefined): void {
  reports.push([fraction, message]);
}
