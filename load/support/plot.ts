/** One line of a plot: which field of the samples, and what it is called. */
export interface Series<T> {
  readonly key: keyof T & string;
  readonly label: string;
}

const WIDTH = 720;
const PANEL = 110;
const MARGIN = { left: 60, right: 20, top: 36, gap: 34 };

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/**
 * An SVG of small multiples, one panel per series over the samples' `second`, each from zero to
 * its own maximum: a line that stays level is a resource that stays flat.
 */
export function plotSeries<T extends { second: number }>(title: string, samples: readonly T[], series: readonly Series<T>[]): string {
  const height = MARGIN.top + series.length * (PANEL + MARGIN.gap);
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const lastSecond = Math.max(1, ...samples.map((sample) => sample.second));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${MARGIN.left}" y="20" font-size="13" font-weight="bold">${escape(title)}</text>`,
  ];
  series.forEach(({ key, label }, index) => {
    const top = MARGIN.top + index * (PANEL + MARGIN.gap) + 14;
    const values = samples.map((sample) => Number(sample[key]));
    const most = Math.max(1, ...values.filter(Number.isFinite)) * 1.1;
    const x = (second: number) => MARGIN.left + (second / lastSecond) * plotWidth;
    const y = (value: number) => top + PANEL - (value / most) * PANEL;
    const points = samples.map((sample, i) => `${x(sample.second).toFixed(1)},${y(values[i]!).toFixed(1)}`).join(' ');
    parts.push(
      `<text x="${MARGIN.left}" y="${top - 4}">${escape(label)}</text>`,
      `<rect x="${MARGIN.left}" y="${top}" width="${plotWidth}" height="${PANEL}" fill="none" stroke="#ccc"/>`,
      `<text x="${MARGIN.left - 6}" y="${top + 4}" text-anchor="end">${Math.round(most)}</text>`,
      `<text x="${MARGIN.left - 6}" y="${top + PANEL}" text-anchor="end">0</text>`,
      `<text x="${MARGIN.left + plotWidth}" y="${top + PANEL + 13}" text-anchor="end">${Math.round(lastSecond / 60)} min</text>`,
      `<polyline fill="none" stroke="#2a6fdb" stroke-width="1.5" points="${points}"/>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
