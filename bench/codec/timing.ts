/**
 * Runs `work` repeatedly for about `budgetMs` after a warm-up; returns the fastest call's milliseconds, the
 * figure least disturbed by other processes on a shared machine.
 */
export function measure(work: () => void, budgetMs = 1500): number {
  const warmUntil = performance.now() + Math.min(300, budgetMs / 4);
  while (performance.now() < warmUntil) work();
  const samples: number[] = [];
  const stopAt = performance.now() + budgetMs;
  while (performance.now() < stopAt || samples.length < 5) {
    const start = performance.now();
    work();
    samples.push(performance.now() - start);
  }
  return samples.reduce((best, sample) => Math.min(best, sample), Number.POSITIVE_INFINITY);
}

export function megabytesPerSecond(bytes: number, milliseconds: number): string {
  return (bytes / (1024 * 1024) / (milliseconds / 1000)).toFixed(0);
}

export function printTable(title: string, header: string[], rows: string[][]): void {
  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...rows.map((row) => row[column].length)),
  );
  const line = (cells: string[]) => cells.map((cell, column) => cell.padStart(widths[column])).join("  ");
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) console.log(line(row));
}
